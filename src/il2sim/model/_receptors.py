"""Receptor chemistry read off the model: signal per cell and its EC50, for each cell type and CD25 state.

These functions evaluate the generated algebraics (the one declaration of the
equations) at a chosen drug concentration with no endogenous IL-2, so they are
what the engines integrate, not a second copy of the binding equations. They
answer the in-vitro question "at what IL-2 concentration does this cell reach
half-maximal pSTAT5?", the number to compare with published PBMC dose
responses (docs/validation.md).
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import UserError
from ._patient import IndividualModel, Patient, derive_constants
from ._spec import IL2_RESPONSIVE

__all__ = ["CD25_STATES", "signal_ec50", "signal_fraction"]

#: The CD25 states of each IL-2-responsive cell type: resting (CD25-low) and activated (CD25 induced).
CD25_STATES = ("resting", "activated")
_STATE_KEY = {"resting": "r", "activated": "a"}


def _individual(patient: Patient | IndividualModel) -> IndividualModel:
    return patient if isinstance(patient, IndividualModel) else derive_constants(patient)


def _check(cell: str, state: str) -> None:
    if cell not in IL2_RESPONSIVE:
        raise UserError("cell", cell, "one of " + ", ".join(IL2_RESPONSIVE))
    if state not in CD25_STATES:
        raise UserError("state", state, "one of " + ", ".join(CD25_STATES))


def signal_fraction(patient: Patient | IndividualModel, cell: str, state: str, conc_pm: float) -> float:
    """Fraction of a cell's CD122 in drug-bound signalling complexes at a drug concentration (the pSTAT5-like signal).

    Parameters
    ----------
    patient
        A patient (its model and molecule parameters) or its individual model.
    cell
        One of ``cd8``, ``nk``, ``treg``, ``cd4``.
    state
        ``"resting"`` (CD25 as at rest) or ``"activated"`` (with the induced CD25).
    conc_pm
        Free drug concentration, pM; no endogenous IL-2.
    """
    _check(cell, state)
    ind = _individual(patient)
    cm = ind.model.compiled
    p = ind.named_parameters()
    y = ind.y_baseline.copy()
    y[cm.state_index("il2_endogenous")] = 0.0
    y[cm.state_index("drug_central")] = float(conc_pm) / p["pm_per_iu_per_ml"] * p["v1"] * 1000.0
    alg, _, _ = cm.evaluate(0.0, y.reshape(-1, 1), ind.p, (0.0,) * len(cm.control_names))
    complexes = float(np.asarray(alg[f"{cell}_sig_{_STATE_KEY[state]}_drug"]).reshape(-1)[0])
    return complexes / p[f"{cell}_cd122"]


def signal_ec50(patient: Patient | IndividualModel, cell: str, state: str = "resting", *,
                half: str = "signal_half_activation", rtol: float = 1e-9) -> float:
    """The drug concentration (pM) at which a cell's signal reaches a response's half-maximum.

    By default the half-maximum of activation (``signal_half_activation``),
    the pSTAT5 EC50; ``half="signal_half_proliferation"`` or
    ``"ifng_signal_half"`` for the others. Found by bisection on a log scale
    (the signal rises monotonically with concentration); ``inf`` when even
    1 mM does not reach it.
    """
    ind = _individual(patient)
    target = ind.named_parameters()[half]
    lo, hi = 1e-6, 1e9
    if signal_fraction(ind, cell, state, hi) < target:
        return math.inf
    while hi / lo > 1.0 + rtol:
        mid = math.sqrt(lo * hi)
        if signal_fraction(ind, cell, state, mid) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)
