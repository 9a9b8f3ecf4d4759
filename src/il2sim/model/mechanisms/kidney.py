"""Kidney: GFR from perfusion pressure and sodium-avid hormones, urine output and creatinine kinetics.

GFR follows MAP through a Hill autoregulation curve (normalised to 1 at the resting MAP) and falls with
the hormonal drive (renin-angiotensin, ADH, renal sympathetic), which rises when MAP and plasma volume
fall; NSAIDs remove part of the prostaglandin protection. Urine is a fraction of the filtrate that the
sodium-avid drive lowers (tubular reabsorption; antidiuresis) and that volume expansion raises through a
separate route: natriuresis with central venous pressure above rest (atrial stretch: natriuretic peptides,
suppressed renin-angiotensin, pressure natriuresis), which excretes an isotonic load and, after a cycle,
the fluid returning from the interstitium. An intrinsic (tubular) injury accrues while the endothelium is
activated, as it does with IL-2 even when the circulation is held stable (urinary NAG, epithelial cells and
casts), lowers filtration (tubular obstruction, back-leak, tubuloglomerular feedback) and is repaired over
days, so filtration lags the circulation after a cycle. Creatinine is made at a constant rate and filtered. The baseline
GFR (with nephrectomy) is set with the PK, whose renal clearance scales with it.
"""

from __future__ import annotations

from ._base import Mechanism, RestContext, StateSpec, Symbol

_states = (
    StateSpec("renal_hormones", "1", "Sodium-avid hormonal drive (renin-angiotensin, ADH, renal sympathetic; 0 at rest, < 0 when volume-expanded)"),
    StateSpec("tubular_injury", "1", "Intrinsic (tubular) renal injury: the fraction of filtration lost to it (0 at rest)"),
    StateSpec("creatinine", "mg/dL", "Serum creatinine"),
    StateSpec("urine_cumulative", "mL", "Urine output since t = 0"),
)
_derived = (
    Symbol("urine_fraction_baseline", "1", "Fraction of the glomerular filtrate excreted as urine at rest"),
    Symbol("creatinine_production", "mg/h", "Creatinine production (muscle mass; normal kidneys give creatinine_normal)"),
    Symbol("total_body_water", "L", "Creatinine distribution volume"),
    Symbol("renal_map_factor_baseline", "1", "Pressure factor of GFR at the resting MAP (normalises it to 1)"),
)
_alg = (
    ("renal_pressure_factor", "pow(map, renal_hill) / (pow(renal_map_half, renal_hill) + pow(map, renal_hill)) / renal_map_factor_baseline"),
    ("hormones_pos", "(renal_hormones + sqrt(renal_hormones * renal_hormones + 1e-4)) / 2 - 0.005"),
    ("gfr", "gfr_baseline * renal_pressure_factor * exp(-hormone_gfr_gain * hormones_pos)"
     " * (1 - nsaid * nsaid_gfr_effect * hormones_pos / (hormones_pos + nsaid_hormone_half)) * (1 - tubular_injury)"),
    # atrial stretch above rest, a smooth positive part (width 0.1 mmHg, 0 at rest)
    ("atrial_stretch", "(cvp - cvp_baseline + sqrt(pow(cvp - cvp_baseline, 2) + 0.01)) / 2 - 0.05"),
    ("urine_ml_h", "gfr * 1000 * urine_fraction_baseline * exp(-hormone_urine_gain * hormones_pos)"
     " * (1 + natriuresis_gain * atrial_stretch) * plasma_reserve"),
)
_rates = {
    "renal_hormones": "(hormone_gain * ((map_baseline - map) / map_baseline"
    " + (plasma_volume_baseline - plasma_volume) / plasma_volume_baseline) - renal_hormones) / hormone_time_constant",
    # accrues with the endothelial leak signal (fluids; a smooth positive part, 0 at rest), saturating at
    # 1; repaired first-order
    "tubular_injury": "tubular_injury_rate * leak * (1 - tubular_injury) - tubular_injury / tubular_repair_time",
    "creatinine": "(creatinine_production - gfr * creatinine * 10) / (total_body_water * 10)",
    "urine_cumulative": "urine_ml_h",
}
_observables = (
    (Symbol("urine_ml_per_h", "mL/h", "Urine output"), "urine_ml_h"),
    (Symbol("creatinine_mg_dl", "mg/dL", "Serum creatinine"), "creatinine"),
    (Symbol("gfr_ml_min", "mL/min", "Glomerular filtration rate"), "gfr * 1000 / 60"),
    (Symbol("urine_cumulative_ml", "mL", "Urine output since t = 0"), "urine_cumulative"),
    (Symbol("tubular_injury_pct", "%", "Filtration lost to intrinsic (tubular) injury"), "100 * tubular_injury"),
    (Symbol("baseline_creatinine_mg_dl", "mg/dL", "Pre-treatment creatinine (constant, for rules)"),
     "creatinine_production / (gfr_baseline * 10)"),
)


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    w = ctx.extra["weight_kg"]
    d["urine_fraction_baseline"] = v["urine_baseline"] * w / (d["gfr_baseline"] * 1000.0)
    d["creatinine_production"] = d["gfr_normal"] * v["creatinine_normal"] * 10.0
    d["total_body_water"] = v["total_body_water_per_kg"] * w
    n = v["renal_hill"]
    d["renal_map_factor_baseline"] = v["map_baseline"] ** n / (v["renal_map_half"] ** n + v["map_baseline"] ** n)
    ctx.set("tubular_injury", 0.0)
    ctx.set("creatinine", d["creatinine_production"] / (d["gfr_baseline"] * 10.0))


MECHANISM = Mechanism(
    name="kidney",
    summary="GFR, renal hormones, tubular injury, urine output and creatinine",
    states=_states, derived=_derived, algebraics=_alg, rates=_rates, observables=_observables, constants=_constants,
)
