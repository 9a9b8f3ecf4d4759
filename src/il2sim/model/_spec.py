r"""The single declaration of il2sim's equations, assembled from the mechanisms.

Everything numerical about the model is declared once, as data, one mechanism
per module of :mod:`il2sim.model.mechanisms` (pk, receptors, cells,
inflammation, eosinophils, tumour, circulation, fluids, kidney, symptoms, outcomes).
This module joins them and exports:

* ``STATES``: ordered state variables (SBML-valid ids, unit, description);
* ``CONTROLS``: piecewise-constant inputs that the engine sets between
  decision times (the IV infusion rate of the drug, supportive care);
* ``DERIVED``: per-patient constants computed before a run by
  :func:`il2sim.model.derive_constants` (mrgsolve's ``$MAIN``), from each
  mechanism's rest-state code;
* ``ALGEBRAICS``: ordered intermediate assignments (``name = expression``),
  each after every algebraic it uses;
* ``RATES``: ``d(state)/dt = expression`` for every state;
* ``OBSERVABLES``: named outputs with units;
* ``DOSE_TARGETS``: where an administration goes.

Expressions are written in a small infix language that is valid both as
Python and as SBML Level 3 infix (``libsbml.parseL3Formula``): ``+ - * /``,
parentheses, numbers, names, and the functions ``exp``, ``ln``, ``sqrt``,
``pow``, ``max``, ``min`` and ``above(x, limit)`` (``x`` if ``x >= limit``
else 0). The reference engine, the fast engine and the SBML export are all
generated from these strings (:mod:`il2sim.model._codegen`).

Time is in hours. Amounts of IL-2 are in IU (aldesleukin-IU equivalents for
any molecule), concentrations in IU/mL (or pM where the name says so), cells
in cells/uL (blood) or 1e9 cells (tissue). Each mechanism's module docstring
describes it; docs/model.md lists the equations.
"""

from __future__ import annotations

from .mechanisms import (
    CELL_NAMES,
    CELL_TYPES,
    EOS_STAGES,
    IL2_RESPONSIVE,
    MAX_LESIONS,
    MAX_RELEASE_STEPS,
    MECHANISMS,
    StateSpec,
    Symbol,
    assemble,
)

__all__ = [
    "ALGEBRAICS",
    "CELL_NAMES",
    "CELL_TYPES",
    "CONTROLS",
    "DECLARATION",
    "DERIVED",
    "DOSE_TARGETS",
    "EOS_STAGES",
    "IL2_RESPONSIVE",
    "MAX_LESIONS",
    "MAX_RELEASE_STEPS",
    "MECHANISMS",
    "OBSERVABLES",
    "RATES",
    "RESET_AT_T0",
    "SIGNED_STATES",
    "STATES",
    "StateSpec",
    "Symbol",
]

DECLARATION = assemble(MECHANISMS)
STATES: tuple[StateSpec, ...] = DECLARATION.states

CONTROLS: tuple[Symbol, ...] = (
    Symbol("drug_iv_rate", "IU/h", "Total IV infusion rate of the drug (set by the engine from the dosing record)"),
    Symbol("fluid_maintenance_ml_h", "mL/h", "Maintenance crystalloid infusion"),
    Symbol("fluid_bolus_ml_h", "mL/h", "Crystalloid bolus infusion (timed)"),
    Symbol("pressor_ug_kg_min", "ug/kg/min", "Phenylephrine infusion"),
    Symbol("oxygen_l_min", "L/min", "Supplemental oxygen"),
    Symbol("acetaminophen", "1", "Scheduled acetaminophen (1 = on)"),
    Symbol("nsaid", "1", "Scheduled NSAID, e.g. indomethacin (1 = on)"),
    Symbol("antiemetic", "1", "Antiemetic, e.g. ondansetron (1 = on)"),
    Symbol("antidiarrheal", "1", "Antidiarrhoeal, e.g. loperamide (1 = on)"),
    Symbol("meperidine", "1", "Meperidine for rigors (1 = on)"),
)

DERIVED: tuple[Symbol, ...] = DECLARATION.derived
ALGEBRAICS: tuple[tuple[str, str], ...] = DECLARATION.algebraics
RATES: dict[str, str] = dict(DECLARATION.rates)
OBSERVABLES: tuple[tuple[Symbol, str], ...] = DECLARATION.observables

# States that may be negative by construction (deviations from rest); all others are >= 0.
SIGNED_STATES = ("sympathetic", "renal_hormones")

# States that count from t = 0 (reset after the run-in).
RESET_AT_T0 = ("urine_cumulative", "fluid_in_cumulative", "diarrhea_cumulative")

# Where an administration of ``amount`` IU goes: route -> state id -> expression. An IV bolus is a jump;
# an IV infusion is the control ``drug_iv_rate`` (split the same way inside the rates); an SC dose enters
# the depot (declared with the pk mechanism).
DOSE_TARGETS: dict[str, dict[str, str]] = {k: dict(v) for k, v in DECLARATION.dose_targets.items()}
