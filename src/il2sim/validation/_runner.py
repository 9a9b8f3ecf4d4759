"""Run the registry: each distinct trial once, every entry's statistic with its 95 % interval, scored.

Entries whose simulations set the same trial (indication, arms, rules,
holds, care, courses, follow-up, parameters, patients, seed) read the same
patients: the trial runs once, into ``OUT/trials/<hash>/`` where ``<hash>``
is a hash of the trial's manifest inputs (so a changed model or package
version runs anew), and resumes when the directory is there. Pure Python:
nothing is printed; ``progress`` (optional) gets one line per trial.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._errors import UserError
from ..analysis import WEEKS_PER_MONTH, km_endpoint, paired_difference_ci, wilson_interval
from ._registry import FRACTION_PATTERN, Entry, SimArm, Simulation, record_hash
from ._scoring import Simulated, score

__all__ = ["compute_statistic", "plan", "run_validation"]


def _arm(a: SimArm) -> Any:
    from ..protocol import Regimen
    from ..trial import Arm

    if a.regimen is not None:
        reg: Any = a.regimen
    else:
        reg = Regimen.from_dict({"name": a.name, "block": [dict(b) for b in a.blocks]}, source=a.name)
    return Arm(reg, parameters=a.parameters, name=a.name, molecule=a.molecule)  # type: ignore[arg-type]


def _spec(sim: Simulation, indication: str, n_patients: int, seed: int) -> Any:
    from ..protocol import make_policy
    from ..trial import TrialSpec

    return TrialSpec(indication=indication, arms=tuple(_arm(a) for a in sim.arms), n_patients=n_patients, seed=seed,
                     follow_up_weeks=sim.follow_up_weeks,
                     protocol=make_policy(sim.rules, holds=sim.holds, care=sim.care, max_courses=sim.max_courses),
                     parameters=sim.parameters)


def _n(sim: Simulation, patients: int) -> int:
    return min(patients, sim.max_patients) if sim.max_patients else patients


def plan(entries: Sequence[Entry], patients: int, seed: int) -> dict[str, list[tuple[str, str]]]:
    """``{entry id: [(indication, grouping key)]}``: entries with equal keys read the same trial."""
    out: dict[str, list[tuple[str, str]]] = {}
    for e in entries:
        out[e.id] = [(ind, record_hash({"trial": e.simulation.trial_record(ind), "n": _n(e.simulation, patients),
                                        "seed": seed})) for ind in e.simulation.indications]
    return out


# ---------------------------------------------------------------------------- statistics


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"].astype(str) == "ok"]


def _indicator(stat: str, df: pd.DataFrame, entry: Entry) -> np.ndarray:
    """The patient-level 0/1 of a patient-level proportion, one per row of ``df``."""
    bor = df["best_overall_response"].astype(str)
    head, _, term = stat.partition(":")
    if head == "orr":
        x = bor.isin(["CR", "PR"])
    elif head == "cr_rate":
        x = bor.eq("CR")
    elif head == "pr_rate":
        x = bor.eq("PR")
    elif head == "treatment_death_rate":
        x = df["death_cause"].astype(str).eq("treatment")
    elif head == "alive_at_months":
        assert entry.months is not None
        x = pd.to_numeric(df["os_weeks"], errors="coerce") >= entry.months * WEEKS_PER_MONTH - 1e-9
    elif head == "fraction":
        m = FRACTION_PATTERN.match(stat)
        assert m is not None
        col, op, ref = m.group(1), m.group(2), float(m.group(3))
        v = pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, df.index, dtype=float)
        x = {"<=": v <= ref, ">=": v >= ref, "<": v < ref, ">": v > ref}[op].fillna(False)
    elif head == "incidence":
        x = df[f"reported_{term}"].fillna(False).astype(bool) if f"reported_{term}" in df else pd.Series(False, df.index)
    elif head == "incidence_grade3plus":
        x = (pd.to_numeric(df[f"grade_{term}"], errors="coerce").fillna(0) >= 3) if f"grade_{term}" in df \
            else pd.Series(False, df.index)
    else:  # pragma: no cover - the registry refuses it
        raise ValueError(stat)
    return x.to_numpy(dtype=bool)


def _pooled(parts: list[tuple[np.ndarray, float]]) -> tuple[list[tuple[np.ndarray, float]], int, float, float]:
    """The non-empty parts, their pooled n, total weight and weighted mean of the per-indication means."""
    parts = [(x, w) for x, w in parts if x.size]
    n = int(sum(x.size for x, _ in parts))
    total_w = float(sum(w for _, w in parts))
    mean = float(sum(w * x.mean() for x, w in parts) / total_w) if n else math.nan
    return parts, n, total_w, mean


def _proportion(parts: list[tuple[np.ndarray, float]]) -> Simulated:
    """A (weighted) proportion of 0/1 arrays, one per indication: Wilson at the pooled n."""
    parts, n, total_w, p = _pooled(parts)
    if n == 0:
        return Simulated(None, n=0)
    lo, hi = wilson_interval(p * n, n)
    return Simulated(p, lo, hi, n)


def _mean(parts: list[tuple[np.ndarray, float]]) -> Simulated:
    """A (weighted) mean of a patient-level quantity, one array per indication: normal 95 % interval.

    The indications' means are weighted as the proportions are; the standard
    error combines each indication's ``s^2 / n`` with the same weights.
    """
    parts, n, total_w, m = _pooled([(x[np.isfinite(x)], w) for x, w in parts])
    if n == 0:
        return Simulated(None, n=0)
    var = sum((w / total_w) ** 2 * (x.var(ddof=1) if x.size > 1 else 0.0) / x.size for x, w in parts)
    se = float(np.sqrt(var))
    return Simulated(m, m - 1.959964 * se, m + 1.959964 * se, n)


def _median_ci(x: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95 % interval of a median (binomial order statistics)."""
    from scipy.stats import binom

    s = np.sort(x)
    n = s.size
    j = max(int(binom.ppf(0.025, n, 0.5)), 1)
    return float(s[j - 1]), float(s[min(n - j, n - 1)])


def _km(df: pd.DataFrame, entry: Entry) -> Simulated:
    if entry.endpoint == "dor":
        bor = df["best_overall_response"].astype(str)
        resp = df[bor.isin([entry.responders] if entry.responders else ["CR", "PR"])]
        dur, ev = resp["response_duration_weeks"], resp["response_duration_event"]
    elif entry.endpoint == "pfs":
        dur, ev = df["pfs_weeks"], df["progressed"]
    else:
        dur, ev = df["os_weeks"], df["died"]
    t = pd.to_numeric(dur, errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(t)
    if not keep.any():
        return Simulated(None, n=0)
    e = km_endpoint(t[keep], ev.fillna(False).astype(bool).to_numpy()[keep])
    ci = e.get("ci95") or [None, None]
    if e["median_months"] is None:
        return Simulated(None, ci[0], ci[1], int(e["n"]), not_reached=True)
    return Simulated(float(e["median_months"]), ci[0], ci[1], int(e["n"]))


def compute_statistic(entry: Entry, tables: Sequence[pd.DataFrame]) -> Simulated:
    """``entry``'s statistic on the patient tables of its trials (one per indication, in the simulation's order)."""
    sim = entry.simulation
    weights = sim.weights or tuple(1.0 for _ in tables)
    first, second = sim.arms[0].name, sim.arms[1].name if len(sim.arms) > 1 else None
    arm_rows = [_ok(t[t["arm"].astype(str) == first]) for t in tables]
    stat = entry.statistic
    if entry.is_difference:
        base = "orr" if stat == "orr_difference" else stat.removeprefix("difference:")
        a = b = c = d = 0
        for t in tables:
            ok = _ok(t)
            one = ok[ok["arm"].astype(str) == first].set_index("patient_id")
            two = ok[ok["arm"].astype(str) == second].set_index("patient_id")
            ids = one.index.intersection(two.index)
            x1, x2 = _indicator(base, one.loc[ids], entry), _indicator(base, two.loc[ids], entry)
            a += int(np.sum(x1 & x2))
            b += int(np.sum(x1 & ~x2))
            c += int(np.sum(~x1 & x2))
            d += int(np.sum(~x1 & ~x2))
        n = a + b + c + d
        if n == 0:
            return Simulated(None, n=0)
        diff, lo, hi = paired_difference_ci(a, b, c, d)
        return Simulated(float(diff), float(lo), float(hi), n)
    if stat == "relapse_fraction":
        parts = []
        for rows, w in zip(arm_rows, weights):
            r = rows[rows["best_overall_response"].astype(str) == entry.responders]
            parts.append((r["response_duration_event"].fillna(False).astype(bool).to_numpy(), w))
        return _proportion(parts)
    if stat == "median_doses_first_course":
        x = np.concatenate([pd.to_numeric(r["doses_first_course"], errors="coerce").to_numpy(dtype=float)
                            for r in arm_rows])
        x = x[np.isfinite(x)]
        if not x.size:
            return Simulated(None, n=0)
        lo, hi = _median_ci(x)
        return Simulated(float(np.median(x)), lo, hi, int(x.size))
    if stat == "km_median_months":
        return _km(pd.concat(arm_rows, ignore_index=True), entry)
    if stat.startswith("mean:"):
        return _mean([(pd.to_numeric(r[stat.removeprefix("mean:")], errors="coerce").to_numpy(dtype=float), w)
                      for r, w in zip(arm_rows, weights)])
    return _proportion([(_indicator(stat, r, entry), w) for r, w in zip(arm_rows, weights)])


# ---------------------------------------------------------------------------- running


def run_validation(entries: Sequence[Entry], out_dir: str | Path, *, patients: int = 1000, seed: int = 0,
                   workers: int | None = None, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Run the distinct trials behind ``entries`` into ``out_dir/trials`` and score every entry.

    Returns one record per entry, in registry order: ``id``, ``kind``, ``tags``, ``statistic``, ``source``,
    ``population``, ``n`` (published), ``published`` (value, lo, hi, at_least, tolerance as given), ``rule``,
    ``simulated`` (``None``: not estimable or a median not reached), ``ci95`` ([lo, hi], 95 %; an end
    ``None`` where the estimate has none), ``n_simulated`` (patients, or responders, it was computed on),
    ``result`` (``"pass"`` or ``"miss"``), ``note`` and ``trials`` (``{indication: trial directory}``).

    Raises
    ------
    UserError
        When an entry's simulation cannot be built (field ``entry <id>: simulation ...``).
    """
    from ..trial import run_trial

    out = Path(out_dir).expanduser()
    layout = plan(entries, patients, seed)
    specs: dict[str, Any] = {}
    for e in entries:
        for ind, tid in layout[e.id]:
            if tid in specs:
                continue
            try:
                specs[tid] = _spec(e.simulation, ind, _n(e.simulation, patients), seed)
            except UserError as exc:
                raise UserError(f"entry {e.id}: simulation {exc.field}", exc.received, exc.expected) from None
    # the directory is named by the trial's manifest inputs: a changed model, population or version runs anew
    dirs = {key: record_hash(spec.manifest_inputs()) for key, spec in specs.items()}
    tables: dict[str, pd.DataFrame] = {}
    for k, (key, spec) in enumerate(specs.items()):
        directory = out / "trials" / dirs[key]
        if progress is not None:
            progress(f"trial {k + 1}/{len(specs)}: {spec.indication}, {', '.join(a.name for a in spec.arms)}, "
                     f"{spec.protocol.name}, {spec.follow_up_weeks:g} weeks, {spec.n_patients} patients ({directory})")
        run_trial(spec, directory, resume=True, workers=workers)
        tables[key] = pd.read_parquet(directory / "patients.parquet")
    results = []
    for e in entries:
        sim = compute_statistic(e, [tables[tid] for _, tid in layout[e.id]])
        passed, why = score(e.rule, e.published(), sim)
        note = "; ".join(x for x in (why, e.note) if x)
        results.append({
            "id": e.id, "kind": e.kind, "tags": list(e.tags), "statistic": e.statistic, "endpoint": e.endpoint,
            "responders": e.responders, "months": e.months, "source": e.source, "population": e.population, "n": e.n,
            "published": e.published(), "rule": e.rule, "simulated": _clean(sim.value),
            "ci95": [_clean(sim.lo), _clean(sim.hi)], "n_simulated": sim.n, "not_reached": sim.not_reached,
            "result": "pass" if passed else "miss", "note": note,
            "trials": {ind: f"trials/{dirs[key]}" for ind, key in layout[e.id]},
        })
    return results


def _clean(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)
