"""Patients: covariates, individual parameters and the pre-treatment steady state.

:func:`derive_constants` is the model's ``$MAIN`` block: from the table values
and the covariates it computes every per-patient constant the equations need
(volumes, intercompartmental clearance from the label half-lives, trafficking
rates, homeostatic sources that make the baseline a steady state, endogenous
IL-2 production that holds serum IL-2 at its baseline, the intrinsic tumour
growth rate that gives the sourced net growth). The steady-state parts are
computed by evaluating the generated algebraics, so they use the same
equations as the engines.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from .._errors import UserError
from . import _spec
from ._model import Model, default_model

__all__ = [
    "Covariates",
    "IndividualModel",
    "Patient",
    "derive_constants",
    "indications",
    "typical_patient",
]

LN2 = math.log(2.0)
AVOGADRO = 6.02214076e23
#: Height of a patient whose height is not given, cm (an assumption; only doses per m2 use it).
DEFAULT_HEIGHT_CM = 170.0


def indications(model: Model | None = None) -> tuple[str, ...]:
    """Indication ids known to the model's parameter table (``melanoma``, ``rcc``)."""
    return (model or default_model()).indications()


@dataclass(frozen=True, slots=True)
class Covariates:
    """Patient covariates.

    Parameters
    ----------
    weight_kg
        Baseline (pre-treatment) body weight; doses are per kg of it.
    nephrectomy
        Whether the patient has had a nephrectomy (lowers GFR and so the renal
        part of IL-2 clearance).
    lesion_diameters_mm
        Longest diameters of the target lesions at diagnosis (t = 0), 1 to 5
        of them. ``None`` takes ``n_target_lesions`` lesions of
        ``lesion_diameter`` from the parameter table.
    height_cm
        Height, used only for doses per m2 of body surface area (Mosteller,
        :func:`il2sim.model.body_surface_area`). The default 170 cm is an
        assumption (an adult of middle height; the calibrated populations
        have no height covariate): 70 kg and 170 cm give 1.82 m2.
    """

    weight_kg: float = 70.0
    nephrectomy: bool = False
    lesion_diameters_mm: tuple[float, ...] | None = None
    height_cm: float = DEFAULT_HEIGHT_CM

    def __post_init__(self) -> None:
        if not (isinstance(self.weight_kg, (int, float)) and math.isfinite(self.weight_kg) and 20 <= self.weight_kg <= 300):
            raise UserError("weight_kg", self.weight_kg, "a number of kilograms between 20 and 300")
        h = self.height_cm
        if isinstance(h, bool) or not (isinstance(h, (int, float)) and math.isfinite(h) and 100 <= h <= 230):
            raise UserError("height_cm", h, "a number of centimetres between 100 and 230")
        if self.lesion_diameters_mm is not None:
            d = tuple(self.lesion_diameters_mm)
            if not 1 <= len(d) <= _spec.MAX_LESIONS:
                raise UserError("lesion_diameters_mm", d, f"1 to {_spec.MAX_LESIONS} target lesions")
            for x in d:
                if not (isinstance(x, (int, float)) and math.isfinite(x) and 10 <= x <= 300):
                    raise UserError("lesion_diameters_mm", d, "diameters between 10 and 300 mm (RECIST measurable)")


@dataclass(frozen=True)
class Patient:
    """A virtual patient: indication, parameter values and covariates, of one model.

    ``parameters`` maps table parameter names to values; names not given take
    the model table's value for the indication. ``model`` is the
    :class:`~il2sim.model.Model` the patient belongs to (default: the
    packaged model); every engine and analysis takes it from here.
    """

    indication: str = "melanoma"
    parameters: Mapping[str, float] = field(default_factory=dict)
    covariates: Covariates = field(default_factory=Covariates)
    patient_id: int | None = None
    model: Model = field(default_factory=default_model, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, Model):
            raise UserError("model", type(self.model).__name__, "an il2sim.model.Model")
        table = self.model.table
        if self.indication not in table.indications:
            raise UserError("indication", self.indication, f"one of {', '.join(table.indications)}")
        unknown = sorted(set(self.parameters) - set(table.parameters))
        if unknown:
            raise UserError("parameter", unknown[0], "a name from `il2sim params`")
        for name, value in self.parameters.items():
            table[name].check(value, f"parameter {name}")
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def values(self) -> dict[str, float]:
        """All table parameter values for this patient (indication defaults plus overrides)."""
        vals = self.model.table.values(self.indication)
        vals.update(self.parameters)
        return vals

    def with_parameters(self, **overrides: float) -> Patient:
        """A copy with some parameter values replaced."""
        merged = dict(self.parameters)
        merged.update(overrides)
        return replace(self, parameters=merged)

    def dose_amount(self, amount: float, unit: str = "iu_per_kg") -> float:
        """One administration of ``amount`` ``unit`` of the model's molecule as model amount (aldesleukin-IU equivalents)."""
        c = self.covariates
        return self.model.molecule.dose_amount(amount, unit, float(c.weight_kg), float(c.height_cm), self.model.table)

    def dose_mg(self, amount: float, unit: str = "iu_per_kg") -> float:
        """The mass of one administration of the model's molecule, mg."""
        c = self.covariates
        return self.model.molecule.dose_mg(amount, unit, float(c.weight_kg), float(c.height_cm), self.model.table)

    def lesion_diameters(self) -> tuple[float, ...]:
        if self.covariates.lesion_diameters_mm is not None:
            return tuple(float(d) for d in self.covariates.lesion_diameters_mm)
        vals = self.values()
        n = int(round(vals["n_target_lesions"]))
        if not 1 <= n <= _spec.MAX_LESIONS:
            raise UserError("n_target_lesions", vals["n_target_lesions"], f"an integer from 1 to {_spec.MAX_LESIONS}")
        return (vals["lesion_diameter"],) * n


def typical_patient(indication: str = "melanoma", *, weight_kg: float = 70.0, model: Model | None = None,
                    height_cm: float = DEFAULT_HEIGHT_CM, **parameters: float) -> Patient:
    """The typical patient of an indication (table values; RCC patients have had a nephrectomy)."""
    model = model or default_model()
    table = model.table
    if indication not in table.indications:
        raise UserError("indication", indication, f"one of {', '.join(table.indications)}")
    nephrectomy = bool(table.indications[indication].get("nephrectomy", False))
    return Patient(indication=indication, parameters=parameters, model=model,
                   covariates=Covariates(weight_kg=weight_kg, nephrectomy=nephrectomy, height_cm=height_cm))


@dataclass(frozen=True)
class IndividualModel:
    """Everything a run needs for one patient: parameter vector and pre-treatment state.

    ``p`` is ordered as ``model.compiled.parameter_names``; ``y_baseline`` is
    the immune steady state with the lesions at their diagnosis sizes (the
    state the run-in should end in); ``y_run_in_start`` has the lesions shrunk
    back by the net growth over the run-in.
    """

    patient: Patient
    p: tuple[float, ...]
    y_baseline: np.ndarray
    y_run_in_start: np.ndarray
    run_in_h: float
    lesion_volumes_ml: tuple[float, ...]
    occult_volume_ml: float

    @property
    def model(self) -> Model:
        """The model the patient belongs to."""
        return self.patient.model

    def param(self, name: str) -> float:
        return self.p[self.patient.model.compiled.parameter_index(name)]

    def named_parameters(self) -> dict[str, float]:
        return dict(zip(self.patient.model.compiled.parameter_names, self.p))


def _volume_ml(diameter_mm: float) -> float:
    return math.pi / 6.0 * (diameter_mm / 10.0) ** 3


def derive_constants(patient: Patient) -> IndividualModel:
    """Compute the per-patient constants and the pre-treatment steady state.

    Raises
    ------
    UserError
        If the parameter values admit no physical steady state (for example
        half-lives inconsistent with the clearance, or baseline IL-2 signalling
        strong enough to need a negative homeostatic source), or give a
        division by zero or a non-finite constant or state (field
        ``parameters``, naming the values set for the patient).
    """
    # name what the user set: a model's overrides (a trial's --param), else the patient's own values
    shown = dict(patient.model.overrides) or dict(patient.parameters)
    given = ", ".join(f"{k}={v:g}" for k, v in shown.items()) or "the table's values"
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            individual = _derive(patient)
    except UserError:
        raise
    except (ArithmeticError, ValueError) as exc:
        raise UserError("parameters", given, f"values with a physical steady state ({type(exc).__name__}: "
                                             f"{exc})") from None
    bad = [n for n, x in zip(patient.model.compiled.parameter_names, individual.p) if not math.isfinite(x)]
    if bad or not np.all(np.isfinite(individual.y_baseline)):
        what = f"derived constant {bad[0]}" if bad else "the steady state"
        raise UserError("parameters", given, f"values with a finite steady state ({what} is not finite)")
    return individual


def _derive(patient: Patient) -> IndividualModel:
    cm = patient.model.compiled
    table = patient.model.table
    v = patient.values()
    cov = patient.covariates
    d: dict[str, float] = {}
    w = float(cov.weight_kg)
    scale_cl = (w / v["reference_weight"]) ** v["allometric_exponent_clearance"]
    d["weight_kg"] = w
    d["v1"] = v["plasma_volume_per_kg"] * w
    d["cl_individual"] = v["cl_linear"] * scale_cl
    d["gfr_normal"] = v["gfr_reference"] * scale_cl
    d["gfr_baseline"] = d["gfr_normal"] * (v["nephrectomy_gfr_factor"] if cov.nephrectomy else 1.0)
    # Q and V2 follow from the label half-lives at the *typical* clearance and plasma volume (scaled to
    # this weight); a patient's own clearance and volume then move the half-lives, as in patients.
    typical = table.values(patient.indication)
    for name in ("t_half_alpha_min", "t_half_beta_min"):
        typical[name] = v[name]
    alpha = LN2 / (typical["t_half_alpha_min"] / 60.0)
    beta = LN2 / (typical["t_half_beta_min"] / 60.0)
    v1_typical = typical["plasma_volume_per_kg"] * w
    k10 = typical["cl_linear"] * scale_cl / v1_typical
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
        raise UserError("release_steps", steps, f"an integer from 1 to {_spec.MAX_RELEASE_STEPS}")
    for k in range(1, _spec.MAX_RELEASE_STEPS + 1):
        d[f"prodrug_entry_{k}"] = 1.0 if k == int(steps) else 0.0
    d["blood_volume_ul"] = v["blood_volume_per_kg"] * w * 1e6
    d["molecules_per_iu"] = AVOGADRO * 1e-3 / (v["iu_per_mg"] * v["molecular_weight"])
    d["pm_per_iu_per_ml"] = 1e12 / (v["iu_per_mg"] * v["molecular_weight"])
    d["kd_alpha_drug"] = v["kd_alpha"] * v["kd_fold_alpha"]
    d["kd_intermediate_drug"] = v["kd_intermediate"] * v["kd_fold_beta"]
    # The high-affinity (alpha-beta-gamma) site binds by two routes whose association constants add: through
    # CD25 and then beta-gamma (the part of 1/kd_high beyond the direct route; weakened by both folds), and
    # straight onto beta-gamma as at an intermediate site (weakened by the beta fold only). For IL-2 (folds 1)
    # the sum is 1/kd_high exactly; a CD25-blind molecule (kd_fold_alpha -> inf) is left with the beta-gamma
    # route, so it still signals through CD122 on CD25-positive cells instead of being blocked by CD25.
    k_via_alpha = max(1.0 / v["kd_high"] - 1.0 / v["kd_intermediate"], 0.0)
    d["kd_high_drug"] = 1.0 / (k_via_alpha / (v["kd_fold_alpha"] * v["kd_fold_beta"])
                               + 1.0 / (v["kd_intermediate"] * v["kd_fold_beta"]))
    for name in ("il2_production_k", "ifng_basal_production", "ea_baseline", "tumour_growth_intrinsic",
                 "il5_production_k", "eos_production_baseline", "eos_transit_rate", "eos_exit_rate"):
        d[name] = 0.0

    # ---- physiology at rest (closed form)
    d["plasma_volume_baseline"] = d["v1"]
    d["interstitial_volume_baseline"] = v["interstitial_volume_per_kg"] * w
    d["cardiac_output_baseline"] = v["cardiac_output_reference"] * scale_cl
    d["stroke_volume_baseline"] = d["cardiac_output_baseline"] * 1000.0 / v["heart_rate_baseline"]
    d["svr_baseline"] = (v["map_baseline"] - v["cvp_baseline"]) / d["cardiac_output_baseline"]
    cp0, ci0 = v["plasma_protein_conc"], v["interstitial_protein_conc"]
    pi_p0 = 0.28 * cp0 + 0.0019 * cp0 * cp0
    pi_i0 = 0.28 * ci0 + 0.0019 * ci0 * ci0
    pc0 = v["cvp_baseline"] + v["capillary_pressure_fraction"] * (v["map_baseline"] - v["cvp_baseline"])
    net0 = (pc0 - v["interstitial_pressure_baseline"]) - v["reflection_coefficient"] * (pi_p0 - pi_i0)
    if net0 <= 0:
        raise UserError("interstitial_protein_conc", ci0, "Starling forces with net outward filtration at rest")
    lymph0 = v["lymph_flow_baseline"]
    d["filtration_coefficient"] = lymph0 / net0
    ps = (lymph0 * ci0 - (1 - v["reflection_coefficient"]) * lymph0 * cp0) / (cp0 - ci0)
    if ps <= 0:
        raise UserError("reflection_coefficient", v["reflection_coefficient"], "a value giving a positive protein permeability at rest")
    d["protein_permeability"] = ps
    urine0 = v["urine_baseline"] * w
    d["oral_intake_baseline"] = urine0 + v["insensible_loss_baseline"]
    d["urine_fraction_baseline"] = urine0 / (d["gfr_baseline"] * 1000.0)
    d["creatinine_production"] = d["gfr_normal"] * v["creatinine_normal"] * 10.0
    d["total_body_water"] = v["total_body_water_per_kg"] * w
    ifng0 = v["ifng_baseline"]
    d["vasodilator_baseline"] = v["vasodilator_on_rate"] * ifng0 / (ifng0 + v["vasodilator_ifng_half"]) / v["vasodilator_off_rate"]
    n = v["renal_hill"]
    d["renal_map_factor_baseline"] = v["map_baseline"] ** n / (v["renal_map_half"] ** n + v["map_baseline"] ** n)

    # ---- baseline state, first pass (activation at basal)
    y = np.zeros(cm.n_states)
    si = {sid: i for i, sid in enumerate(cm.state_ids)}
    y[si["il2_endogenous"]] = v["il2_endogenous_baseline"] * d["v1"] * 1000.0
    y[si["ifng"]] = v["ifng_baseline"]
    y[si["vasodilator"]] = d["vasodilator_baseline"]
    y[si["body_temperature"]] = v["temperature_baseline"]
    y[si["plasma_volume"]] = d["plasma_volume_baseline"]
    y[si["interstitial_volume"]] = d["interstitial_volume_baseline"]
    y[si["plasma_protein"]] = cp0 * d["plasma_volume_baseline"]
    y[si["interstitial_protein"]] = ci0 * d["interstitial_volume_baseline"]
    y[si["creatinine"]] = d["creatinine_production"] / (d["gfr_baseline"] * 10.0)
    bv9 = d["blood_volume_ul"] * 1e-9
    for x in _spec.CELL_TYPES:
        y[si[f"{x}_blood"]] = v[f"{x}_blood_baseline"]
        frac = v["nk_blood_fraction"] if x == "nk" else v["lymphocyte_blood_fraction"]
        y[si[f"{x}_tissue"]] = v[f"{x}_blood_baseline"] * bv9 * (1 - frac) / frac
        d[f"{x}_k_out"] = 1.0 / v["blood_transit_time"]
        d[f"{x}_k_return"] = 0.0
        d[f"{x}_source"] = 0.0
        d[f"{x}_total_baseline"] = 1.0
    for x in _spec.IL2_RESPONSIVE:
        y[si[f"{x}_activation"]] = v["activation_basal"]
    diam = patient.lesion_diameters()
    lesion_vol = tuple(_volume_ml(x) for x in diam)
    for i, vol in enumerate(lesion_vol, start=1):
        y[si[f"lesion_{i}"]] = vol
    y[si["tumour_occult"]] = v["occult_volume"]

    u0 = (0.0,) * len(cm.control_names)

    def pvec() -> tuple[float, ...]:
        return tuple(list(v[n] for n in cm.parameter_names[: len(table.parameters)])
                     + [d[s.id] for s in _spec.DERIVED])

    def algebraics() -> dict:
        alg, _obs, _rates = cm.evaluate(0.0, y, pvec(), u0)
        return alg

    # activation at rest: the resting cells' own signal activates them (it does not depend on activation)
    ka, kd_, ab = v["activation_rate"], v["deactivation_rate"], v["activation_basal"]
    for _ in range(50):
        alg = algebraics()
        for x in _spec.IL2_RESPONSIVE:
            s = float(alg[f"{x}_stim"])
            y[si[f"{x}_activation"]] = (ka * s + kd_ * ab) / (ka * s + kd_)

    # pools at rest: tissue from the blood fraction, cycling from baseline proliferation
    alg = algebraics()
    for x in _spec.CELL_TYPES:
        frac = v["nk_blood_fraction"] if x == "nk" else v["lymphocyte_blood_fraction"]
        blood = v[f"{x}_blood_baseline"] * bv9
        tissue = blood * (1 - frac) / frac
        prolif = float(alg[f"{x}_prolif"]) if x != "b" else 0.0
        cycling = prolif * tissue * v["division_time"]
        d[f"{x}_total_baseline"] = blood + tissue + cycling
        y[si[f"{x}_tissue"]] = tissue
        if x != "b":
            y[si[f"{x}_cycling"]] = cycling
    # trafficking and homeostatic sources that make the baseline a steady state
    alg = algebraics()
    for x in _spec.CELL_TYPES:
        blood = v[f"{x}_blood_baseline"] * bv9
        tissue = y[si[f"{x}_tissue"]]
        mu = float(alg[f"{x}_death_rate"]) if x != "b" else v["b_death"]
        prolif = float(alg[f"{x}_prolif"]) if x != "b" else 0.0
        d[f"{x}_k_return"] = (d[f"{x}_k_out"] + mu) * blood / tissue
        source = mu * (blood + tissue) - prolif * tissue
        if source <= 0:
            raise UserError(f"{x}_blood_baseline", v[f"{x}_blood_baseline"],
                            "parameters giving a positive homeostatic source (baseline IL-2 signalling too strong)")
        d[f"{x}_source"] = source

    # endogenous IL-2 production balancing clearance at the baseline level
    alg = algebraics()
    c_e0 = v["il2_endogenous_baseline"]
    clearance_flux = float(alg["cl_endo"]) * 1000.0 * c_e0 + float(alg["rmc_endo"])
    d["il2_production_k"] = 1.0
    per_unit = float(algebraics()["il2_production"])
    d["il2_production_k"] = clearance_flux / per_unit

    # mediator and endothelium at rest
    alg = algebraics()
    basal = v["ifng_elimination"] * v["ifng_baseline"] - v["ifng_production"] * float(alg["ifng_drive"])
    if basal < 0:
        raise UserError("ifng_baseline", v["ifng_baseline"], "a level the baseline IL-2 signal does not exceed")
    d["ifng_basal_production"] = basal
    d["ea_baseline"] = v["ea_on_rate"] * float(alg["ea_drive"]) / v["ea_off_rate"]
    y[si["endothelial_activation"]] = d["ea_baseline"]

    # IL-5 and eosinophils at rest: production balances loss at the baseline levels
    if not v["il5_baseline"] > 0:
        raise UserError("il5_baseline", v["il5_baseline"], "il5_baseline > 0 pg/mL (eosinophil production is "
                        "relative to the baseline plasma IL-5)")
    act_cd4 = d["cd4_total_baseline"] * float(y[si["cd4_activation"]])
    d["il5_production_k"] = v["il5_elimination"] * v["il5_baseline"] / act_cd4
    y[si["il5"]] = v["il5_baseline"]
    d["eos_exit_rate"] = LN2 / v["eos_blood_half_life"]
    d["eos_production_baseline"] = d["eos_exit_rate"] * v["eos_blood_baseline"] * bv9
    d["eos_transit_rate"] = _spec.EOS_STAGES / (v["eos_maturation_days"] * 24.0)
    for i in range(1, _spec.EOS_STAGES + 1):
        y[si[f"eos_marrow_{i}"]] = d["eos_production_baseline"] / d["eos_transit_rate"]
    y[si["eos_blood"]] = v["eos_blood_baseline"]

    # tumour: intrinsic growth = sourced net growth + baseline killing, at diagnosis
    g_net = LN2 / (v["tumour_doubling_time"] * 24.0)
    kill0 = float(alg["kill_rate"])
    mean_vol = float(np.mean(lesion_vol))
    d["tumour_growth_intrinsic"] = (g_net + kill0) / max(1e-9, 1.0 - mean_vol / v["lesion_max_volume"])

    y_base = y.copy()
    run_in_h = v["run_in_days"] * 24.0
    y_start = y.copy()
    shrink = math.exp(-g_net * run_in_h)
    for i in range(1, _spec.MAX_LESIONS + 1):
        y_start[si[f"lesion_{i}"]] *= shrink
    y_start[si["tumour_occult"]] *= shrink
    return IndividualModel(
        patient=patient,
        p=pvec(),
        y_baseline=y_base,
        y_run_in_start=y_start,
        run_in_h=run_in_h,
        lesion_volumes_ml=lesion_vol,
        occult_volume_ml=v["occult_volume"],
    )
