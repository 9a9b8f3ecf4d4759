r"""RECIST 1.1 response scoring on the sum of target-lesion diameters.

Pure functions: a tumour trajectory, sampled at scan times, goes in; time-point
responses and the best overall response come out.

References
----------
.. [1] Eisenhauer EA, Therasse P, Bogaerts J, et al. New response evaluation
   criteria in solid tumours: revised RECIST guideline (version 1.1).
   Eur J Cancer 2009;45(2):228-247. https://doi.org/10.1016/j.ejca.2008.10.026
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import UserError

__all__ = [
    "Scan",
    "scan_times_h",
    "follow_up_scan_times_h",
    "SCAN_SCHEDULE",
    "time_to_events",
    "timepoint_response",
    "best_overall_response",
    "score_response",
    "RESPONSE_CATEGORIES",
]

#: Best-overall-response categories, best first.
RESPONSE_CATEGORIES = ("CR", "PR", "SD", "PD", "NE")

PR_FRACTION = 0.7  # sum <= 70% of baseline (a >= 30% decrease)
PD_FRACTION = 1.2  # sum >= 120% of nadir (a >= 20% increase) ...
PD_ABSOLUTE_MM = 5.0  # ... and at least 5 mm above the nadir

# Boundary comparisons are made with these tolerances so that decimal
# boundaries (exactly -30 %, exactly +20 % and +5 mm) are honoured despite
# binary floating point; they are far below any measurable change.
_REL_TOL = 1e-9
_ABS_TOL_MM = 1e-9
_HOURS_PER_WEEK = 168.0


@dataclass(frozen=True, slots=True)
class Scan:
    """One post-baseline tumour assessment.

    Parameters
    ----------
    time_h
        Time of the scan, h since the start of treatment (baseline is t = 0).
    sum_diameters_mm
        Sum over the target lesions of their longest diameters, mm. Lesions
        below the detection limit contribute 0.
    all_targets_absent
        True when every target lesion is below the detection limit (the
        simulator's "disappearance of all target lesions").
    new_lesion
        True when a new lesion has appeared (progression by definition).

    Raises
    ------
    UserError
        If ``time_h`` is not finite or ``sum_diameters_mm`` is not a finite
        number >= 0.
    """

    time_h: float
    sum_diameters_mm: float
    all_targets_absent: bool = False
    new_lesion: bool = False

    def __post_init__(self) -> None:
        if not _finite(self.time_h):
            raise UserError("time_h", self.time_h, "a finite number of hours")
        if not _finite(self.sum_diameters_mm) or self.sum_diameters_mm < 0:
            raise UserError(
                "sum_diameters_mm", self.sum_diameters_mm, "a finite number >= 0 (mm)"
            )
        object.__setattr__(self, "time_h", float(self.time_h))
        object.__setattr__(self, "sum_diameters_mm", float(self.sum_diameters_mm))
        object.__setattr__(self, "all_targets_absent", bool(self.all_targets_absent))
        object.__setattr__(self, "new_lesion", bool(self.new_lesion))


def _finite(x: object) -> bool:
    return (
        isinstance(x, int | float | np.integer | np.floating)
        and not isinstance(x, bool)
        and math.isfinite(float(x))
    )


def scan_times_h(follow_up_weeks: float = 52, interval_weeks: float = 8) -> np.ndarray:
    """Post-baseline scan times: every ``interval_weeks`` until the end of follow-up.

    Parameters
    ----------
    follow_up_weeks
        Length of follow-up from t = 0, weeks (> 0).
    interval_weeks
        Interval between scans, weeks (> 0).

    Returns
    -------
    numpy.ndarray
        ``168 * interval_weeks * k`` h for ``k = 1, 2, ...`` up to and
        including ``168 * follow_up_weeks`` h. Baseline (t = 0) is not
        included. With the defaults: weeks 8, 16, ..., 48 (6 scans; the first
        on day 57).

    Raises
    ------
    UserError
        If an argument is not a finite positive number.
    """
    if not _finite(follow_up_weeks) or follow_up_weeks <= 0:
        raise UserError("follow_up_weeks", follow_up_weeks, "a number of weeks > 0")
    if not _finite(interval_weeks) or interval_weeks <= 0:
        raise UserError("interval_weeks", interval_weeks, "a number of weeks > 0")
    n = math.floor(follow_up_weeks / interval_weeks * (1 + 1e-12))
    return _HOURS_PER_WEEK * interval_weeks * np.arange(1, n + 1, dtype=float)


SCAN_SCHEDULE: tuple[tuple[float, float], ...] = ((48.0, 8.0), (156.0, 12.0), (520.0, 24.0))
"""Restaging schedule of a long follow-up: ``(until week, every weeks)``.

Every 8 weeks from day 1 to week 48 (the contract's schedule; 8-weekly CT in
the first year), then every 12 weeks to week 156 (3 years), then every 24
weeks to week 520 (10 years). il2sim's choice, set to the intervals modern
melanoma and RCC trials use after the first year; the pivotal IL-2 trials
restaged before each course and then "every 2-3 months" (not verified).
"""


def follow_up_scan_times_h(follow_up_weeks: float = 52) -> np.ndarray:
    """Post-baseline scan times of a follow-up by :data:`SCAN_SCHEDULE`, h.

    Weeks 8, 16, ..., 48, then 60, 72, ..., 156, then 180, 204, ... up to and
    including ``follow_up_weeks``. For up to 52 weeks this is
    :func:`scan_times_h` with its defaults.

    Raises
    ------
    UserError
        If ``follow_up_weeks`` is not a finite number > 0.
    """
    if not _finite(follow_up_weeks) or follow_up_weeks <= 0:
        raise UserError("follow_up_weeks", follow_up_weeks, "a number of weeks > 0")
    weeks: list[float] = []
    w = 0.0
    for until, every in SCAN_SCHEDULE:
        while w + every <= until + 1e-9:
            w += every
            if w > follow_up_weeks * (1 + 1e-12):
                return _HOURS_PER_WEEK * np.array(weeks, dtype=float)
            weeks.append(w)
    return _HOURS_PER_WEEK * np.array(weeks, dtype=float)


def timepoint_response(scan: Scan, baseline_sum: float, nadir_sum: float) -> str:
    """Response at one assessment (target lesions and new lesions).

    Parameters
    ----------
    scan
        The assessment.
    baseline_sum
        Sum of diameters at baseline, mm.
    nadir_sum
        Smallest sum recorded *before* this scan, baseline included, mm.

    Returns
    -------
    str
        ``"CR"``, ``"PR"``, ``"SD"`` or ``"PD"``, decided in this order
        (progression takes precedence):

        1. ``PD`` if a new lesion has appeared, or the sum is at least 20 %
           above the nadir **and** at least 5 mm above it;
        2. ``CR`` if every target lesion is below the detection limit;
        3. ``PR`` if the sum is at least 30 % below the baseline sum;
        4. ``SD`` otherwise.

    Notes
    -----
    Boundaries are inclusive: exactly -30 % is PR, exactly +20 % together with
    exactly +5 mm is PD (comparisons use a 1e-9 relative / 1e-9 mm tolerance).
    After a CR (nadir 0) any regrowth of at least 5 mm is PD.

    References
    ----------
    .. [1] Eisenhauer et al. Eur J Cancer 2009;45:228, section 4.3.1.
       https://doi.org/10.1016/j.ejca.2008.10.026
    """
    s = scan.sum_diameters_mm
    if scan.new_lesion or (
        s >= PD_FRACTION * nadir_sum * (1 - _REL_TOL)
        and s - nadir_sum >= PD_ABSOLUTE_MM - _ABS_TOL_MM
    ):
        return "PD"
    if scan.all_targets_absent:
        return "CR"
    if s <= PR_FRACTION * baseline_sum * (1 + _REL_TOL):
        return "PR"
    return "SD"


def _check_inputs(baseline_sum_mm: float, scans: Sequence[Scan]) -> tuple[Scan, ...]:
    if not _finite(baseline_sum_mm) or baseline_sum_mm <= 0:
        raise UserError("baseline_sum_mm", baseline_sum_mm, "a finite number > 0 (mm)")
    scans = tuple(scans)
    last = 0.0
    for i, sc in enumerate(scans):
        if not isinstance(sc, Scan):
            raise UserError(f"scans[{i}]", sc, "a Scan")
        if sc.time_h <= last:
            raise UserError(
                f"scans[{i}].time_h",
                sc.time_h,
                f"a time after baseline (0 h) and after the previous scan ({last:g} h)",
            )
        last = sc.time_h
    return scans


def score_response(
    baseline_sum_mm: float,
    scans: Sequence[Scan],
    *,
    confirm_min_weeks: float = 4,
    sd_min_weeks: float = 6,
) -> dict[str, Any]:
    """Score a tumour trajectory by RECIST 1.1.

    Parameters
    ----------
    baseline_sum_mm
        Sum of target-lesion diameters at baseline (t = 0), mm (> 0).
    scans
        Post-baseline assessments in strictly increasing time order (> 0 h).

    Other Parameters
    ----------------
    confirm_min_weeks
        Minimum interval between a CR/PR and the scan that confirms it, weeks.
    sd_min_weeks
        Minimum time from baseline of a non-PD assessment for SD, weeks.

    Returns
    -------
    dict
        ``best_overall_response`` (str), ``responses`` (time-point response of
        every scan, ``None`` for scans after the first PD, which are ignored),
        ``nadir_refs_mm`` (nadir used as the PD reference at each scan, ``None``
        after the first PD), ``nadir_mm`` (smallest sum up to the first PD,
        baseline included), ``first_pd_time_h`` (or ``None``),
        ``confirmed_time_h`` (time of the response confirmed as the best
        CR/PR, or ``None``), ``first_response_time_h`` (first scan of the
        first confirmed CR/PR stretch, at any level, or ``None``).

    Raises
    ------
    UserError
        On a non-positive baseline, a non-Scan entry, or scan times that are
        not strictly increasing after 0.

    See Also
    --------
    best_overall_response : the rules.
    """
    scans = _check_inputs(baseline_sum_mm, scans)
    confirm_h = _HOURS_PER_WEEK * confirm_min_weeks
    sd_h = _HOURS_PER_WEEK * sd_min_weeks

    responses: list[str | None] = []
    nadir_refs: list[float | None] = []
    nadir = float(baseline_sum_mm)
    first_pd: int | None = None
    for i, sc in enumerate(scans):
        if first_pd is not None:
            responses.append(None)
            nadir_refs.append(None)
            continue
        r = timepoint_response(sc, baseline_sum_mm, nadir)
        responses.append(r)
        nadir_refs.append(nadir)
        if r == "PD":
            first_pd = i
        else:
            nadir = min(nadir, sc.sum_diameters_mm)

    evaluated = [r for r in responses if r is not None]
    n = len(evaluated)
    best = "NE"
    confirmed_time: float | None = None
    first_response: float | None = None
    if n:
        rank = {"CR": 2, "PR": 1}
        best_level = 0
        for i in range(n):
            level = rank.get(evaluated[i], 0)
            if level <= best_level:
                continue
            # First later scan at least confirm_h after scan i; every scan
            # from i to j must be CR/PR, and the confirmed level is the lowest.
            for j in range(i + 1, n):
                level = min(level, rank.get(evaluated[j], 0))
                if level == 0:
                    break
                if scans[j].time_h - scans[i].time_h >= confirm_h - 1e-9:
                    if level > best_level:
                        if best_level == 0:
                            first_response = scans[i].time_h
                        best_level, confirmed_time = level, scans[i].time_h
                    break
        if best_level == 2:
            best = "CR"
        elif best_level == 1:
            best = "PR"
        elif any(
            r != "PD" and scans[k].time_h >= sd_h - 1e-9 for k, r in enumerate(evaluated)
        ):
            best = "SD"
        elif first_pd is not None:
            best = "PD"
    return {
        "best_overall_response": best,
        "responses": responses,
        "nadir_refs_mm": nadir_refs,
        "nadir_mm": nadir,
        "first_pd_time_h": None if first_pd is None else scans[first_pd].time_h,
        "confirmed_time_h": confirmed_time,
        "first_response_time_h": first_response,
    }


def best_overall_response(
    baseline_sum_mm: float,
    scans: Sequence[Scan],
    *,
    confirm_min_weeks: float = 4,
    sd_min_weeks: float = 6,
) -> str:
    """Best overall response by RECIST 1.1, with confirmation of CR and PR.

    Parameters
    ----------
    baseline_sum_mm
        Sum of target-lesion diameters at baseline (t = 0), mm (> 0).
    scans
        Post-baseline assessments in strictly increasing time order (> 0 h).

    Other Parameters
    ----------------
    confirm_min_weeks
        Minimum interval between a CR/PR and the scan that confirms it, weeks.
    sd_min_weeks
        Minimum time from baseline of a non-PD assessment for SD, weeks.

    Returns
    -------
    str
        One of ``"CR"``, ``"PR"``, ``"SD"``, ``"PD"``, ``"NE"``.

    Raises
    ------
    UserError
        On a non-positive baseline, a non-Scan entry, or scan times that are
        not strictly increasing after 0.

    Notes
    -----
    Rules (RECIST 1.1 sections 4.3-4.4 and Appendix Table 3, "confirmation
    required"):

    1. Each scan gets a time-point response from :func:`timepoint_response`,
       with the nadir being the smallest sum recorded before it, baseline
       included.
    2. Scans after the first PD are ignored.
    3. No post-baseline scan: ``NE``.
    4. A CR or PR at scan *i* is confirmed by the first later scan *j* that
       is at least ``confirm_min_weeks`` after it, provided every scan from
       *i* to *j* is CR or PR (an intervening SD or PD breaks the response).
       The confirmed category is the lowest in that stretch: CR needs CR
       throughout; PR is confirmed by PR or CR (so CR followed by PR is PR).
       The best confirmed category is the best overall response.
    5. Otherwise (no confirmed CR/PR; an unconfirmed CR/PR counts as SD)
       ``SD`` if some non-PD assessment is at least ``sd_min_weeks`` after
       baseline.
    6. Otherwise ``PD`` if progression was recorded (first assessment PD, or
       early SD/PR followed by PD before SD could qualify), else ``NE``
       (for instance a single early non-PD scan).

    The contract's "confirmation at the next scan, at least 4 weeks later" is
    rule 4 with the scans 8 weeks apart.

    References
    ----------
    .. [1] Eisenhauer EA et al. New response evaluation criteria in solid
       tumours: revised RECIST guideline (version 1.1). Eur J Cancer
       2009;45:228-247. https://doi.org/10.1016/j.ejca.2008.10.026

    Examples
    --------
    >>> wk = 168.0
    >>> best_overall_response(100.0, [Scan(8 * wk, 60.0), Scan(16 * wk, 65.0)])
    'PR'
    """
    return score_response(
        baseline_sum_mm,
        scans,
        confirm_min_weeks=confirm_min_weeks,
        sd_min_weeks=sd_min_weeks,
    )["best_overall_response"]


def time_to_events(
    baseline_sum_mm: float,
    scans: Sequence[Scan],
    *,
    end_h: float,
    death_h: float | None = None,
    death_cause: str = "",
    confirm_min_weeks: float = 4,
) -> dict[str, Any]:
    """Time-to-event endpoints of one patient (contract: trial outputs), weeks from t = 0.

    Parameters
    ----------
    baseline_sum_mm, scans
        As for :func:`score_response`: the scans up to death or the end of
        follow-up.
    end_h
        End of follow-up, h: the death time when the patient died, else the
        end of the simulated follow-up.
    death_h, death_cause
        Time of death (``None``: alive at ``end_h``) and its cause
        (``"disease"`` or ``"treatment"``).

    Returns
    -------
    dict
        ``best_overall_response``; ``response_week`` (first scan of the
        first confirmed CR/PR, NaN for a non-responder);
        ``response_duration_weeks`` with ``response_duration_event`` (from
        the first response to progression or death; censored at the last
        scan); ``pfs_weeks`` with ``progressed`` (the PFS event: RECIST
        progression, dated at the scan that shows it, or death, whichever
        first; censored at the last scan, or at 0 with none) and
        ``pfs_event`` (``"progression"``, ``"death"`` or ``""``); ``os_weeks``
        with ``died`` (censored at ``end_h``) and ``death_cause``.

    Notes
    -----
    A response is confirmed as in :func:`score_response` (the next scan at
    least ``confirm_min_weeks`` later, every scan between CR or PR). The
    duration of response runs from the first scan of that stretch, also
    when a CR confirmed later is the best response (RECIST 1.1 section
    4.6: "from the time measurement criteria are first met for CR/PR").
    """
    scans = tuple(scans)
    scored: dict[str, Any] = score_response(baseline_sum_mm, scans, confirm_min_weeks=confirm_min_weeks) if scans else {
        "best_overall_response": "NE", "first_pd_time_h": None, "first_response_time_h": None}
    start_h = scored["first_response_time_h"]
    pd_h = scored["first_pd_time_h"]
    last_scan_h = scans[-1].time_h if scans else 0.0
    died = death_h is not None
    death_at = math.inf if death_h is None else float(death_h)
    if pd_h is not None and pd_h <= death_at + 1e-9:
        pfs_h, pfs_event = float(pd_h), "progression"
    elif died:
        pfs_h, pfs_event = death_at, "death"
    else:
        pfs_h, pfs_event = float(last_scan_h), ""
    wk = _HOURS_PER_WEEK
    out: dict[str, Any] = {
        "best_overall_response": scored["best_overall_response"],
        "response_week": math.nan,
        "response_duration_weeks": math.nan,
        "response_duration_event": False,
        "pfs_weeks": pfs_h / wk,
        "progressed": bool(pfs_event),
        "pfs_event": pfs_event,
        "os_weeks": (death_at if died else float(end_h)) / wk,
        "died": died,
        "death_cause": str(death_cause) if died else "",
    }
    if start_h is not None:
        out["response_week"] = start_h / wk
        out["response_duration_weeks"] = (pfs_h - start_h) / wk if pfs_event else (last_scan_h - start_h) / wk
        out["response_duration_event"] = bool(pfs_event)
    return out
