"""``il2sim serve`` in a real browser: Playwright for Python driving Debian's chromium.

The server runs in a thread on a free loopback port for the whole module; the
browser is Debian's ``/usr/bin/chromium`` (``.ci/run`` installs it), with a
fresh profile. Without chromium or Playwright these tests FAIL with a message
saying what to install: they are never skipped.

A few tests need no browser: the API's answers to bad and hostile input, and
the command line's checks of ``--host`` and ``--port``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from il2sim.cli import main
from il2sim.protocol import NAMED_REGIMENS
from il2sim.web import ServerSettings, background_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHORT = "21"  # days: a course of high-dose and a week after it, about a second to run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("serve-runs")


@pytest.fixture(scope="module")
def server(run_dir):
    with background_server(ServerSettings(run_dir=str(run_dir), workers=2)) as url:
        yield url


@pytest.fixture(scope="module")
def browser_context():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does this)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install -e '.[tests]' (it drives Debian's chromium; no "
                    "browser download is needed)")
    profile = tempfile.mkdtemp(prefix="il2sim-chromium-")
    pw = sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(profile, executable_path=str(CHROMIUM), headless=True,
                                                        args=CHROMIUM_ARGS, accept_downloads=True,
                                                        viewport={"width": 1400, "height": 1000})
        yield context
        context.close()
    finally:
        pw.stop()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context):
    """A new tab that records console errors and uncaught page errors in ``page.errors``."""
    tab = browser_context.new_page()
    tab.set_default_timeout(20_000)
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.errors = errors  # type: ignore[attr-defined]
    yield tab
    tab.close()


def _run_patient(page, server, **fields):
    page.goto(server + "/")
    page.fill("#days", SHORT)
    for name, value in fields.items():
        if name in ("indication", "regimen", "rules", "molecule", "nephrectomy"):
            page.select_option(f"#{name}", value)
        elif isinstance(value, bool):
            page.set_checked(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)
    page.click("#run")


def _trace_names(page) -> list[str]:
    return page.evaluate("Array.from(document.getElementById('chart').data || [], t => t.name)")


# ------------------------------------------------------------------ browser
def test_every_page_loads_without_console_errors(page, server):
    for path, heading in (("/", "One patient"), ("/trial", "Virtual trial"), ("/validation", "Validation scorecard"),
                          ("/params", "Parameters"), ("/regimens", "Named regimens")):
        page.goto(server + path)
        assert page.inner_text("h1") == heading
    page.goto(server + "/model")
    assert page.locator("#model-doc h1, main h1").count() >= 1
    assert page.locator("#banner").count() == 0  # loopback: no warning
    assert page.errors == []


def test_one_patient_runs_and_the_chart_shows_doses_and_blood_pressure(page, server):
    _run_patient(page, server, regimen="high-dose", weight_kg="82")
    page.wait_for_selector("#status:text('done')")
    names = _trace_names(page)
    assert "dose given" in names and "systolic BP" in names and "diastolic BP" in names
    assert {"heart rate", "body weight", "urine output", "creatinine", "temperature", "lymphocytes",
            "sum of diameters", "chills", "confusion", "vomiting", "phenylephrine", "fluid bolus",
            "maintenance IV fluid", "CD8 T cells (whole body)", "NK cells (whole body)"} <= set(names)
    # drawn, not only in the data: one SVG trace per line, and the panels share the time axis
    assert page.locator("#chart .scatterlayer .trace").count() >= len(names)
    shared = page.evaluate("(() => { const l = document.getElementById('chart').layout;"
                           " return Object.keys(l).filter(k => k.startsWith('xaxis') && l[k].matches).length; })()")
    assert shared == 8  # nine panels: doses, BP, weight, urine, temperature, symptoms, care, lymphocytes, tumour
    line = page.inner_text("#summary-line")
    assert "high-dose" in line and "doses given" in line
    assert page.errors == []


def test_a_bad_weight_shows_the_clis_message_next_to_the_field_and_runs_nothing(page, server):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _run_patient(page, server, weight_kg="500")
    error = page.locator("#error-weight_kg")
    error.wait_for(state="visible")
    assert error.inner_text() == "--weight-kg: got '500', expected a body weight in kg from 20 to 300"
    assert page.locator("#field-weight_kg.invalid").count() == 1
    assert page.locator("#result").is_hidden()  # nothing drawn
    assert page.inner_text("#status") == "not run"
    assert not any("/runs/" in u for u in requests)
    _run_patient(page, server, weight_kg="70", lesions="9")
    page.locator("#error-lesions").wait_for(state="visible")
    assert page.inner_text("#error-lesions") == "--lesions: got '9', expected an integer from 1 to 5"
    assert page.inner_text("#error-weight_kg") == ""  # the old error is cleared


def test_the_dose_table_runs_its_blocks_and_a_bad_dose_shows_the_parsers_message(page, server):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/")
    page.fill("#days", SHORT)
    page.select_option("#regimen", "custom")
    rows = page.locator("#blocks tbody tr.block")
    assert rows.count() == 2  # filled from high-dose, the regimen chosen before
    assert page.input_value("#block-1-amount") == "600000" and page.input_value("#block-2-start_day") == "15"
    page.fill("#block-2-count", "0")
    page.click("#run")
    error = page.locator("#error-block-2-count")
    error.wait_for(state="visible")
    assert error.inner_text() == "dose table: block[2].count: got 0, expected an integer from 1 to 1000"
    assert page.locator("#block-2-count.invalid").count() == 1
    assert page.inner_text("#status") == "not run" and page.locator("#result").is_hidden()
    page.fill("#block-2-count", "5")
    page.fill("#block-1-amount", "-5")
    page.click("#run")
    page.locator("#error-block-1-amount").wait_for(state="visible")
    assert page.inner_text("#error-block-1-amount") == ("dose table: block[1].amount_iu_per_kg: got -5, expected a "
                                                        "number with 0 < amount_iu_per_kg <= 1e+08")
    assert page.locator("#error-block-2-count").count() == 0  # the old error is gone
    assert not any("/runs/" in u for u in requests)
    page.fill("#block-1-amount", "300000")
    page.click("#run")
    page.wait_for_selector("#status:text('done')")
    assert "dose-table: 19 of 19 doses given" in page.inner_text("#summary-line")
    with page.expect_download() as info:
        page.click("#downloads a:text('regimen.toml')")
    toml = Path(info.value.path()).read_text()
    assert "amount_iu_per_kg = 300000" in toml and "count = 5" in toml


def test_two_runs_of_one_patient_side_by_side(page, server):
    page.goto(server + "/")
    page.fill("#days", SHORT)
    page.check("#compare")
    assert page.locator("#run-b").is_visible()
    page.select_option("#b_regimen", "low-dose-iv")
    page.set_checked("#b_care", False)
    page.click("#run")
    page.wait_for_selector("#status:text('done')")
    names = _trace_names(page)
    assert {"A: dose given", "B: dose given", "A: systolic BP", "B: systolic BP", "B: heart rate"} <= set(names)
    dashes = page.evaluate("Array.from(document.getElementById('chart').data, t => [t.name, t.line && t.line.dash])")
    assert dict(map(tuple, dashes))["B: systolic BP"] == "dash" and dict(map(tuple, dashes))["A: systolic BP"] == "solid"
    table = page.inner_text("#comparison-table")
    assert "high-dose" in table and "low-dose-iv" in table and "supportive care" in table
    assert page.locator("#downloads a:text('summary.json')").count() == 2
    page.select_option("#b_rules", "consensus")
    page.fill("#weight_kg", "500")
    page.click("#run")
    page.locator("#error-weight_kg").wait_for(state="visible")
    assert page.inner_text("#error-weight_kg").startswith("--weight-kg: got '500'")


def test_the_summary_download_parses_and_names_the_regimen(page, server):
    _run_patient(page, server, regimen="low-dose-iv", days="28")
    page.wait_for_selector("#status:text('done')")
    with page.expect_download() as info:
        page.click("#downloads a:text('summary.json')")
    summary = json.loads(Path(info.value.path()).read_text())
    assert info.value.suggested_filename == "summary.json"
    assert summary["provenance"]["cli"]["regimen"] == "low-dose-iv"
    assert summary["doses_scheduled"] == len(NAMED_REGIMENS["low-dose-iv"].administrations())
    with page.expect_download() as info:
        page.click("#downloads a:text('doses.csv')")
    header = Path(info.value.path()).read_text().splitlines()[0]
    assert header.startswith("dose_index,time_h,day,course")


def test_the_parameter_search_filters_rows(page, server):
    page.goto(server + "/params")
    rows = page.locator("#params tbody tr")
    total = rows.count()
    assert total > 100
    assert page.inner_text("#param-count") == f"{total} of {total} parameters"
    page.fill("#param-search", "lesion_diameter")
    visible = page.locator("#params tbody tr:not([hidden])")
    assert 1 <= visible.count() < total
    assert "lesion_diameter" in visible.first.inner_text()
    page.fill("#param-search", "no such parameter anywhere")
    assert visible.count() == 0
    page.fill("#param-search", "")
    assert visible.count() == total
    assert page.errors == []


def test_a_non_loopback_host_shows_the_warning_banner(page):
    with background_server(ServerSettings(host="0.0.0.0")) as url:  # bound to loopback; the banner follows the setting
        page.goto(url + "/regimens")
        assert "not only on this machine" in page.inner_text("#banner")


# ------------------------------------------------------------------ trials in the browser
TRIAL_WEEKS = "17"  # two scans after baseline: responses are confirmed, the curves have events


def _start_trial(page, server, arms=("high-dose",), **fields):
    page.goto(server + "/trial")
    for box in page.locator("input[name=arms]").all():
        box.set_checked(box.get_attribute("value") in arms)
    page.fill("#follow_up_weeks", TRIAL_WEEKS)
    for name, value in fields.items():
        if isinstance(value, bool):
            page.set_checked(f"#{name}", value)
        else:
            page.fill(f"#{name}", value)
    page.click("#run")


def _wait_until(condition, timeout_s: float = 60.0) -> None:
    """Poll ``condition`` (page.wait_for_function evaluates text, which the page's CSP forbids)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def test_a_trial_shows_progress_finishes_and_shows_its_results(page, server, run_dir):
    seen: list[str] = []
    page.on("response", lambda r: seen.append(r.url) if r.url.endswith("/api/trial") else None)
    _start_trial(page, server, arms=("high-dose", "low-dose-iv"), patients="20")
    page.wait_for_selector("#status[data-state=running]")
    assert page.locator("#progress").is_visible()
    assert page.locator("#cancel").is_visible()
    status, reply = _post(server, {"patients": "5"}, "/api/trial")  # one trial at a time
    assert status == 409 and reply["error"]["message"].startswith("a trial is already running (")
    page.wait_for_selector("#status[data-results]", timeout=120_000)
    assert page.get_attribute("#status", "data-state") == "finished"
    assert len(seen) >= 2  # polled
    assert page.evaluate("document.getElementById('progress').value") == 40
    table = page.inner_text("#response-table")
    assert "objective response (CR + PR)" in table and "high-dose: 95 % CI" in table and "low-dose-iv: rate" in table
    name = page.get_attribute("#results", "data-trial")
    summary = json.loads((run_dir / "trials" / name / "summary.json").read_text())
    orr = summary["arms"]["high-dose"]["orr"]
    assert f"{100 * orr:.1f} %" in page.inner_text("#response-table tbody tr:nth-child(3)")
    for chart in ("waterfall", "spider", "km", "toxicity", "doses"):
        assert page.locator(f"#chart-{chart} .main-svg").count() >= 1, chart
    km = page.evaluate("Array.from(document.getElementById('chart-km').data, t => t.hovertemplate || '')")
    assert any("months" in h and "95 % CI" in h for h in km)
    assert "hazard ratio vs high-dose" in page.inner_text("#survival-table")
    assert "grade" in page.inner_text("#toxicity-table") and "median doses" in page.inner_text("#doses-table")
    # the downloads are the trial's files
    with page.expect_download() as info:
        page.click("#trial-downloads a:text('summary.json')")
    assert json.loads(Path(info.value.path()).read_text())["arms"] == summary["arms"]
    with page.expect_download() as info:
        page.click("#trial-downloads a:text('patients.csv')")
    lines = Path(info.value.path()).read_text().splitlines()
    assert lines[0].startswith("arm,patient_id,") and len(lines) == 41
    # listed, and the resume command is the CLI's
    assert name in page.inner_text("#trials")
    assert page.inner_text("#resume-command").startswith("il2sim trial --indication melanoma --regimen high-dose")
    assert page.errors == []


def test_a_bad_trial_field_shows_the_clis_message_and_runs_nothing(page, server, run_dir):
    before = set((run_dir / "trials").iterdir()) if (run_dir / "trials").exists() else set()
    _start_trial(page, server, patients="500")
    page.locator("#error-patients").wait_for(state="visible")
    assert page.inner_text("#error-patients") == "--patients: got '500', expected an integer from 1 to 200"
    _start_trial(page, server, patients="5", follow_up_weeks="600")
    page.locator("#error-follow_up_weeks").wait_for(state="visible")
    assert page.inner_text("#error-follow_up_weeks") == "--follow-up-weeks: got '600', expected a number of weeks > 0 and <= 520"
    _start_trial(page, server, arms=())
    page.locator("#error-arms").wait_for(state="visible")
    assert page.inner_text("#status") == "not run"
    after = set((run_dir / "trials").iterdir()) if (run_dir / "trials").exists() else set()
    assert after == before
    # the only console lines are chromium's own notes of the 422 answers
    assert all("status of 422" in e for e in page.errors)


def test_cancel_stops_a_trial_and_leaves_a_directory_the_cli_resumes(page, server, run_dir, capsys):
    import shlex

    import pandas as pd

    _start_trial(page, server, arms=("high-dose",), patients="40", follow_up_weeks="9")
    page.wait_for_selector("#status[data-state=running]")
    _wait_until(lambda: page.evaluate("document.getElementById('progress').value") >= 10)
    page.click("#cancel")
    page.wait_for_selector("#status[data-state=cancelled]", timeout=60_000)
    assert "resume" in page.inner_text("#status")
    command = page.inner_text("#resume-command")
    argv = shlex.split(command)
    assert argv[:2] == ["il2sim", "trial"] and argv[-1] == "--resume"
    out = Path(argv[argv.index("--out") + 1])
    assert out.parent == run_dir / "trials"
    assert (out / "manifest.json").is_file() and not (out / "summary.json").exists()
    kept = sorted(p.name for p in (out / "chunks").iterdir())
    assert (run_dir / "trials" / f"{out.name}.command").read_text().strip() == command
    page.reload()
    page.wait_for_selector(f"#trials li:has-text('{out.name}')")
    assert "interrupted" in page.inner_text("#trials") and command in page.inner_text("#trials")
    assert 1 <= len(kept) < 4  # stopped early: some chunks of 10 written, not all
    # a second trial may start now: the first is over
    status, reply = _post(server, {}, "/api/trial/cancel")
    assert status == 409 and reply["error"]["message"] == "no trial is running"
    # the CLI resumes the directory (the chunks kept are reused) and finishes it
    assert main([*argv[1:], "--workers", "2"]) == 0
    assert "report:" in capsys.readouterr().out
    patients = pd.read_parquet(out / "patients.parquet")
    assert len(patients) == 40 and list(patients["patient_id"]) == list(range(40))
    assert set(kept) <= {p.name for p in (out / "chunks").iterdir()}


# ------------------------------------------------------------------ the API, no browser
def _post(server, body: bytes | dict, path: str = "/api/patient"):
    import urllib.error
    import urllib.request

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(server + path, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("form, field, text", [
    ({"regimen": "/etc/passwd"}, "regimen", "--regimen: got '/etc/passwd', expected one of high-dose"),
    ({"molecule": "../mol.toml"}, "molecule", "--molecule: got '../mol.toml', expected one of aldesleukin"),
    ({"days": "abc"}, "days", "--days: got 'abc', expected a number of days > 0 and <= 3650"),
    ({"indication": "lung"}, "indication", "--indication: got 'lung', expected one of melanoma, rcc"),
    ({"nephrectomy": "maybe"}, "nephrectomy", "--nephrectomy: got 'maybe', expected one of yes, no"),
    ({"lesion_mm": "5"}, "lesion_mm", "--lesion-mm: got '5', expected a longest diameter in mm from 10 to 300"),
    ({"weight_kg": 70}, "weight_kg", "--weight-kg: got 70, expected text"),
    ({"care": "yes"}, "care", "--no-care: got 'yes', expected on or off"),
    ({"shell": "; rm -rf /"}, None, "form: got 'shell', expected one of the fields"),
])
def test_bad_fields_get_the_clis_message_and_run_nothing(server, form, field, text):
    status, reply = _post(server, form)
    assert status == 422
    assert reply["error"]["field"] == field
    assert reply["error"]["message"].startswith(text)


def test_broken_requests_get_a_short_answer_and_no_traceback(server):
    import urllib.error
    import urllib.request

    status, reply = _post(server, b"{not json")
    assert status == 400 and reply["error"]["message"] == "form: not JSON"
    for path in ("/runs/0123/summary.json", "/runs/../../etc/passwd", "/static/../_app.py"):
        try:
            urllib.request.urlopen(server + path, timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
            assert "Traceback" not in exc.read().decode()
        else:
            raise AssertionError(f"{path} was served")


def test_an_unexpected_failure_gets_a_generic_message(server, monkeypatch):
    import il2sim.cli as cli

    def boom(job):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(cli, "run_simulation_job", boom)
    status, reply = _post(server, {"days": SHORT})
    assert status == 500
    assert "secret" not in json.dumps(reply) and reply["error"]["message"].startswith("internal error")


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_validation_page_says_how_to_make_a_scorecard_or_shows_one(server, run_dir, tmp_path):
    status, text = _get(server + "/validation")
    assert status == 200 and 'id=validation-missing' in text
    assert f"il2sim validate --out {run_dir / 'validation'}" in text
    entry = {"id": "hd-melanoma-orr", "kind": "calibration", "source": "Atkins 1999 <pooled>", "statistic": "orr",
             "published": {"value": 0.16, "lo": 0.12, "hi": 0.21}, "rule": "within_ci", "n": 270, "simulated": 0.155,
             "ci95": [0.133, 0.18], "n_simulated": 1000, "not_reached": False, "result": "pass", "tags": ["melanoma"]}
    miss = dict(entry, id="ld-rcc-orr", kind="validation", simulated=0.30, ci95=[0.27, 0.33], result="miss")
    doc = {"model_hash": "797c9734", "provenance": {"package_version": "0.2.0", "patients": 1000, "seed": 0,
                                                    "date": "2026-12-01"}, "entries": [entry, miss]}
    (tmp_path / "scorecard.json").write_text(json.dumps(doc))
    with background_server(ServerSettings(validation=str(tmp_path / "scorecard.json"))) as url:
        status, text = _get(url + "/validation")
    assert status == 200 and "id=scorecard" in text
    assert "hd-melanoma-orr" in text and "16.0 % (12.0-21.0 %), n 270" in text and "15.5 % (13.3-18.0 %), n 1000" in text
    assert "Atkins 1999 &lt;pooled&gt;" in text  # escaped
    assert '<tr class="miss validation">' in text and "validation checks agreeing</th><td>0 of 1" in text
    (tmp_path / "scorecard.json").write_text("{not json")
    with background_server(ServerSettings(validation=str(tmp_path / "scorecard.json"))) as url:
        status, text = _get(url + "/validation")
    assert status == 200 and "is not a validation.json of il2sim validate" in text and "Traceback" not in text


def test_trial_api_refuses_bad_and_hostile_input(server):
    for form, field, message in (
        ({"arms": ["/etc/passwd"]}, "arms", "--regimen: got '/etc/passwd', expected one of high-dose"),
        ({"arms": "high-dose"}, "arms", "--regimen: got 'high-dose', expected a list of named regimens"),
        ({"arms": ["high-dose", "high-dose"]}, "arms", "--regimen: got 'high-dose', expected distinct arms"),
        ({"seed": "-1"}, "seed", "--seed: got '-1', expected an integer from 0 to"),
        ({"out": "/tmp/x"}, None, "form: got 'out', expected one of the fields"),
        ({"patients": 20}, "patients", "--patients: got 20, expected text"),
    ):
        status, reply = _post(server, form, "/api/trial")
        assert status == 422, form
        assert reply["error"]["field"] == field and reply["error"]["message"].startswith(message), reply
    for path in ("/api/trials/../../etc", "/api/trials/trial-20260101-000000-000000", "/trials/x/summary.json",
                 "/trials/trial-20260101-000000-000000/../../manifest.json"):
        status, text = _get(server + path)
        assert status == 404 and "Traceback" not in text, path


# ------------------------------------------------------------------ the command line
def test_serve_checks_its_options(capsys, tmp_path):
    assert main(["serve", "--port", "0"]) == 2
    assert capsys.readouterr().err == "error: --port: got '0', expected an integer from 1 to 65535\n"
    assert main(["serve", "--host", "my host; rm"]) == 2
    assert capsys.readouterr().err.startswith("error: --host: got 'my host; rm', expected a host name or IP address")
    (tmp_path / "afile").write_text("")
    assert main(["serve", "--runs", str(tmp_path / "afile")]) == 2
    assert capsys.readouterr().err.endswith("expected a directory path (a file is in the way)\n")
    assert main(["serve", "--validation", str(tmp_path / "nope.json")]) == 2
    assert "expected an existing validation.json" in capsys.readouterr().err
    assert main(["serve", "--workers", "0"]) == 2
    assert capsys.readouterr().err == "error: --workers: got '0', expected an integer from 1 to 256\n"
