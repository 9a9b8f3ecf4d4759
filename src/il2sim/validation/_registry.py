"""The validation registry: every published comparison as data (``data/registry.toml``).

A registry file holds named simulations (``[simulations.<name>]``, optional)
and entries (``[[entry]]``). Each entry is one published result: where it
comes from, the simulation that reproduces it, the statistic computed from
that simulation's patients and the rule that scores it. Loading checks every
key and value and raises :class:`~il2sim._errors.UserError` with a field
``entry <id>: <key>`` (or ``simulations.<name>: <key>``), so a broken entry
is reported on one line naming it. The layout is documented in
``docs/validation.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .._errors import UserError

__all__ = ["ENDPOINTS", "FRACTION_COLUMNS", "FRACTION_PATTERN", "KINDS", "MEAN_COLUMNS", "PROPORTIONS", "RULES", "STATISTICS", "Entry", "Registry", "Simulation", "SimArm",
           "load_registry", "parse_registry"]

KINDS = ("calibration", "validation")
#: The scoring rules (``rule = ...``).
RULES = ("interval_overlap", "within", "at_least", "difference_within")
#: Statistics that are one patient-level yes/no averaged over the patients (so also usable in ``difference:``).
PATIENT_PROPORTIONS = ("orr", "cr_rate", "pr_rate", "treatment_death_rate", "alive_at_months")
#: Every proportion (Wilson interval): the patient-level ones, adverse events and relapse among responders.
PROPORTIONS = PATIENT_PROPORTIONS + ("incidence:<term>", "incidence_grade3plus:<term>", "fraction:<column><op><value>",
                                     "relapse_fraction")
#: Patient-table columns whose mean is a statistic (``mean:<column>``: measured quantities such as laboratory peaks).
MEAN_COLUMNS = ("creatinine_max_mg_dl", "weight_gain_pct", "sbp_min_mmhg", "lymphocyte_nadir_per_ul",
                "fluid_boluses_cycle1")
#: Patient-table columns a ``fraction:<column><op><value>`` statistic may compare (a missing value never counts:
#: ``renal_recovery_days`` is missing for a patient whose creatinine had not recovered).
FRACTION_COLUMNS = MEAN_COLUMNS + ("renal_recovery_days", "phenylephrine_max_ug_kg_min")
#: ``fraction:<column><op><value>``: the share of patients whose column compares so with the value.
FRACTION_PATTERN = re.compile(r"^fraction:([a-z0-9_]+)(<=|>=|<|>)([-+]?[0-9]*\.?[0-9]+)$")
#: The documented statistics; ``<term>`` is an adverse-event term of :data:`il2sim.analysis.TERMS`.
STATISTICS = PROPORTIONS + ("median_doses_first_course", "km_median_months", "mean:<column>", "orr_difference",
                            "difference:<proportion>")
#: Time-to-event endpoints of ``km_median_months``.
ENDPOINTS = ("pfs", "os", "dor")
RESPONDERS = ("CR", "PR")

_ENTRY_KEYS = ("id", "kind", "tags", "source", "population", "n", "statistic", "endpoint", "responders", "months",
               "value", "lo", "hi", "at_least", "tolerance", "rule", "note", "simulation")
_REQUIRED = ("id", "kind", "tags", "source", "population", "n", "statistic", "rule", "simulation")
_SIM_KEYS = ("indication", "weights", "regimen", "molecule", "arms", "rules", "holds", "care", "max_courses",
             "follow_up_weeks", "parameters", "max_patients", "description")
_ARM_KEYS = ("name", "regimen", "blocks", "molecule", "parameters")


@dataclass(frozen=True)
class SimArm:
    """One arm of a simulation: a regimen (a shipped name or inline blocks), a molecule, parameter values."""

    name: str
    regimen: str | None = None
    blocks: tuple[tuple[tuple[str, Any], ...], ...] = ()
    molecule: str = "aldesleukin"
    parameters: tuple[tuple[str, float], ...] = ()

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "regimen": self.regimen, "blocks": [dict(b) for b in self.blocks],
                "molecule": self.molecule, "parameters": dict(self.parameters)}


@dataclass(frozen=True)
class Simulation:
    """The trials an entry reads: one per indication, the same arms, rules and follow-up in each."""

    indications: tuple[str, ...]
    arms: tuple[SimArm, ...]
    weights: tuple[float, ...] | None = None
    rules: str = "pivotal"
    holds: bool = True
    care: bool = True
    max_courses: int = 3
    follow_up_weeks: float = 52.0
    parameters: tuple[tuple[str, float], ...] = ()
    max_patients: int | None = None

    def record(self) -> dict[str, Any]:
        return {"indications": list(self.indications), "weights": None if self.weights is None else list(self.weights),
                "arms": [a.record() for a in self.arms], "rules": self.rules, "holds": self.holds, "care": self.care,
                "max_courses": self.max_courses, "follow_up_weeks": self.follow_up_weeks,
                "parameters": dict(self.parameters), "max_patients": self.max_patients}

    def trial_record(self, indication: str) -> dict[str, Any]:
        """What sets one indication's trial (the grouping key, before the patient count and seed)."""
        r = self.record()
        del r["indications"], r["weights"]
        return {"indication": indication, **r}


@dataclass(frozen=True)
class Entry:
    """One published result and how il2sim reproduces and scores it."""

    id: str
    kind: str
    tags: tuple[str, ...]
    source: str
    population: str
    n: int
    statistic: str
    rule: str
    simulation: Simulation
    endpoint: str | None = None
    responders: str | None = None
    months: float | None = None
    value: float | None = None
    lo: float | None = None
    hi: float | None = None
    at_least: float | None = None
    tolerance: float | None = None
    note: str = ""

    @property
    def is_proportion(self) -> bool:
        base = self.statistic.split(":")[0]
        return base in ("orr", "cr_rate", "pr_rate", "treatment_death_rate", "alive_at_months", "incidence",
                        "incidence_grade3plus", "fraction", "relapse_fraction", "orr_difference", "difference")

    @property
    def is_difference(self) -> bool:
        return self.statistic == "orr_difference" or self.statistic.startswith("difference:")

    def published(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("value", "lo", "hi", "at_least", "tolerance") if getattr(self, k) is not None}


@dataclass(frozen=True)
class Registry:
    entries: tuple[Entry, ...]
    path: str
    sha256: str

    def select(self, only: tuple[str, ...] = ()) -> tuple[Entry, ...]:
        """The entries carrying every tag in ``only`` (a tag may also be an entry id); all without ``only``."""
        known = {t for e in self.entries for t in e.tags} | {e.id for e in self.entries}
        for tag in only:
            if tag not in known:
                raise UserError("--only", tag, "a tag or entry id of the registry (" + ", ".join(sorted(
                    {t for e in self.entries for t in e.tags})) + ")")
        return tuple(e for e in self.entries if all(t in e.tags or t == e.id for t in only))


# ---------------------------------------------------------------------------- checks


def _err(where: str, key: str, value: object, expected: str) -> UserError:
    return UserError(f"{where}: {key}", value, expected)


def _check_keys(d: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in d:
        if key not in allowed:
            raise _err(where, key, d[key], "no such key (allowed: " + ", ".join(allowed) + ")")


def _str(d: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    v = d.get(key, default)
    if not isinstance(v, str) or not v.strip():
        raise _err(where, key, v, "a non-empty string")
    return v


def _num(d: Mapping[str, Any], key: str, where: str, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    if key not in d:
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise _err(where, key, v, f"a number from {lo:g} to {hi:g}")
    return float(v)


def _bool(d: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise _err(where, key, v, "true or false")
    return v


def _int(d: Mapping[str, Any], key: str, where: str, lo: int, hi: int) -> int | None:
    if key not in d:
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _err(where, key, v, f"an integer from {lo} to {hi}")
    return v


def _parameters(d: Mapping[str, Any], where: str) -> tuple[tuple[str, float], ...]:
    raw = d.get("parameters", {})
    if not isinstance(raw, dict):
        raise _err(where, "parameters", raw, "a table of NAME = VALUE")
    from ..model import default_model

    table = default_model().table
    out = []
    for name, value in raw.items():
        if name not in table.parameters:
            raise _err(where, f"parameters {name}", name, "a parameter name from `il2sim params`")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _err(where, f"parameters {name}", value, "a finite number")
        out.append((name, float(value)))
    return tuple(sorted(out))


def _regimen_name(name: Any, where: str, key: str) -> str:
    from ..protocol import NAMED_REGIMENS

    if not isinstance(name, str) or name not in NAMED_REGIMENS:
        raise _err(where, key, name, "a shipped regimen (`il2sim regimens`): " + ", ".join(NAMED_REGIMENS))
    return name


def _molecule(name: Any, where: str, key: str) -> str:
    from ..model import resolve_molecule

    if not isinstance(name, str):
        raise _err(where, key, name, "a shipped molecule name (`il2sim molecules`)")
    try:
        resolve_molecule(name)
    except UserError as exc:
        raise _err(where, key, name, exc.expected) from None
    return name


def _arm(raw: Any, k: int, where: str) -> SimArm:
    w = f"{where}: arms[{k}]"
    if isinstance(raw, str):
        return SimArm(name=raw, regimen=_regimen_name(raw, where, f"arms[{k}]"))
    if not isinstance(raw, dict):
        raise UserError(w, raw, "a regimen name or a table of name, regimen or blocks, molecule, parameters")
    _check_keys(raw, _ARM_KEYS, w)
    if ("regimen" in raw) == ("blocks" in raw):
        raise _err(w, "regimen", raw.get("regimen"), "exactly one of regimen (a shipped name) and blocks (inline)")
    blocks: tuple[tuple[tuple[str, Any], ...], ...] = ()
    regimen = None
    if "regimen" in raw:
        regimen = _regimen_name(raw["regimen"], w, "regimen")
        name = raw.get("name", regimen)
    else:
        bl = raw["blocks"]
        if not isinstance(bl, list) or not bl or not all(isinstance(b, dict) for b in bl):
            raise _err(w, "blocks", bl, "a non-empty list of dose-block tables (the scenario-file [[block]] keys)")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise _err(w, "name", name, "a non-empty arm name (required with inline blocks)")
        from ..protocol import Regimen

        try:
            Regimen.from_dict({"name": name, "block": [dict(b) for b in bl]}, source="blocks")
        except UserError as exc:
            raise UserError(f"{w}.{exc.field}", exc.received, exc.expected) from None
        blocks = tuple(tuple(sorted(b.items())) for b in bl)
    if not isinstance(name, str) or not name:
        raise _err(w, "name", name, "a non-empty string")
    molecule = _molecule(raw.get("molecule", "aldesleukin"), w, "molecule")
    return SimArm(name=name, regimen=regimen, blocks=blocks, molecule=molecule, parameters=_parameters(raw, w))


def _simulation(raw: Any, where: str) -> Simulation:
    from ..model import indications as known_indications
    from ..protocol import RULE_SETS

    if not isinstance(raw, dict):
        raise UserError(f"{where}: simulation", raw, "a table, or the name of a [simulations.<name>] table")
    _check_keys(raw, _SIM_KEYS, where)
    inds = raw.get("indication")
    inds_t = (inds,) if isinstance(inds, str) else tuple(inds) if isinstance(inds, list) else None
    valid = known_indications()
    if not inds_t or any(i not in valid for i in inds_t) or len(set(inds_t)) != len(inds_t):
        raise _err(where, "indication", inds, "an indication (" + ", ".join(valid) + ") or a list of distinct ones")
    weights = None
    if "weights" in raw:
        wt = raw["weights"]
        if (not isinstance(wt, list) or len(wt) != len(inds_t)
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in wt)):
            raise _err(where, "weights", wt, f"{len(inds_t)} positive numbers, one per indication")
        weights = tuple(float(x) for x in wt)
    if "arms" in raw and "regimen" in raw:
        raise _err(where, "regimen", raw["regimen"], "either regimen (one arm) or arms, not both")
    if "arms" in raw:
        if "molecule" in raw:
            raise _err(where, "molecule", raw["molecule"], "no molecule beside arms (give each arm its molecule)")
        arms_raw = raw["arms"]
        if not isinstance(arms_raw, list) or not arms_raw:
            raise _err(where, "arms", arms_raw, "a non-empty list of arms")
        arms = tuple(_arm(a, k, where) for k, a in enumerate(arms_raw))
    else:
        reg = _regimen_name(raw.get("regimen", "high-dose"), where, "regimen")
        arms = (SimArm(name=reg, regimen=reg, molecule=_molecule(raw.get("molecule", "aldesleukin"), where, "molecule")),)
    names = [a.name for a in arms]
    if len(set(names)) != len(names):
        raise _err(where, "arms", names, "arms with distinct names")
    rules = raw.get("rules", "pivotal")
    if rules not in RULE_SETS:
        raise _err(where, "rules", rules, "one of " + ", ".join(RULE_SETS))
    fw = _num(raw, "follow_up_weeks", where, 1e-9, 520.0)
    return Simulation(indications=inds_t, arms=arms, weights=weights, rules=rules,
                      holds=_bool(raw, "holds", where, True), care=_bool(raw, "care", where, True),
                      max_courses=_int(raw, "max_courses", where, 1, 10) or 3,
                      follow_up_weeks=52.0 if fw is None else fw, parameters=_parameters(raw, where),
                      max_patients=_int(raw, "max_patients", where, 1, 10_000_000))


def _statistic(e: dict[str, Any], where: str, sim: Simulation) -> None:
    from ..analysis import TERMS

    stat = e["statistic"]

    def patient_level(s: str) -> bool:
        head, _, term = s.partition(":")
        if head in ("incidence", "incidence_grade3plus"):
            return term in TERMS
        if head == "fraction":
            m = FRACTION_PATTERN.match(s)
            return m is not None and m.group(1) in FRACTION_COLUMNS
        return s in PATIENT_PROPORTIONS

    if not isinstance(stat, str):
        ok = False
    elif stat.startswith("difference:"):
        ok = patient_level(stat.removeprefix("difference:"))
    else:
        ok = patient_level(stat) or stat in ("relapse_fraction", "median_doses_first_course", "km_median_months",
                                             "orr_difference") or (stat.startswith("mean:") and stat.removeprefix("mean:") in MEAN_COLUMNS)
    if not ok:
        raise _err(where, "statistic", stat, "one of " + ", ".join(STATISTICS) + " (<term> from: " + ", ".join(TERMS)
                   + "; mean:<column> from: " + ", ".join(MEAN_COLUMNS) + "; fraction:<column> from: "
                   + ", ".join(FRACTION_COLUMNS) + ", <op> one of <= >= < >, e.g. fraction:renal_recovery_days<=7"
                   + "; difference: of a patient-level proportion)")
    base = stat.removeprefix("difference:")
    if (stat == "orr_difference" or stat.startswith("difference:")) and len(sim.arms) < 2:
        raise _err(where, "simulation", [a.name for a in sim.arms], "two arms (the difference is the first minus the second)")
    if stat == "km_median_months":
        if e.get("endpoint") not in ENDPOINTS:
            raise _err(where, "endpoint", e.get("endpoint"), "one of " + ", ".join(ENDPOINTS) + " (km_median_months)")
        if e.get("endpoint") != "dor" and "responders" in e:
            raise _err(where, "responders", e["responders"], "no responders except with endpoint = \"dor\"")
    elif "endpoint" in e:
        raise _err(where, "endpoint", e["endpoint"], "no endpoint except with statistic = \"km_median_months\"")
    if stat == "relapse_fraction" and e.get("responders") not in RESPONDERS:
        raise _err(where, "responders", e.get("responders"), "CR or PR (relapse_fraction)")
    if "responders" in e and (stat not in ("relapse_fraction", "km_median_months") or e["responders"] not in RESPONDERS):
        raise _err(where, "responders", e["responders"], "CR or PR, with km_median_months (dor) or relapse_fraction")
    if base == "alive_at_months":
        m = _num(e, "months", where, 1e-9, 1e6)
        if m is None:
            raise _err(where, "months", None, "the landmark in months (alive_at_months)")
        from ..analysis import WEEKS_PER_MONTH

        if m * WEEKS_PER_MONTH > sim.follow_up_weeks + 1e-9:
            raise _err(where, "months", m, f"a landmark within the follow-up ({sim.follow_up_weeks:g} weeks)")
    elif "months" in e:
        raise _err(where, "months", e["months"], "no months except with statistic = \"alive_at_months\"")


def _published(e: dict[str, Any], where: str, is_difference: bool, is_proportion: bool) -> None:
    rule = e["rule"]
    if rule not in RULES:
        raise _err(where, "rule", rule, "one of " + ", ".join(RULES))
    lim = (-1.0, 1.0) if is_difference and is_proportion else (0.0, 1.0) if is_proportion else (-math.inf, math.inf)
    for key in ("value", "lo", "hi", "at_least"):
        _num(e, key, where, *lim)
    _num(e, "tolerance", where, 0.0)
    need = {"interval_overlap": ("lo", "hi"), "within": ("value", "tolerance"), "at_least": ("at_least",),
            "difference_within": ("value", "tolerance")}[rule]
    for key in need:
        if key not in e:
            raise _err(where, key, None, f"a number (rule {rule} needs " + " and ".join(need) + ")")
    if rule == "interval_overlap" and e["lo"] > e["hi"]:
        raise _err(where, "lo", e["lo"], f"lo <= hi ({e['hi']})")
    if "value" in e and "lo" in e and "hi" in e and not e["lo"] <= e["value"] <= e["hi"]:
        raise _err(where, "value", e["value"], f"a value inside [lo, hi] = [{e['lo']}, {e['hi']}]")
    if rule == "difference_within" and not is_difference:
        raise _err(where, "rule", rule, "interval_overlap, within or at_least (difference_within scores a difference)")
    if rule == "within" and is_difference:
        raise _err(where, "rule", rule, "difference_within, interval_overlap or at_least for a difference")


def parse_registry(doc: Mapping[str, Any], source: str = "registry") -> tuple[Entry, ...]:
    """The entries of a parsed registry document, every one checked."""
    _check_keys(doc, ("simulations", "entry"), source)
    named_raw = doc.get("simulations", {})
    if not isinstance(named_raw, dict):
        raise UserError(f"{source}: simulations", named_raw, "a table of [simulations.<name>] tables")
    named = {name: _simulation(s, f"simulations.{name}") for name, s in named_raw.items()}
    raw_entries = doc.get("entry", [])
    if not isinstance(raw_entries, list) or not raw_entries:
        raise UserError(f"{source}: entry", raw_entries, "at least one [[entry]] table")
    entries: list[Entry] = []
    seen: set[str] = set()
    for k, e in enumerate(raw_entries):
        eid = e.get("id") if isinstance(e, dict) else None
        where = f"entry {eid}" if isinstance(eid, str) and eid else f"entry[{k}]"
        if not isinstance(e, dict):
            raise UserError(where, e, "a table")
        _check_keys(e, _ENTRY_KEYS, where)
        for key in _REQUIRED:
            if key not in e:
                raise _err(where, key, None, f"a value (required: {', '.join(_REQUIRED)})")
        _str(e, "id", where)
        if eid in seen:
            raise _err(where, "id", eid, "an id used once in the registry")
        seen.add(eid)  # type: ignore[arg-type]
        if e["kind"] not in KINDS:
            raise _err(where, "kind", e["kind"], "calibration or validation")
        tags = e["tags"]
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t for t in tags):
            raise _err(where, "tags", tags, "a non-empty list of strings")
        for key in ("source", "population"):
            _str(e, key, where)
        if "note" in e and not isinstance(e["note"], str):
            raise _err(where, "note", e["note"], "a string")
        n = _int(e, "n", where, 1, 100_000_000)
        sim_raw = e["simulation"]
        if isinstance(sim_raw, str):
            if sim_raw not in named:
                raise _err(where, "simulation", sim_raw, "a table or a name of [simulations]: " + ", ".join(named))
            sim = named[sim_raw]
        else:
            sim = _simulation(sim_raw, f"{where}: simulation")
        _statistic(e, where, sim)
        probe = Entry(id=eid, kind=e["kind"], tags=(), source="", population="", n=1,  # type: ignore[arg-type]
                      statistic=e["statistic"], rule=e["rule"], simulation=sim)
        _published(e, where, probe.is_difference, probe.is_proportion)
        get = lambda key: None if key not in e else float(e[key])
        entries.append(Entry(
            id=eid, kind=e["kind"], tags=tuple(tags), source=e["source"], population=e["population"],  # type: ignore[arg-type]
            n=n, statistic=e["statistic"], rule=e["rule"], simulation=sim,  # type: ignore[arg-type]
            endpoint=e.get("endpoint"), responders=e.get("responders"), months=get("months"), value=get("value"),
            lo=get("lo"), hi=get("hi"), at_least=get("at_least"), tolerance=get("tolerance"), note=e.get("note", "")))
    return tuple(entries)


def load_registry(path: str | Path | None = None) -> Registry:
    """Load and check a registry file (default: the packaged ``data/registry.toml``)."""
    if path is None:
        text = (resources.files("il2sim.validation") / "data" / "registry.toml").read_text(encoding="utf-8")
        label = "registry.toml"
    else:
        p = Path(path).expanduser()
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError("--registry", str(path), f"a readable TOML file ({getattr(exc, 'strerror', None) or exc})") from None
        label = str(p)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError("--registry", label, f"valid TOML ({' '.join(str(exc).split())[:120]})") from None
    entries = parse_registry(doc, label)
    return Registry(entries=entries, path=label, sha256=hashlib.sha256(text.encode()).hexdigest())


def record_hash(obj: Any) -> str:
    """A short content hash of a JSON-able record."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()[:16]
