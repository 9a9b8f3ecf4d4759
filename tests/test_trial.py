"""The trial runner: deterministic, resumable after SIGKILL, inputs guarded, errors leave nothing."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from il2sim.cli import main
from il2sim.trial import TrialSpec, run_trial

WEEKS = 6  # short follow-up keeps the suite fast; the runner does not care


def _spec(**kw):
    base = dict(n_patients=3, chunk_size=2, follow_up_weeks=WEEKS, arms=("high-dose", "low-dose-iv"))
    base.update(kw)
    return TrialSpec(**base)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from il2sim.report import trial_report_html

    out = tmp_path_factory.mktemp("ref") / "trial"
    summary = run_trial(_spec(), out, report=trial_report_html)
    return out, summary, pd.read_parquet(out / "patients.parquet")


def test_outputs_are_sorted_and_complete(reference):
    out, summary, patients = reference
    assert list(patients[["arm", "patient_id"]].itertuples(index=False, name=None)) == [
        ("high-dose", 0), ("high-dose", 1), ("high-dose", 2), ("low-dose-iv", 0), ("low-dose-iv", 1), ("low-dose-iv", 2)]
    assert set(summary["arms"]) == {"high-dose", "low-dose-iv"}
    for arm in summary["arms"].values():
        assert {"n_patients", "n_failed", "orr", "cr_rate", "pr_rate", "sd_rate", "pd_rate", "ne_rate",
                "median_doses_first_course", "incidence", "incidence_grade3plus"} <= set(arm)
    assert (out / "report.html").exists()
    assert not any(c in patients.columns for c in ("wall_time", "host", "worker", "chunk"))


def test_same_patients_in_every_arm(reference):
    _, _, patients = reference
    by_arm = {arm: df.set_index("patient_id")[["weight_kg", "nephrectomy", "n_target_lesions"]]
              for arm, df in patients.groupby("arm")}
    pd.testing.assert_frame_equal(by_arm["high-dose"], by_arm["low-dose-iv"])


def test_patient_i_is_identical_across_patient_counts_chunk_sizes_and_arms(reference, tmp_path):
    _, _, patients = reference
    other = run_trial(_spec(n_patients=2, chunk_size=1, arms=("low-dose-iv",)), tmp_path / "t")
    small = pd.read_parquet(tmp_path / "t" / "patients.parquet")
    ref = patients[(patients.arm == "low-dose-iv") & (patients.patient_id < 2)].reset_index(drop=True)
    pd.testing.assert_frame_equal(small, ref)
    assert other["arms"]["low-dose-iv"]["n_patients"] == 2


def test_worker_processes_do_not_change_the_rows(reference, tmp_path):
    _, _, patients = reference
    run_trial(_spec(arms=("high-dose",)), tmp_path / "w", workers=2)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "w" / "patients.parquet"),
                                  patients[patients.arm == "high-dose"].reset_index(drop=True))


def test_resume_on_a_finished_trial_is_a_no_op(reference):
    out, summary, _ = reference
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
    assert main(["trial", "--patients", "3", "--chunk-size", "2", "--follow-up-weeks", str(WEEKS), "--workers", "1",
                 "--regimen", "high-dose", "--regimen", "low-dose-iv", "--out", str(out), "--resume"]) == 0
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before


def test_changed_inputs_are_refused_under_resume(reference, capsys):
    out, _, _ = reference
    rc = main(["trial", "--patients", "3", "--chunk-size", "2", "--follow-up-weeks", str(WEEKS), "--seed", "1",
               "--regimen", "high-dose", "--regimen", "low-dose-iv", "--out", str(out), "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: --resume (seed)")


def _tables_equal(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(a / "patients.parquet"), pd.read_parquet(b / "patients.parquet"))
    assert json.loads((a / "summary.json").read_text())["arms"] == json.loads((b / "summary.json").read_text())["arms"]


@pytest.mark.parametrize("kill_after_chunks", [1, 3])
def test_sigkill_then_resume_equals_an_uninterrupted_run(reference, tmp_path, kill_after_chunks):
    ref_out, _, _ = reference
    out = tmp_path / "killed"
    args = ["trial", "--patients", "3", "--chunk-size", "1", "--follow-up-weeks", str(WEEKS), "--workers", "1",
            "--regimen", "high-dose", "--regimen", "low-dose-iv", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "il2sim", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if len(list((out / "chunks").glob("*.parquet"))) >= kill_after_chunks if (out / "chunks").exists() else False:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the trial finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    assert main([*args, "--resume"]) == 0
    _tables_equal(out, ref_out)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


@pytest.mark.parametrize("bad, field", [
    (["--patients", "0"], "--patients"),
    (["--chunk-size", "x"], "--chunk-size"),
    (["--regimen", "no-such-regimen"], "--regimen"),
    (["--rules", "strict"], "--rules"),
    (["--follow-up-weeks", "-1"], "--follow-up-weeks"),
    (["--engine", "gpu"], "--engine"),
])
def test_bad_inputs_give_one_line_and_leave_nothing(tmp_path, capsys, bad, field):
    out = tmp_path / "t"
    rc = main(["trial", "--patients", "2", "--out", str(out), *bad])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith(f"error: {field}")
    assert not out.exists()


def test_existing_directory_needs_resume_or_overwrite(tmp_path, capsys):
    out = tmp_path / "t"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    rc = main(["trial", "--patients", "1", "--out", str(out)])
    assert rc == 2 and capsys.readouterr().err.startswith("error: --out")
    assert (out / "keep.txt").read_text() == "x"


# ------------------------------------------------------------------ parameters per arm

PARAM_TRIAL = ["trial", "--patients", "2", "--chunk-size", "1", "--follow-up-weeks", str(WEEKS)]


def test_param_is_applied_recorded_and_guarded_on_resume(tmp_path, capsys):
    base, variant = tmp_path / "base", tmp_path / "variant"
    assert main([*PARAM_TRIAL, "--out", str(base)]) == 0
    assert main([*PARAM_TRIAL, "--param", "kd_fold_alpha=1000", "--out", str(variant)]) == 0
    inputs = json.loads((variant / "manifest.json").read_text())["inputs"]
    assert inputs["parameters"] == {"high-dose": {"kd_fold_alpha": 1000.0}}
    assert inputs["arm_model_hash"]["high-dose"] != inputs["model_hash"]
    summary = json.loads((variant / "summary.json").read_text())
    assert summary["provenance"]["inputs"]["parameters"] == {"high-dose": {"kd_fold_alpha": 1000.0}}
    a, b = pd.read_parquet(base / "patients.parquet"), pd.read_parquet(variant / "patients.parquet")
    assert (a["weight_kg"] == b["weight_kg"]).all()  # the same patients
    # a CD25-blind variant leaves endothelial CD25 unbound: less leak drive, so less hypotension on more doses
    assert (b["sbp_min_mmhg"] > a["sbp_min_mmhg"]).all()
    assert (b["doses_first_course"] >= a["doses_first_course"]).all()
    capsys.readouterr()
    shutil.rmtree(variant / "chunks")
    (variant / "summary.json").unlink()
    rc = main([*PARAM_TRIAL, "--param", "kd_fold_alpha=999", "--out", str(variant), "--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: --resume (parameters)"), err
    assert main([*PARAM_TRIAL, "--param", "kd_fold_alpha=1000", "--out", str(variant), "--resume"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(variant / "patients.parquet"), b)


def test_params_file_equals_param(tmp_path):
    f = tmp_path / "variant.toml"
    f.write_text("[parameters]\nkd_fold_alpha = 1000\n")
    assert main([*PARAM_TRIAL, "--patients", "1", "--params", str(f), "--out", str(tmp_path / "a")]) == 0
    assert main([*PARAM_TRIAL, "--patients", "1", "--param", "kd_fold_alpha=1000", "--out", str(tmp_path / "b")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "patients.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "patients.parquet"))


@pytest.mark.parametrize("bad, start", [
    (["--param", "kill_max=0.5"], "error: --param kill_max: got 0.5, expected a parameter the calibrated population"),
    (["--param", "no_such=1"], "error: --param: got 'no_such'"),
    (["--param", "kd_fold_alpha=nan"], "error: --param kd_fold_alpha"),
    (["--params", "missing.toml"], "error: --params: got 'missing.toml'"),
])
def test_bad_parameter_overrides_give_one_line(tmp_path, capsys, bad, start):
    rc = main([*PARAM_TRIAL, "--out", str(tmp_path / "t"), *bad])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith(start), err
    assert not (tmp_path / "t").exists()


def test_a_calibrated_parameter_may_change_in_the_prior_population(tmp_path):
    from il2sim.population import PopulationSpec
    from il2sim.trial import Arm

    spec = TrialSpec(n_patients=1, follow_up_weeks=WEEKS, population=PopulationSpec("melanoma", source="prior"),
                     arms=(Arm("high-dose"), Arm("high-dose", parameters={"kill_max": 0.0}, name="no-kill")))
    assert spec.arm_patient(spec.arms[1], spec.draw(0)).values()["kill_max"] == 0.0
    assert spec.arm_patient(spec.arms[0], spec.draw(0)).values()["kill_max"] > 0.0
    rows = pd.read_parquet(run_trial(spec, tmp_path / "t") and tmp_path / "t" / "patients.parquet")
    assert list(rows["arm"]) == ["high-dose", "no-kill"]


def test_a_user_rule_set_runs_in_local_worker_processes(tmp_path):
    """A rule set written in Python (a lambda predicate) travels to the workers by value and gives the in-process rows."""
    from il2sim.protocol import ClinicalProtocol, Rule, RuleSet

    mine = RuleSet("sbp-100", (Rule("sbp_below_100", "sbp-100", "SBP < 100 mmHg", "test", "hold",
                                    check=lambda obs: obs.values["sbp_mmhg"] < 100.0),))
    spec = _spec(n_patients=2, chunk_size=2, arms=("high-dose",), protocol=ClinicalProtocol(rules=mine))
    run_trial(spec, tmp_path / "one")
    run_trial(spec, tmp_path / "two", workers=2)
    one = pd.read_parquet(tmp_path / "one" / "patients.parquet")
    pd.testing.assert_frame_equal(one, pd.read_parquet(tmp_path / "two" / "patients.parquet"))
    assert json.loads((tmp_path / "one" / "manifest.json").read_text())["inputs"]["protocol"]["rules"] == "sbp-100"
