"""Scale checks of the fast engine: a large high-dose course, and a streamed trial's peak memory.

    python benchmarks/bench_scale.py course [--patients 10000] [--days 28] [--workers 2]
    python benchmarks/bench_scale.py trial-memory [--patients 200 800] [--workers 2]

``course`` simulates N virtual melanoma patients through one high-dose course
(``--days`` after t = 0, run-in included) under the `pivotal` protocol with
the fast engine, split over ``--workers`` processes, each reducing every
patient to its doses and discarding the time course. It prints the wall time
(kernel loading excluded and reported apart) and ``seconds_per_10000=X``.

``trial-memory`` runs ``il2sim trial`` (52-week follow-up, fast engine) for
each patient count given and samples the resident memory of the whole process
tree every 0.2 s; it prints the peak for each count, so one can see whether
memory grows with the trial size (it should not: chunks are streamed to disk),
and the per-patient wall time, from which it projects a 1,000,000-patient run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor


def _init() -> None:
    from il2sim.engine._jit import kernel
    from il2sim.model import default_model

    kernel(default_model().compiled)


def _course(args):
    ids, days = args
    from il2sim.engine import simulate_batch
    from il2sim.model import derive_constants
    from il2sim.population import PopulationSpec, draw_patient
    from il2sim.protocol import NAMED_REGIMENS, make_policy

    spec = PopulationSpec("melanoma", source="prior")
    draws = [draw_patient(spec, 0, i) for i in ids]
    individuals = [d.individual or derive_constants(d.patient) for d in draws]  # the steady-state filter's, when it ran
    given = []
    started = time.perf_counter()
    simulate_batch(individuals, NAMED_REGIMENS["high-dose"], days=days, policy=make_policy("pivotal"),
                   on_result=lambda k, r: given.append(sum(d.given for d in r.doses)))
    return time.perf_counter() - started, sum(given), len(given)


def course(n: int, days: float, workers: int) -> None:
    ids = list(range(n))
    shares = [ids[w::workers] for w in range(workers)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init) as pool:
        list(pool.map(_course, [([0], 1.0)] * workers))  # load the kernel in every worker
        load = time.perf_counter() - t0
        start = time.perf_counter()
        out = list(pool.map(_course, [(s, days) for s in shares]))
        wall = time.perf_counter() - start
    busy = max(o[0] for o in out)
    doses = sum(o[1] for o in out) / max(1, sum(o[2] for o in out))
    print(f"# {n} patients, {days:g} days, {workers} processes: wall {wall:.1f} s (busy {busy:.1f} s), "
          f"worker start and kernel load {load:.1f} s, mean doses given {doses:.1f}")
    print(f"seconds_per_10000={wall * 10000 / n:.1f}")


def _tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def trial_memory(counts: list[int], workers: int) -> None:
    exe = os.path.join(os.path.dirname(sys.executable), "il2sim")
    for n in counts:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [exe, "trial", "--patients", str(n), "--workers", str(workers), "--out", os.path.join(tmp, "t")]
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            peak = 0
            while proc.poll() is None:
                peak = max(peak, _tree_rss(proc.pid))
                time.sleep(0.2)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(f"trial failed: {proc.stderr.read().decode()}")
        print(f"# trial of {n} patients, {workers} workers: wall {wall:.1f} s ({wall / n:.3f} s per patient), "
              f"peak RSS of the process tree {peak / 2**20:.0f} MiB")
        print(f"peak_rss_mib_{n}={peak / 2**20:.0f} projected_hours_1e6={wall / n * 1e6 / 3600:.1f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    c = sub.add_parser("course")
    c.add_argument("--patients", type=int, default=10000)
    c.add_argument("--days", type=float, default=28.0)
    c.add_argument("--workers", type=int, default=2)
    m = sub.add_parser("trial-memory")
    m.add_argument("--patients", type=int, nargs="+", default=[200, 800])
    m.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    if args.what == "course":
        course(args.patients, args.days, args.workers)
    else:
        trial_memory(args.patients, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
