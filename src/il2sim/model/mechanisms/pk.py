"""Pharmacokinetics: the dosed molecule (two compartments, SC depot, prodrug release) and endogenous IL-2.

Two-compartment drug with zero-order IV input, an SC depot absorbed through one transit (lymphatic)
compartment (Erlang-2 absorption, bioavailability applied on leaving the depot), an optional prodrug
released in up to four sequential steps (a releasable-PEG conjugate), linear clearance whose renal part
follows GFR, and receptor-mediated clearance (declared with the receptors). The drug's volumes,
clearances, absorption and affinities are the molecule's (:class:`il2sim.model.Molecule`; the table's
values are aldesleukin's). Drug amounts are aldesleukin-IU equivalents: the number of molecules in one IU
of aldesleukin, whatever the molecule. Endogenous IL-2 is a separate state with aldesleukin's
distribution and the same clearance routes, produced by antigen-activated T cells.
"""

from __future__ import annotations

from ..._errors import UserError
from ._base import LN2, MAX_RELEASE_STEPS, Mechanism, RestContext, StateSpec, Symbol

AVOGADRO = 6.02214076e23

_states = [
    StateSpec("drug_central", "IU", "Active drug (aldesleukin or variant) in the central (plasma) compartment"),
    StateSpec("drug_peripheral", "IU", "Active drug in the peripheral compartment"),
    StateSpec("drug_sc_depot", "IU", "Drug in the subcutaneous depot"),
    StateSpec("drug_sc_transit", "IU", "Absorbed SC drug in transit (lymphatic) on its way to plasma"),
]
# a prodrug (a releasable-PEG conjugate) loses its chains one step at a time: a dose enters stage
# release_steps and stage 1 releases active drug (aldesleukin has no prodrug: every stage stays 0)
_states += [StateSpec(f"prodrug_{k}", "IU", f"Inactive prodrug in plasma, {k} release step(s) from active drug"
                      " (0 for aldesleukin)") for k in range(1, MAX_RELEASE_STEPS + 1)]
_states += [StateSpec("il2_endogenous", "IU", "Endogenous IL-2 in the central compartment")]

_derived = [
    Symbol("weight_kg", "kg", "Baseline body weight (covariate)"),
    Symbol("v1", "L", "Central volume of IL-2 (plasma; endogenous IL-2 and aldesleukin)"),
    Symbol("v1_drug", "L", "Central volume of the drug (v1 x v1_fold)"),
    Symbol("v2_drug", "L", "Peripheral volume of the drug (aldesleukin's from the label half-lives, x v2_fold)"),
    Symbol("q_drug", "L/h", "Intercompartmental clearance of the drug (aldesleukin's from the label half-lives, x q_fold)"),
    Symbol("cl_individual", "L/h", "Non-saturable IL-2 clearance of this patient with two normal kidneys (allometric)"),
    Symbol("gfr_normal", "L/h", "GFR of this patient with two normal kidneys (allometric)"),
    Symbol("gfr_baseline", "L/h", "Baseline glomerular filtration rate (nephrectomy covariate)"),
    Symbol("molecules_per_iu", "molecules/IU", "IL-2 molecules per IU"),
    Symbol("pm_per_iu_per_ml", "pM/(IU/mL)", "Molar concentration of 1 IU/mL"),
    Symbol("il2_production_k", "IU/h/(1e9 cells)", "Endogenous IL-2 output per antigen-activated T cell"),
]
_derived += [Symbol(f"prodrug_entry_{k}", "1", f"1 when a prodrug dose enters release stage {k} (release_steps = {k}), else 0")
             for k in range(1, MAX_RELEASE_STEPS + 1)]

_algebraics = [
    # concentrations (IU/mL). Not clipped at 0: a kink where the drug state rests
    # (exactly 0 before dosing) breaks the stiff solvers' Newton iterations at tight tolerances
    ("c_drug", "drug_central / (v1_drug * 1000)"),
    ("c_endo", "il2_endogenous / (v1 * 1000)"),
    ("renal_factor", "(1 - fraction_renal) + fraction_renal * gfr / gfr_normal"),
    ("cl_drug", "cl_individual * cl_fold * ((1 - drug_fraction_renal) + drug_fraction_renal * gfr / gfr_normal)"),
    ("cl_endo", "cl_individual * renal_factor"),
    ("sc_absorbed", "ka_sc * drug_sc_transit"),
    ("drug_input", "drug_iv_rate + sc_absorbed"),
    # endogenous IL-2 from antigen-activated T cells (IL-2-activated cells make less: autorepression)
    ("il2_production", "il2_production_k * ("
     + " + ".join(f"{x}_total * (activation_basal + il2_production_il2_activated * ({x}_activation - activation_basal))"
                  for x in ("cd4", "cd8")) + ")"),
]

_rates = {
    "drug_central": "(1 - prodrug_fraction) * drug_input + prodrug_release_rate * prodrug_1"
    " - (cl_drug / v1_drug) * drug_central - (q_drug / v1_drug) * drug_central + (q_drug / v2_drug) * drug_peripheral"
    " - rmc_drug",
    "drug_peripheral": "(q_drug / v1_drug) * drug_central - (q_drug / v2_drug) * drug_peripheral",
    "drug_sc_depot": "-ka_sc * drug_sc_depot",
    "drug_sc_transit": "f_sc * ka_sc * drug_sc_depot - ka_sc * drug_sc_transit",
}
for _k in range(1, MAX_RELEASE_STEPS + 1):
    _rates[f"prodrug_{_k}"] = (f"prodrug_fraction * prodrug_entry_{_k} * drug_input"
                               + (f" + prodrug_release_rate * prodrug_{_k + 1}" if _k < MAX_RELEASE_STEPS else "")
                               + f" - (prodrug_release_rate + prodrug_elimination_rate) * prodrug_{_k}")
_rates["il2_endogenous"] = "il2_production - (cl_endo / v1) * il2_endogenous - rmc_endo"

_observables = [
    (Symbol("il2_plasma_iu_per_ml", "IU/mL", "Total serum IL-2 (drug plus endogenous)"), "c_drug + c_endo"),
    (Symbol("aldesleukin_plasma_iu_per_ml", "IU/mL", "Serum drug (aldesleukin or variant) only"), "c_drug"),
    (Symbol("il2_plasma_pm", "pM", "Total serum IL-2, molar"), "(c_drug + c_endo) * pm_per_iu_per_ml"),
    (Symbol("drug_plasma_pm", "pM", "Serum active drug (the molecule), molar"), "c_drug * pm_per_iu_per_ml"),
    (Symbol("drug_plasma_ng_per_ml", "ng/mL", "Serum active drug (the molecule), by mass (its molecular weight)"),
     "c_drug * pm_per_iu_per_ml * drug_molecular_weight * 1e-6"),
    (Symbol("prodrug_plasma_pm", "pM", "Serum prodrug (every release stage), molar; 0 for aldesleukin"),
     "(" + " + ".join(f"prodrug_{k}" for k in range(1, MAX_RELEASE_STEPS + 1)) + ") / (v1_drug * 1000) * pm_per_iu_per_ml"),
    (Symbol("receptor_clearance_ml_per_min", "mL/min", "Receptor-mediated clearance of the drug"),
     "rmc_drug / max(c_drug, 1e-12) / 60"),
    (Symbol("linear_clearance_ml_per_min", "mL/min", "Non-saturable drug clearance"), "cl_drug * 1000 / 60"),
]

# Where an administration of ``amount`` IU goes: state id -> expression. An IV bolus is a jump; an IV
# infusion is the control ``drug_iv_rate`` (split the same way inside the rates); an SC dose enters the depot.
_dose_targets = {
    "iv": {"drug_central": "(1 - prodrug_fraction) * amount",
           **{f"prodrug_{k}": f"prodrug_fraction * prodrug_entry_{k} * amount" for k in range(1, MAX_RELEASE_STEPS + 1)}},
    "sc": {"drug_sc_depot": "amount"},
}


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    w, scale_cl = ctx.extra["weight_kg"], ctx.extra["scale_cl"]
    d["weight_kg"] = w
    d["v1"] = v["plasma_volume_per_kg"] * w
    d["cl_individual"] = v["cl_linear"] * scale_cl
    d["gfr_normal"] = v["gfr_reference"] * scale_cl
    d["gfr_baseline"] = d["gfr_normal"] * (v["nephrectomy_gfr_factor"] if ctx.covariates.nephrectomy else 1.0)
    # Q and V2 follow from the label half-lives at the *typical* clearance and plasma volume (scaled to
    # this weight); a patient's own clearance and volume then move the half-lives, as in patients.
    alpha = LN2 / (v["t_half_alpha_min"] / 60.0)
    beta = LN2 / (v["t_half_beta_min"] / 60.0)
    v1_typical = ctx.typical["plasma_volume_per_kg"] * w
    k10 = ctx.typical["cl_linear"] * scale_cl / v1_typical
    k21 = alpha * beta / k10
    k12 = alpha + beta - k10 - k21
    if not (alpha > beta > 0 and k21 > 0 and k12 > 0):
        raise UserError(
            "t_half_alpha_min/t_half_beta_min", (v["t_half_alpha_min"], v["t_half_beta_min"]),
            "half-lives consistent with the typical cl_linear and plasma volume (positive k12 and k21)",
        )
    # the drug's distribution: aldesleukin's scaled by the molecule's folds (1 for aldesleukin)
    d["v1_drug"] = d["v1"] * v["v1_fold"]
    d["q_drug"] = k12 * v1_typical * v["q_fold"]
    d["v2_drug"] = k12 * v1_typical / k21 * v["v2_fold"]
    steps = v["release_steps"]
    if steps != int(steps):
        raise UserError("release_steps", steps, f"an integer from 1 to {MAX_RELEASE_STEPS}")
    for k in range(1, MAX_RELEASE_STEPS + 1):
        d[f"prodrug_entry_{k}"] = 1.0 if k == int(steps) else 0.0
    d["molecules_per_iu"] = AVOGADRO * 1e-3 / (v["iu_per_mg"] * v["molecular_weight"])
    d["pm_per_iu_per_ml"] = 1e12 / (v["iu_per_mg"] * v["molecular_weight"])
    d["il2_production_k"] = 0.0
    ctx.set("il2_endogenous", v["il2_endogenous_baseline"] * d["v1"] * 1000.0)


def _balance(ctx: RestContext) -> None:
    # endogenous IL-2 production balancing clearance at the baseline level (after the cells are at rest:
    # receptor-mediated clearance grows with their numbers)
    alg = ctx.algebraics()
    c_e0 = ctx.v["il2_endogenous_baseline"]
    clearance_flux = float(alg["cl_endo"]) * 1000.0 * c_e0 + float(alg["rmc_endo"])
    ctx.d["il2_production_k"] = 1.0
    per_unit = ctx.alg("il2_production")
    ctx.d["il2_production_k"] = clearance_flux / per_unit


MECHANISM = Mechanism(
    name="pk",
    summary="The dosed molecule's PK (IV, SC, prodrug release) and endogenous IL-2",
    states=tuple(_states), derived=tuple(_derived), algebraics=tuple(_algebraics), rates=_rates,
    observables=tuple(_observables), dose_targets=_dose_targets, constants=_constants, balance=_balance,
)
