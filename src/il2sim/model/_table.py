"""The annotated parameter table (values, units, sources) and its references.

The numbers live in ``data/parameters/<mechanism>.toml``, one file per
mechanism of :mod:`il2sim.model.mechanisms` and read in that order
(:data:`PARAMETER_FILES`), the indications in ``data/indications.toml`` and the
literature in ``data/references.toml``; all ship inside the package and load
through :mod:`importlib.resources`. A name in two files is an error. The table
keeps the metadata (unit, description, source, evidence, variability) apart
from the numbers a simulation uses, in the spirit of mrgsolve's annotated
``$PARAM`` blocks.

The rows::

    One row per parameter: value (internal or stated unit), unit, description,
    source (a key of references.toml), evidence, optional note, optional
    by_indication overrides, optional between-patient variability and optional
    bounds = [lo, hi]: the valid range (inclusive, in the row's unit) that every
    value and override must lie in; without it [0, inf). Bounds are the domain
    of the quantity (a fraction, a percentage, a pressure of either sign), not a
    plausible physiological range, and they set no number of a simulation.

    evidence:
      retrieved   the number was read in the project's reference texts
      derived     arithmetic on retrieved numbers (the note shows it)
      recalled    from memory of the literature, NOT verified: check before relying on it
      calibrated  chosen so that the model reproduces the observation in the note
      assumption  structural modelling choice without a literature value
      definition  fixed by definition (aldesleukin is the reference molecule)

    Time is in hours inside the model; rows whose unit says otherwise are
    converted in il2sim.model.derive_constants.

"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from types import MappingProxyType

__all__ = [
    "EVIDENCE_LEVELS",
    "PARAMETER_FILES",
    "Parameter",
    "ParameterTable",
    "Reference",
    "load_table",
]

EVIDENCE_LEVELS = ("retrieved", "derived", "recalled", "calibrated", "assumption", "definition")

#: The parameter files (``data/parameters/NAME.toml``), one per mechanism, in declaration order.
PARAMETER_FILES = ("pk", "receptors", "cells", "inflammation", "eosinophils", "tumour", "circulation", "fluids",
                   "kidney", "symptoms", "outcomes")


@dataclass(frozen=True, slots=True)
class Reference:
    """A literature source. ``retrieved`` is False for sources recalled from memory."""

    key: str
    citation: str
    retrieved: bool


@dataclass(frozen=True, slots=True)
class Variability:
    """Between-patient variability of one parameter (log-normal with coefficient of variation ``cv``)."""

    distribution: str
    cv: float
    evidence: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Parameter:
    """One row of the parameter table."""

    name: str
    value: float
    unit: str
    description: str
    source: str
    evidence: str
    note: str = ""
    by_indication: Mapping[str, float] = field(default_factory=dict)
    variability: Variability | None = None
    bounds: tuple[float, float] = (0.0, math.inf)
    """The valid range, inclusive, in ``unit``: the table's ``bounds = [lo, hi]``, by default [0, inf)."""

    def check(self, value: object, field_name: str | None = None) -> float:
        """``value`` as a float if it is a finite number inside :attr:`bounds`; else a :class:`~il2sim.UserError`."""
        from .._errors import UserError

        label = field_name or f"parameter {self.name}"
        lo, hi = self.bounds
        unit = "" if self.unit == "1" else f" {self.unit}"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserError(label, value, f"a finite number in [{lo:g}, {hi:g}]{unit}")
        if not lo <= value <= hi:
            raise UserError(label, value, f"a value in [{lo:g}, {hi:g}]{unit} (the parameter's valid range)")
        return float(value)

    def value_for(self, indication: str | None) -> float:
        """The value for an indication (the indication override if any, else the default)."""
        if indication is not None and indication in self.by_indication:
            return float(self.by_indication[indication])
        return float(self.value)


@dataclass(frozen=True)
class ParameterTable:
    """All parameter rows, references and indication definitions."""

    parameters: Mapping[str, Parameter]
    references: Mapping[str, Reference]
    indications: Mapping[str, Mapping[str, object]]

    def values(self, indication: str | None = None) -> dict[str, float]:
        """Parameter name -> value for ``indication`` (a fresh dict the caller may modify)."""
        return {name: row.value_for(indication) for name, row in self.parameters.items()}

    def __getitem__(self, name: str) -> Parameter:
        return self.parameters[name]

    def __iter__(self):
        return iter(self.parameters.values())

    def __len__(self) -> int:
        return len(self.parameters)

    def __reduce__(self) -> tuple:
        # read-only mapping views do not pickle: rebuild them from plain dicts
        rows = tuple((p.name, p.value, p.unit, p.description, p.source, p.evidence, p.note, dict(p.by_indication),
                      p.variability, p.bounds) for p in self)
        return (_rebuild_table, (rows, dict(self.references), {k: dict(v) for k, v in self.indications.items()}))


def _rebuild_table(rows: tuple, references: dict, indications: dict) -> ParameterTable:
    parameters = {r[0]: Parameter(name=r[0], value=r[1], unit=r[2], description=r[3], source=r[4], evidence=r[5],
                                  note=r[6], by_indication=MappingProxyType(r[7]), variability=r[8], bounds=r[9]) for r in rows}
    return ParameterTable(parameters=MappingProxyType(parameters), references=MappingProxyType(references),
                          indications=MappingProxyType({k: MappingProxyType(v) for k, v in indications.items()}))


def _bounds(name: str, pair: object) -> tuple[float, float]:
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, (int, float)) for x in pair)
            and pair[0] <= pair[1]):
        raise ValueError(f"parameter {name}: bounds must be [lo, hi] with lo <= hi, got {pair!r}")
    return (float(pair[0]), float(pair[1]))


def _parse_table(params_doc: dict, refs_doc: dict) -> ParameterTable:
    references = {
        key: Reference(key=key, citation=str(row["citation"]), retrieved=bool(row["retrieved"]))
        for key, row in refs_doc["references"].items()
    }
    parameters: dict[str, Parameter] = {}
    for name, row in params_doc["parameters"].items():
        var = row.get("variability")
        parameters[name] = Parameter(
            name=name,
            value=float(row["value"]),
            unit=str(row["unit"]),
            description=str(row["description"]),
            source=str(row["source"]),
            evidence=str(row["evidence"]),
            note=str(row.get("note", "")),
            by_indication=MappingProxyType({k: float(v) for k, v in row.get("by_indication", {}).items()}),
            variability=None
            if var is None
            else Variability(
                distribution=str(var["distribution"]),
                cv=float(var["cv"]),
                evidence=str(var.get("evidence", "assumption")),
                note=str(var.get("note", "")),
            ),
            bounds=_bounds(name, row.get("bounds", [0.0, math.inf])),
        )
        row_obj = parameters[name]
        for v in (row_obj.value, *row_obj.by_indication.values()):
            lo, hi = row_obj.bounds
            if not lo <= v <= hi:
                raise ValueError(f"parameter {name} = {v} lies outside its bounds [{lo}, {hi}]")
    indications = {k: MappingProxyType(dict(v)) for k, v in params_doc.get("indications", {}).items()}
    return ParameterTable(
        parameters=MappingProxyType(parameters),
        references=MappingProxyType(references),
        indications=MappingProxyType(indications),
    )


@lru_cache(maxsize=1)
def load_table() -> ParameterTable:
    """Load the packaged parameter table (cached; the result is immutable)."""
    data = resources.files("il2sim.model") / "data"
    rows: dict[str, dict] = {}
    for stem in PARAMETER_FILES:
        doc = tomllib.loads((data / "parameters" / f"{stem}.toml").read_text(encoding="utf-8"))
        twice = sorted(set(rows) & set(doc.get("parameters", {})))
        if twice or set(doc) - {"parameters"}:
            raise ValueError(f"parameters/{stem}.toml: rows already in another file {twice}, or tables other than "
                             f"[parameters.*] {sorted(set(doc) - {'parameters'})}")
        rows.update(doc.get("parameters", {}))
    params_doc = {"parameters": rows, **tomllib.loads((data / "indications.toml").read_text(encoding="utf-8"))}
    refs_doc = tomllib.loads((data / "references.toml").read_text(encoding="utf-8"))
    return _parse_table(params_doc, refs_doc)
