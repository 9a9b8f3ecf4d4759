"""Tumour: lesions with an immune-escaped subclone, tumour-specific T cells with memory, adaptive resistance.

Each target lesion and the occult disease hold two populations: cells the tumour-specific CD8 T cells see
(``lesion_i``) and an escaped subclone that has lost antigen presentation (``lesion_i_resistant``; HLA or
beta-2-microglobulin loss), which CD8 cells cannot kill and NK cells kill at a fraction of their rate on
recognised cells (missing self, with the poor NK infiltration of solid tumours). Both grow
logistically on the lesion's total volume at an intrinsic rate set so that, at diagnosis, the net rate is
the sourced doubling time with the baseline killing included.

Tumour-specific CD8 T cells: a pool of stem-like precursors is recruited by IL-2 signalling of resting
(CD25-low) cells into a programmed expansion (a fixed number of divisions once triggered, whatever the
stimulus does next), giving effectors that contract with a fraction surviving as memory. The recruitment
drains the precursor pool, which renews over weeks, so within a course the first doses recruit most of it
and later ones add little. Killing follows de Pillis' ratio-dependent law on the effector index (specific
effectors and memory, scaled by the CD8 activated fraction and by adaptive resistance, plus activated NK
cells), damped by the Treg:CD8 ratio relative to rest. Adaptive resistance (PD-L1 induced by IFN-gamma)
rises under sustained inflammation and fades over days.
"""

from __future__ import annotations

import math

import numpy as np

from ..._errors import UserError
from ._base import LN2, MAX_LESIONS, Mechanism, RestContext, StateSpec, Symbol

_SITES = [f"lesion_{i}" for i in range(1, MAX_LESIONS + 1)] + ["tumour_occult"]

_states = [StateSpec(f"lesion_{i}", "mL", f"Volume of target lesion {i} that CD8 T cells recognise (0 if absent)")
           for i in range(1, MAX_LESIONS + 1)]
_states += [StateSpec("tumour_occult", "mL", "Occult (non-target, not yet visible) metastatic disease that CD8 T cells recognise")]
_states += [StateSpec(f"{s}_resistant", "mL", f"Escaped subclone of {s.replace('_', ' ')} (antigen presentation lost)")
            for s in _SITES]
_states += [
    StateSpec("tsp_precursor", "1", "Tumour-specific stem-like CD8 precursors (relative to the effectors at rest)"),
    StateSpec("tsp_expanding", "1", "Tumour-specific CD8 cells in programmed expansion (precursor units)"),
    StateSpec("tsp_effector", "1", "Tumour-specific CD8 effector cells (1 at rest)"),
    StateSpec("tsp_memory", "1", "Tumour-specific CD8 memory cells (effector units)"),
    StateSpec("adaptive_resistance", "1", "Adaptive resistance of the tumour (IFN-gamma-induced PD-L1; 0 none, 1 full)"),
]
_derived = (
    Symbol("tumour_growth_intrinsic", "1/h", "Intrinsic tumour growth rate (net rate plus baseline killing)"),
    Symbol("tsp_precursor_target", "1", "Precursor level the renewal restores (keeps the baseline steady)"),
    Symbol("tsp_effector_source", "1/h", "Antigen-driven production of tumour-specific effectors at rest"),
    Symbol("tsp_index_baseline", "1", "Tumour-specific effector index at rest"),
    Symbol("cd8_activation_baseline", "1", "CD8 activated fraction at rest"),
    Symbol("adaptive_resistance_baseline", "1", "Adaptive resistance at rest"),
)
_total = " + ".join(f"{s} + {s}_resistant" for s in _SITES)
_alg = [
    ("tumour_volume", _total),
    # IL-2 signal of resting (CD25-low) CD8 cells, as the receptors mechanism computes it
    ("tsp_signal", "cd8_sh_r / (pow(signal_half_proliferation, signal_hill) + cd8_sh_r)"),
    ("tsp_recruitment", "tsp_recruit_max * tsp_signal * tsp_precursor"),
    ("tsp_index", "(tsp_effector + tsp_memory_kill_weight * tsp_memory) / tsp_index_baseline"),
    ("resistance_factor", "(1 + resistance_max_suppression * adaptive_resistance_baseline)"
     " / (1 + resistance_max_suppression * adaptive_resistance)"),
    ("nk_index", "nk_kill_weight * nk_total / nk_total_baseline * nk_activation"),
    ("effector_index", "tsp_index * resistance_factor * cd8_activation + nk_index"),
    ("treg_cd8_ratio", "(treg_total / cd8_total) / (treg_total_baseline / cd8_total_baseline)"),
    ("suppression", "(1 + treg_suppression) / (1 + treg_suppression * treg_cd8_ratio)"),
    ("et_ratio", "effector_index * tumour_reference_volume / max(tumour_volume, 1e-9)"),
    ("et_ratio_nk", "nk_index * tumour_reference_volume / max(tumour_volume, 1e-9)"),
    # de Pillis ratio-dependent kill: all effectors on recognised cells, NK cells alone on the escaped subclone
    ("kill_rate", "kill_max * kill_sensitivity * suppression"
     " * pow(et_ratio, kill_exponent) / (kill_half + pow(et_ratio, kill_exponent))"),
    ("kill_rate_resistant", "resistant_kill_fraction * kill_max * kill_sensitivity * suppression"
     " * pow(et_ratio_nk, kill_exponent) / (kill_half + pow(et_ratio_nk, kill_exponent))"),
]
_rates: dict[str, str] = {}
for _i in range(1, MAX_LESIONS + 1):
    _s, _tot = f"lesion_{_i}", f"(lesion_{_i} + lesion_{_i}_resistant)"
    _rates[_s] = f"tumour_growth_intrinsic * {_s} * (1 - {_tot} / lesion_max_volume) - kill_rate * {_s}"
    _rates[f"{_s}_resistant"] = (f"tumour_growth_intrinsic * {_s}_resistant * (1 - {_tot} / lesion_max_volume)"
                                 f" - kill_rate_resistant * {_s}_resistant")
_rates["tumour_occult"] = ("tumour_growth_intrinsic * tumour_occult * (1 - (tumour_occult + tumour_occult_resistant)"
                           " / lesion_max_volume) - kill_rate * tumour_occult")
_rates["tumour_occult_resistant"] = ("tumour_growth_intrinsic * tumour_occult_resistant * (1 - (tumour_occult"
                                     " + tumour_occult_resistant) / lesion_max_volume)"
                                     " - kill_rate_resistant * tumour_occult_resistant")
_rates["tsp_precursor"] = "tsp_precursor_renewal * (tsp_precursor_target - tsp_precursor) - tsp_recruitment"
_rates["tsp_expanding"] = "tsp_recruitment - tsp_expanding / tsp_program_time"
_rates["tsp_effector"] = ("tsp_effector_source + tsp_program_fold * tsp_expanding / tsp_program_time"
                          " - tsp_effector_death * tsp_effector")
_rates["tsp_memory"] = "tsp_memory_fraction * tsp_effector_death * tsp_effector - tsp_memory_death * tsp_memory"
_rates["adaptive_resistance"] = ("resistance_on_rate * ifng / (ifng + resistance_ifng_half) * (1 - adaptive_resistance)"
                                 " - resistance_off_rate * adaptive_resistance")


def _diameter(volume: str) -> str:
    return f"10 * pow(6 * max({volume}, 0) / 3.141592653589793, 0.3333333333333333)"


_diam = {i: _diameter(f"lesion_{i} + lesion_{i}_resistant") for i in range(1, MAX_LESIONS + 1)}
_observables = [
    (Symbol("tumour_sum_diameters_mm", "mm", "Sum of longest diameters of target lesions above the detection limit"),
     " + ".join(f"above({_diam[i]}, detection_limit_diameter)" for i in range(1, MAX_LESIONS + 1))),
]
_observables += [
    (Symbol(f"lesion_{i}_diameter_mm", "mm", f"Longest diameter of target lesion {i} (sphere)"), _diam[i])
    for i in range(1, MAX_LESIONS + 1)
]
_observables += [
    (Symbol("occult_diameter_mm", "mm", "Diameter of the occult disease as one sphere (new lesion once >= new_lesion_diameter)"),
     _diameter("tumour_occult + tumour_occult_resistant")),
    (Symbol("tumour_volume_ml", "mL", "Volume of all modelled disease (target lesions and occult disease)"), "tumour_volume"),
    (Symbol("tumour_resistant_fraction", "1", "Fraction of the modelled disease in the escaped subclone"),
     "(" + " + ".join(f"{s}_resistant" for s in _SITES) + ") / max(tumour_volume, 1e-12)"),
    (Symbol("tumour_kill_rate_per_day", "1/d", "Immune killing rate of recognised tumour cells"), "kill_rate * 24"),
    (Symbol("tumour_specific_effectors", "1", "Tumour-specific CD8 effectors and memory, relative to rest"), "tsp_index"),
]


def lesion_volume_ml(diameter_mm: float) -> float:
    """Volume of a spherical lesion of this longest diameter, mL."""
    return math.pi / 6.0 * (diameter_mm / 10.0) ** 3


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    d["tumour_growth_intrinsic"] = 0.0
    volumes = tuple(lesion_volume_ml(x) for x in ctx.lesion_diameters)
    ctx.extra["lesion_volumes_ml"] = volumes
    f = v["resistant_fraction"]
    if not 0 <= f < 1:
        raise UserError("resistant_fraction", f, "a fraction in [0, 1)")
    for i, vol in enumerate(volumes, start=1):
        ctx.set(f"lesion_{i}", vol * (1 - f))
        ctx.set(f"lesion_{i}_resistant", vol * f)
    ctx.set("tumour_occult", v["occult_volume"] * (1 - f))
    ctx.set("tumour_occult_resistant", v["occult_volume"] * f)
    # placeholders until the balance step (the signals need the rested cell pools)
    d["tsp_precursor_target"] = v["tsp_precursor_ratio"]
    d["tsp_effector_source"] = 0.0
    d["tsp_index_baseline"] = 1.0
    d["cd8_activation_baseline"] = v["activation_basal"]
    d["adaptive_resistance_baseline"] = 0.0
    ctx.set("tsp_precursor", v["tsp_precursor_ratio"])
    ctx.set("tsp_expanding", 0.0)
    ctx.set("tsp_effector", 1.0)
    ctx.set("tsp_memory", 0.0)
    ctx.set("adaptive_resistance", 0.0)


def _balance(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    # tumour-specific T cells at rest: effectors 1, precursors at their ratio, expansion and memory in balance
    alg = ctx.algebraics()
    recruit = v["tsp_recruit_max"] * float(alg["tsp_signal"]) * v["tsp_precursor_ratio"]
    expanding = recruit * v["tsp_program_time"]
    source = v["tsp_effector_death"] - v["tsp_program_fold"] * recruit
    if source < 0:
        raise UserError("tsp_recruit_max", v["tsp_recruit_max"],
                        "a rate at which baseline IL-2 does not expand tumour-specific cells beyond their turnover")
    memory = v["tsp_memory_fraction"] * v["tsp_effector_death"] / v["tsp_memory_death"]
    d["tsp_precursor_target"] = v["tsp_precursor_ratio"] + recruit / v["tsp_precursor_renewal"]
    d["tsp_effector_source"] = source
    d["tsp_index_baseline"] = 1.0 + v["tsp_memory_kill_weight"] * memory
    ctx.set("tsp_precursor", v["tsp_precursor_ratio"])
    ctx.set("tsp_expanding", expanding)
    ctx.set("tsp_effector", 1.0)
    ctx.set("tsp_memory", memory)
    d["cd8_activation_baseline"] = ctx.get("cd8_activation")
    x = ctx.get("ifng") / (ctx.get("ifng") + v["resistance_ifng_half"])
    a0 = v["resistance_on_rate"] * x / (v["resistance_on_rate"] * x + v["resistance_off_rate"])
    d["adaptive_resistance_baseline"] = a0
    ctx.set("adaptive_resistance", a0)
    # intrinsic growth = sourced net growth + baseline killing of the recognised cells, at diagnosis
    g_net = LN2 / (v["tumour_doubling_time"] * 24.0)
    kill0 = ctx.alg("kill_rate")
    mean_vol = float(np.mean(ctx.extra["lesion_volumes_ml"]))
    ctx.d["tumour_growth_intrinsic"] = (g_net + kill0) / max(1e-9, 1.0 - mean_vol / v["lesion_max_volume"])
    ctx.extra["net_growth_per_h"] = g_net


MECHANISM = Mechanism(
    name="tumour",
    summary="Target lesions and occult disease with an escaped subclone, tumour-specific T cells, killing",
    states=tuple(_states), derived=_derived, algebraics=tuple(_alg), rates=_rates, observables=tuple(_observables),
    constants=_constants, balance=_balance,
)
