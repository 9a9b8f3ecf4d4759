"""IL-2 molecules: aldesleukin and engineered variants as values, TOML files and a shipped library.

A :class:`Molecule` says what is dosed: its receptor affinities relative to
IL-2's, its plasma pharmacokinetics (two-compartment volumes and clearances,
terminal half-life, SC absorption, renal and receptor-mediated clearance), a
prodrug's release cascade, and how a dose in its own units becomes an amount.
:meth:`Molecule.table_values` turns it into values of the model's parameter
table (the ``cl_fold``, ``v1_fold``, ``kd_fold_alpha``, ... rows; aldesleukin
is the table as shipped), so the engines, the steady state, the SBML export
and the model hash see a molecule only through the one declaration and its
table (:meth:`il2sim.model.Model.with_molecule`).

Amounts inside the model are aldesleukin-IU equivalents: the number of
molecules in one IU of aldesleukin (18 MIU = 1.1 mg, 15,300 g/mol), whatever
the molecule. A dose given in IU of a molecule with its own specific activity
(``iu_per_mg``), in ug/kg, in MIU/m2 or flat MIU is converted by
:meth:`Molecule.dose_amount`.

A molecule file (TOML) has the keys of :data:`MOLECULE_KEYS`; ``name``,
``molecular_weight_kda``, ``cd25_kd_fold``, ``cd122_kd_fold`` and
``half_life_h`` are required, every other key has the default documented
there. Any number may be written as an inline table with its provenance::

    half_life_h = { value = 20.0, source = "Charych2017", evidence = "recalled", note = "..." }

``source`` is a key of the reference list (``il2sim params --markdown``) or a
free-text citation, and ``evidence`` one of the parameter table's words
(``retrieved``, ``derived``, ``recalled``, ``calibrated``, ``assumption``,
``definition``); a bare number is recorded as ``evidence = "user"``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._errors import UserError
from .._files import read_user_toml
from ._table import ParameterTable

__all__ = [
    "DOSE_UNITS",
    "MOLECULE_KEYS",
    "Molecule",
    "ValueSource",
    "body_surface_area",
    "load_molecule",
    "resolve_molecule",
    "shipped_molecules",
]

LN2 = math.log(2.0)

#: Dose units of a regimen block: key suffix -> display unit.
DOSE_UNITS: Mapping[str, str] = MappingProxyType({
    "iu_per_kg": "IU/kg", "ug_per_kg": "ug/kg", "miu_per_m2": "MIU/m2", "miu": "MIU",
})

#: Every key a molecule file may have: key -> (kind, default, meaning). ``None`` as a default: required
#: (``name`` and the core numbers) or "as aldesleukin / not a prodrug" where the meaning says so.
MOLECULE_KEYS: Mapping[str, tuple[str, Any, str]] = MappingProxyType({
    "name": ("str", None, "Molecule name (required): letters, digits, '-', '_' and '.'."),
    "description": ("str", "", "One line for `il2sim molecules`."),
    "molecular_weight_kda": ("number", None, "Molecular weight, kDa (required): mass doses and ng/mL outputs."),
    "iu_per_mg": ("number", None, "Specific activity, IU/mg; without it the molecule cannot be dosed in IU or MIU."),
    "cd25_kd_fold": ("number", None, "Kd for IL-2R-alpha (CD25) relative to IL-2's (required; 1 = IL-2, 1e6 = no binding)."),
    "cd122_kd_fold": ("number", None, "Kd for IL-2R-beta (the beta-gamma dimer) relative to IL-2's (required; 0.03 = 30-fold tighter)."),
    "half_life_h": ("number", None, "Terminal plasma half-life of the active drug with linear clearance, h (required); receptor-mediated "
                                    "clearance shortens it further, most at low concentrations."),
    "central_volume_l_per_kg": ("number", None, "Central (plasma) volume, L/kg; default aldesleukin's (plasma_volume_per_kg)."),
    "peripheral_volume_l_per_kg": ("number", None, "Peripheral volume, L/kg; default aldesleukin's (from the label's half-lives)."),
    "intercompartmental_clearance_l_h": ("number", None, "Intercompartmental clearance at the reference weight (70 kg), L/h; "
                                                         "default aldesleukin's (from the label's half-lives)."),
    "renal_fraction": ("number", None, "Fraction of the linear clearance that follows GFR; default aldesleukin's (drug_fraction_renal)."
                                       " 0 for molecules above the glomerular cut-off."),
    "sc_bioavailability": ("number", None, "Subcutaneous bioavailability; default aldesleukin's (f_sc)."),
    "sc_absorption_rate_per_h": ("number", None, "Rate of each of the two SC absorption steps, 1/h; default aldesleukin's (ka_sc)."),
    "receptor_mediated_clearance": ("bool", True, "Whether the drug is internalised with its signalling receptors."),
    "release_half_life_h": ("number", None, "Prodrug: half-life of each release step, h; absent = not a prodrug."),
    "release_steps": ("int", 1, "Prodrug: sequential release steps from the dosed form to active drug (1 to 4)."),
    "prodrug_half_life_h": ("number", None, "Prodrug: elimination half-life of the unreleased forms, h; default half_life_h."),
})

_REQUIRED = ("name", "molecular_weight_kda", "cd25_kd_fold", "cd122_kd_fold", "half_life_h")
_EVIDENCE = ("retrieved", "derived", "recalled", "calibrated", "assumption", "definition", "user")
# valid ranges of the numbers: (lo, hi, lo_open)
_RANGES: Mapping[str, tuple[float, float, bool]] = MappingProxyType({
    "molecular_weight_kda": (1.0, 1000.0, False),
    "iu_per_mg": (0.0, 1e10, True),
    "cd25_kd_fold": (1e-4, 1e9, False),
    "cd122_kd_fold": (1e-4, 1e9, False),
    "half_life_h": (0.05, 5000.0, False),
    "central_volume_l_per_kg": (0.01, 1.0, False),
    "peripheral_volume_l_per_kg": (0.001, 10.0, False),
    "intercompartmental_clearance_l_h": (0.001, 1000.0, False),
    "renal_fraction": (0.0, 1.0, False),
    "sc_bioavailability": (0.0, 1.0, True),
    "sc_absorption_rate_per_h": (0.001, 100.0, False),
    "release_half_life_h": (0.01, 5000.0, False),
    "prodrug_half_life_h": (0.05, 5000.0, False),
})
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


@dataclass(frozen=True, slots=True)
class ValueSource:
    """Where a molecule's number comes from: a reference key or citation, the evidence word and a note."""

    source: str = ""
    evidence: str = "user"
    note: str = ""


def body_surface_area(weight_kg: float, height_cm: float) -> float:
    """Body surface area, m2, by Mosteller: ``sqrt(height_cm * weight_kg / 3600)``."""
    return math.sqrt(height_cm * weight_kg / 3600.0)


def _number(field_name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(field_name, value, "a finite number")
    return float(value)


@dataclass(frozen=True)
class Molecule:
    """An IL-2 molecule: affinities, pharmacokinetics, prodrug release and dose units.

    Parameters are the keys of :data:`MOLECULE_KEYS` (units in the names);
    ``None`` means aldesleukin's value (from the parameter table) or, for
    ``release_half_life_h``, not a prodrug. ``sources`` maps a key to its
    :class:`ValueSource`.

    Raises
    ------
    UserError
        On a value of the wrong type or out of range, naming the key.
    """

    name: str
    molecular_weight_kda: float
    cd25_kd_fold: float
    cd122_kd_fold: float
    half_life_h: float
    description: str = ""
    iu_per_mg: float | None = None
    central_volume_l_per_kg: float | None = None
    peripheral_volume_l_per_kg: float | None = None
    intercompartmental_clearance_l_h: float | None = None
    renal_fraction: float | None = None
    sc_bioavailability: float | None = None
    sc_absorption_rate_per_h: float | None = None
    receptor_mediated_clearance: bool = True
    release_half_life_h: float | None = None
    release_steps: int = 1
    prodrug_half_life_h: float | None = None
    sources: Mapping[str, ValueSource] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not set(self.name) <= _NAME_CHARS:
            raise UserError("name", self.name, "a non-empty name of letters, digits, '-', '_' and '.'")
        if not isinstance(self.description, str):
            raise UserError("description", self.description, "a string")
        for key, (lo, hi, lo_open) in _RANGES.items():
            value = getattr(self, key)
            if value is None:
                continue
            x = _number(key, value)
            if not ((lo < x) if lo_open else (lo <= x)) or x > hi:
                raise UserError(key, value, f"a number {'>' if lo_open else '>='} {lo:g} and <= {hi:g}")
            object.__setattr__(self, key, x)
        if not isinstance(self.receptor_mediated_clearance, bool):
            raise UserError("receptor_mediated_clearance", self.receptor_mediated_clearance, "true or false")
        steps = self.release_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 4:
            raise UserError("release_steps", steps, "an integer from 1 to 4")
        if self.release_half_life_h is None and (steps != 1 or self.prodrug_half_life_h is not None):
            key = "release_steps" if steps != 1 else "prodrug_half_life_h"
            raise UserError(key, getattr(self, key), "release_half_life_h as well (only a prodrug has release steps)")
        sources = dict(self.sources)
        for key, src in sources.items():
            if key not in MOLECULE_KEYS:
                raise UserError("sources", key, "keys of a molecule file")
            if not isinstance(src, ValueSource):
                raise UserError(f"sources.{key}", src, "a ValueSource")
        object.__setattr__(self, "sources", sources)  # a plain copy (picklable); not part of equality

    # -- what the molecule means for the model ------------------------------------------------------

    @property
    def is_prodrug(self) -> bool:
        """Whether doses are given as a prodrug that releases the active drug."""
        return self.release_half_life_h is not None

    def table_values(self, table: ParameterTable) -> dict[str, float]:
        """The parameter-table values that make ``table``'s model dose this molecule.

        Only values that differ from the table's defaults are returned, so
        aldesleukin (the table's own molecule) gives ``{}``. The linear
        clearance (``cl_fold``) follows from the terminal half-life given the
        molecule's volumes and intercompartmental clearance, at the table's
        typical values and reference weight:
        ``k10 = beta (k12 + k21 - beta) / (k21 - beta)`` with
        ``beta = ln 2 / half_life_h``.

        Raises
        ------
        UserError
            ``half_life_h`` if no positive clearance gives that half-life with
            this distribution (a half-life shorter than the distribution allows).
        """
        t = {p.name: p.value for p in table}
        w = t["reference_weight"]
        alpha = LN2 / (t["t_half_alpha_min"] / 60.0)
        beta_ref = LN2 / (t["t_half_beta_min"] / 60.0)
        v1_ref = t["plasma_volume_per_kg"] * w
        cl_ref = t["cl_linear"]
        k10_ref = cl_ref / v1_ref
        k21_ref = alpha * beta_ref / k10_ref
        k12_ref = alpha + beta_ref - k10_ref - k21_ref
        q_ref = k12_ref * v1_ref
        v2_ref = q_ref / k21_ref
        v1 = v1_ref if self.central_volume_l_per_kg is None else self.central_volume_l_per_kg * w
        v2 = v2_ref if self.peripheral_volume_l_per_kg is None else self.peripheral_volume_l_per_kg * w
        q = q_ref if self.intercompartmental_clearance_l_h is None else self.intercompartmental_clearance_l_h
        k12, k21 = q / v1, q / v2
        beta = LN2 / self.half_life_h
        if not beta < k21:
            raise UserError("half_life_h", self.half_life_h,
                            f"a terminal half-life longer than {LN2 / k21:.3g} h (ln 2 / k21 of this distribution)")
        k10 = beta * (k12 + k21 - beta) / (k21 - beta)
        values = {
            "kd_fold_alpha": self.cd25_kd_fold,
            "kd_fold_beta": self.cd122_kd_fold,
            "v1_fold": v1 / v1_ref,
            "v2_fold": v2 / v2_ref,
            "q_fold": q / q_ref,
            "cl_fold": k10 * v1 / cl_ref,
            "drug_molecular_weight": self.molecular_weight_kda * 1000.0,
            "drug_receptor_clearance": 1.0 if self.receptor_mediated_clearance else 0.0,
        }
        if self.renal_fraction is not None:
            values["drug_fraction_renal"] = self.renal_fraction
        if self.sc_bioavailability is not None:
            values["f_sc"] = self.sc_bioavailability
        if self.sc_absorption_rate_per_h is not None:
            values["ka_sc"] = self.sc_absorption_rate_per_h
        if self.is_prodrug:
            assert self.release_half_life_h is not None
            values["prodrug_fraction"] = 1.0
            values["prodrug_release_rate"] = LN2 / self.release_half_life_h
            values["release_steps"] = float(self.release_steps)
            values["prodrug_elimination_rate"] = LN2 / (self.prodrug_half_life_h or self.half_life_h)
        # a value within rounding of the table's (aldesleukin's own half-life through the formula) is the table's
        return {k: x for k, x in values.items() if not math.isclose(x, t[k], rel_tol=1e-12, abs_tol=0.0)}

    def dose_amount(self, amount: float, unit: str, weight_kg: float, height_cm: float, table: ParameterTable) -> float:
        """An administration of ``amount`` ``unit`` as model amount (aldesleukin-IU equivalents).

        ``unit`` is a key of :data:`DOSE_UNITS`; per-kg doses use the baseline
        weight, per-m2 doses the Mosteller body surface area. Raises
        :class:`~il2sim.UserError` (field ``amount_<unit>``) for an IU or MIU
        dose of a molecule without ``iu_per_mg``.
        """
        iu_ref, mw_ref = table["iu_per_mg"].value, table["molecular_weight"].value
        mw = self.molecular_weight_kda * 1000.0
        if unit == "ug_per_kg":
            return amount * weight_kg * 1e-3 * iu_ref * mw_ref / mw
        if unit not in DOSE_UNITS:
            raise UserError("unit", unit, "one of " + ", ".join(DOSE_UNITS))
        if self.iu_per_mg is None:
            raise UserError(f"amount_{unit}", amount, f"a dose in ug/kg (amount_ug_per_kg): {self.name} has no IU "
                                                      "(no iu_per_mg in its molecule file)")
        iu = {"iu_per_kg": amount * weight_kg, "miu": amount * 1e6,
              "miu_per_m2": amount * 1e6 * body_surface_area(weight_kg, height_cm)}[unit]
        # the factor is exactly 1.0 for aldesleukin (x / x), so IU doses of it are the amounts themselves
        return iu * ((iu_ref * mw_ref) / (self.iu_per_mg * mw))

    def dose_mg(self, amount: float, unit: str, weight_kg: float, height_cm: float, table: ParameterTable) -> float:
        """The mass of an administration, mg of this molecule."""
        model_amount = self.dose_amount(amount, unit, weight_kg, height_cm, table)
        return model_amount / (table["iu_per_mg"].value * table["molecular_weight"].value) * self.molecular_weight_kda * 1000.0

    # -- records --------------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """The numbers of the molecule (what the model hash covers): every key but descriptions and sources."""
        return {k: getattr(self, k) for k in MOLECULE_KEYS if k not in ("description",)}

    def to_dict(self) -> dict[str, Any]:
        """The molecule as the keys of a molecule file (values only, ``None`` left out) plus its sources."""
        out = {k: getattr(self, k) for k in MOLECULE_KEYS if getattr(self, k) is not None}
        out["sources"] = {k: {"source": s.source, "evidence": s.evidence, "note": s.note} for k, s in self.sources.items()}
        return out

    @classmethod
    def from_dict(cls, d: Any, *, source: str) -> Molecule:
        """A molecule from a molecule file's table; errors are prefixed with ``source`` (``mine.toml: half_life_h``)."""
        p = f"{source}: "
        if not isinstance(d, dict):
            raise UserError(source, d, "a table of molecule keys")
        kwargs: dict[str, Any] = {}
        sources: dict[str, ValueSource] = {}
        for key, raw in d.items():
            if key not in MOLECULE_KEYS:
                raise UserError(f"{p}{key}", raw, "no such key (allowed: " + ", ".join(MOLECULE_KEYS) + ")")
            value = raw
            if isinstance(raw, dict):
                extra = set(raw) - {"value", "source", "evidence", "note"}
                if "value" not in raw or extra:
                    raise UserError(f"{p}{key}", raw, "a value, or an inline table of value, source, evidence and note")
                ev = raw.get("evidence", "user")
                if ev not in _EVIDENCE:
                    raise UserError(f"{p}{key}.evidence", ev, "one of " + ", ".join(_EVIDENCE))
                for part in ("source", "note"):
                    if not isinstance(raw.get(part, ""), str):
                        raise UserError(f"{p}{key}.{part}", raw[part], "a string")
                sources[key] = ValueSource(raw.get("source", ""), ev, raw.get("note", ""))
                value = raw["value"]
            kind = MOLECULE_KEYS[key][0]
            if kind == "str" and not isinstance(value, str):
                raise UserError(f"{p}{key}", value, "a string")
            if kind == "bool" and not isinstance(value, bool):
                raise UserError(f"{p}{key}", value, "true or false")
            kwargs[key] = value
        for key in _REQUIRED:
            if key not in kwargs:
                raise UserError(f"{p}{key}", "nothing (key missing)", "a value for this required key")
        try:
            return cls(**kwargs, sources=sources)
        except UserError as exc:
            raise UserError(f"{p}{exc.field}", exc.received, exc.expected) from None


def load_molecule(path: str | Path) -> Molecule:
    """Load a molecule file (TOML with the keys of :data:`MOLECULE_KEYS`)."""
    path = Path(path)
    data = read_user_toml(path, missing=("molecule", "a shipped molecule name (`il2sim molecules`) or an existing .toml file"),
                          unreadable=("molecule", "a readable molecule .toml file"), valid="a valid TOML molecule file",
                          nested="a molecule file", short_reason=True)
    return Molecule.from_dict(data, source=path.name)


_SHIPPED_ORDER = ("aldesleukin", "cd25-blind-il2", "bempeg-like", "nemvaleukin-like", "mdna11-like", "treg-peg-il2-like")


def _shipped() -> dict[str, Molecule]:
    root = resources.files("il2sim.model") / "data" / "molecules"
    out = {}
    for stem in _SHIPPED_ORDER:
        text = (root / f"{stem}.toml").read_text(encoding="utf-8")
        m = Molecule.from_dict(tomllib.loads(text), source=f"{stem}.toml")
        if m.name != stem:
            raise RuntimeError(f"shipped molecule file {stem}.toml names itself {m.name!r}")
        out[stem] = m
    return out


_SHIPPED: dict[str, Molecule] | None = None


def shipped_molecules() -> Mapping[str, Molecule]:
    """The shipped library, name -> molecule, aldesleukin first (read once per process from the package)."""
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = _shipped()
    return MappingProxyType(_SHIPPED)


def resolve_molecule(name_or_path: str | Path | Molecule) -> Molecule:
    """A shipped molecule by name, a molecule file (a path ending in ``.toml``), or a :class:`Molecule` as given."""
    if isinstance(name_or_path, Molecule):
        return name_or_path
    if isinstance(name_or_path, (str, Path)):
        text = str(name_or_path)
        lib = shipped_molecules()
        if text in lib:
            return lib[text]
        if text.endswith(".toml"):
            return load_molecule(text)
    raise UserError("molecule", name_or_path, "one of " + ", ".join(shipped_molecules()) + ", or a molecule .toml file")
