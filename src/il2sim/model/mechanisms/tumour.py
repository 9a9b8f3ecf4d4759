"""Tumour: up to five target lesions and occult disease, logistic growth, killing by activated effectors.

Lesions and occult disease grow logistically at an intrinsic rate set so that, at diagnosis, the net rate
is the sourced doubling time with the baseline killing included. Activated CD8 and NK cells kill with de
Pillis' ratio-dependent law, damped by the Treg:CD8 ratio relative to rest.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import LN2, MAX_LESIONS, Mechanism, RestContext, StateSpec, Symbol

_states = [StateSpec(f"lesion_{i}", "mL", f"Volume of target lesion {i} (0 if absent)") for i in range(1, MAX_LESIONS + 1)]
_states += [StateSpec("tumour_occult", "mL", "Occult (non-target, not yet visible) metastatic disease")]
_derived = (Symbol("tumour_growth_intrinsic", "1/h", "Intrinsic tumour growth rate (net rate plus baseline killing)"),)
_alg = (
    # tumour killing: de Pillis ratio-dependent law with Treg suppression
    ("tumour_volume", " + ".join(f"lesion_{i}" for i in range(1, MAX_LESIONS + 1)) + " + tumour_occult"),
    ("effector_index", "cd8_total / cd8_total_baseline * cd8_activation"
     " + nk_kill_weight * nk_total / nk_total_baseline * nk_activation"),
    ("et_ratio", "effector_index * tumour_reference_volume / max(tumour_volume, 1e-9)"),
    ("treg_cd8_ratio", "(treg_total / cd8_total) / (treg_total_baseline / cd8_total_baseline)"),
    ("suppression", "(1 + treg_suppression) / (1 + treg_suppression * treg_cd8_ratio)"),
    ("kill_rate", "kill_max * kill_sensitivity * suppression"
     " * pow(et_ratio, kill_exponent) / (kill_half + pow(et_ratio, kill_exponent))"),
)
_rates = {
    f"lesion_{i}": f"tumour_growth_intrinsic * lesion_{i} * (1 - lesion_{i} / lesion_max_volume) - kill_rate * lesion_{i}"
    for i in range(1, MAX_LESIONS + 1)
}
_rates["tumour_occult"] = (
    "tumour_growth_intrinsic * tumour_occult * (1 - tumour_occult / lesion_max_volume) - kill_rate * tumour_occult"
)
_diam = {i: f"10 * pow(6 * max(lesion_{i}, 0) / 3.141592653589793, 0.3333333333333333)" for i in range(1, MAX_LESIONS + 1)}
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
     "10 * pow(6 * max(tumour_occult, 0) / 3.141592653589793, 0.3333333333333333)"),
    (Symbol("tumour_kill_rate_per_day", "1/d", "Immune killing rate of tumour cells"), "kill_rate * 24"),
]


def lesion_volume_ml(diameter_mm: float) -> float:
    """Volume of a spherical lesion of this longest diameter, mL."""
    return math.pi / 6.0 * (diameter_mm / 10.0) ** 3


def _constants(ctx: RestContext) -> None:
    ctx.d["tumour_growth_intrinsic"] = 0.0
    volumes = tuple(lesion_volume_ml(x) for x in ctx.lesion_diameters)
    ctx.extra["lesion_volumes_ml"] = volumes
    for i, vol in enumerate(volumes, start=1):
        ctx.set(f"lesion_{i}", vol)
    ctx.set("tumour_occult", ctx.v["occult_volume"])


def _balance(ctx: RestContext) -> None:
    # intrinsic growth = sourced net growth + baseline killing, at diagnosis
    v = ctx.v
    g_net = LN2 / (v["tumour_doubling_time"] * 24.0)
    kill0 = ctx.alg("kill_rate")
    mean_vol = float(np.mean(ctx.extra["lesion_volumes_ml"]))
    ctx.d["tumour_growth_intrinsic"] = (g_net + kill0) / max(1e-9, 1.0 - mean_vol / v["lesion_max_volume"])
    ctx.extra["net_growth_per_h"] = g_net


MECHANISM = Mechanism(
    name="tumour",
    summary="Target lesions and occult disease, growth and immune killing",
    states=tuple(_states), derived=_derived, algebraics=_alg, rates=_rates, observables=tuple(_observables),
    constants=_constants, balance=_balance,
)
