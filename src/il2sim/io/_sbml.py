"""SBML Level 3 export of one patient on one regimen (the fixed-schedule model).

:func:`export_sbml` writes the model of :mod:`il2sim.model._spec` as an SBML
Level 3 Version 2 document with python-libsbml. Nothing is hand-copied: every
rate, algebraic and observable is the declaration's infix string parsed by
``libsbml.parseL3FormulaWithSettings``, and every dose is generated from the
regimen's administrations and ``DOSE_TARGETS``.

What the document holds (time in hours, ``timeUnits="hour"``):

* every **state** as a non-constant parameter whose id is the state id, with
  a rate rule; its initial value is the state at t = 0 from which
  :func:`il2sim.engine.simulate` starts the treatment
  (:func:`il2sim.engine.initial_state`: run-in, lesions at diagnosis, counters
  zeroed), except that a state whose rest value is exactly 0 and which is at
  rest there (the rounding residue of the run-in, ``|y| <= 1e-12 *
  atol_scale``) is written as 0 (see :func:`_sbml_start_state`);
* every **table parameter** and **derived constant** as a constant parameter
  with this patient's value;
* the **controls** as parameters, 0 (no supportive care); ``drug_iv_rate`` is
  changed by the dose events;
* the **algebraics** and the **observables** as assignment rules (except an
  observable whose id is already a parameter: ``weight_kg`` stays the
  baseline weight);
* the **regimen's first course** as events (no holds): an IV infusion is two
  events (its start adds its rate to ``drug_iv_rate``, its end subtracts it);
  an IV bolus or SC dose is one event that adds ``DOSE_TARGETS`` to the
  states;
* ``above(x, limit)`` as a function definition.

Every parameter carries its unit string, description, source key and evidence
in an annotation in the ``https://il2sim.org/sbml`` namespace (prefix
``il2sim``), its description in the notes, and an SBML unit definition where
the unit can be written in SBML's base units (IU, cells and other counts are
written as dimensionless or items; absolute temperatures in degC have no SBML
unit; the annotation always has the string).

Every number is written so that it reads back as the same double: libsbml
writes 15 significant digits, so parameter values and MathML reals that would
not round-trip are rewritten with Python's shortest round-trip ``repr`` (see
:func:`_exact_numbers`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from .._files import atomic_write_text
from .._version import __version__

__all__ = ["SBML_NAMESPACE", "export_sbml", "sbml_unit"]

SBML_NAMESPACE = "https://il2sim.org/sbml"
_PREFIX = "il2sim"
_LEVEL, _VERSION = 3, 2
_XHTML = "http://www.w3.org/1999/xhtml"

#: A state whose rest value is exactly 0 and whose t = 0 value is within this many times its
#: ``atol_scale`` of 0 is written as 0 (see :func:`_sbml_start_state`). The tightest absolute
#: tolerance any engine run uses is 1e-12 * atol_scale, so a smaller value is a rounding residue.
REST_ZERO_TOL = 1e-12

# ---------------------------------------------------------------- units
# name -> (factor, {SBML unit kind: exponent}); a unit string is parsed from these.
_BASE_UNITS: dict[str, tuple[float, dict[str, int]]] = {
    "h": (3600.0, {"second": 1}),
    "min": (60.0, {"second": 1}),
    "d": (86400.0, {"second": 1}),
    "L": (1.0, {"litre": 1}),
    "mL": (1e-3, {"litre": 1}),
    "uL": (1e-6, {"litre": 1}),
    "kg": (1000.0, {"gram": 1}),
    "g": (1.0, {"gram": 1}),
    "mg": (1e-3, {"gram": 1}),
    "ug": (1e-6, {"gram": 1}),
    "pg": (1e-12, {"gram": 1}),
    "mol": (1.0, {"mole": 1}),
    "pM": (1e-12, {"mole": 1, "litre": -1}),
    "mm": (1e-3, {"metre": 1}),
    "mmHg": (133.322387415, {"pascal": 1}),
    # International Units of biological activity have no SBML kind: dimensionless (the annotation says IU)
    "IU": (1.0, {}),
    "%": (0.01, {}),
    "cells": (1.0, {"item": 1}),
    "cell": (1.0, {"item": 1}),
    "molecules": (1.0, {"item": 1}),
    "receptors": (1.0, {"item": 1}),
    "complexes": (1.0, {"item": 1}),
    "episodes": (1.0, {"item": 1}),
    "stools": (1.0, {"item": 1}),
}
_SCORES = ("0-3", "0-4")  # ordinal scores: dimensionless
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<name>[A-Za-z%]+)|(?P<op>[/()]))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"unit {text!r}: cannot read {text[pos:]!r}")
        kind = m.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def sbml_unit(text: str) -> tuple[float, dict[str, int]] | None:
    """A unit string of the parameter table as (factor, {SBML unit kind: exponent}).

    Juxtaposition multiplies and binds tighter than ``/`` (``mmHg min/L``,
    ``episodes/24 h``). Returns ``None`` for units SBML cannot express
    (absolute temperatures in degC, unknown names).
    """
    if text in _SCORES or text == "1":
        return 1.0, {}
    try:
        toks = _tokens(text)
    except ValueError:
        return None
    pos = 0

    def mul(a, b, sign=1):
        dims = dict(a[1])
        for k, e in b[1].items():
            dims[k] = dims.get(k, 0) + sign * e
        return a[0] * b[0] ** sign, {k: e for k, e in dims.items() if e != 0}

    def expression():
        nonlocal pos
        value = term()
        while pos < len(toks) and toks[pos] == ("op", "/"):
            pos += 1
            value = mul(value, term(), -1)
        return value

    def term():
        nonlocal pos
        value = (1.0, {})
        n = 0
        while pos < len(toks) and toks[pos] not in (("op", "/"), ("op", ")")):
            kind, tok = toks[pos]
            pos += 1
            if kind == "num":
                value = mul(value, (float(tok), {}))
            elif kind == "name":
                if tok not in _BASE_UNITS:
                    raise KeyError(tok)
                value = mul(value, _BASE_UNITS[tok])
            else:  # "("
                inner = expression()
                if pos >= len(toks) or toks[pos] != ("op", ")"):
                    raise KeyError(")")
                pos += 1
                value = mul(value, inner)
            n += 1
        if n == 0:
            raise KeyError("empty")
        return value

    try:
        value = expression()
    except KeyError:
        return None
    if pos != len(toks):
        return None
    return value


def _unit_id(text: str) -> str:
    s = text.replace("%", "percent").replace("(", "").replace(")", "").replace("-", "_to_")
    s = s.replace("/", "_per_").replace(" ", "_").replace(".", "p")
    s = re.sub(r"[^A-Za-z0-9_]", "_", s)
    return "u_" + re.sub(r"_+", "_", s).strip("_")


class _Units:
    """Unit definitions of one model, one per distinct unit string."""

    def __init__(self, model) -> None:
        self.model = model
        self.ids: dict[str, str | None] = {}

    def id_for(self, text: str) -> str | None:
        if text in self.ids:
            return self.ids[text]
        parsed = sbml_unit(text)
        if parsed is None:
            self.ids[text] = None
            return None
        import libsbml

        factor, dims = parsed
        uid = _unit_id(text)
        while self.model.getUnitDefinition(uid) is not None:
            uid += "_"
        ud = self.model.createUnitDefinition()
        _ok(ud.setId(uid))
        ud.setName(text)
        items = sorted(dims.items()) or [("dimensionless", 1)]
        for i, (kind, exponent) in enumerate(items):
            u = ud.createUnit()
            _ok(u.setKind(libsbml.UnitKind_forName(kind)))
            _ok(u.setExponent(float(exponent)))
            _ok(u.setScale(0))
            # (multiplier * kind)^exponent: the whole factor goes into the first unit
            _ok(u.setMultiplier(factor ** (1.0 / exponent) if i == 0 else 1.0))
        self.ids[text] = uid
        return uid


# ---------------------------------------------------------------- helpers
def _ok(code) -> None:
    import libsbml

    if isinstance(code, int) and code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise RuntimeError(f"libsbml: {libsbml.OperationReturnValue_toString(code)}")


def _notes(*paragraphs: str) -> str:
    body = "".join(f"<p>{escape(' '.join(p.split()))}</p>" for p in paragraphs if p)
    return f'<body xmlns="{_XHTML}">{body}</body>'


def _annotation(element: str, attrs: dict[str, object], text: str = "") -> str:
    a = "".join(f" {k}={quoteattr(str(v))}" for k, v in attrs.items() if v is not None)
    inner = escape(text)
    if inner:
        return f"<{_PREFIX}:{element} xmlns:{_PREFIX}={quoteattr(SBML_NAMESPACE)}{a}>{inner}</{_PREFIX}:{element}>"
    return f"<{_PREFIX}:{element} xmlns:{_PREFIX}={quoteattr(SBML_NAMESPACE)}{a}/>"


class _Parser:
    """Infix strings of the declaration to MathML ASTs, names resolved against the model."""

    def __init__(self, model) -> None:
        import libsbml

        self.settings = libsbml.L3ParserSettings()
        self.settings.setModel(model)  # ids of the model win over built-in names (e, pi, ...)
        self.settings.setParseLog(libsbml.L3P_PARSE_LOG_AS_LN)
        self.model = model

    def __call__(self, expr: str, *, what: str):
        import libsbml

        ast = libsbml.parseL3FormulaWithSettings(expr, self.settings)
        if ast is None:
            raise ValueError(f"SBML export: cannot parse {what} {expr!r}: {libsbml.getLastParseL3Error()}")
        self._check(ast, expr, what)
        return ast

    def _check(self, node, expr: str, what: str) -> None:
        import libsbml

        t = node.getType()
        if t == libsbml.AST_FUNCTION and node.getName() != "above":
            raise ValueError(f"SBML export: {what} {expr!r} calls an unknown function {node.getName()!r}")
        if t == libsbml.AST_NAME and self.model.getElementBySId(node.getName()) is None:
            raise ValueError(f"SBML export: {what} {expr!r} uses {node.getName()!r}, which is not in the model")
        if t in (libsbml.AST_NAME_TIME, libsbml.AST_NAME_AVOGADRO, libsbml.AST_CONSTANT_E, libsbml.AST_CONSTANT_PI):
            raise ValueError(f"SBML export: {what} {expr!r} parsed a name as an SBML built-in ({node.getName()!r})")
        for i in range(node.getNumChildren()):
            self._check(node.getChild(i), expr, what)


def _real(value: float):
    import libsbml

    node = libsbml.ASTNode(libsbml.AST_REAL)
    _ok(node.setValue(float(value)))
    return node


def _binary(op, left, right):
    import libsbml

    node = libsbml.ASTNode(op)
    _ok(node.addChild(left))
    _ok(node.addChild(right))
    return node


def _name(sid: str):
    import libsbml

    node = libsbml.ASTNode(libsbml.AST_NAME)
    _ok(node.setName(sid))
    return node


def _time_geq(t: float):
    import libsbml

    return _binary(libsbml.AST_RELATIONAL_GEQ, libsbml.ASTNode(libsbml.AST_NAME_TIME), _real(t))


def _safe_id(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return s if re.match(r"[A-Za-z_]", s) else "_" + s


# ---------------------------------------------------------------- export
def export_sbml(patient_or_individual, regimen, *, path: str | os.PathLike[str] | None = None,
                solver=None, run_in: bool = True) -> str:
    """Export one patient on one regimen (first course, every dose, no care) as SBML Level 3.

    Parameters
    ----------
    patient_or_individual
        A :class:`~il2sim.model.Patient` or its
        :class:`~il2sim.model.IndividualModel`.
    regimen
        A :class:`~il2sim.protocol.Regimen`; its first course becomes events.
    path
        If given, the document is also written there atomically (a temporary
        file in the same directory, then ``os.replace``; an existing file is
        replaced).
    solver
        Settings of the run-in that gives the initial values: a
        :class:`~il2sim.engine.FastSettings` (default: the fast engine's
        defaults, as ``il2sim simulate`` uses) or a
        :class:`~il2sim.engine.SolverSettings` (the reference engine).
    run_in
        As in :func:`il2sim.engine.simulate`: ``False`` starts from the
        analytic steady state with the lesions at diagnosis.

    Returns
    -------
    str
        The SBML document.

    Raises
    ------
    RuntimeError
        If the run-in fails or libsbml finds an error in the document.
    """
    import libsbml

    from ..engine import FastSettings, SolverSettings, initial_state
    from ..model import IndividualModel, _spec, derive_constants

    individual = (patient_or_individual if isinstance(patient_or_individual, IndividualModel)
                  else derive_constants(patient_or_individual))
    solver = solver if solver is not None else FastSettings()
    y_engine = np.asarray(initial_state(individual, solver=solver, run_in=run_in), dtype=float)
    if not np.all(np.isfinite(y_engine)):
        raise RuntimeError("SBML export: the initial state is not finite")
    y0, zeroed = _sbml_start_state(individual, y_engine)
    cm = individual.model.compiled
    table = individual.model.table
    patient = individual.patient

    doc = libsbml.SBMLDocument(_LEVEL, _VERSION)
    model = doc.createModel()
    _ok(model.setId(_safe_id(f"il2sim_{patient.indication}_{regimen.name}")))
    model.setName(f"il2sim {__version__}: typical {patient.indication} patient "
                  f"({patient.covariates.weight_kg:g} kg), {regimen.name}, every dose, no supportive care")
    units = _Units(model)
    hour = model.createUnitDefinition()
    _ok(hour.setId("hour"))
    hour.setName("h")
    u = hour.createUnit()
    u.setKind(libsbml.UNIT_KIND_SECOND), u.setExponent(1.0), u.setScale(0), u.setMultiplier(3600.0)
    units.ids["h"] = "hour"
    _ok(model.setTimeUnits("hour"))

    # above(x, limit) = x if x >= limit else 0
    fd = model.createFunctionDefinition()
    _ok(fd.setId("above"))
    fd.setName("x if x >= limit, else 0")
    _ok(fd.setMath(libsbml.parseL3Formula("lambda(x, limit, piecewise(x, x >= limit, 0))")))

    values: dict[str, float] = {}  # parameter id -> the double its value attribute must read back as

    def parameter(pid: str, value: float | None, unit: str, constant: bool, kind: str, description: str,
                  source: str, evidence: str, note: str = "", extra: Mapping[str, object] | None = None):
        prm = model.createParameter()
        _ok(prm.setId(pid))
        _ok(prm.setConstant(constant))
        if value is not None:
            _ok(prm.setValue(float(value)))
            values[pid] = float(value)
        prm.setName(" ".join(description.split()))
        uid = units.id_for(unit) if unit else None
        if uid is not None:
            _ok(prm.setUnits(uid))
        _ok(prm.setNotes(_notes(description, note)))
        _ok(prm.setAnnotation(_annotation("param", {"kind": kind, "unit": unit, "source": source,
                                                      "evidence": evidence, "description": " ".join(description.split()),
                                                      **(extra or {})})))
        return prm

    # states: rate-rule parameters with the t = 0 state
    for i, s in enumerate(_spec.STATES):
        note, extra = "", None
        if i in zeroed:
            note = (f"The engines start from {zeroed[i]!r} here: the rounding residue of the run-in of a state "
                    "whose rest value is 0. It is written as 0, the rest value (libroadrunner scales a scalar "
                    "absolute tolerance by the magnitude of each initial value, so a residue of 1e-17 would "
                    "make its tolerance 1e-29).")
            extra = {"engine_initial_value": repr(zeroed[i])}
        parameter(s.id, y0[i], s.unit, False, "state", s.description, "il2sim.model._spec.STATES", "definition",
                  note, extra)
    # table parameters and derived constants, with this patient's values
    n_table = len(table.parameters)
    for name, value in zip(cm.parameter_names[:n_table], individual.p[:n_table]):
        row = table[name]
        parameter(name, value, row.unit, True, "table", row.description, row.source, row.evidence, row.note)
    for sym, value in zip(_spec.DERIVED, individual.p[n_table:]):
        parameter(sym.id, value, sym.unit, True, "derived", sym.description,
                  "il2sim.model.derive_constants", "derived")
    # controls: no supportive care; the drug infusion rate is set by the events
    for sym in _spec.CONTROLS:
        parameter(sym.id, 0.0, sym.unit, sym.id != "drug_iv_rate", "control", sym.description,
                  "il2sim.model._spec.CONTROLS", "definition",
                  "changed by the dose events" if sym.id == "drug_iv_rate" else "0: no supportive care")
    for name, _expr in _spec.ALGEBRAICS:
        parameter(name, None, "", False, "algebraic", f"Intermediate quantity {name} (il2sim.model._spec.ALGEBRAICS)",
                  "il2sim.model._spec.ALGEBRAICS", "definition")
    observables = [(sym, expr) for sym, expr in _spec.OBSERVABLES if model.getElementBySId(sym.id) is None]
    for sym, _expr in observables:
        parameter(sym.id, None, sym.unit, False, "observable", sym.description,
                  "il2sim.model._spec.OBSERVABLES", "definition")

    parse = _Parser(model)
    for name, expr in _spec.ALGEBRAICS:
        rule = model.createAssignmentRule()
        _ok(rule.setVariable(name))
        _ok(rule.setMath(parse(expr, what=f"algebraic {name}")))
    for sym, expr in observables:
        rule = model.createAssignmentRule()
        _ok(rule.setVariable(sym.id))
        _ok(rule.setMath(parse(expr, what=f"observable {sym.id}")))
    for s in _spec.STATES:
        rule = model.createRateRule()
        _ok(rule.setVariable(s.id))
        _ok(rule.setMath(parse(_spec.RATES[s.id], what=f"rate of {s.id}")))

    # ------------------------------------------------------------ doses (first course)
    n_events = 0

    def event(eid: str, t: float, priority: int, name: str, info: dict, assignments) -> None:
        ev = model.createEvent()
        _ok(ev.setId(eid))
        ev.setName(name)
        # evaluated when the event executes: an infusion ending when the next one starts
        # (same time, higher priority) has already been subtracted
        _ok(ev.setUseValuesFromTriggerTime(False))
        trig = ev.createTrigger()
        _ok(trig.setInitialValue(False))  # a dose at t = 0 fires at t = 0
        _ok(trig.setPersistent(True))
        _ok(trig.setMath(_time_geq(t)))
        pr = ev.createPriority()
        _ok(pr.setMath(_real(priority)))
        for var, math_ in assignments:
            ea = ev.createEventAssignment()
            _ok(ea.setVariable(var))
            _ok(ea.setMath(math_))
        _ok(ev.setAnnotation(_annotation("dose", info)))

    for k, a in enumerate(regimen.administrations(course=1, course_start_h=0.0)):
        amount = patient.dose_amount(a.amount, a.unit)
        info = {"index": k, "time_h": repr(a.time_h), "day": a.day, "course": a.course, "cycle": a.cycle,
                "amount": repr(a.amount), "amount_unit": a.unit, "amount_model": repr(amount), "route": a.route,
                "infusion_minutes": repr(a.infusion_minutes)}
        if a.route == "iv" and a.infusion_minutes > 0:
            rate = amount / (a.infusion_minutes / 60.0)  # IU/h, as the engine sets it
            label = f"dose {k} ({a.amount_label}, {a.infusion_minutes:g}-min IV infusion, day {a.day})"
            event(f"dose_{k}_start", a.time_h, 1, f"start of {label}", {**info, "edge": "start", "rate_iu_per_h": repr(rate)},
                  [("drug_iv_rate", _binary(libsbml.AST_PLUS, _name("drug_iv_rate"), _real(rate)))])
            event(f"dose_{k}_end", a.end_h, 2, f"end of {label}", {**info, "edge": "end", "rate_iu_per_h": repr(rate)},
                  [("drug_iv_rate", _binary(libsbml.AST_MINUS, _name("drug_iv_rate"), _real(rate)))])
            n_events += 2
        else:
            how = "SC injection" if a.route == "sc" else "IV bolus"
            assignments = []
            for sid, expr in _spec.DOSE_TARGETS[a.route].items():
                jump = _dose_expr(parse, expr, amount, sid)
                assignments.append((sid, _binary(libsbml.AST_PLUS, _name(sid), jump)))
            event(f"dose_{k}", a.time_h, 1, f"dose {k} ({a.amount_label}, {how}, day {a.day})", info,
                  assignments)
            n_events += 1

    # ------------------------------------------------------------ model notes and provenance
    cov = patient.covariates
    _ok(model.setNotes(_notes(
        f"il2sim {__version__} SBML export: the typical {patient.indication} patient "
        f"({cov.weight_kg:g} kg baseline weight) dosed with {individual.model.molecule.name} on the regimen "
        f"{regimen.name!r}, first course, every scheduled dose "
        "given (no holds) and no supportive care: the model of `il2sim simulate --no-holds --no-care`.",
        "Time is in hours; t = 0 is the start of the first scheduled dose. Every state is a parameter with a rate "
        "rule, whose id is the state id and whose initial value is the state at t = 0 after the untreated run-in "
        f"({'%g days' % (individual.run_in_h / 24.0) if run_in else 'none: analytic steady state'}).",
        "IV infusions are pairs of events that add and subtract their rate (IU/h) to drug_iv_rate; IV boluses "
        "and SC doses are events that add the dose to the states of DOSE_TARGETS.",
        "Every parameter has an il2sim annotation (namespace " + SBML_NAMESPACE + ") with its unit, description, "
        "source key and evidence; the sources are listed in the model annotation.",
    )))
    refs = "".join(
        f"<{_PREFIX}:reference key={quoteattr(r.key)} retrieved={quoteattr(str(r.retrieved).lower())}>"
        f"{escape(r.citation)}</{_PREFIX}:reference>"
        for r in table.references.values()
    )
    prov = {
        "package": "il2sim", "version": __version__, "model_hash": individual.model.hash,
        "indication": patient.indication, "weight_kg": repr(float(cov.weight_kg)),
        "nephrectomy": str(bool(cov.nephrectomy)).lower(), "height_cm": repr(float(cov.height_cm)),
        "molecule": individual.model.molecule.name, "regimen": regimen.name,
        "course": 1, "events": n_events, "run_in_days": repr(individual.run_in_h / 24.0 if run_in else 0.0),
        "run_in_solver": f"{'scipy' if isinstance(solver, SolverSettings) else 'fast'} {solver.method} "
                         f"rtol={solver.rtol:g} atol={solver.atol:g}",
        "time_units": "h",
    }
    if zeroed:
        prov["initial_values_at_rest"] = " ".join(_spec.STATES[i].id for i in sorted(zeroed))
    attrs = "".join(f" {k}={quoteattr(str(v))}" for k, v in prov.items())
    _ok(model.setAnnotation(
        f"<{_PREFIX}:export xmlns:{_PREFIX}={quoteattr(SBML_NAMESPACE)}{attrs}>{refs}</{_PREFIX}:export>"))

    # ------------------------------------------------------------ check and write
    errors = _consistency_errors(doc)
    if errors:
        raise RuntimeError("SBML export: libsbml found errors: " + "; ".join(errors[:5]))
    text = _exact_numbers(libsbml.writeSBMLToString(doc), doc, values)
    if path is not None:
        _write_atomic(Path(path), text)
    return text


def _sbml_start_state(individual, y_engine: np.ndarray) -> tuple[np.ndarray, dict[int, float]]:
    """The exported initial values and the states written as 0 (index -> the engine's value).

    The engines start from ``y_engine`` (:func:`il2sim.engine.initial_state`).
    A state whose rest value (``y_baseline``) is exactly 0 ends the untreated
    run-in at a rounding residue, not at 0: ``sympathetic`` 2.5e-17,
    ``renal_hormones`` -2.1e-17 and ``symptom_load`` 9e-23 for the typical
    melanoma patient. Such a state is written as 0 when
    ``|y| <= REST_ZERO_TOL * atol_scale``: libroadrunner multiplies a scalar
    absolute tolerance by ``|initial value|`` of every non-zero state, so a
    residue of 1e-17 becomes an absolute tolerance of 1e-29 (with 1e-12) and
    CVODE must follow the state's rounding noise (rates of 1e-14/h) with steps
    of 1e-10 h (docs/sbml.md). Every other value is the engine's, unchanged.
    """
    from ..engine import atol_scale

    y = np.array(y_engine, dtype=float)
    at_rest = (np.asarray(individual.y_baseline) == 0.0) & (np.abs(y) <= REST_ZERO_TOL * atol_scale(individual))
    zeroed = {int(i): float(y[i]) for i in np.flatnonzero(at_rest & (y != 0.0))}
    y[at_rest] = 0.0  # also turns -0.0 into 0.0
    return y, zeroed


def _math_elements(model) -> list:
    """Every element of ``model`` with MathML, in document order."""
    elements = model.getListOfAllElements()
    out = []
    for i in range(elements.getSize()):
        el = elements.get(i)
        if hasattr(el, "isSetMath") and el.isSetMath():
            out.append(el)
    return out


def _reals(node, out: list) -> list:
    """The real-number nodes of a MathML AST, depth first."""
    import libsbml

    if node.getType() in (libsbml.AST_REAL, libsbml.AST_REAL_E):
        out.append(node)
    for i in range(node.getNumChildren()):
        _reals(node.getChild(i), out)
    return out


def _read_cn(snippet: str) -> float:
    import libsbml

    ast = libsbml.readMathMLFromString(f'<math xmlns="http://www.w3.org/1998/Math/MathML">{snippet}</math>')
    return ast.getReal()


_PARAMETER_VALUE = re.compile(r'(<parameter\s+id="(?P<id>[^"]+)"(?:\s+[\w:]+="[^"]*")*?\s+value=")(?P<value>[^"]*)"')
_CN = re.compile(r"<cn(?:\s[^>]*)?>.*?</cn>", re.S)


def _exact_numbers(text: str, doc, values: dict[str, float]) -> str:
    """The document with every number written so that it reads back as the same double.

    libsbml writes doubles with 15 significant digits, which do not always
    round-trip (``3.141592653589793`` is written ``3.14159265358979``, a
    run-in state ``0.014034619269650358`` as ``0.0140346192696504``). Such a
    parameter ``value`` and such a MathML real (``<cn>``, in e-notation
    too) are rewritten with ``repr`` (shortest round trip, at most 17
    digits); the others are left as libsbml wrote them. The result is read
    back and checked: every parameter value and every real of the math is
    the double of ``doc`` (a real whose 15-digit form is shared with a
    different double is left as written and is not checked).
    """
    import libsbml

    def parameter_value(m: re.Match) -> str:
        v = values.get(m.group("id"))
        if v is None or float(m.group("value")) == v:
            return m.group(0)
        return f'{m.group(1)}{v!r}"'

    text = _PARAMETER_VALUE.sub(parameter_value, text)

    # MathML reals: libsbml's text of each real node -> the doubles it stands for
    wanted: dict[str, set[float]] = {}
    for el in _math_elements(doc.getModel()):
        for node in _reals(el.getMath(), []):
            found = _CN.search(libsbml.writeMathMLToString(node))
            if found is None:
                raise RuntimeError("SBML export: a real number node without a <cn> element")
            snippet = found.group(0)
            wanted.setdefault(snippet, set()).add(node.getReal())
    replace = {}
    for snippet, vs in wanted.items():
        if len(vs) == 1:
            (v,) = vs
            if _read_cn(snippet) != v:
                replace[snippet] = f"<cn> {v!r} </cn>"
    if replace:
        text = _CN.sub(lambda m: replace.get(m.group(0), m.group(0)), text)

    # read back and check
    back = libsbml.readSBMLFromString(text)
    if back.getNumErrors(libsbml.LIBSBML_SEV_ERROR) or back.getModel() is None:
        raise RuntimeError("SBML export: the rewritten document does not read back: " + back.getErrorLog().toString())
    bm = back.getModel()
    for pid, v in values.items():
        if bm.getParameter(pid).getValue() != v:
            raise RuntimeError(f"SBML export: parameter {pid} reads back as {bm.getParameter(pid).getValue()!r}, not {v!r}")
    ambiguous = {v for vs in wanted.values() if len(vs) > 1 for v in vs}
    originals = _math_elements(doc.getModel())
    copies = _math_elements(bm)
    if len(originals) != len(copies):
        raise RuntimeError("SBML export: the rewritten document has different math")
    for a, b in zip(originals, copies):
        ra, rb = _reals(a.getMath(), []), _reals(b.getMath(), [])
        if len(ra) != len(rb) or any(x.getReal() != y.getReal() and x.getReal() not in ambiguous
                                     for x, y in zip(ra, rb)):
            raise RuntimeError(f"SBML export: a number in the math of {a.getElementName()} {a.getId()!r} "
                               "does not read back as written")
    return text


def _dose_expr(parse, expr: str, amount: float, sid: str):
    """The DOSE_TARGETS expression with ``amount`` replaced by the number of IU."""
    import libsbml

    settings = libsbml.L3ParserSettings()
    settings.setModel(parse.model)
    ast = libsbml.parseL3FormulaWithSettings(expr, settings)
    if ast is None:
        raise ValueError(f"SBML export: cannot parse the dose target of {sid} {expr!r}: {libsbml.getLastParseL3Error()}")
    if ast.getType() == libsbml.AST_NAME and ast.getName() == "amount":
        ast = _real(amount)
    else:
        _replace_name(ast, "amount", float(amount))
    parse._check(ast, expr, f"dose target of {sid}")
    return ast


def _replace_name(node, name: str, value: float) -> None:
    import libsbml

    for i in range(node.getNumChildren()):
        child = node.getChild(i)
        if child.getType() == libsbml.AST_NAME and child.getName() == name:
            _ok(node.replaceChild(i, _real(value), True))
        else:
            _replace_name(child, name, value)


def _consistency_errors(doc) -> list[str]:
    """Errors (not warnings) of libsbml's consistency checks, all categories on.

    The warnings are about units: algebraics have no declared unit, degC has
    no SBML unit, and literal numbers are unitless (see docs/sbml.md).
    """
    import libsbml

    doc.checkConsistency()
    out = []
    for i in range(doc.getNumErrors()):
        err = doc.getError(i)
        if err.getSeverity() >= libsbml.LIBSBML_SEV_ERROR:
            out.append(f"{err.getErrorId()}: {' '.join(err.getMessage().split())}")
    return out


def _write_atomic(path: Path, text: str) -> None:
    atomic_write_text(path.expanduser(), text)
