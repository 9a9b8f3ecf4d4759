"""Which patient-level parameters the calibration targets inform (global sensitivity on the pool).

Each pool patient is a draw of every random effect (log-normal parameters) and
covariate; its simulated outcomes are the 0/1 features the targets are rates
of. SALib's RBD-FAST estimator on given data (Tarantola et al. 2006; Plischke
2010, recalled) gives the first-order index of each input for each outcome:
the fraction of the outcome's variance explained by that input alone, under the
prior (unweighted) pool. Inputs with indices near zero for every target are
not informed by the targets: their population distribution rests on the prior.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..population._calibrated import COVARIATE_COLUMNS

__all__ = ["pool_sensitivity"]


def pool_sensitivity(pool_file: str | Path, *, seed: int = 0, top: int = 3, m: int = 10) -> dict[str, Any]:
    """First-order RBD-FAST indices of the pool's varying inputs for each stored outcome."""
    from SALib.analyze import rbd_fast

    frame = pd.read_parquet(pool_file)
    params = [c for c in frame.columns if c not in COVARIATE_COLUMNS and not c.startswith("outcome_")]
    x = {c: np.log(frame[c].to_numpy(dtype=float)) for c in params if frame[c].std() > 1e-12 * abs(frame[c].mean())}
    lesions = frame[[c for c in frame.columns if c.startswith("lesion_")]].to_numpy(dtype=float)
    x["baseline_weight_kg"] = frame["weight_kg"].to_numpy(dtype=float)
    x["sum_of_diameters_mm"] = np.nansum(lesions, axis=1)
    names = list(x)
    X = np.column_stack([x[n] for n in names])
    problem = {"num_vars": len(names), "names": names,
               "bounds": [[float(X[:, j].min()), float(X[:, j].max())] for j in range(len(names))]}
    bor = frame["outcome_best_overall_response"]
    outcomes = {"response:orr": bor.isin(["CR", "PR"]).to_numpy(float), "response:cr": bor.eq("CR").to_numpy(float),
                "doses:first_course": frame["outcome_doses_first_course"].to_numpy(float)}
    for c in frame.columns:
        if c.startswith("outcome_reported_"):
            outcomes["ae:" + c[len("outcome_reported_"):]] = frame[c].to_numpy(float)
    result: dict[str, Any] = {"method": "SALib RBD-FAST (given data), first-order indices, prior pool",
                              "inputs": names, "indices": {}}
    for key, y in outcomes.items():
        if np.std(y) == 0:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            s = rbd_fast.analyze(problem, X, y, M=m, seed=seed, num_resamples=50, print_to_console=False)
        s1 = np.nan_to_num(np.asarray(s["S1"], dtype=float))
        order = np.argsort(-s1)
        result["indices"][key] = {"top": [[names[j], round(float(s1[j]), 3)] for j in order[:top]],
                                  "all": {names[j]: round(float(s1[j]), 4) for j in range(len(names))
                                          if math.isfinite(s1[j])}}
    return result
