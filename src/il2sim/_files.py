"""Atomic file writes: the one helper every writer of il2sim uses.

A file is written to a hidden temporary name in its own directory, flushed
and fsynced, then renamed over the target with ``os.replace``, so a reader
(or a resumed trial) sees either the old file or the whole new one, never a
half-written one. On any failure the temporary file is removed.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import UserError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "read_user_toml"]


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def atomic_write(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` to produce the file at a temporary path, then move it to ``path`` atomically.

    ``write`` may use any library that writes to a path (``DataFrame.to_parquet``,
    ``Figure.savefig``); the temporary file is fsynced before the rename.
    """
    path = Path(path)
    tmp = _temporary(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


# ---------------------------------------------------------------- output directories

MARKER = ".il2sim"
"""The file il2sim writes into every output directory it creates (what ``overwrite`` checks for)."""


def write_marker(directory: str | Path, kind: str) -> None:
    """Mark ``directory`` as an il2sim output of ``kind`` (``"simulation"`` or ``"trial"``)."""
    import json

    from ._version import __version__

    atomic_write_text(Path(directory) / MARKER, json.dumps({"written_by": "il2sim", "kind": kind,
                                                            "version": __version__}) + "\n")


def _marker_kind(directory: Path) -> str | None:
    import json

    try:
        doc = json.loads((directory / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return doc.get("kind") if isinstance(doc, dict) and doc.get("written_by") == "il2sim" else None


def _legacy_kind(directory: Path, names: set[str]) -> str | None:
    """An output of il2sim 0.1 (no marker): recognised by its own files and provenance."""
    import json

    try:
        if "manifest.json" in names:
            return "trial" if "inputs" in json.loads((directory / "manifest.json").read_text()) else None
        if {"summary.json", "doses.csv"} <= names:
            prov = json.loads((directory / "summary.json").read_text()).get("provenance") or {}
            return "simulation" if prov.get("package") == "il2sim" else None
    except (OSError, ValueError, AttributeError):
        return None
    return None


def check_replaceable(directory: str | Path, kind: str, allowed: frozenset[str], field: str = "out_dir") -> None:
    """Raise :class:`~il2sim.UserError` unless ``directory`` may be deleted and rewritten as an il2sim ``kind``.

    It may be when it is an il2sim output of the same kind (its marker, or
    the files and provenance of an il2sim 0.1 output), holds nothing but the
    names in ``allowed`` (and il2sim's own temporary files), and is neither
    the current directory, one of its parents, the home directory nor ``/``.
    """
    from ._errors import UserError

    path = Path(directory).expanduser().absolute()
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents:
        raise UserError(field, str(directory), "a directory that is neither the current directory nor one of its "
                                               "parents (overwrite would delete it)")
    if resolved in (Path.home().resolve(), Path(resolved.anchor)):
        raise UserError(field, str(directory), "an output directory, not the home or root directory")
    names = {p.name for p in path.iterdir()}
    found = _marker_kind(path) or _legacy_kind(path, names)
    if found != kind:
        what = f"an il2sim {found} directory" if found else "not a directory il2sim wrote"
        raise UserError(field, str(directory), f"a {kind} directory il2sim wrote to replace with overwrite ({what}; "
                                               "choose a new directory)")
    foreign = sorted(n for n in names if n not in allowed and n != MARKER and ".tmp-" not in n)
    if foreign:
        raise UserError(field, str(directory), f"a directory holding only il2sim's outputs to replace with overwrite "
                                               f"(it also holds {foreign[0]!r}, which il2sim did not write)")


class OutputLock:
    """An exclusive lock on an output directory for the length of a run (``with OutputLock(path, what):``).

    The lock is an ``flock`` on a sibling file ``.NAME.il2sim-lock`` (a file
    inside the directory would vanish when ``overwrite`` replaces it), which
    records the holder's process id and command. A second writer gets a
    :class:`~il2sim.UserError` naming the holder at once. The holder removes
    the file when it is done; a process that dies keeps no lock (the kernel
    releases it), and its file is reused by the next run. The parent
    directory must exist.
    """

    def __init__(self, directory: str | Path, what: str, field: str = "out_dir") -> None:
        path = Path(directory).expanduser().absolute()
        self.path = path.parent / f".{path.name}.il2sim-lock"
        self.directory = directory
        self.what = what
        self.field = field
        self._fh: Any = None

    def __enter__(self) -> OutputLock:
        import json

        from ._errors import UserError

        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        for _ in range(20):
            fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                try:
                    holder = json.loads(fh.read() or "{}")
                except ValueError:
                    holder = {}
                fh.close()
                who = f"process {holder.get('pid', '?')} ({holder.get('what', 'il2sim')})"
                raise UserError(self.field, str(self.directory),
                                f"a directory no other il2sim run is writing ({who} holds it; wait for it to "
                                "finish or choose another directory)") from None
            try:  # the file we locked is still the one at the path (its last holder may have removed it)
                if os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            fh.close()
        else:  # pragma: no cover - twenty holders in a row removed it under us
            raise OSError(f"could not lock {self.path}")
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "what": self.what}))
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            try:
                os.unlink(self.path)  # while still held: a later run creates a fresh one
            except OSError:
                pass
            self._fh.close()  # releases the flock
            self._fh = None



def read_user_toml(path: Path, *, missing: tuple[str, str], unreadable: tuple[str, str], valid: str, nested: str,
                   short_reason: bool = False) -> dict:
    """A user's TOML file as a dict, or one :class:`~il2sim.UserError` saying what is wrong with it.

    ``missing`` and ``unreadable`` are (field, expected) for a file that does not exist and for one that
    cannot be read (the OS reason is appended to the expectation); ``valid`` and ``nested`` are what is
    expected of a malformed and of a too-deeply nested file, whose errors name the file itself.
    ``short_reason`` folds TOML's message onto one line of at most 120 characters.
    """
    label = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(missing[0], str(path), missing[1]) from None
    except OSError as exc:
        raise UserError(unreadable[0], str(path), f"{unreadable[1]} ({exc.strerror or exc})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(label, f"bytes that are not UTF-8 ({exc.reason})", "a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        reason = " ".join(str(exc).split())[:120] if short_reason else str(exc)
        raise UserError(label, "malformed TOML", f"{valid} ({reason})") from None
    except RecursionError:
        raise UserError(label, "TOML nested too deeply to read", nested) from None
