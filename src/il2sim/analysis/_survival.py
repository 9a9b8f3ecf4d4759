"""Time-to-event endpoints per arm: Kaplan-Meier PFS, OS and duration of response; Cox hazard ratios.

Pure functions of the patient table (no I/O, no plotting). The estimates come
from lifelines (:class:`lifelines.KaplanMeierFitter`,
:class:`lifelines.CoxPHFitter`); every value returned is a plain Python
``int``, ``float``, ``str``, ``list``, ``dict`` or ``None`` (never NaN or
infinity), so the result goes straight into ``summary.json``.

Conventions
-----------
- Times in the patient table are weeks from t = 0; the summary reports months
  and years of the calendar average: 1 month = 365.25 / 12 days
  (:data:`WEEKS_PER_MONTH` = 4.348 weeks) and 1 year = 365.25 days
  (:data:`WEEKS_PER_YEAR` = 52.18 weeks), so the 1-, 2- and 5-year landmarks
  are at 52.18, 104.36 and 260.89 weeks.
- Patients whose simulation failed (``status != "ok"``) are left out of every
  estimate and counted in ``n_excluded``; a successful row whose time is not a
  finite number is left out of that endpoint and counted in its ``n_missing``.
- Kaplan-Meier confidence intervals are lifelines' exponential Greenwood
  (log(-log S)) 95 % intervals; the interval of the median is the set of times
  at which that band contains 0.5 (Brookmeyer and Crowley), read with
  :func:`lifelines.utils.median_survival_times`. The median is the first time at
  which S(t) <= 0.5; ``None`` when the curve never gets there ("not reached").
- A landmark rate S(t) is ``None`` (not estimable) when t lies beyond the last
  follow-up time and the curve has not reached 0 there (someone was still
  followed, event-free, when follow-up ended).
- Hazard ratios are from a Cox proportional-hazards model with one covariate
  (1 on the arm, 0 on the reference arm), Efron's method for ties, with the
  Wald 95 % interval and p-value. A comparison that has no event on one of its
  arms, or whose fit does not converge to a finite estimate (complete
  separation), gives ``None`` values and a ``note`` that says why.

References
----------
Kaplan EL, Meier P. Nonparametric estimation from incomplete observations.
J Am Stat Assoc 1958;53:457-481. doi:10.1080/01621459.1958.10501452

Brookmeyer R, Crowley J. A confidence interval for the median survival time.
Biometrics 1982;38:29-41. doi:10.2307/2530286

Cox DR. Regression models and life-tables. J R Stat Soc B 1972;34:187-220.
doi:10.1111/j.2517-6161.1972.tb00899.x

Davidson-Pilon C. lifelines: survival analysis in Python. J Open Source Softw
2019;4:1317. doi:10.21105/joss.01317
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LANDMARKS_YEARS",
    "TIME_TO_EVENT_COLUMNS",
    "WEEKS_PER_MONTH",
    "WEEKS_PER_YEAR",
    "arm_survival",
    "has_time_to_event",
    "hazard_ratios",
    "km_endpoint",
]

#: Weeks in one month of the calendar average (365.25 / 12 days).
WEEKS_PER_MONTH = 365.25 / 12.0 / 7.0
#: Weeks in one year of the calendar average (365.25 days).
WEEKS_PER_YEAR = 365.25 / 7.0
#: Landmark times (years) of the ``at_1y``, ``at_2y`` and ``at_5y`` rates.
LANDMARKS_YEARS = (1, 2, 5)
#: Months between the columns of the numbers-at-risk table.
AT_RISK_STEP_MONTHS = 6.0
#: Patient-table columns the PFS and OS estimates need (without them :func:`arm_survival` returns ``{}``).
TIME_TO_EVENT_COLUMNS = ("pfs_weeks", "progressed", "os_weeks", "died")
#: Further columns the duration of response needs.
DOR_COLUMNS = ("response_duration_weeks", "response_duration_event", "best_overall_response")

_RESPONDERS = ("CR", "PR")
_ENDPOINTS = {"pfs": ("pfs_weeks", "progressed"), "os": ("os_weeks", "died")}
#: A Cox log hazard ratio beyond this magnitude (HR outside 4.5e-5 .. 2.2e4) is a fit running off to infinity.
_MAX_ABS_LOG_HR = 10.0
_CURVE_DIGITS = 6


# ------------------------------------------------------------------- helpers


def _finite_or_none(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _bool_array(values: Any) -> np.ndarray:
    """Truth of each value, with missing values (None, NaN, pandas NA) as False."""
    out = []
    for v in np.asarray(values, dtype=object).ravel():
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            out.append(False)
        else:
            out.append(bool(v))
    return np.array(out, dtype=bool)


def _float_array(values: Any) -> np.ndarray:
    return pd.to_numeric(pd.Series(np.asarray(values, dtype=object).ravel()), errors="coerce").to_numpy(dtype=float)


def _step_at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    """Value at ``t`` of the right-continuous step function through (``times``, ``values``)."""
    i = int(np.searchsorted(times, t, side="right")) - 1
    return float(values[i]) if i >= 0 else float("nan")


def _rounded(values: np.ndarray, digits: int = _CURVE_DIGITS) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in values]


def has_time_to_event(patients: pd.DataFrame) -> bool:
    """Whether the patient table has the PFS and OS columns (:data:`TIME_TO_EVENT_COLUMNS`)."""
    return all(c in patients.columns for c in TIME_TO_EVENT_COLUMNS)


# --------------------------------------------------------------- Kaplan-Meier


def _empty_endpoint(n_missing: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"n": 0, "events": 0, "n_missing": n_missing, "median_months": None, "ci95": [None, None]}
    for y in LANDMARKS_YEARS:
        out[f"at_{y}y"] = None
        out[f"at_{y}y_ci95"] = [None, None]
    out["max_follow_up_months"] = None
    out["curve"] = {"time_months": [], "survival": [], "lower": [], "upper": [], "censored_months": []}
    out["at_risk"] = {"time_months": [], "n": []}
    return out


def km_endpoint(durations_weeks: Sequence[float] | np.ndarray, events: Sequence[bool] | np.ndarray) -> dict[str, Any]:
    """Kaplan-Meier estimate of one time-to-event endpoint, summarised for ``summary.json``.

    Parameters
    ----------
    durations_weeks
        Time of each patient from t = 0 (or from response, for the duration of
        response) to the event or to censoring, in weeks; finite and >= 0.
    events
        ``True`` where the event was observed, ``False`` where the time is
        censored (the patient was event-free at the end of follow-up).

    Returns
    -------
    dict
        ``n``, ``events``, ``n_missing`` (always 0 here; :func:`arm_survival`
        counts rows without a time), ``median_months`` (``None`` if not
        reached) with ``ci95`` ([lo, hi]; an end is ``None`` where the band
        never reaches 0.5), ``at_1y``, ``at_2y``, ``at_5y`` (S at 1, 2, 5 years;
        ``None`` when not estimable) each with ``at_<k>y_ci95``,
        ``max_follow_up_months``, ``curve`` (``time_months``, ``survival``,
        ``lower``, ``upper`` of the step function, from time 0, rounded to 6
        decimals, ``None`` where the band is undefined; ``censored_months``: the
        times at which patients were censored) and ``at_risk``
        (``time_months`` 0, 6, 12, ... up to the longest follow-up and ``n``,
        the patients still followed and event-free just before each time).

    Raises
    ------
    ValueError
        If the two inputs differ in length, or a duration is negative or not finite.

    Notes
    -----
    The product-limit estimator is

    .. math:: \\hat S(t) = \\prod_{t_i \\le t} \\left(1 - \\frac{d_i}{n_i}\\right)

    with :math:`d_i` events among the :math:`n_i` patients at risk at time
    :math:`t_i`. See the module docstring for the intervals and landmarks.
    """
    t = np.asarray(durations_weeks, dtype=float).ravel()
    e = _bool_array(events)
    if t.shape != e.shape:
        raise ValueError(f"durations_weeks and events must have the same length; got {t.size} and {e.size}")
    bad = ~np.isfinite(t) | (t < 0)
    if bad.any():
        raise ValueError(f"durations_weeks must be finite and >= 0; got {t[bad][0]!r} (and {int(bad.sum()) - 1} more)")
    if t.size == 0:
        return _empty_endpoint()

    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        kmf = KaplanMeierFitter(alpha=0.05).fit(t, event_observed=e)
        median_ci = median_survival_times(kmf.confidence_interval_)
    times = kmf.survival_function_.index.to_numpy(dtype=float)
    surv = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
    lower = kmf.confidence_interval_.iloc[:, 0].to_numpy(dtype=float)
    upper = kmf.confidence_interval_.iloc[:, 1].to_numpy(dtype=float)

    t_max = float(np.max(t))
    reaches_zero = bool(surv[-1] <= 0.0)

    def at(weeks: float) -> tuple[float | None, list[float | None]]:
        if weeks > t_max and not reaches_zero:
            return None, [None, None]
        return (_finite_or_none(_step_at(times, surv, weeks)),
                [_finite_or_none(_step_at(times, lower, weeks)), _finite_or_none(_step_at(times, upper, weeks))])

    out: dict[str, Any] = {
        "n": int(t.size),
        "events": int(e.sum()),
        "n_missing": 0,
        "median_months": _months(kmf.median_survival_time_),
        "ci95": [_months(median_ci.iloc[0, 0]), _months(median_ci.iloc[0, 1])],
    }
    for y in LANDMARKS_YEARS:
        s, ci = at(y * WEEKS_PER_YEAR)
        out[f"at_{y}y"] = s
        out[f"at_{y}y_ci95"] = ci
    t_months = t / WEEKS_PER_MONTH
    max_months = float(np.max(t_months))
    grid = np.arange(0.0, max_months + 1e-9, AT_RISK_STEP_MONTHS)
    out["max_follow_up_months"] = max_months
    out["curve"] = {
        "time_months": _rounded(times / WEEKS_PER_MONTH),
        "survival": _rounded(surv),
        "lower": _rounded(lower),
        "upper": _rounded(upper),
        "censored_months": _rounded(np.unique(t_months[~e])),
    }
    out["at_risk"] = {"time_months": [float(g) for g in grid], "n": [int(np.sum(t_months >= g)) for g in grid]}
    return out


def _months(weeks: Any) -> float | None:
    v = _finite_or_none(weeks)
    return None if v is None else v / WEEKS_PER_MONTH


# ------------------------------------------------------------------- one arm


def _ok(patients: pd.DataFrame) -> np.ndarray:
    if "status" not in patients.columns:
        return np.ones(len(patients), dtype=bool)
    return patients["status"].astype(str).to_numpy() == "ok"


def _endpoint_of(durations: np.ndarray, events: np.ndarray) -> dict[str, Any]:
    keep = np.isfinite(durations) & (durations >= 0)
    out = km_endpoint(durations[keep], events[keep])
    out["n_missing"] = int(np.sum(~keep))
    return out


def arm_survival(patients: pd.DataFrame) -> dict[str, Any]:
    """PFS, OS and duration of response of one arm (the rows of one ``arm`` of the patient table).

    Parameters
    ----------
    patients
        The arm's rows, with the time-to-event columns ``pfs_weeks``,
        ``progressed``, ``os_weeks``, ``died`` and, for the duration of
        response, ``response_duration_weeks``, ``response_duration_event`` and
        ``best_overall_response``.

    Returns
    -------
    dict
        ``{"pfs": ..., "os": ..., "dor": ..., "n_excluded": int}``, each
        endpoint as :func:`km_endpoint` returns it. ``dor`` is estimated over
        the responders (best overall response CR or PR) with a finite
        ``response_duration_weeks``; it is ``None`` when the table lacks its
        columns. ``n_excluded`` counts the failed simulations left out of every
        estimate. ``{}`` when the table has no PFS/OS columns (an older table),
        so callers can leave the survival endpoints out.
    """
    if not has_time_to_event(patients):
        return {}
    ok = _ok(patients)
    rows = patients.loc[ok]
    out: dict[str, Any] = {}
    for name, (time_col, event_col) in _ENDPOINTS.items():
        out[name] = _endpoint_of(_float_array(rows[time_col]), _bool_array(rows[event_col]))
    if all(c in patients.columns for c in DOR_COLUMNS):
        bor = rows["best_overall_response"].astype(object).to_numpy()
        responder = np.array([isinstance(r, str) and r in _RESPONDERS for r in bor], dtype=bool)
        resp = rows.loc[responder]
        out["dor"] = _endpoint_of(_float_array(resp["response_duration_weeks"]),
                                  _bool_array(resp["response_duration_event"]))
    else:
        out["dor"] = None
    out["n_excluded"] = int(np.sum(~ok))
    return out


# ------------------------------------------------------------- hazard ratios


def _not_estimable(note: str, n: int = 0, events: int = 0) -> dict[str, Any]:
    return {"hr": None, "ci95": [None, None], "p": None, "n": n, "events": events, "note": note}


def _cox(durations: np.ndarray, events: np.ndarray, on_arm: np.ndarray, arm: str, reference: str) -> dict[str, Any]:
    """Cox hazard ratio of ``on_arm`` (1) against the reference (0), or why it cannot be estimated."""
    keep = np.isfinite(durations) & (durations >= 0)
    t, e, x = durations[keep], events[keep], on_arm[keep]
    n, d = int(t.size), int(e.sum())
    d_arm, d_ref = int(np.sum(e & x)), int(np.sum(e & ~x))
    if not x.any() or x.all():
        return _not_estimable(f"no patient with a time on {arm if not x.any() else reference}", n, d)
    if d_arm == 0 or d_ref == 0:
        return _not_estimable(f"no event on {arm if d_arm == 0 else reference}: the hazard ratio is not estimable", n, d)

    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    df = pd.DataFrame({"t": t, "e": e.astype(int), "arm": x.astype(float)})
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            cph = CoxPHFitter(alpha=0.05).fit(df, duration_col="t", event_col="e")
        except (ConvergenceError, np.linalg.LinAlgError, ValueError) as err:
            return _not_estimable(f"the Cox fit did not converge ({type(err).__name__}: {str(err).splitlines()[0][:160]})",
                                  n, d)
    row = cph.summary.loc["arm"]
    coef = _finite_or_none(row["coef"])
    lo, hi = _finite_or_none(row["exp(coef) lower 95%"]), _finite_or_none(row["exp(coef) upper 95%"])
    p = _finite_or_none(row["p"])
    if coef is None or abs(coef) > _MAX_ABS_LOG_HR or lo is None or hi is None or lo <= 0.0 or p is None:
        why = next((str(w.message).splitlines()[0][:160] for w in caught), "the estimate runs off to 0 or infinity")
        return _not_estimable(f"the Cox fit has no finite estimate (complete separation?): {why}", n, d)
    return {"hr": math.exp(coef), "ci95": [lo, hi], "p": p, "n": n, "events": d, "note": None}


def hazard_ratios(patients: pd.DataFrame, reference_arm: str | None = None) -> dict[str, Any]:
    """Cox hazard ratio of PFS and OS of each arm against a reference arm.

    Parameters
    ----------
    patients
        The patient table (all arms), with the columns ``arm``, ``status`` and
        :data:`TIME_TO_EVENT_COLUMNS`. Failed simulations are left out.
    reference_arm
        The arm the others are compared with; the first arm in sorted order
        when not given.

    Returns
    -------
    dict
        ``{arm: {"reference": reference_arm, "pfs": {...}, "os": {...}}}`` for
        every arm but the reference, in sorted order; each endpoint
        ``{"hr", "ci95": [lo, hi], "p", "n", "events", "note"}`` where ``hr`` is
        the hazard of the arm over the hazard of the reference (below 1: the
        arm does better), ``n`` and ``events`` count both arms, and ``note`` is
        ``None``, or says why ``hr``, ``ci95`` and ``p`` are ``None`` (no event
        on an arm, no convergence). ``{}`` with fewer than two arms or without
        the time-to-event columns.

    Raises
    ------
    ValueError
        If ``reference_arm`` is not an arm of the table.
    """
    if not len(patients) or "arm" not in patients.columns or not has_time_to_event(patients):
        return {}
    if "patient_id" in patients.columns:  # the fit sums in row order: make it the table's own
        patients = patients.sort_values(["arm", "patient_id"], kind="mergesort")
    arm_col = patients["arm"].astype(str).to_numpy()
    names = sorted(set(arm_col))
    reference = names[0] if reference_arm is None else str(reference_arm)
    if reference not in names:
        raise ValueError(f"reference_arm must be one of the table's arms {names}; got {reference_arm!r}")
    ok = _ok(patients)
    out: dict[str, Any] = {}
    for a in names:
        if a == reference:
            continue
        sel = ok & ((arm_col == a) | (arm_col == reference))
        rows = patients.loc[sel]
        on_arm = arm_col[sel] == a
        entry: dict[str, Any] = {"reference": reference}
        for name, (time_col, event_col) in _ENDPOINTS.items():
            entry[name] = _cox(_float_array(rows[time_col]), _bool_array(rows[event_col]), on_arm, a, reference)
        out[a] = entry
    return out
