"""States that mean the patient would have died, or the model has left the domain it was built for.

The model has no death and no mechanism for what happens beyond these
states (multi-organ failure, cardiac arrest). A run that reaches one is not a
"success": :func:`out_of_domain` names the limits reached, ``summary.json``
records them under ``status``, the trial table under ``out_of_domain`` and the
trial summary counts them (``n_out_of_domain``). The thresholds are
deliberately extreme, so that a patient flagged here is one no clinician would
expect to survive untreated, not a borderline case; each states its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DOMAIN_LIMITS", "DomainLimit", "out_of_domain"]


@dataclass(frozen=True)
class DomainLimit:
    """One limit: an id, what it means in clinical words, its source and the test on a time course."""

    id: str
    description: str
    source: str
    evidence: str
    reached: Callable[[np.ndarray, Mapping[str, np.ndarray], Mapping[str, np.ndarray]], bool]


def _longest_run_h(t: np.ndarray, mask: np.ndarray) -> float:
    """Longest stretch of consecutive output times where ``mask`` holds, h."""
    best, start = 0.0, None
    for k in range(len(t)):
        if mask[k]:
            start = t[k] if start is None else start
            best = max(best, float(t[k] - start))
        else:
            start = None
    return best


#: Profound shock: MAP below this for at least PROFOUND_SHOCK_H hours in a row.
PROFOUND_SHOCK_MAP_MMHG = 40.0
PROFOUND_SHOCK_H = 1.0
#: Plasma volume below this fraction of its pre-treatment value.
PLASMA_VOLUME_FLOOR = 0.4


def _profound_shock(t: np.ndarray, obs: Mapping[str, np.ndarray], _s: Mapping[str, np.ndarray]) -> bool:
    m = np.asarray(obs["map_mmhg"], dtype=float)
    return _longest_run_h(t, m < PROFOUND_SHOCK_MAP_MMHG) >= PROFOUND_SHOCK_H - 1e-9


def _plasma_loss(t: np.ndarray, obs: Mapping[str, np.ndarray], _s: Mapping[str, np.ndarray]) -> bool:
    pv = np.asarray(obs["plasma_volume_l"], dtype=float)
    return bool(len(pv)) and bool(np.any(pv < PLASMA_VOLUME_FLOOR * pv[0]))


_NON_NEGATIVE = ("plasma_volume", "interstitial_volume", "plasma_protein", "interstitial_protein", "creatinine",
                 "drug_central", "drug_peripheral", "il2_endogenous")


def _negative_state(t: np.ndarray, _o: Mapping[str, np.ndarray], states: Mapping[str, np.ndarray]) -> bool:
    return any(np.any(np.asarray(states[s]) < -1e-6 * max(1.0, float(np.max(np.abs(states[s])))))
               for s in _NON_NEGATIVE if s in states)


DOMAIN_LIMITS: tuple[DomainLimit, ...] = (
    DomainLimit("profound_shock",
                f"mean arterial pressure below {PROFOUND_SHOCK_MAP_MMHG:g} mmHg for {PROFOUND_SHOCK_H:g} h or more",
                "il2sim assumption: far below the MAP 65 mmHg resuscitation target of septic-shock care (Surviving "
                "Sepsis Campaign, recalled); sustained, such pressures do not perfuse brain, heart or kidney",
                "assumption", _profound_shock),
    DomainLimit("plasma_volume_loss",
                f"plasma volume below {100 * PLASMA_VOLUME_FLOOR:g} % of its pre-treatment value",
                "il2sim assumption: beyond the ATLS haemorrhage classes (a loss of more than 40 % of the circulating "
                "volume is class IV, immediately life-threatening; recalled), set at a loss of 60 % because capillary "
                "leak under IL-2 lowers plasma volume with the pressure held up by care (calibrated patients under "
                "the pivotal protocol reach about 50 % of baseline with MAP above 50 mmHg)",
                "assumption", _plasma_loss),
    DomainLimit("negative_state",
                "a volume, protein mass, creatinine or drug amount below zero (the model left its domain)",
                "definition", "definition", _negative_state),
)
"""The limits, in the order they are reported."""


def out_of_domain(result: Any) -> tuple[str, ...]:
    """Ids of the :data:`DOMAIN_LIMITS` a simulated course reached (empty: none)."""
    t = np.asarray(result.t, dtype=float)
    if not len(t):
        return ()
    states = {sid: result.y[:, k] for k, sid in enumerate(result.individual.model.compiled.state_ids)}
    obs = result.observables
    return tuple(limit.id for limit in DOMAIN_LIMITS if limit.reached(t, obs, states))
