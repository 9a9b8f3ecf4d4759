"""Generate executable code from the equation declaration in :mod:`._spec`.

The declaration is a list of infix strings. This module checks every name in
every expression, orders the parameter vector, and writes Python source for

* ``rhs(t, y, p, u)``: scalar right-hand side (``math`` functions), the form
  the SciPy reference engine calls and the form a JIT compiler can take;
* ``evaluate(t, Y, p, u)``: the same algebraics vectorised over time with
  NumPy, returning every algebraic and observable (for outputs and for the
  steady-state derivation).

Because both are generated from the same strings (and the SBML export parses
the same strings), the equations exist exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _spec
from ._expr import FUNCTIONS, expression_names

__all__ = ["CompiledModel", "FUNCTIONS", "expression_names", "generate"]



def _above_scalar(x: float, limit: float) -> float:
    return x if x >= limit else 0.0


def _above_vector(x, limit):
    return np.where(np.asarray(x) >= limit, x, 0.0)


_SCALAR_NS = {
    "exp": math.exp,
    "ln": math.log,
    "sqrt": math.sqrt,
    "pow": math.pow,
    "max": max,
    "min": min,
    "above": _above_scalar,
}
_VECTOR_NS = {
    "exp": np.exp,
    "ln": np.log,
    "sqrt": np.sqrt,
    "pow": np.power,
    "max": np.maximum,
    "min": np.minimum,
    "above": _above_vector,
}

@dataclass(frozen=True)
class CompiledModel:
    """Generated functions and the layout of their argument vectors."""

    state_ids: tuple[str, ...]
    parameter_names: tuple[str, ...]  # table parameters followed by derived constants
    control_names: tuple[str, ...]
    algebraic_names: tuple[str, ...]
    observable_names: tuple[str, ...]
    rhs: Callable
    evaluate: Callable
    rhs_source: str
    evaluate_source: str

    @property
    def n_states(self) -> int:
        return len(self.state_ids)

    def state_index(self, state_id: str) -> int:
        return self.state_ids.index(state_id)

    def parameter_index(self, name: str) -> int:
        return self.parameter_names.index(name)


def _check_declaration(table_names: tuple[str, ...]) -> None:
    state_ids = [s.id for s in _spec.STATES]
    derived = [d.id for d in _spec.DERIVED]
    controls = [c.id for c in _spec.CONTROLS]
    seen: set[str] = set()
    for group in (state_ids, list(table_names), derived, controls):
        for name in group:
            if name in seen:
                raise ValueError(f"model name {name!r} is declared twice")
            if name in FUNCTIONS or name == "t":
                raise ValueError(f"model name {name!r} shadows a reserved name")
            seen.add(name)
    for name, expr in _spec.ALGEBRAICS:
        used, _ = expression_names(expr)
        missing = used - seen
        if missing:
            raise ValueError(f"algebraic {name!r} uses undeclared names {sorted(missing)}")
        if name in seen:
            raise ValueError(f"algebraic {name!r} is declared twice")
        seen.add(name)
    if set(_spec.RATES) != set(state_ids):
        raise ValueError(
            f"rates and states differ: no rate for {sorted(set(state_ids) - set(_spec.RATES))}, "
            f"rate without state {sorted(set(_spec.RATES) - set(state_ids))}"
        )
    for sid, expr in _spec.RATES.items():
        missing = expression_names(expr)[0] - seen
        if missing:
            raise ValueError(f"rate of {sid!r} uses undeclared names {sorted(missing)}")
    for sym, expr in _spec.OBSERVABLES:
        missing = expression_names(expr)[0] - seen
        if missing:
            raise ValueError(f"observable {sym.id!r} uses undeclared names {sorted(missing)}")


def generate(table_names: tuple[str, ...]) -> CompiledModel:
    """Check the declaration against the table's parameter names and generate its functions."""
    _check_declaration(table_names)
    state_ids = tuple(s.id for s in _spec.STATES)
    param_names = table_names + tuple(d.id for d in _spec.DERIVED)
    control_names = tuple(c.id for c in _spec.CONTROLS)
    alg_names = tuple(n for n, _ in _spec.ALGEBRAICS)
    obs_names = tuple(s.id for s, _ in _spec.OBSERVABLES)

    def unpack(target: str, names: tuple[str, ...], src: str) -> str:
        return f"    ({', '.join(names)},) = {src}\n"

    body = unpack("y", state_ids, "y")
    body += unpack("p", param_names, "p")
    body += unpack("u", control_names, "u")
    alg_lines = "".join(f"    {name} = {expr}\n" for name, expr in _spec.ALGEBRAICS)

    rhs_src = "def rhs(t, y, p, u):\n" + body + alg_lines
    rhs_src += "    return [\n" + "".join(f"        {_spec.RATES[s]},\n" for s in state_ids) + "    ]\n"

    obs_lines = "".join(f"    _obs_{i} = {expr}\n" for i, (_, expr) in enumerate(_spec.OBSERVABLES))
    ev_src = "def evaluate(t, y, p, u):\n" + body + alg_lines + obs_lines
    ev_src += "    _alg = {" + ", ".join(f"{n!r}: {n}" for n in alg_names) + "}\n"
    ev_src += "    _obs = {" + ", ".join(f"{n!r}: _obs_{i}" for i, n in enumerate(obs_names)) + "}\n"
    ev_src += "    _rates = {" + ", ".join(f"{s!r}: {_spec.RATES[s]}" for s in state_ids) + "}\n"
    ev_src += "    return _alg, _obs, _rates\n"

    ns_s: dict = dict(_SCALAR_NS)
    exec(compile(rhs_src, "<il2sim generated rhs>", "exec"), ns_s)
    ns_v: dict = dict(_VECTOR_NS)
    exec(compile(ev_src, "<il2sim generated evaluate>", "exec"), ns_v)
    return CompiledModel(
        state_ids=state_ids,
        parameter_names=param_names,
        control_names=control_names,
        algebraic_names=alg_names,
        observable_names=obs_names,
        rhs=ns_s["rhs"],
        evaluate=ns_v["evaluate"],
        rhs_source=rhs_src,
        evaluate_source=ev_src,
    )
