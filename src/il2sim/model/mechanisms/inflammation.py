"""Inflammation: an IFN-gamma/TNF-like mediator from IL-2-signalling NK and CD8 cells, and the endothelium.

The mediator is produced by NK and CD8 cells in proportion to their numbers, activation and strong IL-2
signal (``ifng_stim``) and eliminated first-order. Endothelial activation (adhesion molecules, the leak
drive) rises with the mediator and with IL-2 bound to endothelial CD25 (Krieg 2010), and recovers
first-order; it is small but non-zero at rest.
"""

from __future__ import annotations

from ..._errors import UserError
from ._base import Mechanism, RestContext, StateSpec, Symbol

_states = (
    StateSpec("ifng", "pg/mL", "Serum IFN-gamma-like inflammatory mediator"),
    StateSpec("endothelial_activation", "1", "Endothelial activation (adhesion molecules, leak drive; small but non-zero at rest)"),
)
_derived = (
    Symbol("ifng_basal_production", "pg/mL/h", "Basal IFN-gamma production (keeps the baseline steady)"),
    Symbol("ea_baseline", "1", "Endothelial activation before treatment"),
)
_alg = (
    # IFN-gamma-like mediator from IL-2-signalling NK and CD8 cells
    ("ifng_drive", "nk_total / nk_total_baseline * nk_ifng_stim * (ifng_resting_output + nk_activation)"
     " + ifng_cd8_weight * cd8_total / cd8_total_baseline * cd8_ifng_stim * (ifng_resting_output + cd8_activation)"),
    ("ea_drive", "ifng / (ifng + ea_ifng_half) + ea_cd25_weight * occ_endothelial"),
)
_rates = {
    "ifng": "ifng_basal_production + ifng_production * ifng_drive - ifng_elimination * ifng",
    "endothelial_activation": "ea_on_rate * ea_drive - ea_off_rate * endothelial_activation",
}
_observables = ((Symbol("ifng_pg_per_ml", "pg/mL", "Serum IFN-gamma-like mediator"), "ifng"),)


def _constants(ctx: RestContext) -> None:
    ctx.d["ifng_basal_production"] = 0.0
    ctx.d["ea_baseline"] = 0.0
    ctx.set("ifng", ctx.v["ifng_baseline"])


def _balance(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    alg = ctx.algebraics()
    basal = v["ifng_elimination"] * v["ifng_baseline"] - v["ifng_production"] * float(alg["ifng_drive"])
    if basal < 0:
        raise UserError("ifng_baseline", v["ifng_baseline"], "a level the baseline IL-2 signal does not exceed")
    d["ifng_basal_production"] = basal
    d["ea_baseline"] = v["ea_on_rate"] * float(alg["ea_drive"]) / v["ea_off_rate"]
    ctx.set("endothelial_activation", d["ea_baseline"])


MECHANISM = Mechanism(
    name="inflammation",
    summary="The IFN-gamma-like mediator and endothelial activation",
    states=_states, derived=_derived, algebraics=_alg, rates=_rates, observables=_observables,
    constants=_constants, balance=_balance,
)
