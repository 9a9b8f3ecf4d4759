"""Local identifiability of the stage-1 fitted parameters of `il2sim calibrate` (issue 15).

Usage: python tools/identifiability.py [--out DIR] [--patients 150] [--factor 1.2] [--workers 2]

For each population-level parameter that `il2sim calibrate` fits (FIT_PARAMETERS), the fit cohort (the same prior
patients, common random numbers, the label high-dose regimen under the pivotal rules with care, 52 weeks) is
simulated at the shipped values and with that one parameter multiplied by ``--factor``. The finite differences give
the sensitivity matrix S[target, parameter] = d logit(rate) / d log(parameter) over every stage-1 target (each
indication's response, CR and PR rates and half-at-or-below-median doses, and the label incidences), scaled by each
target's published standard error on the logit scale so that S reads "standard errors moved per unit log change".

Reported (Brun, Reichert and Kuensch 2001, Water Resour Res 37:1015, read as the method's usual definitions, not
re-checked here):
- delta_msqr: each parameter's importance, the root-mean-square of its column;
- the collinearity index gamma = 1 / sqrt(smallest eigenvalue of S_n^T S_n), S_n with unit-norm columns, for the
  whole fitted set and for each parameter with the others (gamma of the set without it); gamma above about 10-15
  marks a set whose parameters compensate one another (not identifiable together from these targets).

Writes OUT/identifiability.json and OUT/identifiability.md (the tables docs/calibration.md quotes) and prints the
markdown. About 26 cohorts of 150 patients: 15-20 min on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from il2sim.calibration._pipeline import (
    FIT_PARAMETERS,
    INDICATIONS,
    CalibrationSettings,
    _cohort,
    _prior_values,
    _stage1_features,
)
from il2sim.calibration._targets import load_targets
from il2sim.model import default_model


def _targets(targets) -> list[tuple[str, str | None, float, int]]:
    """(feature, indication or None for pooled, published value, n) of every stage-1 target."""
    out = []
    for t in targets["response"]:
        out.append((t.key, t.indication, t.value, t.n))
    for ind, t in targets["doses"].items():
        out.append(("doses:at_most_median", ind, 0.5, t.n))
    for t in targets["ae"]:
        if t.key in {p.target for p in FIT_PARAMETERS}:
            out.append((t.key, None, t.value, t.n))
    return out


def _logit(p: float, n: int) -> float:
    p = min(max(p, 0.5 / n), 1 - 0.5 / n)
    return math.log(p / (1 - p))


def _rates(feats, tlist, n_sim):
    return np.array([_logit(float(feats[ind][key].mean()), n_sim) for key, ind, _, _ in tlist])


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="identifiability-output")
    ap.add_argument("--patients", type=int, default=150)
    ap.add_argument("--factor", type=float, default=1.2)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args(argv)
    out = Path(a.out)
    settings = CalibrationSettings(fit_patients=a.patients, workers=a.workers)
    targets = load_targets()
    tlist = _targets(targets)
    base_values = {ind: _prior_values(ind) for ind in INDICATIONS}

    def run(tag: str, values: dict[str, dict[str, float]], only: str | None = None):
        rows = {}
        for ind in INDICATIONS:
            if only is not None and ind != only:
                rows[ind] = base_rows[ind]
                continue
            rows[ind] = _cohort(out / tag / ind, ind, a.patients, settings.seed + 1, values[ind], settings, print)
        return _stage1_features(rows, targets), rows

    base_rows: dict = {}
    base_feats, base_rows = run("base", base_values)
    n_sim = {None: 2 * a.patients, "melanoma": a.patients, "rcc": a.patients}
    base = np.array([_logit(float(base_feats[ind][key].mean()), n_sim[ind]) for key, ind, _, _ in tlist])
    # each target's standard error on the logit scale at its published n: 1 / sqrt(n p (1 - p))
    se = np.array([1.0 / math.sqrt(n * min(max(v, 0.02), 0.98) * (1 - min(max(v, 0.02), 0.98)))
                   for _, _, v, n in tlist])
    columns, names = [], []
    for p in FIT_PARAMETERS:
        values = {ind: dict(v) for ind, v in base_values.items()}
        for ind in ([p.indication] if p.indication else INDICATIONS):
            values[ind][p.name] *= a.factor
        tag = f"{p.name}-{p.indication or 'both'}"
        feats, _ = run(tag, values, only=p.indication)
        sim = np.array([_logit(float(feats[ind][key].mean()), n_sim[ind]) for key, ind, _, _ in tlist])
        columns.append((sim - base) / math.log(a.factor) / se)
        names.append(tag)
    S = np.column_stack(columns)
    importance = np.sqrt(np.mean(S ** 2, axis=0))

    def gamma(cols: list[int]) -> float:
        sub = S[:, cols]
        norms = np.linalg.norm(sub, axis=0)
        if np.any(norms == 0):
            return math.inf
        sn = sub / norms
        ev = np.linalg.eigvalsh(sn.T @ sn)
        return float(1.0 / math.sqrt(max(ev.min(), 1e-300)))

    all_cols = list(range(len(names)))
    g_all = gamma(all_cols)
    rows_md = ["| parameter | target it is paired with | its largest effect (SE per log unit) | delta_msqr | "
               "gamma of the others without it |", "|---|---|---|---|---|"]
    records = []
    for j, p in enumerate(FIT_PARAMETERS):
        k = int(np.argmax(np.abs(S[:, j])))
        tk = f"{tlist[k][0]} ({tlist[k][1] or 'pooled'})"
        g_wo = gamma([c for c in all_cols if c != j])
        rows_md.append(f"| `{p.name}` ({p.indication or 'both'}) | {p.target} | {tk}: {S[k, j]:+.2f} | "
                       f"{importance[j]:.2f} | {g_wo:.1f} |")
        records.append({"parameter": p.name, "indication": p.indication or "both", "paired_target": p.target,
                        "largest_effect_target": tk, "largest_effect": float(S[k, j]),
                        "delta_msqr": float(importance[j]), "gamma_without": g_wo,
                        "column": {f"{t[0]}|{t[1] or 'pooled'}": float(x) for t, x in zip(tlist, S[:, j])}})
    md = "\n".join([
        f"Model `{default_model().hash[:16]}`; {a.patients} prior patients per indication (seed "
        f"{settings.seed + 1}, common random numbers), each fitted parameter x{a.factor}; "
        f"{len(tlist)} targets, {len(names)} fitted parameters.", "",
        f"Collinearity index of the whole fitted set: **gamma = {g_all:.1f}**.", "", *rows_md, ""])
    out.mkdir(parents=True, exist_ok=True)
    (out / "identifiability.md").write_text(md)
    (out / "identifiability.json").write_text(json.dumps(
        {"model_hash": default_model().hash, "patients": a.patients, "factor": a.factor, "gamma_all": g_all,
         "targets": [f"{t[0]}|{t[1] or 'pooled'}" for t in tlist], "parameters": records}, indent=1) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
