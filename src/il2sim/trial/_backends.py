"""Where the batches of a trial run: in this process, in local worker processes, or on a Dask cluster.

Every back end runs :func:`il2sim.trial._rows.arm_rows` on the same
:class:`~il2sim.trial.TrialSpec` (pickled with cloudpickle for another
process), so the rows do not depend on where they were computed; this
process gathers them in id order and writes every file.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

from .._errors import UserError
from .._version import __version__
from . import _rows
from ._spec import TrialSpec

__all__ = ["Backend", "TrialJobError", "open_backend", "split"]


def split(lo: int, hi: int, parts: int) -> list[tuple[int, ...]]:
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


class Backend:
    """Where batches run: ``slots`` batches at a time (0: one by one, in order, when asked for)."""

    where = "in-process"
    slots = 0

    def __init__(self, spec: TrialSpec, workers: int | None) -> None:
        self.spec = spec
        self.workers = workers

    def batches_per_chunk(self) -> int:
        return 1

    def submit(self, arm_index: int, ids: tuple[int, ...]) -> Any:
        return _Deferred(lambda: _rows.arm_rows(self.spec, arm_index, ids))

    def cancel(self, futures: list[Any]) -> None:
        for fut in futures:
            fut.cancel()

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop work in flight at once (Ctrl-C or an error): nothing is waited for; the trial resumes later."""

    def provenance(self) -> dict[str, Any]:
        return {"kind": "local", "processes": 1}


class _LocalPool(Backend):
    """Forked local processes, one batch per process and chunk."""

    def __init__(self, spec: TrialSpec, workers: int) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        import cloudpickle

        super().__init__(spec, workers)
        self.where = "in a local worker process"
        self.slots = workers
        self.payload = cloudpickle.dumps(spec)
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"),
                                        initializer=_exit_with_parent, initargs=(os.getpid(),))

    def batches_per_chunk(self) -> int:
        return self.workers or 1

    def submit(self, arm_index: int, ids: tuple[int, ...]) -> Any:
        return self.pool.submit(_rows.rows_job, self.payload, arm_index, ids)

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)

    def abort(self) -> None:
        """Kill the worker processes now instead of letting the batches they run finish (Ctrl-C is prompt)."""
        processes = list(getattr(self.pool, "_processes", {}).values())  # no public handle on the workers
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in processes:
            if proc.is_alive():
                proc.kill()
        for proc in processes:
            proc.join(timeout=5.0)

    def provenance(self) -> dict[str, Any]:
        return {"kind": "local", "processes": self.workers}


def _connect(address: str) -> Any:
    """A ``distributed.Client`` on ``address``, or a UserError (nothing has been written yet)."""
    import re

    expected = "the address of a Dask scheduler, PROTOCOL://HOST:PORT (e.g. tcp://10.0.0.5:8786)"
    if not isinstance(address, str) or not address.strip():
        raise UserError("scheduler", address, expected)
    m = re.fullmatch(r"(tcp|tls|ws|wss|ucx)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.\-]*):(\d{1,5})", address.strip())
    if m is None or not 1 <= int(m.group(3)) <= 65535:
        raise UserError("scheduler", address, expected)  # at once: a malformed address never reaches the network
    try:
        from distributed import Client
    except ImportError:  # pragma: no cover - distributed is a dependency
        raise UserError("scheduler", address, "dask.distributed installed (pip install distributed)") from None
    try:
        return Client(address.strip(), set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - any failure to connect: the address is the user's
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise UserError("scheduler", address, f"a reachable Dask scheduler ({reason})") from None


class _Dask(Backend):
    """Batches as tasks on a Dask cluster; the rows come back to this process, which writes every file."""

    def __init__(self, spec: TrialSpec, workers: int | None, client: Any, address: str) -> None:
        import cloudpickle
        import distributed

        super().__init__(spec, workers)
        self.client = client
        self.address = address
        self.where = f"on the Dask cluster at {address}"
        self.expect = (__version__, spec.model.hash)
        self.payload = cloudpickle.dumps(spec)  # a user's rule set, care orders or filters travel by value
        nthreads = client.nthreads()
        self.info = {"kind": "dask", "scheduler": address, "distributed_version": distributed.__version__,
                     "workers_at_start": len(nthreads), "threads_at_start": int(sum(nthreads.values())),
                     "batches_per_chunk": workers if workers else "one per worker thread"}
        self.slots = max(1, int(sum(nthreads.values())))

    def batches_per_chunk(self) -> int:
        if self.workers:
            return self.workers
        return max(1, int(sum(self.client.nthreads().values())))  # follows a cluster that scales

    def submit(self, arm_index: int, ids: tuple[int, ...]) -> Any:
        import uuid

        key = f"il2sim-rows-{ids[0]}-{ids[-1]}-{uuid.uuid4().hex}"
        return self.client.submit(_rows.rows_job, self.payload, arm_index, ids, self.expect, key=key, pure=False)

    def cancel(self, futures: list[Any]) -> None:
        if futures:
            with contextlib.suppress(Exception):  # best effort: closing the client releases them too
                self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()

    def provenance(self) -> dict[str, Any]:
        return self.info


def _exit_with_parent(parent: int, every_s: float = 0.5) -> None:
    """In a local worker process: exit as soon as the trial process is gone (``kill -9`` leaves no orphans).

    A daemon thread polls the parent process id; when the worker has been
    re-parented (its parent died), it ends the process at once. Ctrl-C is
    the trial process's to handle (it kills the workers): a worker ignores
    SIGINT, so that it does not die mid-batch with a traceback of its own.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="il2sim-parent-watch", daemon=True).start()


def open_backend(spec: TrialSpec, workers: int | None, scheduler: str | None) -> Backend:
    """The back end for ``workers``/``scheduler`` (connected before anything is written: an unreachable scheduler leaves no trace)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise UserError("workers", workers, "a positive integer")
    if scheduler is not None:
        client = _connect(scheduler)
        try:
            return _Dask(spec, workers, client, scheduler)
        except BaseException:
            client.close()
            raise
    if workers is not None and workers > 1:
        return _LocalPool(spec, workers)
    return Backend(spec, workers)
