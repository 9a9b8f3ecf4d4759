"""A deterministic, resumable virtual-trial runner.

Layout of a trial directory ``DIR``::

    DIR/manifest.json          the inputs (version, model hash, population, arms, seed, ...)
    DIR/chunks/AA-CCCCC.parquet one file per (arm, chunk of patient ids), written atomically
    DIR/patients.parquet       all rows, sorted by (arm, patient_id)   } written last,
    DIR/summary.json           per-arm endpoints + provenance           } atomically

Patient ``i`` is drawn from its own stream (:mod:`il2sim.population`), so the
rows do not depend on the chunk size, the order in which chunks run, whether
the run was interrupted or where the patients ran: a resumed trial equals an
uninterrupted one bit for bit, and a trial on a Dask cluster (``scheduler=``)
equals a local one. Each chunk is split into contiguous batches of ids
(:func:`_rows_job`, one task each) that run in-process, in local processes or
on Dask workers; this process gathers the rows in id order and writes every
file. Everything under ``summary["arms"]`` is computed from the sorted patient
table; wall-clock timings live only under ``summary["provenance"]``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._errors import UserError, require_integers
from .._version import __version__
from ..analysis import TERMS, summarize
from ..engine import ENGINES, FastSettings, SolverSettings, simulate, simulate_batch
from ..model import model_hash
from ..population import DEFAULT_FILTERS, PopulationSpec, draw_patient
from ..protocol import Regimen, make_policy, resolve_regimen

__all__ = ["TrialJobError", "TrialSpec", "patient_row", "run_trial"]

N_SCAN_COLUMNS = 7
DEFAULT_SOLVER = SolverSettings()
FAST_SOLVER = FastSettings()
RETRY_SOLVER = SolverSettings(method="LSODA", rtol=1e-7, atol=1e-9)
FAST_BATCH = 8
"""Patients in flight at once in one process with the fast engine (each holds its time course until reduced)."""


@dataclass(frozen=True)
class TrialSpec:
    """The inputs of a virtual trial (everything the manifest records)."""

    indication: str = "melanoma"
    arms: tuple[str, ...] = ("high-dose",)
    n_patients: int = 100
    seed: int = 0
    chunk_size: int = 256
    follow_up_weeks: float = 52.0
    rules: str = "pivotal"
    holds: bool = True
    care: bool = True
    max_courses: int = 3
    engine: str = "fast"
    population: PopulationSpec = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.population is None:
            object.__setattr__(self, "population", PopulationSpec(self.indication))
        require_integers(("--patients", self.n_patients, 1, 10_000_000), ("--chunk-size", self.chunk_size, 1, 100_000),
                         ("--seed", self.seed, 0, 2**63 - 1), ("--max-courses", self.max_courses, 1, 10))
        if not (isinstance(self.follow_up_weeks, (int, float)) and 0 < self.follow_up_weeks <= 520):
            raise UserError("--follow-up-weeks", self.follow_up_weeks, "a number of weeks > 0 and <= 520")
        if self.engine not in ENGINES:
            raise UserError("--engine", self.engine, f"one of {', '.join(ENGINES)}")
        if not self.arms:
            raise UserError("--regimen", self.arms, "at least one regimen")
        make_policy(self.rules, holds=self.holds, care=self.care, max_courses=self.max_courses)  # validates

    def regimens(self) -> list[tuple[str, Regimen]]:
        out, seen = [], set()
        for arm in self.arms:
            reg = resolve_regimen(arm)
            if reg.name in seen:
                raise UserError("--regimen", arm, "distinct arms (this arm name is given twice)")
            seen.add(reg.name)
            out.append((reg.name, reg))
        return out

    def manifest_inputs(self) -> dict[str, Any]:
        """Inputs that must not change under ``--resume`` (no chunk size: it does not change the rows)."""
        pop = asdict(self.population)
        pop["filters"] = [f.name for f in self.population.filters]
        if self.population.source == "calibrated":  # which calibration: its model hash, date and settings
            from ..population._calibrated import read_meta

            meta = read_meta() or {}
            pop["calibration"] = {k: meta.get(k) for k in ("model_hash", "created", "il2sim_version")}
            pop["calibration"]["pool"] = meta.get("indications", {}).get(self.indication, {}).get("file")
        return {
            "package_version": __version__,
            "model_hash": model_hash(),
            "indication": self.indication,
            "arms": {name: reg.to_dict() for name, reg in self.regimens()},
            "n_patients": self.n_patients,
            "seed": self.seed,
            "follow_up_weeks": float(self.follow_up_weeks),
            "rules": self.rules,
            "holds": self.holds,
            "care": self.care,
            "max_courses": self.max_courses,
            "engine": self.engine,
            "solver": (FAST_SOLVER if self.engine == "fast" else DEFAULT_SOLVER).to_dict(),
            "population": pop,
        }


def patient_row(arm: str, patient, regimen: Regimen, spec: TrialSpec, result=None) -> dict[str, Any]:
    """Simulate one patient on one arm (unless ``result`` is given) and reduce the course to one table row.

    A failed run is retried once with the reference engine's LSODA at tighter
    tolerances (``retried`` in the row).
    """
    policy = make_policy(spec.rules, holds=spec.holds, care=spec.care, max_courses=spec.max_courses)
    days = spec.follow_up_weeks * 7.0
    if result is None:
        result = simulate(patient, regimen, days=days, policy=policy, solver=DEFAULT_SOLVER)
    retried = False
    if not result.success:
        retried = True
        result = simulate(patient, regimen, days=days, policy=policy, solver=RETRY_SOLVER)
    cov = patient.covariates
    row: dict[str, Any] = {
        "arm": arm,
        "patient_id": int(patient.patient_id),
        "indication": patient.indication,
        "weight_kg": float(cov.weight_kg),
        "nephrectomy": bool(cov.nephrectomy),
        "n_target_lesions": int(len(patient.lesion_diameters())),
        "status": "ok" if result.success else "failed",
        "retried": retried,
        "failure": "" if result.success else str(result.message)[:500],
    }
    s = summarize(result, follow_up_weeks=spec.follow_up_weeks)
    baseline = s["recist"].get("baseline_sum_mm")
    scans = s["recist"].get("scans", [])
    sums = [sc["sum_diameters_mm"] for sc in scans]
    row.update({
        "baseline_sum_diameters_mm": float(baseline) if baseline else math.nan,
        "best_overall_response": s["best_overall_response"] if result.success else "NE",
        "best_change_pct": (100.0 * (min(sums) - baseline) / baseline) if (sums and baseline) else math.nan,
        "doses_scheduled": int(s["doses_scheduled"]),
        "doses_given": int(s["doses_given"]),
        "doses_first_course": int(s["doses_first_course"]),
        "courses": int(s["courses"]),
    })
    for k in range(1, N_SCAN_COLUMNS + 1):
        row[f"sld_scan_{k}_mm"] = float(sums[k - 1]) if k <= len(sums) else math.nan
    for term in TERMS:
        row[f"grade_{term}"] = int(s["worst_grade"].get(term, 0))
        row[f"reported_{term}"] = bool(s["reported"].get(term, False))
    pk = s["pk"]
    obs = result.observables if len(result.t) else {}
    row.update({
        "cmax_iu_per_ml": float(pk["cmax_iu_per_ml"]) if pk.get("cmax_iu_per_ml") is not None else math.nan,
        "t_half_terminal_min": float(pk["t_half_terminal_min"]) if pk.get("t_half_terminal_min") is not None else math.nan,
        "lymphocyte_nadir_per_ul": float(np.min(obs["lymphocytes_per_ul"])) if obs else math.nan,
        "sbp_min_mmhg": float(np.min(obs["sbp_mmhg"])) if obs else math.nan,
        "weight_gain_pct": float(100 * (np.max(obs["weight_kg"]) / obs["weight_kg"][0] - 1)) if obs else math.nan,
        "creatinine_max_mg_dl": float(np.max(obs["creatinine_mg_dl"])) if obs else math.nan,
        "phenylephrine_max_ug_kg_min": float(s["care"].get("phenylephrine_max_ug_kg_min", 0.0)) if s["care"] else 0.0,
        "fluid_boluses": int(s["care"].get("fluid_boluses", 0)) if s["care"] else 0,
    })
    return row


def _rows_job(spec_fields: dict[str, Any], arm: str, regimen_dict: dict[str, Any], ids: tuple[int, ...],
              expect: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """Worker entry point (top level and picklable): the rows of patients ``ids`` on one arm, in order.

    ``spec_fields`` are keyword arguments of :class:`TrialSpec`. ``expect`` is
    the client's ``(package version, model hash)``; a worker with another
    il2sim refuses the job instead of returning rows that differ.
    """
    if expect is not None and tuple(expect) != (__version__, model_hash()):
        raise RuntimeError(f"this worker has il2sim {__version__} (model {model_hash()[:12]}), the client has "
                           f"il2sim {expect[0]} (model {expect[1][:12]}); install the same il2sim on every worker")
    try:
        spec_fields = dict(spec_fields)
        if isinstance(spec_fields.get("population"), dict):
            spec_fields["population"] = PopulationSpec(**spec_fields["population"])
        spec = TrialSpec(**spec_fields)
        regimen = Regimen.from_dict(regimen_dict, source=arm)
        regimen = Regimen(name=arm, blocks=regimen.blocks, description=regimen.description)
        return _drawn_rows(spec, arm, tuple(ids), regimen)
    except UserError as exc:  # e.g. a population whose filters reject every draw: reaches the client intact
        raise _PicklableUserError(exc.field, exc.received, exc.expected) from None


class _PicklableUserError(UserError):
    """A UserError that survives pickling (to the client from a process or a Dask worker)."""

    def __reduce__(self) -> tuple:
        return (type(self), (self.field, self.received, self.expected))


def _drawn_rows(spec: TrialSpec, arm: str, ids: tuple[int, ...], regimen: Regimen) -> list[dict[str, Any]]:
    """The rows of patients ``ids`` on one arm, in the order of ``ids`` (the one place a batch is computed).

    With the fast engine the patients run ``FAST_BATCH`` at a time through
    :func:`~il2sim.engine.simulate_batch`, each reduced to its row as soon as
    it finishes; a patient's row does not depend on the batch.
    """
    if spec.engine == "scipy":
        return [_drawn_row(spec, arm, i, regimen) for i in ids]
    draws = [draw_patient(spec.population, spec.seed, i) for i in ids]
    rows: list[dict[str, Any]] = [{} for _ in ids]
    policy = make_policy(spec.rules, holds=spec.holds, care=spec.care, max_courses=spec.max_courses)
    for lo in range(0, len(draws), FAST_BATCH):
        batch = draws[lo: lo + FAST_BATCH]

        def reduce(k: int, result, lo=lo, batch=batch) -> None:
            draw = batch[k]
            rows[lo + k] = patient_row(arm, draw.patient, regimen, spec, result=result) | _draw_columns(draw)

        simulate_batch([d.patient for d in batch], regimen, days=spec.follow_up_weeks * 7.0, policy=policy,
                       solver=FAST_SOLVER, on_result=reduce)
    return rows


def _drawn_row(spec: TrialSpec, arm: str, patient_id: int, regimen: Regimen) -> dict[str, Any]:
    draw = draw_patient(spec.population, spec.seed, patient_id)
    return patient_row(arm, draw.patient, regimen, spec) | _draw_columns(draw)


def _draw_columns(draw) -> dict[str, int]:
    """The row columns that describe how the patient was drawn (-1: not from a calibrated pool)."""
    return {"rejected_draws": int(draw.n_rejected),
            "pool_index": -1 if draw.pool_index is None else int(draw.pool_index)}


def _split(lo: int, hi: int, parts: int) -> list[tuple[int, ...]]:
    """Patient ids ``lo..hi-1`` as ``parts`` contiguous batches (at least one id each, sizes differ by <= 1)."""
    parts = max(1, min(parts, hi - lo))
    size, extra = divmod(hi - lo, parts)
    out, start = [], lo
    for k in range(parts):
        stop = start + size + (k < extra)
        out.append(tuple(range(start, stop)))
        start = stop
    return out


class TrialJobError(RuntimeError):
    """A batch of patients failed (an exception in the job, a worker that died, a lost scheduler)."""


class _Deferred:
    """A future computed when its result is asked for (the in-process backend keeps chunks in order)."""

    def __init__(self, fn: Callable[[], Any]) -> None:
        self._fn = fn

    def result(self) -> Any:
        return self._fn()

    def cancel(self) -> bool:
        return True


class _Backend:
    """Where batches run: ``slots`` batches at a time (0: one by one, in order, when asked for)."""

    where = "in-process"
    slots = 0

    def __init__(self, spec: TrialSpec, workers: int | None) -> None:
        self.spec = spec
        self.workers = workers
        self.spec_fields = {k: getattr(spec, k) for k in (
            "indication", "arms", "n_patients", "seed", "chunk_size", "follow_up_weeks", "rules", "holds", "care",
            "max_courses", "engine")}
        if spec.population.filters == DEFAULT_FILTERS:  # the rest of the population spec is plain data
            self.spec_fields["population"] = {f.name: getattr(spec.population, f.name)
                                              for f in fields(spec.population) if f.name != "filters"}

    def batches_per_chunk(self) -> int:
        return 1

    def submit(self, arm: str, regimen: Regimen, ids: tuple[int, ...]) -> Any:
        return _Deferred(lambda: _drawn_rows(self.spec, arm, ids, regimen))

    def cancel(self, futures: list[Any]) -> None:
        for fut in futures:
            fut.cancel()

    def close(self) -> None:
        pass

    def provenance(self) -> dict[str, Any]:
        return {"kind": "local", "processes": 1}


class _LocalPool(_Backend):
    """Forked local processes, one batch per process and chunk."""

    def __init__(self, spec: TrialSpec, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        super().__init__(spec, workers)
        self.where = "in a local worker process"
        self.slots = workers
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))

    def batches_per_chunk(self) -> int:
        return self.workers or 1

    def submit(self, arm: str, regimen: Regimen, ids: tuple[int, ...]) -> Any:
        return self.pool.submit(_rows_job, self.spec_fields, arm, regimen.to_dict(), ids)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def provenance(self) -> dict[str, Any]:
        return {"kind": "local", "processes": self.workers}


def _connect(address: str) -> Any:
    """A ``distributed.Client`` on ``address``, or a UserError (nothing has been written yet)."""
    if not isinstance(address, str) or not address.strip():
        raise UserError("--scheduler", address, "the address of a Dask scheduler, e.g. tcp://HOST:8786")
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise UserError("--scheduler", address, "dask.distributed installed (pip install distributed)") from None
    try:
        return Client(address.strip(), set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - any failure to connect: the address is the user's
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise UserError("--scheduler", address, f"a reachable Dask scheduler ({reason})") from None


class _Dask(_Backend):
    """Batches as tasks on a Dask cluster; the rows come back to this process, which writes every file."""

    def __init__(self, spec: TrialSpec, workers: int | None, client: Any, address: str) -> None:
        import distributed

        super().__init__(spec, workers)
        self.client = client
        self.address = address
        self.where = f"on the Dask cluster at {address}"
        self.expect = (__version__, model_hash())
        if spec.population.filters != DEFAULT_FILTERS:
            self.spec_fields["population"] = spec.population  # dask pickles it with cloudpickle (filters included)
        nthreads = client.nthreads()
        self.info = {"kind": "dask", "scheduler": address, "distributed_version": distributed.__version__,
                     "workers_at_start": len(nthreads), "threads_at_start": int(sum(nthreads.values())),
                     "batches_per_chunk": workers if workers else "one per worker thread"}
        self.slots = max(1, int(sum(nthreads.values())))

    def batches_per_chunk(self) -> int:
        if self.workers:
            return self.workers
        return max(1, int(sum(self.client.nthreads().values())))  # follows a cluster that scales

    def submit(self, arm: str, regimen: Regimen, ids: tuple[int, ...]) -> Any:
        import uuid

        key = f"il2sim-rows-{ids[0]}-{ids[-1]}-{uuid.uuid4().hex}"
        return self.client.submit(_rows_job, self.spec_fields, arm, regimen.to_dict(), ids, self.expect,
                                  key=key, pure=False)

    def cancel(self, futures: list[Any]) -> None:
        if futures:
            with contextlib.suppress(Exception):  # best effort: closing the client releases them too
                self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()

    def provenance(self) -> dict[str, Any]:
        return self.info


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    df = pd.DataFrame(rows)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_trial(spec: TrialSpec, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: Callable[[int, int], None] | None = None, workers: int | None = None,
              scheduler: str | None = None) -> dict[str, Any]:
    """Run (or resume) a virtual trial into ``out_dir`` and return its summary.

    Each chunk of patient ids is split into contiguous batches that run in
    parallel; their rows are concatenated in id order and written as the
    chunk file by this process. The rows, and so every output except
    ``summary["provenance"]``, depend neither on the backend nor on the split.

    Parameters
    ----------
    workers
        Without ``scheduler``: local processes (``None`` or 1: in-process;
        patients of a population with custom filters run in-process).
        With ``scheduler``: the batches per chunk (``None``: one per thread
        of the cluster).
    scheduler
        Address of a running Dask scheduler (``tcp://HOST:8786``): the
        batches run as tasks on its workers, which need the same il2sim
        installed. It is not a trial input: a trial started locally can be
        resumed on a cluster and vice versa.

    Raises
    ------
    UserError
        On an existing non-empty directory without ``resume``/``overwrite``,
        on ``resume`` with inputs that differ from the manifest, or on an
        unreachable ``scheduler`` (checked before anything is written).
    TrialJobError
        When a batch fails (an exception in the job, a worker process that
        died); the chunks written so far are kept for ``resume``.
    """
    from ..analysis import trial_summary

    out = Path(out_dir)
    inputs = spec.manifest_inputs()
    regimens = spec.regimens()
    manifest_path = out / "manifest.json"
    nonempty = out.is_dir() and any(out.iterdir())
    if out.exists() and not out.is_dir():
        raise UserError("--out", str(out), "a directory path (a file is in the way)")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UserError("--workers", workers, "a positive integer")
    if nonempty and resume:
        if not manifest_path.exists():
            raise UserError("--resume", str(out), "a trial directory with a manifest.json")
        from ._outputs import to_json_safe

        old = json.loads(manifest_path.read_text())["inputs"]
        inputs = to_json_safe(inputs)
        for key in sorted(set(old) | set(inputs)):
            if _canonical(old.get(key)) != _canonical(inputs.get(key)):
                raise UserError(f"--resume ({key})", inputs.get(key), f"the value the trial was started with, {old.get(key)!r}")
        if (out / "summary.json").exists() and (out / "patients.parquet").exists():
            return json.loads((out / "summary.json").read_text())
    elif nonempty and not overwrite:
        raise UserError("--out", str(out), "a new or empty directory (or --resume / --overwrite)")

    # the backend comes up before anything is written or removed: an unreachable scheduler leaves no trace
    plain_population = spec.population.filters == DEFAULT_FILTERS
    backend: _Backend
    if scheduler is not None:
        client = _connect(scheduler)
        try:
            backend = _Dask(spec, workers, client, scheduler)
        except BaseException:
            client.close()
            raise
    elif workers is not None and workers > 1 and plain_population:
        backend = _LocalPool(spec, workers)
    else:
        backend = _Backend(spec, workers)
    in_flight: list[Any] = []
    try:
        if nonempty and overwrite and not resume:
            shutil.rmtree(out)
        started = time.time()
        chunks_dir = out / "chunks"
        chunks_dir.mkdir(parents=True, exist_ok=True)
        if not manifest_path.exists():
            from ._outputs import to_json_safe

            _atomic_write_bytes(manifest_path, json.dumps(to_json_safe({"inputs": inputs}), indent=2, sort_keys=True,
                                                          default=str).encode())

        cs = spec.chunk_size
        plan = [(name, reg, lo, hi, chunks_dir / f"{a:02d}-{lo:09d}-{hi:09d}.parquet")
                for a, (name, reg) in enumerate(regimens)
                for lo, hi in ((lo, min(lo + cs, spec.n_patients)) for lo in range(0, spec.n_patients, cs))]
        total = len(regimens) * spec.n_patients
        missing = [item for item in plan if not item[4].exists()]
        done = total - sum(hi - lo for _, _, lo, hi, _ in missing)
        if progress and done:
            progress(done, total)
        todo = iter(missing)
        queue: deque[tuple[tuple, list[tuple[tuple[int, ...], Any]]]] = deque()
        # chunks kept in flight: about two batches per slot, so that workers do not idle between chunks
        per_chunk = max(1, min(backend.batches_per_chunk(), cs))
        ahead = 1 if not backend.slots else min(64, max(2, math.ceil(2 * backend.slots / per_chunk)))

        def top_up() -> None:
            while len(queue) < ahead:
                item = next(todo, None)
                if item is None:
                    return
                name, reg, lo, hi, _ = item
                batches = [(ids, backend.submit(name, reg, ids)) for ids in _split(lo, hi, backend.batches_per_chunk())]
                in_flight.extend(fut for _, fut in batches)
                queue.append((item, batches))

        top_up()
        while queue:
            (name, _, _, _, path), batches = queue.popleft()
            top_up()  # the next chunks start before this one is collected
            rows: list[dict[str, Any]] = []
            for ids, fut in batches:
                try:
                    rows.extend(fut.result())
                except UserError:
                    raise
                except Exception as exc:  # reported with the batch it belongs to
                    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
                    which = f"patient {ids[0]}" if len(ids) == 1 else f"patients {ids[0]}-{ids[-1]}"
                    raise TrialJobError(f"arm {name}, {which} failed {backend.where}: {reason}") from exc
                in_flight.remove(fut)
                done += len(ids)
                if progress:
                    progress(done, total)
            _write_table(path, rows)  # rows in id order: the file does not depend on the split
        backend_info = backend.provenance()
    finally:
        backend.cancel(in_flight)
        backend.close()

    import pandas as pd

    # every chunk file; after a resume with another chunk size some rows appear twice (identical)
    frames = [pd.read_parquet(m) for m in sorted(chunks_dir.glob("*.parquet"))]
    patients = pd.concat(frames, ignore_index=True)
    patients = patients.drop_duplicates(subset=["arm", "patient_id"]).sort_values(["arm", "patient_id"], kind="stable")
    patients = patients.reset_index(drop=True)
    if len(patients) != total:
        raise RuntimeError(f"trial table has {len(patients)} rows, expected {total}")
    summary = trial_summary(patients)
    summary["provenance"] = {
        "inputs": inputs,
        "chunk_size": spec.chunk_size,
        "backend_this_run": backend_info,
        "wall_time_s_this_run": time.time() - started,
        "plausibility_filters": {f.name: f.description for f in spec.population.filters},
        "rejected_draws": int(patients[patients.arm == patients.arm.iloc[0]]["rejected_draws"].sum()),
        "rejected_draws_note": "draws failing a plausibility filter are redrawn inside each patient's own stream; "
                               "counted once per patient (the same patients are in every arm)",
    }
    tmp = out / f".patients.parquet.tmp-{os.getpid()}"
    patients.to_parquet(tmp, index=False)
    os.replace(tmp, out / "patients.parquet")
    try:
        from ..report import trial_report_html

        _atomic_write_bytes(out / "report.html", trial_report_html(patients, summary).encode())
    except ImportError:  # pragma: no cover - report module optional during development
        pass
    from ._outputs import to_json_safe

    _atomic_write_bytes(out / "summary.json",
                        json.dumps(to_json_safe(summary), indent=2, sort_keys=False, allow_nan=False).encode())
    return summary
