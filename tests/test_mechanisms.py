"""The declaration by mechanism: one owner per name, a valid order, parameter rows where they are used, rest at rest."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

from il2sim.model import _spec, default_model, derive_constants, typical_patient
from il2sim.model._codegen import expression_names
from il2sim.model._table import PARAMETER_FILES
from il2sim.model.mechanisms import MECHANISMS, Mechanism, StateSpec, assemble

# rows read outside the mechanisms (the weight scaling every mechanism shares, the population's lesion draw,
# the run-in and RECIST's new-lesion size)
SHARED_ROWS = {"reference_weight", "allometric_exponent_clearance", "n_target_lesions", "lesion_diameter",
               "new_lesion_diameter", "run_in_days"}


def _names(expr: str) -> set[str]:
    return expression_names(expr)[0]


def test_every_name_has_exactly_one_mechanism():
    seen: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for m in MECHANISMS:
        for name in [s.id for s in m.states] + [s.id for s in m.derived] + [n for n, _ in m.algebraics]:
            assert name not in seen, f"{name} declared by {seen[name]} and {m.name}"
            seen[name] = m.name
        for sym, _ in m.observables:  # an output may share its id with a state or constant (weight_kg), not another output
            assert sym.id not in outputs, f"observable {sym.id} declared by {outputs[sym.id]} and {m.name}"
            outputs[sym.id] = m.name
        assert set(m.rates) <= {s.id for s in m.states}, f"{m.name} sets the rate of another mechanism's state"
    assert {s.id for s in _spec.STATES} == set(_spec.RATES)


def test_assembled_algebraics_come_after_what_they_use():
    defined = [n for n, _ in _spec.ALGEBRAICS]
    position = {n: i for i, n in enumerate(defined)}
    for i, (name, expr) in enumerate(_spec.ALGEBRAICS):
        for dep in _names(expr) & set(position):
            assert position[dep] < i or dep == name, f"{name} uses {dep} before it is assigned"


def test_a_cycle_between_mechanisms_is_refused():
    a = Mechanism("a", "", algebraics=(("x", "y + 1"),))
    b = Mechanism("b", "", algebraics=(("y", "x * 2"),), states=(StateSpec("s", "1", ""),), rates={"s": "x"})
    with pytest.raises(ValueError, match="cycle"):
        assemble((a, b))


def test_parameter_rows_live_with_the_mechanism_that_uses_them():
    """Each file of model/data/parameters/ is one mechanism's; each of its rows is used by that mechanism."""
    import tomllib
    from importlib import resources

    assert PARAMETER_FILES == tuple(m.name for m in MECHANISMS)
    table = default_model().table
    data = resources.files("il2sim.model") / "data" / "parameters"
    in_files: set[str] = set()
    for m in MECHANISMS:
        rows = set(tomllib.loads((data / f"{m.name}.toml").read_text())["parameters"])
        in_files |= rows
        module = inspect.getsource(inspect.getmodule(m.constants or m.balance or MECHANISMS[0].constants))
        used: set[str] = set()
        for _, e in (*m.algebraics, *m.observables):
            used |= _names(e)
        for e in m.rates.values():
            used |= _names(e)
        for where in m.dose_targets.values():
            for e in where.values():
                used |= _names(e)
        used |= set(re.findall(r'v\["(\w+)"\]|typical\["(\w+)"\]', module) and
                    [x for pair in re.findall(r'v\["(\w+)"\]|typical\["(\w+)"\]', module) for x in pair if x])
        cell_rows = {r for r in rows if re.sub(r"^(cd8|nk|treg|cd4|b)_", "{x}_", r) != r
                     and ("{x}_" + r.split("_", 1)[1] in module or "{_x}_" + r.split("_", 1)[1] in module)}
        unused = rows - used - cell_rows - SHARED_ROWS
        assert not unused, f"{m.name}.toml holds rows its mechanism does not use: {sorted(unused)}"
    assert in_files == set(table.parameters)


@pytest.mark.parametrize(("indication", "molecule"), [("melanoma", "aldesleukin"), ("rcc", "bempeg-like")])
def test_the_rest_state_is_a_steady_state_of_the_declaration(indication, molecule):
    """Every mechanism's rest-state code together gives d(state)/dt = 0 in the assembled equations (before any dose)."""
    p = typical_patient(indication, model=default_model().with_molecule(molecule))
    ind = derive_constants(p)
    cm = p.model.compiled
    y = ind.y_baseline.copy()
    # the lesions grow at rest (untreated disease) and the counters count; every other state is at rest
    _, _, rates = cm.evaluate(0.0, y, ind.p, (0.0,) * len(cm.control_names))
    for sid in cm.state_ids:
        if sid.startswith(("lesion_", "tumour_occult")) or sid in _spec.RESET_AT_T0:  # growing; counters
            continue
        value = float(np.asarray(rates[sid]))
        scale = max(abs(float(y[cm.state_ids.index(sid)])), 1e-6)
        assert abs(value) <= 1e-9 * scale + 1e-12, f"{sid}: d/dt = {value:g} at rest"
