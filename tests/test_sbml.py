"""SBML export: libsbml-valid, annotated, and libroadrunner reproduces the reference engine.

Conformance measure: for every state and every output time,
``|roadrunner - reference| / max(|reference|, floor)`` with the absolute
floor ``1e-6 * atol_scale`` of the state (its baseline magnitude or unit
floor, as the engine scales its tolerances; 1e-3 mL for the cumulative
counters that start at 0). The bound is 1e-4. The perfusion deficit (the
integral of the MAP's positive part below 65 mmHg) has an absolute floor of
1 mmHg h: at its onset it is the integral of a kink, whose relative error is
that of the crossing time, and 1 mmHg for 1 h is far below any effect (the
death law divides it by a tolerance of about 1600 mmHg h).
"""

from __future__ import annotations

import os

import libsbml
import numpy as np
import pandas as pd
import pytest
import roadrunner

from conftest import TIGHT
from il2sim.cli import main
from il2sim.engine import FastSettings, SolverSettings, atol_scale, initial_state, simulate, simulate_fast
from il2sim.io import export_sbml
from il2sim.io._sbml import REST_ZERO_TOL, SBML_NAMESPACE, sbml_unit
from il2sim.model import DERIVED, DOSE_TARGETS, STATES, derive_constants, load_table, typical_patient
from il2sim.protocol import DoseBlock, GiveAllPolicy, Regimen, resolve_regimen

IDS = [s.id for s in STATES]
REL_BOUND = 1e-4
FLOOR = 1e-6  # times atol_scale: the absolute floor of the relative deviation
# LSODA at tight tolerances is the fast tight reference with the 56-day run-in (Radau and BDF crawl near rest:
# Radau at rtol 1e-9 needs ~2 min for the run-in alone)
TIGHT_LSODA = SolverSettings(method="LSODA", rtol=1e-10, atol=1e-12)
RR_RTOL, RR_ATOL = 1e-10, 1e-12  # CVODE; the absolute tolerance is scaled per state by atol_scale
# states whose rest value is 0 and whose run-in ends at a rounding residue: exported as 0
AT_REST_ZERO = ("sympathetic", "renal_hormones", "tubular_injury", "symptom_load")
# absolute floors of the relative deviation for states that start at 0 and integrate a kink (module docstring)
ABSOLUTE_FLOORS = {"perfusion_deficit": 1.0}


@pytest.fixture(scope="module")
def melanoma():
    return derive_constants(typical_patient("melanoma", weight_kg=70))


def run_roadrunner(sbml: str, individual, t_end: float, step: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = RR_RTOL
    for sid, scale in zip(IDS, atol_scale(individual)):
        rr.integrator.setIndividualTolerance(sid, float(RR_ATOL * scale))
    rr.timeCourseSelections = ["time"] + IDS
    n = int(round(t_end / step)) + 1
    out = np.asarray(rr.simulate(0.0, t_end, n))
    return out[:, 0], out[:, 1:]


def deviation(y_rr: np.ndarray, y_ref: np.ndarray, individual) -> np.ndarray:
    floor = FLOOR * atol_scale(individual)
    for name, value in ABSOLUTE_FLOORS.items():
        floor[IDS.index(name)] = max(floor[IDS.index(name)], value)
    return np.abs(y_rr - y_ref) / np.maximum(np.abs(y_ref), floor)


def worst(dev: np.ndarray, t: np.ndarray) -> str:
    j = int(np.argmax(dev.max(axis=0)))
    i = int(np.argmax(dev[:, j]))
    return f"{IDS[j]} at t = {t[i]:g} h: {dev[i, j]:.3g}"


def assert_conforms(sbml: str, reference, individual) -> float:
    assert reference.success, reference.message
    t, y = run_roadrunner(sbml, individual, float(reference.t[-1]))
    np.testing.assert_allclose(t, reference.t, rtol=0, atol=1e-9)
    dev = deviation(y, reference.y, individual)
    assert np.all(np.isfinite(dev))
    assert dev.max() <= REL_BOUND, worst(dev, t)
    return float(dev.max())


def _annotation(element) -> libsbml.XMLNode:
    ann = element.getAnnotation()
    assert ann is not None, element.getId()
    nodes = [ann.getChild(i) for i in range(ann.getNumChildren()) if ann.getChild(i).getURI() == SBML_NAMESPACE]
    assert len(nodes) == 1, element.getId()
    return nodes[0]


# ------------------------------------------------------------------ conformance
@pytest.mark.parametrize("solver,run_in", [(TIGHT_LSODA, True), (TIGHT, False)], ids=["lsoda-run-in", "radau-steady"])
def test_high_dose_cycle_matches_the_reference_engine(melanoma, solver, run_in):
    """First high-dose cycle (14 x 15-min infusions, days 1-5): every state within 1e-4."""
    regimen = resolve_regimen("high-dose")
    sbml = export_sbml(melanoma, regimen, solver=solver, run_in=run_in)
    ref = simulate(melanoma, regimen, days=5, policy=GiveAllPolicy(), solver=solver, run_in=run_in)
    assert len([d for d in ref.doses if d.given]) == 14
    assert_conforms(sbml, ref, melanoma)


def test_sc_regimen_matches_the_reference_engine(melanoma):
    """low-dose-sc over its first 3 days: SC jumps into the depot (including the one at t = 0)."""
    regimen = resolve_regimen("low-dose-sc")
    sbml = export_sbml(melanoma, regimen, solver=TIGHT_LSODA)
    ref = simulate(melanoma, regimen, days=3, policy=GiveAllPolicy(), solver=TIGHT_LSODA)
    assert_conforms(sbml, ref, melanoma)
    # the jump is in the output sample at the dose time (post-event), as in the reference
    t, y = run_roadrunner(sbml, melanoma, 24.0)
    amount = 250000.0 * 70.0
    depot = IDS.index("drug_sc_depot")
    assert y[0, depot] == pytest.approx(amount, rel=1e-12)
    assert y[-1, depot] > amount


def test_bolus_and_back_to_back_infusions_match(melanoma):
    """An IV bolus (jump split by DOSE_TARGETS) and infusions that end when the next one starts."""
    patient = typical_patient("rcc", weight_kg=82.5, prodrug_fraction=0.3)  # both IV dose targets non-zero
    individual = derive_constants(patient)
    regimen = Regimen(name="bolus-and-continuous", blocks=(
        DoseBlock(amount=100000.0, route="iv", infusion_minutes=0.0, every_hours=6.0, count=2, start_day=1),
        DoseBlock(amount=50000.0, route="iv", infusion_minutes=480.0, every_hours=8.0, count=3, start_day=2),
    ))
    sbml = export_sbml(individual, regimen, solver=TIGHT_LSODA)
    ref = simulate(individual, regimen, days=3, policy=GiveAllPolicy(), solver=TIGHT_LSODA)
    assert_conforms(sbml, ref, individual)
    doc = libsbml.readSBMLFromString(sbml)
    assert doc.getModel().getNumEvents() == 2 + 2 * 3


def test_high_dose_export_runs_at_tight_scalar_tolerances_with_the_default_step_budget(melanoma):
    """`il2sim export-sbml --regimen high-dose` in libroadrunner at rtol 1e-8 and one absolute tolerance 1e-12.

    libroadrunner multiplies a scalar absolute tolerance by |initial value| of every non-zero state. The run-in
    ends sympathetic, renal_hormones and symptom_load at rounding residues (2.5e-17, -2.1e-17, 9e-23) instead of
    their rest value 0; written as such they got absolute tolerances of 1e-29 to 1e-34 and CVODE stopped with
    CV_TOO_MUCH_WORK at t = 4.4e-5 h (69,000 steps for the first day with a budget of 1e6). Exported at rest
    (as 0) it takes about 1,100 steps for the day.
    """
    regimen = resolve_regimen("high-dose")
    sbml = export_sbml(melanoma, regimen)  # the CLI's export: the fast engine's default run-in
    rr = roadrunner.RoadRunner(sbml)
    assert rr.integrator.maximum_num_steps == 20000  # libroadrunner's default budget, not raised
    rr.integrator.relative_tolerance = 1e-8
    rr.integrator.absolute_tolerance = 1e-12
    # the tolerance CVODE gets: no state has one scaled down by a residue near 0
    state_ids = [rr.model.getStateVectorId(i) for i in range(len(IDS))]
    tol = dict(zip(state_ids, rr.integrator.getAbsoluteToleranceVector()))
    assert all(tol[sid] == 1e-12 for sid in AT_REST_ZERO)
    # (the smallest genuine rest value is the NK cycling pool, 9.9e-5 x 1e9 cells: resting NK cells barely divide)
    assert min(tol.values()) >= 1e-12 * 1e-5, min(tol, key=tol.get)

    # at t = 0 (the first infusion has started) the document's rates are the engine's, in its own arithmetic
    cm = melanoma.model.compiled
    y0 = np.array([rr.getValue(sid) for sid in IDS])
    infusion = rr.getValue("drug_iv_rate")
    assert infusion == 600000.0 * 70.0 / 0.25  # the t = 0 start event has fired
    controls = [0.0] * len(cm.control_names)
    scale = atol_scale(melanoma)
    for rate in (0.0, infusion):  # untreated (the rest state), and with the infusion running
        rr.setValue("drug_iv_rate", rate)
        controls[cm.control_names.index("drug_iv_rate")] = rate
        f_by_id = dict(zip(state_ids, np.asarray(rr.getRatesOfChange())))
        f_rr = np.array([f_by_id[sid] for sid in IDS])
        f_engine = np.asarray(cm.rhs(0.0, y0, melanoma.p, controls))
        assert np.all(np.abs(f_rr - f_engine) <= 1e-15 * scale), IDS[int(np.argmax(np.abs(f_rr - f_engine) / scale))]
        if rate == 0.0:
            # at rest to rounding (states of order 1 per h): MAP at the run-in's end differs from map_baseline
            # in its last bits (1e-14 to 1e-15 per h measured)
            assert all(abs(f_by_id[sid]) <= 1e-12 for sid in AT_REST_ZERO), {s: f_by_id[s] for s in AT_REST_ZERO}

    # the first dose day (infusions at 0, 8 and 16 h) with the default step budget, against a tight fast engine
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = 1e-8
    rr.integrator.absolute_tolerance = 1e-12
    rr.timeCourseSelections = ["time"] + IDS
    out = np.asarray(rr.simulate(0.0, 24.0, 97))
    t, y = out[:, 0], out[:, 1:]
    tight = FastSettings(rtol=1e-10, atol=1e-12)
    ref = simulate_fast(melanoma, regimen, days=1, policy=GiveAllPolicy(), solver=tight)
    assert ref.success, ref.message
    assert len([d for d in ref.doses if d.given]) == 4  # 0, 8, 16 h and the one starting at 24 h
    np.testing.assert_allclose(t, ref.t, rtol=0, atol=1e-9)
    dev = deviation(y, ref.y, melanoma)
    assert np.all(np.isfinite(dev))
    assert dev.max() <= REL_BOUND, worst(dev, t)


def test_initial_values_are_the_engine_start_state(melanoma):
    """The export's initial values are initial_state(): what simulate() starts the treatment from."""
    y0 = initial_state(melanoma)  # default: the fast engine, what `il2sim simulate` uses
    ref = simulate_fast(melanoma, resolve_regimen("low-dose-iv"), days=0.25, policy=GiveAllPolicy())
    np.testing.assert_array_equal(y0, ref.y[0])  # no jump at t = 0 for an infusion: the same vector
    ref = simulate(melanoma, resolve_regimen("low-dose-iv"), days=0.25, policy=GiveAllPolicy())
    np.testing.assert_array_equal(initial_state(melanoma, SolverSettings()), ref.y[0])  # and the reference's
    model = libsbml.readSBMLFromString(export_sbml(melanoma, resolve_regimen("low-dose-iv"))).getModel()
    values = np.array([model.getParameter(sid).getValue() for sid in IDS])
    # every value reads back as the engine's double (written with repr, not libsbml's 15 digits) ...
    rest = np.isin(IDS, AT_REST_ZERO)
    np.testing.assert_array_equal(values[~rest], y0[~rest])
    # ... except the rounding residues of states whose rest value is 0, written as that rest value
    assert np.all(y0[rest] != 0) and np.all(values[rest] == 0)
    assert np.all(np.abs(y0[rest]) <= REST_ZERO_TOL * atol_scale(melanoma)[rest])
    for sid, v in zip(np.array(IDS)[rest], y0[rest]):
        assert _annotation(model.getParameter(sid)).getAttrValue("engine_initial_value") == repr(float(v))
    assert 'initial_values_at_rest="sympathetic renal_hormones tubular_injury symptom_load"' in model.getAnnotationString()


def test_every_number_reads_back_exactly(melanoma):
    """Parameter values and MathML reals are the engine's doubles (libsbml alone writes 15 digits)."""
    model = libsbml.readSBMLFromString(export_sbml(melanoma, resolve_regimen("high-dose"), run_in=False)).getModel()
    for name, value in zip(melanoma.model.compiled.parameter_names, melanoma.p):
        assert model.getParameter(name).getValue() == value, name
    # the observables' literals: 3.141592653589793 and 0.3333333333333333, not 3.14159265358979 and 0.333333333333333
    reals, stack = set(), [model.getAssignmentRule("lesion_1_diameter_mm").getMath()]
    while stack:
        node = stack.pop()
        if node.isReal():
            reals.add(node.getReal())
        stack.extend(node.getChild(i) for i in range(node.getNumChildren()))
    assert {3.141592653589793, 0.3333333333333333} <= reals, reals
    # the dose events: times and rates as the engine has them
    assert model.getEvent("dose_1_end").getTrigger().getMath().getChild(1).getReal() == 8.25


# ------------------------------------------------------------------ document
def test_document_is_consistent_and_annotated(melanoma):
    regimen = resolve_regimen("high-dose")
    doc = libsbml.readSBMLFromString(export_sbml(melanoma, regimen))
    assert doc.getNumErrors() == 0, doc.getErrorLog().toString()
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    doc.checkConsistency()  # every category, units included: only unit warnings (undeclared units) remain
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    assert not errors, [e.getMessage() for e in errors[:3]]
    warnings = {doc.getError(i).getCategoryAsString() for i in range(doc.getNumErrors())}
    assert warnings <= {"SBML unit consistency", "Modeling practice"}, warnings

    model = doc.getModel()
    assert model.getTimeUnits() == "hour"
    hour = model.getUnitDefinition("hour")
    assert hour.getNumUnits() == 1 and hour.getUnit(0).getMultiplier() == 3600.0
    table = load_table()
    expected: dict[str, tuple[str, str, bool]] = {}
    for s in STATES:
        expected[s.id] = (s.unit, "state", False)
    for row in table:
        expected[row.name] = (row.unit, "table", True)
    for sym in DERIVED:
        expected[sym.id] = (sym.unit, "derived", True)
    for pid, (unit, kind, constant) in expected.items():
        prm = model.getParameter(pid)
        assert prm is not None, pid
        assert prm.getConstant() is constant, pid
        node = _annotation(prm)
        assert node.getName() == "param"
        assert node.getAttrValue("unit") == unit, pid
        assert node.getAttrValue("kind") == kind, pid
        assert node.getAttrValue("source"), pid
        assert node.getAttrValue("evidence"), pid
        assert prm.isSetNotes(), pid
        if sbml_unit(unit) is not None:
            assert prm.isSetUnits() and model.getUnitDefinition(prm.getUnits()).getName() == unit, pid
        if kind == "table":
            assert node.getAttrValue("source") == table[pid].source
            assert node.getAttrValue("evidence") == table[pid].evidence
            assert node.getAttrValue("source") in table.references
            assert prm.getValue() == pytest.approx(melanoma.param(pid), rel=1e-14)
        if kind == "state":
            assert model.getRateRule(pid) is not None, pid
    for row in table.references.values():
        assert row.key in model.getAnnotationString()

    adm = regimen.administrations()
    infusions = sum(1 for a in adm if a.route == "iv" and a.infusion_minutes > 0)
    jumps = len(adm) - infusions
    assert model.getNumEvents() == 2 * infusions + jumps == 56
    ev = model.getEvent("dose_0_start")
    assert ev.getTrigger().getInitialValue() is False and ev.getTrigger().getPersistent() is True
    assert libsbml.formulaToL3String(ev.getTrigger().getMath()) == "time >= 0"
    assert _annotation(ev).getAttrValue("route") == "iv"


def test_sc_events_follow_dose_targets(melanoma):
    model = libsbml.readSBMLFromString(export_sbml(melanoma, resolve_regimen("low-dose-sc"))).getModel()
    adm = resolve_regimen("low-dose-sc").administrations()
    assert model.getNumEvents() == len(adm) == 30
    for k, a in enumerate(adm):
        ev = model.getEvent(f"dose_{k}")
        assert [ev.getEventAssignment(i).getVariable() for i in range(ev.getNumEventAssignments())] \
            == list(DOSE_TARGETS["sc"])
        assert float(_annotation(ev).getAttrValue("time_h")) == a.time_h


@pytest.mark.parametrize("text,factor,dims", [
    ("L/h", 1 / 3600, {"litre": 1, "second": -1}),
    ("mmHg min/L", 133.322387415 * 60, {"pascal": 1, "second": 1, "litre": -1}),
    ("IU/h/(1e9 cells)", 1 / 3600e9, {"second": -1, "item": -1}),
    ("pM/(IU/mL)", 1e-15, {"mole": 1}),  # pmol/L per IU/(1e-3 L)
    ("episodes/24 h", 1 / 86400, {"item": 1, "second": -1}),
    ("%", 0.01, {}),
    ("1", 1.0, {}),
])
def test_unit_strings(text, factor, dims):
    f, d = sbml_unit(text)
    assert f == pytest.approx(factor, rel=1e-12) and d == dims


def test_degc_has_no_sbml_unit():
    assert sbml_unit("degC") is None and sbml_unit("furlongs") is None


# ------------------------------------------------------------------ CLI
def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_cli_export_loads_in_roadrunner_and_matches_simulate(tmp_path, capsys):
    """The contract, end to end: export-sbml vs `simulate --no-holds --no-care` (default solver, CSV)."""
    out = tmp_path / "model.xml"
    rc, stdout, stderr = run(capsys, "export-sbml", "--out", out)
    assert rc == 0, stderr
    assert stderr == ""
    assert str(out) in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.xml"]  # no temporary file left
    rc, _, stderr = run(capsys, "simulate", "--no-holds", "--no-care", "--days", "2", "--format", "csv",
                        "--out", tmp_path / "run")
    assert rc == 0, stderr
    tc = pd.read_csv(tmp_path / "run" / "timecourse.csv")
    individual = derive_constants(typical_patient("melanoma", weight_kg=70))
    t, y = run_roadrunner(out.read_text(), individual, 48.0)
    np.testing.assert_allclose(t, tc["time_h"].to_numpy(), rtol=0, atol=1e-9)
    ref = tc[IDS].to_numpy()
    # the same t = 0 state (run-in included), but for the run-in's rounding residues of the states at rest at 0
    rest = np.isin(IDS, AT_REST_ZERO)
    # (1e-12: a state whose rest rate is an ulp from 0, such as tsp_expanding, drifts by that much over the run-in)
    np.testing.assert_allclose(y[0][~rest], ref[0][~rest], rtol=1e-12, atol=0)
    assert np.all(y[0][rest] == 0) and np.all(np.abs(ref[0][rest]) <= REST_ZERO_TOL * atol_scale(individual)[rest])
    # the reference runs at the CLI's default engine and tolerances (fast, rtol 1e-6), so this bound is the reference's
    dev = deviation(y, ref, individual)
    assert dev.max() <= REL_BOUND, worst(dev, t)


def test_cli_options_and_overwrite(tmp_path, capsys):
    out = tmp_path / "rcc.xml"
    rc, _, stderr = run(capsys, "export-sbml", "--indication", "rcc", "--weight-kg", "90", "--regimen", "low-dose-sc",
                        "--out", out)
    assert rc == 0, stderr
    model = libsbml.readSBMLFromFile(str(out)).getModel()
    assert model.getParameter("weight_kg").getValue() == 90.0
    assert model.getNumEvents() == 30
    assert "rcc" in model.getId()
    rc, _, stderr = run(capsys, "export-sbml", "--out", out, "--overwrite")
    assert rc == 0, stderr
    assert libsbml.readSBMLFromFile(str(out)).getModel().getNumEvents() == 56


@pytest.mark.parametrize("args,field", [
    (("--indication", "glioma"), "--indication"),
    (("--weight-kg", "7"), "--weight-kg"),
    (("--weight-kg", "abc"), "--weight-kg"),
    (("--regimen", "weekly"), "--regimen"),
])
def test_cli_user_errors_leave_nothing(tmp_path, capsys, args, field):
    out = tmp_path / "x.xml"
    rc, stdout, stderr = run(capsys, "export-sbml", *args, "--out", out)
    assert rc == 2
    assert stderr.startswith(f"error: {field}: got ") and stderr.count("\n") == 1, stderr
    assert "expected" in stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_existing_file_and_a_missing_out(tmp_path, capsys):
    out = tmp_path / "x.xml"
    out.write_text("keep me")
    rc, _, stderr = run(capsys, "export-sbml", "--out", out)
    assert rc == 2 and stderr.startswith("error: --out: got ") and stderr.count("\n") == 1, stderr
    assert out.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.xml"]
    rc, _, stderr = run(capsys, "export-sbml")
    assert rc == 2 and stderr.startswith("error: --out: got nothing") and stderr.count("\n") == 1, stderr
    rc, _, stderr = run(capsys, "export-sbml", "--out", tmp_path)
    assert rc == 2 and stderr.startswith("error: --out: ") and stderr.count("\n") == 1, stderr
    rc, _, stderr = run(capsys, "export-sbml", "--out", tmp_path / "missing" / "x.xml")
    assert rc == 2 and stderr.startswith("error: --out: ") and stderr.count("\n") == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.xml"]


def test_failed_write_leaves_no_file(tmp_path, monkeypatch, melanoma):
    import il2sim.io._sbml as mod

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(mod.os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        export_sbml(melanoma, resolve_regimen("high-dose"), path=tmp_path / "x.xml", run_in=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    text = export_sbml(melanoma, resolve_regimen("high-dose"), path=tmp_path / "x.xml", run_in=False)
    assert (tmp_path / "x.xml").read_text() == text
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "x.xml").st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
