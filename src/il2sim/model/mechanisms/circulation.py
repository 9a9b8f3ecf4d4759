"""Circulation: distributive hypotension from a nitric-oxide-like vasodilator, the baroreflex, pressors.

The vasodilator is induced by the inflammatory mediator (iNOS) and lowers systemic vascular resistance;
the baroreflex raises heart rate, tone and contractility; phenylephrine restores tone. Cardiac output is
heart rate times a preload-dependent stroke volume; MAP = CVP + CO x SVR.
"""

from __future__ import annotations

from ._base import Mechanism, RestContext, StateSpec, Symbol

_states = (
    StateSpec("vasodilator", "1", "Nitric-oxide-like vasodilator (iNOS induced by inflammatory mediators; 0 = none)"),
    StateSpec("sympathetic", "1", "Baroreflex sympathetic drive relative to rest (0 at rest; raises heart rate, tone, contractility)"),
)
_derived = (
    Symbol("cardiac_output_baseline", "L/min", "Cardiac output at rest"),
    Symbol("stroke_volume_baseline", "mL", "Stroke volume at rest"),
    Symbol("svr_baseline", "mmHg min/L", "Systemic vascular resistance at rest"),
    Symbol("vasodilator_baseline", "1", "Vasodilator level at rest"),
)
_alg = (
    ("cvp", "cvp_baseline * exp((plasma_volume - plasma_volume_baseline) / (cvp_baseline * venous_compliance))"),
    ("pressor_effect", "1 + pressor_emax * pressor_ug_kg_min / (pressor_ug_kg_min + pressor_ec50)"),
    ("svr", "svr_baseline * (1 + baro_svr_gain * sympathetic) * pressor_effect"
     " / (1 + vasodilation_gain * (vasodilator - vasodilator_baseline))"),
    ("heart_rate_drive", "heart_rate_baseline * (1 + baro_hr_gain * sympathetic) + hr_per_degree * (body_temperature - temperature_baseline)"),
    # soft ceiling at the maximal heart rate
    ("heart_rate", "heart_rate_drive * pow(1 + pow(heart_rate_baseline / heart_rate_max, 8), 0.125)"
     " / pow(1 + pow(max(heart_rate_drive, 1) / heart_rate_max, 8), 0.125)"),
    # septic-shock-like myocardial depression by the NO-like mediator (Ognibene 1988: LVEF 58 -> 36 % by day 4)
    ("stroke_volume", "stroke_volume_baseline * pow(max(plasma_volume, 0.1) / plasma_volume_baseline, preload_exponent)"
     " * (1 + baro_contractility_gain * sympathetic) / (1 + cardiac_depression_gain * (vasodilator - vasodilator_baseline))"),
    ("cardiac_output", "heart_rate * stroke_volume / 1000"),
    ("map", "cvp + cardiac_output * svr"),
    ("pulse_pressure", "(sbp_baseline - dbp_baseline) * pow(max(stroke_volume, 1) / stroke_volume_baseline, pulse_pressure_exponent)"),
)
_rates = {
    "vasodilator": "vasodilator_on_rate * ifng / (ifng + vasodilator_ifng_half) - vasodilator_off_rate * vasodilator",
    "sympathetic": "(baro_gain * (map_baseline - map) / map_baseline - sympathetic) / baro_time_constant",
}
_observables = (
    (Symbol("sbp_mmhg", "mmHg", "Systolic blood pressure"), "map + 2 * pulse_pressure / 3"),
    (Symbol("dbp_mmhg", "mmHg", "Diastolic blood pressure"), "map - pulse_pressure / 3"),
    (Symbol("map_mmhg", "mmHg", "Mean arterial pressure (cardiac output x resistance + CVP)"), "map"),
    (Symbol("heart_rate_bpm", "1/min", "Heart rate (baroreflex and fever)"), "heart_rate"),
    (Symbol("cardiac_output_l_min", "L/min", "Cardiac output"), "cardiac_output"),
    (Symbol("svr_mmhg_min_per_l", "mmHg min/L", "Systemic vascular resistance"), "svr"),
    (Symbol("cvp_mmhg", "mmHg", "Central venous pressure"), "cvp"),
)


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    d["cardiac_output_baseline"] = v["cardiac_output_reference"] * ctx.extra["scale_cl"]
    d["stroke_volume_baseline"] = d["cardiac_output_baseline"] * 1000.0 / v["heart_rate_baseline"]
    d["svr_baseline"] = (v["map_baseline"] - v["cvp_baseline"]) / d["cardiac_output_baseline"]
    ifng0 = v["ifng_baseline"]
    d["vasodilator_baseline"] = v["vasodilator_on_rate"] * ifng0 / (ifng0 + v["vasodilator_ifng_half"]) / v["vasodilator_off_rate"]
    ctx.set("vasodilator", d["vasodilator_baseline"])


MECHANISM = Mechanism(
    name="circulation",
    summary="Vasodilation, baroreflex, pressors, cardiac output and blood pressure",
    states=_states, derived=_derived, algebraics=_alg, rates=_rates, observables=_observables, constants=_constants,
)
