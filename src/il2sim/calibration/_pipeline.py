"""``il2sim calibrate``: fit population-level parameters, then weight a pool of plausible patients.

Stage 1 (population-level fit)
    Each fitted parameter is paired with the target it mainly moves (a symptom
    sensitivity with that symptom's label incidence, the vasodilation gain with
    hypotension, the maximal kill rate with the response rate of one
    indication; :data:`FIT_PARAMETERS`). A cohort of patients drawn from the
    prior (common random numbers: the same patients at every iteration) is
    simulated on the label high-dose regimen under the ``pivotal`` rules with
    supportive care, and every parameter moves at once by a secant step on the
    logit of its target (log scale for the parameter), until every fitted
    target is within ``fit_tolerance`` or ``fit_iterations`` run out.

Stage 2 (weighted virtual population)
    A larger pool is drawn from the prior at the fitted values and simulated
    the same way. Maximum-entropy weights (:mod:`._maxent`) make the weighted
    pool reproduce, per indication, the CR and PR rates, the median first-course
    doses (as the fraction of patients at or below the target median) and the
    label incidences, each to within about its standard error at the published
    n. The effective sample size says what the weighting cost.

Everything the pipeline does is written under ``DIR`` (cohort and pool trials
are ordinary, resumable il2sim trials), and the run is reproducible from its
seed.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .._errors import UserError
from .._version import __version__
from ..io._trial import TrialSpec, run_trial
from ..model import load_table, model_hash
from ..population import PopulationSpec, draw_patient
from ..population._calibrated import POOL_FORMAT, frame_from_patients, pool_path
from ._maxent import kish_ess, maxent_weights
from ._targets import FITTED_TERMS, LISTED_TERMS, Target, load_targets, wilson_interval

__all__ = ["FitParameter", "FIT_PARAMETERS", "CalibrationSettings", "calibrate", "features_of", "INDICATIONS"]

INDICATIONS = ("melanoma", "rcc")


@dataclass(frozen=True)
class FitParameter:
    """A population-level parameter fitted in stage 1, and the target that pins it.

    ``indication`` is ``None`` for a value shared by both indications (fitted
    on the pooled cohort) or the indication whose own value is fitted.
    ``sign`` is +1 when raising the parameter raises the target.
    """

    name: str
    target: str
    indication: str | None = None
    sign: int = 1
    bounds: tuple[float, float] = (0.02, 50.0)  # multiples of the prior value


FIT_PARAMETERS: tuple[FitParameter, ...] = (
    FitParameter("vasodilation_gain", "ae:hypotension"),
    FitParameter("kf_leak_gain", "ae:weight_gain"),
    FitParameter("hormone_urine_gain", "ae:oliguria"),
    FitParameter("hormone_gfr_gain", "ae:creatinine_increased"),
    FitParameter("fever_ifng_half", "ae:fever", sign=-1),
    FitParameter("chills_sensitivity", "ae:chills"),
    FitParameter("nausea_sensitivity", "ae:nausea"),
    FitParameter("vomiting_sensitivity", "ae:vomiting"),
    FitParameter("diarrhea_sensitivity", "ae:diarrhea"),
    FitParameter("rash_sensitivity", "ae:rash"),
    FitParameter("confusion_sensitivity", "ae:confusion"),
    FitParameter("dyspnea_sensitivity", "ae:dyspnea"),
    FitParameter("kill_max", "response:orr", indication="melanoma"),
    FitParameter("kill_max", "response:orr", indication="rcc"),
)


@dataclass(frozen=True)
class CalibrationSettings:
    """Sizes, seeds and tolerances of one calibration run (all recorded in its provenance)."""

    seed: int = 20261127
    fit: bool = True
    fit_patients: int = 150
    fit_iterations: int = 8
    fit_tolerance: float = 0.03
    pool_patients: int = 1500
    follow_up_weeks: float = 52.0
    workers: int = 2
    max_multiplier: float = 20.0

    def __post_init__(self) -> None:
        for name, value, lo, hi in (("--seed", self.seed, 0, 2**63 - 1), ("--fit-patients", self.fit_patients, 8, 100_000),
                                    ("--fit-iterations", self.fit_iterations, 0, 100),
                                    ("--pool", self.pool_patients, 8, 1_000_000), ("--workers", self.workers, 1, 1024)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise UserError(name, value, f"an integer from {lo} to {hi}")
        if not 0 < self.fit_tolerance < 0.5:
            raise UserError("--fit-tolerance", self.fit_tolerance, "a fraction between 0 and 0.5")
        if not 0 < self.follow_up_weeks <= 520:
            raise UserError("--follow-up-weeks", self.follow_up_weeks, "a number of weeks > 0 and <= 520")


# ---------------------------------------------------------------------------
# Features of a simulated patient table
# ---------------------------------------------------------------------------


def features_of(rows: pd.DataFrame, dose_median: float) -> pd.DataFrame:
    """0/1 features of each patient that the targets are rates of."""
    bor = rows["best_overall_response"]
    out = {"response:orr": bor.isin(["CR", "PR"]), "response:cr": bor.eq("CR"), "response:pr": bor.eq("PR"),
           "doses:at_most_median": rows["doses_first_course"] <= dose_median}
    for term in FITTED_TERMS:
        out[f"ae:{term}"] = rows[f"reported_{term}"].astype(bool)
    return pd.DataFrame(out).astype(float)


def _rate(rows: pd.DataFrame, key: str) -> float:
    return float(features_of(rows, 0.0)[key].mean())


def _logit(p: float, n: int) -> float:
    p = min(max(p, 0.5 / n), 1 - 0.5 / n)
    return math.log(p / (1 - p))


# ---------------------------------------------------------------------------
# Simulating cohorts
# ---------------------------------------------------------------------------


def _cohort(directory: Path, indication: str, n: int, seed: int, values: dict[str, float],
            settings: CalibrationSettings, progress: Callable[[str], None]) -> pd.DataFrame:
    """Simulate ``n`` prior patients at population values ``values`` (a resumable trial in ``directory``)."""
    spec = TrialSpec(indication=indication, n_patients=n, seed=seed, follow_up_weeks=settings.follow_up_weeks,
                     population=PopulationSpec(indication, source="prior", parameters=tuple(sorted(values.items()))))
    run_trial(spec, directory, resume=True, workers=settings.workers)
    progress(f"  {indication}: {n} patients in {directory}")
    return pd.read_parquet(directory / "patients.parquet")


def _prior_values(indication: str) -> dict[str, float]:
    table = load_table()
    return {p.name: table[p.name].value_for(indication) for p in FIT_PARAMETERS
            if p.indication in (None, indication)}


def fit_population_parameters(out: Path, settings: CalibrationSettings, targets: dict[str, Any],
                              progress: Callable[[str], None]) -> tuple[dict[str, dict[str, float]], list[dict]]:
    """Stage 1: the fitted population-level values per indication and the iteration history."""
    values = {ind: _prior_values(ind) for ind in INDICATIONS}
    target_of = _target_lookup(targets)
    history: list[dict] = []
    slopes = {(p.name, p.indication): 1.0 for p in FIT_PARAMETERS}
    previous: dict[tuple[str, str | None], tuple[float, float]] = {}
    for it in range(settings.fit_iterations + 1):
        progress(f"stage 1, iteration {it}")
        rows = {ind: _cohort(out / "fit" / f"iteration-{it:02d}-{ind}", ind, settings.fit_patients,
                             settings.seed + 1, values[ind], settings, progress) for ind in INDICATIONS}
        pooled = pd.concat(list(rows.values()), ignore_index=True)
        record = {"iteration": it, "parameters": [], "max_abs_error": 0.0}
        worst = 0.0
        steps: dict[tuple[str, str | None], float] = {}
        for p in FIT_PARAMETERS:
            data = pooled if p.indication is None else rows[p.indication]
            sim = _rate(data, p.target)
            tgt = target_of(p.target, p.indication)
            value = values[p.indication or INDICATIONS[0]][p.name]
            err = sim - tgt.value
            worst = max(worst, abs(err))
            n = len(data)
            key = (p.name, p.indication)
            if key in previous:  # secant estimate of d logit / d log value, clipped to a sane range
                v0, s0 = previous[key]
                dv, ds = math.log(value / v0), _logit(sim, n) - _logit(s0, n)
                if abs(dv) > 1e-9 and p.sign * ds / dv > 0:
                    slopes[key] = float(np.clip(p.sign * ds / dv, 0.2, 5.0))
            previous[key] = (value, sim)
            steps[key] = float(np.clip((_logit(tgt.value, n) - _logit(sim, n)) / (p.sign * slopes[key]), -1.0, 1.0))
            record["parameters"].append({"name": p.name, "indication": p.indication or "both", "value": value,
                                         "target": p.target, "target_value": tgt.value, "simulated": sim,
                                         "slope": slopes[key]})
        record["max_abs_error"] = worst
        history.append(record)
        progress(f"  largest error {worst:.3f}")
        if worst <= settings.fit_tolerance or it == settings.fit_iterations:
            break
        prior = {ind: _prior_values(ind) for ind in INDICATIONS}
        for p in FIT_PARAMETERS:
            for ind in ([p.indication] if p.indication else INDICATIONS):
                lo, hi = (prior[ind][p.name] * b for b in p.bounds)
                values[ind][p.name] = float(np.clip(values[ind][p.name] * math.exp(steps[(p.name, p.indication)]),
                                                    lo, hi))
    return values, history


def _target_lookup(targets: dict[str, Any]) -> Callable[[str, str | None], Target]:
    def lookup(key: str, indication: str | None) -> Target:
        for t in targets["response"] + targets["ae"]:
            if t.key == key and (t.indication is None or t.indication == indication):
                return t
        raise KeyError(key)
    return lookup


# ---------------------------------------------------------------------------
# Stage 2
# ---------------------------------------------------------------------------


def _pool_targets(targets: dict[str, Any], indication: str) -> list[tuple[str, float, float, Target | None]]:
    """``(feature, target mean, tolerance, Target)`` matched by the weights for one indication."""
    out = []
    for t in targets["response"]:
        if t.indication == indication and t.key != "response:orr":  # ORR = CR + PR
            out.append((t.key, t.value, t.se, t))
    out.append(("doses:at_most_median", 0.5, 0.02, None))
    for t in targets["ae"]:
        out.append((t.key, t.value, t.se, t))
    return out


def _trial_draws(weights: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The pool indices a default trial of ``n`` patients with ``seed`` draws (same streams as the trial)."""
    from ..population._calibrated import CalibratedPool

    pool = CalibratedPool("melanoma", (), np.zeros((len(weights), 0)), (), weights / weights.sum(), {})
    return np.array([pool.choose(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,))))
                     for i in range(n)])


def calibrate(out_dir: str | Path, settings: CalibrationSettings = CalibrationSettings(), *,
              progress: Callable[[str], None] = lambda s: None, install: bool = False) -> dict[str, Any]:
    """Run the pipeline into ``out_dir`` (resumable) and return the fit report as a dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = dict(load_targets())
    started = _dt.datetime.now(_dt.timezone.utc)
    if settings.fit and settings.fit_iterations > 0:
        values, history = fit_population_parameters(out, settings, targets, progress)
    else:
        values, history = {ind: _prior_values(ind) for ind in INDICATIONS}, []
    # the table's values: what stage 1 changes is recorded per indication
    table = load_table()
    fitted = [{"name": p.name, "indication": p.indication or "both",
               "prior": table[p.name].value_for(p.indication or INDICATIONS[0]),
               "fitted": values[p.indication or INDICATIONS[0]][p.name], "unit": table[p.name].unit,
               "target": p.target} for p in FIT_PARAMETERS]

    progress("stage 2: pool")
    report: dict[str, Any] = {"indications": {}, "fitted_parameters": fitted, "stage1_history": history}
    files: dict[str, Any] = {}
    for ind in INDICATIONS:
        rows = _cohort(out / f"pool-{ind}", ind, settings.pool_patients, settings.seed, values[ind], settings, progress)
        rows = rows.sort_values("patient_id").reset_index(drop=True)
        ok = rows["status"].eq("ok").to_numpy()
        dose_target = targets["doses"][ind]
        feats = features_of(rows, dose_target.value)
        spec = _pool_targets(targets, ind)
        keys = [k for k, _, _, _ in spec]
        f = feats[keys].to_numpy()[ok]
        res = maxent_weights(f, np.array([v for _, v, _, _ in spec]), np.array([s for _, _, s, _ in spec]),
                             max_multiplier=settings.max_multiplier)
        weights = np.zeros(len(rows))
        weights[ok] = res.weights
        # patients as drawn (same streams as the pool trial) and their stored outcomes
        pop = PopulationSpec(ind, source="prior", parameters=tuple(sorted(values[ind].items())))
        patients = [draw_patient(pop, settings.seed, int(i)).patient for i in rows["patient_id"]]
        frame = frame_from_patients(patients, weights)
        frame["outcome_best_overall_response"] = rows["best_overall_response"].to_numpy()
        frame["outcome_doses_first_course"] = rows["doses_first_course"].to_numpy()
        for term in FITTED_TERMS:
            frame[f"outcome_reported_{term}"] = rows[f"reported_{term}"].to_numpy()
        name = f"calibrated-{ind}.parquet"
        frame.to_parquet(out / name, index=False)
        files[ind] = {"file": name, "pool_patients": int(len(rows)), "failed": int((~ok).sum()),
                      "effective_sample_size": kish_ess(weights[ok]), "seed": settings.seed,
                      "population_parameters": values[ind]}
        report["indications"][ind] = _indication_report(rows, feats, weights, spec, targets, ind, res, settings)
        progress(f"  {ind}: ESS {files[ind]['effective_sample_size']:.0f} of {int(ok.sum())}")

    meta = {
        "format": POOL_FORMAT,
        "il2sim_version": __version__,
        "model_hash": model_hash(),
        "created": started.isoformat(timespec="seconds"),
        "method": {
            "stage1": "secant fit of population-level parameters on logit targets (common random numbers)",
            "stage2": "maximum-entropy weights relaxed by each target's binomial SE at the published n",
            "regimen": "high-dose", "rules": "pivotal", "care": True, "holds": True,
            "follow_up_weeks": settings.follow_up_weeks,
        },
        "settings": asdict(settings),
        "targets": targets["raw"],
        "fitted_parameters": fitted,
        "indications": files,
    }
    (out / "calibrated.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    report["provenance"] = {k: meta[k] for k in ("il2sim_version", "model_hash", "created", "method", "settings")}
    try:
        from ._sensitivity import pool_sensitivity

        report["sensitivity"] = {ind: pool_sensitivity(out / files[ind]["file"], seed=settings.seed)
                                 for ind in INDICATIONS}
    except Exception as exc:  # noqa: BLE001 - reported, not fatal: the population is valid without it
        report["sensitivity"] = {"error": f"{type(exc).__name__}: {exc}"}
    (out / "fit-report.json").write_text(json.dumps(report, indent=1, sort_keys=True, default=float) + "\n")
    from ._report import write_markdown

    write_markdown(report, out / "fit-report.md")
    if install:
        dest = Path(str(pool_path()))
        dest.mkdir(parents=True, exist_ok=True)
        for name in [files[i]["file"] for i in INDICATIONS] + ["calibrated.json"]:
            shutil.copyfile(out / name, dest / name)
    return report


def _indication_report(rows, feats, weights, spec, targets, ind, res, settings) -> dict[str, Any]:
    w = weights / weights.sum()
    out: dict[str, Any] = {"pool_patients": int(len(rows)), "effective_sample_size": kish_ess(weights[weights > 0]),
                           "solver": {"success": res.success, "message": res.message}, "targets": []}
    # a default-seed trial of 1,000 patients, from the pool indices its streams draw (no new simulation)
    draws = _trial_draws(weights, 1000, 0)
    trial = feats.iloc[draws]
    doses = rows["doses_first_course"].to_numpy()
    lines = []
    for t in [x for x in targets["response"] if x.indication == ind]:
        lines.append((t.key, t, None))
    lines.append(("doses:median", targets["doses"][ind], None))
    for t in targets["ae"]:
        lines.append((t.key, t, None))
    for key, t, _ in lines:
        if key == "doses:median":
            unweighted = float(np.median(doses))
            weighted = _weighted_median(doses, w)
            at_trial = float(np.median(doses[draws]))
            lo, hi = t.value - 2, t.value + 2
            crit = "within 2 doses"
        else:
            unweighted = float(feats[key].mean())
            weighted = float(np.sum(feats[key].to_numpy() * w))
            at_trial = float(trial[key].mean())
            if key.startswith("response:"):
                lo, hi = wilson_interval(t.value, t.n)
                crit = f"Wilson 95 % CI at n = {t.n}"
            else:
                lo, hi = t.value - 0.10, t.value + 0.10
                crit = "within 10 points" if key.split(":")[1] in LISTED_TERMS else "within 10 points (not listed)"
        out["targets"].append({"key": key, "target": t.value, "n": t.n, "low": lo, "high": hi, "criterion": crit,
                               "prior_pool": unweighted, "weighted_pool": weighted, "trial_1000": at_trial,
                               "wilson_trial_1000": (list(wilson_interval(at_trial, 1000))
                                                     if not key.startswith("doses") else None),
                               "met": bool(lo - 1e-12 <= at_trial <= hi + 1e-12)})
    return out


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cdf, 0.5 * cdf[-1])])
