"""A full or read-only file system gives one error line, exit 1, and nothing half-written (issue 18).

Each case runs il2sim inside a private mount namespace (``unshare``) on a
small tmpfs: a full disk is a real ENOSPC and a read-only mount a real EROFS,
which even root cannot write through. Where the machine allows no namespace
(``unshare`` missing or forbidden), the tests skip and say so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

# Runs inside the namespace: mounts, runs the commands, reports what the directory holds.
DRIVER = textwrap.dedent(r"""
    import json, os, subprocess, sys
    mnt, size, ro, commands = sys.argv[1], sys.argv[2], sys.argv[3] == "ro", json.loads(sys.argv[4])
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt], check=True)
    os.makedirs(os.path.join(mnt, "existing"))
    if ro:
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
    runs = []
    for c in commands:
        if c == "grow":
            subprocess.run(["mount", "-o", "remount,size=256m", mnt], check=True)
            continue
        p = subprocess.run([sys.executable, "-m", "il2sim", *c], capture_output=True, text=True, cwd=mnt)
        files = sorted(os.path.relpath(os.path.join(d, f), mnt) for d, _, fs in os.walk(mnt) for f in fs)
        runs.append({"rc": p.returncode, "err": p.stderr.strip().splitlines(), "files": files})
    print(json.dumps(runs))
""")


def _namespace_available() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs -o size=1m tmpfs /tmp"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"this machine allows no private mount namespace for a tmpfs ({probe.stderr.strip() or probe.returncode})"
    return None


REASON = _namespace_available()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))


def _run(tmp_path, size: str, commands: list, read_only: bool = False) -> list[dict]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    proc = subprocess.run(["unshare", "-rm", sys.executable, str(driver), str(mnt), size, "ro" if read_only else "rw",
                           json.dumps(commands)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _one_line(run: dict, *phrases: str) -> None:
    assert run["rc"] == 1, run
    assert len(run["err"]) == 1, run["err"]
    line = run["err"][0]
    assert line.startswith("error: file system: ") and "Traceback" not in line, line
    assert any(p in line for p in phrases), line


def _no_temporary_files(files: list[str]) -> None:
    assert not [f for f in files if ".tmp" in f or f.endswith(".partial")], files


@pytest.mark.parametrize("command", [
    ["simulate", "--days", "2", "--out", "existing/run"],
    ["trial", "--patients", "2", "--chunk-size", "1", "--follow-up-weeks", "2", "--out", "existing/trial"],
    ["export-sbml", "--out", "existing/model.xml"],
])
def test_a_read_only_file_system_is_one_line_and_nothing_is_written(tmp_path, command):
    (run,) = _run(tmp_path, "4m", [command], read_only=True)
    _one_line(run, "Read-only file system")
    assert run["files"] == []


def test_a_full_disk_during_a_simulation_is_one_line_and_leaves_nothing(tmp_path):
    (run,) = _run(tmp_path, "64k", [["simulate", "--days", "14", "--out", "existing/run"]])
    _one_line(run, "No space left on device")
    assert run["files"] == [], run["files"]  # not even the lock or a temporary file


def test_a_full_disk_during_a_trial_leaves_no_temporary_file_and_the_trial_resumes(tmp_path):
    trial = ["trial", "--patients", "6", "--chunk-size", "1", "--follow-up-weeks", "2", "--out", "existing/t"]
    full, resumed = _run(tmp_path, "96k", [trial, "grow", [*trial, "--resume"]])
    _one_line(full, "No space left on device")
    _no_temporary_files(full["files"])
    assert resumed["rc"] == 0, resumed["err"]
    assert {"existing/t/patients.parquet", "existing/t/summary.json", "existing/t/report.html"} <= set(resumed["files"])
    _no_temporary_files(resumed["files"])
