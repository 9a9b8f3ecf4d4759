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
equals a local one. Each chunk is split into contiguous batches of ids (one
task each, :mod:`il2sim.trial._backends`); this process gathers the rows in
id order and writes every file. Everything under ``summary["arms"]`` is
computed from the sorted patient table; wall-clock timings live only under
``summary["provenance"]``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from .._errors import UserError
from .._files import MARKER, OutputLock, atomic_write, atomic_write_text, check_replaceable, write_marker
from .._json import to_json_safe
from ..analysis import trial_summary
from ._backends import TrialJobError, open_backend, split
from ._spec import TrialSpec

__all__ = ["TRIAL_FILES", "run_trial"]

#: What a trial directory holds; ``overwrite`` replaces a directory holding nothing else.
TRIAL_FILES = frozenset({"manifest.json", "chunks", "patients.parquet", "summary.json", "report.html"})


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _chunk_ok(path: Path, checksums: dict[str, Any]) -> bool:
    record = checksums.get(path.name)
    return path.is_file() and isinstance(record, dict) and record.get("sha256") == _sha256(path)


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError("resume", str(path), f"a readable manifest.json ({type(exc).__name__}: "
                                             f"{' '.join(str(exc).split())[:100]}); start the trial anew with overwrite") from None
    if not (isinstance(doc, dict) and isinstance(doc.get("inputs"), dict)
            and isinstance(doc.get("chunks", {}), dict)):
        raise UserError("resume", str(path), "a manifest.json written by il2sim (an object with 'inputs'); start the "
                                             "trial anew with overwrite")
    doc.setdefault("chunks", {})
    return doc


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(manifest, indent=2, sort_keys=True, default=str))


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_trial(spec: TrialSpec, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: Callable[[int, int], None] | None = None, workers: int | None = None,
              scheduler: str | None = None,
              report: Callable[[Any, dict[str, Any]], str] | None = None) -> dict[str, Any]:
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
    report
        ``report(patients, summary) -> html`` written as ``report.html``
        (the CLI passes :func:`il2sim.report.trial_report_html`; the trial
        layer does not import the report layer).

    Raises
    ------
    UserError
        On an output directory another il2sim run holds (the whole run holds
        an exclusive lock on it, :class:`il2sim._files.OutputLock`); with
        ``overwrite``, on a directory il2sim may not replace (not a trial
        directory il2sim wrote, holding files il2sim did not write, the
        current directory or a parent of it); on an existing non-empty
        directory without ``resume``/``overwrite``,
        on ``resume`` with inputs that differ from the manifest, or on an
        unreachable ``scheduler`` (checked before anything is written).
    TrialJobError
        When a batch fails (an exception in the job, a worker process that
        died); the chunks written so far are kept for ``resume``.
    """
    out = Path(out_dir).expanduser()
    if not isinstance(spec, TrialSpec):
        raise TypeError(f"spec: got {type(spec).__name__}, expected an il2sim.trial.TrialSpec")
    if out.exists() and not out.is_dir():
        raise UserError("out_dir", str(out), "a directory path (a file is in the way)")
    out.absolute().parent.mkdir(parents=True, exist_ok=True)
    with OutputLock(out, "il2sim trial"):
        return _run_locked(spec, out, resume=resume, overwrite=overwrite, progress=progress, workers=workers,
                           scheduler=scheduler, report=report)


def _run_locked(spec: TrialSpec, out: Path, *, resume: bool, overwrite: bool,
                progress: Callable[[int, int], None] | None, workers: int | None, scheduler: str | None,
                report: Callable[[Any, dict[str, Any]], str] | None) -> dict[str, Any]:
    inputs = to_json_safe(spec.manifest_inputs())
    manifest_path = out / "manifest.json"
    nonempty = out.is_dir() and any(out.iterdir())
    manifest: dict[str, Any] = {"inputs": inputs, "chunks": {}}
    if nonempty and resume:
        if not manifest_path.exists():
            raise UserError("resume", str(out), "a trial directory with a manifest.json")
        manifest = _read_manifest(manifest_path)
        old = manifest["inputs"]
        for key in [*inputs, *(k for k in old if k not in inputs)]:  # the manifest's order: inputs before hashes
            if _canonical(old.get(key)) != _canonical(inputs.get(key)):
                raise UserError(f"resume ({key})", inputs.get(key), f"the value the trial was started with, {old.get(key)!r}")
        if (out / "summary.json").exists() and (out / "patients.parquet").exists():
            return json.loads((out / "summary.json").read_text())
    elif nonempty and not overwrite:
        raise UserError("out_dir", str(out), "a new or empty directory (or resume / overwrite)")
    elif nonempty:
        check_replaceable(out, "trial", TRIAL_FILES)

    # the backend comes up before anything is written or removed: an unreachable scheduler leaves no trace
    backend = open_backend(spec, workers, scheduler)
    in_flight: list[Any] = []
    try:
        if nonempty and overwrite and not resume:
            shutil.rmtree(out)
        started = time.time()
        chunks_dir = out / "chunks"
        chunks_dir.mkdir(parents=True, exist_ok=True)
        if not (out / MARKER).exists():
            write_marker(out, "trial")
        if not manifest_path.exists():
            _write_manifest(manifest_path, manifest)
        checksums: dict[str, Any] = manifest.setdefault("chunks", {})

        cs = spec.chunk_size
        plan = [(arm.name, a, lo, hi, chunks_dir / f"{a:02d}-{lo:09d}-{hi:09d}.parquet")
                for a, arm in enumerate(spec.arms)
                for lo, hi in ((lo, min(lo + cs, spec.n_patients)) for lo in range(0, spec.n_patients, cs))]
        total = len(spec.arms) * spec.n_patients
        # a chunk counts as done only if it is the file this trial wrote (its checksum is in the manifest):
        # a corrupt, truncated, empty or copied chunk is removed and computed again
        missing = [item for item in plan if not _chunk_ok(item[4], checksums)]
        for item in missing:
            item[4].unlink(missing_ok=True)
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
                _, arm_index, lo, hi, _ = item
                batches = [(ids, backend.submit(arm_index, ids)) for ids in split(lo, hi, backend.batches_per_chunk())]
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
            _write_parquet(path, pd.DataFrame(rows))  # rows in id order: the file does not depend on the split
            checksums[path.name] = {"rows": len(rows), "sha256": _sha256(path)}
            _write_manifest(manifest_path, manifest)
        backend_info = backend.provenance()
    except BaseException:
        backend.abort()  # Ctrl-C or a failed batch: stop the rest now, keep the chunks written
        raise
    finally:
        backend.cancel(in_flight)
        backend.close()

    # the plan's chunk files, each checked against the manifest (files of another chunk size are not read)
    frames = [pd.read_parquet(item[4]) for item in plan]
    patients = pd.concat(frames, ignore_index=True)
    patients = patients.drop_duplicates(subset=["arm", "patient_id"]).sort_values(["arm", "patient_id"], kind="stable")
    patients = patients.reset_index(drop=True)
    if len(patients) != total:
        raise RuntimeError(f"trial table has {len(patients)} rows, expected {total}")
    summary = trial_summary(patients, reference_arm=spec.arms[0].name)  # hazard ratios against the first arm given
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
    _write_parquet(out / "patients.parquet", patients)
    if report is not None:
        atomic_write_text(out / "report.html", report(patients, summary))
    atomic_write_text(out / "summary.json", json.dumps(to_json_safe(summary), indent=2, sort_keys=False, allow_nan=False))
    return summary
