"""What a mechanism declares, and the context its rest-state code works in."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CELL_NAMES", "CELL_TYPES", "EOS_STAGES", "IL2_RESPONSIVE", "LN2", "MAX_LESIONS", "MAX_RELEASE_STEPS", "Mechanism",
           "RestContext", "StateSpec", "Symbol"]


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A state variable: SBML-valid ``id``, ``unit`` and ``description``."""

    id: str
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class Symbol:
    """A named non-state quantity (control, derived constant or observable)."""

    id: str
    unit: str
    description: str


@dataclass
class RestContext:
    """What a mechanism's rest-state code reads and writes (one patient, inside ``derive_constants``).

    ``v``: the patient's table values; ``d``: the derived constants (``DERIVED`` ids), filled in as the
    mechanisms run; ``y``: the pre-treatment state vector, indexed by state id through :meth:`set` and
    :meth:`get`; ``covariates`` and ``lesion_diameters`` of the patient; ``algebraics()``: the generated
    algebraics evaluated at the current ``y`` and constants (the same equations the engines integrate).
    """

    v: Mapping[str, float]
    d: dict[str, float]
    y: np.ndarray
    index: Mapping[str, int]
    covariates: Any
    lesion_diameters: tuple[float, ...]
    typical: Mapping[str, float]
    algebraics: Callable[[], Mapping[str, Any]] = field(repr=False, default=lambda: {})
    extra: dict[str, Any] = field(default_factory=dict)

    def set(self, state: str, value: float) -> None:
        self.y[self.index[state]] = value

    def get(self, state: str) -> float:
        return float(self.y[self.index[state]])

    def alg(self, name: str) -> float:
        return float(self.algebraics()[name])


@dataclass(frozen=True)
class Mechanism:
    """One mechanism of the model: its states, constants, equations, outputs and rest-state code.

    ``algebraics`` may use names of other mechanisms: the assembled declaration orders all algebraics so
    that each comes after what it uses (:func:`il2sim.model.mechanisms.assemble`). ``constants`` (closed
    form, first pass) and ``balance`` (from the algebraics, once every mechanism's constants are set) write
    the mechanism's derived constants and pre-treatment states into a :class:`RestContext`.
    """

    name: str
    summary: str
    states: tuple[StateSpec, ...] = ()
    derived: tuple[Symbol, ...] = ()
    algebraics: tuple[tuple[str, str], ...] = ()
    rates: Mapping[str, str] = field(default_factory=dict)
    observables: tuple[tuple[Symbol, str], ...] = ()
    dose_targets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    constants: Callable[[RestContext], None] | None = None
    balance: Callable[[RestContext], None] | None = None


LN2 = math.log(2.0)
MAX_LESIONS = 5
MAX_RELEASE_STEPS = 4
EOS_STAGES = 3
IL2_RESPONSIVE = ("cd8", "nk", "treg", "cd4")
CELL_TYPES = IL2_RESPONSIVE + ("b",)
CELL_NAMES = {
    "cd8": "CD8 T cells",
    "nk": "NK cells",
    "treg": "regulatory T cells",
    "cd4": "CD4 helper T cells",
    "b": "B cells",
}
