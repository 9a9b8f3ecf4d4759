"""Patients: covariates, individual parameters and the pre-treatment steady state.

:func:`derive_constants` is the model's ``$MAIN`` block: from the table values
and the covariates it computes every per-patient constant the equations need
(volumes, intercompartmental clearance from the label half-lives, trafficking
rates, homeostatic sources that make the baseline a steady state, endogenous
IL-2 production that holds serum IL-2 at its baseline, the intrinsic tumour
growth rate that gives the sourced net growth). It runs each mechanism's
rest-state code (:mod:`il2sim.model.mechanisms`: every ``constants`` step, then
the ``balance`` steps in ``BALANCE_ORDER``); the balances evaluate the
generated algebraics, so they use the same equations as the engines, and
``tests/test_mechanisms.py`` checks that the declaration's rates vanish there.
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
from .mechanisms import BALANCE_ORDER, MECHANISMS, RestContext

__all__ = [
    "Covariates",
    "IndividualModel",
    "Patient",
    "derive_constants",
    "indications",
    "typical_patient",
]

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
    y = np.zeros(cm.n_states)
    si = {sid: i for i, sid in enumerate(cm.state_ids)}
    u0 = (0.0,) * len(cm.control_names)

    def pvec() -> tuple[float, ...]:
        return tuple(list(v[n] for n in cm.parameter_names[: len(table.parameters)])
                     + [d[s.id] for s in _spec.DERIVED])

    def algebraics() -> dict:
        alg, _obs, _rates = cm.evaluate(0.0, y, pvec(), u0)
        return alg

    # the typical values of the patient's indication (the label half-lives act at the typical clearance)
    typical = table.values(patient.indication)
    ctx = RestContext(v=v, d=d, y=y, index=si, covariates=cov, lesion_diameters=patient.lesion_diameters(),
                      typical=typical, algebraics=algebraics,
                      extra={"weight_kg": w, "scale_cl": (w / v["reference_weight"]) ** v["allometric_exponent_clearance"]})
    # each mechanism's closed-form constants and first-pass states, then the balances that need the algebraics
    for mech in MECHANISMS:
        if mech.constants is not None:
            mech.constants(ctx)
    by_name = {m.name: m for m in MECHANISMS}
    for name in BALANCE_ORDER:
        balance = by_name[name].balance
        if balance is not None:
            balance(ctx)
    lesion_vol = ctx.extra["lesion_volumes_ml"]
    g_net = ctx.extra["net_growth_per_h"]

    y_base = y.copy()
    run_in_h = v["run_in_days"] * 24.0
    y_start = y.copy()
    shrink = math.exp(-g_net * run_in_h)
    for site in [f"lesion_{i}" for i in range(1, _spec.MAX_LESIONS + 1)] + ["tumour_occult"]:
        y_start[si[site]] *= shrink
        y_start[si[f"{site}_resistant"]] *= shrink
    return IndividualModel(
        patient=patient,
        p=pvec(),
        y_baseline=y_base,
        y_run_in_start=y_start,
        run_in_h=run_in_h,
        lesion_volumes_ml=lesion_vol,
        occult_volume_ml=v["occult_volume"],
    )
