"""Eosinophils: plasma IL-5 from activated CD4 cells drives marrow production through a maturation chain.

IL-5 is made by activated CD4 helper cells and eliminated first-order. Marrow eosinophil production rises
with IL-5 relative to rest as a power law; cells pass through ``EOS_STAGES`` maturation stages (mean
``eos_maturation_days``) into blood, where they leave with a half-life of ``eos_blood_half_life``.
"""

from __future__ import annotations

from ..._errors import UserError
from ._base import EOS_STAGES, LN2, Mechanism, RestContext, StateSpec, Symbol

_states = [StateSpec("il5", "pg/mL", "Plasma IL-5")]
_states += [StateSpec(f"eos_marrow_{i}", "1e9 cells", f"Maturing eosinophils in the marrow, stage {i} of {EOS_STAGES}")
            for i in range(1, EOS_STAGES + 1)]
_states += [StateSpec("eos_blood", "cells/uL", "Eosinophils in blood")]
_derived = (
    Symbol("il5_production_k", "pg/mL/h per 1e9 cells", "IL-5 production per activated CD4 cell (keeps the baseline steady)"),
    Symbol("eos_production_baseline", "1e9 cells/h", "Marrow eosinophil production before treatment"),
    Symbol("eos_transit_rate", "1/h", "Rate of passage through each marrow maturation stage"),
    Symbol("eos_exit_rate", "1/h", "Rate at which blood eosinophils leave blood for tissue"),
)
_alg = (
    # eosinophil production rises with IL-5 (relative to rest) as a power law
    ("eos_production", "eos_production_baseline * pow(max(il5, 0) / il5_baseline, eos_il5_exponent)"),
)
_rates = {
    "il5": "il5_production_k * cd4_total * cd4_activation - il5_elimination * il5",
    "eos_marrow_1": "eos_production - eos_transit_rate * eos_marrow_1",
}
for _i in range(2, EOS_STAGES + 1):
    _rates[f"eos_marrow_{_i}"] = f"eos_transit_rate * (eos_marrow_{_i - 1} - eos_marrow_{_i})"
_rates["eos_blood"] = (f"eos_transit_rate * eos_marrow_{EOS_STAGES} / (blood_volume_ul * 1e-9)"
                       " - eos_exit_rate * eos_blood")
_observables = (
    (Symbol("il5_pg_per_ml", "pg/mL", "Plasma IL-5"), "il5"),
    (Symbol("eosinophils_per_ul", "cells/uL", "Blood eosinophil count"), "eos_blood"),
)


def _constants(ctx: RestContext) -> None:
    for name in ("il5_production_k", "eos_production_baseline", "eos_transit_rate", "eos_exit_rate"):
        ctx.d[name] = 0.0


def _balance(ctx: RestContext) -> None:
    # production balances loss at the baseline levels
    v, d = ctx.v, ctx.d
    if not v["il5_baseline"] > 0:
        raise UserError("il5_baseline", v["il5_baseline"], "il5_baseline > 0 pg/mL (eosinophil production is "
                        "relative to the baseline plasma IL-5)")
    act_cd4 = d["cd4_total_baseline"] * ctx.get("cd4_activation")
    d["il5_production_k"] = v["il5_elimination"] * v["il5_baseline"] / act_cd4
    ctx.set("il5", v["il5_baseline"])
    d["eos_exit_rate"] = LN2 / v["eos_blood_half_life"]
    bv9 = d["blood_volume_ul"] * 1e-9
    d["eos_production_baseline"] = d["eos_exit_rate"] * v["eos_blood_baseline"] * bv9
    d["eos_transit_rate"] = EOS_STAGES / (v["eos_maturation_days"] * 24.0)
    for i in range(1, EOS_STAGES + 1):
        ctx.set(f"eos_marrow_{i}", d["eos_production_baseline"] / d["eos_transit_rate"])
    ctx.set("eos_blood", v["eos_blood_baseline"])


MECHANISM = Mechanism(
    name="eosinophils",
    summary="IL-5 and blood eosinophils",
    states=tuple(_states), derived=_derived, algebraics=_alg, rates=_rates, observables=_observables,
    constants=_constants, balance=_balance,
)
