"""The ``il2sim`` command line (typer + rich); it contains no science.

Commands: ``simulate``, ``trial``, ``calibrate``, ``validate``, ``export-sbml``, ``states``, ``params``,
``regimens``, ``molecules``, ``serve`` (the web page, :mod:`il2sim.web`). Every user error (a bad option, an out-of-range value, a
missing or malformed scenario file, an existing output directory, and also
the parser's own errors: unknown option or command, missing value, extra
argument) is printed as exactly one line on stderr::

    error: <field>: got <received>, expected <expected>

with exit status 2, and nothing is written. A simulation whose solver fails
still writes its outputs (the summary records the failure), prints
``error: simulation: ...`` and exits 1. Ctrl-C exits 130.

Options are declared as text and validated here, so that a value of the wrong
type (``--days abc``) gets the same one-line message as a value out of range.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from ._errors import UserError

try:  # typer >= 0.2x vendors click as typer._click
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer depends on click
    import click.exceptions as _cx  # type: ignore[no-redef]

__all__ = ["SimulationJob", "app", "as_flag", "block_text", "main", "run_simulation_job", "simulation_job", "trial_spec"]

TIMECOURSE_FORMATS = ("parquet", "csv")
PARAM_FORMATS = ("table", "csv", "markdown")
MAX_DAYS = 3650.0
MAX_FOLLOW_UP_WEEKS = 520.0

app = typer.Typer(
    name="il2sim",
    help="Simulate IL-2 (aldesleukin) cancer immunotherapy: PK, immune cells, tumour, toxicity.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from ._version import __version__

        print(f"il2sim {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", callback=_print_version,
                                          is_eager=True)] = False,
) -> None:
    """Simulate IL-2 (aldesleukin) cancer immunotherapy: PK, immune cells, tumour, toxicity."""


# ------------------------------------------------------------------ parsing
def _number(option: str, text: str, expected: str, *, lo: float, hi: float, lo_open: bool = True) -> float:
    """``text`` as a finite float in ``(lo, hi]`` (or ``[lo, hi]``), else a UserError on ``option``."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UserError(option, text, expected) from None
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        raise UserError(option, text, expected)
    return value


def _integer(option: str, text: str, lo: int, hi: int) -> int:
    expected = f"an integer from {lo} to {hi}"
    try:
        value = int(text.strip(), 10)
    except (AttributeError, ValueError):
        raise UserError(option, text, expected) from None
    if not lo <= value <= hi:
        raise UserError(option, text, expected)
    return value


def _choice(option: str, text: str, choices: Sequence[str]) -> str:
    if text not in choices:
        raise UserError(option, text, "one of " + ", ".join(choices))
    return text


#: Library field -> command-line flag: the library's errors name its Python fields, the CLI's its flags.
_FLAGS = {
    "n_patients": "--patients", "chunk_size": "--chunk-size", "seed": "--seed", "follow_up_weeks": "--follow-up-weeks",
    "max_courses": "--max-courses", "engine": "--engine", "rules": "--rules", "arms": "--regimen",
    "regimen": "--regimen", "parameters": "--param", "parameter": "--param", "out_dir": "--out", "fmt": "--format",
    "source": "--population", "indication": "--indication", "workers": "--workers", "scheduler": "--scheduler",
    "resume": "--resume", "fit_tolerance": "--fit-tolerance", "fit_patients": "--fit-patients",
    "fit_iterations": "--fit-iterations", "pool_patients": "--pool", "weight_kg": "--weight-kg", "days": "--days",
    "molecule": "--molecule", "height_cm": "--height-cm",
}

_MOLECULE_HELP = "What is dosed: a shipped molecule (`il2sim molecules`) or a molecule file (default aldesleukin)."
_HEIGHT_HELP = "Height, 100-230 cm (doses per m2 only; default 170)."


def _molecule_model(name_or_file: str) -> Any:
    """The packaged model dosing ``name_or_file``."""
    from .model import default_model

    return default_model().with_molecule(name_or_file)


def as_flag(field: str) -> str:
    """The command-line name of a library field (``arms[1].parameters kd`` -> ``--param kd``); unknown ones as given.

    Shared with ``il2sim serve``, whose form errors name the same flags.
    """
    m = re.match(r"^(?:arms\[\d+\]\.)?([a-z_]+)(.*)$", field)
    if m and m.group(1) in _FLAGS:
        return _FLAGS[m.group(1)] + m.group(2)
    return field


def _rule_set_names() -> tuple[str, ...]:
    from .protocol import RULE_SETS

    return tuple(RULE_SETS)


def _param_overrides(items: Sequence[str], files: Sequence[str] = ()) -> dict[str, float]:
    """``--params FILE.toml`` tables (in order), then ``--param NAME=VALUE`` items (later ones win)."""
    from .model import default_model

    known = default_model().table.parameters
    out: dict[str, float] = {}
    for f in files:
        out.update(_params_file(f, known))
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserError("--param", item, "NAME=VALUE, with NAME a parameter from `il2sim params`")
        if name not in known:
            raise UserError("--param", name, "a parameter name from `il2sim params`")
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"--param {name}", text, "a finite number") from None
        out[name] = known[name].check(value, f"--param {name}")
    return out


def _params_file(path_text: str, known: Any) -> dict[str, float]:
    """The ``[parameters]`` table of a TOML file: ``NAME = VALUE`` rows, every NAME a table parameter."""
    import tomllib

    path = Path(path_text).expanduser()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError("--params", path_text, f"a readable TOML file ({getattr(exc, 'strerror', None) or exc})") from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise UserError("--params", path_text, f"valid TOML ({' '.join(str(exc).split())[:120]})") from None
    table = doc.get("parameters")
    if not isinstance(table, dict) or set(doc) - {"parameters"}:
        raise UserError("--params", path_text, "a TOML file with one [parameters] table of NAME = VALUE rows")
    out: dict[str, float] = {}
    for name, value in table.items():
        if name not in known:
            raise UserError(f"--params {path_text}", name, "a parameter name from `il2sim params`")
        out[name] = known[name].check(value, f"--params {path_text}: {name}")
    return out


def _fmt(value: Any, spec: str = ".4g", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    try:
        text = format(float(value), spec)
    except (TypeError, ValueError):
        return str(value)
    return f"{text} {unit}".strip()


def _console():
    from rich.console import Console

    return Console(highlight=False)


# ------------------------------------------------------------------ simulate
MAX_LESIONS = 5  # RECIST 1.1: at most 5 target lesions (Covariates checks the same)


@dataclass(frozen=True)
class SimulationJob:
    """One validated ``il2sim simulate`` request: the patient, the regimen and the run's settings.

    Built by :func:`simulation_job` from the option texts and run by
    :func:`run_simulation_job`; ``il2sim serve`` (:mod:`il2sim.web`) builds
    its one-patient runs the same way, so a form gets the CLI's checks and
    messages.
    """

    patient: Any
    regimen: Any
    n_days: float
    output_step_h: float
    follow_up_weeks: float
    rules: str
    holds: bool
    care: bool
    max_courses: int
    engine: str
    fmt: str
    given: dict[str, Any]


def simulation_job(
    *, indication: str = "melanoma", regimen: Any = "high-dose", weight_kg: str = "70", molecule: str = "aldesleukin",
    height_cm: str = "170", days: str | None = None, output_step_h: str = "0.25", rules: str = "pivotal",
    holds: bool = True, care: bool = True, follow_up_weeks: str = "52", max_courses: str = "3", fmt: str = "parquet",
    engine: str = "fast", param: Sequence[str] = (), params_file: Sequence[str] = (), nephrectomy: str | None = None,
    lesions: str | None = None, lesion_mm: str | None = None,
) -> SimulationJob:
    """Check the option texts of ``il2sim simulate`` (in its order) and build the patient and regimen.

    ``regimen`` is the ``--regimen`` text (a name or a scenario file), or a
    :class:`~il2sim.protocol.Regimen` already built (the web page's dose table).

    Raises
    ------
    UserError
        On the first bad value, naming its flag (or the library field, which
        :func:`as_flag` maps to one).
    """
    from .model import indications, typical_patient
    from .protocol import Regimen, resolve_regimen

    indication = _choice("--indication", indication, indications())
    weight = _number("--weight-kg", weight_kg, "a body weight in kg from 20 to 300", lo=20.0, hi=300.0, lo_open=False)
    weeks = _number("--follow-up-weeks", follow_up_weeks, "a number of weeks > 0 and <= 520", lo=0.0, hi=MAX_FOLLOW_UP_WEEKS)
    n_days = (
        weeks * 7.0 if days is None else _number("--days", days, "a number of days > 0 and <= 3650", lo=0.0, hi=MAX_DAYS)
    )
    end_h = 24.0 * n_days
    step_expected = f"a step in hours > 0 and <= 24 that divides the run of {end_h:g} h"
    step = _number("--output-step-h", output_step_h, step_expected, lo=0.0, hi=24.0)
    n_steps = end_h / step
    if step > end_h or abs(n_steps - round(n_steps)) > 1e-9 * max(1.0, n_steps):
        raise UserError("--output-step-h", output_step_h, step_expected)
    rules = _choice("--rules", rules, _rule_set_names())
    courses = _integer("--max-courses", max_courses, 1, 10)
    fmt = _choice("--format", fmt, TIMECOURSE_FORMATS)
    engine = _choice("--engine", engine, _engine_names())
    height = _number("--height-cm", height_cm, "a height in cm from 100 to 230", lo=100.0, hi=230.0, lo_open=False)
    kidney = None if nephrectomy is None else _choice("--nephrectomy", nephrectomy, ("yes", "no")) == "yes"
    n_lesions = None if lesions is None else _integer("--lesions", lesions, 1, MAX_LESIONS)
    lesion_size = None if lesion_mm is None else _number(
        "--lesion-mm", lesion_mm, "a longest diameter in mm from 10 to 300 (RECIST measurable)", lo=10.0, hi=300.0,
        lo_open=False)
    overrides = _param_overrides(param, params_file)
    reg = regimen if isinstance(regimen, Regimen) else resolve_regimen(regimen)
    model = _molecule_model(molecule)
    patient = typical_patient(indication, weight_kg=weight, height_cm=height, model=model).with_parameters(**overrides)
    patient = _with_covariates(patient, kidney, n_lesions, lesion_size)
    from .model import derive_constants

    derive_constants(patient)  # a molecule or values without a steady state: one error line before anything is written
    reg.require_dosable(patient)
    reg.require_dose_by(end_h, "--days", n_days)  # before the lock file and the parent directory
    given: dict[str, Any] = {
        "indication": indication, "regimen": regimen if isinstance(regimen, str) else reg.to_dict(), "molecule": molecule,
        "weight_kg": weight,
        "height_cm": height, "days": n_days,
        "output_step_h": step, "follow_up_weeks": weeks, "format": fmt, "param": overrides, "engine": engine,
    }
    if kidney is not None:
        given["nephrectomy"] = kidney
    if n_lesions is not None or lesion_size is not None:
        given["lesion_diameters_mm"] = list(patient.covariates.lesion_diameters_mm)
    return SimulationJob(patient=patient, regimen=reg, n_days=n_days, output_step_h=step, follow_up_weeks=weeks,
                         rules=rules, holds=holds, care=care, max_courses=courses, engine=engine, fmt=fmt, given=given)


def _with_covariates(patient: Any, nephrectomy: bool | None, n_lesions: int | None, lesion_mm: float | None) -> Any:
    """``patient`` with a nephrectomy status and equal target lesions, where given (else the table's)."""
    from dataclasses import replace

    cov = patient.covariates
    if nephrectomy is not None:
        cov = replace(cov, nephrectomy=nephrectomy)
    if n_lesions is not None or lesion_mm is not None:
        table = patient.values()
        n = n_lesions if n_lesions is not None else int(round(table["n_target_lesions"]))
        size = lesion_mm if lesion_mm is not None else float(table["lesion_diameter"])
        cov = replace(cov, lesion_diameters_mm=(size,) * n)
    return patient if cov is patient.covariates else replace(patient, covariates=cov)


def run_simulation_job(job: SimulationJob) -> tuple[Any, dict[str, Any]]:
    """Simulate ``job`` on its engine; return the result and the ``summary.json`` content (with provenance)."""
    from .analysis import summarize
    from .engine import simulate as run_simulation
    from .protocol import make_policy

    policy = make_policy(job.rules, holds=job.holds, care=job.care, max_courses=job.max_courses)
    result = run_simulation(job.patient, job.regimen, days=job.n_days, policy=policy, engine=job.engine,
                            output_step_h=job.output_step_h)
    summary = dict(summarize(result, follow_up_weeks=job.follow_up_weeks))
    provenance = dict(summary.get("provenance") or {})
    provenance["protocol"] = {
        "rules": job.rules,
        "holds": job.holds,
        "care": job.care,
        "max_courses": job.max_courses,
    }
    provenance.setdefault("follow_up_weeks", job.follow_up_weeks)
    provenance["cli"] = dict(job.given)
    summary["provenance"] = provenance
    summary.setdefault("status", {"success": bool(result.success), "message": str(result.message)})
    return result, summary


@app.command()
def simulate(
    indication: Annotated[str, typer.Option("--indication", metavar="NAME", help="melanoma or rcc.")] = "melanoma",
    regimen: Annotated[
        str, typer.Option("--regimen", metavar="NAME|FILE.toml", help="A named regimen (`il2sim regimens`) or a scenario file.")
    ] = "high-dose",
    weight_kg: Annotated[str, typer.Option("--weight-kg", metavar="KG", help="Baseline body weight, 20-300 kg.")] = "70",
    molecule: Annotated[str, typer.Option("--molecule", metavar="NAME|FILE.toml", help=_MOLECULE_HELP)] = "aldesleukin",
    height_cm: Annotated[str, typer.Option("--height-cm", metavar="CM", help=_HEIGHT_HELP)] = "170",
    nephrectomy: Annotated[
        str | None, typer.Option("--nephrectomy", metavar="yes|no", help="Nephrectomy (default: the indication's; rcc yes).")
    ] = None,
    lesions: Annotated[
        str | None, typer.Option("--lesions", metavar="N", help="Target lesions, 1-5 (default: the table's n_target_lesions).")
    ] = None,
    lesion_mm: Annotated[
        str | None, typer.Option("--lesion-mm", metavar="MM", help="Longest diameter of each target lesion, 10-300 mm "
                                                                   "(default: the table's lesion_diameter).")
    ] = None,
    days: Annotated[
        str | None, typer.Option("--days", metavar="N", help="Simulate t = 0 .. 24 N h (default: follow-up weeks x 7).")
    ] = None,
    output_step_h: Annotated[
        str, typer.Option("--output-step-h", metavar="H", help="Output grid step, h; must divide the run.")
    ] = "0.25",
    rules: Annotated[str, typer.Option("--rules", metavar="NAME", help="Protocol rule set: pivotal or consensus.")] = "pivotal",
    no_holds: Annotated[bool, typer.Option("--no-holds", help="Give every scheduled dose.")] = False,
    no_care: Annotated[bool, typer.Option("--no-care", help="No supportive care (fluids, pressors, ...).")] = False,
    follow_up_weeks: Annotated[
        str, typer.Option("--follow-up-weeks", metavar="W", help="RECIST follow-up, weeks (> 0, <= 520).")
    ] = "52",
    max_courses: Annotated[str, typer.Option("--max-courses", metavar="N", help="Most courses given, 1-10.")] = "3",
    fmt: Annotated[str, typer.Option("--format", metavar="FMT", help="Time-course file format: parquet or csv.")] = "parquet",
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Output directory (new or empty).")] = "il2sim-output",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing non-empty output directory.")] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", metavar="NAME=VALUE", help="Override a table parameter (repeatable).")
    ] = None,
    params_file: Annotated[
        list[str] | None,
        typer.Option("--params", metavar="FILE.toml", help="Parameter values from a TOML file's [parameters] table."),
    ] = None,
    engine: Annotated[str, typer.Option("--engine", metavar="NAME", help="fast (default) or scipy (the reference).")] = "fast",
) -> None:
    """Simulate one typical patient; write time course, doses, summary and figure to DIR."""
    job = simulation_job(
        indication=indication, regimen=regimen, weight_kg=weight_kg, molecule=molecule, height_cm=height_cm, days=days,
        output_step_h=output_step_h, rules=rules, holds=not no_holds, care=not no_care, follow_up_weeks=follow_up_weeks,
        max_courses=max_courses, fmt=fmt, engine=engine, param=param or (), params_file=params_file or (),
        nephrectomy=nephrectomy, lesions=lesions, lesion_mm=lesion_mm)
    from ._files import OutputLock
    from .io import check_output_dir

    out_path = check_output_dir(out, overwrite)  # before anything is written or simulated
    out_path.parent.mkdir(parents=True, exist_ok=True)
    from .io import write_simulation

    with OutputLock(out, "il2sim simulate"):  # for the whole run: a second writer is refused at once
        out_path = check_output_dir(out, overwrite)  # again, under the lock
        result, summary = run_simulation_job(job)
        paths = write_simulation(result, summary, out_path, fmt=job.fmt, overwrite=overwrite)

        _print_simulation_table(result, summary, out_path)
        print(f"figure: {paths['figure.png']}")
        reached = summary["status"].get("out_of_domain") or []
        if reached:
            limits = summary["status"]["out_of_domain_limits"]
            sys.stderr.write("warning: the patient reached a state the model cannot follow (it would have died or the "
                             "model left its domain): " + "; ".join(f"{k} ({limits[k]})" for k in reached)
                             + "; see status.out_of_domain in summary.json\n")
        if not result.success:
            message = " ".join(str(result.message).split())
            sys.stderr.write(f"error: simulation: {message} (partial outputs written to {out_path})\n")
            raise typer.Exit(1)


def _print_simulation_table(result: Any, summary: dict, out_path: Path) -> None:
    import numpy as np
    from rich.markup import escape
    from rich.table import Table

    pk = summary.get("pk") or {}
    table = Table(title=escape(f"il2sim simulate: {result.regimen.name}, {out_path}"), show_header=False)
    table.add_column("quantity")
    table.add_column("value", justify="right")
    table.add_row("doses given / scheduled", f"{summary.get('doses_given', 'n/a')} / {summary.get('doses_scheduled', 'n/a')}")
    table.add_row("best overall response", str(summary.get("best_overall_response", "n/a")))
    table.add_row("Cmax after the first dose", _fmt(pk.get("cmax_iu_per_ml"), ".4g", "IU/mL"))
    table.add_row("terminal half-life", _fmt(pk.get("t_half_terminal_min"), ".3g", "min"))
    lymph = np.asarray(result.observables.get("lymphocytes_per_ul", []), dtype=float)
    if lymph.size and np.any(np.isfinite(lymph)):
        i = int(np.nanargmin(lymph))
        nadir = f"{lymph[i]:.0f} cells/uL (day {result.t[i] / 24.0:.1f}; baseline {lymph[0]:.0f})"
    else:
        nadir = "n/a"
    table.add_row("lymphocyte nadir", nadir)
    if not result.success:
        table.add_row("simulation", escape(f"FAILED: {result.message}"))
    _console().print(table)


def _engine_names() -> tuple[str, ...]:
    from .engine import ENGINES

    return tuple(ENGINES)


# ------------------------------------------------------------------ states
@app.command()
def states() -> None:
    """List the model states: id, unit and description, tab-separated, no header."""
    from .model import STATES

    for s in STATES:
        print(f"{s.id}\t{s.unit}\t{' '.join(s.description.split())}")


# ------------------------------------------------------------------ params
@app.command()
def params(
    indication: Annotated[
        str | None, typer.Option("--indication", metavar="NAME", help="Show values for this indication (default: table defaults).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FMT", help="table (default), csv or markdown.")] = "table",
) -> None:
    """Print the parameter table with values, units, evidence and sources."""
    from .model import indications, load_table

    if indication is not None:
        indication = _choice("--indication", indication, indications())
    fmt = _choice("--format", fmt, PARAM_FORMATS)
    table = load_table()
    rows = []
    for p in table:
        by_ind = "; ".join(f"{k}: {v:.6g}" for k, v in p.by_indication.items())
        rows.append({
            "name": p.name,
            "value": f"{p.value_for(indication):.6g}",
            "unit": p.unit,
            "evidence": p.evidence,
            "source": p.source,
            "by_indication": by_ind,
            "description": " ".join(p.description.split()),
        })
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if fmt == "markdown":  # the same rendering as docs/model.md
        from ._docs import parameter_table_markdown, references_markdown

        print(parameter_table_markdown())
        print(f"Table: {len(rows)} parameters.\n\n## References\n")
        print(references_markdown(), end="")
        return
    from rich.markup import escape
    from rich.table import Table

    title = f"il2sim parameters ({indication})" if indication else "il2sim parameters (defaults)"
    t = Table(title=title, show_lines=False)
    for col, kw in (("name", {"overflow": "fold"}), ("value", {"justify": "right"}), ("unit", {}), ("evidence", {}),
                    ("source", {"overflow": "fold"}),
                    ("description", {"ratio": 1})):
        t.add_column(col, **kw)
    for r in rows:
        value = r["value"] + (f" ({r['by_indication']})" if r["by_indication"] and not indication else "")
        t.add_row(*(escape(x) for x in (r["name"], value, r["unit"], r["evidence"], r["source"], r["description"])))
    console = _console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # piped: do not squeeze the descriptions
    console.print(t)


# ------------------------------------------------------------------ regimens
def block_text(b: Any) -> str:
    """One line describing a :class:`~il2sim.protocol.DoseBlock` (``il2sim regimens`` and the web page's Regimens)."""
    how = "SC injection" if b.route == "sc" else (
        "IV bolus" if b.infusion_minutes == 0 else f"{b.infusion_minutes:g}-min IV infusion")
    days_span = f"day {b.start_day}" if b.count == 1 else f"from day {b.start_day}"
    return f"{b.count} x {b.amount_label}, {how}, every {b.every_hours:g} h, {days_span}"


@app.command()
def regimens(
    show: Annotated[str | None, typer.Option("--show", metavar="NAME", help="Only this regimen.")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FMT",
                                     help="text (default) or toml: a scenario file to start from "
                                          "(il2sim regimens --show high-dose --format toml > mine.toml).")] = "text",
) -> None:
    """List the named regimens with their schedules (or write one as a scenario file)."""
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    from .protocol import NAMED_REGIMENS

    fmt = _choice("--format", fmt, ("text", "toml"))
    chosen = NAMED_REGIMENS if show is None else {_choice("--show", show, tuple(NAMED_REGIMENS)): NAMED_REGIMENS[show]}
    if fmt == "toml":
        if show is None:
            raise UserError("--show", _Plain("nothing"), "a regimen name with --format toml (one scenario file)")
        sys.stdout.write(chosen[show].to_toml())
        return
    console = _console()
    for name, reg in chosen.items():
        adm = reg.administrations()
        last_day = max(a.day for a in adm)
        console.print(f"[bold]{escape(name)}[/bold]: {reg.n_doses} doses per course, days 1-{last_day}")
        for b in sorted(reg.blocks, key=lambda b: b.first_time_h):
            console.print("  - " + escape(block_text(b)))
        console.print(Padding(Text(" ".join(reg.description.split())), (0, 0, 0, 2)))
        console.print()


# ------------------------------------------------------------------ molecules
_AS_ALDESLEUKIN = ("central_volume_l_per_kg", "peripheral_volume_l_per_kg", "intercompartmental_clearance_l_h",
                   "renal_fraction", "sc_bioavailability", "sc_absorption_rate_per_h")


@app.command()
def molecules(
    show: Annotated[str | None, typer.Option("--show", metavar="NAME|FILE.toml",
                                             help="One molecule's values with their units and sources.")] = None,
) -> None:
    """List the shipped molecules (name, then a description), or show one molecule's values and sources."""
    from rich.markup import escape
    from rich.table import Table

    from .model import MOLECULE_KEYS, resolve_molecule, shipped_molecules

    if show is None:
        for name, mol in shipped_molecules().items():
            print(f"{name}  {mol.description}")
        return
    mol = resolve_molecule(show)
    table = Table(title=escape(f"{mol.name}: {mol.description}"))
    for col in ("key", "value", "evidence", "source"):
        table.add_column(col)
    for key, (_kind, _default, meaning) in MOLECULE_KEYS.items():
        if key in ("name", "description"):
            continue
        value = getattr(mol, key)
        src = mol.sources.get(key)
        shown = f"{value!r}" if value is not None else ("aldesleukin's" if key in _AS_ALDESLEUKIN else "none")
        cite = "" if src is None else src.source
        if src is not None and src.note:
            cite = f"{cite} ({src.note})" if cite else src.note
        table.add_row(key, escape(shown), "" if src is None else src.evidence, escape(cite or meaning))
    _console().print(table)


# ------------------------------------------------------------------ errors
def _command_names() -> str:
    cmd = typer.main.get_command(app)
    return ", ".join(sorted(getattr(cmd, "commands", {})))


class _Plain(str):
    """A received value shown without quotes (``got nothing``)."""

    def __repr__(self) -> str:
        return str(self)


def _usage_error(exc: Exception) -> UserError:
    """Rephrase a parser error as a UserError naming the option."""
    ctx = getattr(exc, "ctx", None)
    where = f"`{ctx.command_path}`" if ctx is not None else "`il2sim`"
    help_hint = f"see `{ctx.command_path} --help`" if ctx is not None else "see `il2sim --help`"
    message = " ".join(str(getattr(exc, "message", exc)).split())
    if isinstance(exc, _cx.NoSuchOption):
        expected = f"an option of {where} ({help_hint})"
        if exc.possibilities:
            expected += "; did you mean " + " or ".join(sorted(exc.possibilities)) + "?"
        return UserError(exc.option_name, exc.option_name, expected)
    if isinstance(exc, _cx.BadOptionUsage):
        if "does not take a value" in message:
            return UserError(exc.option_name, _Plain("a value"), "no value (it is an on/off flag)")
        return UserError(exc.option_name, _Plain("nothing"), f"a value after {exc.option_name}")
    if isinstance(exc, _cx.BadParameter):
        param = getattr(exc, "param", None)
        opts = getattr(param, "opts", None) or [getattr(param, "name", None) or "argument"]
        return UserError(opts[0], message, f"a valid value ({help_hint})")
    m = re.search(r"No such command '(.*?)'", message)
    if m:
        return UserError("command", m.group(1), f"one of {_command_names()}")
    if message.startswith("Missing command"):
        return UserError("command", _Plain("nothing"), f"one of {_command_names()}")
    m = re.search(r"unexpected extra argument(?:\(s\)|s)? \((.*)\)", message)
    if m:
        return UserError("argument", m.group(1), f"no positional arguments for {where} (options start with --)")
    return UserError("usage", message, help_hint)


def _check_option_values(group: Any, args: Sequence[str]) -> None:
    """Catch ``--days --out DIR``: an option whose value is missing because another option follows.

    The parser would take ``--out`` as the value of ``--days`` and then
    complain about ``DIR`` as an extra argument, which names the wrong thing.
    """
    if not args or not hasattr(group, "commands") or args[0] not in group.commands:
        return
    params = group.commands[args[0]].params
    takes_value = {o for p in params if not getattr(p, "is_flag", False) for o in p.opts}
    known = {o for p in params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    for option, following in zip(args[1:], args[2:]):
        if option == "--":
            return
        if option in takes_value and following in known:
            raise UserError(option, _Plain("nothing"), f"a value after {option} (got the option {following} instead)")


# ------------------------------------------------------------------ trial
_RESUME_HINT: list[str] = []
_ARGS: list[str] = []


@app.command()
def trial(
    indication: Annotated[str, typer.Option("--indication", metavar="NAME", help="melanoma or rcc.")] = "melanoma",
    regimen: Annotated[
        list[str] | None,
        typer.Option("--regimen", metavar="NAME|FILE.toml", help="An arm: a named regimen or a scenario file (repeatable)."),
    ] = None,
    molecule: Annotated[
        list[str] | None,
        typer.Option("--molecule", metavar="NAME|FILE.toml",
                     help="What the arms dose: once for every arm, or once per --regimen in the same order "
                          "(default aldesleukin)."),
    ] = None,
    patients: Annotated[str, typer.Option("--patients", metavar="N", help="Patients per arm.")] = "100",
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Trial seed (patient i is the same in every arm).")] = "0",
    chunk_size: Annotated[str, typer.Option("--chunk-size", metavar="N", help="Patients per chunk file.")] = "256",
    follow_up_weeks: Annotated[str, typer.Option("--follow-up-weeks", metavar="W", help="RECIST follow-up, weeks.")] = "52",
    rules: Annotated[str, typer.Option("--rules", metavar="NAME", help="pivotal or consensus.")] = "pivotal",
    no_holds: Annotated[bool, typer.Option("--no-holds", help="Give every scheduled dose.")] = False,
    no_care: Annotated[bool, typer.Option("--no-care", help="No supportive care.")] = False,
    max_courses: Annotated[str, typer.Option("--max-courses", metavar="N", help="Most courses given, 1-10.")] = "3",
    engine: Annotated[str, typer.Option("--engine", metavar="NAME", help="fast (default) or scipy (the reference).")] = "fast",
    population: Annotated[
        str,
        typer.Option("--population", metavar="NAME", help="calibrated (default: the shipped weighted pool) or prior "
                                                          "(the parameter table's uncalibrated variability)."),
    ] = "calibrated",
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Trial directory.")] = "il2sim-trial",
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted trial in DIR.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing trial directory.")] = False,
    workers: Annotated[
        str | None,
        typer.Option("--workers", metavar="N", help="Local processes (default: the CPU count); with --scheduler, batches "
                                                    "per chunk (default: one per cluster thread). Outputs do not depend on it."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="ADDRESS", help="Run the patients on the Dask cluster of this scheduler "
                                                            "(tcp://HOST:8786); the results equal a local run."),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", metavar="NAME=VALUE", help="Set a table parameter for every patient of every arm, on "
                                                           "top of the population draw (repeatable; after --params)."),
    ] = None,
    params_file: Annotated[
        list[str] | None,
        typer.Option("--params", metavar="FILE.toml", help="Parameter values from a TOML file's [parameters] table "
                                                           "(repeatable), applied like --param."),
    ] = None,
) -> int:
    """Run a virtual trial: the same virtual patients on every arm; writes patients.parquet, summary.json, report.html."""
    from .trial import TrialJobError, run_trial

    if resume and overwrite:
        raise UserError("--resume/--overwrite", "both", "at most one of --resume and --overwrite")
    spec = trial_spec(
        indication=indication, regimens=regimen or ["high-dose"], molecules=molecule or [], patients=patients,
        seed=seed, chunk_size=chunk_size, follow_up_weeks=follow_up_weeks, rules=rules, holds=not no_holds,
        care=not no_care, max_courses=max_courses, engine=engine, population=population, param=param or (),
        params_file=params_file or ())
    import os

    if workers is not None:
        n_workers: int | None = _integer("--workers", workers, 1, 100_000 if scheduler is not None else 256)
    else:
        n_workers = None if scheduler is not None else (os.cpu_count() or 1)
    given = _ARGS[1:] if _ARGS and _ARGS[0] == "trial" else []
    _RESUME_HINT[:] = ["il2sim", "trial", *[a for a in given if a != "--overwrite"]]
    if "--resume" not in given:
        _RESUME_HINT.append("--resume")
    import signal

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # A KeyboardInterrupt that lands in a finalizer (a Dask future's __del__) is swallowed by Python; the handler
    # also records the signal, and the progress callback (called in the main loop after every batch) re-raises it.
    interrupted: list[bool] = []

    def on_sigint(signum, frame):
        interrupted.append(True)
        raise KeyboardInterrupt

    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, on_sigint)

    def progress(done: int, total: int) -> None:
        if interrupted:
            raise KeyboardInterrupt
        bar.update(task, completed=done)

    with Progress(TextColumn("trial"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=_console(), transient=True) as bar:
        task = bar.add_task("patients", total=len(spec.arms) * spec.n_patients)
        try:
            from .report import trial_report_html

            summary = run_trial(spec, out, resume=resume, overwrite=overwrite, workers=n_workers, scheduler=scheduler,
                                progress=progress, report=trial_report_html)
        except TrialJobError as exc:
            bar.stop()
            _error_line(f"trial: {exc}; the chunks already written are kept, resume with: {' '.join(_RESUME_HINT)}")
            return 1
        except KeyboardInterrupt:  # handled here: typer turns it into exit code 130 before main() could see it
            bar.stop()
            sys.stderr.write("interrupted; resume with: " + " ".join(_RESUME_HINT) + "\n")
            sys.stderr.flush()
            return 130
        finally:
            if previous is not signal.SIG_IGN:
                signal.signal(signal.SIGINT, previous)
    console = _console()
    for arm, s in summary["arms"].items():
        console.print(f"{arm}: n={s['n_patients']} ORR {100 * s['orr']:.1f} % (CR {100 * s['cr_rate']:.1f} %, "
                      f"PR {100 * s['pr_rate']:.1f} %), median doses in course 1 {s['median_doses_first_course']:g}, "
                      f"failed {s['n_failed']}, out of domain {s['n_out_of_domain']}")
    print(f"report: {Path(out) / 'report.html'}")
    return 0


def trial_spec(
    *, indication: str = "melanoma", regimens: Sequence[Any] = ("high-dose",), molecules: Sequence[str] = (),
    patients: str = "100", seed: str = "0", chunk_size: str = "256", follow_up_weeks: str = "52", rules: str = "pivotal",
    holds: bool = True, care: bool = True, max_courses: str = "3", engine: str = "fast", population: str = "calibrated",
    param: Sequence[str] = (), params_file: Sequence[str] = (),
) -> Any:
    """Check the option texts of ``il2sim trial`` (in its order) and build the :class:`~il2sim.trial.TrialSpec`.

    ``regimens`` are the ``--regimen`` values (names or scenario files; a
    :class:`~il2sim.protocol.Regimen` is taken as it is). ``il2sim serve``
    builds its trials here too, so a form gets the CLI's checks and messages.

    Raises
    ------
    UserError
        On the first bad value, naming its flag (or the library field, which :func:`as_flag` maps to one).
    """
    from .model import indications
    from .population import SOURCES, PopulationSpec
    from .protocol import make_policy
    from .trial import TrialSpec

    indication = _choice("--indication", indication, indications())
    population = _choice("--population", population, SOURCES)
    rules = _choice("--rules", rules, _rule_set_names())
    return TrialSpec(
        indication=indication,
        arms=_trial_arms(list(regimens), list(molecules)),
        n_patients=_integer("--patients", patients, 1, 10_000_000),
        seed=_integer("--seed", seed, 0, 2**63 - 1),
        chunk_size=_integer("--chunk-size", chunk_size, 1, 100_000),
        follow_up_weeks=_number("--follow-up-weeks", follow_up_weeks, "a number of weeks > 0 and <= 520",
                                lo=0.0, hi=MAX_FOLLOW_UP_WEEKS),
        protocol=make_policy(rules, holds=holds, care=care, max_courses=_integer("--max-courses", max_courses, 1, 10)),
        engine=_choice("--engine", engine, _engine_names()),
        population=PopulationSpec(indication, source=population),
        parameters=tuple(_param_overrides(param, params_file).items()),
    )


def _trial_arms(regimens: Sequence[str], molecules: Sequence[str]) -> tuple[Any, ...]:
    """Arms from paired ``--regimen`` and ``--molecule`` flags (one molecule for all, or one per regimen).

    An arm is named after its regimen; when two arms share a regimen name, every arm is named
    ``MOLECULE:REGIMEN`` instead.
    """
    from .model import resolve_molecule
    from .protocol import Regimen, resolve_regimen
    from .trial import Arm

    if len(molecules) > 1 and len(molecules) != len(regimens):
        raise UserError("--molecule", f"{len(molecules)} molecules for {len(regimens)} regimens",
                        "one --molecule for every arm, or one per --regimen in the same order")
    regs = [r if isinstance(r, Regimen) else resolve_regimen(r) for r in regimens]
    mols = [resolve_molecule(m) for m in (molecules if len(molecules) > 1 else list(molecules) * len(regs))]
    if not mols:
        return tuple(Arm(r) for r in regs)
    names = [r.name for r in regs]
    clash = len(set(names)) < len(names) and len({m.name for m in mols}) > 1
    return tuple(Arm(r, molecule=m, name=f"{m.name}:{r.name}" if clash else "") for r, m in zip(regs, mols))


# ------------------------------------------------------------------ calibrate
@app.command()
def calibrate(
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Calibration directory (resumable).")] = "il2sim-calibration",
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of the fit cohort (seed + 1) and the pool.")] = "20261127",
    pool: Annotated[str, typer.Option("--pool", metavar="N", help="Pool patients per indication.")] = "1500",
    fit_patients: Annotated[str, typer.Option("--fit-patients", metavar="N", help="Stage-1 cohort per indication.")] = "150",
    fit_iterations: Annotated[str, typer.Option("--fit-iterations", metavar="N",
                                                help="Stage-1 updates (0: keep the table's values).")] = "8",
    workers: Annotated[str | None, typer.Option("--workers", metavar="N", help="Local processes (default: CPU count).")] = None,
    install: Annotated[bool, typer.Option("--install", help="Copy the population into the package (developers).")] = False,
) -> int:
    """Calibrate the virtual population to the pivotal high-dose trials; writes the population and fit-report.md."""
    import os

    from .calibration import CalibrationSettings
    from .calibration import calibrate as run

    settings = CalibrationSettings(
        seed=_integer("--seed", seed, 0, 2**63 - 1), pool_patients=_integer("--pool", pool, 8, 1_000_000),
        fit_patients=_integer("--fit-patients", fit_patients, 8, 100_000),
        fit_iterations=_integer("--fit-iterations", fit_iterations, 0, 100),
        workers=_integer("--workers", workers, 1, 256) if workers is not None else (os.cpu_count() or 1))
    console = _console()
    run(out, settings, progress=console.print, install=install)
    print(f"report: {Path(out) / 'fit-report.md'}")
    return 0


# ------------------------------------------------------------------ export-sbml
# ------------------------------------------------------------------ validate
@app.command()
def validate(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="TAG", help="Run the entries carrying this tag or id (repeatable: every tag "
                                                   "given; e.g. --only calibration --only melanoma)."),
    ] = None,
    patients: Annotated[str, typer.Option("--patients", metavar="N", help="Patients per trial (entries may cap it).")] = "1000",
    seed: Annotated[str, typer.Option("--seed", metavar="N", help="Seed of every trial.")] = "0",
    out: Annotated[str, typer.Option("--out", metavar="DIR", help="Output directory: validation.json, validation.html "
                                                                  "and trials/ (resumed when there).")] = "il2sim-validation",
    workers: Annotated[str | None, typer.Option("--workers", metavar="N", help="Local processes (default: CPU count).")] = None,
    registry: Annotated[
        str | None,
        typer.Option("--registry", metavar="FILE.toml", help="A registry file instead of the packaged one."),
    ] = None,
) -> int:
    """Score the model on the validation registry: one table; writes validation.json and validation.html.

    Exits 1 when a calibration target misses (a validation miss is reported, not a failure).
    """
    import os

    from rich.markup import escape
    from rich.table import Table

    from .validation import cells, load_registry, provenance, run_validation, write_outputs

    n = _integer("--patients", patients, 1, 10_000_000)
    s = _integer("--seed", seed, 0, 2**63 - 1)
    n_workers = _integer("--workers", workers, 1, 256) if workers is not None else (os.cpu_count() or 1)
    out_path = Path(out).expanduser()
    if out_path.exists() and not out_path.is_dir():
        raise UserError("--out", out, "a directory path (a file is in the way)")
    reg = load_registry(registry)
    entries = reg.select(tuple(only or ()))
    if not entries:
        raise UserError("--only", " ".join(only or ()), "tags that some entry carries all together")
    console = _console()
    results = run_validation(entries, out_path, patients=n, seed=s, workers=n_workers,
                             progress=lambda line: console.print(escape(line)))
    prov = provenance(patients=n, seed=s, registry=reg.path, registry_sha256=reg.sha256, only=tuple(only or ()))
    js, page = write_outputs(out_path, results, prov)
    table = Table(title=escape(f"il2sim validate: {len(results)} entries, {n} patients per trial, seed {s}"))
    for col in ("entry", "published", "simulated (95 % interval)", "verdict"):
        table.add_column(col, overflow="fold")
    for r in results:
        name, pub, sim, verdict = cells(r)
        style = "green" if r["result"] == "pass" else ("bold red" if r["kind"] == "calibration" else "yellow")
        table.add_row(escape(name), escape(pub), escape(sim), f"[{style}]{escape(verdict)}[/{style}]")
    console.print(table)
    missed = [r["id"] for r in results if r["kind"] == "calibration" and r["result"] == "miss"]
    n_val = sum(r["kind"] == "validation" for r in results)
    agree = sum(r["kind"] == "validation" and r["result"] == "pass" for r in results)
    console.print(f"calibration targets missed: {len(missed)}" + (f" ({', '.join(missed)})" if missed else "")
                  + f"; validation checks agreeing: {agree} of {n_val}")
    print(f"scorecard: {js} {page}")
    return 1 if missed else 0


@app.command("export-sbml")
def export_sbml(
    indication: Annotated[str, typer.Option("--indication", metavar="NAME", help="melanoma or rcc.")] = "melanoma",
    weight_kg: Annotated[str, typer.Option("--weight-kg", metavar="KG", help="Baseline body weight, 20-300 kg.")] = "70",
    regimen: Annotated[
        str, typer.Option("--regimen", metavar="NAME|FILE.toml", help="A named regimen (`il2sim regimens`) or a scenario file.")
    ] = "high-dose",
    molecule: Annotated[str, typer.Option("--molecule", metavar="NAME|FILE.toml", help=_MOLECULE_HELP)] = "aldesleukin",
    height_cm: Annotated[str, typer.Option("--height-cm", metavar="CM", help=_HEIGHT_HELP)] = "170",
    out: Annotated[str | None, typer.Option("--out", metavar="FILE", help="The SBML file to write (required).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing FILE.")] = False,
) -> None:
    """Export the typical patient on a regimen (first course, every dose, no care) as SBML Level 3, time in hours."""
    from .model import indications, typical_patient
    from .protocol import resolve_regimen

    indication = _choice("--indication", indication, indications())
    weight = _number("--weight-kg", weight_kg, "a body weight in kg from 20 to 300", lo=20.0, hi=300.0, lo_open=False)
    height = _number("--height-cm", height_cm, "a height in cm from 100 to 230", lo=100.0, hi=230.0, lo_open=False)
    reg = resolve_regimen(regimen)
    model = _molecule_model(molecule)
    if out is None or not out.strip():
        raise UserError("--out", _Plain("nothing") if out is None else out, "a path for the SBML file (.xml)")
    path = Path(out).expanduser()
    if path.is_dir():
        raise UserError("--out", out, "a file path (this one is an existing directory)")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise UserError("--out", out, "a new file path (or --overwrite to replace it)")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise UserError("--out", out, "a file in an existing directory")
    patient = typical_patient(indication, weight_kg=weight, height_cm=height, model=model)
    reg.require_dosable(patient)

    from .io import export_sbml as write_sbml

    try:
        text = write_sbml(patient, reg, path=path)
    except PermissionError as exc:
        raise UserError("--out", out, f"a writable path ({exc.strerror})") from None
    n_events = text.count("<event ")
    print(f"sbml: {path} ({indication}, {weight:g} kg, {model.molecule.name}, {reg.name}: {n_events} dose events)")


# ------------------------------------------------------------------ serve
@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", metavar="ADDRESS",
                                      help="Where to listen (default 127.0.0.1: this machine only; anything else is "
                                           "reachable by others, and the page says so).")] = "127.0.0.1",
    port: Annotated[str, typer.Option("--port", metavar="N", help="TCP port, 1-65535.")] = "8050",
    runs: Annotated[str, typer.Option("--runs", metavar="DIR",
                                      help="The server's run directory: trials in DIR/trials (kept, resumable with "
                                           "il2sim trial --resume), one-patient runs in DIR/patients (removed at "
                                           "exit). The server writes nowhere else.")] = "il2sim-serve",
    validation: Annotated[str | None, typer.Option("--validation", metavar="FILE",
                                                   help="A validation.json of il2sim validate for the scorecard page "
                                                        "(default: DIR/validation/validation.json).")] = None,
    workers: Annotated[str | None, typer.Option("--workers", metavar="N",
                                                help="Local processes per trial (default: the CPU count, at most 8).")] = None,
) -> None:
    """Serve the local web page (one patient, trial, validation, parameters, regimens, model); Ctrl-C stops it."""
    n = _integer("--port", port, 1, 65535)
    if not re.fullmatch(r"[A-Za-z0-9.:\-\[\]]{1,253}", host):
        raise UserError("--host", host, "a host name or IP address of this machine (default 127.0.0.1)")
    n_workers = _integer("--workers", workers, 1, 256) if workers is not None else None
    run_dir = Path(runs).expanduser()
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError("--runs", runs, "a directory path (a file is in the way)")
    if validation is not None and not Path(validation).expanduser().is_file():
        raise UserError("--validation", validation, "an existing validation.json (il2sim validate --out DIR writes one)")
    from .web import serve as run_server

    run_server(host.strip("[]"), n, run_dir=str(run_dir), validation=validation, workers=n_workers)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 1 failed run, 2 user error, 130 Ctrl-C).

    Parameters
    ----------
    argv
        Arguments without the program name; default ``sys.argv[1:]``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    _ARGS[:] = args
    _RESUME_HINT.clear()
    command = typer.main.get_command(app)
    try:
        _check_option_values(command, args)
        rv = command.main(args=args, prog_name="il2sim", standalone_mode=False)
    except UserError as exc:
        _error_line(str(UserError(as_flag(exc.field), exc.received, exc.expected)))
        return 2
    except _cx.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.format_message().rstrip("\n") + "\n")
        return 0
    except _cx.UsageError as exc:
        _error_line(str(_usage_error(exc)))
        return 2
    except _cx.ClickException as exc:
        _error_line(" ".join(exc.format_message().split()))
        return int(getattr(exc, "exit_code", 1)) or 1
    except KeyboardInterrupt:
        if _RESUME_HINT:
            sys.stderr.write("interrupted; resume with: " + " ".join(_RESUME_HINT) + "\n")
        else:
            sys.stderr.write("interrupted\n")
        return 130
    except (typer.Abort, EOFError):
        sys.stderr.write("interrupted\n")
        return 130
    except OSError as exc:  # the file system refused (read-only, full, a name too long, no permission)
        if exc.errno not in _FILE_SYSTEM_ERRORS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        _error_line(f"file system: {exc.strerror or exc}{where}; nothing half-written was left: choose another "
                    "--out or free the space, then run again (a trial resumes with --resume)")
        return 1
    if isinstance(rv, int) and not isinstance(rv, bool):
        return rv
    return 0


_FILE_SYSTEM_ERRORS = frozenset(
    getattr(__import__("errno"), name) for name in ("EROFS", "ENOSPC", "EDQUOT", "ENAMETOOLONG", "EACCES", "EPERM",
                                                     "EFBIG", "EMFILE", "ENOTDIR", "EISDIR", "ELOOP")
    if hasattr(__import__("errno"), name))


def _error_line(text: str) -> None:
    sys.stderr.write("error: " + " ".join(text.split()) + "\n")
    sys.stderr.flush()
