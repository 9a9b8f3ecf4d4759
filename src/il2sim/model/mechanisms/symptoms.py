"""Symptoms: fever and chills, constitutional symptoms, GI losses, rash, confusion, dyspnoea, and their medicines.

The febrile set point rises with the inflammatory mediator (lowered by acetaminophen and NSAIDs); body
temperature follows it with a time constant, and chills occur while it lags below. A cytokine-driven
symptom load drives fatigue, nausea (which lowers oral intake), vomiting, diarrhoea (a fluid loss), rash
and, with hypoperfusion, confusion; lung water drives dyspnoea. Each has a between-patient sensitivity.
"""

from __future__ import annotations

from ._base import Mechanism, RestContext, StateSpec, Symbol

_states = (
    StateSpec("body_temperature", "degC", "Core body temperature"),
    StateSpec("symptom_load", "1", "Cytokine-driven constitutional symptom load (0 at rest, up to 1)"),
    StateSpec("diarrhea_cumulative", "mL", "Diarrhoeal fluid loss since t = 0"),
)
_alg = (
    ("antipyresis", "min(acetaminophen * acetaminophen_effect + nsaid * nsaid_antipyretic_effect, 0.9)"),
    ("temperature_setpoint", "temperature_baseline + fever_max * (ifng / (ifng + fever_ifng_half)"
     " - ifng_baseline / (ifng_baseline + fever_ifng_half)) * (1 - antipyresis)"),
    ("sym_nausea", "min(3, 3 * nausea_sensitivity * symptom_load) * (1 - antiemetic_effect * antiemetic)"),
    ("stools", "stool_max * pow(diarrhea_sensitivity * symptom_load, 2) / (0.25 + pow(diarrhea_sensitivity * symptom_load, 2))"
     " * (1 - antidiarrheal_effect * antidiarrheal)"),
    ("diarrhea_ml_h", "stools * stool_volume / 24 * plasma_reserve"),
)
_rates = {
    "body_temperature": "(temperature_setpoint - body_temperature) / temperature_time_constant",
    "symptom_load": "(ifng / (ifng + symptom_ifng_half) - ifng_baseline / (ifng_baseline + symptom_ifng_half)"
    " - symptom_load) / symptom_time_constant",
    "diarrhea_cumulative": "diarrhea_ml_h",
}
_observables = (
    (Symbol("temperature_c", "degC", "Core body temperature"), "body_temperature"),
    (Symbol("diarrhea_cumulative_ml", "mL", "Diarrhoeal loss since t = 0"), "diarrhea_cumulative"),
    (Symbol("diarrhea_ml_per_h", "mL/h", "Diarrhoeal fluid loss"), "diarrhea_ml_h"),
    (Symbol("chills_score", "0-3", "Chills/rigors (rising temperature below the febrile set point)"),
     "min(3, 3 * chills_sensitivity * max(temperature_setpoint - body_temperature, 0) / chills_half_degree)"
     " * (1 - meperidine_effect * meperidine)"),
    (Symbol("fatigue_score", "0-3", "Fatigue/malaise"), "min(3, 3 * fatigue_sensitivity * symptom_load)"),
    (Symbol("nausea_score", "0-3", "Nausea"), "sym_nausea"),
    (Symbol("vomiting_per_day", "episodes/24 h", "Vomiting rate"),
     "vomiting_max * pow(vomiting_sensitivity * symptom_load, 2) / (0.25 + pow(vomiting_sensitivity * symptom_load, 2))"
     " * (1 - antiemetic_effect * antiemetic)"),
    (Symbol("stools_per_day_above_baseline", "stools/24 h", "Increase of stool frequency"), "stools"),
    (Symbol("rash_bsa_pct", "%", "Body surface area with erythematous rash"),
     "rash_max_bsa * pow(rash_sensitivity * symptom_load, 2) / (0.25 + pow(rash_sensitivity * symptom_load, 2))"),
    (Symbol("confusion_score", "0-4", "Mental status change (cytokine neurotoxicity and hypoperfusion)"),
     "min(4, 4 * pow(confusion_sensitivity * symptom_load + max(65 - map, 0) / 30, 3)"
     " / (1 + pow(confusion_sensitivity * symptom_load + max(65 - map, 0) / 30, 3)))"),
    (Symbol("dyspnea_score", "0-3", "Dyspnoea (lung water)"),
     "min(3, 3 * dyspnea_sensitivity * lung_water / (lung_water + dyspnea_half_lung_water))"),
    (Symbol("toxicity_tolerance_burden", "points h", "Toxicity burden of a cycle (time integral of the graded"
            " early-warning score) up to which doses are still given ('as clinically tolerated'; constant, for the"
            " pivotal rules)"), "toxicity_tolerance"),
)


def _constants(ctx: RestContext) -> None:
    ctx.set("body_temperature", ctx.v["temperature_baseline"])


MECHANISM = Mechanism(
    name="symptoms",
    summary="Fever, chills, constitutional and GI symptoms, rash, confusion, dyspnoea",
    states=_states, algebraics=_alg, rates=_rates, observables=_observables, constants=_constants,
)
