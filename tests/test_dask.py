"""Trials on dask.distributed: a real scheduler and two workers on loopback give the local run bit for bit."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from il2sim.cli import main

distributed = pytest.importorskip("distributed")

WEEKS = "6"  # short follow-up keeps the file fast; the backends do not care
TRIAL = ["trial", "--patients", "4", "--chunk-size", "2", "--follow-up-weeks", WEEKS, "--regimen", "high-dose"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM, then SIGKILL after a few seconds; workers first (they say goodbye to the scheduler), then the scheduler."""
    for group in (procs[1:], procs[:1]):
        for proc in group:
            if proc.poll() is None:
                proc.terminate()
        for proc in group:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers (separate processes) on 127.0.0.1; torn down always."""
    from distributed import Client

    tmp = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    bindir = Path(sys.executable).parent
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs: list[subprocess.Popen] = []
    logs = []
    client = None
    try:
        def start(name: str, args: list[str]) -> None:
            log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - open for the fixture's lifetime
            logs.append(log)
            procs.append(subprocess.Popen([str(bindir / "dask"), *args], cwd=tmp, env=env, stdout=log,
                                          stderr=subprocess.STDOUT))

        start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                            "--no-dashboard", "--no-show"])
        for k in (1, 2):
            start(f"worker{k}", ["worker", address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1",
                                 "--no-nanny", "--no-dashboard", "--name", f"w{k}", "--local-directory", str(tmp)])
        deadline = time.time() + 60
        while client is None:
            try:
                client = Client(address, timeout="5s", set_as_default=False)
            except OSError:
                if time.time() > deadline or any(p.poll() is not None for p in procs):
                    raise
        client.wait_for_workers(2, timeout=60)
        yield address, client, tmp
    finally:
        if client is not None:
            client.close()
        _stop(procs)
        for log in logs:
            log.close()


def _executed(client) -> dict[str, int]:
    """Tasks each worker has executed in its lifetime, as the worker itself counts them."""
    return client.run(lambda dask_worker: dask_worker.state.executed_count)


def _same_results(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(pd.read_parquet(a / "patients.parquet"), pd.read_parquet(b / "patients.parquet"),
                                  check_exact=True)
    assert (a / "patients.parquet").read_bytes() == (b / "patients.parquet").read_bytes()
    assert json.loads((a / "summary.json").read_text())["arms"] == json.loads((b / "summary.json").read_text())["arms"]
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    chunks = {p.name: p.read_bytes() for p in (a / "chunks").glob("*.parquet")}
    assert chunks == {p.name: p.read_bytes() for p in (b / "chunks").glob("*.parquet")} and len(chunks) == 2


def test_trial_on_two_workers_equals_the_local_run_bit_for_bit(cluster, tmp_path):
    address, client, _ = cluster
    before = _executed(client)
    with distributed.get_task_stream(client=client) as stream:
        assert main([*TRIAL, "--out", str(tmp_path / "dask"), "--scheduler", address]) == 0
    after = _executed(client)

    # both workers did the work: the scheduler's task stream and the workers' own counters agree
    rows_tasks = [t for t in stream.data if str(t["key"]).startswith("il2sim-rows-")]
    assert len(rows_tasks) == 4  # 2 chunks x 2 batches (one per cluster thread)
    assert {t["worker"] for t in rows_tasks} == set(before) and len(before) == 2
    assert all(after[w] > before[w] for w in before)
    assert sum(after[w] - before[w] for w in before) >= len(rows_tasks)

    local = tmp_path / "local"
    assert main([*TRIAL, "--out", str(local), "--workers", "1"]) == 0
    _same_results(tmp_path / "dask", local)
    prov = json.loads((tmp_path / "dask" / "summary.json").read_text())["provenance"]
    assert prov["backend_this_run"]["kind"] == "dask" and prov["backend_this_run"]["scheduler"] == address
    assert json.loads((local / "summary.json").read_text())["provenance"]["backend_this_run"]["kind"] == "local"

    # a trial started locally resumes on the cluster (the scheduler is not a trial input)
    for name in ("patients.parquet", "summary.json", "report.html"):
        (local / name).unlink()
    max(local.glob("chunks/*.parquet")).unlink()  # the last chunk
    assert main([*TRIAL, "--out", str(local), "--scheduler", address, "--resume"]) == 0
    _same_results(tmp_path / "dask", local)


@contextmanager
def _on_workers(client, name: str, value):
    """Replace ``il2sim.trial._rows.<name>`` in every worker process for the duration of the block."""

    def swap(dask_worker, name, value):  # nested: cloudpickle sends it by value
        import il2sim.trial._rows as trial

        trial.__dict__.setdefault("_saved_by_test", {}).setdefault(name, getattr(trial, name))
        setattr(trial, name, value)

    def restore(dask_worker, name):
        import il2sim.trial._rows as trial

        setattr(trial, name, trial._saved_by_test.pop(name))

    client.run(swap, name=name, value=value)
    try:
        yield
    finally:
        client.run(restore, name=name)
    assert set(client.run(lambda dask_worker: name in __import__("il2sim.trial._rows").trial._rows._saved_by_test).values()) == {False}


def _boom(*args, **kwargs):
    raise ValueError("boom on purpose")


def test_a_failing_job_on_a_worker_is_one_error_line(cluster, tmp_path, capsys):
    address, client, _ = cluster
    out = tmp_path / "t"
    def boom(*args, **kwargs):  # nested: cloudpickle sends it by value (workers cannot import this test module)
        raise ValueError("boom on purpose")

    with _on_workers(client, "arm_rows", boom):
        rc = main([*TRIAL, "--out", str(out), "--scheduler", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert err[0].startswith("error: trial: arm high-dose, patient 0") and "ValueError: boom on purpose" in err[0]
    assert f"on the Dask cluster at {address}" in err[0] and err[0].endswith("--resume")
    assert (out / "manifest.json").exists() and not (out / "summary.json").exists()


def test_a_worker_with_another_il2sim_refuses_the_work(cluster, tmp_path, capsys):
    address, client, _ = cluster
    with _on_workers(client, "__version__", "0.0.0-other"):
        rc = main([*TRIAL, "--out", str(tmp_path / "t"), "--scheduler", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "this worker has il2sim 0.0.0-other" in err[0] and "install the same il2sim on every worker" in err[0]


def test_a_failing_job_in_a_local_process_is_one_error_line(tmp_path, capsys, monkeypatch):
    import il2sim.trial._rows as trial

    monkeypatch.setattr(trial, "arm_rows", _boom)  # the forked processes inherit it
    rc = main([*TRIAL, "--out", str(tmp_path / "t"), "--workers", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "in a local worker process: ValueError: boom on purpose" in err[0], err


def test_ctrl_c_on_a_cluster_run_exits_130_with_the_resume_hint(cluster, tmp_path):
    address, _, _ = cluster
    out = tmp_path / "t"
    # long enough that it cannot finish between the manifest appearing and the signal (4 short patients could)
    long_trial = ["trial", "--patients", "400", "--chunk-size", "2", "--follow-up-weeks", "52", "--regimen", "high-dose"]
    # SIGINT back to its default in the child: a runner that starts the suite in the background (``cmd &``
    # without job control) leaves SIGINT ignored, and Python then never raises KeyboardInterrupt
    proc = subprocess.Popen([sys.executable, "-m", "il2sim", *long_trial, "--out", str(out), "--scheduler", address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # interrupt once the first chunk is written: the client is then waiting on the cluster
        deadline = time.time() + 120
        while not list((out / "chunks").glob("*.parquet")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the trial ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted; resume with: il2sim trial")
    assert err.strip().endswith(f"--scheduler {address} --resume")
    assert not (out / "summary.json").exists()


def test_unreachable_scheduler_is_one_line_and_leaves_nothing(tmp_path, capsys):
    import dask

    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    out = tmp_path / "t"
    started = time.time()
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        rc = main([*TRIAL, "--out", str(out), "--scheduler", address])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: --scheduler: got '{address}', expected a reachable Dask scheduler (")
    assert not out.exists()
    assert time.time() - started < 15


def test_a_custom_population_travels_to_the_workers_and_its_user_error_comes_back(cluster, tmp_path):
    from il2sim._errors import UserError
    from il2sim.population import Filter, PopulationSpec
    from il2sim.trial import TrialSpec, run_trial

    address, _, _ = cluster
    never = PopulationSpec("melanoma", filters=(Filter("never", "rejects every draw", lambda p: False),), max_draws=2,
                           source="prior")
    spec = TrialSpec(n_patients=2, chunk_size=2, follow_up_weeks=6, population=never)
    with pytest.raises(UserError, match=r"^population: got 'patient 0', expected a draw passing"):
        run_trial(spec, tmp_path / "t", scheduler=address)


def test_a_user_rule_set_and_a_variant_run_on_the_workers(cluster, tmp_path):
    """A rule set written in Python and a model variant travel to the workers by value: the rows equal in-process."""
    from il2sim.protocol import ClinicalProtocol, Rule, RuleSet
    from il2sim.trial import TrialSpec, run_trial

    address, _, _ = cluster
    mine = RuleSet("sbp-100", (Rule("sbp_below_100", "sbp-100", "SBP < 100 mmHg", "test", "hold",
                                    check=lambda obs: obs.values["sbp_mmhg"] < 100.0),))
    spec = TrialSpec(n_patients=2, chunk_size=2, follow_up_weeks=int(WEEKS), protocol=ClinicalProtocol(rules=mine),
                     parameters=(("kd_fold_alpha", 1000.0),))
    run_trial(spec, tmp_path / "local")
    run_trial(spec, tmp_path / "dask", scheduler=address)
    local = pd.read_parquet(tmp_path / "local" / "patients.parquet")
    pd.testing.assert_frame_equal(local, pd.read_parquet(tmp_path / "dask" / "patients.parquet"))
    assert (tmp_path / "local" / "patients.parquet").read_bytes() == (tmp_path / "dask" / "patients.parquet").read_bytes()
