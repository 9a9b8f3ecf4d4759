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
* ``interrupt`` (``"hold"`` or ``"stop"``, with ``rule_id``) ends the drug
  infusions running at ``t`` (a continuous infusion stopped for toxicity):
  the rest of each is not given, and ``"stop"`` also stops the later doses of
  its cycle. The dosing record keeps the dose as given, with
  ``interrupted_h`` and ``interrupted_by``.
* ``recheck_h`` asks for another decision ``recheck_h`` hours from now (the
  team keeps checking a patient who has not recovered, beyond the monitoring
  times asked for up front).
* ``history`` in the observation holds every earlier decision time's
  ``(time_h, values)``, so rules can look back (urine over an 8-h shift, the
  last daily lab value, how long a sign has lasted). The engines pass a
  :class:`History`: a read-only, fixed-length view of the run's records, made
  in O(1) per decision, whose ``cache`` (shared by every view of the same run)
  lets a policy memoise a replay of the records it would otherwise redo at
  every decision. What a policy decides must not depend on the cache: with a
  plain tuple (no cache) it decides the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from ._regimen import Administration

__all__ = [
    "DOSE_ACTIONS",
    "Decision",
    "DoseRecord",
    "GiveAllPolicy",
    "History",
    "NoTreatmentPolicy",
    "Observation",
    "Policy",
]

DOSE_ACTIONS = ("give", "hold", "stop")
_RUNNING_MEMO = "il2sim.protocol.Observation.running"  # the History.cache key of the settled dosing record


@dataclass(frozen=True, slots=True)
class DoseRecord:
    """What happened to one scheduled administration."""

    dose_index: int
    administration: Administration
    given: bool
    held_by: str = ""
    stopped: bool = False
    #: When a given infusion was ended early (``None``: it ran to its end), h.
    interrupted_h: float | None = None
    #: The rule that ended it early.
    interrupted_by: str = ""

    @property
    def exposure_end_h(self) -> float:
        """When the drug input of a given dose ended: the infusion's end, or its interruption."""
        end = self.administration.end_h
        return end if self.interrupted_h is None else min(end, self.interrupted_h)

    def running_at(self, time_h: float, eps: float = 1e-6) -> bool:
        """Whether this dose's drug input runs at ``time_h``: given, started before it, ending after it."""
        return self.given and self.administration.time_h < time_h - eps and self.exposure_end_h > time_h + eps

    @property
    def fraction_given(self) -> float:
        """The fraction of the scheduled amount given: 0 when held, less than 1 when interrupted."""
        if not self.given:
            return 0.0
        a = self.administration
        if self.interrupted_h is None or a.end_h <= a.time_h:
            return 1.0
        return max(0.0, min(1.0, (self.interrupted_h - a.time_h) / (a.end_h - a.time_h)))


class History(Sequence[tuple[float, Mapping[str, float]]]):
    """The first ``n`` records of a run's append-only decision history, read-only.

    ``records`` is the engine's list, which only grows, so the view is fixed
    once made. ``cache`` is a scratch dict shared by every view of one run: a
    policy may keep there what it derived from the records so far (keyed by
    something of its own), to extend it at the next decision instead of
    replaying the whole history.
    """

    __slots__ = ("_records", "_n", "cache")

    def __init__(self, records: Sequence[tuple[float, Mapping[str, float]]], n: int | None = None,
                 cache: dict | None = None) -> None:
        self._records = records
        self._n = len(records) if n is None else int(n)
        self.cache: dict = {} if cache is None else cache

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            return tuple(self._records[start:stop:step])
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("history index out of range")
        return self._records[i]

    def __iter__(self) -> Iterator[tuple[float, Mapping[str, float]]]:
        return islice(self._records, self._n)

    def __reversed__(self) -> Iterator[tuple[float, Mapping[str, float]]]:
        records = self._records
        return (records[k] for k in range(self._n - 1, -1, -1))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(other) == self._n and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"History({self._n} records)"


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

    @property
    def running(self) -> tuple[DoseRecord, ...]:
        """Given doses whose infusion is still running at ``time_h`` (started earlier, ending later).

        With a :class:`History` the length of the dosing record's settled prefix (records held, or whose
        drug input ended by an earlier decision time, which can never run again) is kept in its ``cache``,
        so only the records after it are looked at; the answer is the same without the cache.
        """
        t, doses = self.time_h, self.doses
        cache = getattr(self.history, "cache", None)
        k = 0
        if cache is not None:
            memo = cache.get(_RUNNING_MEMO)
            if memo is not None and memo[2] <= t and memo[0] <= len(doses) and (memo[0] == 0 or doses[memo[0] - 1] is memo[1]):
                k = memo[0]
            n = len(doses)
            while k < n and (not doses[k].given or doses[k].exposure_end_h <= t + 1e-6):
                k += 1
            cache[_RUNNING_MEMO] = (k, doses[k - 1] if k else None, t)
        return tuple(r for r in doses[k:] if r.running_at(t))


@dataclass(frozen=True)
class Decision:
    """A policy's answer at one decision time."""

    dose: str | None = None
    rule_id: str = ""
    controls: Mapping[str, float] = field(default_factory=dict)
    infusions: Sequence[tuple[str, float, float]] = ()
    note: str = ""
    interrupt: str | None = None
    recheck_h: float | None = None

    def __post_init__(self) -> None:
        if self.dose is not None and self.dose not in DOSE_ACTIONS:
            raise ValueError(f"Decision.dose: got {self.dose!r}, expected one of {DOSE_ACTIONS} or None")
        if self.interrupt is not None and self.interrupt not in ("hold", "stop"):
            raise ValueError(f"Decision.interrupt: got {self.interrupt!r}, expected 'hold', 'stop' or None")
        if (self.dose in ("hold", "stop") or self.interrupt is not None) and not self.rule_id:
            raise ValueError("Decision.rule_id: got '', expected the id of the rule that holds or stops")
        if self.recheck_h is not None and not (self.recheck_h > 0 and self.recheck_h < float("inf")):
            raise ValueError(f"Decision.recheck_h: got {self.recheck_h!r}, expected a positive number of hours")
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
    """Give every scheduled dose; no monitoring, no supportive care: the drug's own pharmacology.

    A probe rather than a treating team: without care the high-dose patient's
    pressure falls past what anyone survives, so the engines run it past a
    death index (``stops_at_death`` is False; the indices stay in the output
    and the analysis still dates the death). The CLI's ``--no-holds
    --no-care`` is a :class:`~il2sim.protocol.ClinicalProtocol` and stops.
    """

    name: str = "give-all"
    stops_at_death: bool = False

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
