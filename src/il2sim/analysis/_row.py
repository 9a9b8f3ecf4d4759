"""One simulated course reduced to one row of a trial's patient table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._adverse import TERMS
from ._summary import summarize

__all__ = ["ENDPOINT_COLUMNS", "N_SCAN_COLUMNS", "RENAL_RECOVERY_FRACTION", "patient_row", "renal_recovery_days"]

ENDPOINT_COLUMNS = ("response_week", "response_duration_weeks", "response_duration_event", "pfs_weeks", "progressed",
                    "pfs_event", "os_weeks", "died", "death_cause")
"""Time-to-event columns (weeks from t = 0; contract: trial outputs); NaN/False/"" for a failed simulation."""

N_SCAN_COLUMNS = 7
"""Scans with their own ``sld_scan_K_mm`` column."""


RENAL_RECOVERY_FRACTION = 0.10
"""Creatinine counts as back at baseline within this fraction of the pre-treatment value (an assumption:
the laboratory's reporting precision of about 0.1 mg/dL at a creatinine of 1)."""


def renal_recovery_days(result: Any) -> float:
    """Days from the end of the first course's last given dose until creatinine is first back at baseline.

    Back at baseline: at or below ``(1 + RENAL_RECOVERY_FRACTION)`` times the
    pre-treatment value, at an output time before the next course starts (or
    the end of the run). 0 when it already is at the end of the last dose; NaN
    when no dose of the first course was given or creatinine was not back by
    the next course or the end of the simulation. The first return is what a
    follow-up laboratory series records, the statistic of Belldegrun 1987
    ("renal function values returned to baseline levels within 7 days in 62 %
    of patients").
    """
    given = [r for r in result.doses if r.given and r.administration.course == 1]
    if not given or not len(result.t):
        return math.nan
    end_h = max(r.exposure_end_h for r in given)
    later = [r.administration.time_h for r in result.doses if r.given and r.administration.course > 1]
    stop_h = min(later) if later else math.inf
    t = np.asarray(result.t)
    c = np.asarray(result.observables["creatinine_mg_dl"])
    back = (t >= end_h - 1e-9) & (t <= stop_h + 1e-9) & (c <= (1.0 + RENAL_RECOVERY_FRACTION) * c[0])
    idx = np.flatnonzero(back)
    return float(max(t[idx[0]] - end_h, 0.0) / 24.0) if idx.size else math.nan


def patient_row(result: Any, *, arm: str, follow_up_weeks: float, retried: bool = False) -> dict[str, Any]:
    """The patient-table row of one simulated course (``patients.parquet``; columns in the contract's order).

    Parameters
    ----------
    result
        A :class:`~il2sim.engine.SimulationResult`.
    arm
        The arm's name.
    follow_up_weeks
        The RECIST window, weeks.
    retried
        Whether the run is a retry after a failure (recorded in ``retried``).
    """
    patient = result.individual.patient
    cov = patient.covariates
    row: dict[str, Any] = {
        "arm": arm,
        "patient_id": int(patient.patient_id),
        "indication": patient.indication,
        "weight_kg": float(cov.weight_kg),
        "nephrectomy": bool(cov.nephrectomy),
        "n_target_lesions": int(len(patient.lesion_diameters())),
        "status": "ok" if result.success else "failed",
        "retried": bool(retried),
        "failure": "" if result.success else str(result.message)[:500],
    }
    s = summarize(result, follow_up_weeks=follow_up_weeks)
    baseline = s["recist"].get("baseline_sum_mm")
    scans = s["recist"].get("scans", [])
    sums = [sc["sum_diameters_mm"] for sc in scans]
    row.update({
        "baseline_sum_diameters_mm": float(baseline) if baseline else math.nan,
        "best_overall_response": s["best_overall_response"] if result.success else "NE",
        "best_change_pct": (100.0 * (min(sums) - baseline) / baseline) if (sums and baseline) else math.nan,
        "doses_scheduled": int(s["doses_scheduled"]),
        "doses_given": int(s["doses_given"]),
        "doses_first_course": int(s["doses_first_course"]),
        "courses": int(s["courses"]),
    })
    ev = s["endpoints"] if result.success else None
    for key in ENDPOINT_COLUMNS:
        value = ev.get(key) if ev else None
        if key in ("progressed", "died", "response_duration_event"):
            row[key] = bool(value)
        elif key in ("death_cause", "pfs_event"):
            row[key] = str(value or "")
        else:
            row[key] = math.nan if value is None else float(value)
    for k in range(1, N_SCAN_COLUMNS + 1):
        row[f"sld_scan_{k}_mm"] = float(sums[k - 1]) if k <= len(sums) else math.nan
    for term in TERMS:
        row[f"grade_{term}"] = int(s["worst_grade"].get(term, 0))
        row[f"reported_{term}"] = bool(s["reported"].get(term, False))
    pk = s["pk"]
    obs = result.observables if len(result.t) else {}
    row.update({
        "cmax_iu_per_ml": float(pk["cmax_iu_per_ml"]) if pk.get("cmax_iu_per_ml") is not None else math.nan,
        "t_half_terminal_min": float(pk["t_half_terminal_min"]) if pk.get("t_half_terminal_min") is not None else math.nan,
        "lymphocyte_nadir_per_ul": float(np.min(obs["lymphocytes_per_ul"])) if obs else math.nan,
        "eosinophil_peak_per_ul": float(np.max(obs["eosinophils_per_ul"])) if obs else math.nan,
        "sbp_min_mmhg": float(np.min(obs["sbp_mmhg"])) if obs else math.nan,
        "weight_gain_pct": float(100 * (np.max(obs["weight_kg"]) / obs["weight_kg"][0] - 1)) if obs else math.nan,
        "creatinine_max_mg_dl": float(np.max(obs["creatinine_mg_dl"])) if obs else math.nan,
        "renal_recovery_days": renal_recovery_days(result) if obs else math.nan,
        "phenylephrine_max_ug_kg_min": float(s["care"].get("phenylephrine_max_ug_kg_min", 0.0)) if s["care"] else 0.0,
        "fluid_boluses": int(s["care"].get("fluid_boluses", 0)) if s["care"] else 0,
        "fluid_boluses_cycle1": int(s["care"].get("fluid_boluses_cycle1", 0)) if s["care"] else 0,
        "out_of_domain": ";".join(s["status"]["out_of_domain"]),
    })
    return row
