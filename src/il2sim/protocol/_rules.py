"""Dose hold and stop rules: the ``pivotal`` and ``consensus`` rule sets.

Each rule is a named, frozen :class:`Rule` that reads one
:class:`~il2sim.protocol.Observation` (the signals at a decision time plus
their history) and says whether it is met (:meth:`Rule.triggered`) and, for a
rule that holds doses, whether the patient has recovered enough for dosing to
resume (:meth:`Rule.cleared`). There is no dose reduction: aldesleukin
toxicity is managed by withholding or interrupting doses, never by giving a
smaller one (Proleukin label, section 2.4).

Actions
-------
``"hold"``
    The scheduled dose is not given. Later doses are given again once every
    hold rule that held a dose since the last dose given reports ``cleared``.
``"stop"``
    The dose is not given and the rest of the current cycle is cancelled. The
    next cycle starts as scheduled if no stop rule is met at its first dose.

How the rules see the patient
-----------------------------
* Vital signs, urine output, symptom scores and weight are read at every
  decision time (dose times and the 4-hourly vitals checks).
* Laboratory values (creatinine, albumin, lymphocytes) are only known from
  the daily 06:00 blood draw: a rule uses the most recent 06:00 value in the
  observation history, not the continuous model value. Before the first draw
  of treatment the pre-treatment creatinine is used.
* Volumes per nursing shift are differences of the cumulative totals over
  the 8 hours before the decision time.
* Phenylephrine and oxygen requirements come from the controls in force
  (``observation.controls``) and, for earlier times, from history entries,
  which the engine fills with the controls in force at that time under the
  control's name (``pressor_ug_kg_min``, ``oxygen_l_min``, ...).

Sources
-------
Proleukin (aldesleukin) US prescribing information: current PLR label,
Table 2, and the older label's "hold dose for / restart when" table (the
latter recalled, not retrieved); Dutcher JP et al., J Immunother Cancer
2014;2:26, Table 3 (consensus relative and absolute criteria); the
institutional rules of an academic community hospital, SpringerPlus 2015,
Table 1. See ``clinical-targets.md`` section 1.3 in the project references.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .._errors import UserError
from ._policy import Observation

__all__ = [
    "CONSENSUS_RULES",
    "PIVOTAL_RULES",
    "RULE_SETS",
    "Rule",
    "RuleSet",
    "rule_set",
    "latest_lab",
    "is_lab_time",
]

RULE_ACTIONS = ("hold", "stop")

#: Two decision times closer than this (hours) are the same time.
_EPS = 1e-6
#: Hour of the day of the daily blood draw.
LAB_HOUR = 6.0
#: Length of a nursing shift, h.
SHIFT_H = 8.0
#: Highest phenylephrine rate the care team gives, ug/kg/min (the pivotal
#: trials' "maximum support"); shared with :class:`SupportiveCare`.
PHENYLEPHRINE_MAX_UG_KG_MIN = 2.0

PRESSOR = "pressor_ug_kg_min"
OXYGEN = "oxygen_l_min"
ANTIEMETIC = "antiemetic"

_LABEL_OLD = (
    "Proleukin (aldesleukin) prescribing information, older (non-PLR) format, "
    "'hold dose for / subsequent doses may be given if' table; recalled, not "
    "retrieved (clinical-targets.md 1.3b [M])"
)
_LABEL_PLR = (
    "Proleukin prescribing information, current PLR label, section 2.4 Table 2 "
    "(clinical-targets.md 1.3a [R: S5])"
)
_DUTCHER = (
    "Dutcher JP et al. High dose interleukin-2 (Aldesleukin) - expert consensus on "
    "best management practices-2014. J Immunother Cancer 2014;2:26, Table 3 "
    "(clinical-targets.md 1.3d [R: S17])"
)
_SPRINGER = (
    "High-dose IL-2 at an academic community hospital, SpringerPlus 2015, Table 1 "
    "(clinical-targets.md 1.3d [R: S18])"
)


# ---------------------------------------------------------------------------
# The rule object
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One named hold or stop criterion with its clinical source.

    Parameters
    ----------
    id
        Identifier (snake_case), written to ``doses.csv`` as ``held_by``.
    rule_set
        Name of the rule set it belongs to (``"pivotal"`` or ``"consensus"``).
    description
        The criterion in clinical words.
    source
        Citation; says "recalled" where the criterion was not read in a
        retrieved copy of the source.
    action
        ``"hold"`` (withhold this dose) or ``"stop"`` (end the cycle).
    restart
        For a hold rule, the restart criterion in clinical words.
    check
        Predicate on an :class:`Observation`: the criterion is met.
    clear
        Predicate on an :class:`Observation`: the restart criterion is met
        (hold rules only; defaults to "the criterion is no longer met").

    Examples
    --------
    >>> rule = RULE_SETS["pivotal"][0]
    >>> rule.id, rule.action
    ('pivotal_hypotension', 'hold')
    """

    id: str
    rule_set: str
    description: str
    source: str
    action: str
    restart: str = ""
    check: Callable[[Observation], bool] = field(default=lambda obs: False, repr=False, compare=False)
    clear: Callable[[Observation], bool] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in RULE_ACTIONS:
            raise ValueError(f"Rule.action: got {self.action!r}, expected one of {RULE_ACTIONS}")
        if not self.id or not self.id.replace("_", "a").isalnum() or self.id != self.id.lower():
            raise ValueError(f"Rule.id: got {self.id!r}, expected a snake_case identifier")

    def triggered(self, observation: Observation) -> bool:
        """Whether the criterion is met at ``observation.time_h``.

        Parameters
        ----------
        observation
            Signals at the decision time, with history.

        Returns
        -------
        bool
        """
        return bool(self.check(observation))

    def cleared(self, observation: Observation) -> bool:
        """Whether dosing may resume after a hold by this rule.

        Parameters
        ----------
        observation
            Signals at the decision time, with history.

        Returns
        -------
        bool
            The restart criterion; for a stop rule, always ``False``.
        """
        if self.action == "stop":
            return False
        if self.clear is None:
            return not self.triggered(observation)
        return bool(self.clear(observation))


# ---------------------------------------------------------------------------
# Reading the observation
# ---------------------------------------------------------------------------


def is_lab_time(time_h: float) -> bool:
    """Whether ``time_h`` is a daily blood-draw time (06:00, ``t mod 24 == 6``)."""
    r = (time_h - LAB_HOUR) % 24.0
    return r < _EPS or r > 24.0 - _EPS


def _lab_values(obs: Observation, key: str, n: int) -> list[float]:
    """The last ``n`` laboratory values of ``key``, newest first."""
    out: list[float] = []
    if is_lab_time(obs.time_h) and key in obs.values:
        out.append(float(obs.values[key]))
    for t, v in reversed(obs.history):
        if len(out) >= n:
            break
        if t < obs.time_h - _EPS and is_lab_time(t) and key in v:
            out.append(float(v[key]))
    return out[:n]


def latest_lab(obs: Observation, key: str) -> float | None:
    """The most recent daily-draw value of a laboratory signal.

    Parameters
    ----------
    obs
        The observation.
    key
        ``creatinine_mg_dl``, ``albumin_g_dl`` or ``lymphocytes_per_ul``.

    Returns
    -------
    float or None
        The value at the current time if it is a 06:00 draw, else at the
        latest 06:00 entry of the history; ``None`` before the first draw.
    """
    values = _lab_values(obs, key, 1)
    return values[0] if values else None


def creatinine_lab(obs: Observation) -> float:
    """Latest drawn creatinine, mg/dL; the pre-treatment value before the first draw."""
    c = latest_lab(obs, "creatinine_mg_dl")
    if c is None:
        return float(obs.values.get("baseline_creatinine_mg_dl", 0.0))
    return c


def creatinine_rising(obs: Observation) -> bool:
    """Whether the latest drawn creatinine is above the previous draw (or the baseline)."""
    labs = _lab_values(obs, "creatinine_mg_dl", 2)
    if not labs:
        return False
    previous = labs[1] if len(labs) > 1 else float(obs.values.get("baseline_creatinine_mg_dl", labs[0]))
    return labs[0] > previous


def weight_gain_fraction(values: Mapping[str, float]) -> float:
    """Weight gain over the pre-treatment weight, as a fraction (0.1 = 10 %)."""
    base = float(values["baseline_weight_kg"])
    return (float(values["weight_kg"]) - base) / base


def control_now(obs: Observation, name: str) -> float:
    """Rate of a control in force at the decision time (0 when absent)."""
    return float(obs.controls.get(name, 0.0))


def recent_entries(obs: Observation, hours: float) -> Iterator[Mapping[str, float]]:
    """Values of the history entries of the last ``hours``, newest first (earlier decision times only)."""
    lo = obs.time_h - hours - _EPS
    for t, v in reversed(obs.history):
        if t < lo:
            break
        yield v


def control_max(obs: Observation, name: str, hours: float) -> float:
    """Highest rate of a control in force over the last ``hours`` (history and now)."""
    return max([control_now(obs, name)] + [float(v.get(name, 0.0)) for v in recent_entries(obs, hours)])


def previous_entry(obs: Observation, max_age_h: float = SHIFT_H) -> Mapping[str, float] | None:
    """Values at the previous decision time if it is at most ``max_age_h`` old."""
    for t, v in reversed(obs.history):
        if t < obs.time_h - _EPS:
            return v if obs.time_h - t <= max_age_h + _EPS else None
    return None


def _entry_at(obs: Observation, time_h: float, max_lag_h: float) -> tuple[float, Mapping[str, float]] | None:
    """The latest entry (history or current) at or before ``time_h``, at most ``max_lag_h`` earlier."""
    if abs(obs.time_h - time_h) < _EPS:
        return obs.time_h, obs.values
    times = [t for t, _ in obs.history]
    i = bisect.bisect_right(times, time_h + _EPS) - 1
    if i < 0:
        return None
    t, v = obs.history[i]
    return (t, v) if time_h - t <= max_lag_h + _EPS else None


def shift_volume(obs: Observation, key: str, end_h: float | None = None) -> float | None:
    """Volume of a cumulative signal over the 8-h shift ending at ``end_h``, mL.

    Parameters
    ----------
    obs
        The observation.
    key
        A cumulative signal, e.g. ``urine_cumulative_ml``.
    end_h
        End of the shift; the decision time by default.

    Returns
    -------
    float or None
        ``cumulative(end) - cumulative(end - 8 h)``, scaled to 8 h when the
        nearest earlier record is up to 4 h older; ``None`` if there is no
        such record.
    """
    end_h = obs.time_h if end_h is None else end_h
    end = _entry_at(obs, end_h, 0.0)
    start = _entry_at(obs, end_h - SHIFT_H, 4.0)
    if end is None or start is None or end[0] - start[0] <= _EPS or key not in end[1] or key not in start[1]:
        return None
    return (float(end[1][key]) - float(start[1][key])) * SHIFT_H / (end[0] - start[0])


def urine_shift_ml(obs: Observation) -> float:
    """Urine over the last 8-h shift, mL; the current rate times 8 h when no record is 8 h old."""
    vol = shift_volume(obs, "urine_cumulative_ml")
    return float(obs.values["urine_ml_per_h"]) * SHIFT_H if vol is None else vol


def diarrhea_shift_ml(obs: Observation, shifts_back: int = 0) -> float | None:
    """Diarrhoea over the shift ending ``8 * shifts_back`` h before the decision, mL.

    The current shift falls back to the current rate times 8 h when there is no
    record 8 h old; an earlier shift without records is ``None``.
    """
    vol = shift_volume(obs, "diarrhea_cumulative_ml", obs.time_h - SHIFT_H * shifts_back)
    if vol is None and shifts_back == 0:
        return float(obs.values.get("diarrhea_ml_per_h", 0.0)) * SHIFT_H
    return vol


def sustained_h(obs: Observation, predicate: Callable[[Mapping[str, float]], bool], max_gap_h: float = 24.0) -> float:
    """How long a condition has held without interruption up to the decision time, h.

    Walks back over the history while the condition holds; a gap of more than
    ``max_gap_h`` between records (no monitoring) ends the run. Returns 0 when
    the condition does not hold now.
    """
    if not predicate(obs.values):
        return 0.0
    start = obs.time_h
    for t, v in reversed(obs.history):
        if t > obs.time_h - _EPS:
            continue
        if start - t > max_gap_h + _EPS or not predicate(v):
            break
        start = t
    return obs.time_h - start


def longest_run_h(
    entries: Sequence[tuple[float, Mapping[str, float]]],
    predicate: Callable[[Mapping[str, float]], bool],
    max_gap_h: float = 24.0,
) -> float:
    """Longest uninterrupted stretch of records meeting a condition, h.

    A gap of more than ``max_gap_h`` between consecutive records ends a run.
    """
    best = 0.0
    start: float | None = None
    last: float | None = None
    for t, v in entries:
        if predicate(v):
            if start is None or last is None or t - last > max_gap_h + _EPS:
                start = t
            last = t
            best = max(best, t - start)
        else:
            start = last = None
    return best


def oxygen_requirement_l_min(obs: Observation) -> float:
    """Oxygen flow needed to keep SpO2 >= 95 %, L/min.

    The flow in force if it achieves SpO2 >= 95 %, otherwise that flow plus
    one 1-L/min titration step (at least that much more is needed).
    """
    flow = control_now(obs, OXYGEN)
    return flow if float(obs.values["spo2_pct"]) >= 95.0 else flow + 1.0


def _v(obs: Observation, key: str) -> float:
    return float(obs.values[key])


def _band(x: float, bands: Sequence[tuple[float, int]], above: int) -> int:
    """Points of ``x`` on an ascending list of ``(upper limit, points)`` bands; ``above`` past the last."""
    for limit, points in bands:
        if x <= limit:
            return points
    return above


def early_warning_score(values: Mapping[str, float], oxygen_l_min: float) -> int:
    """Bedside early-warning score: NEWS2 without its respiratory-rate item (0-17 points).

    NEWS2 bands (Royal College of Physicians 2017, recalled): systolic BP
    <= 90 / 91-100 / 101-110 / 111-219 / >= 220 mmHg score 3/2/1/0/3; pulse
    <= 40 / 41-50 / 51-90 / 91-110 / 111-130 / >= 131 per min score
    3/1/0/1/2/3; SpO2 (scale 1) <= 91 / 92-93 / 94-95 / >= 96 % score
    3/2/1/0; supplemental oxygen scores 2; temperature <= 35.0 / 35.1-36.0 /
    36.1-38.0 / 38.1-39.0 / >= 39.1 degC score 3/1/0/1/2; new confusion
    (``confusion_score`` >= 1, CTCAE grade 1) scores 3. The model has no
    respiratory rate, so that item (0-3) is left out.

    Parameters
    ----------
    values
        Observables at one check: ``sbp_mmhg``, ``heart_rate_bpm``,
        ``spo2_pct``, ``temperature_c``, ``confusion_score``.
    oxygen_l_min
        Supplemental oxygen in force, L/min.

    Returns
    -------
    int

    Examples
    --------
    >>> early_warning_score({"sbp_mmhg": 95, "heart_rate_bpm": 125, "spo2_pct": 95,
    ...                      "temperature_c": 38.4, "confusion_score": 0}, 0.0)
    6
    """
    sbp = round(float(values["sbp_mmhg"]))
    pulse = round(float(values["heart_rate_bpm"]))
    spo2 = round(float(values["spo2_pct"]))
    temp = round(float(values["temperature_c"]), 1)
    return (_band(sbp, ((90, 3), (100, 2), (110, 1), (219, 0)), 3)
            + _band(pulse, ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), 3)
            + _band(spo2, ((91, 3), (93, 2), (95, 1)), 0)
            + (2 if oxygen_l_min > _EPS else 0)
            + _band(temp, ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1)), 2)
            + (3 if float(values["confusion_score"]) >= 1.0 else 0))


def _ramp(x: float, knots: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear interpolation through ascending ``(x, points)`` knots, constant beyond the ends."""
    if x <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in zip(knots, knots[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return knots[-1][1]


# Knots of the graded score: 0 points at the edge of each item's normal NEWS2 band, each outer
# band's points at that band's midpoint, the extreme band's points at its inner edge.
_SBP_KNOTS = ((90.0, 3.0), (95.5, 2.0), (105.5, 1.0), (111.0, 0.0), (219.0, 0.0), (220.0, 3.0))
_PULSE_KNOTS = ((40.0, 3.0), (45.5, 1.0), (51.0, 0.0), (90.0, 0.0), (100.5, 1.0), (120.5, 2.0), (131.0, 3.0))
_SPO2_KNOTS = ((91.0, 3.0), (92.5, 2.0), (94.5, 1.0), (96.0, 0.0))
_TEMP_KNOTS = ((35.0, 3.0), (35.55, 1.0), (36.1, 0.0), (38.0, 0.0), (38.55, 1.0), (39.1, 2.0))


def graded_warning_points(values: Mapping[str, float], oxygen_l_min: float) -> float:
    """The bedside early-warning score graded continuously (0-17 points): NEWS2's bands made ramps.

    :func:`early_warning_score` jumps a whole point where a vital sign crosses
    a band edge. This score has the same items and the same points at the
    middle of every band, but moves linearly between: 0 at the edge of an
    item's normal band, each outer band's points at that band's midpoint, an
    extreme band's points at its inner edge (systolic BP 111 / 105.5 / 95.5 /
    <= 90 mmHg: 0 / 1 / 2 / 3; pulse 90 / 100.5 / 120.5 / >= 131 per min and
    51 / 45.5 / <= 40: 0 / 1 / 2 / 3 and 0 / 1 / 3; SpO2 96 / 94.5 / 92.5 /
    <= 91 %: 0 / 1 / 2 / 3; temperature 38.0 / 38.55 / >= 39.1 degC and
    36.1 / 35.55 / <= 35.0: 0 / 1 / 2 and 0 / 1 / 3). Supplemental oxygen
    scores 2 per L/min up to 1 L/min; confusion scores 3 x ``confusion_score``
    up to grade 1. A modelling choice (the grading of a NEWS2 item between its
    bands is not part of NEWS2); it makes the treating team's accumulated
    judgement (:func:`toxicity_burden`) a continuous function of the patient.

    Examples
    --------
    >>> graded_warning_points({"sbp_mmhg": 95.5, "heart_rate_bpm": 120.5, "spo2_pct": 94.5,
    ...                        "temperature_c": 38.55, "confusion_score": 0}, 2.0)
    8.0
    """
    return (_ramp(float(values["sbp_mmhg"]), _SBP_KNOTS)
            + _ramp(float(values["heart_rate_bpm"]), _PULSE_KNOTS)
            + _ramp(float(values["spo2_pct"]), _SPO2_KNOTS)
            + 2.0 * min(max(oxygen_l_min, 0.0), 1.0)
            + _ramp(float(values["temperature_c"]), _TEMP_KNOTS)
            + 3.0 * min(max(float(values["confusion_score"]), 0.0), 1.0))


def cycle_start_h(obs: Observation) -> float | None:
    """Time of the first scheduled administration of the cycle due now (``None`` when nothing is due)."""
    if not obs.due:
        return None
    course, cycle = obs.due[0].course, obs.due[0].cycle
    times = [r.administration.time_h for r in obs.doses
             if r.administration.course == course and r.administration.cycle == cycle]
    return min(times + [a.time_h for a in obs.due])


def toxicity_burden(obs: Observation) -> float:
    """Toxicity the patient has borne since the cycle due now began, points h.

    The time integral (trapezoid over the decision times' records, the present
    included) of :func:`graded_warning_points` from the cycle's first scheduled
    dose to now. 0 when nothing is due or at the cycle's first dose.
    """
    start = cycle_start_h(obs)
    if start is None:
        return 0.0
    points: list[tuple[float, float]] = [(obs.time_h, graded_warning_points(obs.values, control_now(obs, OXYGEN)))]
    hist = obs.history
    memo = _record_points(hist)
    for k in range(len(hist) - 1, -1, -1):
        t, v = hist[k]
        if t > obs.time_h - _EPS:
            continue
        if t < start - _EPS:
            break
        points.append((t, memo[k] if memo is not None else graded_warning_points(v, float(v.get(OXYGEN, 0.0)))))
    return sum(0.5 * (p0 + p1) * (t0 - t1) for (t0, p0), (t1, p1) in zip(points, points[1:]))


_POINTS_MEMO = "il2sim.protocol.graded_warning_points"  # the History.cache key of the records' points


def _record_points(hist: Sequence[tuple[float, Mapping[str, float]]]) -> list[float] | None:
    """Every history record's :func:`graded_warning_points`, memoised in a History's cache (None without one).

    A record never changes once appended, so its points are computed once and the list is extended by the
    records added since the last decision.
    """
    cache = getattr(hist, "cache", None)
    if cache is None:
        return None
    memo = cache.get(_POINTS_MEMO)
    if memo is None:  # (a shorter view of the same records reads the first entries)
        memo = cache[_POINTS_MEMO] = []
    for k in range(len(memo), len(hist)):
        v = hist[k][1]
        memo.append(graded_warning_points(v, float(v.get(OXYGEN, 0.0))))
    return memo


# ---------------------------------------------------------------------------
# Pivotal rule set (older label; the 1985-1993 trials)
# ---------------------------------------------------------------------------


def _not_tolerated(obs: Observation) -> bool:
    return toxicity_burden(obs) > float(obs.values["toxicity_tolerance_burden"])


def _pivotal_hypotension(obs: Observation) -> bool:
    if _v(obs, "sbp_mmhg") >= 90.0:
        return False
    rate = control_now(obs, PRESSOR)
    if rate >= PHENYLEPHRINE_MAX_UG_KG_MIN - _EPS:
        return True
    prev = previous_entry(obs)
    if prev is None or PRESSOR not in prev:
        return False  # no record of the earlier rate: not known to be increasing
    return rate > float(prev[PRESSOR]) + _EPS  # the last check raised the pressor: an increasing requirement


def _pivotal_hypotension_cleared(obs: Observation) -> bool:
    if _v(obs, "sbp_mmhg") < 90.0:
        return False
    prev = previous_entry(obs, max_age_h=float("inf"))
    if prev is None or PRESSOR not in prev:
        # No record of the earlier rate: only "off" counts as not rising.
        return prev is None or control_now(obs, PRESSOR) <= _EPS
    return control_now(obs, PRESSOR) <= float(prev[PRESSOR]) + _EPS


def _pivotal_creatinine(obs: Observation) -> bool:
    c = creatinine_lab(obs)
    return c >= 4.5 or (c >= 4.0 and weight_gain_fraction(obs.values) > 0.10)


def _pivotal_oliguria(obs: Observation) -> bool:
    hours = sustained_h(obs, lambda v: float(v["urine_ml_per_h"]) < 10.0)
    return hours >= 16.0 - _EPS and creatinine_rising(obs)


PIVOTAL_RULES: tuple[Rule, ...] = (
    Rule(
        id="pivotal_hypotension",
        rule_set="pivotal",
        description=(
            "Systolic blood pressure below 90 mmHg with an increasing pressor "
            "requirement (the last check raised phenylephrine) or despite its "
            "maximum rate (2.0 ug/kg/min): doses are given with pressor support "
            "and held when the requirement grows or support fails"
        ),
        source=_LABEL_OLD + "; 'as tolerated with maximum support, including pressors': "
        "Atkins 1999, Fyfe 1995 (clinical-targets.md 1.2 [R: S9, S10])",
        action="hold",
        restart="Systolic blood pressure 90 mmHg or more with the pressor requirement stable or falling",
        check=_pivotal_hypotension,
        clear=_pivotal_hypotension_cleared,
    ),
    Rule(
        id="pivotal_hypoxia",
        rule_set="pivotal",
        description="Oxygen saturation below 90 %",
        source=_LABEL_OLD + "; the same criterion in the " + _LABEL_PLR,
        action="hold",
        restart="Oxygen saturation 90 % or more",
        check=lambda obs: _v(obs, "spo2_pct") < 90.0,
        clear=lambda obs: _v(obs, "spo2_pct") >= 90.0,
    ),
    Rule(
        id="pivotal_confusion",
        rule_set="pivotal",
        description="Mental status changes, including moderate confusion or agitation",
        source=_LABEL_OLD + "; the same criterion in the " + _LABEL_PLR,
        action="hold",
        restart="Mental status changes completely resolved",
        check=lambda obs: _v(obs, "confusion_score") >= 2.0,
        clear=lambda obs: _v(obs, "confusion_score") < 0.5,
    ),
    Rule(
        id="pivotal_creatinine",
        rule_set="pivotal",
        description=(
            "Serum creatinine 4.5 mg/dL or more, or 4 mg/dL or more with volume "
            "overload (weight gain over 10 %), on the daily blood draw"
        ),
        source=_LABEL_OLD + "; volume overload represented by weight gain > 10 % (modelling choice)",
        action="hold",
        restart="Serum creatinine below 4 mg/dL",
        check=_pivotal_creatinine,
        clear=lambda obs: creatinine_lab(obs) < 4.0,
    ),
    Rule(
        id="pivotal_oliguria",
        rule_set="pivotal",
        description="Persistent oliguria: urine output below 10 mL/h for 16 h or more with rising serum creatinine",
        source=_LABEL_OLD,
        action="hold",
        restart="Urine output above 10 mL/h",
        check=_pivotal_oliguria,
        clear=lambda obs: _v(obs, "urine_ml_per_h") > 10.0,
    ),
    Rule(
        id="pivotal_not_tolerated",
        rule_set="pivotal",
        description=(
            "Not clinically tolerated: the toxicity borne since the cycle began (the "
            "time integral of the bedside early-warning score, NEWS2 without respiratory "
            "rate, graded continuously between its bands) is above the patient's "
            "tolerance (toxicity_tolerance); the rest of the cycle is not given"
        ),
        source=(
            "Pivotal trials: doses given 'as clinically tolerated with maximum support, "
            "including pressors', Atkins 1999, Fyfe 1995 (clinical-targets.md 1.2 [R: S9, S10]); "
            "the judgement is represented by the accumulated NEWS2 score (Royal College of "
            "Physicians 2017, recalled) against a tolerance fitted to the median doses "
            "received (modelling choice)"
        ),
        action="stop",
        check=_not_tolerated,
    ),
    Rule(
        id="pivotal_coma",
        rule_set="pivotal",
        description="Coma: treatment for this cycle is stopped",
        source=(
            _LABEL_PLR + " (coma or toxic psychosis lasting > 48 h: permanently "
            "discontinue); stopping the cycle at onset is a modelling choice"
        ),
        action="stop",
        check=lambda obs: _v(obs, "confusion_score") >= 4.0,
    ),
)


# ---------------------------------------------------------------------------
# Consensus rule set (Dutcher 2014 Table 3 + SpringerPlus 2015)
# ---------------------------------------------------------------------------


def _phenylephrine_8h(obs: Observation) -> float:
    return control_max(obs, PRESSOR, SHIFT_H)


def _tachycardia_sustained(obs: Observation) -> bool:
    hr = _v(obs, "heart_rate_bpm")
    prev = previous_entry(obs)
    return 100.0 <= hr <= 130.0 and prev is not None and float(prev["heart_rate_bpm"]) >= 100.0


def _diarrhea_two_shifts(obs: Observation) -> bool:
    now = diarrhea_shift_ml(obs, 0)
    before = diarrhea_shift_ml(obs, 1)
    return now is not None and before is not None and now >= 1000.0 and before >= 1000.0


def _consensus_hold_rules() -> tuple[Rule, ...]:
    return tuple(r for r in CONSENSUS_RULES if r.action == "hold")


def _three_relative(obs: Observation) -> bool:
    return sum(r.triggered(obs) for r in _consensus_hold_rules()) >= 3


def _holds_in_cycle(obs: Observation) -> int:
    if not obs.due:
        return 0
    course, cycle = obs.due[0].course, obs.due[0].cycle
    return sum(
        1
        for rec in obs.doses
        if rec.administration.course == course
        and rec.administration.cycle == cycle
        and not rec.given
        and not rec.stopped
        and rec.held_by
    )


CONSENSUS_RULES: tuple[Rule, ...] = (
    Rule(
        id="consensus_phenylephrine_relative",
        rule_set="consensus",
        description="Phenylephrine requirement 1.0-1.5 ug/kg/min (highest rate over the last 8 h)",
        source=_DUTCHER + "; the minimum-rate criteria (> 0.5, > 0.8) are not modelled",
        action="hold",
        restart="Phenylephrine below 1.0 ug/kg/min throughout the last 8 h",
        check=lambda obs: 1.0 - _EPS <= _phenylephrine_8h(obs) <= 1.5 + _EPS,
        clear=lambda obs: _phenylephrine_8h(obs) < 1.0 - _EPS,
    ),
    Rule(
        id="consensus_oliguria_relative",
        rule_set="consensus",
        description="Urine output 80-160 mL per 8-h shift",
        source=_DUTCHER + "; also " + _SPRINGER,
        action="hold",
        restart="Urine output above 160 mL per 8-h shift",
        check=lambda obs: 80.0 <= urine_shift_ml(obs) <= 160.0,
        clear=lambda obs: urine_shift_ml(obs) > 160.0,
    ),
    Rule(
        id="consensus_creatinine_relative",
        rule_set="consensus",
        description="Serum creatinine 2.5-2.9 mg/dL on the daily blood draw",
        source=_DUTCHER + "; also " + _SPRINGER,
        action="hold",
        restart="Serum creatinine below 2.5 mg/dL",
        check=lambda obs: 2.5 <= creatinine_lab(obs) < 3.0,
        clear=lambda obs: creatinine_lab(obs) < 2.5,
    ),
    Rule(
        id="consensus_weight_gain",
        rule_set="consensus",
        description="Weight gain over 15 % above the pre-treatment weight",
        source=_DUTCHER + "; also " + _SPRINGER,
        action="hold",
        restart="Weight gain 15 % or less",
        check=lambda obs: weight_gain_fraction(obs.values) > 0.15,
        clear=lambda obs: weight_gain_fraction(obs.values) <= 0.15,
    ),
    Rule(
        id="consensus_oxygen_relative",
        rule_set="consensus",
        description="3-4 L/min of oxygen by nasal cannula needed to keep oxygen saturation at 95 % or more",
        source=_DUTCHER,
        action="hold",
        restart="Less than 3 L/min of oxygen keeps oxygen saturation at 95 % or more",
        check=lambda obs: 3.0 - _EPS <= oxygen_requirement_l_min(obs) <= 4.0 + _EPS,
        clear=lambda obs: oxygen_requirement_l_min(obs) < 3.0 - _EPS,
    ),
    Rule(
        id="consensus_tachycardia_relative",
        rule_set="consensus",
        description="Sustained sinus tachycardia 100-130/min (at the dose time and the previous vitals check)",
        source=_DUTCHER,
        action="hold",
        restart="Heart rate below 100/min",
        check=_tachycardia_sustained,
        clear=lambda obs: _v(obs, "heart_rate_bpm") < 100.0,
    ),
    Rule(
        id="consensus_diarrhea_relative",
        rule_set="consensus",
        description="Diarrhoea of 1000 mL or more in an 8-h shift",
        source=_DUTCHER,
        action="hold",
        restart="Diarrhoea below 1000 mL in the last 8-h shift",
        check=lambda obs: (diarrhea_shift_ml(obs) or 0.0) >= 1000.0,
        clear=lambda obs: (diarrhea_shift_ml(obs) or 0.0) < 1000.0,
    ),
    Rule(
        id="consensus_confusion_relative",
        rule_set="consensus",
        description="Moderate confusion or agitation",
        source=(
            "Dutcher JP et al. J Immunother Cancer 2014;2:26 (neurological criteria "
            "recalled: not in the retrieved rows of Table 3); restart as in the " + _LABEL_PLR
        ),
        action="hold",
        restart="Mental status changes completely resolved",
        check=lambda obs: _v(obs, "confusion_score") >= 2.0,
        clear=lambda obs: _v(obs, "confusion_score") < 0.5,
    ),
    Rule(
        id="consensus_hypoxia",
        rule_set="consensus",
        description="Oxygen saturation below 90 %",
        source=_LABEL_PLR + ", applied with the consensus criteria",
        action="hold",
        restart="Oxygen saturation 90 % or more",
        check=lambda obs: _v(obs, "spo2_pct") < 90.0,
        clear=lambda obs: _v(obs, "spo2_pct") >= 90.0,
    ),
    Rule(
        id="consensus_phenylephrine_absolute",
        rule_set="consensus",
        description="Phenylephrine requirement above 1.5 ug/kg/min (highest rate over the last 8 h)",
        source=_DUTCHER,
        action="stop",
        check=lambda obs: _phenylephrine_8h(obs) > 1.5 + _EPS,
    ),
    Rule(
        id="consensus_oliguria_absolute",
        rule_set="consensus",
        description="Urine output below 80 mL per 8-h shift",
        source=_DUTCHER + "; also " + _SPRINGER,
        action="stop",
        check=lambda obs: urine_shift_ml(obs) < 80.0,
    ),
    Rule(
        id="consensus_creatinine_absolute",
        rule_set="consensus",
        description="Serum creatinine 3 mg/dL or more on the daily blood draw",
        source=_DUTCHER + "; also " + _SPRINGER,
        action="stop",
        check=lambda obs: creatinine_lab(obs) >= 3.0,
    ),
    Rule(
        id="consensus_oxygen_absolute",
        rule_set="consensus",
        description="More than 4 L/min of oxygen needed to keep oxygen saturation at 95 % or more",
        source=_DUTCHER,
        action="stop",
        check=lambda obs: oxygen_requirement_l_min(obs) > 4.0 + _EPS,
    ),
    Rule(
        id="consensus_tachycardia_absolute",
        rule_set="consensus",
        description="Sinus tachycardia above 130/min",
        source=_DUTCHER + "; also " + _SPRINGER,
        action="stop",
        check=lambda obs: _v(obs, "heart_rate_bpm") > 130.0,
    ),
    Rule(
        id="consensus_diarrhea_absolute",
        rule_set="consensus",
        description="Diarrhoea of 1000 mL or more per 8-h shift in two consecutive shifts",
        source=_DUTCHER,
        action="stop",
        check=_diarrhea_two_shifts,
    ),
    Rule(
        id="consensus_refractory_vomiting",
        rule_set="consensus",
        description="Vomiting not responding to antiemetics (6 or more episodes a day with an antiemetic given)",
        source=_DUTCHER + "; the 6-episode threshold (CTCAE grade 3) is a modelling choice",
        action="stop",
        check=lambda obs: _v(obs, "vomiting_per_day") >= 6.0 and control_now(obs, ANTIEMETIC) > 0.0,
    ),
    Rule(
        id="consensus_confusion_absolute",
        rule_set="consensus",
        description="Severe confusion, lethargy or coma",
        source=(
            "Dutcher JP et al. J Immunother Cancer 2014;2:26 (neurological criteria "
            "recalled: not in the retrieved rows of Table 3)"
        ),
        action="stop",
        check=lambda obs: _v(obs, "confusion_score") >= 3.0,
    ),
    Rule(
        id="springerplus_three_relative",
        rule_set="consensus",
        description="Three or more relative (hold) criteria met at the same time",
        source=_SPRINGER,
        action="stop",
        check=_three_relative,
    ),
    Rule(
        id="springerplus_three_holds",
        rule_set="consensus",
        description="The scheduled dose has already been held on 3 occasions in this cycle",
        source=_SPRINGER,
        action="stop",
        check=lambda obs: _holds_in_cycle(obs) >= 3,
    ),
)

#: Rule sets by name (``--rules NAME``).
@dataclass(frozen=True)
class RuleSet:
    """A named, ordered set of hold/stop rules: what :class:`~il2sim.protocol.ClinicalProtocol` applies.

    The shipped sets are in :data:`RULE_SETS`; a user's own is built the same
    way (``RuleSet("mine", (Rule(...), ...))``) and travels by value with a
    trial, to local processes and Dask workers alike (its predicates are
    pickled with cloudpickle). A shipped set pickles by name.

    Parameters
    ----------
    name
        Identifier recorded in provenance and manifests.
    rules
        The rules, in evaluation order (ids unique).
    description
        One line for ``il2sim`` help and the docs.
    """

    name: str
    rules: tuple[Rule, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"RuleSet.name: got {self.name!r}, expected a non-empty string")
        rules = tuple(self.rules)
        bad = [r for r in rules if not isinstance(r, Rule)]
        if bad:
            raise ValueError(f"RuleSet.rules: got {type(bad[0]).__name__}, expected il2sim.protocol.Rule objects")
        ids = [r.id for r in rules]
        if len(set(ids)) != len(ids):
            raise ValueError(f"RuleSet.rules: rule ids {ids!r} are not unique")
        object.__setattr__(self, "rules", rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, index: int) -> Rule:
        return self.rules[index]

    def __reduce__(self) -> tuple:
        if RULE_SETS.get(self.name) is self:
            return (rule_set, (self.name,))
        return (RuleSet, (self.name, self.rules, self.description))


RULE_SETS: Mapping[str, RuleSet] = MappingProxyType({
    "pivotal": RuleSet("pivotal", PIVOTAL_RULES, "the 1985-1993 pivotal trials and the older label"),
    "consensus": RuleSet("consensus", CONSENSUS_RULES, "the 2014 consensus (Dutcher) with SpringerPlus 2015"),
})
"""The shipped rule sets by name (``--rules``)."""


def rule_set(name: str) -> RuleSet:
    """The shipped rule set ``name``; :class:`~il2sim.UserError` (field ``rules``) for any other."""
    if not isinstance(name, str) or name not in RULE_SETS:
        raise UserError("rules", name, "one of " + ", ".join(RULE_SETS))
    return RULE_SETS[name]
