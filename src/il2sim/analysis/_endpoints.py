"""Trial endpoints per arm: response rates with Wilson intervals, dosing and toxicity incidence.

Pure functions of the sorted patient table (no I/O). Every value returned is a
plain Python ``int``, ``float``, ``str``, ``list``, ``dict`` or ``None`` so the
result can go straight into ``summary.json``; nothing depends on row order
beyond the table's own (``arm``, ``patient_id``) sort, so the summary is
bit-identical for the same table.

Conventions
-----------
- Response rates use all patients of the arm as the denominator; a patient
  whose simulation failed (``status != "ok"``) counts as ``NE`` whatever its
  ``best_overall_response`` says.
- ``incidence`` / ``incidence_grade3plus`` also use all patients of the arm as
  the denominator (a failed patient counts as an event only if its row says so).
- ``median_doses_first_course`` is the median over the patients whose
  simulation succeeded; ``None`` when there is none.
- Values that are undefined (an empty arm) are ``None``, never NaN, so the JSON
  stays strict.
- When the table has the time-to-event columns
  (:data:`il2sim.analysis.TIME_TO_EVENT_COLUMNS`), each arm also gets
  ``survival`` (:func:`il2sim.analysis.arm_survival`: PFS, OS and duration of
  response, failed simulations excluded) and the trial ``hazard_ratio``
  (:func:`il2sim.analysis.hazard_ratios`) when it has two or more arms; an
  older table without them gives the summary it always gave.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ._adverse import TERMS
from ._survival import arm_survival, has_time_to_event, hazard_ratios

__all__ = ["arm_summary", "trial_summary", "wilson_interval"]

_Z95 = 1.959963984540054
_CATEGORIES = ("CR", "PR", "SD", "PD", "NE")


def wilson_interval(k: float, n: int, z: float = _Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n`` (the one il2sim uses everywhere).

    ``k`` is the number of successes; it need not be a whole number when it
    comes from a published proportion (``p * n``). Returns ``(nan, nan)``
    when ``n == 0``. The bounds are clipped to [0, 1] (``lo`` is exactly 0
    when ``k == 0`` and ``hi`` exactly 1 when ``k == n``).
    """
    k = float(k)
    n = int(n)
    if n <= 0:
        return (math.nan, math.nan)
    if k < 0 or k > n:
        raise ValueError(f"k must be in [0, n]; got k={k}, n={n}")
    p = k / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (float(lo), float(hi))


def _frac(k: int, n: int) -> float | None:
    return float(k) / float(n) if n > 0 else None


def _none_if_nan(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _terms(patients: pd.DataFrame) -> list[str]:
    """Canonical terms (in TERMS order) that the table has columns for."""
    return [t for t in TERMS if f"reported_{t}" in patients.columns or f"grade_{t}" in patients.columns]


def _responses(patients: pd.DataFrame) -> np.ndarray:
    """Best overall response per row, with failed patients (and unknown values) as NE."""
    bor = patients["best_overall_response"].astype(object).to_numpy()
    ok = patients["status"].astype(str).to_numpy() == "ok"
    out = np.array(["NE"] * len(patients), dtype=object)
    for i, (r, good) in enumerate(zip(bor, ok)):
        if good and isinstance(r, str) and r in _CATEGORIES:
            out[i] = r
    return out


def arm_summary(patients: pd.DataFrame) -> dict[str, Any]:
    """Endpoints of one arm (the rows of one ``arm`` of the patient table).

    Keys: ``n_patients``, ``n_failed``, ``n_out_of_domain`` (patients who
    reached a limit of :data:`il2sim.analysis.DOMAIN_LIMITS`), ``orr``, ``cr_rate``, ``pr_rate``,
    ``sd_rate``, ``pd_rate``, ``ne_rate``, ``median_doses_first_course``,
    ``incidence`` ({term: fraction reported}), ``incidence_grade3plus``
    ({term: fraction with CTCAE grade >= 3}) and ``orr_ci95`` ([lo, hi], Wilson);
    plus ``survival`` (:func:`il2sim.analysis.arm_survival`) when the table has
    the time-to-event columns.
    """
    n = len(patients)
    ok = patients["status"].astype(str).to_numpy() == "ok" if n else np.zeros(0, dtype=bool)
    n_failed = n - int(ok.sum())
    resp = _responses(patients) if n else np.zeros(0, dtype=object)
    counts = {c: int(np.sum(resp == c)) for c in _CATEGORIES}
    n_obj = counts["CR"] + counts["PR"]

    if n and "doses_first_course" in patients.columns and ok.any():
        d = pd.to_numeric(patients["doses_first_course"], errors="coerce").to_numpy(dtype=float)[ok]
        d = d[np.isfinite(d)]
        median = float(np.median(d)) if d.size else None
    else:
        median = None

    incidence: dict[str, float | None] = {}
    grade3: dict[str, float | None] = {}
    for t in _terms(patients):
        col = f"reported_{t}"
        if col in patients.columns:
            rep = patients[col].fillna(False).astype(bool).to_numpy()
            incidence[t] = _frac(int(rep.sum()), n)
        col = f"grade_{t}"
        if col in patients.columns:
            g = pd.to_numeric(patients[col], errors="coerce").fillna(0).to_numpy(dtype=float)
            grade3[t] = _frac(int(np.sum(g >= 3)), n)

    lo, hi = wilson_interval(n_obj, n)
    if n and "out_of_domain" in patients.columns:
        n_out = int((patients["out_of_domain"].fillna("").astype(str) != "").sum())
    else:
        n_out = 0
    out: dict[str, Any] = {
        "n_patients": n,
        "n_failed": n_failed,
        "n_out_of_domain": n_out,
        "orr": _frac(n_obj, n),
        "cr_rate": _frac(counts["CR"], n),
        "pr_rate": _frac(counts["PR"], n),
        "sd_rate": _frac(counts["SD"], n),
        "pd_rate": _frac(counts["PD"], n),
        "ne_rate": _frac(counts["NE"], n),
        "median_doses_first_course": median,
        "incidence": incidence,
        "incidence_grade3plus": grade3,
        "orr_ci95": [_none_if_nan(lo), _none_if_nan(hi)],
    }
    if has_time_to_event(patients):
        out["survival"] = arm_survival(patients)
    return out


def trial_summary(patients: pd.DataFrame, *, reference_arm: str | None = None) -> dict[str, Any]:
    """``{"arms": {arm: arm_summary(rows of arm)}}`` with arms in sorted order.

    With the time-to-event columns and two or more arms, the summary also has
    ``"hazard_ratio"``: :func:`il2sim.analysis.hazard_ratios` of each arm
    against ``reference_arm`` (the first arm in sorted order when not given).
    """
    arms: dict[str, Any] = {}
    out: dict[str, Any] = {"arms": arms}
    if len(patients):
        names = sorted({str(a) for a in patients["arm"].astype(str)})
        arm_col = patients["arm"].astype(str)
        for a in names:
            sub = patients.loc[arm_col == a]
            if "patient_id" in sub.columns:
                sub = sub.sort_values("patient_id", kind="mergesort")
            arms[a] = arm_summary(sub)
        if len(names) >= 2 and has_time_to_event(patients):
            out["hazard_ratio"] = hazard_ratios(patients, reference_arm)
    return out
