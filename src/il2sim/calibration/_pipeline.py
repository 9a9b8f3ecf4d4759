"""``il2sim calibrate``: fit population-level parameters, then weight a pool of plausible patients.

Stage 1 (population-level fit)
    Each fitted parameter is paired with the target it mainly moves (a symptom
    sensitivity with that symptom's label incidence, the vasodilation gain with
    hypotension, the toxicity tolerance of the ``pivotal_not_tolerated`` stop
    with the median doses received, the maximal kill rate with the response
    rate of one indication; :data:`FIT_PARAMETERS`). A cohort of patients drawn from the
    prior (common random numbers: the same patients at every iteration) is
    simulated on the label high-dose regimen under the ``pivotal`` rules with
    supportive care, and every parameter moves at once by a secant step on the
    logit of its target (log scale for the parameter), until every fitted
    target is within ``fit_tolerance`` or ``fit_iterations`` run out.

Stage 2 (weighted virtual population)
    A larger pool is drawn from the prior at the fitted values and simulated
    the same way. Maximum-entropy weights (:mod:`._maxent`, :func:`joint_weights`)
    make the weighted pool reproduce, within each indication, the CR and PR
    rates, the label incidences (edema excepted, which is reported), each to
    within about its standard error at the published n, and the median
    first-course doses. The effective sample size says what the weighting cost.

Everything the pipeline does is written under ``DIR`` (cohort and pool trials
are ordinary, resumable il2sim trials), and the run is reproducible from its
seed.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import UserError, require_integers
from .._version import __version__
from ..analysis import wilson_interval
from ..model import default_model, load_table
from ..population import PopulationSpec, draw_patient
from ..population._calibrated import POOL_FORMAT, choose_index, frame_from_patients, pool_path
from ..trial import TrialSpec, run_trial
from ._maxent import kish_ess, maxent_weights
from ._targets import FITTED_TERMS, LISTED_TERMS, Target, load_targets

__all__ = ["FitParameter", "FIT_PARAMETERS", "CalibrationSettings", "calibrate", "features_of", "INDICATIONS"]

INDICATIONS = ("melanoma", "rcc")
#: Fraction of the secant step taken at each stage-1 update. The targets are coupled, and the
#: ``pivotal_not_tolerated`` stop feeds toxicity back into the doses received (more toxicity, fewer
#: doses, less toxicity): full steps on every parameter at once oscillate.
DAMPING = 0.5
#: ... and before a parameter has a secant slope of its own (the first step assumes slope 1).
FIRST_DAMPING = 0.3
#: Largest stage-1 step of one parameter, in log units.
MAX_STEP = 0.5
#: Stage-1 iterations a bracket side is remembered (the coupled responses drift as the other parameters move).
BRACKET_MEMORY = 3
#: Tolerance of the median-dose constraint in the weights ("half the patients at or below the median").
DOSE_TOLERANCE = 0.05


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
    # the kidney's intrinsic injury sets how far urine falls with filtration in a cycle; hormone_urine_gain,
    # paired here until 2026-12-07, had been fitted down to 0.0071 (unidentified) and is now fixed
    FitParameter("tubular_injury_rate", "ae:oliguria"),
    FitParameter("renal_map_half", "ae:creatinine_increased", bounds=(0.7, 1.4)),
    FitParameter("chills_sensitivity", "ae:chills"),
    FitParameter("nausea_sensitivity", "ae:nausea"),
    FitParameter("vomiting_sensitivity", "ae:vomiting"),
    FitParameter("diarrhea_sensitivity", "ae:diarrhea"),
    FitParameter("rash_sensitivity", "ae:rash"),
    FitParameter("confusion_sensitivity", "ae:confusion"),
    FitParameter("dyspnea_sensitivity", "ae:dyspnea"),
    # one tolerance for both indications: the indications' different medians (18, 20) are left to the biology
    FitParameter("toxicity_tolerance", "doses:at_most_median", sign=-1, bounds=(0.5, 2.0)),
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
        require_integers(("seed", self.seed, 0, 2**63 - 1), ("fit_patients", self.fit_patients, 8, 100_000),
                         ("fit_iterations", self.fit_iterations, 0, 100),
                         ("pool_patients", self.pool_patients, 8, 1_000_000), ("workers", self.workers, 1, 1024))
        if not 0 < self.fit_tolerance < 0.5:
            raise UserError("fit_tolerance", self.fit_tolerance, "a fraction between 0 and 0.5")
        if not 0 < self.follow_up_weeks <= 520:
            raise UserError("follow_up_weeks", self.follow_up_weeks, "a number of weeks > 0 and <= 520")


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


def _stage1_features(rows: dict[str, pd.DataFrame], targets: dict[str, Any]) -> dict[str | None, pd.DataFrame]:
    """Features of each indication's cohort (doses against its own median) and of both pooled."""
    feats: dict[str | None, pd.DataFrame] = {ind: features_of(r, targets["doses"][ind].value) for ind, r in rows.items()}
    feats[None] = pd.concat([feats[ind] for ind in rows], ignore_index=True)
    return feats


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
    best: tuple[float, dict[str, dict[str, float]]] | None = None
    slopes = {(p.name, p.indication): 1.0 for p in FIT_PARAMETERS}
    previous: dict[tuple[str, str | None], tuple[float, float]] = {}
    measured: set[tuple[str, str | None]] = set()  # parameters with a secant slope of their own
    # safeguard: log values known to be too low ("up") and too high ("down"); a secant step leaving the
    # bracket is replaced by its midpoint (regula falsi / bisection: steep, nearly step-like responses).
    # A side expires after BRACKET_MEMORY iterations: the other parameters move the response under it.
    bracket: dict[tuple[str, str | None], dict[str, tuple[float, int]]] = {}
    for it in range(settings.fit_iterations + 1):
        progress(f"stage 1, iteration {it}")
        rows = {ind: _cohort(out / "fit" / f"iteration-{it:02d}-{ind}", ind, settings.fit_patients,
                             settings.seed + 1, values[ind], settings, progress) for ind in INDICATIONS}
        feats = _stage1_features(rows, targets)
        record: dict[str, Any] = {"iteration": it, "parameters": [], "max_abs_error": 0.0}
        worst = 0.0
        steps: dict[tuple[str, str | None], float] = {}
        for p in FIT_PARAMETERS:
            data = feats[p.indication]
            sim = float(data[p.target].mean())
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
                    measured.add(key)
            previous[key] = (value, sim)
            # damped (the paired targets are coupled through the shared cytokine and leak pathways)
            damping = DAMPING if key in measured else FIRST_DAMPING
            step = float(np.clip(damping * (_logit(tgt.value, n) - _logit(sim, n)) / (p.sign * slopes[key]),
                                 -MAX_STEP, MAX_STEP))
            b = bracket.setdefault(key, {})
            for side in [k for k, (_, seen) in b.items() if it - seen > BRACKET_MEMORY]:
                del b[side]
            x = math.log(value)
            if (sim < tgt.value) == (p.sign > 0):
                b["up"] = (x, it)  # the latest evaluation on each side (older ones may be stale)
            else:
                b["down"] = (x, it)
            if "up" in b and "down" in b:
                up, down = b["up"][0], b["down"][0]
                if up >= down:  # the coupled response moved: forget the stale side
                    b.pop("down" if (sim < tgt.value) == (p.sign > 0) else "up")
                elif not up < x + step < down:
                    step = 0.5 * (up + down) - x
            steps[key] = step
            record["parameters"].append({"name": p.name, "indication": p.indication or "both", "value": value,
                                         "target": p.target, "target_value": tgt.value, "simulated": sim,
                                         "slope": slopes[key]})
        record["max_abs_error"] = worst
        # root-mean-square error in units of each target's standard error at the published n
        record["rms_z"] = float(np.sqrt(np.mean([((q["simulated"] - q["target_value"]) /
                                                  target_of(q["target"], None if q["indication"] == "both"
                                                            else q["indication"]).se) ** 2
                                                 for q in record["parameters"]])))
        if best is None or record["rms_z"] < best[0]:
            best = (record["rms_z"], {ind: dict(v) for ind, v in values.items()})
            record["best"] = True
        history.append(record)
        (out / "fit" / "history.json").write_text(json.dumps(history, indent=1) + "\n")
        progress(f"  largest error {worst:.3f}")
        if worst <= settings.fit_tolerance or it == settings.fit_iterations:
            break
        prior = {ind: _prior_values(ind) for ind in INDICATIONS}
        for p in FIT_PARAMETERS:
            for ind in ([p.indication] if p.indication else INDICATIONS):
                lo, hi = (prior[ind][p.name] * b for b in p.bounds)
                values[ind][p.name] = float(np.clip(values[ind][p.name] * math.exp(steps[(p.name, p.indication)]),
                                                    lo, hi))
    assert best is not None
    return best[1], history  # the evaluated values closest to the targets (the last step may overshoot)


def _target_lookup(targets: dict[str, Any]) -> Callable[[str, str | None], Target]:
    def lookup(key: str, indication: str | None) -> Target:
        if key == "doses:at_most_median":  # half the patients at or below the published median
            d = targets["doses"][indication or INDICATIONS[0]]
            return Target(key, indication, 0.5, d.n, d.source)
        for t in targets["response"] + targets["ae"]:
            if t.key == key and (t.indication is None or t.indication == indication):
                return t
        raise KeyError(key)
    return lookup


# ---------------------------------------------------------------------------
# Stage 2
# ---------------------------------------------------------------------------


#: Patients per indication in the label's pooled adverse-reaction table (Table III, n = 525).
LABEL_SHARE = {"melanoma": 270 / 525, "rcc": 255 / 525}


#: Label terms matched by the weights. Edema is left out: the label split it into "edema" (15 %) and
#: "peripheral edema" (28 %), coded separately by investigators, so neither is a clean target; it is reported.
WEIGHTED_TERMS = tuple(t for t in FITTED_TERMS if t != "edema")


def joint_weights(pools: dict[str, pd.DataFrame], targets: dict[str, Any], max_multiplier: float = 20.0,
                  *, pooled_ae: bool = False, doses: bool = False):
    """Maximum-entropy weights over both pools at once.

    Response targets hold within each indication. Label incidences hold within
    each indication too (the label pooled 270 melanoma and 255 RCC patients
    and gives no split; asking each indication for the pooled rate keeps the
    weights from trading one indication's toxicity against the other's), or,
    with ``pooled_ae``, only for the two pools mixed in the label's
    proportions. ``doses`` adds "half the patients at or below the published
    median" per indication. Returns per-indication weights (each summing to 1,
    0 for failed patients), the solver result and the ``(feature, target,
    tolerance)`` constraints.
    """
    blocks, spec = [], []
    ok = {ind: pools[ind]["status"].eq("ok").to_numpy() for ind in INDICATIONS}
    feats = {ind: features_of(pools[ind], targets["doses"][ind].value)[ok[ind]] for ind in INDICATIONS}
    for ind in INDICATIONS:
        spec.append((f"indication:{ind}", LABEL_SHARE[ind], 1e-3))
        for t in targets["response"]:
            if t.indication == ind and t.key != "response:orr":  # ORR = CR + PR
                spec.append((f"{t.key}@{ind}", LABEL_SHARE[ind] * t.value, LABEL_SHARE[ind] * t.se))
        if doses:
            spec.append((f"doses:at_most_median@{ind}", LABEL_SHARE[ind] * 0.5, LABEL_SHARE[ind] * DOSE_TOLERANCE))
        if not pooled_ae:
            for t in targets["ae"]:
                if t.key.split(":")[1] in WEIGHTED_TERMS:
                    spec.append((f"{t.key}@{ind}", LABEL_SHARE[ind] * t.value, LABEL_SHARE[ind] * t.se))
    if pooled_ae:
        for t in targets["ae"]:
            if t.key.split(":")[1] in WEIGHTED_TERMS:
                spec.append((t.key, t.value, t.se))
    for ind in INDICATIONS:
        f = feats[ind]
        cols = []
        for key, _, _ in spec:
            if key.startswith("indication:"):
                cols.append(np.full(len(f), float(key.split(":")[1] == ind)))
            elif "@" in key:
                k, where = key.split("@")
                cols.append(f[k].to_numpy() if where == ind else np.zeros(len(f)))
            else:
                cols.append(f[key].to_numpy())
        blocks.append(np.column_stack(cols))
    res = maxent_weights(np.vstack(blocks), np.array([t for _, t, _ in spec]), np.array([s for _, _, s in spec]),
                         max_multiplier=max_multiplier)
    weights, at = {}, 0
    for ind in INDICATIONS:
        n = int(ok[ind].sum())
        w = np.zeros(len(pools[ind]))
        w[ok[ind]] = res.weights[at: at + n]
        at += n
        weights[ind] = w / w.sum()
    return weights, res, spec


def _trial_draws(weights: np.ndarray, n: int, seed: int) -> np.ndarray:
    """The pool indices a default trial of ``n`` patients with ``seed`` draws (same streams as the trial)."""
    cdf = np.cumsum(weights / weights.sum())
    return np.array([choose_index(cdf, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,))))
                     for i in range(n)])


def calibrate(out_dir: str | Path, settings: CalibrationSettings = CalibrationSettings(), *,
              progress: Callable[[str], None] = lambda s: None, install: bool = False) -> dict[str, Any]:
    """Run the pipeline into ``out_dir`` (resumable) and return the fit report as a dict."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = dict(load_targets())
    started = _dt.datetime.now(_dt.UTC)
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
    if install and history:
        from importlib import resources

        from ._table_writer import write_fitted_values

        path = Path(str(resources.files("il2sim.model") / "data" / "parameters"))
        write_fitted_values(path, values, {p.name: p.target for p in FIT_PARAMETERS},
                            {p.name: p.indication is None for p in FIT_PARAMETERS})
        load_table.cache_clear()  # the packaged table changed on disk: this process reloads it
        default_model.cache_clear()
        progress(f"stage 1 values written to {path}")
        values = {ind: _prior_values(ind) for ind in INDICATIONS}  # now the table's own values

    progress("stage 2: pool")
    report: dict[str, Any] = {"fitted_parameters": fitted, "stage1_history": history}
    files: dict[str, Any] = {}
    pools: dict[str, pd.DataFrame] = {}
    for ind in INDICATIONS:
        rows = _cohort(out / f"pool-{ind}", ind, settings.pool_patients, settings.seed, values[ind], settings, progress)
        pools[ind] = rows.sort_values("patient_id").reset_index(drop=True)
    weights, res, spec = joint_weights(pools, targets, settings.max_multiplier, doses=True)
    for ind in INDICATIONS:
        rows, w = pools[ind], weights[ind]
        # patients as drawn (same streams as the pool trial) and their stored outcomes
        pop = PopulationSpec(ind, source="prior", parameters=tuple(sorted(values[ind].items())))
        patients = [draw_patient(pop, settings.seed, int(i)).patient for i in rows["patient_id"]]
        frame = frame_from_patients(patients, w)
        frame["outcome_best_overall_response"] = rows["best_overall_response"].to_numpy()
        frame["outcome_doses_first_course"] = rows["doses_first_course"].to_numpy()
        for term in FITTED_TERMS:
            frame[f"outcome_reported_{term}"] = rows[f"reported_{term}"].to_numpy()
        name = f"calibrated-{ind}.parquet"
        frame.to_parquet(out / name, index=False)
        ok = w > 0
        files[ind] = {"file": name, "pool_patients": int(len(rows)), "failed": int(rows["status"].ne("ok").sum()),
                      "effective_sample_size": kish_ess(w[ok]), "seed": settings.seed,
                      "population_parameters": values[ind]}
        progress(f"  {ind}: ESS {files[ind]['effective_sample_size']:.0f} of {int(ok.sum())}")
    report.update(_stage2_report(pools, weights, targets))
    report["biology_checks"] = biology_checks(pools, weights)
    report["weights_solver"] = {"success": res.success, "message": res.message,
                                "constraints": [{"feature": k, "target": t, "tolerance": sd, "achieved": float(a)}
                                                for (k, t, sd), a in zip(spec, res.achieved)]}

    meta = {
        "format": POOL_FORMAT,
        "il2sim_version": __version__,
        "model_hash": default_model().hash,
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
        for name in [files[i]["file"] for i in INDICATIONS] + ["calibrated.json", "fit-report.md"]:
            shutil.copyfile(out / name, dest / name)
    return report


def _stage2_report(pools: dict[str, pd.DataFrame], weights: dict[str, np.ndarray],
                   targets: dict[str, Any]) -> dict[str, Any]:
    """Each target: published value, acceptance interval, prior pool, weighted pool, default 1,000-patient trial."""
    out: dict[str, Any] = {"indications": {}, "pooled_adverse_events": []}
    trial_feats, pool_feats = {}, {}
    for ind in INDICATIONS:
        rows, w = pools[ind], weights[ind]
        feats = features_of(rows, targets["doses"][ind].value)
        draws = _trial_draws(w, 1000, 0)  # the pool indices a default-seed 1,000-patient trial draws
        trial_feats[ind], pool_feats[ind] = feats.iloc[draws], feats
        doses = rows["doses_first_course"].to_numpy()
        r: dict[str, Any] = {"pool_patients": int(len(rows)), "effective_sample_size": kish_ess(w[w > 0]),
                             "failed": int(rows["status"].ne("ok").sum()), "targets": []}
        for t in [x for x in targets["response"] if x.indication == ind]:
            lo, hi = t.interval()
            r["targets"].append(_line(t, lo, hi, f"Wilson 95 % CI at n = {t.n}", float(feats[t.key].mean()),
                                      float(np.sum(feats[t.key].to_numpy() * w)), float(trial_feats[ind][t.key].mean())))
        d = targets["doses"][ind]
        r["targets"].append(_line(d, d.value - 2, d.value + 2, "within 2 doses", float(np.median(doses)),
                                  _weighted_median(doses, w), float(np.median(doses[draws]))))
        for t in targets["ae"]:
            r["targets"].append(_line(t, t.value - 0.10, t.value + 0.10, "within 10 points (this indication alone)",
                                      float(feats[t.key].mean()), float(np.sum(feats[t.key].to_numpy() * w)),
                                      float(trial_feats[ind][t.key].mean()), check=False))
        out["indications"][ind] = r
    for t in targets["ae"]:
        mix = lambda f: sum(LABEL_SHARE[i] * f(i) for i in INDICATIONS)  # noqa: E731
        listed = t.key.split(":")[1] in LISTED_TERMS
        out["pooled_adverse_events"].append(_line(
            t, t.value - 0.10, t.value + 0.10, "within 10 points" + ("" if listed else " (not listed)"),
            mix(lambda i: float(pool_feats[i][t.key].mean())),
            mix(lambda i: float(np.sum(pool_feats[i][t.key].to_numpy() * weights[i]))),
            mix(lambda i: float(trial_feats[i][t.key].mean())), n_trial=1000))
    return out


def biology_checks(pools: dict[str, pd.DataFrame], weights: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Non-outcome observations, not fitted: how the calibrated population compares with them.

    Weighted over the calibrated pools (both indications, label proportions)
    and, for the time course, the calibrated typical melanoma patient on the
    first cycle.
    """
    from ..engine import simulate_fast
    from ..model import typical_patient
    from ..protocol import NAMED_REGIMENS, make_policy

    def wmean(f) -> float:
        return float(sum(LABEL_SHARE[i] * np.sum(f(pools[i]) * weights[i]) for i in INDICATIONS))

    checks = [
        {"check": "weight gain >= 2 % of baseline (fraction of patients)", "observed_in_trials": "most patients "
         "(89-96 %, Target Oncol 2014, recalled)", "simulated": wmean(lambda r: (r["weight_gain_pct"] >= 2).to_numpy())},
        {"check": "median peak weight gain, %", "observed_in_trials": "about 5-10 % per cycle [M]",
         "simulated": float(np.median(np.concatenate([pools[i]["weight_gain_pct"].to_numpy() for i in INDICATIONS])))},
        {"check": "blood lymphocyte nadir below 500 /uL (fraction of patients)", "observed_in_trials":
         "profound lymphopenia within a day of high-dose IL-2 in nearly all patients (recalled)",
         "simulated": wmean(lambda r: (r["lymphocyte_nadir_per_ul"] < 500).to_numpy())},
    ]
    r = simulate_fast(typical_patient("melanoma"), NAMED_REGIMENS["high-dose"], days=14, policy=make_policy("pivotal"))
    t, ifng, lym = r.t, r.observables["ifng_pg_per_ml"], r.observables["lymphocytes_per_ul"]
    first = float(np.max(ifng[t <= 8.0]))
    checks += [
        {"check": "IFN-gamma peak over cycle 1 / peak after dose 1 (typical patient)",
         "observed_in_trials": "rises over successive doses (about 4-fold, recalled)",
         "simulated": float(np.max(ifng[t <= 120.0]) / first)},
        {"check": "lymphocyte rebound: peak days 6-14 / baseline (typical patient)",
         "observed_in_trials": "rebound lymphocytosis after the cycle, above baseline (recalled)",
         "simulated": float(np.max(lym[(t >= 120.0) & (t <= 336.0)]) / lym[0])},
    ]
    return checks


def _line(t: Target, lo: float, hi: float, criterion: str, prior: float, weighted: float, trial: float,
          check: bool = True, n_trial: int = 1000) -> dict[str, Any]:
    rate = not t.key.startswith("doses")
    return {"key": t.key, "target": t.value, "n": t.n, "low": lo, "high": hi, "criterion": criterion,
            "prior_pool": prior, "weighted_pool": weighted, "trial_1000": trial,
            "wilson_trial_1000": list(wilson_interval(trial * n_trial, n_trial)) if rate else None,
            "met": bool(lo - 1e-12 <= trial <= hi + 1e-12) if check else None}


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cdf, 0.5 * cdf[-1])])
