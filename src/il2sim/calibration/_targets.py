"""Calibration targets: the pivotal high-dose trials and the label's adverse-reaction table.

The packaged ``data/targets.toml`` is a copy of the project's reference file
(``shared/reference/calibration-targets.toml``): response rates per indication
(Atkins 1999, melanoma n = 270; Fyfe 1995 / Fisher 1997, RCC n = 255), the
median doses received in the first course (label), and the label Table III
any-grade incidences (n = 525, both indications pooled).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..analysis import wilson_interval
from ..analysis._adverse import LABEL_MAPPING

__all__ = ["FITTED_TERMS", "LISTED_TERMS", "Target", "load_targets"]

#: Incidences the issue lists (each to land within 10 percentage points).
LISTED_TERMS = ("hypotension", "diarrhea", "oliguria", "chills", "vomiting", "dyspnea", "rash", "nausea",
                "confusion", "creatinine_increased")
#: Label terms il2sim scores directly (not proxies) that calibration matches: the listed ones plus
#: fever, edema and weight gain (the label's other terms the model speaks to).
FITTED_TERMS = LISTED_TERMS + ("fever", "edema", "weight_gain")


@dataclass(frozen=True)
class Target:
    """One calibration target.

    ``key`` is ``"<kind>:<name>"`` (``response:orr``, ``ae:hypotension``,
    ``doses:median``); ``indication`` is ``None`` for pooled targets.
    """

    key: str
    indication: str | None
    value: float
    n: int
    source: str

    @property
    def se(self) -> float:
        """Binomial standard error at the published n (for a rate)."""
        return math.sqrt(max(self.value * (1 - self.value), 1e-4) / self.n)

    def interval(self) -> tuple[float, float]:
        """Wilson 95 % interval of the published rate at its n."""
        return wilson_interval(self.value * self.n, self.n)


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    return tomllib.loads((resources.files("il2sim.calibration") / "data" / "targets.toml").read_text())


def load_targets() -> Mapping[str, Any]:
    """The packaged targets as ``{"response": [...], "doses": {...}, "ae": [...], "raw": {...}}``."""
    raw = _raw()
    response = []
    for ind in ("melanoma", "rcc"):
        r = raw["response"][ind]
        for k in ("orr", "cr", "pr"):
            response.append(Target(f"response:{k}", ind, float(r[k]), int(r["n"]), str(r["source"])))
    doses = {ind: Target("doses:median", ind, float(raw["doses_first_course"][ind]),
                         int(raw["response"][ind]["n"]), str(raw["doses_first_course"]["source"]))
             for ind in ("melanoma", "rcc")}
    ae_raw = raw["adverse_events_any_grade"]
    ae = []
    for term in FITTED_TERMS:
        rule = LABEL_MAPPING[term]
        key = rule.label_term.lower().replace(" ", "_") if rule.label_term else term
        value = ae_raw.get(term, ae_raw.get(key))
        if value is None:
            raise KeyError(f"targets.toml has no incidence for {term}")
        ae.append(Target(f"ae:{term}", None, float(value), int(ae_raw["n"]), str(ae_raw["source"])))
    return {"response": response, "doses": doses, "ae": ae, "raw": raw}
