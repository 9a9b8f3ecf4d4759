"""A deterministic, resumable virtual-trial runner.

Layout of a trial directory ``DIR``::

    DIR/manifest.json          the inputs (version, model hash, population, arms, seed, ...)
    DIR/chunks/AA-CCCCC.parquet one file per (arm, chunk of patient ids), written atomically
    DIR/patients.parquet       all rows, sorted by (arm, patient_id)   } written last,
    DIR/summary.json           per-arm endpoints + provenance           } atomically

Patient ``i`` is drawn from its own stream (:mod:`il2sim.population`), so the
rows do not depend on the chunk size, the order in which chunks run or whether
the run was interrupted: a resumed trial equals an uninterrupted one bit for
bit. Everything under ``summary["arms"]`` is computed from the sorted patient
table; wall-clock timings live only under ``summary["provenance"]``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._errors import UserError
from .._version import __version__
from ..analysis import TERMS, summarize
from ..engine import SolverSettings, simulate
from ..model import model_hash
from ..population import PopulationSpec, draw_patient
from ..protocol import Regimen, make_policy, resolve_regimen

__all__ = ["TrialSpec", "patient_row", "run_trial"]

N_SCAN_COLUMNS = 7
DEFAULT_SOLVER = SolverSettings()
RETRY_SOLVER = SolverSettings(method="LSODA", rtol=1e-7, atol=1e-9)


@dataclass(frozen=True)
class TrialSpec:
    """The inputs of a virtual trial (everything the manifest records)."""

    indication: str = "melanoma"
    arms: tuple[str, ...] = ("high-dose",)
    n_patients: int = 100
    seed: int = 0
    chunk_size: int = 256
    follow_up_weeks: float = 52.0
    rules: str = "pivotal"
    holds: bool = True
    care: bool = True
    max_courses: int = 3
    engine: str = "scipy"
    population: PopulationSpec = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.population is None:
            object.__setattr__(self, "population", PopulationSpec(self.indication))
        for name, value, lo, hi in (("--patients", self.n_patients, 1, 10_000_000),
                                    ("--chunk-size", self.chunk_size, 1, 100_000),
                                    ("--seed", self.seed, 0, 2**63 - 1),
                                    ("--max-courses", self.max_courses, 1, 10)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise UserError(name, value, f"an integer from {lo} to {hi}")
        if not (isinstance(self.follow_up_weeks, (int, float)) and 0 < self.follow_up_weeks <= 520):
            raise UserError("--follow-up-weeks", self.follow_up_weeks, "a number of weeks > 0 and <= 520")
        if self.engine != "scipy":
            raise UserError("--engine", self.engine, "scipy (the fast engine is not available yet)")
        if not self.arms:
            raise UserError("--regimen", self.arms, "at least one regimen")
        make_policy(self.rules, holds=self.holds, care=self.care, max_courses=self.max_courses)  # validates

    def regimens(self) -> list[tuple[str, Regimen]]:
        out, seen = [], set()
        for arm in self.arms:
            reg = resolve_regimen(arm)
            if reg.name in seen:
                raise UserError("--regimen", arm, "distinct arms (this arm name is given twice)")
            seen.add(reg.name)
            out.append((reg.name, reg))
        return out

    def manifest_inputs(self) -> dict[str, Any]:
        """Inputs that must not change under ``--resume`` (no chunk size: it does not change the rows)."""
        pop = asdict(self.population)
        pop["filters"] = [f.name for f in self.population.filters]
        return {
            "package_version": __version__,
            "model_hash": model_hash(),
            "indication": self.indication,
            "arms": {name: reg.to_dict() for name, reg in self.regimens()},
            "n_patients": self.n_patients,
            "seed": self.seed,
            "follow_up_weeks": float(self.follow_up_weeks),
            "rules": self.rules,
            "holds": self.holds,
            "care": self.care,
            "max_courses": self.max_courses,
            "engine": self.engine,
            "solver": DEFAULT_SOLVER.to_dict(),
            "population": pop,
        }


def patient_row(arm: str, patient, regimen: Regimen, spec: TrialSpec) -> dict[str, Any]:
    """Simulate one patient on one arm and reduce the course to one table row."""
    policy = make_policy(spec.rules, holds=spec.holds, care=spec.care, max_courses=spec.max_courses)
    days = spec.follow_up_weeks * 7.0
    result = simulate(patient, regimen, days=days, policy=policy, solver=DEFAULT_SOLVER)
    retried = False
    if not result.success:
        retried = True
        result = simulate(patient, regimen, days=days, policy=policy, solver=RETRY_SOLVER)
    cov = patient.covariates
    row: dict[str, Any] = {
        "arm": arm,
        "patient_id": int(patient.patient_id),
        "indication": patient.indication,
        "weight_kg": float(cov.weight_kg),
        "nephrectomy": bool(cov.nephrectomy),
        "n_target_lesions": int(len(patient.lesion_diameters())),
        "status": "ok" if result.success else "failed",
        "retried": retried,
        "failure": "" if result.success else str(result.message)[:500],
    }
    s = summarize(result, follow_up_weeks=spec.follow_up_weeks)
    baseline = s["recist"].get("baseline_sum_mm")
    scans = s["recist"].get("scans", [])
    sums = [sc["sum_diameters_mm"] for sc in scans]
    row.update({
        "baseline_sum_diameters_mm": float(baseline) if baseline else math.nan,
        "best_overall_response": s["best_overall_response"] if result.success else "NE",
        "best_change_pct": (100.0 * (min(sums) - baseline) / baseline) if (sums and baseline) else math.nan,
        "doses_scheduled": int(s["doses_scheduled"]),
        "doses_given": int(s["doses_given"]),
        "doses_first_course": int(s["doses_first_course"]),
        "courses": int(s["courses"]),
    })
    for k in range(1, N_SCAN_COLUMNS + 1):
        row[f"sld_scan_{k}_mm"] = float(sums[k - 1]) if k <= len(sums) else math.nan
    for term in TERMS:
        row[f"grade_{term}"] = int(s["worst_grade"].get(term, 0))
        row[f"reported_{term}"] = bool(s["reported"].get(term, False))
    pk = s["pk"]
    obs = result.observables if len(result.t) else {}
    row.update({
        "cmax_iu_per_ml": float(pk["cmax_iu_per_ml"]) if pk.get("cmax_iu_per_ml") is not None else math.nan,
        "t_half_terminal_min": float(pk["t_half_terminal_min"]) if pk.get("t_half_terminal_min") is not None else math.nan,
        "lymphocyte_nadir_per_ul": float(np.min(obs["lymphocytes_per_ul"])) if obs else math.nan,
        "sbp_min_mmhg": float(np.min(obs["sbp_mmhg"])) if obs else math.nan,
        "weight_gain_pct": float(100 * (np.max(obs["weight_kg"]) / obs["weight_kg"][0] - 1)) if obs else math.nan,
        "creatinine_max_mg_dl": float(np.max(obs["creatinine_mg_dl"])) if obs else math.nan,
        "phenylephrine_max_ug_kg_min": float(s["care"].get("phenylephrine_max_ug_kg_min", 0.0)) if s["care"] else 0.0,
        "fluid_boluses": int(s["care"].get("fluid_boluses", 0)) if s["care"] else 0,
    })
    return row


def _row_job(job: tuple) -> dict[str, Any]:
    """Worker entry point (top level, so a process pool can run it): one patient on one arm."""
    spec_fields, arm, patient_id, regimen_dict = job
    spec = TrialSpec(**spec_fields)
    regimen = Regimen.from_dict(regimen_dict, source=arm)
    regimen = Regimen(name=arm, blocks=regimen.blocks, description=regimen.description)
    return _drawn_row(spec, arm, patient_id, regimen)


def _drawn_row(spec: TrialSpec, arm: str, patient_id: int, regimen: Regimen) -> dict[str, Any]:
    draw = draw_patient(spec.population, spec.seed, patient_id)
    row = patient_row(arm, draw.patient, regimen, spec)
    row["rejected_draws"] = int(draw.n_rejected)
    return row


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    df = pd.DataFrame(rows)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def run_trial(spec: TrialSpec, out_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
              progress: Callable[[int, int], None] | None = None, workers: int = 1) -> dict[str, Any]:
    """Run (or resume) a virtual trial into ``out_dir`` and return its summary.

    ``workers`` > 1 simulates the patients of each chunk in that many local
    processes; the rows, and so every output, do not depend on it (patients
    with a custom population spec always run in-process).

    Raises
    ------
    UserError
        On an existing non-empty directory without ``resume``/``overwrite``,
        or on ``resume`` with inputs that differ from the manifest.
    """
    from ..analysis import trial_summary

    out = Path(out_dir)
    inputs = spec.manifest_inputs()
    regimens = spec.regimens()
    manifest_path = out / "manifest.json"
    nonempty = out.is_dir() and any(out.iterdir())
    if out.exists() and not out.is_dir():
        raise UserError("--out", str(out), "a directory path (a file is in the way)")
    if nonempty and resume:
        if not manifest_path.exists():
            raise UserError("--resume", str(out), "a trial directory with a manifest.json")
        from ._outputs import to_json_safe

        old = json.loads(manifest_path.read_text())["inputs"]
        inputs = to_json_safe(inputs)
        for key in sorted(set(old) | set(inputs)):
            if _canonical(old.get(key)) != _canonical(inputs.get(key)):
                raise UserError(f"--resume ({key})", inputs.get(key), f"the value the trial was started with, {old.get(key)!r}")
        if (out / "summary.json").exists() and (out / "patients.parquet").exists():
            return json.loads((out / "summary.json").read_text())
    elif nonempty and not overwrite:
        raise UserError("--out", str(out), "a new or empty directory (or --resume / --overwrite)")
    elif nonempty and overwrite:
        shutil.rmtree(out)
    started = time.time()
    chunks_dir = out / "chunks"
    chunks_dir.mkdir(parents=True, exist_ok=True)
    if not manifest_path.exists():
        from ._outputs import to_json_safe

        _atomic_write_bytes(manifest_path, json.dumps(to_json_safe({"inputs": inputs}), indent=2, sort_keys=True,
                                                      default=str).encode())

    cs = spec.chunk_size
    plan = [(a, name, reg, lo, min(lo + cs, spec.n_patients))
            for a, (name, reg) in enumerate(regimens) for lo in range(0, spec.n_patients, cs)]
    total = len(regimens) * spec.n_patients
    done = 0
    default_population = spec.population == PopulationSpec(spec.indication)
    pool = None
    if workers > 1 and default_population:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    spec_fields = {k: getattr(spec, k) for k in ("indication", "arms", "n_patients", "seed", "chunk_size",
                                                 "follow_up_weeks", "rules", "holds", "care", "max_courses", "engine")}
    try:
        for a, name, reg, lo, hi in plan:
            path = chunks_dir / f"{a:02d}-{lo:09d}-{hi:09d}.parquet"
            if not path.exists():
                if pool is None:
                    rows = [_drawn_row(spec, name, i, reg) for i in range(lo, hi)]
                else:
                    jobs = [(spec_fields, name, i, reg.to_dict()) for i in range(lo, hi)]
                    rows = list(pool.map(_row_job, jobs))  # map keeps the order: rows do not depend on workers
                _write_table(path, rows)
            done += hi - lo
            if progress:
                progress(done, total)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    import pandas as pd

    # every chunk file; after a resume with another chunk size some rows appear twice (identical)
    frames = [pd.read_parquet(m) for m in sorted(chunks_dir.glob("*.parquet"))]
    patients = pd.concat(frames, ignore_index=True)
    patients = patients.drop_duplicates(subset=["arm", "patient_id"]).sort_values(["arm", "patient_id"], kind="stable")
    patients = patients.reset_index(drop=True)
    if len(patients) != total:
        raise RuntimeError(f"trial table has {len(patients)} rows, expected {total}")
    summary = trial_summary(patients)
    summary["provenance"] = {
        "inputs": inputs,
        "chunk_size": spec.chunk_size,
        "wall_time_s_this_run": time.time() - started,
        "plausibility_filters": {f.name: f.description for f in spec.population.filters},
        "rejected_draws": int(patients[patients.arm == patients.arm.iloc[0]]["rejected_draws"].sum()),
        "rejected_draws_note": "draws failing a plausibility filter are redrawn inside each patient's own stream; "
                               "counted once per patient (the same patients are in every arm)",
    }
    tmp = out / f".patients.parquet.tmp-{os.getpid()}"
    patients.to_parquet(tmp, index=False)
    os.replace(tmp, out / "patients.parquet")
    try:
        from ..report import trial_report_html

        _atomic_write_bytes(out / "report.html", trial_report_html(patients, summary).encode())
    except ImportError:  # pragma: no cover - report module optional during development
        pass
    from ._outputs import to_json_safe

    _atomic_write_bytes(out / "summary.json",
                        json.dumps(to_json_safe(summary), indent=2, sort_keys=False, allow_nan=False).encode())
    return summary
