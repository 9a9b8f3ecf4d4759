"""The decision hook: policy objects asked what to do at each decision time.

The engine integrates the model between decision times and, at each one, hands
the policy what the treating team could observe (vital signs, labs, the dosing
record so far) and gets back a :class:`Decision`. A policy never integrates
the ODEs (PINTS' ask-and-tell idea). Decision times are every scheduled dose
time plus the monitoring times the policy asks for.

Semantics
---------
* At a decision time ``t`` the observation is the state just before any
  administration at ``t``.
* ``dose`` applies to the administrations scheduled at ``t``: ``"give"``,
  ``"hold"`` (this dose is not given; later ones still may be) or ``"stop"``
  (this and every later dose of the same cycle are not given; the next cycle
  is decided afresh). ``rule_id`` names the rule that held or stopped it.
* ``controls`` sets piecewise-constant inputs (maintenance fluids, a
  vasopressor rate, oxygen, scheduled medicines) from ``t`` until changed.
* ``infusions`` starts timed inputs that switch themselves off: each is
  ``(control, rate, hours)``, e.g. a 500 mL fluid bolus over 30 minutes is
  ``("fluid_bolus_ml_h", 1000.0, 0.5)``; it adds to whatever else runs.
* ``history`` in the observation holds every earlier decision time's
  ``(time_h, values)``, so rules can look back (urine over an 8-h shift, the
  last daily lab value, how long a sign has lasted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from ._regimen import Administration

__all__ = [
    "DOSE_ACTIONS",
    "Decision",
    "DoseRecord",
    "GiveAllPolicy",
    "NoTreatmentPolicy",
    "Observation",
    "Policy",
]

DOSE_ACTIONS = ("give", "hold", "stop")


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """What happened to one scheduled administration."""

    dose_index: int
    administration: Administration
    given: bool
    held_by: str = ""
    stopped: bool = False


@dataclass(frozen=True)
class Observation:
    """What the treating team sees at a decision time.

    ``values`` holds the observables by name (``map_mmhg``,
    ``creatinine_mg_dl``, ...); ``doses`` is the dosing record so far;
    ``due`` lists the administrations scheduled at this time.
    """

    time_h: float
    values: Mapping[str, float]
    doses: Sequence[DoseRecord]
    due: Sequence[Administration]
    controls: Mapping[str, float] = field(default_factory=dict)
    history: Sequence[tuple[float, Mapping[str, float]]] = ()


@dataclass(frozen=True)
class Decision:
    """A policy's answer at one decision time."""

    dose: str | None = None
    rule_id: str = ""
    controls: Mapping[str, float] = field(default_factory=dict)
    infusions: Sequence[tuple[str, float, float]] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if self.dose is not None and self.dose not in DOSE_ACTIONS:
            raise ValueError(f"Decision.dose: got {self.dose!r}, expected one of {DOSE_ACTIONS} or None")
        if self.dose in ("hold", "stop") and not self.rule_id:
            raise ValueError("Decision.rule_id: got '', expected the id of the rule that holds or stops")
        object.__setattr__(self, "controls", MappingProxyType(dict(self.controls)))
        for name, rate, hours in self.infusions:
            if not (rate >= 0 and hours > 0):
                raise ValueError(f"Decision.infusions: got {(name, rate, hours)!r}, expected rate >= 0 and hours > 0")
        object.__setattr__(self, "infusions", tuple(tuple(x) for x in self.infusions))


@runtime_checkable
class Policy(Protocol):
    """What the engine asks at each decision time."""

    @property
    def name(self) -> str:
        """A short label recorded in provenance."""
        ...

    def monitoring_times(self, schedule: Sequence[Administration], t_end_h: float) -> Sequence[float]:
        """Extra decision times (besides dose times), e.g. vitals every 4 h."""
        ...

    def decide(self, observation: Observation) -> Decision:
        """The decision at ``observation.time_h``."""
        ...

    def next_course(self, observation: Observation, course: int) -> bool:
        """Seven weeks after course ``course`` ended: give another course from this time?"""
        ...


@dataclass(frozen=True)
class GiveAllPolicy:
    """Give every scheduled dose; no monitoring, no supportive care (``--no-holds --no-care``)."""

    name: str = "give-all"

    def monitoring_times(self, schedule: Sequence[Administration], t_end_h: float) -> Sequence[float]:
        return ()

    def decide(self, observation: Observation) -> Decision:
        return Decision(dose="give" if observation.due else None)

    def next_course(self, observation: Observation, course: int) -> bool:
        return False


@dataclass(frozen=True)
class NoTreatmentPolicy:
    """Hold every scheduled dose (an untreated control: the natural history of the disease)."""

    name: str = "no-treatment"

    def monitoring_times(self, schedule: Sequence[Administration], t_end_h: float) -> Sequence[float]:
        return ()

    def decide(self, observation: Observation) -> Decision:
        return Decision(dose="hold", rule_id="no_treatment") if observation.due else Decision()

    def next_course(self, observation: Observation, course: int) -> bool:
        return False
