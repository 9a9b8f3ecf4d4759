"""The model's equations, grouped by mechanism.

Each module declares one mechanism (:class:`Mechanism`): its states, per-patient constants, algebraic
assignments, rates, observables, dose targets and the code that puts it at rest before treatment. A modeller
changes one mechanism in one module. :func:`assemble` joins them into the declaration that
:mod:`il2sim.model._spec` exports and everything else (the code generator, both engines, the SBML export,
the docs, the steady state) reads.

Order. States, constants and observables follow :data:`MECHANISMS`. Algebraics may use names of other
mechanisms; :func:`assemble` orders them so that each comes after every algebraic it uses, keeping the
declared order where nothing forces another (and raising on a cycle). The rest state is built in two passes:
every mechanism's ``constants`` in :data:`MECHANISMS` order (closed forms and first-pass states), then the
``balance`` steps in :data:`BALANCE_ORDER` (homeostatic sources and productions that need the algebraics):
the cells first, because IL-2 consumption, the mediator, IL-5 and the baseline killing depend on the rested
pools.

Parameter rows are in ``model/data/parameters/<mechanism>.toml``, one file per mechanism, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._expr import expression_names
from . import cells, circulation, eosinophils, fluids, inflammation, kidney, outcomes, pk, receptors, symptoms, tumour
from ._base import (
    CELL_NAMES,
    CELL_TYPES,
    EOS_STAGES,
    IL2_RESPONSIVE,
    MAX_LESIONS,
    MAX_RELEASE_STEPS,
    Mechanism,
    RestContext,
    StateSpec,
    Symbol,
)

__all__ = [
    "BALANCE_ORDER",
    "CELL_NAMES",
    "CELL_TYPES",
    "EOS_STAGES",
    "IL2_RESPONSIVE",
    "MAX_LESIONS",
    "MAX_RELEASE_STEPS",
    "MECHANISMS",
    "Declaration",
    "Mechanism",
    "RestContext",
    "StateSpec",
    "Symbol",
    "assemble",
]

#: The mechanisms, in declaration order.
MECHANISMS: tuple[Mechanism, ...] = tuple(m.MECHANISM for m in (
    pk, receptors, cells, inflammation, eosinophils, tumour, circulation, fluids, kidney, symptoms, outcomes))

#: The order of the rest-state balance steps (mechanism names).
BALANCE_ORDER = ("cells", "pk", "inflammation", "eosinophils", "tumour")


def _order_algebraics(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    defined = [n for n, _ in pairs]
    if len(set(defined)) != len(defined):
        dup = sorted({n for n in defined if defined.count(n) > 1})
        raise ValueError(f"algebraics defined twice: {dup}")
    own = set(defined)
    deps = {n: (expression_names(e)[0] & own) - {n} for n, e in pairs}
    placed: set[str] = set()
    out: list[tuple[str, str]] = []
    pending = list(pairs)
    while pending:
        for k, (n, e) in enumerate(pending):
            if deps[n] <= placed:
                out.append((n, e))
                placed.add(n)
                del pending[k]
                break
        else:
            raise ValueError(f"algebraics depend on each other in a cycle: {sorted(n for n, _ in pending)}")
    return tuple(out)


class Declaration:
    """The assembled declaration: states, derived constants, algebraics, rates, observables, dose targets."""

    def __init__(self, mechanisms: tuple[Mechanism, ...]) -> None:
        self.mechanisms = mechanisms
        self.states: tuple[StateSpec, ...] = tuple(s for m in mechanisms for s in m.states)
        self.derived: tuple[Symbol, ...] = tuple(s for m in mechanisms for s in m.derived)
        self.algebraics = _order_algebraics([a for m in mechanisms for a in m.algebraics])
        rates: dict[str, str] = {}
        for m in mechanisms:
            clash = set(rates) & set(m.rates)
            if clash:
                raise ValueError(f"mechanism {m.name} redeclares the rate of {sorted(clash)}")
            rates.update(m.rates)
        self.rates: Mapping[str, str] = rates
        self.observables: tuple[tuple[Symbol, str], ...] = tuple(o for m in mechanisms for o in m.observables)
        targets: dict[str, dict[str, str]] = {}
        for m in mechanisms:
            for route, where in m.dose_targets.items():
                targets.setdefault(route, {}).update(where)
        self.dose_targets: Mapping[str, Mapping[str, str]] = targets
        self.owner: Mapping[str, str] = {
            **{s.id: m.name for m in mechanisms for s in m.states},
            **{s.id: m.name for m in mechanisms for s in m.derived},
            **{n: m.name for m in mechanisms for n, _ in m.algebraics},
            **{s.id: m.name for m in mechanisms for s, _ in m.observables},
        }


def assemble(mechanisms: tuple[Mechanism, ...] = MECHANISMS) -> Declaration:
    """Join ``mechanisms`` into one declaration (see the module notes for the order)."""
    return Declaration(mechanisms)
