"""Calibration: max-entropy weights, Wilson intervals, the calibrated population and the pipeline."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from il2sim import UserError
from il2sim.analysis import wilson_interval
from il2sim.calibration import kish_ess, load_targets, maxent_weights
from il2sim.calibration._pipeline import FIT_PARAMETERS, _trial_draws, features_of
from il2sim.calibration._targets import LISTED_TERMS
from il2sim.model import default_model, load_table
from il2sim.population import PopulationSpec, draw_patient, load_pool
from il2sim.population._calibrated import pool_path, read_meta


# ---------------------------------------------------------------- max-entropy weights
def test_maxent_one_binary_feature_has_the_closed_form_solution():
    # n1 patients with the feature, n0 without: the exact max-entropy weights put t / n1 on each of
    # the first and (1 - t) / n0 on each of the others (KL projection onto one linear constraint).
    f = np.array([[1.0]] * 30 + [[0.0]] * 70)
    res = maxent_weights(f, np.array([0.45]))
    assert res.success
    assert np.allclose(res.weights[:30], 0.45 / 30, rtol=1e-6)
    assert np.allclose(res.weights[30:], 0.55 / 70, rtol=1e-6)
    assert res.multipliers[0] == pytest.approx(math.log((0.45 / 30) / (0.55 / 70)), rel=1e-5)
    assert res.ess == pytest.approx(1 / (30 * (0.45 / 30) ** 2 + 70 * (0.55 / 70) ** 2), rel=1e-6)


def test_maxent_uniform_when_the_pool_already_matches():
    rng = np.random.default_rng(0)
    f = (rng.random((400, 3)) < [0.2, 0.5, 0.7]).astype(float)
    res = maxent_weights(f, f.mean(axis=0))
    assert np.allclose(res.weights, 1 / 400, rtol=1e-6)
    assert kish_ess(res.weights) == pytest.approx(400)


def test_relaxed_maxent_meets_its_optimality_condition():
    # stationarity of the relaxed dual: achieved - target = -sigma^2 * lambda (inside the bounds)
    rng = np.random.default_rng(1)
    f = (rng.random((500, 2)) < [0.3, 0.6]).astype(float)
    t, s = np.array([0.15, 0.70]), np.array([0.02, 0.03])
    res = maxent_weights(f, t, s)
    assert np.allclose(res.achieved - t, -(s ** 2) * res.multipliers, atol=1e-7)
    exact = maxent_weights(f, t)
    assert np.allclose(exact.achieved, t, atol=1e-7)
    # the relaxation trades a small miss for effective sample size
    assert res.ess > exact.ess
    assert np.all(np.abs(res.achieved - t) < 2 * s)


def _synthetic_pool(rng, n, p_ae):
    from il2sim.calibration._targets import FITTED_TERMS

    bor = rng.choice(["CR", "PR", "SD", "PD"], size=n, p=[0.1, 0.1, 0.4, 0.4])
    cols = {f"reported_{t}": rng.random(n) < p_ae for t in FITTED_TERMS}
    return pd.DataFrame({"status": "ok", "best_overall_response": bor,
                         "doses_first_course": rng.integers(10, 29, size=n), **cols})


def test_joint_weights_hold_response_and_label_incidence_within_each_indication():
    from il2sim.calibration._pipeline import LABEL_SHARE, WEIGHTED_TERMS, joint_weights

    rng = np.random.default_rng(4)
    pools = {"melanoma": _synthetic_pool(rng, 3000, 0.3), "rcc": _synthetic_pool(rng, 3000, 0.5)}
    targets = load_targets()
    weights, res, spec = joint_weights(pools, targets)
    assert res.success
    assert "ae:edema@melanoma" not in {k for k, _, _ in spec}  # edema is reported, not weighted
    for ind, w in weights.items():
        assert w.sum() == pytest.approx(1.0)
        f = features_of(pools[ind], targets["doses"][ind].value)
        for t in targets["response"]:
            if t.indication == ind and t.key != "response:orr":
                assert abs(np.sum(f[t.key] * w) - t.value) < 2 * t.se, (ind, t.key)
        for t in targets["ae"]:
            if t.key.split(":")[1] in WEIGHTED_TERMS:
                assert abs(np.sum(f[t.key] * w) - t.value) < 2 * t.se, (ind, t.key)
    # pooled_ae: only the 270:255 mixture is held (as the label's table pooled its patients)
    weights, res, _ = joint_weights(pools, targets, pooled_ae=True)
    for t in targets["ae"]:
        if t.key.split(":")[1] in WEIGHTED_TERMS:
            mix = sum(LABEL_SHARE[i] * np.sum(features_of(pools[i], 0)[t.key] * weights[i]) for i in pools)
            assert abs(mix - t.value) < 2 * t.se, t.key


# ---------------------------------------------------------------- targets
@pytest.mark.parametrize("k,n", [(43, 270), (37, 255), (17, 270), (0, 50), (50, 50), (1, 3)])
def test_wilson_interval_matches_scipy(k, n):
    lo, hi = wilson_interval(k, n)
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)


def test_targets_are_the_reference_figures():
    t = load_targets()
    resp = {(x.key, x.indication): x for x in t["response"]}
    assert resp[("response:orr", "melanoma")].value == 0.16 and resp[("response:orr", "melanoma")].n == 270
    assert resp[("response:cr", "rcc")].value == 0.07 and resp[("response:pr", "rcc")].n == 255
    assert t["doses"]["melanoma"].value == 18 and t["doses"]["rcc"].value == 20
    ae = {x.key: x.value for x in t["ae"]}
    assert ae["ae:hypotension"] == 0.71 and ae["ae:creatinine_increased"] == 0.33 and ae["ae:fever"] == 0.29
    assert all(f"ae:{k}" in ae for k in LISTED_TERMS)


def test_features_are_the_rates_the_targets_speak_of():
    rows = pd.DataFrame({"best_overall_response": ["CR", "PR", "SD", "PD", "NE"],
                         "doses_first_course": [28, 18, 19, 10, 0],
                         **{f"reported_{k}": [True, False, False, False, True] for k in load_targets()["raw"]
                            ["adverse_events_any_grade"] if k not in ("n", "source")}})
    f = features_of(rows, 18)
    assert f["response:orr"].tolist() == [1, 1, 0, 0, 0] and f["response:cr"].tolist() == [1, 0, 0, 0, 0]
    assert f["doses:at_most_median"].tolist() == [0, 1, 0, 1, 1]
    assert f["ae:hypotension"].mean() == pytest.approx(0.4)


# ---------------------------------------------------------------- calibrated population
def test_pool_draws_follow_the_weights():
    w = np.array([0.5, 0.0, 0.2, 0.3])
    idx = _trial_draws(w, 4000, 3)
    counts = np.bincount(idx, minlength=4)
    assert counts[1] == 0
    # chi-square goodness of fit at 3 df (the zero-weight cell excluded): 99.9th percentile 16.27
    exp = 4000 * w[[0, 2, 3]]
    assert np.sum((counts[[0, 2, 3]] - exp) ** 2 / exp) < 16.27


def test_calibrated_population_requires_default_prior_fields():
    with pytest.raises(UserError, match="population weight_cv"):
        PopulationSpec("melanoma", weight_cv=0.3)
    with pytest.raises(UserError, match="^source: "):
        PopulationSpec("melanoma", source="posterior")
    with pytest.raises(UserError, match="population parameter"):
        PopulationSpec("melanoma", source="prior", parameters=(("no_such_parameter", 1.0),))
    with pytest.raises(UserError, match="population variability kf_leak_gain"):
        PopulationSpec("melanoma", source="prior", variability=(("kf_leak_gain", -1.0),))


def test_population_parameters_and_variability_shape_prior_draws():
    base = draw_patient(PopulationSpec("rcc", source="prior"), 5, 2).patient
    moved = draw_patient(PopulationSpec("rcc", source="prior", parameters=(("kf_leak_gain", 0.4),),
                                        filters=()), 5, 2).patient
    fixed = draw_patient(PopulationSpec("rcc", source="prior", variability=(("kf_leak_gain", 0.0),),
                                        filters=()), 5, 2).patient
    assert fixed.parameters["kf_leak_gain"] == load_table()["kf_leak_gain"].value
    # a new median scales the draw (same stream, same normal deviate)
    assert moved.parameters["kf_leak_gain"] / 0.4 == pytest.approx(
        base.parameters["kf_leak_gain"] / load_table()["kf_leak_gain"].value, rel=1e-12)


SHIPPED = read_meta()


@pytest.mark.skipif(SHIPPED is None, reason="no calibrated population ships")
def test_shipped_population_was_calibrated_on_this_model():
    # Fails whenever the equations or the parameter table change without `il2sim calibrate --install`.
    assert SHIPPED["model_hash"] == default_model().hash, (
        "the model changed under the calibrated population: rerun `make calibrate` (il2sim calibrate --install)")


@pytest.mark.skipif(SHIPPED is None, reason="no calibrated population ships")
@pytest.mark.parametrize("indication", ["melanoma", "rcc"])
def test_shipped_population_meets_its_targets_and_records_provenance(indication):
    pool = load_pool(indication)
    meta = SHIPPED["indications"][indication]
    assert len(pool) == meta["pool_patients"] and pool.effective_sample_size == pytest.approx(
        meta["effective_sample_size"], rel=1e-9)
    assert pool.effective_sample_size >= 100
    assert {"model_hash", "targets", "method", "settings", "created", "fitted_parameters"} <= set(SHIPPED)
    # the fitted population-level values are the table's values (the pool was drawn from them)
    table = load_table()
    for p in FIT_PARAMETERS:
        if p.indication in (None, indication):
            assert meta["population_parameters"][p.name] == pytest.approx(table[p.name].value_for(indication),
                                                                          rel=1e-9), p.name


@pytest.mark.skipif(SHIPPED is None, reason="no calibrated population ships")
def test_stored_pool_outcomes_are_what_the_model_simulates_now(tmp_path):
    """Re-simulate pool patients on the calibration protocol: the stored outcomes must come back exactly.

    Catches changes that the model hash does not see (rules, care, scoring, engine).
    """
    from il2sim.analysis import patient_row
    from il2sim.engine import simulate_batch
    from il2sim.protocol import NAMED_REGIMENS, make_policy
    from il2sim.trial import TrialSpec

    frame = pd.read_parquet(pool_path() / SHIPPED["indications"]["melanoma"]["file"])
    pool = load_pool("melanoma")
    ks = np.argsort(-pool.weights)[:12]
    spec = TrialSpec(indication="melanoma")
    patients = [pool.patient(int(k), int(k)) for k in ks]
    got = {}

    def reduce(j, result):
        got[j] = patient_row(result, arm="high-dose", follow_up_weeks=spec.follow_up_weeks)

    simulate_batch(patients, NAMED_REGIMENS["high-dose"], days=spec.follow_up_weeks * 7,
                   policy=make_policy("pivotal"), engine="fast", on_result=reduce)
    for j, k in enumerate(ks):
        stored = frame.iloc[int(k)]
        assert got[j]["best_overall_response"] == stored["outcome_best_overall_response"]
        assert got[j]["doses_first_course"] == stored["outcome_doses_first_course"]
        for c in frame.columns:
            if c.startswith("outcome_reported_"):
                assert got[j][c[len("outcome_"):]] == bool(stored[c]), (k, c)


@pytest.mark.skipif(SHIPPED is None, reason="no calibrated population ships")
def test_trial_patients_come_from_the_pool_the_same_in_any_batch():
    spec = PopulationSpec("rcc")
    a = draw_patient(spec, 0, 17)
    b = draw_patient(spec, 0, 17)
    assert a.pool_index == b.pool_index is not None
    pool = load_pool("rcc")
    assert dict(a.patient.parameters) == dict(pool.patient(a.pool_index, 17).parameters)


# ---------------------------------------------------------------- the pipeline end to end
def test_calibrate_cli_writes_population_report_and_provenance(tmp_path):
    out = tmp_path / "cal"
    proc = subprocess.run([sys.executable, "-m", "il2sim", "calibrate", "--out", str(out), "--pool", "8",
                           "--fit-patients", "8", "--fit-iterations", "1", "--workers", "2"],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "calibrated.json").read_text())
    assert meta["model_hash"] == default_model().hash and meta["settings"]["pool_patients"] == 8
    report = json.loads((out / "fit-report.json").read_text())
    assert {t["key"] for t in report["indications"]["rcc"]["targets"]} >= {"response:orr", "doses:median",
                                                                         "ae:hypotension"}
    # two evaluations of the stage-1 cohort, each with every fitted parameter
    assert len(report["stage1_history"]) == 2
    assert len(report["stage1_history"][0]["parameters"]) == len(FIT_PARAMETERS)
    md = (out / "fit-report.md").read_text()
    assert "Wilson" in md and "effective sample size" in md
    frame = pd.read_parquet(out / "calibrated-melanoma.parquet")
    assert len(frame) == 8 and frame["weight"].sum() == pytest.approx(1.0)
    # the same population loads as a pool
    pool = load_pool("melanoma", out)
    assert len(pool) == 8


def test_calibrate_bad_input_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "il2sim", "calibrate", "--out", str(tmp_path / "x"), "--pool", "3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --pool") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- the acceptance criterion (slow: ~5 min on 2 cores)
@pytest.fixture(scope="module")
def default_trials(tmp_path_factory):
    """The acceptance trials: 1,000 patients per indication, the default seed, everything else default."""
    from il2sim.trial import TrialSpec, run_trial

    rows = {}
    for ind in ("melanoma", "rcc"):
        out = tmp_path_factory.mktemp(ind)
        run_trial(TrialSpec(indication=ind, n_patients=1000), out, workers=2)
        rows[ind] = pd.read_parquet(out / "patients.parquet")
    return rows


@pytest.mark.slow
@pytest.mark.skipif(SHIPPED is None, reason="no calibrated population ships")
def test_default_1000_patient_trials_land_on_the_response_and_label_targets(default_trials):
    """ORR, CR and PR inside the Wilson 95 % interval at the published n; each listed label incidence
    (pooled 270:255 as in the label) within 10 points."""
    targets = load_targets()
    misses = []
    for t in targets["response"]:
        f = features_of(default_trials[t.indication], 0)
        lo, hi = t.interval()
        if not lo <= f[t.key].mean() <= hi:
            misses.append(f"{t.indication} {t.key} {f[t.key].mean():.3f} outside {lo:.3f}-{hi:.3f}")
    share = {"melanoma": 270 / 525, "rcc": 255 / 525}
    for term in LISTED_TERMS:
        pooled = sum(share[i] * default_trials[i][f"reported_{term}"].mean() for i in share)
        target = next(t.value for t in targets["ae"] if t.key == f"ae:{term}")
        if abs(pooled - target) > 0.10:
            misses.append(f"{term} {pooled:.3f} vs {target}")
    assert not misses, "; ".join(misses)


@pytest.mark.slow
@pytest.mark.skipif(SHIPPED is None, reason="no calibrated population ships")
def test_default_1000_patient_trials_land_on_the_median_doses(default_trials):
    targets = load_targets()
    for ind, d in targets["doses"].items():
        assert abs(default_trials[ind]["doses_first_course"].median() - d.value) <= 2, ind


def test_table_writer_sets_values_evidence_and_a_note_once(tmp_path):
    import tomllib
    from importlib import resources

    from il2sim.calibration._table_writer import write_fitted_values

    src = resources.files("il2sim.model") / "data" / "parameters"
    for f in src.iterdir():  # the packaged files, one per mechanism; the writer edits each row where it lives
        if f.name.endswith(".toml"):
            (tmp_path / f.name).write_bytes(f.read_bytes())
    path = tmp_path
    vals = {"melanoma": {"rash_sensitivity": 0.25, "kill_max": 0.005}, "rcc": {"rash_sensitivity": 0.25, "kill_max": 0.004}}
    for _ in range(2):  # rewriting does not stack notes
        write_fitted_values(path, vals, {"rash_sensitivity": "ae:rash", "kill_max": "response:orr"},
                            {"rash_sensitivity": True, "kill_max": False})
    doc = {k: v for f in sorted(path.glob("*.toml")) for k, v in tomllib.loads(f.read_text())["parameters"].items()}
    assert doc["rash_sensitivity"]["value"] == 0.25 and doc["rash_sensitivity"]["evidence"] == "calibrated"
    assert doc["kill_max"]["by_indication"] == {"melanoma": 0.005, "rcc": 0.004}
    assert doc["rash_sensitivity"]["note"].count("fitted by il2sim calibrate") == 1
    assert doc["rash_sensitivity"]["note"].count("value before calibration 0.6") == 1
    assert doc["rash_sensitivity"]["variability"]["cv"] == load_table()["rash_sensitivity"].variability.cv


def test_trial_population_choice_is_validated(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "il2sim", "trial", "--population", "posterior", "--out",
                           str(tmp_path / "t")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --population") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "t").exists()


def test_prior_population_trial_records_no_pool_index(tmp_path):
    from il2sim.trial import TrialSpec, run_trial

    spec = TrialSpec(n_patients=2, follow_up_weeks=4, population=PopulationSpec("melanoma", source="prior"))
    run_trial(spec, tmp_path / "t")
    rows = pd.read_parquet(tmp_path / "t" / "patients.parquet")
    assert rows["pool_index"].tolist() == [-1, -1]
    manifest = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert manifest["inputs"]["population"]["source"] == "prior"
