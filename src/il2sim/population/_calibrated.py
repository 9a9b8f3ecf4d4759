"""Calibrated virtual populations: a weighted pool of plausible patients shipped with the package.

``il2sim calibrate`` draws a pool of plausible patients, simulates each on the
label high-dose regimen under the ``pivotal`` rules, and gives each a weight so
that the weighted pool reproduces the pivotal trials' response, dose and
toxicity rates (maximum-entropy weights; see :mod:`il2sim.calibration`). The
pool ships as one Parquet table per indication plus one JSON provenance file
(model hash, targets, method, seed, effective sample size).

A trial draws patient ``i`` from the pool with probability proportional to the
weights, from the patient's own random stream
(``SeedSequence(seed, spawn_key=(i,))``), so patient ``i`` is the same whatever
the trial size, chunking or worker. The outcomes are not drawn: the chosen pool
patient's parameters and covariates are simulated afresh on whatever regimen
and rules the trial uses.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import UserError
from ..model import Covariates, Model, Patient, default_model
from ..model._spec import MAX_LESIONS

__all__ = ["CalibratedPool", "choose_index", "load_pool", "pool_path", "POOL_FORMAT"]

#: Version of the pool file layout (not of the calibration).
POOL_FORMAT = 1
_META = "calibrated.json"

#: Columns of a pool table that are not parameters.
COVARIATE_COLUMNS = ("pool_index", "weight", "weight_kg", "nephrectomy", "n_target_lesions") + tuple(
    f"lesion_{k}_mm" for k in range(1, MAX_LESIONS + 1))


class CalibrationWarning(UserWarning):
    """The shipped calibrated population was made for another model version."""


@dataclass(frozen=True)
class CalibratedPool:
    """One indication's weighted pool.

    Attributes
    ----------
    indication
        ``melanoma`` or ``rcc``.
    parameters
        ``(n, k)`` parameter values of the pool patients, columns ``names``.
    names
        Parameter names (table rows), in column order.
    covariates
        One :class:`~il2sim.model.Covariates` per pool patient.
    weights
        Normalised calibration weights (sum 1).
    meta
        The provenance record (the whole ``calibrated.json``).
    """

    indication: str
    names: tuple[str, ...]
    parameters: np.ndarray
    covariates: tuple[Covariates, ...]
    weights: np.ndarray
    meta: Mapping[str, Any]
    cdf: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cdf", np.cumsum(self.weights))  # once, not per draw

    def __len__(self) -> int:
        return len(self.weights)

    @property
    def effective_sample_size(self) -> float:
        """Kish effective sample size of the weights, ``1 / sum(w^2)``."""
        return float(1.0 / np.sum(self.weights ** 2))

    def patient(self, k: int, patient_id: int, model: Model | None = None) -> Patient:
        """Pool patient ``k`` as trial patient ``patient_id`` (a patient of ``model``, default the packaged one)."""
        values = {n: float(v) for n, v in zip(self.names, self.parameters[k])}
        return Patient(indication=self.indication, parameters=values, patient_id=int(patient_id),
                       covariates=self.covariates[k], model=model or default_model())

    @property
    def calibrated_parameters(self) -> tuple[str, ...]:
        """Parameters the pool was calibrated on: its columns (drawn and weighted) and the stage-1 fitted values."""
        fitted = [str(f["name"]) for f in self.meta.get("fitted_parameters", [])]
        return tuple(dict.fromkeys([*self.names, *fitted]))

    def choose(self, rng: np.random.Generator) -> int:
        """A pool index drawn with probability proportional to the weights."""
        return choose_index(self.cdf, rng)


def choose_index(cdf: np.ndarray, rng: np.random.Generator) -> int:
    """An index drawn from cumulative weights ``cdf`` (one uniform number from ``rng``)."""
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(cdf) - 1))


def pool_path(directory: str | Path | None = None) -> Any:
    """The directory holding the pool files (the package's own unless ``directory`` is given)."""
    if directory is not None:
        return Path(directory)
    return resources.files("il2sim.population") / "data"


def read_meta(directory: str | Path | None = None) -> dict[str, Any] | None:
    """The provenance record of the pool in ``directory`` (``None`` when there is none)."""
    f = pool_path(directory) / _META
    if not f.is_file():
        return None
    return json.loads(f.read_text())


def pool_from_frame(indication: str, frame, meta: Mapping[str, Any]) -> CalibratedPool:
    """Build a pool from its table (``pandas.DataFrame``) and provenance."""
    table = default_model().table
    names = tuple(c for c in frame.columns if c not in COVARIATE_COLUMNS and not c.startswith("outcome_"))
    unknown = [n for n in names if n not in table.parameters]
    if unknown:
        raise UserError("calibrated population", unknown[0], "columns naming parameters of this model")
    w = frame["weight"].to_numpy(dtype=float)
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
        raise UserError("calibrated population weights", "non-finite or negative", "finite weights >= 0")
    covs = []
    for row in frame.itertuples(index=False):
        r = row._asdict()
        n = int(r["n_target_lesions"])
        covs.append(Covariates(weight_kg=float(r["weight_kg"]), nephrectomy=bool(r["nephrectomy"]),
                               lesion_diameters_mm=tuple(float(r[f"lesion_{k}_mm"]) for k in range(1, n + 1))))
    return CalibratedPool(indication=indication, names=names,
                          parameters=frame[list(names)].to_numpy(dtype=float), covariates=tuple(covs),
                          weights=w / w.sum(), meta=dict(meta))


@lru_cache(maxsize=8)
def _load(indication: str, directory: str | None) -> CalibratedPool | None:
    import pandas as pd

    meta = read_meta(directory)
    if meta is None or indication not in meta.get("indications", {}):
        return None
    f = pool_path(directory) / meta["indications"][indication]["file"]
    with resources.as_file(f) as path:
        frame = pd.read_parquet(path)
    pool = pool_from_frame(indication, frame, meta)
    this = default_model().hash
    if meta.get("model_hash") != this:
        warnings.warn(f"the calibrated {indication} population was made for model {str(meta.get('model_hash'))[:12]}, "
                      f"this is model {this[:12]}: rerun `il2sim calibrate` (or use --population prior)",
                      CalibrationWarning, stacklevel=3)
    return pool


def load_pool(indication: str, directory: str | Path | None = None) -> CalibratedPool | None:
    """The calibrated pool of ``indication`` (``None`` if none ships)."""
    return _load(indication, None if directory is None else str(directory))


def frame_from_patients(patients: list[Patient], weights: np.ndarray | None = None):
    """The pool table of ``patients`` (parameters every patient sets, covariates, weights)."""
    import pandas as pd

    names = sorted(set().union(*(p.parameters for p in patients)))
    table_order = {n: i for i, n in enumerate(patients[0].model.table.parameters)}
    names.sort(key=table_order.__getitem__)
    rows = []
    for k, p in enumerate(patients):
        d = p.lesion_diameters()
        row: dict[str, Any] = {"pool_index": k, "weight": math.nan if weights is None else float(weights[k]),
                               "weight_kg": float(p.covariates.weight_kg), "nephrectomy": bool(p.covariates.nephrectomy),
                               "n_target_lesions": len(d)}
        for j in range(1, MAX_LESIONS + 1):
            row[f"lesion_{j}_mm"] = float(d[j - 1]) if j <= len(d) else math.nan
        vals = p.values()
        row.update({n: float(vals[n]) for n in names})
        rows.append(row)
    return pd.DataFrame(rows)
