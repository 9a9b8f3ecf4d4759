"""Receptors and signalling: IL-2 binding by CD25 state, the pSTAT5-like signal, its responses, consumption.

Quasi-steady-state competitive binding of drug and endogenous IL-2 to high-affinity (IL-2Ra/b/gc),
intermediate-affinity (IL-2Rb/gc) and CD25-only (endothelial) sites. A cell's high-affinity sites number
CD25*CD122/(CD25 + CD122) (never more than either chain); the rest of its CD122 forms intermediate sites.
Each IL-2-responsive cell type has a resting and an activated (CD25-induced) state. The signal of a state
is the fraction of its CD122 in signalling complexes; proliferation, activation and IFN-gamma output are
Hill functions of it, averaged over the states. Internalised complexes clear IL-2 (receptor-mediated
clearance, growing as the cells expand).
"""

from __future__ import annotations

from ._base import IL2_RESPONSIVE, Mechanism, RestContext, Symbol

_derived = (
    Symbol("kd_alpha_drug", "pM", "Drug Kd for CD25 alone"),
    Symbol("kd_intermediate_drug", "pM", "Drug Kd for IL-2Rb/gc"),
    Symbol("kd_high_drug", "pM", "Drug Kd for IL-2Ra/b/gc"),
)

_alg: list[tuple[str, str]] = [
    ("xh_d", "c_drug * pm_per_iu_per_ml / kd_high_drug"),
    ("xh_e", "c_endo * pm_per_iu_per_ml / kd_high"),
    ("xi_d", "c_drug * pm_per_iu_per_ml / kd_intermediate_drug"),
    ("xi_e", "c_endo * pm_per_iu_per_ml / kd_intermediate"),
    ("xa_d", "c_drug * pm_per_iu_per_ml / kd_alpha_drug"),
    ("xa_e", "c_endo * pm_per_iu_per_ml / kd_alpha"),
    # competitive quasi-steady-state occupancy of each receptor class
    ("occ_high_drug", "xh_d / (1 + xh_d + xh_e)"),
    ("occ_high_endo", "xh_e / (1 + xh_d + xh_e)"),
    ("occ_int_drug", "xi_d / (1 + xi_d + xi_e)"),
    ("occ_int_endo", "xi_e / (1 + xi_d + xi_e)"),
    ("occ_high", "occ_high_drug + occ_high_endo"),
    ("occ_int", "occ_int_drug + occ_int_endo"),
    ("occ_endothelial", "(xa_d + xa_e) / (1 + xa_d + xa_e)"),
]


def state_mean(x: str, half: str) -> str:
    """Cell type ``x``'s pool mean of a Hill response with half-maximum ``half`` (fraction of CD122 bound)."""
    return (f"((1 - {x}_activation) * {x}_sh_r / (pow({half}, signal_hill) + {x}_sh_r)"
            f" + {x}_activation * {x}_sh_a / (pow({half}, signal_hill) + {x}_sh_a))")


for _x in IL2_RESPONSIVE:
    # Two CD25 states per cell type: resting cells carry {x}_cd25, activated cells (the fraction {x}_activation)
    # {x}_cd25 + {x}_cd25_induced. Each state has its own high-affinity sites (never more than either chain:
    # n_high = a*b/(a+b)) and signal; responses are Hill functions of each state's fraction of CD122 in
    # signalling complexes, averaged over the states (averaging the receptors instead would make every cell
    # of a pool a picomolar responder).
    for _st, _cd25 in (("r", f"{_x}_cd25"), ("a", f"({_x}_cd25 + {_x}_cd25_induced)")):
        _alg += [
            (f"{_x}_n_high_{_st}", f"{_cd25} * {_x}_cd122 / ({_cd25} + {_x}_cd122)"),
            (f"{_x}_sig_{_st}_drug", f"{_x}_n_high_{_st} * occ_high_drug + ({_x}_cd122 - {_x}_n_high_{_st}) * occ_int_drug"),
            (f"{_x}_sig_{_st}_endo", f"{_x}_n_high_{_st} * occ_high_endo + ({_x}_cd122 - {_x}_n_high_{_st}) * occ_int_endo"),
            # the pSTAT5-like signal: the fraction of the cell's CD122 in signalling complexes
            (f"{_x}_sh_{_st}", f"pow(max({_x}_sig_{_st}_drug + {_x}_sig_{_st}_endo, 0) / {_x}_cd122, signal_hill)"),
        ]
    _alg += [
        (f"{_x}_signal_drug", f"(1 - {_x}_activation) * {_x}_sig_r_drug + {_x}_activation * {_x}_sig_a_drug"),
        (f"{_x}_signal_endo", f"(1 - {_x}_activation) * {_x}_sig_r_endo + {_x}_activation * {_x}_sig_a_endo"),
        (f"{_x}_signal", f"{_x}_signal_drug + {_x}_signal_endo"),
        (f"{_x}_prolif", f"{_x}_prolif_max * {state_mean(_x, 'signal_half_proliferation')}"),
        # what activates a resting cell is its own (CD25-low) signal
        (f"{_x}_stim", f"{_x}_sh_r / (pow(signal_half_activation, signal_hill) + {_x}_sh_r)"),
        (f"{_x}_ifng_stim", state_mean(_x, "ifng_signal_half")),
    ]
_alg += [
    # receptor-mediated clearance: internalised signalling complexes (IU/h)
    ("rmc_drug", "drug_receptor_clearance * rmc_accessible_fraction * k_internalization * 1e9 / molecules_per_iu * ("
     + " + ".join(f"{x}_total * {x}_signal_drug" for x in IL2_RESPONSIVE) + ")"),
    ("rmc_endo", "rmc_accessible_fraction * k_internalization * 1e9 / molecules_per_iu * ("
     + " + ".join(f"{x}_total * {x}_signal_endo" for x in IL2_RESPONSIVE) + ")"),
]

_observables = [
    (Symbol("endothelial_cd25_occupancy", "1", "Fraction of endothelial CD25 bound by IL-2 (leak drive, Krieg 2010)"),
     "occ_endothelial"),
]
_observables += [
    (Symbol(f"{x}_signal_complexes", "complexes/cell", f"IL-2-bound signalling receptors per {name}"), f"{x}_signal")
    for x, name in (("cd8", "CD8 T cell"), ("nk", "NK cell"), ("treg", "regulatory T cell"), ("cd4", "CD4 helper T cell"))
]


def _constants(ctx: RestContext) -> None:
    v, d = ctx.v, ctx.d
    d["kd_alpha_drug"] = v["kd_alpha"] * v["kd_fold_alpha"]
    d["kd_intermediate_drug"] = v["kd_intermediate"] * v["kd_fold_beta"]
    # The high-affinity (alpha-beta-gamma) site binds by two routes whose association constants add: through
    # CD25 and then beta-gamma (the part of 1/kd_high beyond the direct route; weakened by both folds), and
    # straight onto beta-gamma as at an intermediate site (weakened by the beta fold only). For IL-2 (folds 1)
    # the sum is 1/kd_high exactly; a CD25-blind molecule (kd_fold_alpha -> inf) is left with the beta-gamma
    # route, so it still signals through CD122 on CD25-positive cells instead of being blocked by CD25.
    k_via_alpha = max(1.0 / v["kd_high"] - 1.0 / v["kd_intermediate"], 0.0)
    d["kd_high_drug"] = 1.0 / (k_via_alpha / (v["kd_fold_alpha"] * v["kd_fold_beta"])
                               + 1.0 / (v["kd_intermediate"] * v["kd_fold_beta"]))


MECHANISM = Mechanism(
    name="receptors",
    summary="IL-2 binding by receptor chain and CD25 state, the pSTAT5-like signal and its responses, consumption",
    derived=_derived, algebraics=tuple(_alg), observables=tuple(_observables), constants=_constants,
)
