"""Nothing lost, nothing silently wrong: safe --overwrite, one writer per directory, checked chunks on resume."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from il2sim.cli import main

WEEKS = "4"
TRIAL = ["trial", "--patients", "2", "--chunk-size", "1", "--follow-up-weeks", WEEKS]


def _err(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# ------------------------------------------------------------------ --overwrite

@pytest.mark.parametrize("command", [["simulate", "--days", "1"], TRIAL])
def test_overwrite_never_deletes_what_il2sim_did_not_write(tmp_path, capsys, monkeypatch, command):
    """The hostile cases: the current directory, a project holding it, a user's file next to il2sim's outputs."""
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "thesis.tex").write_text("chapter 1")
    (project / "src" / "code.py").write_text("x = 1")
    monkeypatch.chdir(project / "src")
    for out in (".", "..", str(project), str(project / "src")):
        rc = main([*command, "--out", out, "--overwrite"])
        err = _err(capsys)
        assert rc == 2 and len(err) == 1 and err[0].startswith("error: --out: "), (out, err)
    assert (project / "thesis.tex").read_text() == "chapter 1" and (project / "src" / "code.py").exists()
    # an il2sim output with a user's file added is not replaced either
    run = tmp_path / "run"
    assert main([*command, "--out", str(run)]) == 0
    (run / "notes.txt").write_text("mine")
    capsys.readouterr()
    rc = main([*command, "--out", str(run), "--overwrite"])
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and "'notes.txt', which il2sim did not write" in err[0], err
    assert (run / "notes.txt").read_text() == "mine"


def test_a_trial_directory_is_not_replaced_by_a_simulation_and_back(tmp_path, capsys):
    trial, sim = tmp_path / "t", tmp_path / "s"
    assert main([*TRIAL, "--patients", "1", "--out", str(trial)]) == 0
    assert main(["simulate", "--days", "1", "--out", str(sim)]) == 0
    capsys.readouterr()
    assert main(["simulate", "--days", "1", "--out", str(trial), "--overwrite"]) == 2
    assert "an il2sim trial directory" in _err(capsys)[0]
    assert main([*TRIAL, "--out", str(sim), "--overwrite"]) == 2
    assert "an il2sim simulation directory" in _err(capsys)[0]
    assert (trial / "manifest.json").exists() and (sim / "doses.csv").exists()
    assert main([*TRIAL, "--patients", "1", "--out", str(trial), "--overwrite"]) == 0  # the same kind: replaced


# ------------------------------------------------------------------ one writer

def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "t"
    first = subprocess.Popen([sys.executable, "-m", "il2sim", "trial", "--patients", "40", "--chunk-size", "1",
                              "--follow-up-weeks", "52", "--seed", "7", "--workers", "1", "--out", str(out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(out / "manifest.json", first)
        for args in ([*TRIAL, "--seed", "8", "--out", str(out), "--overwrite"], [*TRIAL, "--out", str(out), "--resume"]):
            rc = main(args)
            err = _err(capsys)
            assert rc == 2 and len(err) == 1, err
            assert err[0].startswith("error: --out: ") and f"process {first.pid} (il2sim trial) holds it" in err[0]
        assert json.loads((out / "manifest.json").read_text())["inputs"]["seed"] == 7
    finally:
        first.kill()
        first.wait()
        first.stderr.close()
    # the lock dies with its holder (SIGKILL): the directory can be taken over at once
    assert main([*TRIAL, "--seed", "8", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "manifest.json").read_text())["inputs"]["seed"] == 8


def test_simulate_takes_the_lock_too(tmp_path, capsys):
    from il2sim._files import OutputLock

    out = tmp_path / "s"
    with OutputLock(out, "a test"):
        assert main(["simulate", "--days", "1", "--out", str(out)]) == 2
        err = _err(capsys)
        assert len(err) == 1 and f"process {os.getpid()} (a test) holds it" in err[0], err
    assert not out.exists()
    assert main(["simulate", "--days", "1", "--out", str(out)]) == 0


# ------------------------------------------------------------------ resume

@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "t"
    assert main([*TRIAL, "--out", str(out)]) == 0
    return out, pd.read_parquet(out / "patients.parquet")


def _resumable_copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    for name in ("summary.json", "patients.parquet", "report.html"):
        (dst / name).unlink()
    return dst


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "empty", "copy of another", "unrecorded"])
def test_resume_recomputes_a_bad_chunk(finished, tmp_path, damage):
    ref_dir, ref = finished
    out = _resumable_copy(ref_dir, tmp_path / "t")
    chunks = sorted((out / "chunks").glob("*.parquet"))
    target = chunks[1]
    if damage == "corrupt":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "copy of another":
        target.write_bytes(chunks[0].read_bytes())
    else:  # a file the manifest does not know (written, then killed before the manifest was updated)
        manifest = json.loads((out / "manifest.json").read_text())
        del manifest["chunks"][target.name]
        (out / "manifest.json").write_text(json.dumps(manifest))
    assert main([*TRIAL, "--out", str(out), "--resume"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "patients.parquet"), ref)
    assert (out / "patients.parquet").read_bytes() == (ref_dir / "patients.parquet").read_bytes()


@pytest.mark.parametrize("text", ["{not json", "[]", '{"chunks": {}}', ""])
def test_a_corrupt_manifest_is_one_line(finished, tmp_path, capsys, text):
    out = _resumable_copy(finished[0], tmp_path / "t")
    (out / "manifest.json").write_text(text)
    rc = main([*TRIAL, "--out", str(out), "--resume"])
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: --resume: "), err
    assert not (out / "patients.parquet").exists()


# ------------------------------------------------------------------ small things

def test_version(capsys):
    from il2sim import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"il2sim {__version__}"


def test_a_run_with_no_dose_in_its_window_is_refused(tmp_path, capsys):
    f = tmp_path / "late.toml"
    f.write_text('name = "late"\n[[block]]\nstart_day = 30\ncount = 2\nevery_hours = 8\n'
                 'amount_iu_per_kg = 600000\ninfusion_minutes = 15\nroute = "iv"\n')
    assert main(["simulate", "--regimen", str(f), "--days", "10", "--out", str(tmp_path / "s")]) == 2
    assert _err(capsys)[0].startswith("error: --days: got 10.0, expected a run that reaches the regimen's first dose")
    assert main([*TRIAL, "--regimen", str(f), "--out", str(tmp_path / "t")]) == 2
    assert _err(capsys)[0].startswith("error: --follow-up-weeks: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.toml"]


@pytest.mark.parametrize("address", ["nonsense", "tcp://", "tcp://host", "tcp://host:99999", "http://h:1", "tcp://a b:1"])
def test_a_malformed_scheduler_address_is_refused_at_once(tmp_path, capsys, address):
    started = time.time()
    assert main([*TRIAL, "--scheduler", address, "--out", str(tmp_path / "t")]) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("error: --scheduler: ") and "PROTOCOL://HOST:PORT" in err[0]
    assert time.time() - started < 5 and not (tmp_path / "t").exists()
    assert not os.listdir(tmp_path)


# ------------------------------------------------------------------ the file system and the processes

@pytest.mark.parametrize("command", [["simulate", "--days", "1"], TRIAL, ["export-sbml"]])
def test_a_path_the_file_system_refuses_is_one_line(tmp_path, capsys, command):
    out = tmp_path / ("x" * 300 + (".xml" if command == ["export-sbml"] else ""))
    assert main([*command, "--out", str(out)]) == 1
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("error: file system: File name too long"), err
    assert os.listdir(tmp_path) == []


def test_a_deeply_nested_scenario_file_is_one_line(tmp_path, capsys):
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert main(["simulate", "--regimen", str(f), "--out", str(tmp_path / "s")]) == 2
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("error: deep.toml: got "), err
    assert sorted(os.listdir(tmp_path)) == ["deep.toml"]


def _two_workers(proc: subprocess.Popen, timeout_s: float = 120.0) -> list:
    """The trial process's two local worker processes, once both have started (psutil processes)."""
    import psutil

    deadline = time.time() + timeout_s
    while len(psutil.Process(proc.pid).children()) < 2:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.1)
    return psutil.Process(proc.pid).children()


def test_local_workers_exit_when_the_trial_process_is_killed(tmp_path):
    import signal

    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "il2sim", "trial", "--patients", "40", "--chunk-size", "2",
                             "--follow-up-weeks", "52", "--workers", "2", "--out", str(tmp_path / "t")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        children = _two_workers(proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"orphaned workers: {[p.pid for p in alive]}"


def test_the_api_takes_a_regimen_by_name_or_says_what_it_wants():
    from il2sim.engine import simulate_fast
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS

    by_name = simulate_fast(typical_patient(), "high-dose", days=1)
    by_value = simulate_fast(typical_patient(), NAMED_REGIMENS["high-dose"], days=1)
    assert by_name.regimen == by_value.regimen and (by_name.y == by_value.y).all()
    with pytest.raises(TypeError, match=r"^regimen: got int, expected an il2sim.protocol.Regimen"):
        simulate_fast(typical_patient(), 3, days=1)


def test_a_named_regimen_as_a_scenario_file_to_start_from(tmp_path, capsys):
    from il2sim.protocol import NAMED_REGIMENS, load_scenario

    assert main(["regimens", "--show", "high-dose", "--format", "toml"]) == 0
    f = tmp_path / "high-dose.toml"
    f.write_text(capsys.readouterr().out)
    assert load_scenario(f).blocks == NAMED_REGIMENS["high-dose"].blocks
    assert main(["regimens", "--show", "no-such", "--format", "toml"]) == 2
    assert _err(capsys)[0].startswith("error: --show: got 'no-such'")


# ------------------------------------------------------------------ parameter ranges

@pytest.mark.parametrize("item, start", [
    ("kd_fold_alpha=-1", "error: --param kd_fold_alpha: got -1.0, expected a value in [0, inf] (the parameter's valid range)"),
    ("molecular_weight=-15300", "error: --param molecular_weight: got -15300.0, expected a value in [0, inf] g/mol"),
    ("run_in_days=-5", "error: --param run_in_days: got -5.0, expected a value in [0, inf] d"),
    ("prodrug_fraction=1.5", "error: --param prodrug_fraction: got 1.5, expected a value in [0, 1]"),
    ("molecular_weight=0", "error: --param: got 'molecular_weight=0', expected values with a physical steady state"),
    ("kd_fold_alpha=1e308", "error: --param: got 'kd_fold_alpha=1e+308', expected values with a finite steady state"),
])
@pytest.mark.parametrize("command", [["simulate", "--days", "1"], [*TRIAL, "--population", "prior"]])
def test_parameter_values_outside_their_range_are_refused_before_anything_runs(tmp_path, capsys, item, start, command):
    started = time.time()
    rc = main([*command, "--param", item, "--out", str(tmp_path / "o")])
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and err[0].startswith(start), err
    assert os.listdir(tmp_path) == [] and time.time() - started < 10


@pytest.mark.parametrize("command", [["simulate", "--days", "1"], [*TRIAL, "--population", "prior"]])
def test_a_zero_baseline_il5_is_one_line_naming_it(tmp_path, capsys, command):
    """Eosinophil production is relative to the baseline IL-5: 0 has no steady state (it used to fail in the run-in)."""
    rc = main([*command, "--param", "il5_baseline=0", "--out", str(tmp_path / "o")])
    err = _err(capsys)
    assert rc == 2 and len(err) == 1 and "got 0.0, expected il5_baseline > 0 pg/mL" in err[0], err
    assert os.listdir(tmp_path) == []


def test_every_table_value_lies_in_its_range_and_the_loader_checks_it():
    from il2sim.model import default_model
    from il2sim.model._table import _parse_table

    for row in default_model().table:
        lo, hi = row.bounds
        assert all(lo <= v <= hi for v in (row.value, *row.by_indication.values())), row.name
    doc = {"parameters": {"x": {"value": 2.0, "unit": "1", "description": "", "source": "s", "evidence": "assumption",
                                "bounds": [0.0, 1.0]}}}
    with pytest.raises(ValueError, match="outside its bounds"):
        _parse_table(doc, {"references": {}})


# ------------------------------------------------------------------ impossible physiology

def test_a_patient_beyond_the_model_s_domain_is_flagged_not_reported_as_plain_success(tmp_path, capsys):
    from il2sim.analysis import DOMAIN_LIMITS, out_of_domain, summarize
    from il2sim.engine import simulate_fast
    from il2sim.model import typical_patient
    from il2sim.protocol import make_policy

    assert [lim.id for lim in DOMAIN_LIMITS] == ["profound_shock", "plasma_volume_loss", "negative_state"]
    no_care = simulate_fast(typical_patient(), "high-dose", days=21, policy=make_policy(holds=False, care=False))
    obs = no_care.observables
    assert obs["map_mmhg"].min() < 40 and obs["plasma_volume_l"].min() < 0.4 * obs["plasma_volume_l"][0]
    assert out_of_domain(no_care) == ("profound_shock", "plasma_volume_loss")
    assert summarize(no_care)["status"]["out_of_domain"] == ["profound_shock", "plasma_volume_loss"]
    cared = simulate_fast(typical_patient(), "high-dose", days=21, policy=make_policy())
    assert out_of_domain(cared) == () and cared.observables["map_mmhg"].min() > 40
    # the CLI says so on one warning line and records it
    assert main(["simulate", "--no-care", "--no-holds", "--days", "21", "--out", str(tmp_path / "s")]) == 0
    err = _err(capsys)
    assert len(err) == 1 and err[0].startswith("warning: the patient reached a state the model cannot follow")
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["status"]["out_of_domain"] == [
        "profound_shock", "plasma_volume_loss"]
    # trials record it per patient and count it per arm
    assert main([*TRIAL, "--no-care", "--no-holds", "--out", str(tmp_path / "t")]) == 0
    rows = pd.read_parquet(tmp_path / "t" / "patients.parquet")
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    flagged = int((rows["out_of_domain"] != "").sum())
    assert flagged >= 1 and summary["arms"]["high-dose"]["n_out_of_domain"] == flagged


def test_ctrl_c_stops_a_large_trial_at_once_and_leaves_no_worker(tmp_path):
    """Ctrl-C does not wait for the batches in flight (issue 18: 74-148 s on a 10-million-patient request).

    Each worker batch here is 64 patients for a year, tens of seconds of work;
    the interrupt must end the trial, and kill its workers, within seconds.
    """
    import signal

    import psutil

    # a shell that starts the test run in the background (`make test &`) hands it SIGINT ignored, and the trial
    # would inherit that and rightly respect it: restore the default, as a terminal's foreground job has it
    proc = subprocess.Popen([sys.executable, "-m", "il2sim", "trial", "--patients", "1000000", "--chunk-size", "128",
                             "--workers", "2", "--out", str(tmp_path / "t")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        children = _two_workers(proc)
        time.sleep(3.0)  # the workers are inside their first batch
        started = time.time()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
        _, err = proc.communicate(timeout=60)
        took = time.time() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted; resume with: il2sim trial"), err
    assert "Traceback" not in err
    assert took < 10.0, f"Ctrl-C took {took:.1f} s"
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"workers left running: {[p.pid for p in alive]}"


def test_the_api_without_a_policy_runs_what_the_cli_runs(tmp_path, capsys):
    """The README's snippet and `il2sim simulate` give the same patient the same care and the same outcome."""
    from il2sim.analysis import summarize
    from il2sim.engine import DEFAULT_POLICY, simulate_fast
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS, GiveAllPolicy

    api = simulate_fast(typical_patient("rcc", weight_kg=80), NAMED_REGIMENS["high-dose"], days=112)
    assert api.provenance["policy"] == DEFAULT_POLICY.name == "pivotal"
    assert main(["simulate", "--indication", "rcc", "--weight-kg", "80", "--days", "112",
                 "--out", str(tmp_path / "cli")]) == 0
    cli = json.loads((tmp_path / "cli" / "summary.json").read_text())
    mine = json.loads(json.dumps(summarize(api), default=str))
    for key in ("doses_given", "doses_first_course", "courses", "best_overall_response", "worst_grade", "reported"):
        assert mine[key] == cli[key], key
    assert mine["care"] == pytest.approx(cli["care"], rel=1e-6)
    assert cli["care"]["fluid_boluses"] > 0
    # every dose with no care is a choice the user makes explicitly, and it is a different run
    bare = summarize(simulate_fast(typical_patient("rcc", weight_kg=80), "high-dose", days=112, policy=GiveAllPolicy()))
    assert bare["care"]["fluid_boluses"] == 0 and bare["worst_grade"] != cli["worst_grade"]
