"""Writing the outputs of one simulation: time course, dosing record, summary, figure.

:func:`write_simulation` writes ``DIR/timecourse.parquet`` (or ``.csv``),
``DIR/doses.csv``, ``DIR/summary.json`` and ``DIR/figure.png`` atomically:
everything goes into a temporary sibling directory (same parent, so the final
rename stays on one file system), which is renamed into place only when every
file is complete. On any error (including Ctrl-C) the temporary directory is
removed, so a failed write leaves nothing behind and never a half-written
``DIR``.

Semantics of ``DIR``:

* missing, or an empty directory: written;
* a non-empty directory: a :class:`~il2sim.UserError` on ``--out``, unless
  ``overwrite=True``; then the old directory is renamed aside, the new one
  renamed in, and the old one deleted (if the swap fails, the old directory is
  put back);
* an existing file (not a directory): always a :class:`~il2sim.UserError`.

:func:`check_output_dir` applies the same rules without writing anything; the
CLI calls it before simulating so that a mistake costs no simulation time.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import UserError
from .._files import check_replaceable, write_marker
from .._json import to_json_safe

__all__ = [
    "DOSES_COLUMNS",
    "OUTPUT_FORMATS",
    "check_output_dir",
    "save_figure",
    "to_json_safe",
    "write_simulation",
]

#: Columns of ``doses.csv`` fixed by the contract, in this order (extra
#: columns, if any, follow them).
DOSES_COLUMNS = (
    "dose_index", "time_h", "day", "course", "cycle", "amount_iu_per_kg", "route",
    "infusion_minutes", "given", "held_by", "stopped",
)

#: Time-course file formats.
OUTPUT_FORMATS = ("parquet", "csv")

_EXPECTED_DIR = "a new or empty directory (or --overwrite)"

#: What a simulation directory holds; ``overwrite`` replaces a directory holding nothing else.
SIMULATION_FILES = frozenset({"timecourse.parquet", "timecourse.csv", "doses.csv", "summary.json", "figure.png"})


def check_output_dir(out_dir: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Check that ``out_dir`` may receive the outputs; write nothing.

    Parameters
    ----------
    out_dir
        The output directory (``--out``).
    overwrite
        Allow replacing an existing non-empty directory (``--overwrite``).

    Returns
    -------
    pathlib.Path
        ``out_dir`` as an absolute path.

    Raises
    ------
    UserError
        With field ``out_dir`` if ``out_dir`` is a file, is a non-empty directory
        and ``overwrite`` is false, is a non-empty directory that ``overwrite``
        may not replace (not a simulation directory il2sim wrote, holding
        files il2sim did not write, the current directory or a parent of it:
        :func:`il2sim._files.check_replaceable`), or if an existing ancestor
        is not a directory.
    """
    path = Path(out_dir).expanduser().absolute()
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise UserError("out_dir", str(out_dir), "a directory path (this one is an existing file)")
        if any(path.iterdir()):
            if not overwrite:
                raise UserError("out_dir", str(out_dir), _EXPECTED_DIR)
            check_replaceable(path, "simulation", SIMULATION_FILES)
    else:
        for ancestor in path.parents:
            if ancestor.exists():
                if not ancestor.is_dir():
                    raise UserError("out_dir", str(out_dir), f"a path whose parent is a directory ({ancestor} is a file)")
                break
    return path





def save_figure(fig: Any, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save a matplotlib figure (PNG by the file suffix) at ``dpi`` without pyplot.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(path, dpi=dpi)
    return path


def _write_doses_csv(result: Any, path: Path) -> None:
    table = result.doses_table().copy()
    missing = [c for c in DOSES_COLUMNS if c not in table.columns]
    if missing:
        raise RuntimeError(f"doses_table() lacks contract columns {missing}")
    extra = [c for c in table.columns if c not in DOSES_COLUMNS]
    table = table[list(DOSES_COLUMNS) + extra]
    for col in ("given", "stopped"):
        table[col] = ["true" if bool(v) else "false" for v in table[col]]
    table["held_by"] = [
        "" if bool(g == "true") or h is None or (isinstance(h, float) and math.isnan(h)) else str(h)
        for g, h in zip(table["given"], table["held_by"], strict=True)
    ]
    table.to_csv(path, index=False, lineterminator="\n")


def _write_files(result: Any, summary: Mapping[str, Any], tmp: Path, fmt: str, figure: bool) -> list[str]:
    names = []
    timecourse = result.timecourse()
    if fmt == "parquet":
        timecourse.to_parquet(tmp / "timecourse.parquet", index=False)
        names.append("timecourse.parquet")
    else:
        timecourse.to_csv(tmp / "timecourse.csv", index=False, lineterminator="\n")
        names.append("timecourse.csv")
    _write_doses_csv(result, tmp / "doses.csv")
    names.append("doses.csv")
    text = json.dumps(to_json_safe(summary), indent=2, allow_nan=False, ensure_ascii=False)
    (tmp / "summary.json").write_text(text + "\n", encoding="utf-8")
    names.append("summary.json")
    if figure:
        from ..plot import patient_figure

        fig = patient_figure(result, summary)
        save_figure(fig, tmp / "figure.png")
        names.append("figure.png")
    write_marker(tmp, "simulation")
    return names


def write_simulation(
    result: Any,
    summary: Mapping[str, Any],
    out_dir: str | os.PathLike[str],
    *,
    fmt: str = "parquet",
    overwrite: bool = False,
    figure: bool = True,
) -> dict[str, Path]:
    """Write one simulation's outputs into ``out_dir``, atomically.

    Parameters
    ----------
    result
        A :class:`~il2sim.engine.SimulationResult` (anything with
        ``timecourse()`` and ``doses_table()`` returning DataFrames).
    summary
        The ``summary.json`` content (see :func:`il2sim.analysis.summarize`).
        Non-finite floats are written as ``null``.
    out_dir
        Output directory; see the module docstring for the rules.

    Other Parameters
    ----------------
    fmt
        ``"parquet"`` (default) or ``"csv"`` for the time course.
    overwrite
        Replace an existing non-empty ``out_dir``.
    figure
        Also draw and write ``figure.png`` (:func:`il2sim.plot.patient_figure`).

    Returns
    -------
    dict of str to pathlib.Path
        File name (``"timecourse.parquet"``, ``"doses.csv"``, ...) -> final path.

    Raises
    ------
    UserError
        On a bad ``fmt`` or an unusable ``out_dir`` (field ``--out``).
    """
    if fmt not in OUTPUT_FORMATS:
        raise UserError("fmt", fmt, "one of " + ", ".join(OUTPUT_FORMATS))
    final = check_output_dir(out_dir, overwrite)
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{final.name}.tmp-{secrets.token_hex(4)}"
    os.mkdir(tmp)  # honours the umask, unlike tempfile.mkdtemp (0700)
    try:
        names = _write_files(result, summary, tmp, fmt, figure)
        _move_into_place(tmp, final, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {name: final / name for name in names}


def _move_into_place(tmp: Path, final: Path, overwrite: bool) -> None:
    if not (final.exists() or final.is_symlink()):
        os.rename(tmp, final)
        return
    if not final.is_dir():
        raise UserError("out_dir", str(final), "a directory path (this one is an existing file)")
    if not any(final.iterdir()):
        os.rmdir(final)
        os.rename(tmp, final)
        return
    if not overwrite:  # filled since check_output_dir
        raise UserError("out_dir", str(final), _EXPECTED_DIR)
    check_replaceable(final, "simulation", SIMULATION_FILES)  # again: it may have changed since
    aside = final.parent / f".{final.name}.old-{secrets.token_hex(4)}"
    os.rename(final, aside)
    try:
        os.rename(tmp, final)
    except BaseException:
        os.rename(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)
