"""The ASGI app: routes, the one-patient, comparison and trial APIs, downloads and the error handlers.

Security and robustness, by construction:

* every form value is checked by the CLI's own code
  (:func:`il2sim.cli.simulation_job`, :func:`il2sim.cli.trial_spec`, and for
  the dose table the scenario-file parser
  :meth:`il2sim.protocol.Regimen.from_dict`) after the page's own narrowing:
  regimens and molecules are chosen by name from the shipped ones, so no form
  value is ever taken as a file path (the CLI would accept a scenario or
  molecule file there) and nothing reaches a shell;
* the server writes only into its run directory (:class:`ServerSettings`):
  one-patient runs into ``patients/<random hex>``, trials into
  ``trials/trial-<time>-<random hex>``, names the server gives; a download is
  looked up by such a name (in memory, or checked against the trial names'
  pattern) and a fixed file name, never joined from request text;
* a :class:`~il2sim.UserError` is answered with JSON naming the form field
  and the CLI's one-line message (status 422) and nothing runs; a second
  trial while one runs gets 409 and a message; any other exception gets a
  generic message (status 500), never a traceback (the server's log keeps it).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .._errors import UserError
from . import _pages

__all__ = ["DOWNLOADS", "FORM_FLAGS", "TRIAL_DOWNLOADS", "MAX_RUNS_KEPT", "ServerSettings", "create_app", "is_loopback"]

#: The name of the one-patient page's dose table in its errors (as a scenario file's name is in the CLI's).
DOSE_TABLE = "dose table"
#: The regimen field's value that takes the dose table instead of a named regimen.
CUSTOM = "custom"
#: The columns of a dose-table row (``amount`` is in ``unit``: one of :data:`il2sim.model.DOSE_UNITS`).
BLOCK_COLUMNS = ("amount", "unit", "route", "infusion_minutes", "every_hours", "count", "start_day")
MAX_BLOCKS = 20
#: Form field -> the ``il2sim simulate`` flag it stands for (errors name the flag, as the CLI prints them).
FORM_FLAGS = {
    "indication": "--indication", "weight_kg": "--weight-kg", "nephrectomy": "--nephrectomy", "lesions": "--lesions",
    "lesion_mm": "--lesion-mm", "molecule": "--molecule", "regimen": "--regimen", "rules": "--rules",
    "care": "--no-care", "holds": "--no-holds", "days": "--days", "blocks": DOSE_TABLE,
}
_TEXT_FIELDS = ("indication", "weight_kg", "nephrectomy", "lesions", "lesion_mm", "molecule", "regimen", "rules", "days")
_FIELD_OF_FLAG = {flag: field for field, flag in FORM_FLAGS.items()} | {"lesion_diameters_mm": "lesion_mm"}
#: The files of a run offered for download: what ``il2sim simulate --format csv`` writes, less the figure.
DOWNLOADS = {"summary.json": "application/json", "doses.csv": "text/csv", "timecourse.csv": "text/csv",
             "regimen.toml": "application/toml"}  # regimen.toml: a dose table's, as a scenario file
#: The files of a trial offered for download (``patients.csv`` is made from ``patients.parquet`` when asked for).
TRIAL_DOWNLOADS = {"summary.json": "application/json", "patients.parquet": "application/vnd.apache.parquet",
                   "patients.csv": "text/csv", "report.html": "text/html", "manifest.json": "application/json"}
_TRIAL_FIELD_OF_FLAG = {"--regimen": "arms", "--indication": "indication", "--molecule": "molecule", "--rules": "rules",
                        "--no-care": "care", "--no-holds": "holds", "--patients": "patients", "--seed": "seed",
                        "--follow-up-weeks": "follow_up_weeks", "arms": "arms"}
#: Runs whose files are kept for download; older ones are deleted.
MAX_RUNS_KEPT = 20
_MAX_BODY = 16_384
_DEFAULT_DAYS = "168"
_GENERIC = "internal error: the server could not do this; its log has the details"
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_STATIC = {"il2sim.css": "text/css", "patient.js": "text/javascript", "params.js": "text/javascript",
           "trial.js": "text/javascript"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerSettings:
    """Where the server listens (for the page's warning banner), where it writes, and how it runs trials.

    ``run_dir`` is the server's run directory: one-patient runs go to ``RUN_DIR/patients/`` (the latest
    :attr:`max_runs_kept` kept, removed at shutdown), trials to ``RUN_DIR/trials/`` (kept: they resume from the
    command line). ``None``: a temporary directory, removed at shutdown (tests). ``validation`` is a
    ``validation.json`` for the scorecard page (default: ``RUN_DIR/validation.json`` or
    ``RUN_DIR/validation/validation.json``). ``workers``: local processes per trial (default: the CPU count).
    """

    host: str = "127.0.0.1"
    port: int = 8050
    max_runs_kept: int = MAX_RUNS_KEPT
    run_dir: str | None = None
    validation: str | None = None
    workers: int | None = None

    @property
    def banner(self) -> str:
        """The warning shown on every page when the server listens beyond this machine ('' on loopback)."""
        if is_loopback(self.host):
            return ""
        return (f"This server listens on {self.host}:{self.port}, not only on this machine: anyone who can reach it "
                "can run simulations here. There is no login. Stop it when you are done.")


class _Runs:
    """The server's one-patient runs: one random-named directory per run under ``ROOT/patients``, the newest kept."""

    def __init__(self, keep: int, root: Path) -> None:
        self.keep = keep
        self.root = root / "patients"
        self.lock = threading.Lock()  # one simulation at a time: the machine's cores are the limit, not the page
        self._dirs: OrderedDict[str, Path] = OrderedDict()
        self._guard = threading.Lock()

    def new(self) -> tuple[str, Path]:
        with self._guard:
            run_id = secrets.token_hex(16)
            path = self.root / run_id
            self._dirs[run_id] = path
            while len(self._dirs) > self.keep:
                _old, old_path = self._dirs.popitem(last=False)
                shutil.rmtree(old_path, ignore_errors=True)
            return run_id, path

    def file(self, run_id: str, name: str) -> Path | None:
        with self._guard:
            path = self._dirs.get(run_id)
        if path is None or name not in DOWNLOADS:
            return None
        target = path / name
        return target if target.is_file() else None

    def close(self) -> None:
        with self._guard:
            for path in self._dirs.values():
                shutil.rmtree(path, ignore_errors=True)
            self._dirs.clear()
            with contextlib.suppress(OSError):
                self.root.rmdir()  # only when empty: another server's runs stay


# ------------------------------------------------------------------ the one-patient run
def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise UserError(FORM_FLAGS[field], value, "text (the form sends every field as text)")
    return value


def patient_job(form: Any) -> Any:
    """The :class:`il2sim.cli.SimulationJob` of a patient form (a JSON object of the fields), checked as the CLI checks.

    Regimens and molecules are taken by name only (the shipped ones), never as files.

    Raises
    ------
    UserError
        Naming the CLI flag of the first bad field (:data:`FORM_FLAGS`).
    """
    from ..cli import simulation_job
    from ..model import shipped_molecules
    from ..protocol import NAMED_REGIMENS

    if not isinstance(form, dict):
        raise UserError("form", type(form).__name__, "a JSON object of the form's fields")
    unknown = sorted(set(form) - set(FORM_FLAGS))
    if unknown:
        raise UserError("form", unknown[0], "one of the fields " + ", ".join(FORM_FLAGS))
    values = {k: _text(k, form[k]) for k in _TEXT_FIELDS if k in form}
    for flag in ("care", "holds"):
        if not isinstance(form.get(flag, True), bool):
            raise UserError(FORM_FLAGS[flag], form[flag], "on or off (true or false)")
    regimen: Any = values.get("regimen", "high-dose")
    if regimen == CUSTOM:
        regimen = dose_table_regimen(form.get("blocks"))
    elif regimen not in NAMED_REGIMENS:
        raise UserError("--regimen", regimen, "one of " + ", ".join(NAMED_REGIMENS) + ", or custom (the dose table)")
    molecule = values.get("molecule", "aldesleukin")
    if molecule not in shipped_molecules():
        raise UserError("--molecule", molecule, "one of " + ", ".join(shipped_molecules()) + " (the page runs shipped molecules)")
    days = values.get("days", _DEFAULT_DAYS)
    optional = lambda k: (values.get(k) or "").strip() or None  # empty: the CLI's default
    return simulation_job(
        indication=values.get("indication", "melanoma"), regimen=regimen, molecule=molecule,
        weight_kg=values.get("weight_kg", "70"), days=days, follow_up_weeks=_follow_up_weeks(days),
        rules=values.get("rules", "pivotal"), holds=form.get("holds", True), care=form.get("care", True),
        fmt="csv", engine="fast", nephrectomy=optional("nephrectomy"), lesions=optional("lesions"),
        lesion_mm=optional("lesion_mm"))


def _cell(text: str) -> Any:
    """A dose-table cell as a scenario file would hold it: an integer, a number, or the text (the parser says why)."""
    t = text.strip()
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def dose_table_regimen(rows: Any) -> Any:
    """The :class:`~il2sim.protocol.Regimen` of the dose table's rows, parsed as a scenario file's blocks are.

    Each row holds the text of :data:`BLOCK_COLUMNS`; an empty cell is a missing key. The regimen parser of
    ``il2sim simulate --regimen FILE.toml`` (:meth:`~il2sim.protocol.Regimen.from_dict`) checks every value, so
    a bad dose gets the CLI's message, naming the table as the CLI names the file: ``dose table: block[2].count:
    got 0, expected an integer from 1 to 1000``.
    """
    from ..model import DOSE_UNITS
    from ..protocol import Regimen

    if not isinstance(rows, list) or not rows:
        raise UserError(DOSE_TABLE, "no dose blocks", "at least one row of the dose table")
    if len(rows) > MAX_BLOCKS:
        raise UserError(DOSE_TABLE, f"{len(rows)} rows", f"at most {MAX_BLOCKS} dose blocks from the page")
    blocks = []
    for i, row in enumerate(rows, start=1):
        where = f"{DOSE_TABLE}: block[{i}]"
        if not isinstance(row, dict) or set(row) - set(BLOCK_COLUMNS) or not all(isinstance(v, str) for v in row.values()):
            raise UserError(where, "a malformed row", "the text of the columns " + ", ".join(BLOCK_COLUMNS))
        unit = row.get("unit", "iu_per_kg")
        if unit not in DOSE_UNITS:
            raise UserError(f"{where}.unit", unit, "one of " + ", ".join(DOSE_UNITS))
        block = {("amount_" + unit if k == "amount" else k): _cell(v) if k != "route" else v.strip()
                 for k, v in row.items() if k != "unit" and v.strip()}
        blocks.append(block)
    return Regimen.from_dict({"name": "dose-table", "description": "the web page's dose table", "block": blocks},
                             source=DOSE_TABLE)


def _follow_up_weeks(days: str) -> str:
    """The RECIST follow-up of a run of ``days`` days: the whole run (at most the CLI's 520 weeks); '52' when ``days`` is bad."""
    try:
        value = float(days)
    except ValueError:
        return "52"
    if not 0 < value <= 3650:
        return "52"  # --days reports it
    return repr(min(value / 7.0, 520.0))


def error_payload(exc: UserError, fields: dict[str, str] | None = None) -> dict[str, Any]:
    """``{"field", "flag", "message"}`` of a user error; ``message`` is the CLI's line (without ``error: ``).

    ``fields`` maps flags to the form's field names (default: the one-patient form's).
    """
    from ..cli import as_flag

    of_flag = _FIELD_OF_FLAG if fields is None else fields
    flag = as_flag(exc.field)
    field = of_flag.get(flag) or of_flag.get(exc.field)
    message = " ".join(str(UserError(flag, exc.received, exc.expected)).split())
    if fields is None and exc.field.startswith(DOSE_TABLE):  # a cell of the dose table: block-<row>-<column>
        import re

        m = re.match(rf"^{DOSE_TABLE}: block\[(\d+)\](?:\.(amount|[a-z_]+))?", exc.field)
        field = "blocks"
        if m:
            column = "amount" if (m.group(2) or "").startswith("amount") else (m.group(2) or "")
            field = f"block-{m.group(1)}" + (f"-{column}" if column in BLOCK_COLUMNS else "")
    return {"field": field, "flag": flag, "message": message}


def _simulate(job: Any, runs: _Runs) -> tuple[Any, dict[str, Any], str]:
    """Simulate ``job`` and write its files into a new run directory: the result, its summary and the run's id."""
    from ..cli import run_simulation_job
    from ..io import write_simulation
    from ..protocol import NAMED_REGIMENS

    result, summary = run_simulation_job(job)
    run_id, path = runs.new()
    write_simulation(result, summary, path, fmt="csv", figure=False)
    if job.regimen.name not in NAMED_REGIMENS:  # the dose table, as a scenario file for il2sim simulate --regimen
        (path / "regimen.toml").write_text(job.regimen.to_toml(), encoding="utf-8")
    return result, summary, run_id


def _downloads(run_id: str, runs: _Runs) -> dict[str, str]:
    return {name: f"/runs/{run_id}/{name}" for name in DOWNLOADS if runs.file(run_id, name) is not None}


def _brief(job: Any, result: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """What the page prints about a run (its summary line and the comparison table)."""
    from ..io import to_json_safe

    status = summary.get("status") or {}
    pk = summary.get("pk") or {}
    grades = summary.get("worst_grade") or {}
    return to_json_safe({
        "regimen": result.regimen.name, "molecule": job.patient.model.molecule.name,
        "indication": job.patient.indication, "doses_given": summary.get("doses_given"),
        "doses_scheduled": summary.get("doses_scheduled"), "doses_held": summary.get("doses_held"),
        "doses_stopped": summary.get("doses_stopped"), "best_overall_response": summary.get("best_overall_response"),
        "success": bool(status.get("success", result.success)), "message": str(status.get("message", "")),
        "out_of_domain": list(status.get("out_of_domain") or []),
        "rules": job.rules, "care": job.care, "holds": job.holds,
        "cmax_iu_per_ml": pk.get("cmax_iu_per_ml"),
        "grade3plus": sorted(t for t, g in grades.items() if isinstance(g, int | float) and g >= 3),
    })


def _run_compare(jobs: tuple[Any, Any], runs: _Runs) -> str:
    """Simulate two jobs (A and B) of one patient; the JSON reply with both summaries and one overlaid figure."""
    from ._figure import compare_figure

    with runs.lock:
        (ra, sa, ida), (rb, sb, idb) = (_simulate(j, runs) for j in jobs)
    head = json.dumps({"runs": {"a": ida, "b": idb},
                       "summary": {"a": _brief(jobs[0], ra, sa), "b": _brief(jobs[1], rb, sb)},
                       "downloads": {"a": _downloads(ida, runs), "b": _downloads(idb, runs)}}, allow_nan=False)
    return head[:-1] + ', "figure": ' + compare_figure((ra, sa), (rb, sb)).to_json() + "}"


def _run_patient(job: Any, runs: _Runs) -> str:
    """Simulate ``job``, write its files into a new run directory; the JSON reply (figure included) as text."""
    from ..io import to_json_safe
    from ._figure import patient_figure

    with runs.lock:
        result, summary, run_id = _simulate(job, runs)
    brief = _brief(job, result, summary)
    head = json.dumps({"run": run_id, "summary": to_json_safe(brief), "downloads": _downloads(run_id, runs)},
                      allow_nan=False)
    return head[:-1] + ', "figure": ' + patient_figure(result, summary).to_json() + "}"


# ------------------------------------------------------------------ reference data
@cache
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


@cache
def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def _param_rows() -> list[dict[str, str]]:
    from ..model import default_model

    rows = []
    for p in default_model().table:
        value = f"{p.value:.6g}"
        if p.by_indication:
            value += " (" + "; ".join(f"{k}: {v:.6g}" for k, v in p.by_indication.items()) + ")"
        rows.append({"name": p.name, "value": value, "unit": p.unit, "evidence": p.evidence, "source": p.source,
                     "description": " ".join(p.description.split())})
    return rows


def _regimen_rows() -> list[dict[str, Any]]:
    from ..cli import block_text
    from ..protocol import NAMED_REGIMENS

    out = []
    for name, reg in NAMED_REGIMENS.items():
        out.append({"name": name, "n_doses": reg.n_doses, "last_day": max(a.day for a in reg.administrations()),
                    "blocks": [block_text(b) for b in sorted(reg.blocks, key=lambda b: b.first_time_h)],
                    "description": " ".join(reg.description.split())})
    return out


@cache
def _regimen_blocks_json() -> str:
    """Each named regimen's dose blocks as dose-table rows (text cells), JSON: the page fills its table from it."""
    from ..protocol import NAMED_REGIMENS

    out = {}
    for name, reg in NAMED_REGIMENS.items():
        out[name] = [{"amount": f"{b.amount:.12g}", "unit": b.unit, "route": b.route,
                      "infusion_minutes": f"{b.infusion_minutes:g}", "every_hours": f"{b.every_hours:g}",
                      "count": str(b.count), "start_day": str(b.start_day)}
                     for b in sorted(reg.blocks, key=lambda b: b.first_time_h)]
    return json.dumps(out)


@cache
def _model_html() -> str | None:
    """``docs/model.md`` of the source tree as HTML (None when the package is installed without its docs)."""
    import markdown

    path = Path(__file__).resolve().parents[3] / "docs" / "model.md"
    if not path.is_file():
        return None
    return markdown.markdown(path.read_text(encoding="utf-8"), extensions=["tables", "fenced_code", "toc"],
                             output_format="html")


# ------------------------------------------------------------------ the app
def create_app(settings: ServerSettings | None = None) -> Starlette:
    """The ASGI app of ``il2sim serve``.

    Parameters
    ----------
    settings
        Where it listens (the pages warn when that is not loopback) and how many runs it keeps.
    """
    import os

    from ._trial import MAX_PATIENTS, TrialBusy, TrialJobs, trial_form, trial_results

    settings = settings or ServerSettings()
    temporary = settings.run_dir is None
    root = Path(tempfile.mkdtemp(prefix="il2sim-serve-")) if temporary else Path(str(settings.run_dir)).expanduser().absolute()
    root.mkdir(parents=True, exist_ok=True)
    runs = _Runs(settings.max_runs_kept, root)
    trials = TrialJobs(root / "trials", settings.workers or min(os.cpu_count() or 1, 8))
    banner = settings.banner

    def page(title: str, body: str, active: str, scripts: tuple[str, ...] = ()) -> HTMLResponse:
        return HTMLResponse(_pages.layout(title, body, active=active, banner=banner, scripts=scripts))

    async def patient(request: Request) -> Response:
        from ..model import DOSE_UNITS, default_model, indications, shipped_molecules
        from ..protocol import NAMED_REGIMENS, RULE_SETS

        table = default_model().table
        body = _pages.patient_page(
            indications=[(i, str(table.indications[i].get("label", i))) for i in indications()],
            molecules=[(m, m) for m in shipped_molecules()], regimens=[(r, r) for r in NAMED_REGIMENS],
            rule_sets=[(r, r) for r in RULE_SETS],
            defaults={"lesions": f"{table['n_target_lesions'].value:g}", "lesion_mm": f"{table['lesion_diameter'].value:g}",
                      "days": _DEFAULT_DAYS},
            blocks_json=_regimen_blocks_json(), units=[(k, v) for k, v in DOSE_UNITS.items()])
        return page("One patient", body, "/", ("/static/plotly.min.js", "/static/patient.js"))

    async def params(request: Request) -> Response:
        return page("Parameters", _pages.params_page(_param_rows()), "/params", ("/static/params.js",))

    async def regimens(request: Request) -> Response:
        return page("Regimens", _pages.regimens_page(_regimen_rows()), "/regimens")

    async def model(request: Request) -> Response:
        return page("Model", _pages.model_page(_model_html()), "/model")

    async def api_patient(request: Request) -> Response:
        form = await _json_body(request)
        if isinstance(form, Response):
            return form
        try:
            job = patient_job(form)
        except UserError as exc:
            return JSONResponse({"error": error_payload(exc)}, status_code=422)
        text = await run_in_threadpool(_run_patient, job, runs)
        return Response(text, media_type="application/json")

    async def api_compare(request: Request) -> Response:
        form = await _json_body(request)
        if isinstance(form, Response):
            return form
        if not isinstance(form, dict) or set(form) != {"a", "b"}:
            return JSONResponse({"error": {"field": None, "message": "form: expected the two runs, a and b"}},
                                status_code=422)
        jobs = []
        for side in ("a", "b"):
            try:
                jobs.append(patient_job(form[side]))
            except UserError as exc:
                return JSONResponse({"error": {**error_payload(exc), "side": side}}, status_code=422)
        text = await run_in_threadpool(_run_compare, (jobs[0], jobs[1]), runs)
        return Response(text, media_type="application/json")

    async def download(request: Request) -> Response:
        path = runs.file(str(request.path_params["run_id"]), str(request.path_params["name"]))
        if path is None:
            raise HTTPException(404, "no such run file: the server keeps the latest runs only")
        return FileResponse(path, media_type=DOWNLOADS[path.name], filename=path.name)

    async def plotly_js(request: Request) -> Response:
        return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    async def static(request: Request) -> Response:
        name = str(request.path_params["name"])
        if name not in _STATIC:
            raise HTTPException(404, "not found")
        return Response(_static(name), media_type=_STATIC[name])

    async def favicon(request: Request) -> Response:
        return Response(status_code=204)

    async def not_found(request: Request, exc: Exception) -> Response:
        code = getattr(exc, "status_code", 404)
        detail = str(getattr(exc, "detail", "")) or "not found"
        if request.url.path.startswith(("/api/", "/runs/")):
            return JSONResponse({"error": {"field": None, "message": detail}}, status_code=code)
        return HTMLResponse(_pages.layout("Not found", f"<h1>{code}</h1><p>{_escape(detail)}</p>", active="",
                                          banner=banner), status_code=code)

    async def server_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": {"field": None, "message": _GENERIC}}, status_code=500)
        return HTMLResponse(_pages.layout("Error", f"<h1>Error</h1><p>{_GENERIC}</p>", active="", banner=banner),
                            status_code=500)

    async def trial_page(request: Request) -> Response:
        from ..model import default_model, indications, shipped_molecules
        from ..protocol import NAMED_REGIMENS, RULE_SETS

        table = default_model().table
        body = _pages.trial_page(
            indications=[(i, str(table.indications[i].get("label", i))) for i in indications()],
            molecules=[(m, m) for m in shipped_molecules()], regimens=list(NAMED_REGIMENS),
            rule_sets=[(r, r) for r in RULE_SETS], max_patients=MAX_PATIENTS, run_dir=str(trials.root))
        return page("Trial", body, "/trial", ("/static/plotly.min.js", "/static/trial.js"))

    async def api_trial_start(request: Request) -> Response:
        form = await _json_body(request)
        if isinstance(form, Response):
            return form
        try:
            spec, argv = trial_form(form)
        except UserError as exc:
            return JSONResponse({"error": error_payload(exc, _TRIAL_FIELD_OF_FLAG)}, status_code=422)
        try:
            status = await run_in_threadpool(trials.start, spec, argv)
        except TrialBusy as exc:
            return JSONResponse({"error": {"field": None, "message": str(exc)}}, status_code=409)
        return JSONResponse({"trial": status}, status_code=202)

    async def api_trial_status(request: Request) -> Response:
        return JSONResponse({"current": trials.status(), "trials": trials.listing()})

    async def api_trial_cancel(request: Request) -> Response:
        status = trials.cancel()
        if status is None:
            return JSONResponse({"error": {"field": None, "message": "no trial is running"}}, status_code=409)
        return JSONResponse({"trial": status})

    async def api_trial_results(request: Request) -> Response:
        path = trials.directory(str(request.path_params["name"]))
        if path is None or not (path / "summary.json").is_file() or not (path / "patients.parquet").is_file():
            raise HTTPException(404, "no finished trial of this name in the server's run directory")
        data = dict(await run_in_threadpool(trial_results, path))  # a copy: the results are cached
        data["downloads"] = {n: f"/trials/{path.name}/{n}" for n in TRIAL_DOWNLOADS}
        return Response(json.dumps(data, allow_nan=False, default=str), media_type="application/json")

    async def trial_download(request: Request) -> Response:
        path = trials.directory(str(request.path_params["name"]))
        name = str(request.path_params["file"])
        if path is None or name not in TRIAL_DOWNLOADS:
            raise HTTPException(404, "no such trial file")
        if name == "patients.csv":
            if not (path / "patients.parquet").is_file():
                raise HTTPException(404, "no such trial file")
            text = await run_in_threadpool(_patients_csv, path / "patients.parquet")
            return Response(text, media_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="patients.csv"'})
        target = path / name
        if not target.is_file():
            raise HTTPException(404, "no such trial file")
        return FileResponse(target, media_type=TRIAL_DOWNLOADS[name], filename=name)

    async def validation(request: Request) -> Response:
        where, results, facts, problem = await run_in_threadpool(_scorecard, settings.validation, root)
        return page("Validation", _pages.validation_page(where, results, facts, problem), "/validation")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await run_in_threadpool(trials.wait)
            runs.close()
            if temporary:
                shutil.rmtree(root, ignore_errors=True)

    routes = [
        Route("/", patient), Route("/params", params), Route("/regimens", regimens), Route("/model", model),
        Route("/api/patient", api_patient, methods=["POST"]), Route("/api/compare", api_compare, methods=["POST"]),
        Route("/runs/{run_id:str}/{name:str}", download),
        Route("/trial", trial_page), Route("/validation", validation), Route("/api/trial", api_trial_start, methods=["POST"]),
        Route("/api/trial", api_trial_status, methods=["GET"]), Route("/api/trial/cancel", api_trial_cancel, methods=["POST"]),
        Route("/api/trials/{name:str}", api_trial_results), Route("/trials/{name:str}/{file:str}", trial_download),
        Route("/static/plotly.min.js", plotly_js), Route("/static/{name:str}", static),
        Route("/favicon.ico", favicon),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: not_found, Exception: server_error})
    app.add_middleware(_SecurityHeaders)
    app.state.runs = runs
    app.state.trials = trials
    app.state.run_dir = root
    return app


async def _json_body(request: Request) -> Any:
    """The request's JSON body, or the error response to send instead."""
    body = await request.body()
    if len(body) > _MAX_BODY:
        return JSONResponse({"error": {"field": None, "message": "form: too large"}}, status_code=413)
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return JSONResponse({"error": {"field": None, "message": "form: not JSON"}}, status_code=400)


def _scorecard(given: str | None, root: Path) -> tuple[str, Any, dict[str, str], str]:
    """``(where, rows, facts, problem)`` of the scorecard page: the rows of a ``validation.json``, or None and why."""
    from ..validation import cells

    candidates = [Path(given).expanduser()] if given else [root / "validation.json", root / "validation" / "validation.json"]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        return str(root / "validation" if given is None else candidates[0].parent), None, {}, (
            f"{candidates[0]} does not exist" if given else "")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = []
        for r in doc["entries"]:
            name, pub, sim, verdict = cells(r)
            rows.append((name, str(r["kind"]), pub, sim, verdict, "pass" if r["result"] == "pass" else f"miss {r['kind']}",
                         str(r.get("source") or "")))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        return str(path), None, {}, f"{path} is not a validation.json of il2sim validate ({type(exc).__name__})"
    prov = doc.get("provenance") or {}
    n_cal = sum(r["kind"] == "calibration" for r in doc["entries"])
    n_val = len(doc["entries"]) - n_cal
    facts = {
        "model": str(doc.get("model_hash", "?")), "il2sim": str(prov.get("package_version", "?")),
        "date": str(prov.get("date", "?")), "patients per trial": str(prov.get("patients", "?")),
        "seed": str(prov.get("seed", "?")),
        "calibration targets met": f"{sum(r['kind'] == 'calibration' and r['result'] == 'pass' for r in doc['entries'])}"
                                   f" of {n_cal}",
        "validation checks agreeing": f"{sum(r['kind'] == 'validation' and r['result'] == 'pass' for r in doc['entries'])}"
                                      f" of {n_val}",
    }
    return str(path), rows, facts, ""


def _patients_csv(path: Path) -> str:
    import pandas as pd

    return pd.read_parquet(path).to_csv(index=False)


def _escape(text: str) -> str:
    from html import escape

    return escape(text)


class _SecurityHeaders:
    """Adds the Content-Security-Policy and friends to every response (pure ASGI, so streaming is untouched)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", _CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
