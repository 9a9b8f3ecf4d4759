"""Trials from the page: the form checked by the CLI's code, one background run at a time, progress and cancel.

A trial runs with :func:`il2sim.trial.run_trial` (the function behind
``il2sim trial``) in a thread of the server, its patients in local worker
processes, into a trial directory the server names itself under
``RUNS/trials/``. That directory is an ordinary trial directory: the page
shows the ``il2sim trial ... --resume`` command that continues it (after a
cancel, or a server that stopped) or reads it again; the command is also
kept beside it, in ``RUNS/trials/NAME.command``, for the listing of a later
session.

Cancel sets a flag that the progress callback reads after every batch; it
raises there, so :func:`~il2sim.trial.run_trial` stops its workers and keeps
the chunks already written (exactly what Ctrl-C does on the command line).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import shlex
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import UserError

__all__ = ["MAX_ARMS", "MAX_PATIENTS", "TRIAL_CHUNK", "TRIAL_FIELDS", "TrialBusy", "TrialJobs", "trial_form"]

#: The most patients per arm a trial from the page may have (larger trials: ``il2sim trial``).
MAX_PATIENTS = 200
#: The most arms a trial from the page may have.
MAX_ARMS = 4
#: Patients per chunk file of a trial from the page (small: progress and cancel are per batch of a chunk).
TRIAL_CHUNK = 10
#: Form field -> the ``il2sim trial`` flag it stands for.
TRIAL_FIELDS = {
    "arms": "--regimen", "indication": "--indication", "molecule": "--molecule", "rules": "--rules", "care": "--no-care",
    "holds": "--no-holds", "patients": "--patients", "seed": "--seed", "follow_up_weeks": "--follow-up-weeks",
}
_TEXT = ("indication", "molecule", "rules", "patients", "seed", "follow_up_weeks")
_NAME = re.compile(r"trial-\d{8}-\d{6}-[0-9a-f]{6}")
_log = logging.getLogger("il2sim.web")


class TrialBusy(Exception):
    """A trial is already running on this server."""


class _Cancelled(Exception):
    """Raised by the progress callback when the page asked to cancel."""


def trial_form(form: Any) -> tuple[Any, list[str]]:
    """The :class:`~il2sim.trial.TrialSpec` of a trial form and the ``il2sim trial`` arguments that make it.

    Arms are named regimens only (never files); at most :data:`MAX_ARMS` arms and :data:`MAX_PATIENTS` patients.

    Raises
    ------
    UserError
        Naming the CLI flag of the first bad field (:data:`TRIAL_FIELDS`), with the CLI's message.
    """
    from ..cli import trial_spec
    from ..model import shipped_molecules
    from ..protocol import NAMED_REGIMENS

    if not isinstance(form, dict):
        raise UserError("form", type(form).__name__, "a JSON object of the form's fields")
    unknown = sorted(set(form) - set(TRIAL_FIELDS))
    if unknown:
        raise UserError("form", unknown[0], "one of the fields " + ", ".join(TRIAL_FIELDS))
    values: dict[str, str] = {}
    for k in _TEXT:
        if k in form:
            if not isinstance(form[k], str):
                raise UserError(TRIAL_FIELDS[k], form[k], "text (the form sends every field as text)")
            values[k] = form[k]
    arms = form.get("arms", ["high-dose"])
    if not isinstance(arms, list) or not all(isinstance(a, str) for a in arms):
        raise UserError("--regimen", arms, "a list of named regimens")
    if not arms:
        raise UserError("--regimen", "nothing", "at least one arm (tick a regimen)")
    if len(arms) > MAX_ARMS:
        raise UserError("--regimen", f"{len(arms)} arms", f"at most {MAX_ARMS} arms from the page (more: il2sim trial)")
    for a in arms:
        if a not in NAMED_REGIMENS:
            raise UserError("--regimen", a, "one of " + ", ".join(NAMED_REGIMENS) + " (the page runs named regimens)")
    for flag in ("care", "holds"):
        if not isinstance(form.get(flag, True), bool):
            raise UserError(TRIAL_FIELDS[flag], form[flag], "on or off (true or false)")
    molecule = values.get("molecule", "aldesleukin")
    if molecule not in shipped_molecules():
        raise UserError("--molecule", molecule, "one of " + ", ".join(shipped_molecules()) + " (the page runs shipped molecules)")
    patients = values.get("patients", "20")
    given = {"indication": values.get("indication", "melanoma"), "regimens": list(arms), "molecules": [molecule],
             "patients": patients.strip(), "seed": values.get("seed", "0").strip(),
             "follow_up_weeks": values.get("follow_up_weeks", "52").strip(), "rules": values.get("rules", "pivotal"),
             "holds": form.get("holds", True), "care": form.get("care", True)}
    spec = trial_spec(chunk_size=str(TRIAL_CHUNK), **given)
    if spec.n_patients > MAX_PATIENTS:  # the page's cap, in the CLI's wording for its own range
        raise UserError("--patients", patients, f"an integer from 1 to {MAX_PATIENTS}")
    argv = ["--indication", given["indication"]]
    for a in arms:
        argv += ["--regimen", a]
    argv += ["--molecule", molecule, "--patients", str(spec.n_patients), "--seed", str(spec.seed),
             "--follow-up-weeks", f"{spec.follow_up_weeks:g}", "--rules", given["rules"]]
    argv += [] if given["holds"] else ["--no-holds"]
    argv += [] if given["care"] else ["--no-care"]
    argv += ["--chunk-size", str(TRIAL_CHUNK)]
    return spec, argv


@dataclass
class _Trial:
    name: str
    path: Path
    argv: list[str]
    total: int
    arms: list[str]
    done: int = 0
    state: str = "running"  # running, cancelling, finished, cancelled, failed
    message: str = ""
    started: float = field(default_factory=time.time)
    finished: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def resume_argv(self) -> list[str]:
        return ["trial", *self.argv, "--out", str(self.path), "--resume"]

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "done": self.done, "total": self.total, "arms": self.arms,
                "message": self.message, "elapsed_s": round((self.finished or time.time()) - self.started, 1),
                "resume": "il2sim " + " ".join(shlex.quote(a) for a in self.resume_argv()), "directory": str(self.path)}


class TrialJobs:
    """The server's trials: at most one running; the directories under ``root`` (``RUNS/trials``)."""

    def __init__(self, root: Path, workers: int) -> None:
        self.root = root
        self.workers = workers
        self._lock = threading.Lock()
        self._current: _Trial | None = None

    def start(self, spec: Any, argv: list[str]) -> dict[str, Any]:
        """Start ``spec`` in the background; its status. Raises :class:`TrialBusy` while another one runs."""
        with self._lock:
            cur = self._current
            if cur is not None and cur.state in ("running", "cancelling"):
                raise TrialBusy(f"a trial is already running ({cur.done} of {cur.total} patients done): wait for it "
                                "or cancel it; this server runs one trial at a time")
            name = time.strftime("trial-%Y%m%d-%H%M%S-", time.gmtime()) + secrets.token_hex(3)
            self.root.mkdir(parents=True, exist_ok=True)
            job = _Trial(name=name, path=self.root / name, argv=argv, total=spec.n_patients * len(spec.arms),
                         arms=[a.name for a in spec.arms])
            # the command that resumes it, beside (not in) the trial directory: a later session lists it too
            (self.root / f"{name}.command").write_text(job.status()["resume"] + "\n", encoding="utf-8")
            job.thread = threading.Thread(target=self._run, args=(job, spec), name=f"il2sim-{name}", daemon=True)
            self._current = job
            job.thread.start()
            return job.status()

    def _run(self, job: _Trial, spec: Any) -> None:
        from ..report import trial_report_html
        from ..trial import TrialJobError, run_trial

        def progress(done: int, total: int) -> None:
            job.done = done
            if done >= total:
                job.message = "every patient simulated: writing patients.parquet, summary.json and report.html"
            if job.cancel.is_set():
                raise _Cancelled

        try:
            run_trial(spec, job.path, workers=self.workers, progress=progress, report=trial_report_html)
            job.done, job.state, job.message = job.total, "finished", ""
        except _Cancelled:
            job.state = "cancelled"
            job.message = "cancelled: the chunks already written are kept; resume the trial with the command below"
        except TrialJobError as exc:
            job.state, job.message = "failed", " ".join(f"trial: {exc}; the chunks already written are kept".split())
        except UserError as exc:
            job.state, job.message = "failed", " ".join(str(exc).split())
        except Exception:  # noqa: BLE001 - the log has the traceback, the page a generic line
            _log.exception("il2sim serve: trial %s failed", job.name)
            job.state, job.message = "failed", "internal error: the trial stopped; the server's log has the details"
        finally:
            job.finished = time.time()

    def cancel(self) -> dict[str, Any] | None:
        """Ask the running trial to stop; its status, or None when none runs."""
        with self._lock:
            cur = self._current
            if cur is None or cur.state not in ("running", "cancelling"):
                return None
            cur.cancel.set()
            cur.state = "cancelling"
            return cur.status()

    def status(self) -> dict[str, Any] | None:
        cur = self._current
        return None if cur is None else cur.status()

    def wait(self, timeout: float = 30.0) -> None:
        """Cancel the running trial and wait for its thread (the server is stopping)."""
        cur = self._current
        if cur is not None and cur.thread is not None and cur.thread.is_alive():
            cur.cancel.set()
            cur.thread.join(timeout)

    def directory(self, name: str) -> Path | None:
        """The directory of trial ``name`` (a name this server gives, checked by pattern), or None."""
        if not _NAME.fullmatch(name):
            return None
        path = self.root / name
        return path if path.is_dir() else None

    def listing(self) -> list[dict[str, Any]]:
        """The trials under the root, newest first: name, arms, patients, whether finished."""
        out: list[dict[str, Any]] = []
        if not self.root.is_dir():
            return out
        cur = self._current
        for path in sorted(self.root.iterdir(), reverse=True):
            if not _NAME.fullmatch(path.name) or not path.is_dir():
                continue
            try:
                inputs = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["inputs"]
                arms, n = list(inputs["arms"]), int(inputs["n_patients"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            running = cur is not None and cur.name == path.name and cur.state in ("running", "cancelling")
            state = "running" if running else ("finished" if (path / "summary.json").is_file() else "interrupted")
            try:
                command = (self.root / f"{path.name}.command").read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError):
                command = ""
            out.append({"name": path.name, "arms": arms, "patients": n, "state": state, "resume": command})
        return out


def trial_results(path: Path) -> dict[str, Any]:
    """The results of the finished trial in ``path``: HTML tables and plotly figures (as JSON-able dicts).

    Cached per directory and ``summary.json`` modification time (a finished trial does not change).
    """
    stamp = (path / "summary.json").stat().st_mtime_ns
    return _results(str(path), stamp)


@functools.lru_cache(maxsize=8)
def _results(path_text: str, _stamp: int) -> dict[str, Any]:
    import pandas as pd

    from ..protocol import Regimen
    from . import _trial_figures as tf

    path = Path(path_text)
    summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    patients = pd.read_parquet(path / "patients.parquet")
    recorded = ((summary.get("provenance") or {}).get("inputs") or {}).get("arms") or {}
    arms = [str(a) for a in recorded] or sorted(summary.get("arms") or {})
    scheduled: dict[str, int | None] = {}
    for a in arms:
        try:
            scheduled[a] = Regimen.from_dict({"name": a, **recorded[a]}, source=a).n_doses
        except (UserError, KeyError, TypeError):
            scheduled[a] = None
    figures = {"waterfall": tf.waterfall_figure(patients, arms), "spider": tf.spider_figure(patients, arms),
               "toxicity": tf.toxicity_figure(patients, arms), "doses": tf.doses_figure(patients, arms),
               "km": tf.km_figure(summary, arms)}
    return {"arms": arms, "tables": tf.tables(patients, summary, arms, scheduled),
            "figures": {k: json.loads(f.to_json()) for k, f in figures.items()}}
