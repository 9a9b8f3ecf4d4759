"""The model as a value: declaration, parameter table, generated functions and hash.

A :class:`Model` is what every layer above receives explicitly (a patient
carries the model it belongs to, a trial carries its model by value); nothing
reads a process-wide model. :func:`default_model` is the packaged one, built
once per process and immutable. :meth:`Model.with_values` derives a model
whose table defaults differ (a parameter set for an arm, an engineered
molecule's affinities), without touching the packaged table.

The hash
--------
:attr:`Model.hash` is the SHA-256 of everything that determines a simulated
number:

* the generated equations (the declaration in :mod:`il2sim.model._spec`, as
  the generated ``rhs`` and ``evaluate`` sources);
* every number of the parameter table (value, unit, per-indication values,
  variability) and the indication settings, not its descriptions or sources;
* the code that turns them into numbers outside the declaration
  (:data:`NUMERIC_CODE`): the steady state and per-patient constants
  (:func:`~il2sim.model.derive_constants`), the code generator, the fast
  engine's kernel builder, integrator template and analytic Jacobian. Each
  enters as its abstract syntax tree with docstrings removed, so a comment
  or docstring edit leaves the hash alone and a changed constant does not.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from importlib import resources
from types import MappingProxyType

from .._errors import UserError
from ._codegen import CompiledModel, generate
from ._molecule import Molecule, resolve_molecule, shipped_molecules
from ._table import ParameterTable, load_table

__all__ = ["NUMERIC_CODE", "Model", "code_fingerprint", "default_model", "hash_model", "numeric_code_sources"]

#: Package files whose code sets numbers beyond the declaration and the table (hashed into Model.hash).
NUMERIC_CODE: tuple[str, ...] = (
    "model/_spec.py",
    "model/mechanisms/__init__.py",
    "model/mechanisms/_base.py",
    "model/mechanisms/pk.py",
    "model/mechanisms/receptors.py",
    "model/mechanisms/cells.py",
    "model/mechanisms/inflammation.py",
    "model/mechanisms/eosinophils.py",
    "model/mechanisms/tumour.py",
    "model/mechanisms/circulation.py",
    "model/mechanisms/fluids.py",
    "model/mechanisms/kidney.py",
    "model/mechanisms/symptoms.py",
    "model/mechanisms/outcomes.py",
    "model/_patient.py",
    "model/_codegen.py",
    "model/_molecule.py",
    "engine/_jit.py",
    "engine/_rodas_kernel.py",
    "engine/_symbolic.py",
)


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def code_fingerprint(sources: Mapping[str, str]) -> str:
    """SHA-256 over the syntax trees of ``sources`` (path -> Python text), docstrings and comments excluded."""
    h = hashlib.sha256()
    for path in sorted(sources):
        h.update(path.encode())
        h.update(ast.dump(_strip_docstrings(ast.parse(sources[path]))).encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def numeric_code_sources() -> Mapping[str, str]:
    """The text of the :data:`NUMERIC_CODE` files of this installation."""
    root = resources.files("il2sim")
    out = {}
    for rel in NUMERIC_CODE:
        f = root
        for part in rel.split("/"):
            f = f / part
        out[rel] = f.read_text(encoding="utf-8")
    return MappingProxyType(out)


def table_record(table: ParameterTable) -> dict:
    """The numbers of a table that a simulation uses, as plain data (no descriptions, sources or notes)."""
    return {
        "parameters": {p.name: [p.value, p.unit, dict(sorted(p.by_indication.items())),
                                None if p.variability is None else [p.variability.distribution, p.variability.cv]]
                       for p in table},
        "indications": {k: dict(v) for k, v in table.indications.items()},
    }


def hash_model(compiled: CompiledModel, table: ParameterTable, code: Mapping[str, str],
               molecule: Molecule | None = None) -> str:
    """The model hash of a compiled declaration, a table, the numeric code and the molecule (see the module notes)."""
    return _hash(compiled, table, code_fingerprint(code), molecule or _aldesleukin())


@lru_cache(maxsize=1)
def _packaged_code_fingerprint() -> str:
    """:func:`code_fingerprint` of this installation's numeric code (parsing six files once per process)."""
    return code_fingerprint(numeric_code_sources())


def _hash(compiled: CompiledModel, table: ParameterTable, fingerprint: str, molecule: Molecule) -> str:
    h = hashlib.sha256()
    h.update(compiled.rhs_source.encode())
    h.update(compiled.evaluate_source.encode())
    h.update(json.dumps(table_record(table), sort_keys=True, default=repr).encode())
    h.update(fingerprint.encode())
    h.update(json.dumps(molecule.record(), sort_keys=True, default=repr).encode())
    return h.hexdigest()


def _aldesleukin() -> Molecule:
    return shipped_molecules()["aldesleukin"]


@lru_cache(maxsize=8)
def _compiled_for(names: tuple[str, ...]) -> CompiledModel:
    return generate(names)


@dataclass(frozen=True, eq=False)
class Model:
    """An il2sim model: its parameter table and the functions generated from the declaration.

    Build it with :func:`default_model` (the packaged model) or derive one
    with :meth:`with_values`; equality and pickling go by :attr:`hash`, so a
    model sent to another process (a Dask worker) arrives as the same model.

    Attributes
    ----------
    table
        The annotated parameter table (values, units, sources, variability).
    compiled
        The generated ``rhs``/``evaluate`` and the layout of their vectors.
    label
        A short name for provenance (``"il2sim"``, or what ``with_values`` was told).
    """

    table: ParameterTable
    compiled: CompiledModel
    label: str = "il2sim"
    overrides: tuple[tuple[str, float], ...] = ()
    """The values :meth:`with_values` replaced, in the order given (recorded in provenance)."""
    molecule: Molecule = field(default_factory=_aldesleukin)
    """What is dosed (:meth:`with_molecule`; aldesleukin, the table's own molecule, by default)."""

    @classmethod
    def from_table(cls, table: ParameterTable, label: str = "il2sim") -> Model:
        """The model of a parameter table (its names fix the parameter vector)."""
        return cls(table=table, compiled=_compiled_for(tuple(table.parameters)), label=label)

    @cached_property
    def hash(self) -> str:
        """SHA-256 of everything that determines a number (see :mod:`il2sim.model._model`)."""
        return _hash(self.compiled, self.table, _packaged_code_fingerprint(), self.molecule)

    def indications(self) -> tuple[str, ...]:
        """Indication ids known to the table (``melanoma``, ``rcc``)."""
        return tuple(self.table.indications)

    def with_values(self, values: Mapping[str, float], *, label: str | None = None) -> Model:
        """A model whose table defaults (every indication) are replaced by ``values``.

        A parameter with between-patient variability keeps its CV around the
        new value. Raises :class:`~il2sim.UserError` (field ``parameter``) on
        an unknown name or a value outside the row's bounds.
        """
        rows = dict(self.table.parameters)
        for name, value in values.items():
            if name not in rows:
                raise UserError("parameter", name, "a parameter name from `il2sim params`")
            rows[name].check(value, f"parameter {name}")
            rows[name] = replace(rows[name], value=float(value), by_indication=MappingProxyType({}))
        table = replace(self.table, parameters=MappingProxyType(rows))
        merged = dict(self.overrides)
        merged.update({k: float(v) for k, v in values.items()})
        return Model(table=table, compiled=self.compiled, label=label or self.label, overrides=tuple(merged.items()),
                     molecule=self.molecule)

    def with_molecule(self, molecule: Molecule | str) -> Model:
        """This model dosing ``molecule`` (a :class:`Molecule`, a shipped name or a molecule file).

        The molecule's affinities and pharmacokinetics become table values
        (:meth:`Molecule.table_values`, relative to aldesleukin's, so apply it
        before any :meth:`with_values` of your own); every other value stays.
        Aldesleukin gives back an equal model.
        """
        mol = resolve_molecule(molecule)
        base = self if self.molecule == _aldesleukin() else None
        if base is None:
            raise UserError("molecule", mol.name, f"a model still dosing aldesleukin (this one doses {self.molecule.name})")
        values = mol.table_values(self.table)
        out = self.with_values(values) if values else self
        return Model(table=out.table, compiled=out.compiled, label=out.label, overrides=out.overrides, molecule=mol)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.hash == self.hash

    def __hash__(self) -> int:
        return hash(self.hash)

    def __reduce__(self) -> tuple:
        if self.hash == default_model().hash:
            return (default_model, ())
        return (_rebuild, (self.table, self.label, self.overrides, self.molecule))

    def __repr__(self) -> str:
        return f"Model({self.label!r}, {self.molecule.name}, {len(self.table)} parameters, hash {self.hash[:12]})"


def _rebuild(table: ParameterTable, label: str, overrides: tuple[tuple[str, float], ...], molecule: Molecule) -> Model:
    return Model(table=table, compiled=_compiled_for(tuple(table.parameters)), label=label, overrides=overrides,
                 molecule=molecule)


@lru_cache(maxsize=1)
def default_model() -> Model:
    """The packaged model (built once per process; immutable)."""
    return Model.from_table(load_table())
