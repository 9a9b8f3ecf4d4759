"""One patient's summary: dosing counts, first-dose PK, RECIST response, grades.

Pure functions over a :class:`~il2sim.engine.SimulationResult`; no file I/O.
``summarize`` returns the content of ``summary.json`` (contract: outputs of
``simulate``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine import SimulationResult
from ..model import Model, default_model
from ._adverse import label_reported, worst_grades
from ._domain import DOMAIN_LIMITS, out_of_domain
from ._nca import nca
from ._recist import Scan, follow_up_scan_times_h, score_response, time_to_events

__all__ = ["DEATH_CAUSES", "adverse_events", "care_summary", "citations", "death", "first_dose_pk", "recist_scans",
           "summarize"]

#: Causes of death and the observable whose crossing of 1 marks each (the model's death laws).
DEATH_CAUSES = {"disease": "death_index_disease", "treatment": "death_index_treatment"}


def death(result: SimulationResult) -> tuple[float | None, str]:
    """Time of death (h, linear interpolation between samples) and its cause; ``(None, "")`` if alive.

    A patient dies when one of the model's death indices (:data:`DEATH_CAUSES`)
    first reaches 1; the engines end the run at the end of that segment.
    """
    obs = result.observables if len(result.t) else {}
    best: tuple[float | None, str] = (None, "")
    for cause, name in DEATH_CAUSES.items():
        x = np.asarray(obs.get(name, ()), dtype=float)
        hit = np.flatnonzero(x >= 1.0)
        if not hit.size:
            continue
        k = int(hit[0])
        t = float(result.t[k])
        if k > 0 and x[k] > x[k - 1]:
            t0 = float(result.t[k - 1])
            t = t0 + (t - t0) * (1.0 - x[k - 1]) / (x[k] - x[k - 1])
        if best[0] is None or t < best[0]:
            best = (t, cause)
    return best


def _finite_or_none(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def first_dose_pk(result: SimulationResult) -> dict[str, Any]:
    """Non-compartmental PK of ``aldesleukin_plasma_iu_per_ml`` after the first given dose.

    The window runs from the first given administration to just before the
    next scheduled administration (or 24 h if there is none). ``auc_iu_h_per_ml``
    is AUC from the dose to infinity (log-linear extrapolation with lambda_z);
    ``auc_window_iu_h_per_ml`` is the observed AUC over the window. The same
    peak is given molar (``cmax_pm``) and by the molecule's mass
    (``cmax_ng_per_ml``): for a molecule without IU, the IU figures are
    aldesleukin-IU equivalents (molecules), and these are its own units.
    """
    empty = {"cmax_iu_per_ml": None, "cmax_pm": None, "cmax_ng_per_ml": None, "tmax_h": None, "auc_iu_h_per_ml": None,
             "auc_window_iu_h_per_ml": None, "t_half_terminal_min": None, "lambda_z_points": 0, "window_h": None}
    given = [r.administration for r in result.doses if r.given]
    if not given or len(result.t) < 3:
        return empty
    first = given[0]
    later = [r.administration.time_h for r in result.doses if r.administration.time_h > first.time_h + 1e-9]
    end = min(later) if later else first.time_h + 24.0
    end = min(end - 1e-6, float(result.t[-1]))
    conc = result.observables["aldesleukin_plasma_iu_per_ml"]
    res = nca(result.t, conc, dose_start_h=first.time_h, dose_end_h=first.end_h, window_end_h=end)
    p = result.individual.named_parameters()
    pm = None if res.cmax is None else float(res.cmax) * p["pm_per_iu_per_ml"]
    return {
        "cmax_iu_per_ml": _finite_or_none(res.cmax),
        "cmax_pm": _finite_or_none(pm),
        "cmax_ng_per_ml": _finite_or_none(None if pm is None else pm * p["drug_molecular_weight"] * 1e-6),
        "tmax_h": _finite_or_none(res.tmax_h),
        "auc_iu_h_per_ml": _finite_or_none(res.auc_inf),
        "auc_window_iu_h_per_ml": _finite_or_none(res.auc_0_last),
        "t_half_terminal_min": _finite_or_none(res.t_half_terminal_min),
        "lambda_z_points": int(res.n_points_lambda_z),
        "window_h": [float(first.time_h), float(end)],
    }


def recist_scans(result: SimulationResult, *, follow_up_weeks: float = 52.0) -> tuple[float, list[Scan]]:
    """Baseline sum of diameters and the scheduled scans (:data:`~il2sim.analysis.SCAN_SCHEDULE`) before death or the end.

    A target lesion is absent when its diameter is below
    ``detection_limit_diameter``; a new lesion is reported once the occult
    disease reaches ``new_lesion_diameter`` (if it was below it at baseline).
    """
    return _scans_before(result, follow_up_weeks, death(result)[0])


def _scans_before(result: SimulationResult, follow_up_weeks: float, died_h: float | None) -> tuple[float, list[Scan]]:
    obs = result.observables
    p = result.individual.named_parameters()
    n_targets = len(result.individual.lesion_volumes_ml)
    t = result.t
    baseline = float(obs["tumour_sum_diameters_mm"][0])
    occult0 = float(obs["occult_diameter_mm"][0])
    scans = []
    for ts in follow_up_scan_times_h(follow_up_weeks):
        if ts > t[-1] + 1e-9 or (died_h is not None and ts >= died_h):
            break
        i = int(np.argmin(np.abs(t - ts)))
        diam = [float(obs[f"lesion_{k}_diameter_mm"][i]) for k in range(1, n_targets + 1)]
        absent = all(d < p["detection_limit_diameter"] for d in diam)
        new = occult0 < p["new_lesion_diameter"] <= float(obs["occult_diameter_mm"][i])
        scans.append(Scan(time_h=float(t[i]), sum_diameters_mm=float(obs["tumour_sum_diameters_mm"][i]),
                          all_targets_absent=absent, new_lesion=new))
    return baseline, scans


def adverse_events(result: SimulationResult) -> tuple[dict[str, int], dict[str, bool]]:
    """CTCAE v5 worst grades and label-reported flags of one simulated patient."""
    tc = result.timecourse()
    weight0, creatinine0 = float(tc["weight_kg"].iloc[0]), float(tc["creatinine_mg_dl"].iloc[0])
    grades = worst_grades(tc, baseline_weight_kg=weight0, baseline_creatinine_mg_dl=creatinine0)
    return grades, label_reported(tc, grades, baseline_weight_kg=weight0, baseline_creatinine_mg_dl=creatinine0)


def care_summary(result: SimulationResult) -> dict[str, Any]:
    """The supportive care given: fluids, boluses, phenylephrine, oxygen, medicines."""
    dt = np.diff(result.t, append=result.t[-1]) if len(result.t) else np.array([])
    boluses = [(t, rate * hours) for t, d in result.decisions for name, rate, hours in d.infusions
               if name == "fluid_bolus_ml_h"]
    # the first cycle ends where any later cycle or course is scheduled to start (held or given)
    later = [r.administration.time_h for r in result.doses if (r.administration.course, r.administration.cycle) > (1, 1)]
    cycle1_end = min(later, default=math.inf)
    out: dict[str, Any] = {
        "fluid_boluses": len(boluses),
        "fluid_boluses_cycle1": sum(1 for t, _ in boluses if t < cycle1_end - 1e-9),
        "fluid_bolus_ml": float(sum(v for _, v in boluses)),
        "iv_fluid_ml": float(np.sum((result.control("fluid_maintenance_ml_h") + result.control("fluid_bolus_ml_h")) * dt)),
        "phenylephrine_max_ug_kg_min": float(np.max(result.control("pressor_ug_kg_min"), initial=0.0)),
        "phenylephrine_hours": float(np.sum(dt[result.control("pressor_ug_kg_min") > 0])),
        "oxygen_max_l_min": float(np.max(result.control("oxygen_l_min"), initial=0.0)),
    }
    for med in ("acetaminophen", "nsaid", "antiemetic", "antidiarrheal", "meperidine"):
        out[f"{med}_hours"] = float(np.sum(dt[result.control(med) > 0]))
    return out


def citations(model: Model | None = None) -> list[dict[str, Any]]:
    """The references behind the model's parameter table (key, citation, retrieved or recalled)."""
    table = (model or default_model()).table
    used = sorted({row.source for row in table})
    return [{"key": k, "citation": table.references[k].citation, "retrieved": table.references[k].retrieved}
            for k in used]


def _endpoints_json(events: dict[str, Any] | None) -> dict[str, Any] | None:
    if events is None:
        return None
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in events.items()}


def summarize(result: SimulationResult, *, follow_up_weeks: float = 52.0) -> dict[str, Any]:
    """The content of ``summary.json`` for one simulated patient.

    Keys: ``doses_scheduled``, ``doses_given``, ``doses_held`` (scheduled but
    not given, by a hold or a stop), ``doses_stopped``, ``best_overall_response``
    (``NE`` when the simulation failed or no scan fell inside it),
    ``recist`` (scan times, sums and time-point responses), ``endpoints``
    (time-to-event endpoints, :func:`~il2sim.analysis.time_to_events`;
    ``None`` when the simulation failed),
    ``doses_first_course``, ``courses`` (courses with a dose given), ``holds``
    (every dose not given, with the rule), ``worst_grade`` (CTCAE v5 grade per
    canonical term, :func:`il2sim.analysis.worst_grades`), ``reported``
    (label-reported adverse reactions, :func:`il2sim.analysis.label_reported`),
    ``care`` (fluids, boluses, phenylephrine, oxygen, medicines), ``pk``
    (first-dose NCA), ``lymphocytes``, ``status``, ``provenance`` and
    ``citations``.
    """
    doses = result.doses
    given = sum(1 for r in doses if r.given)
    stopped = sum(1 for r in doses if r.stopped and not r.given)
    obs = result.observables
    if result.success and len(result.t):
        died_h, cause = death(result)
        baseline, scans = _scans_before(result, follow_up_weeks, died_h)
        end_h = died_h if died_h is not None else float(result.t[-1])
        events = time_to_events(baseline, scans, end_h=end_h, death_h=died_h, death_cause=cause) if baseline > 0 \
            else None
        if scans and baseline > 0:
            scored = score_response(baseline, scans)
            bor = scored["best_overall_response"]
            recist = {"baseline_sum_mm": baseline,
                      "scans": [{"time_h": s.time_h, "day": s.time_h / 24.0, "sum_diameters_mm": s.sum_diameters_mm,
                                 "all_targets_absent": s.all_targets_absent, "new_lesion": s.new_lesion,
                                 "response": r} for s, r in zip(scans, scored["responses"])]}
        else:
            bor, recist = "NE", {"baseline_sum_mm": baseline, "scans": []}
        worst, reported = adverse_events(result)
    else:
        bor, recist, worst, reported, events = "NE", {"baseline_sum_mm": None, "scans": []}, {}, {}, None
    provenance = dict(result.provenance)
    provenance["model_hash"] = result.individual.model.hash
    provenance["follow_up_weeks"] = follow_up_weeks
    first_course = [r for r in doses if r.administration.course == 1]
    return {
        "doses_scheduled": len(doses),
        "doses_given": given,
        "doses_held": len(doses) - given,
        "doses_stopped": stopped,
        "best_overall_response": bor,
        "recist": recist,
        "endpoints": _endpoints_json(events),
        "doses_first_course": sum(1 for r in first_course if r.given),
        "courses": max((r.administration.course for r in doses if r.given), default=0),
        "holds": [{"dose_index": r.dose_index, "time_h": r.administration.time_h, "rule": r.held_by,
                   "stopped": r.stopped} for r in doses if not r.given],
        "interruptions": [{"dose_index": r.dose_index, "time_h": r.administration.time_h,
                           "interrupted_h": r.interrupted_h, "rule": r.interrupted_by,
                           "fraction_given": r.fraction_given} for r in doses if r.interrupted_h is not None],
        "worst_grade": worst,
        "reported": reported,
        "care": care_summary(result) if len(result.t) else {},
        "pk": first_dose_pk(result),
        "lymphocytes": {
            "baseline_per_ul": float(obs["lymphocytes_per_ul"][0]) if len(result.t) else None,
            "nadir_per_ul": float(np.min(obs["lymphocytes_per_ul"])) if len(result.t) else None,
            "peak_per_ul": float(np.max(obs["lymphocytes_per_ul"])) if len(result.t) else None,
        },
        "status": {"success": result.success, "message": result.message,
                   "out_of_domain": list(out_of_domain(result)),
                   "out_of_domain_limits": {lim.id: lim.description for lim in DOMAIN_LIMITS}},
        "provenance": provenance,
        "citations": citations(result.individual.model),
    }
