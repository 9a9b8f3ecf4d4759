"""The command line: outputs of `simulate`, the listing commands, and one-line user errors."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from il2sim import UserError
from il2sim.cli import main
from il2sim.io import DOSES_COLUMNS, check_output_dir, to_json_safe, write_simulation
from il2sim.model import OBSERVABLES, STATES

REQUIRED_OBSERVABLES = (
    "il2_plasma_iu_per_ml", "aldesleukin_plasma_iu_per_ml", "sbp_mmhg", "map_mmhg", "heart_rate_bpm",
    "weight_kg", "urine_ml_per_h", "creatinine_mg_dl", "spo2_pct", "temperature_c", "lymphocytes_per_ul",
    "tumour_sum_diameters_mm",
)
CONTRACT_DOSES_COLUMNS = ("dose_index", "time_h", "day", "course", "cycle", "amount_iu_per_kg", "route",
                          "infusion_minutes", "given", "held_by", "stopped")
SBML_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
VENV_BIN = Path(sys.executable).parent


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def nan_free(text: str) -> bool:
    return not re.search(r"\b(NaN|Infinity)\b", text)


# ------------------------------------------------------------------ simulate
def test_simulate_writes_the_four_contract_files(tmp_path, capsys):
    out = tmp_path / "run"
    rc, stdout, stderr = run(capsys, "simulate", "--days", "2", "--out", out)
    assert rc == 0, stderr
    assert stderr == ""
    assert sorted(p.name for p in out.iterdir()) == [".il2sim", "doses.csv", "figure.png", "summary.json", "timecourse.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary directory left
    assert stdout.rstrip("\n").splitlines()[-1] == f"figure: {out / 'figure.png'}"
    assert "best overall response" in stdout and "lymphocyte nadir" in stdout

    tc = pd.read_parquet(out / "timecourse.parquet")
    assert tc.columns[0] == "time_h"
    for s in STATES:
        assert s.id in tc.columns
    for name in REQUIRED_OBSERVABLES:
        assert name in tc.columns
    from il2sim.model import CONTROLS

    assert set(tc.columns) == ({"time_h"} | {s.id for s in STATES} | {sym.id for sym, _ in OBSERVABLES}
                               | {c.id for c in CONTROLS})
    np.testing.assert_allclose(tc["time_h"].to_numpy(), np.arange(0.0, 48.0 + 0.125, 0.25), rtol=0, atol=1e-9)
    assert all(tc[c].dtype == np.float64 for c in tc.columns)

    with open(out / "doses.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    header = list(rows[0])
    assert tuple(header[: len(CONTRACT_DOSES_COLUMNS)]) == CONTRACT_DOSES_COLUMNS
    assert DOSES_COLUMNS == CONTRACT_DOSES_COLUMNS
    assert len(rows) == 7  # high-dose q8h: the administrations at 0, 8, ..., 48 h
    assert [int(r["dose_index"]) for r in rows] == list(range(7))
    assert [float(r["time_h"]) for r in rows] == sorted(float(r["time_h"]) for r in rows)
    assert {r["given"] for r in rows} <= {"true", "false"}
    assert {r["stopped"] for r in rows} <= {"true", "false"}
    assert all(r["held_by"] == "" for r in rows if r["given"] == "true")
    assert rows[0]["route"] == "iv" and float(rows[0]["amount_iu_per_kg"]) == 600000.0
    assert rows[3]["day"] == "2" and rows[3]["cycle"] == "1" and rows[3]["course"] == "1"

    text = (out / "summary.json").read_text()
    assert nan_free(text)
    summary = json.loads(text)
    for key in ("doses_scheduled", "doses_given", "doses_held", "best_overall_response", "worst_grade",
                "reported", "pk", "provenance"):
        assert key in summary
    assert summary["doses_scheduled"] == 7
    assert summary["best_overall_response"] in ("CR", "PR", "SD", "PD", "NE")
    assert {"cmax_iu_per_ml", "auc_iu_h_per_ml", "t_half_terminal_min"} <= set(summary["pk"])
    protocol = summary["provenance"]["protocol"]
    assert protocol["rules"] == "pivotal" and protocol["holds"] is True and protocol["care"] is True
    assert protocol["max_courses"] == 3

    assert (out / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_csv_format_and_recorded_protocol_switches(tmp_path, capsys):
    out = tmp_path / "csvrun"
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--format", "csv", "--out", out, "--indication", "rcc",
                        "--regimen", "low-dose-sc", "--rules", "consensus", "--no-holds", "--no-care",
                        "--max-courses", "1", "--weight-kg", "82.5", "--output-step-h", "0.5",
                        "--param", "cl_linear=6.5")
    assert rc == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == [".il2sim", "doses.csv", "figure.png", "summary.json", "timecourse.csv"]
    tc = pd.read_csv(out / "timecourse.csv")
    assert tc.columns[0] == "time_h"
    np.testing.assert_allclose(tc["time_h"].to_numpy(), np.arange(0.0, 24.0 + 0.25, 0.5), atol=1e-9)
    assert {s.id for s in STATES} <= set(tc.columns)
    summary = json.loads((out / "summary.json").read_text())
    protocol = summary["provenance"]["protocol"]
    assert protocol == {**protocol, "rules": "consensus", "holds": False, "care": False, "max_courses": 1}
    assert summary["provenance"]["cli"]["param"] == {"cl_linear": 6.5}
    assert summary["provenance"]["indication"] == "rcc"


def test_overwrite_replaces_a_simulation_directory_il2sim_wrote(tmp_path, capsys):
    out = tmp_path / "o"
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--out", out, "--format", "csv")
    assert rc == 0, stderr
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--out", out, "--overwrite")
    assert rc == 0, stderr
    assert not (out / "timecourse.csv").exists() and (out / "timecourse.parquet").exists()
    assert (out / ".il2sim").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]  # no lock or temporary file left


def test_overwrite_refuses_a_directory_il2sim_did_not_write(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "old.txt").write_text("old")
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--out", out, "--overwrite")
    assert rc == 2 and stderr.startswith("error: --out: ") and "not a directory il2sim wrote" in stderr
    assert (out / "old.txt").read_text() == "old"


def test_an_empty_existing_directory_is_accepted(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--out", out)
    assert rc == 0, stderr
    assert (out / "timecourse.parquet").exists()


def test_failed_solve_writes_outputs_and_exits_1(tmp_path, capsys, monkeypatch):
    import il2sim.engine as engine

    def failing(real):
        def run(*args, **kwargs):
            res = real(*args, **kwargs)
            return dataclasses.replace(res, status=engine.Status.SOLVER_FAILED, message="solve_ivp failed on [3, 4] h")
        return run

    for name in ("simulate", "simulate_fast"):  # either engine
        monkeypatch.setattr(engine, name, failing(getattr(engine, name)))
    out = tmp_path / "failed"
    rc, stdout, stderr = run(capsys, "simulate", "--days", "1", "--out", out)
    assert rc == 1
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: simulation: ")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best_overall_response"] == "NE"
    assert summary["status"]["success"] is False
    assert "figure: " in stdout


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import il2sim.engine as engine

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "simulate", interrupted)
    monkeypatch.setattr(engine, "simulate_fast", interrupted)
    rc, _, _ = run(capsys, "simulate", "--days", "1", "--out", tmp_path / "x")
    assert rc == 130
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ user errors
def _scenario(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


ERROR_CASES = {
    "unknown option": (["simulate", "--bogus", "1"], "--bogus"),
    "misspelt option": (["simulate", "--indcation", "rcc"], "--indcation"),
    "option missing its value": (["simulate", "--days"], "--days"),
    "option followed by another option": (["simulate", "--weight-kg", "--days", "2"], "--weight-kg"),
    "flag given a value": (["simulate", "--overwrite=yes"], "--overwrite"),
    "unknown command": (["simulat"], "command"),
    "extra argument": (["simulate", "extra"], "argument"),
    "bad indication": (["simulate", "--indication", "lung"], "--indication"),
    "bad regimen": (["simulate", "--regimen", "ultra-dose"], "--regimen"),
    "bad rules": (["simulate", "--rules", "strict"], "--rules"),
    "bad format": (["simulate", "--format", "xlsx"], "--format"),
    "days not a number": (["simulate", "--days", "abc"], "--days"),
    "negative days": (["simulate", "--days", "-1"], "--days"),
    "too many days": (["simulate", "--days", "4000"], "--days"),
    "nan days": (["simulate", "--days", "nan"], "--days"),
    "weight too low": (["simulate", "--weight-kg", "5"], "--weight-kg"),
    "weight not a number": (["simulate", "--weight-kg", "heavy"], "--weight-kg"),
    "zero follow-up": (["simulate", "--follow-up-weeks", "0"], "--follow-up-weeks"),
    "step not dividing the run": (["simulate", "--days", "2", "--output-step-h", "0.7"], "--output-step-h"),
    "step above 24 h": (["simulate", "--days", "2", "--output-step-h", "48"], "--output-step-h"),
    "max courses not an integer": (["simulate", "--max-courses", "2.5"], "--max-courses"),
    "max courses out of range": (["simulate", "--max-courses", "11"], "--max-courses"),
    "unknown parameter": (["simulate", "--param", "no_such_parameter=1"], "--param"),
    "parameter without value": (["simulate", "--param", "cl_linear"], "--param"),
    "parameter value not a number": (["simulate", "--param", "cl_linear=fast"], "--param cl_linear"),
    "params bad format": (["params", "--format", "html"], "--format"),
    "params bad indication": (["params", "--indication", "lung"], "--indication"),
    "states extra argument": (["states", "x"], "argument"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_user_errors_print_one_line_and_write_nothing(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args, field = ERROR_CASES[case]
    out = tmp_path / "out"
    extra = ["--out", str(out)] if args[0] == "simulate" and "extra" not in args else []
    rc, stdout, stderr = run(capsys, *args, *extra)
    assert rc == 2
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"error: {field}: got "), lines[0]
    assert ", expected " in lines[0]
    assert "Traceback" not in stderr and "Usage" not in stderr
    assert stdout == ""
    assert list(tmp_path.iterdir()) == []  # no output directory, no temporary directory


def test_missing_scenario_file(tmp_path, capsys):
    rc, _, stderr = run(capsys, "simulate", "--regimen", tmp_path / "nope.toml", "--out", tmp_path / "out")
    assert rc == 2
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: nope.toml: got ")
    assert list(tmp_path.iterdir()) == []


def test_scenario_with_unknown_key(tmp_path, capsys):
    path = _scenario(tmp_path, "bad.toml", (
        "[[block]]\namount_iu_per_kg = 600000\nroute = 'iv'\ninfusion_minutes = 15\nevery_hours = 8\n"
        "count = 14\nstart_day = 1\ndose_mg = 3\n"))
    rc, _, stderr = run(capsys, "simulate", "--regimen", path, "--out", tmp_path / "out")
    assert rc == 2
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: bad.toml: block[1].dose_mg: got 3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


def test_scenario_file_runs(tmp_path, capsys):
    path = _scenario(tmp_path, "bolus.toml", (
        "[[block]]\namount_iu_per_kg = 100000\nroute = 'iv'\ninfusion_minutes = 0\nevery_hours = 12\n"
        "count = 2\nstart_day = 1\n"))
    rc, _, stderr = run(capsys, "simulate", "--regimen", path, "--days", "1", "--out", tmp_path / "out")
    assert rc == 0, stderr
    doses = pd.read_csv(tmp_path / "out" / "doses.csv")
    assert list(doses["time_h"]) == [0.0, 12.0]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["provenance"]["regimen"]["name"] == "bolus"


def test_existing_non_empty_out_without_overwrite(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    rc, stdout, stderr = run(capsys, "simulate", "--days", "1", "--out", out)
    assert rc == 2
    lines = stderr.splitlines()
    assert lines == [f"error: --out: got {str(out)!r}, expected a new or empty directory (or --overwrite)"]
    assert stdout == ""
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_out_is_a_file(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--out", target, "--overwrite")
    assert rc == 2 and stderr.startswith("error: --out: got ")
    assert target.read_text() == "x"


# ------------------------------------------------------------------ io layer
def test_write_simulation_cleans_up_on_error(tmp_path, hd_short, monkeypatch):
    import il2sim.plot

    def broken(*args, **kwargs):
        raise RuntimeError("figure failed")

    monkeypatch.setattr(il2sim.plot, "patient_figure", broken)
    with pytest.raises(RuntimeError, match="figure failed"):
        write_simulation(hd_short, {"doses_given": 1}, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_write_simulation_keeps_old_directory_when_writing_fails(tmp_path, hd_short, monkeypatch):
    import il2sim.plot

    out = tmp_path / "out"
    write_simulation(hd_short, {}, out, fmt="csv", figure=False)
    before = sorted(p.name for p in out.iterdir())
    monkeypatch.setattr(il2sim.plot, "patient_figure", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        write_simulation(hd_short, {}, out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before == [".il2sim", "doses.csv", "summary.json", "timecourse.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_simulation_without_figure_and_nan_to_null(tmp_path, hd_short):
    paths = write_simulation(hd_short, {"x": float("nan"), "y": [np.float64(np.inf), np.int64(3)]},
                             tmp_path / "out", fmt="csv", figure=False)
    assert sorted(paths) == ["doses.csv", "summary.json", "timecourse.csv"]
    text = paths["summary.json"].read_text()
    assert nan_free(text)
    assert json.loads(text) == {"x": None, "y": [None, 3]}


def test_to_json_safe():
    assert to_json_safe({"a": (1.5, float("-inf")), 2: np.array([np.nan, 1.0]), "b": np.bool_(True)}) == {
        "a": [1.5, None], "2": [None, 1.0], "b": True}
    assert math.isclose(to_json_safe(np.float32(0.5)), 0.5)


def test_check_output_dir(tmp_path):
    assert check_output_dir(tmp_path / "new") == (tmp_path / "new").absolute()
    assert not (tmp_path / "new").exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("")
    with pytest.raises(UserError) as exc:
        check_output_dir(tmp_path / "full")
    assert exc.value.field == "out_dir"
    with pytest.raises(UserError, match="not a directory il2sim wrote"):
        check_output_dir(tmp_path / "full", overwrite=True)
    (tmp_path / "afile").write_text("")
    with pytest.raises(UserError):
        check_output_dir(tmp_path / "afile" / "sub")


@pytest.fixture(scope="module")
def hd_short():
    from il2sim.engine import simulate
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS

    return simulate(typical_patient("melanoma"), NAMED_REGIMENS["high-dose"], days=1)


def test_patient_figure_panels_are_labelled(hd_short):
    """The full panel checks live in test_plot.py; here: the figure from a CLI-sized run."""
    from il2sim.plot import patient_figure

    fig = patient_figure(hd_short, {"doses_given": 3, "doses_scheduled": 28, "best_overall_response": "NE"})
    titled = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(titled) == 16
    assert "3/28 doses given" in fig._suptitle.get_text() and "NE" in fig._suptitle.get_text()


# ------------------------------------------------------------------ listings
def test_states_output(capsys):
    rc, stdout, stderr = run(capsys, "states")
    assert rc == 0 and stderr == ""
    lines = stdout.splitlines()
    assert len(lines) == len(STATES)
    for line, spec in zip(lines, STATES, strict=True):
        fields = line.split("\t")
        assert len(fields) == 3
        assert SBML_ID.match(fields[0])
        assert fields == [spec.id, spec.unit, " ".join(spec.description.split())]


def test_params_markdown(capsys):
    from il2sim.model import load_table

    rc, stdout, _ = run(capsys, "params", "--format", "markdown")
    assert rc == 0
    lines = stdout.splitlines()
    assert lines[0].startswith("| parameter | value | unit | valid range | evidence | source |")
    assert lines[1].startswith("|---")
    table = load_table()
    rows = [ln for ln in lines if ln.startswith("| `")]
    assert len(rows) == len(table)
    for p in table:
        assert any(ln.startswith(f"| `{p.name}` |") and f"| {p.source} |" in ln for ln in rows), p.name
    assert "## References" in lines
    for key in {p.source for p in table}:
        assert f"- `{key}`:" in stdout


def test_params_csv_and_indication(capsys):
    from il2sim.model import load_table

    rc, stdout, _ = run(capsys, "params", "--format", "csv", "--indication", "rcc")
    assert rc == 0
    rows = list(csv.DictReader(io.StringIO(stdout)))
    table = load_table()
    assert [r["name"] for r in rows] == [p.name for p in table]
    by_name = {r["name"]: r for r in rows}
    for p in table:
        assert math.isclose(float(by_name[p.name]["value"]), p.value_for("rcc"), rel_tol=1e-5)
    rc, stdout, _ = run(capsys, "params")
    assert rc == 0 and "iu_per_mg" in stdout


def test_regimens_lists_every_named_regimen(capsys):
    from il2sim.protocol import NAMED_REGIMENS

    rc, stdout, _ = run(capsys, "regimens")
    assert rc == 0
    for name in NAMED_REGIMENS:
        assert f"{name}:" in stdout
    assert "600,000 IU/kg" in stdout


def test_help_exits_0(capsys):
    rc, stdout, _ = run(capsys, "simulate", "--help")
    assert rc == 0 and "--indication" in stdout
    rc, stdout, _ = run(capsys)
    assert rc == 0 and "simulate" in stdout


# ------------------------------------------------------------------ entry points
def test_console_script_and_python_m():
    script = VENV_BIN / "il2sim"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    for cmd in ([str(script), "states"], [sys.executable, "-m", "il2sim", "states"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[0].split("\t")[0] == STATES[0].id
    proc = subprocess.run([str(script), "simulate", "--days", "abc"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: --days: got 'abc', expected a number of days > 0 and <= 3650"]


def test_simulate_sets_nephrectomy_and_lesions(tmp_path, capsys):
    out = tmp_path / "covariates"
    rc, _, stderr = run(capsys, "simulate", "--days", "1", "--format", "csv", "--out", out, "--nephrectomy", "yes",
                        "--lesions", "2", "--lesion-mm", "40")
    assert rc == 0, stderr
    summary = json.loads((out / "summary.json").read_text())
    cov = summary["provenance"]["covariates"]
    assert cov["nephrectomy"] is True
    assert summary["recist"]["baseline_sum_mm"] == pytest.approx(80.0)
    assert summary["provenance"]["cli"]["lesion_diameters_mm"] == [40.0, 40.0]
    for args, line in ((["--lesions", "0"], "error: --lesions: got '0', expected an integer from 1 to 5"),
                       (["--lesion-mm", "9"], "error: --lesion-mm: got '9', expected a longest diameter in mm from 10 to "
                                              "300 (RECIST measurable)"),
                       (["--nephrectomy", "maybe"], "error: --nephrectomy: got 'maybe', expected one of yes, no")):
        rc, _, stderr = run(capsys, "simulate", "--days", "1", "--out", tmp_path / "never", *args)
        assert rc == 2 and stderr.splitlines() == [line]
        assert not (tmp_path / "never").exists()
