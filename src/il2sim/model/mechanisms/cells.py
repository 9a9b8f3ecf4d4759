"""Immune cells: blood, tissue and cycling pools, activation, expansion, contraction and margination.

CD8, NK, Treg and CD4 helper cells each have blood, tissue and cycling pools and an activated fraction; B
cells have blood and tissue pools. IL-2 signalling (the receptors mechanism) commits tissue cells to
division and activates resting cells; death rises with activation (contraction once IL-2 is withdrawn) and
with crowding (homeostatic niches). Endothelial activation drives margination: egress from blood rises,
giving lymphopenia within hours and a rebound when dosing stops. Homeostatic sources and return rates are
set so that the pre-treatment state is a steady state.
"""

from __future__ import annotations

from ..._errors import UserError
from ._base import CELL_NAMES, CELL_TYPES, IL2_RESPONSIVE, Mechanism, RestContext, StateSpec, Symbol

_states: list[StateSpec] = []
for _x in IL2_RESPONSIVE:
    _n = CELL_NAMES[_x]
    _states += [
        StateSpec(f"{_x}_blood", "cells/uL", f"{_n} in blood"),
        StateSpec(f"{_x}_tissue", "1e9 cells", f"{_n} in tissue (lymphoid organs, tumour, marginated)"),
        StateSpec(f"{_x}_cycling", "1e9 cells", f"{_n} committed to division"),
        StateSpec(f"{_x}_activation", "1", f"Activated fraction of {_n} (CD25 induced, effector programme)"),
    ]
_states += [
    StateSpec("b_blood", "cells/uL", "B cells in blood"),
    StateSpec("b_tissue", "1e9 cells", "B cells in tissue"),
]

_derived = [Symbol("blood_volume_ul", "uL", "Blood volume")]
for _x in CELL_TYPES:
    _derived += [
        Symbol(f"{_x}_k_out", "1/h", f"Baseline egress rate of {CELL_NAMES[_x]} from blood"),
        Symbol(f"{_x}_k_return", "1/h", f"Return rate of {CELL_NAMES[_x]} from tissue to blood"),
        Symbol(f"{_x}_source", "1e9 cells/h", f"Homeostatic production of {CELL_NAMES[_x]}"),
        Symbol(f"{_x}_total_baseline", "1e9 cells", f"Body total of {CELL_NAMES[_x]} before treatment"),
    ]

_alg: list[tuple[str, str]] = []
for _x in IL2_RESPONSIVE:
    _alg += [
        (f"{_x}_total", f"{_x}_blood * blood_volume_ul * 1e-9 + {_x}_tissue + {_x}_cycling"),
        # death rises with activation (contraction) and with crowding (homeostatic niches)
        (f"{_x}_death_rate", f"({_x}_death + (activated_death - {_x}_death) * {_x}_activation)"
         f" * pow({_x}_total / {_x}_total_baseline, homeostatic_exponent)"),
    ]
_alg += [
    ("b_total", "b_blood * blood_volume_ul * 1e-9 + b_tissue"),
    # margination: egress from blood relative to rest (1 at the pre-treatment steady state)
    ("margination", "(1 + margination_max * endothelial_activation) / (1 + margination_max * ea_baseline)"),
]

_rates: dict[str, str] = {}
for _x in IL2_RESPONSIVE:
    _rates[f"{_x}_blood"] = (
        f"({_x}_k_return * {_x}_tissue - {_x}_k_out * margination * {_x}_blood * blood_volume_ul * 1e-9)"
        f" / (blood_volume_ul * 1e-9) - {_x}_death_rate * {_x}_blood"
    )
    _rates[f"{_x}_tissue"] = (
        f"{_x}_source + {_x}_k_out * margination * {_x}_blood * blood_volume_ul * 1e-9 - {_x}_k_return * {_x}_tissue"
        f" - {_x}_death_rate * {_x}_tissue - {_x}_prolif * {_x}_tissue + 2 * {_x}_cycling / division_time"
    )
    _rates[f"{_x}_cycling"] = f"{_x}_prolif * {_x}_tissue - {_x}_cycling / division_time"
    _rates[f"{_x}_activation"] = (
        f"activation_rate * {_x}_stim * (1 - {_x}_activation) - deactivation_rate * ({_x}_activation - activation_basal)"
    )
_rates["b_blood"] = (
    "(b_k_return * b_tissue - b_k_out * margination * b_blood * blood_volume_ul * 1e-9)"
    " / (blood_volume_ul * 1e-9) - b_death * b_blood"
)
_rates["b_tissue"] = (
    "b_source + b_k_out * margination * b_blood * blood_volume_ul * 1e-9 - b_k_return * b_tissue - b_death * b_tissue"
)

_observables = [
    (Symbol("lymphocytes_per_ul", "cells/uL", "All blood lymphocytes (T, B and NK)"),
     " + ".join(f"{x}_blood" for x in CELL_TYPES)),
]
_observables += [(Symbol(f"{x}_total_1e9", "1e9 cells", f"Body total of {CELL_NAMES[x]}"), f"{x}_total")
                 for x in IL2_RESPONSIVE]
_observables += [(Symbol("b_total_1e9", "1e9 cells", "Body total of B cells"), "b_total")]


def _blood_fraction(v, x: str) -> float:
    return v["nk_blood_fraction"] if x == "nk" else v["lymphocyte_blood_fraction"]


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    d["blood_volume_ul"] = v["blood_volume_per_kg"] * ctx.extra["weight_kg"] * 1e6
    bv9 = d["blood_volume_ul"] * 1e-9
    for x in CELL_TYPES:
        ctx.set(f"{x}_blood", v[f"{x}_blood_baseline"])
        frac = _blood_fraction(v, x)
        ctx.set(f"{x}_tissue", v[f"{x}_blood_baseline"] * bv9 * (1 - frac) / frac)
        d[f"{x}_k_out"] = 1.0 / v["blood_transit_time"]
        d[f"{x}_k_return"] = 0.0
        d[f"{x}_source"] = 0.0
        d[f"{x}_total_baseline"] = 1.0
    for x in IL2_RESPONSIVE:
        ctx.set(f"{x}_activation", v["activation_basal"])


def _balance(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    bv9 = d["blood_volume_ul"] * 1e-9
    # activation at rest: the resting cells' own signal activates them (it does not depend on activation)
    ka, kd_, ab = v["activation_rate"], v["deactivation_rate"], v["activation_basal"]
    for _ in range(50):
        alg = ctx.algebraics()
        settled = True
        for x in IL2_RESPONSIVE:
            s = float(alg[f"{x}_stim"])
            a = (ka * s + kd_ * ab) / (ka * s + kd_)
            settled = settled and a == ctx.get(f"{x}_activation")
            ctx.set(f"{x}_activation", a)
        if settled:  # a fixed point to the last bit: every further pass would repeat it
            break

    # pools at rest: tissue from the blood fraction, cycling from baseline proliferation
    alg = ctx.algebraics()
    for x in CELL_TYPES:
        frac = _blood_fraction(v, x)
        blood = v[f"{x}_blood_baseline"] * bv9
        tissue = blood * (1 - frac) / frac
        prolif = float(alg[f"{x}_prolif"]) if x != "b" else 0.0
        cycling = prolif * tissue * v["division_time"]
        d[f"{x}_total_baseline"] = blood + tissue + cycling
        ctx.set(f"{x}_tissue", tissue)
        if x != "b":
            ctx.set(f"{x}_cycling", cycling)
    # trafficking and homeostatic sources that make the baseline a steady state
    alg = ctx.algebraics()
    for x in CELL_TYPES:
        blood = v[f"{x}_blood_baseline"] * bv9
        tissue = ctx.get(f"{x}_tissue")
        mu = float(alg[f"{x}_death_rate"]) if x != "b" else v["b_death"]
        prolif = float(alg[f"{x}_prolif"]) if x != "b" else 0.0
        d[f"{x}_k_return"] = (d[f"{x}_k_out"] + mu) * blood / tissue
        source = mu * (blood + tissue) - prolif * tissue
        if source <= 0:
            raise UserError(f"{x}_blood_baseline", v[f"{x}_blood_baseline"],
                            "parameters giving a positive homeostatic source (baseline IL-2 signalling too strong)")
        d[f"{x}_source"] = source


MECHANISM = Mechanism(
    name="cells",
    summary="Lymphocyte pools, activation, expansion and contraction, margination",
    states=tuple(_states), derived=tuple(_derived), algebraics=tuple(_alg), rates=_rates,
    observables=tuple(_observables), constants=_constants, balance=_balance,
)
