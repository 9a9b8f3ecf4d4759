"""The inputs of a virtual trial, validated once: arms, patients, protocol, engine, population, model.

A :class:`TrialSpec` is a frozen value that carries everything that sets a
number by value (the model, each arm's regimen and parameters, the clinical
protocol with its rule set and care orders, the engine settings), so it can
be pickled to a local process or a Dask worker and give the same rows there.
Errors name the Python fields (``n_patients``, ``arms[1].parameters``); the
command line maps them to its flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .._errors import UserError, require_integers
from .._version import __version__
from ..engine import DEFAULT_ENGINE, resolve_engine
from ..model import Model, Molecule, Patient, default_model, resolve_molecule
from ..population import Draw, PopulationSpec, draw_patient
from ..protocol import ClinicalProtocol, Regimen, resolve_regimen

__all__ = ["Arm", "TrialSpec", "check_parameters"]


def check_parameters(model: Model, pairs: Any, field_name: str) -> tuple[tuple[str, float], ...]:
    """``pairs`` (a mapping or ``(name, value)`` pairs) as a tuple, every name a table parameter, every value finite."""
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    out: dict[str, float] = {}
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise UserError(field_name, item, "(name, value) pairs")
        name, value = item
        if not isinstance(name, str) or name not in model.table.parameters:
            raise UserError(field_name, name, "a parameter name from `il2sim params`")
        out[name] = model.table[name].check(value, f"{field_name} {name}")
    return tuple(out.items())


@dataclass(frozen=True)
class Arm:
    """One arm: a molecule, a regimen and the parameter values set for every patient of the arm.

    Parameters
    ----------
    regimen
        A :class:`~il2sim.protocol.Regimen`, or a name or scenario-file path
        that :func:`~il2sim.protocol.resolve_regimen` resolves (once, here).
    parameters
        ``(name, value)`` pairs (or a mapping) applied to every patient of
        the arm on top of the population draw: the patient's value becomes
        ``value`` whatever the draw gave. To shift a population's median
        instead, use :attr:`PopulationSpec.parameters`.
    name
        The arm's label in the outputs (default: the regimen's name).
    molecule
        What the arm doses: a :class:`~il2sim.model.Molecule`, a shipped
        name or a molecule file (resolved once, here); aldesleukin by default.
        Its values go into the arm's model before ``parameters``, so an arm's
        own ``parameters`` win over the molecule's.
    """

    regimen: Regimen
    parameters: tuple[tuple[str, float], ...] = ()
    name: str = ""
    molecule: Molecule = "aldesleukin"  # type: ignore[assignment]  # resolved in __post_init__

    def __post_init__(self) -> None:
        reg = self.regimen
        if isinstance(reg, str):
            reg = resolve_regimen(reg)
        if not isinstance(reg, Regimen):
            raise UserError("regimen", type(reg).__name__, "a Regimen, a named regimen or a scenario file")
        object.__setattr__(self, "regimen", reg)
        object.__setattr__(self, "molecule", resolve_molecule(self.molecule))
        object.__setattr__(self, "name", self.name or reg.name)
        object.__setattr__(self, "parameters", check_parameters(default_model(), self.parameters, "parameters"))


@dataclass(frozen=True)
class TrialSpec:
    """The inputs of a virtual trial (everything the manifest records).

    Parameters
    ----------
    indication
        ``melanoma`` or ``rcc``.
    arms
        :class:`Arm` values, or regimens / regimen names (one arm each).
    n_patients, seed, chunk_size
        Patients per arm (the same patients on every arm), the trial seed and
        patients per chunk file (does not change any row).
    follow_up_weeks
        Simulated follow-up and RECIST window, weeks.
    protocol
        The treating team: rule set, holds, supportive care, courses.
    engine, solver
        The engine name (:data:`il2sim.engine.ENGINES`) and its settings
        (``None``: its defaults).
    population
        How patients are drawn (default: the calibrated pool of the indication).
    model
        The model every patient belongs to (default: the packaged model).
    parameters
        ``(name, value)`` pairs applied to every patient of every arm (before
        an arm's own), as :attr:`Arm.parameters`.

    Raises
    ------
    UserError
        On any invalid field, naming it; with the calibrated population, on a
        parameter value set for a parameter that population was calibrated on
        (drawn, weighted or fitted there: the weights would no longer hold).
    """

    indication: str = "melanoma"
    arms: tuple[Arm, ...] = ("high-dose",)  # type: ignore[assignment]
    n_patients: int = 100
    seed: int = 0
    chunk_size: int = 256
    follow_up_weeks: float = 52.0
    protocol: ClinicalProtocol = field(default_factory=ClinicalProtocol)
    engine: str = DEFAULT_ENGINE
    solver: Any = None
    population: PopulationSpec = None  # type: ignore[assignment]
    model: Model = field(default_factory=default_model)
    parameters: tuple[tuple[str, float], ...] = ()
    _arm_models: tuple[Model, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if self.population is None:
            object.__setattr__(self, "population", PopulationSpec(self.indication))
        require_integers(("n_patients", self.n_patients, 1, 10_000_000), ("chunk_size", self.chunk_size, 1, 100_000),
                         ("seed", self.seed, 0, 2**63 - 1))
        fw = self.follow_up_weeks
        if isinstance(fw, bool) or not (isinstance(fw, (int, float)) and 0 < fw <= 520):
            raise UserError("follow_up_weeks", fw, "a number of weeks > 0 and <= 520")
        if not isinstance(self.protocol, ClinicalProtocol):
            raise UserError("protocol", type(self.protocol).__name__, "an il2sim.protocol.ClinicalProtocol")
        if not isinstance(self.model, Model):
            raise UserError("model", type(self.model).__name__, "an il2sim.model.Model")
        if self.indication not in self.model.table.indications:
            raise UserError("indication", self.indication, "one of " + ", ".join(self.model.table.indications))
        if not isinstance(self.population, PopulationSpec) or self.population.indication != self.indication:
            raise UserError("population", self.population, f"a PopulationSpec of the {self.indication} indication")
        _, solver = resolve_engine(self.engine, self.solver)
        object.__setattr__(self, "solver", solver)
        arms = tuple(self.arms) if isinstance(self.arms, (tuple, list)) else (self.arms,)
        if not arms:
            raise UserError("arms", self.arms, "at least one regimen")
        resolved = []
        for k, arm in enumerate(arms):
            try:
                resolved.append(arm if isinstance(arm, Arm) else Arm(arm))
            except UserError as exc:
                if isinstance(arm, str):
                    raise  # a regimen name or file: the error names what is wrong with it
                raise UserError(f"arms[{k}].{exc.field}", exc.received, exc.expected) from None
        names = [a.name for a in resolved]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup is not None:
            raise UserError("arms", dup, "distinct arms (this arm name is given twice)")
        for arm in resolved:
            arm.regimen.require_dose_by(self.follow_up_weeks * 7 * 24.0, "follow_up_weeks", fw)
        object.__setattr__(self, "arms", tuple(resolved))
        object.__setattr__(self, "parameters", check_parameters(self.model, self.parameters, "parameters"))
        # each arm's model once: built per patient, its hash (computed for every result's provenance) would be too
        models = []
        for k, a in enumerate(self.arms):
            m = self.model
            if a.molecule != m.molecule:
                try:
                    m = m.with_molecule(a.molecule)
                except UserError as exc:
                    raise UserError(f"arms[{k}].molecule", exc.received, exc.expected) from None
            overrides = self.arm_overrides(a)
            models.append(m.with_values(overrides) if overrides else m)
        object.__setattr__(self, "_arm_models", tuple(models))
        self._check_overrides()
        for k, arm in enumerate(self.arms):  # a regimen in units the arm's molecule has not
            try:
                arm.regimen.require_dosable(Patient(self.indication, model=self.arm_model(arm)))
            except UserError as exc:
                raise UserError(f"arms[{k}].molecule", f"{arm.molecule.name} on {exc.field} = {exc.received!r}",
                                exc.expected) from None
        for k, arm in enumerate(self.arms):  # values without a steady state are refused before anything runs
            if self.arm_overrides(arm) or self.arm_model(arm) is not self.model:
                from ..model import derive_constants

                try:
                    derive_constants(self.arm_patient(arm, self.draw(0)))
                except UserError as exc:
                    label = ("parameters" if not arm.parameters else f"arms[{k}].parameters") \
                        if self.arm_overrides(arm) else f"arms[{k}].molecule"
                    raise UserError(label, exc.received, exc.expected) from None

    # -- per arm ----------------------------------------------------------------

    def arm_overrides(self, arm: Arm) -> dict[str, float]:
        """The parameter values set for every patient of ``arm`` (trial-wide ones, then the arm's own)."""
        return dict(self.parameters) | dict(arm.parameters)

    def arm_model(self, arm: Arm) -> Model:
        """The model of ``arm``'s patients: the trial's model with the arm's values as table defaults."""
        return self._arm_models[self.arms.index(arm)]

    def draw(self, patient_id: int) -> Draw:
        """Patient ``patient_id`` as drawn from the population (the same in every arm)."""
        return draw_patient(self.population, self.seed, patient_id, model=self.model)

    def arm_patient(self, arm: Arm, draw: Draw) -> Patient:
        """The drawn patient on ``arm``: the arm's model, and the arm's values over any drawn ones."""
        overrides = self.arm_overrides(arm)
        model = self.arm_model(arm)
        if not overrides:
            return draw.patient if model is self.model else replace(draw.patient, model=model)
        drawn = dict(draw.patient.parameters)
        drawn.update({k: v for k, v in overrides.items() if k in drawn})
        return replace(draw.patient, parameters=drawn, model=model)

    def _check_overrides(self) -> None:
        if self.population.source != "calibrated":
            return
        from ..population import load_pool

        pool = load_pool(self.indication)
        calibrated = set(pool.calibrated_parameters) if pool is not None else set()
        where = [("parameters", self.parameters)] + [(f"arms[{k}].parameters", a.parameters)
                                                     for k, a in enumerate(self.arms)]
        for label, pairs in where:
            for name, value in pairs:
                if name in calibrated:
                    raise UserError(f"{label} {name}", value,
                                    "a parameter the calibrated population was not calibrated on (this one is drawn, "
                                    "weighted or fitted there, so its weights would not hold): use the prior population")

    # -- the manifest -----------------------------------------------------------

    def manifest_inputs(self) -> dict[str, Any]:
        """Inputs that must not change under ``resume`` (no chunk size: it does not change the rows)."""
        pop = asdict(self.population)
        pop["filters"] = [f.name for f in self.population.filters]
        if self.population.source == "calibrated":  # which calibration: its model hash, date and settings
            from ..population._calibrated import read_meta

            meta = read_meta() or {}
            pop["calibration"] = {k: meta.get(k) for k in ("model_hash", "created", "il2sim_version")}
            pop["calibration"]["pool"] = meta.get("indications", {}).get(self.indication, {}).get("file")
        return {
            "package_version": __version__,
            "model_hash": self.model.hash,
            "indication": self.indication,
            "arms": {a.name: a.regimen.to_dict() for a in self.arms},
            "molecules": {a.name: {"name": a.molecule.name, **a.molecule.record()} for a in self.arms},
            "parameters": {a.name: self.arm_overrides(a) for a in self.arms},
            "arm_model_hash": {a.name: self.arm_model(a).hash for a in self.arms},
            "n_patients": self.n_patients,
            "seed": self.seed,
            "follow_up_weeks": float(self.follow_up_weeks),
            "protocol": self.protocol.describe(),
            "engine": self.engine,
            "solver": self.solver.to_dict(),
            "population": pop,
        }
