"""The scoring rules of the registry, on plain numbers (no simulation).

``score(rule, published, simulated)`` returns ``(passed, note)``:

* ``interval_overlap``: the simulated 95 % interval overlaps the published
  ``[lo, hi]`` (an interval end the estimate does not reach counts as open:
  a Kaplan-Meier median whose band never falls to 0.5 has no upper end);
* ``within``: ``|simulated - value| <= tolerance``;
* ``at_least``: ``simulated >= at_least``; a Kaplan-Meier median that is
  not reached within the follow-up passes;
* ``difference_within``: as ``within``, for a difference between two arms.

A statistic with nothing to compute it on (no responders) misses, and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Simulated", "score"]

_EPS = 1e-12


@dataclass(frozen=True)
class Simulated:
    """A simulated statistic: its value (``None``: not estimable or not reached), its 95 % interval, its n."""

    value: float | None
    lo: float | None = None
    hi: float | None = None
    n: int = 0
    not_reached: bool = False


def score(rule: str, published: dict[str, float], sim: Simulated) -> tuple[bool, str]:
    """``(passed, note)`` of ``sim`` against ``published`` (keys value, lo, hi, at_least, tolerance) by ``rule``."""
    if rule == "at_least":
        if sim.not_reached:
            return True, "median not reached within the follow-up"
        if sim.value is None:
            return False, "not estimable (no patients to compute it on)"
        return sim.value >= published["at_least"] - _EPS, ""
    if sim.value is None:
        return False, "median not reached within the follow-up" if sim.not_reached else \
            "not estimable (no patients to compute it on)"
    if rule == "interval_overlap":
        a = sim.lo if sim.lo is not None else sim.value
        b = sim.hi if sim.hi is not None else math.inf
        return (a <= published["hi"] + _EPS and b >= published["lo"] - _EPS), ""
    if rule in ("within", "difference_within"):
        return abs(sim.value - published["value"]) <= published["tolerance"] + _EPS, ""
    raise ValueError(f"unknown rule {rule!r}")
