"""The treating team as a policy: monitoring, hold/stop rules, supportive care, retreatment.

:class:`ClinicalProtocol` implements the :class:`~il2sim.protocol.Policy`
hook. The engine asks it once for its monitoring times, then for a
:class:`~il2sim.protocol.Decision` at every scheduled dose time and every
monitoring time, and, 7 weeks after each course's last scheduled dose,
whether to give another course (:meth:`ClinicalProtocol.next_course`).

The object is frozen and keeps no per-patient state: everything it needs
about the past is in the observation (history, dosing record, controls in
force), so one object serves every patient of a trial. Both halves are
injectable: ``rules`` is a :class:`~il2sim.protocol.RuleSet` (a shipped one
by name, or a user's own) and ``care`` a
:class:`~il2sim.protocol.SupportiveCare` with its standing orders (or none).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .._errors import UserError
from ._care import SupportiveCare
from ._policy import Decision, Observation
from ._regimen import Administration
from ._rules import RULE_SETS, Rule, RuleSet, longest_run_h, rule_set

__all__ = ["RULE_SETS", "ClinicalProtocol", "Rule", "RuleSet", "SupportiveCare", "make_policy"]

_EPS = 1e-6
#: Vitals are checked until this long after the end of a cycle's last scheduled
#: dose (its infusion's end), h; longer while the patient has not recovered.
MONITOR_AFTER_LAST_DOSE_H = 48.0
#: Coma lasting longer than this contraindicates retreatment, h (label).
COMA_CONTRAINDICATION_H = 48.0
#: Oliguria (< 10 mL/h) lasting longer than this stands in for "renal failure
#: requiring dialysis > 72 h", h (label).
OLIGURIA_CONTRAINDICATION_H = 72.0


@dataclass(frozen=True)
class ClinicalProtocol:
    """Hold/stop rules, supportive care and retreatment decisions of the treating team.

    Parameters
    ----------
    rules
        The hold/stop rule set: a :class:`~il2sim.protocol.RuleSet`, or the
        name of a shipped one (:data:`~il2sim.protocol.RULE_SETS`):
        ``"pivotal"`` (the 1985-1993 trials and the older label) or
        ``"consensus"`` (Dutcher 2014 plus SpringerPlus 2015). Stored as the
        :class:`RuleSet`.
    holds
        Apply the rule set; ``False`` gives every scheduled dose (``--no-holds``).
    care
        The supportive-care orders: a :class:`~il2sim.protocol.SupportiveCare`
        (``True``: the default orders) or ``None``/``False`` for none
        (``--no-care``). Stored as the orders or ``None``.
    max_courses
        Most courses given (``--max-courses``).
    vitals_every_h
        Interval of the vitals checks, h.

    Raises
    ------
    UserError
        On an unknown rule set name (field ``rules``), ``max_courses`` not an
        integer >= 1 (``max_courses``) or a non-positive interval.

    Notes
    -----
    At a dose time the decision is, in order:

    1. ``"stop"`` if a stop rule is met (``rule_id`` is the first one, in the
       rule set's order);
    2. ``"hold"`` if a hold rule is met, or if a dose held since the last dose
       given was held by a hold rule whose restart criterion is not yet met;
    3. ``"give"`` otherwise.

    ``Decision.note`` lists every rule met (``"met: a, b"``) and every hold
    still awaiting its restart criterion (``"awaiting restart: c"``).

    Retreatment (label, "further courses"): another course is given when
    fewer than ``max_courses`` have been given, the sum of target-lesion
    diameters is smaller than at the first dose of the course just finished,
    and no retreatment contraindication occurred. The contraindications the
    model can see are coma (confusion score 4) lasting more than 48 h and
    oliguria below 10 mL/h lasting more than 72 h, which stands in for renal
    failure requiring dialysis for more than 72 h (clinical-targets.md 1.3c
    [R: S7]).

    Examples
    --------
    >>> ClinicalProtocol().name
    'pivotal'
    >>> ClinicalProtocol(rules="consensus", care=False).name
    'consensus,no-care'
    """

    rules: RuleSet = RULE_SETS["pivotal"]
    holds: bool = True
    care: SupportiveCare | None = SupportiveCare()
    max_courses: int = 3
    vitals_every_h: float = 4.0

    def __post_init__(self) -> None:
        rules: object = self.rules
        if isinstance(rules, str):
            rules = rule_set(rules)
        if not isinstance(rules, RuleSet):
            raise UserError("rules", type(rules).__name__, "a RuleSet or one of " + ", ".join(RULE_SETS))
        object.__setattr__(self, "rules", rules)
        care: object = self.care
        if care is True:
            care = SupportiveCare()
        elif care is False:
            care = None
        if care is not None and not isinstance(care, SupportiveCare):
            raise UserError("care", type(care).__name__, "a SupportiveCare, True (the default orders) or None")
        object.__setattr__(self, "care", care)
        if not isinstance(self.holds, bool):
            raise UserError("holds", self.holds, "True or False")
        mc = self.max_courses
        if not isinstance(mc, numbers.Integral) or isinstance(mc, bool) or mc < 1:
            raise UserError("max_courses", mc, "an integer >= 1")
        v = self.vitals_every_h
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not (math.isfinite(v) and v > 0):
            raise UserError("vitals_every_h", v, "a positive number of hours")

    # -- identity -----------------------------------------------------------

    @property
    def name(self) -> str:
        """Short label: the rule set, then ``no-holds``/``no-care``/``custom-care``/``max-courses=N`` when set."""
        parts = [self.rules.name]
        if not self.holds:
            parts.append("no-holds")
        if self.care is None:
            parts.append("no-care")
        elif self.care != SupportiveCare():
            parts.append("custom-care")
        if self.max_courses != 3:
            parts.append(f"max-courses={self.max_courses}")
        return ",".join(parts)

    @property
    def rule_objects(self) -> tuple[Rule, ...]:
        """The rules of the rule set, in evaluation order."""
        return self.rules.rules

    def describe(self) -> dict:
        """Plain data for manifests and provenance: rule set, rule ids, holds, care orders, courses."""
        from dataclasses import asdict

        return {"rules": self.rules.name, "rule_ids": [r.id for r in self.rules], "holds": self.holds,
                "care": None if self.care is None else asdict(self.care), "max_courses": self.max_courses,
                "vitals_every_h": self.vitals_every_h}

    # -- monitoring ---------------------------------------------------------

    def monitoring_times(self, schedule: Sequence[Administration], t_end_h: float) -> Sequence[float]:
        """Vitals checks and daily blood draws around each cycle.

        Parameters
        ----------
        schedule
            The administrations (any number of courses and cycles).
        t_end_h
            End of the simulation, h.

        Returns
        -------
        tuple of float
            Sorted, unique times in ``[0, t_end_h]``: every ``vitals_every_h``
            from each cycle's first dose up to 48 h after the end of its
            last scheduled dose (an infusion's end; that end point included),
            and the 06:00 blood draws (``t mod 24 == 6``) in the same
            windows. A patient not recovered by then is checked further
            through :attr:`Decision.recheck_h` (see :meth:`decide`).
        """
        windows: dict[tuple[int, int], list[float]] = {}
        for a in schedule:
            w = windows.setdefault((a.course, a.cycle), [a.time_h, a.end_h])
            w[0] = min(w[0], a.time_h)
            w[1] = max(w[1], a.end_h)
        times: set[float] = set()
        for first, last in windows.values():
            end = last + MONITOR_AFTER_LAST_DOSE_H
            n = int(math.floor((end - first) / self.vitals_every_h + 1e-9))
            times.update(first + k * self.vitals_every_h for k in range(n + 1))
            times.add(end)
            day = math.ceil((first - 6.0) / 24.0 - 1e-9)
            while 24.0 * day + 6.0 <= end + _EPS:
                times.add(24.0 * day + 6.0)
                day += 1
        out = sorted({round(t, 9) for t in times if -_EPS <= t <= t_end_h + _EPS})
        return tuple(max(0.0, min(t, float(t_end_h))) for t in out)

    # -- decisions ----------------------------------------------------------

    def decide(self, observation: Observation) -> Decision:
        """Supportive care and, at a dose time, give / hold / stop.

        Parameters
        ----------
        observation
            Signals just before any administration at ``observation.time_h``.

        Returns
        -------
        Decision
            With ``holds``, a drug infusion still running is interrupted
            (``interrupt``) when a hold or stop rule is met now, as a dose
            due now would be held or stopped; with care, a patient in the
            observation period (not yet recovered) gets a recheck after
            ``vitals_every_h``.
        """
        recheck = None
        if self.care is not None:
            orders = self.care.orders(observation)
            controls, infusions = orders.controls, orders.infusions
            if orders.phase == "observation":
                recheck = self.vitals_every_h
        else:
            controls, infusions = {}, []
        running = observation.running if self.holds else ()
        interrupt, interrupt_rule = None, ""
        if running and not observation.due:
            probe = replace(observation, due=(running[-1].administration,))
            action, interrupt_rule, note = self.dose_decision(probe, pending=False)
            if action != "give":
                interrupt = action
            return Decision(controls=controls, infusions=infusions, interrupt=interrupt, rule_id=interrupt_rule,
                            note=note, recheck_h=recheck)
        if not observation.due:
            return Decision(controls=controls, infusions=infusions, recheck_h=recheck)
        if not self.holds:
            return Decision(dose="give", controls=controls, infusions=infusions, recheck_h=recheck)
        dose, rule_id, note = self.dose_decision(observation)
        if running and dose != "give":
            interrupt = dose
        return Decision(dose=dose, rule_id=rule_id, controls=controls, infusions=infusions, note=note,
                        interrupt=interrupt, recheck_h=recheck)

    def dose_decision(self, observation: Observation, *, pending: bool = True) -> tuple[str, str, str]:
        """The rule set's answer for the due dose, ignoring ``holds``.

        ``pending=False`` leaves out the holds awaiting restart (for a running
        infusion: only a rule met now interrupts it).

        Returns
        -------
        dose : str
            ``"give"``, ``"hold"`` or ``"stop"``.
        rule_id : str
            The rule that holds or stops it (empty when given).
        note : str
            The rules met and the holds awaiting restart.
        """
        met = [r for r in self.rule_objects if r.triggered(observation)]
        waiting = [r for r in self.pending_holds(observation) if not r.cleared(observation)] if pending else []
        notes = []
        if met:
            notes.append("met: " + ", ".join(r.id for r in met))
        if waiting:
            notes.append("awaiting restart: " + ", ".join(r.id for r in waiting))
        note = "; ".join(notes)
        stops = [r for r in met if r.action == "stop"]
        if stops:
            return "stop", stops[0].id, note
        holds = [r for r in met if r.action == "hold"]
        if holds:
            return "hold", holds[0].id, note
        if waiting:
            return "hold", waiting[0].id, note
        return "give", "", note

    def pending_holds(self, observation: Observation) -> tuple[Rule, ...]:
        """Hold rules that held a dose since the last dose given (stopped doses skipped).

        Returns
        -------
        tuple of Rule
            In rule-set order; whether each has cleared is up to the caller.
        """
        by_id = {r.id: r for r in self.rule_objects if r.action == "hold"}
        ids: set[str] = set()
        for rec in reversed(observation.doses):
            if rec.administration.time_h > observation.time_h + _EPS:
                continue
            if rec.given:
                break
            if rec.stopped:
                continue
            if rec.held_by in by_id:
                ids.add(rec.held_by)
        return tuple(r for r in self.rule_objects if r.id in ids)

    # -- further courses ----------------------------------------------------

    def retreatment_contraindications(self, observation: Observation) -> tuple[str, ...]:
        """Retreatment contraindications seen in the history so far.

        Returns
        -------
        tuple of str
            ``"coma_over_48h"`` and/or ``"oliguria_over_72h"``.
        """
        entries = [*observation.history, (observation.time_h, observation.values)]
        out = []
        coma = longest_run_h(entries, lambda v: float(v["confusion_score"]) >= 4.0)
        if coma > COMA_CONTRAINDICATION_H + _EPS:
            out.append("coma_over_48h")
        oliguria = longest_run_h(entries, lambda v: float(v["urine_ml_per_h"]) < 10.0)
        if oliguria > OLIGURIA_CONTRAINDICATION_H + _EPS:
            out.append("oliguria_over_72h")
        return tuple(out)

    def next_course(self, observation: Observation, course: int) -> bool:
        """Whether to give course ``course + 1``.

        Parameters
        ----------
        observation
            Signals 7 weeks after the last scheduled dose of ``course``, with
            the whole history.
        course
            The course just finished, from 1.

        Returns
        -------
        bool
            ``True`` when ``course < max_courses``, the sum of target-lesion
            diameters is below its value at the first dose decision of
            ``course``, and no retreatment contraindication occurred.
        """
        if course >= self.max_courses:
            return False
        starts = [r.administration.time_h for r in observation.doses if r.administration.course == course]
        if not starts:
            return False
        reference = _value_at_or_after(observation, min(starts), "tumour_sum_diameters_mm")
        if reference is None:
            return False
        if not float(observation.values["tumour_sum_diameters_mm"]) < reference:
            return False
        return not self.retreatment_contraindications(observation)


def _value_at_or_after(observation: Observation, time_h: float, key: str) -> float | None:
    for t, v in observation.history:
        if t >= time_h - _EPS and key in v:
            return float(v[key])
    if observation.time_h >= time_h - _EPS:
        return float(observation.values[key])
    return None


def make_policy(rules: str | RuleSet = "pivotal", *, holds: bool = True, care: bool | SupportiveCare | None = True,
                max_courses: int = 3) -> ClinicalProtocol:
    """Build the treating-team policy from the command-line switches.

    Parameters
    ----------
    rules
        ``--rules``: ``"pivotal"`` (default), ``"consensus"``, or a :class:`RuleSet`.
    holds
        ``False`` for ``--no-holds``.
    care
        ``False`` for ``--no-care``; a :class:`SupportiveCare` for other orders.
    max_courses
        ``--max-courses``.

    Returns
    -------
    ClinicalProtocol

    Raises
    ------
    UserError
        With field ``rules`` on an unknown rule set.

    Examples
    --------
    >>> make_policy("consensus", holds=False).name
    'consensus,no-holds'
    """
    return ClinicalProtocol(rules=rules, holds=holds, care=care, max_courses=max_courses)  # type: ignore[arg-type]

