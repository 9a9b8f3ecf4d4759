"""Virtual patients: between-patient variability, covariates and plausibility filters.

Patient ``i`` of a population is drawn from its own random stream,
``numpy.random.SeedSequence(seed, spawn_key=(i,))`` (exactly the ``i``-th child
of ``SeedSequence(seed).spawn(n)``), and any rejection sampling happens inside
that stream. So patient ``i`` is the same whatever the number of patients, the
chunking, the order of evaluation or the worker that draws it, and the same
patients go into every arm of a trial.

Three separate, visible pieces (mrgsolve's THETA / covariates / ETA):

* typical values: the parameter table's values for the indication;
* random effects: every row with a ``variability`` entry is log-normal around
  its typical value (the typical value is the median; ``cv`` is the
  coefficient of variation of the log-normal);
* covariates: weight (log-normal), nephrectomy (Bernoulli with an
  indication-specific prevalence), the number of target lesions and their
  diameters.

Plausibility filters are explicit, named and counted: a draw that fails one is
redrawn (up to ``max_draws`` times) and the failure is tallied per filter.

That is the *prior* (``source="prior"``). By default (``source="calibrated"``)
patient ``i`` is instead a patient of the shipped calibrated pool, chosen from
the same per-patient stream with probability proportional to the calibration
weights (:mod:`il2sim.population._calibrated`, ``docs/calibration.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType

import numpy as np

from .._errors import UserError
from ..model import Covariates, IndividualModel, Model, Patient, default_model, derive_constants
from ..model._spec import MAX_LESIONS
from ._calibrated import load_pool

#: Where patients come from: the shipped calibrated pool, or the prior (table variability).
SOURCES = ("calibrated", "prior")

__all__ = ["SOURCES", "Draw", "Filter", "PopulationSpec", "draw_patient", "sample_population"]


@dataclass(frozen=True)
class Filter:
    """A named plausibility filter: ``accept(patient) -> bool``."""

    name: str
    description: str
    accept: Callable[[Patient], bool]


def _baseline_lymphocytes(p: Patient) -> float:
    v = p.values()
    return sum(v[f"{x}_blood_baseline"] for x in ("cd8", "cd4", "treg", "nk", "b"))


def _derived(p: Patient) -> IndividualModel | None:
    """The patient's run input, or None when it has no physical pre-treatment steady state."""
    try:
        return derive_constants(p)
    except (UserError, ValueError, ArithmeticError):
        return None


def _derives(p: Patient) -> bool:
    return _derived(p) is not None


DEFAULT_FILTERS: tuple[Filter, ...] = (
    Filter("lymphocytes_500_4000", "baseline blood lymphocytes between 500 and 4000 /uL (eligible for high-dose IL-2)",
           lambda p: 500.0 <= _baseline_lymphocytes(p) <= 4000.0),
    Filter("sum_of_diameters_10_300", "baseline sum of target-lesion diameters between 10 and 300 mm",
           lambda p: 10.0 <= sum(p.lesion_diameters()) <= 300.0),
    Filter("doubling_time_7_730", "tumour volume doubling time between 1 week and 2 years",
           lambda p: 7.0 <= p.values()["tumour_doubling_time"] <= 730.0),
    Filter("physiological_steady_state", "the patient has a physical pre-treatment steady state", _derives),
)


@dataclass(frozen=True)
class PopulationSpec:
    """How to draw virtual patients of one indication.

    Parameters
    ----------
    indication
        ``melanoma`` or ``rcc``.
    weight_median_kg, weight_cv
        Log-normal baseline weight (recalled: adult cancer patients, median
        about 78 kg, CV about 20 %).
    nephrectomy_prevalence
        Probability of a prior nephrectomy; ``None`` takes 0 for melanoma and
        0.9 for RCC (most patients in the RCC trials had one; recalled).
    lesion_count_probabilities
        Probabilities of 1..5 target lesions (recalled typical distribution of
        metastatic trial baselines).
    variability_scale
        Multiplies every CV (0 gives typical patients with sampled covariates).
    filters
        Plausibility filters, applied in order.
    max_draws
        Redraws allowed per patient before giving up (an error).
    parameters
        ``(name, value)`` pairs: population-level (typical) values that replace
        the table's for this population (what ``il2sim calibrate`` fits). A
        parameter with variability keeps its CV around the new median.
    variability
        ``(name, cv)`` pairs: log-normal CVs that replace the table's (or give
        a fixed parameter variability); drawn after the table's rows, in the
        order given, so adding one leaves the table's draws unchanged.
    source
        ``"calibrated"`` (default): patients are drawn from the shipped
        calibrated pool of the indication, with probability proportional to
        its weights (:mod:`il2sim.population._calibrated`); the other fields
        then describe how that pool was made and must keep their defaults.
        ``"prior"``: patients are drawn from the table's variability and the
        fields above (what calibration starts from).
    """

    indication: str = "melanoma"
    weight_median_kg: float = 78.0
    weight_cv: float = 0.2
    nephrectomy_prevalence: float | None = None
    lesion_count_probabilities: tuple[float, ...] = (0.15, 0.25, 0.3, 0.2, 0.1)
    variability_scale: float = 1.0
    filters: tuple[Filter, ...] = DEFAULT_FILTERS
    max_draws: int = 100
    parameters: tuple[tuple[str, float], ...] = ()
    variability: tuple[tuple[str, float], ...] = ()
    source: str = "calibrated"

    def __post_init__(self) -> None:
        table = default_model().table  # names and indications: the same in every model
        if self.source not in SOURCES:
            raise UserError("source", self.source, f"one of {', '.join(SOURCES)}")
        for label, pairs in (("population parameter", self.parameters), ("population variability", self.variability)):
            for name, value in pairs:
                if name not in table.parameters or name in ("lesion_diameter", "n_target_lesions"):
                    raise UserError(label, name, "a parameter name from `il2sim params` (not a lesion covariate)")
                if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                    raise UserError(f"{label} {name}", value, "a finite number >= 0")
                if label == "population parameter":
                    table[name].check(value, f"{label} {name}")
        object.__setattr__(self, "parameters", tuple((str(k), float(v)) for k, v in self.parameters))
        object.__setattr__(self, "variability", tuple((str(k), float(v)) for k, v in self.variability))
        if self.indication not in table.indications:
            raise UserError("indication", self.indication, f"one of {', '.join(table.indications)}")
        if not (20 <= self.weight_median_kg <= 300) or not (0 <= self.weight_cv <= 1):
            raise UserError("weight", (self.weight_median_kg, self.weight_cv), "a median of 20-300 kg and a CV of 0-1")
        p = self.lesion_count_probabilities
        if len(p) != MAX_LESIONS or any(x < 0 for x in p) or not math.isclose(sum(p), 1.0, rel_tol=1e-9):
            raise UserError("lesion_count_probabilities", p, f"{MAX_LESIONS} non-negative probabilities summing to 1")
        if self.nephrectomy_prevalence is not None and not 0 <= self.nephrectomy_prevalence <= 1:
            raise UserError("nephrectomy_prevalence", self.nephrectomy_prevalence, "a probability between 0 and 1")
        if not self.variability_scale >= 0:
            raise UserError("variability_scale", self.variability_scale, "a number >= 0")
        if not (isinstance(self.max_draws, int) and self.max_draws >= 1):
            raise UserError("max_draws", self.max_draws, "an integer >= 1")
        if self.source == "calibrated":
            prior = PopulationSpec(self.indication, source="prior")
            changed = [f.name for f in fields(self) if f.name not in ("indication", "source", "filters")
                       and getattr(self, f.name) != getattr(prior, f.name)]
            if changed:
                raise UserError(f"population {changed[0]}", getattr(self, changed[0]),
                                "its default with the calibrated population (or source='prior')")
            if load_pool(self.indication) is None:
                raise UserError("source", "calibrated",
                                f"a calibrated {self.indication} population in this il2sim (or --population prior)")

    @property
    def nephrectomy_probability(self) -> float:
        if self.nephrectomy_prevalence is not None:
            return float(self.nephrectomy_prevalence)
        return 0.9 if self.indication == "rcc" else 0.0


@dataclass(frozen=True)
class Draw:
    """One drawn patient and how many draws each filter rejected on the way.

    ``individual`` is the patient's derived run input (:func:`~il2sim.model.derive_constants`) when the
    steady-state filter already computed it, so that a trial does not derive the same patient twice.
    """

    patient: Patient
    rejections: Mapping[str, int] = field(default_factory=dict)
    pool_index: int | None = None
    individual: IndividualModel | None = field(default=None, compare=False, repr=False)

    @property
    def n_rejected(self) -> int:
        return sum(self.rejections.values())


def _lognormal(rng: np.random.Generator, median: float, cv: float) -> float:
    if cv <= 0:
        return float(median)
    sigma = math.sqrt(math.log1p(cv * cv))
    return float(median * math.exp(sigma * rng.standard_normal()))


def _one(spec: PopulationSpec, rng: np.random.Generator, patient_id: int, model: Model) -> Patient:
    table = model.table
    typical = dict(spec.parameters)
    extra_cv = dict(spec.variability)
    overrides: dict[str, float] = dict(typical)
    # fixed iteration order (table order) so the stream is consumed identically everywhere
    for row in table:
        if row.variability is None or row.name == "lesion_diameter":
            continue
        median = typical.get(row.name, row.value_for(spec.indication))
        cv = extra_cv.get(row.name, row.variability.cv)
        overrides[row.name] = _lognormal(rng, median, cv * spec.variability_scale)
    for name, cv in spec.variability:  # parameters the table holds fixed, in the order given
        if table[name].variability is None:
            overrides[name] = _lognormal(rng, typical.get(name, table[name].value_for(spec.indication)),
                                         cv * spec.variability_scale)
    weight = _lognormal(rng, spec.weight_median_kg, spec.weight_cv)
    weight = min(max(weight, 35.0), 200.0)
    nephrectomy = bool(rng.random() < spec.nephrectomy_probability)
    n_lesions = int(rng.choice(np.arange(1, MAX_LESIONS + 1), p=np.asarray(spec.lesion_count_probabilities)))
    diam_row = table["lesion_diameter"]
    cv = diam_row.variability.cv * spec.variability_scale if diam_row.variability else 0.0
    diameters = tuple(min(max(_lognormal(rng, diam_row.value_for(spec.indication), cv), 10.0), 300.0)
                      for _ in range(n_lesions))
    return Patient(indication=spec.indication, parameters=overrides, patient_id=patient_id, model=model,
                   covariates=Covariates(weight_kg=weight, nephrectomy=nephrectomy, lesion_diameters_mm=diameters))


def draw_patient(spec: PopulationSpec, seed: int, patient_id: int, model: Model | None = None) -> Draw:
    """Draw patient ``patient_id`` of the population with trial seed ``seed``, a patient of ``model``.

    ``model`` (default: the packaged model) supplies the table whose values
    and variability a prior draw uses, and is the model the patient carries.

    Raises
    ------
    UserError
        If the seed or id is not a non-negative integer, or if no draw passes
        the filters within ``spec.max_draws`` draws.
    """
    for name, value in (("seed", seed), ("patient_id", patient_id)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise UserError(name, value, "a non-negative integer")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(patient_id),)))
    if spec.source == "calibrated":
        pool = load_pool(spec.indication)
        if pool is None:  # PopulationSpec checked that one ships; a broken installation lands here
            raise UserError("source", "calibrated", f"a calibrated {spec.indication} population in this il2sim")
        k = pool.choose(rng)
        return Draw(patient=pool.patient(k, int(patient_id), model=model), rejections=MappingProxyType({}),
                    pool_index=k)
    rejections: dict[str, int] = {}
    for _ in range(spec.max_draws):
        patient = _one(spec, rng, int(patient_id), model or default_model())
        individual: IndividualModel | None = None
        failed = None
        for f in spec.filters:
            if f.accept is _derives:  # the steady-state filter: keep what it derives
                individual = _derived(patient)
                if individual is None:
                    failed = f
                    break
            elif not f.accept(patient):
                failed = f
                break
        if failed is None:
            return Draw(patient=patient, rejections=MappingProxyType(rejections), individual=individual)
        rejections[failed.name] = rejections.get(failed.name, 0) + 1
    raise UserError("population", f"patient {patient_id}", f"a draw passing the plausibility filters within {spec.max_draws} draws")


def sample_population(spec: PopulationSpec, n_patients: int, *, seed: int = 0,
                      patient_ids: Sequence[int] | None = None) -> tuple[list[Patient], dict[str, int]]:
    """Draw patients ``0..n_patients-1`` (or the given ids) and the total rejections per filter."""
    if isinstance(n_patients, bool) or not isinstance(n_patients, int) or n_patients < 1:
        raise UserError("n_patients", n_patients, "an integer >= 1")
    ids = range(n_patients) if patient_ids is None else patient_ids
    patients, totals = [], {f.name: 0 for f in spec.filters}
    for i in ids:
        d = draw_patient(spec, seed, i)
        patients.append(d.patient)
        for k, v in d.rejections.items():
            totals[k] += v
    return patients, totals
