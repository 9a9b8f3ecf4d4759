r"""The single declaration of il2sim's equations.

Everything numerical about the model is declared here once, as data:

* ``STATES``: ordered state variables (SBML-valid ids, unit, description);
* ``CONTROLS``: piecewise-constant inputs that the engine sets between
  decision times (the IV infusion rate of the drug);
* ``DERIVED``: per-patient constants computed before a run by
  :func:`il2sim.model.derive_constants` (mrgsolve's ``$MAIN``);
* ``ALGEBRAICS``: ordered intermediate assignments (``name = expression``);
* ``RATES``: ``d(state)/dt = expression`` for every state;
* ``OBSERVABLES``: named outputs with units.

Expressions are written in a small infix language that is valid both as
Python and as SBML Level 3 infix (``libsbml.parseL3Formula``): ``+ - * /``,
parentheses, numbers, names, and the functions ``exp``, ``ln``, ``sqrt``,
``pow``, ``max``, ``min`` and ``above(x, limit)`` (``x`` if ``x >= limit``
else 0). The reference engine, the fast engine and the SBML export are all
generated from these strings (:mod:`il2sim.model._codegen`).

Time is in hours. Amounts of IL-2 are in IU, concentrations in IU/mL (or pM
where the name says so), cells in cells/uL (blood) or 1e9 cells (tissue).

Model structure (part 1)
------------------------
PK: two-compartment aldesleukin with zero-order IV input, an SC depot
absorbed through one transit (lymphatic) compartment (Erlang-2 absorption,
bioavailability applied on leaving the depot), an optional prodrug released in
up to four sequential steps (a releasable-PEG conjugate), linear clearance whose
renal part follows GFR, and saturable receptor-mediated clearance by every
receptor-bearing lymphocyte. The drug's volumes, clearances, absorption and
receptor affinities are the molecule's (:class:`il2sim.model.Molecule`; the
table's values are aldesleukin's). Drug amounts are aldesleukin-IU
equivalents: the number of molecules in one IU of aldesleukin, whatever the
molecule. Endogenous IL-2 is a separate state with aldesleukin's distribution
and the same clearance routes.

Receptors: quasi-steady-state competitive binding of drug and endogenous IL-2
to high-affinity (IL-2Ra/b/gc), intermediate-affinity (IL-2Rb/gc) and
CD25-only (endothelial) sites. A cell's high-affinity sites number
CD25*CD122/(CD25 + CD122) (never more than either chain); the rest of its
CD122 forms intermediate-affinity sites. Activation induces CD25.

Cells: CD8, NK, Treg and CD4 helper cells each have blood, tissue and cycling
pools and an activation fraction; B cells have blood and tissue pools.
Endothelial activation (from an IFN-gamma-like mediator and from IL-2 on
endothelial CD25) drives margination: egress from blood rises, giving
lymphopenia within hours and a rebound when dosing stops.

Tumour: up to five target lesions and one occult pool, logistic growth,
killed by activated CD8 and NK cells with de Pillis' ratio-dependent law,
damped by the Treg:CD8 ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ALGEBRAICS",
    "CELL_TYPES",
    "CONTROLS",
    "DERIVED",
    "DOSE_TARGETS",
    "RESET_AT_T0",
    "SIGNED_STATES",
    "IL2_RESPONSIVE",
    "MAX_LESIONS",
    "MAX_RELEASE_STEPS",
    "OBSERVABLES",
    "RATES",
    "STATES",
    "StateSpec",
    "Symbol",
]


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A state variable: SBML-valid ``id``, ``unit`` and ``description``."""

    id: str
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named non-state quantity (control, derived constant or observable)."""

    id: str
    unit: str
    description: str


MAX_LESIONS = 5
IL2_RESPONSIVE = ("cd8", "nk", "treg", "cd4")
CELL_TYPES = IL2_RESPONSIVE + ("b",)
_CELL_NAMES = {
    "cd8": "CD8 T cells",
    "nk": "NK cells",
    "treg": "regulatory T cells",
    "cd4": "CD4 helper T cells",
    "b": "B cells",
}

# --------------------------------------------------------------------- states
_states: list[StateSpec] = [
    StateSpec("drug_central", "IU", "Active drug (aldesleukin or variant) in the central (plasma) compartment"),
    StateSpec("drug_peripheral", "IU", "Active drug in the peripheral compartment"),
    StateSpec("drug_sc_depot", "IU", "Drug in the subcutaneous depot"),
    StateSpec("drug_sc_transit", "IU", "Absorbed SC drug in transit (lymphatic) on its way to plasma"),
    StateSpec("il2_endogenous", "IU", "Endogenous IL-2 in the central compartment"),
    StateSpec("ifng", "pg/mL", "Serum IFN-gamma-like inflammatory mediator"),
    StateSpec("endothelial_activation", "1", "Endothelial activation (adhesion molecules, leak drive; small but non-zero at rest)"),
]
for _x in IL2_RESPONSIVE:
    _n = _CELL_NAMES[_x]
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
# eosinophils: IL-5 from activated CD4 cells drives marrow eosinophil production (a maturation chain) into blood
EOS_STAGES = 3
_states += [StateSpec("il5", "pg/mL", "Plasma IL-5")]
_states += [StateSpec(f"eos_marrow_{i}", "1e9 cells", f"Maturing eosinophils in the marrow, stage {i} of {EOS_STAGES}")
            for i in range(1, EOS_STAGES + 1)]
_states += [StateSpec("eos_blood", "cells/uL", "Eosinophils in blood")]
_states += [StateSpec(f"lesion_{i}", "mL", f"Volume of target lesion {i} (0 if absent)") for i in range(1, MAX_LESIONS + 1)]
_states += [StateSpec("tumour_occult", "mL", "Occult (non-target, not yet visible) metastatic disease")]
_states += [
    StateSpec("vasodilator", "1", "Nitric-oxide-like vasodilator (iNOS induced by inflammatory mediators; 0 = none)"),
    StateSpec("sympathetic", "1", "Baroreflex sympathetic drive relative to rest (0 at rest; raises heart rate, tone, contractility)"),
    StateSpec("body_temperature", "degC", "Core body temperature"),
    StateSpec("plasma_volume", "L", "Plasma volume"),
    StateSpec("interstitial_volume", "L", "Interstitial fluid volume"),
    StateSpec("plasma_protein", "g", "Plasma protein (oncotically active) mass"),
    StateSpec("interstitial_protein", "g", "Interstitial protein mass"),
    StateSpec("renal_hormones", "1", "Sodium-avid hormonal drive (renin-angiotensin, ADH, renal sympathetic; 0 at rest, < 0 when volume-expanded)"),
    StateSpec("creatinine", "mg/dL", "Serum creatinine"),
    StateSpec("symptom_load", "1", "Cytokine-driven constitutional symptom load (0 at rest, up to 1)"),
    StateSpec("urine_cumulative", "mL", "Urine output since t = 0"),
    StateSpec("fluid_in_cumulative", "mL", "Fluid intake since t = 0 (IV fluids and oral)"),
    StateSpec("diarrhea_cumulative", "mL", "Diarrhoeal fluid loss since t = 0"),
]
# a prodrug (a releasable-PEG conjugate) loses its chains one step at a time: a dose enters stage
# release_steps and stage 1 releases active drug (aldesleukin has no prodrug: every stage stays 0)
MAX_RELEASE_STEPS = 4
_states[4:4] = [StateSpec(f"prodrug_{k}", "IU", f"Inactive prodrug in plasma, {k} release step(s) from active drug"
                          " (0 for aldesleukin)") for k in range(1, MAX_RELEASE_STEPS + 1)]
STATES: tuple[StateSpec, ...] = tuple(_states)

CONTROLS: tuple[Symbol, ...] = (
    Symbol("drug_iv_rate", "IU/h", "Total IV infusion rate of the drug (set by the engine from the dosing record)"),
    Symbol("fluid_maintenance_ml_h", "mL/h", "Maintenance crystalloid infusion"),
    Symbol("fluid_bolus_ml_h", "mL/h", "Crystalloid bolus infusion (timed)"),
    Symbol("pressor_ug_kg_min", "ug/kg/min", "Phenylephrine infusion"),
    Symbol("oxygen_l_min", "L/min", "Supplemental oxygen"),
    Symbol("acetaminophen", "1", "Scheduled acetaminophen (1 = on)"),
    Symbol("nsaid", "1", "Scheduled NSAID, e.g. indomethacin (1 = on)"),
    Symbol("antiemetic", "1", "Antiemetic, e.g. ondansetron (1 = on)"),
    Symbol("antidiarrheal", "1", "Antidiarrhoeal, e.g. loperamide (1 = on)"),
    Symbol("meperidine", "1", "Meperidine for rigors (1 = on)"),
)

# ------------------------------------------------------- per-patient constants
_derived: list[Symbol] = [
    Symbol("weight_kg", "kg", "Baseline body weight (covariate)"),
    Symbol("v1", "L", "Central volume of IL-2 (plasma; endogenous IL-2 and aldesleukin)"),
    Symbol("v1_drug", "L", "Central volume of the drug (v1 x v1_fold)"),
    Symbol("v2_drug", "L", "Peripheral volume of the drug (aldesleukin's from the label half-lives, x v2_fold)"),
    Symbol("q_drug", "L/h", "Intercompartmental clearance of the drug (aldesleukin's from the label half-lives, x q_fold)"),
    Symbol("cl_individual", "L/h", "Non-saturable IL-2 clearance of this patient with two normal kidneys (allometric)"),
    Symbol("gfr_normal", "L/h", "GFR of this patient with two normal kidneys (allometric)"),
    Symbol("gfr_baseline", "L/h", "Baseline glomerular filtration rate (nephrectomy covariate)"),
    Symbol("blood_volume_ul", "uL", "Blood volume"),
    Symbol("molecules_per_iu", "molecules/IU", "IL-2 molecules per IU"),
    Symbol("pm_per_iu_per_ml", "pM/(IU/mL)", "Molar concentration of 1 IU/mL"),
    Symbol("kd_alpha_drug", "pM", "Drug Kd for CD25 alone"),
    Symbol("kd_intermediate_drug", "pM", "Drug Kd for IL-2Rb/gc"),
    Symbol("kd_high_drug", "pM", "Drug Kd for IL-2Ra/b/gc"),
    Symbol("il2_production_k", "IU/h/(1e9 cells)", "Endogenous IL-2 output per antigen-activated T cell"),
    Symbol("ifng_basal_production", "pg/mL/h", "Basal IFN-gamma production (keeps the baseline steady)"),
    Symbol("ea_baseline", "1", "Endothelial activation before treatment"),
    Symbol("il5_production_k", "pg/mL/h per 1e9 cells", "IL-5 production per activated CD4 cell (keeps the baseline steady)"),
    Symbol("eos_production_baseline", "1e9 cells/h", "Marrow eosinophil production before treatment"),
    Symbol("eos_transit_rate", "1/h", "Rate of passage through each marrow maturation stage"),
    Symbol("eos_exit_rate", "1/h", "Rate at which blood eosinophils leave blood for tissue"),
    Symbol("tumour_growth_intrinsic", "1/h", "Intrinsic tumour growth rate (net rate plus baseline killing)"),
]
_derived += [Symbol(f"prodrug_entry_{k}", "1", f"1 when a prodrug dose enters release stage {k} (release_steps = {k}), else 0")
             for k in range(1, MAX_RELEASE_STEPS + 1)]
_derived += [
    Symbol("plasma_volume_baseline", "L", "Plasma volume before treatment"),
    Symbol("interstitial_volume_baseline", "L", "Interstitial volume before treatment"),
    Symbol("cardiac_output_baseline", "L/min", "Cardiac output at rest"),
    Symbol("stroke_volume_baseline", "mL", "Stroke volume at rest"),
    Symbol("svr_baseline", "mmHg min/L", "Systemic vascular resistance at rest"),
    Symbol("filtration_coefficient", "L/h/mmHg", "Whole-body capillary filtration coefficient at rest (sets filtration = lymph flow)"),
    Symbol("protein_permeability", "L/h", "Diffusive protein permeability-surface product at rest (sets protein balance)"),
    Symbol("oral_intake_baseline", "mL/h", "Oral fluid intake that balances urine and insensible losses at rest"),
    Symbol("urine_fraction_baseline", "1", "Fraction of the glomerular filtrate excreted as urine at rest"),
    Symbol("creatinine_production", "mg/h", "Creatinine production (muscle mass; normal kidneys give creatinine_normal)"),
    Symbol("total_body_water", "L", "Creatinine distribution volume"),
    Symbol("vasodilator_baseline", "1", "Vasodilator level at rest"),
    Symbol("renal_map_factor_baseline", "1", "Pressure factor of GFR at the resting MAP (normalises it to 1)"),
]
for _x in CELL_TYPES:
    _derived += [
        Symbol(f"{_x}_k_out", "1/h", f"Baseline egress rate of {_CELL_NAMES[_x]} from blood"),
        Symbol(f"{_x}_k_return", "1/h", f"Return rate of {_CELL_NAMES[_x]} from tissue to blood"),
        Symbol(f"{_x}_source", "1e9 cells/h", f"Homeostatic production of {_CELL_NAMES[_x]}"),
        Symbol(f"{_x}_total_baseline", "1e9 cells", f"Body total of {_CELL_NAMES[_x]} before treatment"),
    ]
DERIVED: tuple[Symbol, ...] = tuple(_derived)

# ------------------------------------------------------------------ algebraics
_alg: list[tuple[str, str]] = [
    # concentrations (IU/mL and pM). Not clipped at 0: a kink where the drug state rests
    # (exactly 0 before dosing) breaks the stiff solvers' Newton iterations at tight tolerances
    ("c_drug", "drug_central / (v1_drug * 1000)"),
    ("c_endo", "il2_endogenous / (v1 * 1000)"),
    ("xh_d", "c_drug * pm_per_iu_per_ml / kd_high_drug"),
    ("xh_e", "c_endo * pm_per_iu_per_ml / kd_high"),
    ("xi_d", "c_drug * pm_per_iu_per_ml / kd_intermediate_drug"),
    ("xi_e", "c_endo * pm_per_iu_per_ml / kd_intermediate"),
    ("xa_d", "c_drug * pm_per_iu_per_ml / kd_alpha_drug"),
    ("xa_e", "c_endo * pm_per_iu_per_ml / kd_alpha"),
    # competitive quasi-steady-state occupancy of each receptor class
    ("occ_high_drug", "xh_d / (1 + xh_d + xh_e)"),
    ("occ_high_endo", "xh_e / (1 + xh_d + xh_e)"),
    ("occ_int_drug", "xi_d / (1 + xi_d + xi_e)"),
    ("occ_int_endo", "xi_e / (1 + xi_d + xi_e)"),
    ("occ_high", "occ_high_drug + occ_high_endo"),
    ("occ_int", "occ_int_drug + occ_int_endo"),
    ("occ_endothelial", "(xa_d + xa_e) / (1 + xa_d + xa_e)"),
]
def _state_mean(x: str, half: str) -> str:
    """Cell type ``x``'s pool mean of a Hill response with half-maximum ``half`` (fraction of CD122 bound)."""
    return (f"((1 - {x}_activation) * {x}_sh_r / (pow({half}, signal_hill) + {x}_sh_r)"
            f" + {x}_activation * {x}_sh_a / (pow({half}, signal_hill) + {x}_sh_a))")


for _x in IL2_RESPONSIVE:
    # Two CD25 states per cell type: resting cells carry {x}_cd25, activated cells (the fraction {x}_activation)
    # {x}_cd25 + {x}_cd25_induced. Each state has its own high-affinity sites (never more than either chain:
    # n_high = a*b/(a+b)) and signal; responses are Hill functions of each state's fraction of CD122 in
    # signalling complexes, averaged over the states (averaging the receptors instead would make every cell
    # of a pool a picomolar responder).
    for _st, _cd25 in (("r", f"{_x}_cd25"), ("a", f"({_x}_cd25 + {_x}_cd25_induced)")):
        _alg += [
            (f"{_x}_n_high_{_st}", f"{_cd25} * {_x}_cd122 / ({_cd25} + {_x}_cd122)"),
            (f"{_x}_sig_{_st}_drug", f"{_x}_n_high_{_st} * occ_high_drug + ({_x}_cd122 - {_x}_n_high_{_st}) * occ_int_drug"),
            (f"{_x}_sig_{_st}_endo", f"{_x}_n_high_{_st} * occ_high_endo + ({_x}_cd122 - {_x}_n_high_{_st}) * occ_int_endo"),
            # the pSTAT5-like signal: the fraction of the cell's CD122 in signalling complexes
            (f"{_x}_sh_{_st}", f"pow(max({_x}_sig_{_st}_drug + {_x}_sig_{_st}_endo, 0) / {_x}_cd122, signal_hill)"),
        ]

    _alg += [
        (f"{_x}_signal_drug", f"(1 - {_x}_activation) * {_x}_sig_r_drug + {_x}_activation * {_x}_sig_a_drug"),
        (f"{_x}_signal_endo", f"(1 - {_x}_activation) * {_x}_sig_r_endo + {_x}_activation * {_x}_sig_a_endo"),
        (f"{_x}_signal", f"{_x}_signal_drug + {_x}_signal_endo"),
        (f"{_x}_prolif", f"{_x}_prolif_max * {_state_mean(_x, 'signal_half_proliferation')}"),
        # what activates a resting cell is its own (CD25-low) signal
        (f"{_x}_stim", f"{_x}_sh_r / (pow(signal_half_activation, signal_hill) + {_x}_sh_r)"),
        (f"{_x}_ifng_stim", _state_mean(_x, "ifng_signal_half")),
        (f"{_x}_total", f"{_x}_blood * blood_volume_ul * 1e-9 + {_x}_tissue + {_x}_cycling"),
        # death rises with activation (contraction) and with crowding (homeostatic niches)
        (f"{_x}_death_rate", f"({_x}_death + (activated_death - {_x}_death) * {_x}_activation)"
         f" * pow({_x}_total / {_x}_total_baseline, homeostatic_exponent)"),
    ]
_alg += [
    ("b_total", "b_blood * blood_volume_ul * 1e-9 + b_tissue"),
    # margination: egress from blood relative to rest (1 at the pre-treatment steady state)
    ("margination", "(1 + margination_max * endothelial_activation) / (1 + margination_max * ea_baseline)"),
    # receptor-mediated clearance: internalised signalling complexes (IU/h)
    ("rmc_drug", "drug_receptor_clearance * rmc_accessible_fraction * k_internalization * 1e9 / molecules_per_iu * ("
     + " + ".join(f"{x}_total * {x}_signal_drug" for x in IL2_RESPONSIVE) + ")"),
    ("rmc_endo", "rmc_accessible_fraction * k_internalization * 1e9 / molecules_per_iu * ("
     + " + ".join(f"{x}_total * {x}_signal_endo" for x in IL2_RESPONSIVE) + ")"),
    # ------------------------------------------------------ haemodynamics
    ("cvp", "cvp_baseline * exp((plasma_volume - plasma_volume_baseline) / (cvp_baseline * venous_compliance))"),
    ("pressor_effect", "1 + pressor_emax * pressor_ug_kg_min / (pressor_ug_kg_min + pressor_ec50)"),
    ("svr", "svr_baseline * (1 + baro_svr_gain * sympathetic) * pressor_effect"
     " / (1 + vasodilation_gain * (vasodilator - vasodilator_baseline))"),
    ("heart_rate_drive", "heart_rate_baseline * (1 + baro_hr_gain * sympathetic) + hr_per_degree * (body_temperature - temperature_baseline)"),
    # soft ceiling at the maximal heart rate
    ("heart_rate", "heart_rate_drive * pow(1 + pow(heart_rate_baseline / heart_rate_max, 8), 0.125)"
     " / pow(1 + pow(max(heart_rate_drive, 1) / heart_rate_max, 8), 0.125)"),
    ("stroke_volume", "stroke_volume_baseline * pow(max(plasma_volume, 0.1) / plasma_volume_baseline, preload_exponent)"
     " * (1 + baro_contractility_gain * sympathetic)"),
    ("cardiac_output", "heart_rate * stroke_volume / 1000"),
    ("map", "cvp + cardiac_output * svr"),
    ("pulse_pressure", "(sbp_baseline - dbp_baseline) * pow(max(stroke_volume, 1) / stroke_volume_baseline, pulse_pressure_exponent)"),
    # ------------------------------------------------------ capillary leak (Starling)
    # smooth positive part (width 0.01): kinks at the resting operating point slow stiff solvers
    ("leak", "(endothelial_activation - ea_baseline + sqrt(pow(endothelial_activation - ea_baseline, 2) + 1e-4)) / 2 - 0.005"),
    ("kf", "filtration_coefficient * (1 + kf_leak_gain * leak)"),
    ("sigma", "reflection_coefficient * (1 - sigma_leak_max * leak / (leak + sigma_leak_half))"),
    ("cp", "plasma_protein / max(plasma_volume, 0.1)"),
    ("ci", "interstitial_protein / max(interstitial_volume, 0.1)"),
    ("pi_p", "0.28 * cp + 0.0019 * cp * cp"),
    ("pi_i", "0.28 * ci + 0.0019 * ci * ci"),
    ("pc", "cvp + capillary_pressure_fraction * (map - cvp)"),
    ("p_int", "interstitial_pressure_baseline + (interstitial_volume - interstitial_volume_baseline) / interstitial_compliance"),
    # losses drawn from plasma vanish as plasma nears empty: the model has no intracellular water (the main
    # source of insensible loss in dehydration) and no death, so without it a patient left without fluids in
    # capillary leak drains plasma below zero; 1 at the baseline volume, 0.997 at 2 L
    ("plasma_reserve", "pow(max(plasma_volume, 0), 2) / (pow(max(plasma_volume, 0), 2) + pow(plasma_loss_half, 2))"
     " * (1 + pow(plasma_loss_half / plasma_volume_baseline, 2))"),
    ("filtration_drive", "kf * ((pc - p_int) - sigma * (pi_p - pi_i))"),
    # outward filtration is a loss from plasma too: its smooth positive part (width 1 mL/h) is scaled by
    # plasma_reserve (1 at the baseline volume)
    ("filtration_out", "(filtration_drive + sqrt(filtration_drive * filtration_drive + 1e-6)) / 2"),
    ("filtration", "filtration_drive - (1 - plasma_reserve) * filtration_out"),
    # logistic in interstitial pressure: 1 at rest, slope lymph_gain there, saturating at lymph_max_fold
    ("lymph", "lymph_flow_baseline * lymph_max_fold / (1 + (lymph_max_fold - 1)"
     " * exp(-lymph_gain * lymph_max_fold / (lymph_max_fold - 1) * (p_int - interstitial_pressure_baseline)))"),
    ("protein_leak", "(1 - sigma) * filtration * cp + protein_permeability * (1 + kf_leak_gain * leak) * (cp - ci)"),
    # excess lung water grows with interstitial expansion times the leak factor, and lowers SpO2 on room air
    ("lung_water", "lung_water_gain * max(interstitial_volume - interstitial_volume_baseline, 0) * (1 + kf_leak_gain * leak)"),
    ("spo2_room_air", "spo2_room_air_baseline - spo2_per_lung_water * lung_water"),
    # ------------------------------------------------------ kidney
    ("renal_pressure_factor", "pow(map, renal_hill) / (pow(renal_map_half, renal_hill) + pow(map, renal_hill)) / renal_map_factor_baseline"),
    ("hormones_pos", "(renal_hormones + sqrt(renal_hormones * renal_hormones + 1e-4)) / 2 - 0.005"),
    ("gfr", "gfr_baseline * renal_pressure_factor * exp(-hormone_gfr_gain * hormones_pos)"
     " * (1 - nsaid * nsaid_gfr_effect * hormones_pos / (hormones_pos + nsaid_hormone_half))"),
    ("urine_ml_h", "gfr * 1000 * urine_fraction_baseline * exp(-hormone_urine_gain * renal_hormones) * plasma_reserve"),
    # ------------------------------------------------------ temperature, symptoms, fluids
    ("antipyresis", "min(acetaminophen * acetaminophen_effect + nsaid * nsaid_antipyretic_effect, 0.9)"),
    ("temperature_setpoint", "temperature_baseline + fever_max * (ifng / (ifng + fever_ifng_half)"
     " - ifng_baseline / (ifng_baseline + fever_ifng_half)) * (1 - antipyresis)"),
    ("sym_nausea", "min(3, 3 * nausea_sensitivity * symptom_load) * (1 - antiemetic_effect * antiemetic)"),
    ("oral_intake", "oral_intake_baseline * max(1 - sym_nausea / nausea_intake_score, 0)"),
    ("stools", "stool_max * pow(diarrhea_sensitivity * symptom_load, 2) / (0.25 + pow(diarrhea_sensitivity * symptom_load, 2))"
     " * (1 - antidiarrheal_effect * antidiarrheal)"),
    ("diarrhea_ml_h", "stools * stool_volume / 24 * plasma_reserve"),
    ("insensible_ml_h", "insensible_loss_baseline * (1 + insensible_per_degree * (body_temperature - temperature_baseline))"
     " * plasma_reserve"),
    ("iv_fluid_ml_h", "fluid_maintenance_ml_h + fluid_bolus_ml_h"),
    ("renal_factor", "(1 - fraction_renal) + fraction_renal * gfr / gfr_normal"),
    ("cl_drug", "cl_individual * cl_fold * ((1 - drug_fraction_renal) + drug_fraction_renal * gfr / gfr_normal)"),
    ("cl_endo", "cl_individual * renal_factor"),
    ("sc_absorbed", "ka_sc * drug_sc_transit"),
    ("drug_input", "drug_iv_rate + sc_absorbed"),
    # endogenous IL-2 from antigen-activated T cells (IL-2-activated cells make less: autorepression)
    ("il2_production", "il2_production_k * ("
     + " + ".join(f"{x}_total * (activation_basal + il2_production_il2_activated * ({x}_activation - activation_basal))"
                  for x in ("cd4", "cd8")) + ")"),
    # IFN-gamma-like mediator from IL-2-signalling NK and CD8 cells
    ("ifng_drive", "nk_total / nk_total_baseline * nk_ifng_stim * (ifng_resting_output + nk_activation)"
     " + ifng_cd8_weight * cd8_total / cd8_total_baseline * cd8_ifng_stim * (ifng_resting_output + cd8_activation)"),
    ("ea_drive", "ifng / (ifng + ea_ifng_half) + ea_cd25_weight * occ_endothelial"),
    # eosinophil production rises with IL-5 (relative to rest) as a power law
    ("eos_production", "eos_production_baseline * pow(max(il5, 0) / il5_baseline, eos_il5_exponent)"),
    # tumour killing: de Pillis ratio-dependent law with Treg suppression
    ("tumour_volume", " + ".join(f"lesion_{i}" for i in range(1, MAX_LESIONS + 1)) + " + tumour_occult"),
    ("effector_index", "cd8_total / cd8_total_baseline * cd8_activation"
     " + nk_kill_weight * nk_total / nk_total_baseline * nk_activation"),
    ("et_ratio", "effector_index * tumour_reference_volume / max(tumour_volume, 1e-9)"),
    ("treg_cd8_ratio", "(treg_total / cd8_total) / (treg_total_baseline / cd8_total_baseline)"),
    ("suppression", "(1 + treg_suppression) / (1 + treg_suppression * treg_cd8_ratio)"),
    ("kill_rate", "kill_max * kill_sensitivity * suppression"
     " * pow(et_ratio, kill_exponent) / (kill_half + pow(et_ratio, kill_exponent))"),
]
ALGEBRAICS: tuple[tuple[str, str], ...] = tuple(_alg)

# ----------------------------------------------------------------------- rates
_rates: dict[str, str] = {
    "drug_central": "(1 - prodrug_fraction) * drug_input + prodrug_release_rate * prodrug_1"
    " - (cl_drug / v1_drug) * drug_central - (q_drug / v1_drug) * drug_central + (q_drug / v2_drug) * drug_peripheral"
    " - rmc_drug",
    "drug_peripheral": "(q_drug / v1_drug) * drug_central - (q_drug / v2_drug) * drug_peripheral",
    "drug_sc_depot": "-ka_sc * drug_sc_depot",
    "drug_sc_transit": "f_sc * ka_sc * drug_sc_depot - ka_sc * drug_sc_transit",
    "il2_endogenous": "il2_production - (cl_endo / v1) * il2_endogenous - rmc_endo",
    "ifng": "ifng_basal_production + ifng_production * ifng_drive - ifng_elimination * ifng",
    "endothelial_activation": "ea_on_rate * ea_drive - ea_off_rate * endothelial_activation",
}
for _k in range(1, MAX_RELEASE_STEPS + 1):
    _rates[f"prodrug_{_k}"] = (f"prodrug_fraction * prodrug_entry_{_k} * drug_input"
                               + (f" + prodrug_release_rate * prodrug_{_k + 1}" if _k < MAX_RELEASE_STEPS else "")
                               + f" - (prodrug_release_rate + prodrug_elimination_rate) * prodrug_{_k}")
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
_rates["il5"] = "il5_production_k * cd4_total * cd4_activation - il5_elimination * il5"
_rates["eos_marrow_1"] = "eos_production - eos_transit_rate * eos_marrow_1"
for _i in range(2, EOS_STAGES + 1):
    _rates[f"eos_marrow_{_i}"] = f"eos_transit_rate * (eos_marrow_{_i - 1} - eos_marrow_{_i})"
_rates["eos_blood"] = (f"eos_transit_rate * eos_marrow_{EOS_STAGES} / (blood_volume_ul * 1e-9)"
                       " - eos_exit_rate * eos_blood")
_rates["b_blood"] = (
    "(b_k_return * b_tissue - b_k_out * margination * b_blood * blood_volume_ul * 1e-9)"
    " / (blood_volume_ul * 1e-9) - b_death * b_blood"
)
_rates["b_tissue"] = (
    "b_source + b_k_out * margination * b_blood * blood_volume_ul * 1e-9 - b_k_return * b_tissue - b_death * b_tissue"
)
for _i in range(1, MAX_LESIONS + 1):
    _rates[f"lesion_{_i}"] = (
        f"tumour_growth_intrinsic * lesion_{_i} * (1 - lesion_{_i} / lesion_max_volume) - kill_rate * lesion_{_i}"
    )
_rates["tumour_occult"] = (
    "tumour_growth_intrinsic * tumour_occult * (1 - tumour_occult / lesion_max_volume) - kill_rate * tumour_occult"
)
_rates.update({
    "vasodilator": "vasodilator_on_rate * ifng / (ifng + vasodilator_ifng_half) - vasodilator_off_rate * vasodilator",
    "sympathetic": "(baro_gain * (map_baseline - map) / map_baseline - sympathetic) / baro_time_constant",
    "body_temperature": "(temperature_setpoint - body_temperature) / temperature_time_constant",
    "plasma_volume": "(iv_fluid_ml_h + oral_intake - urine_ml_h - insensible_ml_h - diarrhea_ml_h) / 1000 - filtration + lymph",
    "interstitial_volume": "filtration - lymph",
    "plasma_protein": "lymph * ci - protein_leak",
    "interstitial_protein": "protein_leak - lymph * ci",
    "renal_hormones": "(hormone_gain * ((map_baseline - map) / map_baseline"
    " + (plasma_volume_baseline - plasma_volume) / plasma_volume_baseline) - renal_hormones) / hormone_time_constant",
    "creatinine": "(creatinine_production - gfr * creatinine * 10) / (total_body_water * 10)",
    "symptom_load": "(ifng / (ifng + symptom_ifng_half) - ifng_baseline / (ifng_baseline + symptom_ifng_half)"
    " - symptom_load) / symptom_time_constant",
    "urine_cumulative": "urine_ml_h",
    "fluid_in_cumulative": "iv_fluid_ml_h + oral_intake",
    "diarrhea_cumulative": "diarrhea_ml_h",
})
RATES: dict[str, str] = _rates

# ------------------------------------------------------------------ observables
_diam = {i: f"10 * pow(6 * max(lesion_{i}, 0) / 3.141592653589793, 0.3333333333333333)" for i in range(1, MAX_LESIONS + 1)}
_obs: list[tuple[Symbol, str]] = [
    (Symbol("il2_plasma_iu_per_ml", "IU/mL", "Total serum IL-2 (drug plus endogenous)"), "c_drug + c_endo"),
    (Symbol("aldesleukin_plasma_iu_per_ml", "IU/mL", "Serum drug (aldesleukin or variant) only"), "c_drug"),
    (Symbol("sbp_mmhg", "mmHg", "Systolic blood pressure"), "map + 2 * pulse_pressure / 3"),
    (Symbol("dbp_mmhg", "mmHg", "Diastolic blood pressure"), "map - pulse_pressure / 3"),
    (Symbol("map_mmhg", "mmHg", "Mean arterial pressure (cardiac output x resistance + CVP)"), "map"),
    (Symbol("heart_rate_bpm", "1/min", "Heart rate (baroreflex and fever)"), "heart_rate"),
    (Symbol("weight_kg", "kg", "Body weight: baseline plus the change in plasma and interstitial water"),
     "weight_kg + (plasma_volume - plasma_volume_baseline) + (interstitial_volume - interstitial_volume_baseline)"),
    (Symbol("urine_ml_per_h", "mL/h", "Urine output"), "urine_ml_h"),
    (Symbol("creatinine_mg_dl", "mg/dL", "Serum creatinine"), "creatinine"),
    (Symbol("spo2_pct", "%", "Oxygen saturation on the oxygen in force"),
     "spo2_room_air + (99 - spo2_room_air) * (1 - exp(-oxygen_l_min / oxygen_scale))"),
    (Symbol("temperature_c", "degC", "Core body temperature"), "body_temperature"),
    (Symbol("lymphocytes_per_ul", "cells/uL", "All blood lymphocytes (T, B and NK)"),
     " + ".join(f"{x}_blood" for x in CELL_TYPES)),
    (Symbol("tumour_sum_diameters_mm", "mm", "Sum of longest diameters of target lesions above the detection limit"),
     " + ".join(f"above({_diam[i]}, detection_limit_diameter)" for i in range(1, MAX_LESIONS + 1))),
]
_obs += [
    (Symbol(f"lesion_{i}_diameter_mm", "mm", f"Longest diameter of target lesion {i} (sphere)"), _diam[i])
    for i in range(1, MAX_LESIONS + 1)
]
_obs += [
    (Symbol("occult_diameter_mm", "mm", "Diameter of the occult disease as one sphere (new lesion once >= new_lesion_diameter)"),
     "10 * pow(6 * max(tumour_occult, 0) / 3.141592653589793, 0.3333333333333333)"),
    (Symbol("il2_plasma_pm", "pM", "Total serum IL-2, molar"), "(c_drug + c_endo) * pm_per_iu_per_ml"),
    (Symbol("drug_plasma_pm", "pM", "Serum active drug (the molecule), molar"), "c_drug * pm_per_iu_per_ml"),
    (Symbol("drug_plasma_ng_per_ml", "ng/mL", "Serum active drug (the molecule), by mass (its molecular weight)"),
     "c_drug * pm_per_iu_per_ml * drug_molecular_weight * 1e-6"),
    (Symbol("prodrug_plasma_pm", "pM", "Serum prodrug (every release stage), molar; 0 for aldesleukin"),
     "(" + " + ".join(f"prodrug_{k}" for k in range(1, MAX_RELEASE_STEPS + 1)) + ") / (v1_drug * 1000) * pm_per_iu_per_ml"),
    (Symbol("endothelial_cd25_occupancy", "1", "Fraction of endothelial CD25 bound by IL-2 (leak drive, Krieg 2010)"), "occ_endothelial"),
    (Symbol("ifng_pg_per_ml", "pg/mL", "Serum IFN-gamma-like mediator"), "ifng"),
    (Symbol("il5_pg_per_ml", "pg/mL", "Plasma IL-5"), "il5"),
    (Symbol("eosinophils_per_ul", "cells/uL", "Blood eosinophil count"), "eos_blood"),
    (Symbol("receptor_clearance_ml_per_min", "mL/min", "Receptor-mediated clearance of the drug"),
     "rmc_drug / max(c_drug, 1e-12) / 60"),
    (Symbol("linear_clearance_ml_per_min", "mL/min", "Non-saturable drug clearance"), "cl_drug * 1000 / 60"),
    (Symbol("tumour_kill_rate_per_day", "1/d", "Immune killing rate of tumour cells"), "kill_rate * 24"),
]
for _x in IL2_RESPONSIVE:
    _obs += [
        (Symbol(f"{_x}_signal_complexes", "complexes/cell", f"IL-2-bound signalling receptors per {_CELL_NAMES[_x][:-1]}"), f"{_x}_signal"),
        (Symbol(f"{_x}_total_1e9", "1e9 cells", f"Body total of {_CELL_NAMES[_x]}"), f"{_x}_total"),
    ]
_obs += [(Symbol("b_total_1e9", "1e9 cells", "Body total of B cells"), "b_total")]
_obs += [
    (Symbol("cardiac_output_l_min", "L/min", "Cardiac output"), "cardiac_output"),
    (Symbol("svr_mmhg_min_per_l", "mmHg min/L", "Systemic vascular resistance"), "svr"),
    (Symbol("cvp_mmhg", "mmHg", "Central venous pressure"), "cvp"),
    (Symbol("plasma_volume_l", "L", "Plasma volume"), "plasma_volume"),
    (Symbol("interstitial_volume_l", "L", "Interstitial volume"), "interstitial_volume"),
    (Symbol("edema_pct", "%", "Interstitial (oedema) volume above baseline"),
     "100 * (interstitial_volume - interstitial_volume_baseline) / interstitial_volume_baseline"),
    (Symbol("lung_water_ml", "mL", "Extravascular lung water above baseline"), "lung_water"),
    (Symbol("albumin_g_dl", "g/dL", "Serum albumin (a fixed share of plasma protein)"), "albumin_fraction * cp / 10"),
    (Symbol("gfr_ml_min", "mL/min", "Glomerular filtration rate"), "gfr * 1000 / 60"),
    (Symbol("filtration_ml_h", "mL/h", "Net capillary filtration to the interstitium"), "filtration * 1000"),
    (Symbol("lymph_ml_h", "mL/h", "Lymph flow back to plasma"), "lymph * 1000"),
    (Symbol("urine_cumulative_ml", "mL", "Urine output since t = 0"), "urine_cumulative"),
    (Symbol("fluid_in_cumulative_ml", "mL", "Fluid intake since t = 0"), "fluid_in_cumulative"),
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
    (Symbol("baseline_weight_kg", "kg", "Pre-treatment weight (constant, for rules)"), "weight_kg"),
    (Symbol("baseline_creatinine_mg_dl", "mg/dL", "Pre-treatment creatinine (constant, for rules)"),
     "creatinine_production / (gfr_baseline * 10)"),
    (Symbol("toxicity_tolerance_score", "points", "Highest early-warning score at which the next dose is still given"
            " ('as clinically tolerated'; constant, for the pivotal rules)"), "toxicity_tolerance"),
]
OBSERVABLES: tuple[tuple[Symbol, str], ...] = tuple(_obs)

# States that may be negative by construction (deviations from rest); all others are >= 0.
SIGNED_STATES = ("sympathetic", "renal_hormones")

# States that count from t = 0 (reset after the run-in).
RESET_AT_T0 = ("urine_cumulative", "fluid_in_cumulative", "diarrhea_cumulative")

# ------------------------------------------------------------------- dosing
# Where an administration of ``amount`` IU goes: state id -> expression. An IV
# bolus is a jump; an IV infusion is the control ``drug_iv_rate`` (split the
# same way inside the rates); an SC dose enters the depot.
DOSE_TARGETS: dict[str, dict[str, str]] = {
    "iv": {"drug_central": "(1 - prodrug_fraction) * amount",
           **{f"prodrug_{k}": f"prodrug_fraction * prodrug_entry_{k} * amount" for k in range(1, MAX_RELEASE_STEPS + 1)}},
    "sc": {"drug_sc_depot": "amount"},
}
