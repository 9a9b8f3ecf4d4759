"""Write stage-1 fitted values into the packaged parameter table (``il2sim calibrate --install``).

A text edit of the parameter files (``model/data/parameters/*.toml``, one per
mechanism; comments and layout are kept): the row's
``value`` (or its ``by_indication`` entry) becomes the fitted value, its
``evidence`` becomes ``calibrated``, and its ``note`` starts with what it was
fitted to and the value it started from.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_fitted_values"]

_PREFIX = re.compile(r"^fitted by il2sim calibrate[^;]*(?:; value before calibration ([^;]*))?(?:; ?|$)")


def _fmt(x: float) -> str:
    return repr(float(f"{x:.6g}"))


def write_fitted_values(path: str | Path, values: Mapping[str, Mapping[str, float]],
                        targets: Mapping[str, str], shared: Mapping[str, bool]) -> dict[str, dict[str, float]]:
    """Set fitted values in the parameter files at ``path`` (a directory of them, or one file); returns what was written.

    ``values[indication][name]`` are the fitted values, ``targets[name]`` the
    target each was fitted to, ``shared[name]`` whether one value serves both
    indications (else ``by_indication`` holds one per indication). Each row is
    edited in the file that holds it.
    """
    p = Path(path)
    files = sorted(p.glob("*.toml")) if p.is_dir() else [p]
    written: dict[str, dict[str, float]] = {}
    found = set()
    for f in files:
        names = [n for n in targets if f"[parameters.{n}]\n" in f.read_text()]
        found |= set(names)
        if names:
            written |= _write_file(f, names, values, targets, shared)
    missing = sorted(set(targets) - found)
    if missing:
        raise KeyError(f"no parameter row for {missing} in {p}")
    return written


def _write_file(p: Path, names: list[str], values: Mapping[str, Mapping[str, float]], targets: Mapping[str, str],
                shared: Mapping[str, bool]) -> dict[str, dict[str, float]]:
    text = p.read_text()
    doc = tomllib.loads(text)
    written: dict[str, dict[str, float]] = {}
    inds = list(values)
    for name in names:
        head = f"[parameters.{name}]\n"
        start = text.index(head)
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end + 1
        block = text[start:end]
        row = doc["parameters"][name]
        if shared[name]:
            v = values[inds[0]][name]
            prior = row["value"]
            block = re.sub(r"(?m)^value = .*$", f"value = {_fmt(v)}", block, count=1)
            written[name] = {"all": float(_fmt(v))}
        else:
            prior = dict(row.get("by_indication", {})) or row["value"]
            entry = "by_indication = { " + ", ".join(f"{i} = {_fmt(values[i][name])}" for i in inds) + " }"
            if re.search(r"(?m)^by_indication = .*$", block):
                block = re.sub(r"(?m)^by_indication = .*$", entry, block, count=1)
            else:
                block = re.sub(r"(?m)^(value = .*)$", r"\1\n" + entry, block, count=1)
            written[name] = {i: float(_fmt(values[i][name])) for i in inds}
        block = re.sub(r'(?m)^evidence = .*$', 'evidence = "calibrated"', block, count=1)
        old_note = str(row.get("note", ""))
        first = None  # the value before any calibration, kept from the earliest note
        while (m := _PREFIX.match(old_note)) is not None:  # drop earlier calibration notes (any number of runs)
            first = m.group(1) or first
            old_note = old_note[m.end():]
        if first is None:
            first = ", ".join(f"{k} {v:g}" for k, v in prior.items()) if isinstance(prior, dict) else f"{prior:g}"
        note = f"fitted by il2sim calibrate (issue 6) to {targets[name]}; value before calibration {first}; {old_note}"
        note = note.rstrip("; ")
        note = note.replace('"', "'")
        if re.search(r"(?m)^note = .*$", block):
            block = re.sub(r"(?m)^note = .*$", lambda m: f'note = "{note}"', block, count=1)
        else:
            block = re.sub(r"(?m)^(evidence = .*)$", lambda m: m.group(1) + f'\nnote = "{note}"', block, count=1)
        text = text[:start] + block + text[end:]
    tomllib.loads(text)  # still valid
    p.write_text(text)
    return written
