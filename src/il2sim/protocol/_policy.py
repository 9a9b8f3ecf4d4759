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
from itertools import accumulate, islice
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
_SETTLED_MEMO = "il2sim.protocol.settled_doses"  # the History.cache key of the settled dosing record
_EPS = 1e-6


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


def sorted_spans(spans: list[tuple[float, float]], first_stop: Mapping[tuple[int, int], float]
                  ) -> tuple[list[float], list[float]]:
    """The spans (and each stopped cycle's stop time) sorted: their starts, and the running maximum of their ends."""
    spans = spans + [(t, t) for t in first_stop.values()]
    spans.sort()
    return [s for s, _ in spans], list(accumulate((e for _, e in spans), max))


class SettledDoses:
    """The settled prefix of a run's dosing record (kept in ``History.cache``; see :func:`settled_doses`).

    ``k`` records, the last of them ``last``, each held, stopped, or given with its drug input ended by time
    ``t``: their spans and stopped cycles no longer change (only a running infusion can be interrupted).
    """

    __slots__ = ("_sorted", "first_stop", "k", "last", "spans", "t")

    def __init__(self, k: int = 0, last: DoseRecord | None = None, t: float = -float("inf"),
                 spans: tuple[tuple[float, float], ...] = (), first_stop: dict[tuple[int, int], float] | None = None
                 ) -> None:
        self.k, self.last, self.t, self.spans = k, last, t, spans
        self.first_stop = {} if first_stop is None else first_stop
        self._sorted: tuple[list[float], list[float]] | None = None

    def usable(self, doses: Sequence[DoseRecord], now: float) -> bool:
        """Whether this is a prefix of ``doses`` settled by a time not after ``now``."""
        return self.t <= now and self.k <= len(doses) and (self.k == 0 or doses[self.k - 1] is self.last)

    def extended(self, doses: Sequence[DoseRecord], now: float) -> SettledDoses:
        """The settled prefix at ``now``: this one (its time moved on) or a longer one."""
        k, n = self.k, len(doses)
        spans: list[tuple[float, float]] | None = None
        first_stop = self.first_stop
        while k < n:
            rec = doses[k]
            a = rec.administration
            if a.time_h > now + _EPS:
                break
            if rec.given and rec.exposure_end_h > now:
                break  # still running: its span ends now, and it may yet be interrupted
            if spans is None:
                spans, first_stop = list(self.spans), dict(self.first_stop)
            if rec.stopped and not rec.given:
                key = (a.course, a.cycle)
                first_stop[key] = min(first_stop.get(key, a.time_h), a.time_h)
            elif rec.given:
                spans.append((a.time_h, rec.exposure_end_h))
            else:
                spans.append((a.time_h, a.time_h))
            k += 1
        if spans is None:
            self.t = max(self.t, now)
            return self
        return SettledDoses(k, doses[k - 1], now, tuple(spans), first_stop)

    def sorted_spans(self) -> tuple[list[float], list[float]]:
        """The settled spans and stops sorted (computed once; the lists are shared, read only)."""
        if self._sorted is None:
            self._sorted = sorted_spans(list(self.spans), self.first_stop)
        return self._sorted


def settled_doses(observation: Observation) -> SettledDoses:
    """The settled prefix of ``observation.doses`` at its time, extended from the one in the History's cache.

    Without a :class:`History` (no cache) it is built from the whole record; the answers of everything that
    uses it (``Observation.running``, :class:`~il2sim.protocol._care.Exposure`) are the same either way.
    """
    now, doses = observation.time_h, observation.doses
    cache = getattr(observation.history, "cache", None)
    settled = cache.get(_SETTLED_MEMO) if cache is not None else None
    if settled is None or not settled.usable(doses, now):
        settled = SettledDoses()
    settled = settled.extended(doses, now)
    if cache is not None:
        cache[_SETTLED_MEMO] = settled
    return settled


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

        Only the records after the dosing record's settled prefix (:func:`settled_doses`: held, stopped, or
        with their drug input ended, so never running again) are looked at.
        """
        t, doses = self.time_h, self.doses
        k = settled_doses(self).k
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
