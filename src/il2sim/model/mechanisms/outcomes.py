"""Death laws: disease-related death from tumour burden, treatment-related death from refractory shock.

Two death indices; a patient dies when either reaches 1 (the engines end the run there, the analysis dates
the death by interpolation). Disease: the whole-body tumour burden (the modelled disease times the ratio
of all disease to the modelled part) over a lethal burden, drawn per patient. Treatment: the cumulative
perfusion deficit, mean arterial pressure below the shock threshold integrated over time, over a tolerance
drawn per patient (the patient's reserve: a lognormal tolerance gives a log-probit chance of death for a
given exposure).
"""

from __future__ import annotations

from ._base import Mechanism, RestContext, StateSpec, Symbol

_states = (
    StateSpec("perfusion_deficit", "mmHg h", "Mean arterial pressure deficit below the shock threshold, integrated since t = 0"),
)
_alg = (
    ("tumour_burden_total", "tumour_volume * tumour_burden_multiplier"),
)
_rates = {"perfusion_deficit": "max(shock_map_threshold - map, 0)"}
_observables = (
    (Symbol("tumour_burden_ml", "mL", "Whole-body tumour burden (modelled disease times the burden multiplier)"),
     "tumour_burden_total"),
    (Symbol("death_index_disease", "1", "Tumour burden over the patient's lethal burden (death at 1)"),
     "tumour_burden_total / lethal_tumour_burden"),
    (Symbol("death_index_treatment", "1", "Perfusion deficit over the patient's tolerance of shock (death at 1)"),
     "perfusion_deficit / shock_tolerance"),
)


def _constants(ctx: RestContext) -> None:
    ctx.set("perfusion_deficit", 0.0)


MECHANISM = Mechanism(
    name="outcomes",
    summary="Death laws: tumour burden and refractory shock",
    states=_states, algebraics=_alg, rates=_rates, observables=_observables, constants=_constants,
)
