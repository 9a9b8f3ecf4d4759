"""Fluids: Starling capillary leak with protein, lymph, oedema and lung water, fluid balance and weight.

Endothelial activation raises the filtration coefficient and protein permeability and lowers the
reflection coefficient; filtration follows Starling forces with plasma and interstitial colloid osmotic
pressures (Guyton's polynomial); lymph flow rises with interstitial pressure and saturates. Plasma volume
gains IV fluid, oral intake and lymph and loses urine, insensible loss, diarrhoea and filtration; losses
drawn from plasma vanish as plasma nears empty. Excess lung water lowers SpO2 on room air.
"""

from __future__ import annotations

from ..._errors import UserError
from ._base import Mechanism, RestContext, StateSpec, Symbol

_states = (
    StateSpec("plasma_volume", "L", "Plasma volume"),
    StateSpec("interstitial_volume", "L", "Interstitial fluid volume"),
    StateSpec("plasma_protein", "g", "Plasma protein (oncotically active) mass"),
    StateSpec("interstitial_protein", "g", "Interstitial protein mass"),
    StateSpec("fluid_in_cumulative", "mL", "Fluid intake since t = 0 (IV fluids and oral)"),
)
_derived = (
    Symbol("plasma_volume_baseline", "L", "Plasma volume before treatment"),
    Symbol("interstitial_volume_baseline", "L", "Interstitial volume before treatment"),
    Symbol("filtration_coefficient", "L/h/mmHg", "Whole-body capillary filtration coefficient at rest (sets filtration = lymph flow)"),
    Symbol("protein_permeability", "L/h", "Diffusive protein permeability-surface product at rest (sets protein balance)"),
    Symbol("oral_intake_baseline", "mL/h", "Oral fluid intake that balances urine and insensible losses at rest"),
    Symbol("fluid_body_scale", "1", "Body weight over the weight the whole-body fluid constants are given for"
           " (lymph flow, interstitial compliance, insensible loss, plasma-loss guard scale with it)"),
    Symbol("lymph_flow_rest", "L/h", "Lymph flow at rest of this patient (lymph_flow_baseline scaled by body weight)"),
    Symbol("interstitial_compliance_body", "L/mmHg", "Interstitial compliance of this patient (scaled by body weight)"),
    Symbol("insensible_loss_rest", "mL/h", "Insensible water loss at rest of this patient (scaled by body weight)"),
    Symbol("plasma_loss_half_body", "L", "Plasma-loss guard volume of this patient (scaled by body weight)"),
)
_alg = (
    # smooth positive part (width 0.01): kinks at the resting operating point slow stiff solvers
    ("leak", "(endothelial_activation - ea_baseline + sqrt(pow(endothelial_activation - ea_baseline, 2) + 1e-4)) / 2 - 0.005"),
    ("kf", "filtration_coefficient * (1 + kf_leak_gain * leak)"),
    ("sigma", "reflection_coefficient * (1 - sigma_leak_max * leak / (leak + sigma_leak_half))"),
    ("cp", "plasma_protein / max(plasma_volume, 0.1)"),
    ("ci", "interstitial_protein / max(interstitial_volume, 0.1)"),
    ("pi_p", "0.28 * cp + 0.0019 * cp * cp"),
    ("pi_i", "0.28 * ci + 0.0019 * ci * ci"),
    ("pc", "cvp + capillary_pressure_fraction * (map - cvp)"),
    ("p_int", "interstitial_pressure_baseline + (interstitial_volume - interstitial_volume_baseline) / interstitial_compliance_body"),
    # losses drawn from plasma vanish as plasma nears empty: the model has no intracellular water (the main
    # source of insensible loss in dehydration) and no death, so without it a patient left without fluids in
    # capillary leak drains plasma below zero; 1 at the baseline volume, 0.997 at 2 L
    ("plasma_reserve", "pow(max(plasma_volume, 0), 2) / (pow(max(plasma_volume, 0), 2) + pow(plasma_loss_half_body, 2))"
     " * (1 + pow(plasma_loss_half_body / plasma_volume_baseline, 2))"),
    ("filtration_drive", "kf * ((pc - p_int) - sigma * (pi_p - pi_i))"),
    # outward filtration is a loss from plasma too: its smooth positive part (width 1 mL/h) is scaled by
    # plasma_reserve (1 at the baseline volume)
    ("filtration_out", "(filtration_drive + sqrt(filtration_drive * filtration_drive + 1e-6)) / 2"),
    ("filtration", "filtration_drive - (1 - plasma_reserve) * filtration_out"),
    # logistic in interstitial pressure: 1 at rest, slope lymph_gain there, saturating at lymph_max_fold
    ("lymph", "lymph_flow_rest * lymph_max_fold / (1 + (lymph_max_fold - 1)"
     " * exp(-lymph_gain * lymph_max_fold / (lymph_max_fold - 1) * (p_int - interstitial_pressure_baseline)))"),
    ("protein_leak", "(1 - sigma) * filtration * cp + protein_permeability * (1 + kf_leak_gain * leak) * (cp - ci)"),
    # excess lung water grows with interstitial expansion times the leak factor, and lowers SpO2 on room air
    ("lung_water", "lung_water_gain * max(interstitial_volume - interstitial_volume_baseline, 0) * (1 + kf_leak_gain * leak)"),
    ("spo2_room_air", "spo2_room_air_baseline - spo2_per_lung_water * lung_water"),
    ("oral_intake", "oral_intake_baseline * max(1 - sym_nausea / nausea_intake_score, 0)"),
    ("insensible_ml_h", "insensible_loss_rest * (1 + insensible_per_degree * (body_temperature - temperature_baseline))"
     " * plasma_reserve"),
    ("iv_fluid_ml_h", "fluid_maintenance_ml_h + fluid_bolus_ml_h"),
)
_rates = {
    "plasma_volume": "(iv_fluid_ml_h + oral_intake - urine_ml_h - insensible_ml_h - diarrhea_ml_h) / 1000 - filtration + lymph",
    "interstitial_volume": "filtration - lymph",
    "plasma_protein": "lymph * ci - protein_leak",
    "interstitial_protein": "protein_leak - lymph * ci",
    "fluid_in_cumulative": "iv_fluid_ml_h + oral_intake",
}
_observables = (
    (Symbol("weight_kg", "kg", "Body weight: baseline plus the change in plasma and interstitial water"),
     "weight_kg + (plasma_volume - plasma_volume_baseline) + (interstitial_volume - interstitial_volume_baseline)"),
    (Symbol("spo2_pct", "%", "Oxygen saturation on the oxygen in force"),
     "spo2_room_air + (99 - spo2_room_air) * (1 - exp(-oxygen_l_min / oxygen_scale))"),
    (Symbol("plasma_volume_l", "L", "Plasma volume"), "plasma_volume"),
    (Symbol("interstitial_volume_l", "L", "Interstitial volume"), "interstitial_volume"),
    (Symbol("edema_pct", "%", "Interstitial (oedema) volume above baseline"),
     "100 * (interstitial_volume - interstitial_volume_baseline) / interstitial_volume_baseline"),
    (Symbol("lung_water_ml", "mL", "Extravascular lung water above baseline"), "lung_water"),
    (Symbol("albumin_g_dl", "g/dL", "Serum albumin (a fixed share of plasma protein)"), "albumin_fraction * cp / 10"),
    (Symbol("filtration_ml_h", "mL/h", "Net capillary filtration to the interstitium"), "filtration * 1000"),
    (Symbol("lymph_ml_h", "mL/h", "Lymph flow back to plasma"), "lymph * 1000"),
    (Symbol("fluid_in_cumulative_ml", "mL", "Fluid intake since t = 0"), "fluid_in_cumulative"),
    (Symbol("baseline_weight_kg", "kg", "Pre-treatment weight (constant, for rules)"), "weight_kg"),
)


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    w = ctx.extra["weight_kg"]
    d["plasma_volume_baseline"] = d["v1"]
    d["interstitial_volume_baseline"] = v["interstitial_volume_per_kg"] * w
    cp0, ci0 = v["plasma_protein_conc"], v["interstitial_protein_conc"]
    pi_p0 = 0.28 * cp0 + 0.0019 * cp0 * cp0
    pi_i0 = 0.28 * ci0 + 0.0019 * ci0 * ci0
    pc0 = v["cvp_baseline"] + v["capillary_pressure_fraction"] * (v["map_baseline"] - v["cvp_baseline"])
    net0 = (pc0 - v["interstitial_pressure_baseline"]) - v["reflection_coefficient"] * (pi_p0 - pi_i0)
    if net0 <= 0:
        raise UserError("interstitial_protein_conc", ci0, "Starling forces with net outward filtration at rest")
    # whole-body fluid constants are given for a patient of fluid_reference_weight and scale with weight, as
    # the plasma and interstitial volumes do (per kg): otherwise a per-kg dose meets fixed flows and per-cent
    # weight gain falls with body weight
    scale = w / v["fluid_reference_weight"]
    d["fluid_body_scale"] = scale
    d["interstitial_compliance_body"] = v["interstitial_compliance"] * scale
    d["insensible_loss_rest"] = v["insensible_loss_baseline"] * scale
    d["plasma_loss_half_body"] = v["plasma_loss_half"] * scale
    lymph0 = v["lymph_flow_baseline"] * scale
    d["lymph_flow_rest"] = lymph0
    d["filtration_coefficient"] = lymph0 / net0
    ps = (lymph0 * ci0 - (1 - v["reflection_coefficient"]) * lymph0 * cp0) / (cp0 - ci0)
    if ps <= 0:
        raise UserError("reflection_coefficient", v["reflection_coefficient"], "a value giving a positive protein permeability at rest")
    d["protein_permeability"] = ps
    d["oral_intake_baseline"] = v["urine_baseline"] * w + d["insensible_loss_rest"]
    ctx.set("plasma_volume", d["plasma_volume_baseline"])
    ctx.set("interstitial_volume", d["interstitial_volume_baseline"])
    ctx.set("plasma_protein", cp0 * d["plasma_volume_baseline"])
    ctx.set("interstitial_protein", ci0 * d["interstitial_volume_baseline"])


MECHANISM = Mechanism(
    name="fluids",
    summary="Starling capillary leak, protein, lymph, oedema, lung water, fluid balance and weight",
    states=_states, derived=_derived, algebraics=_alg, rates=_rates, observables=_observables, constants=_constants,
)
