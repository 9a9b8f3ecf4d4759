"""Figures of simulation results, for clinicians.

Functions here take result objects and return :class:`matplotlib.figure.Figure`
objects. They import matplotlib inside the function, never use pyplot (so no
GUI backend is ever touched and nothing global changes), never call ``show``
and never write files: :func:`il2sim.io.save_figure` does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["patient_figure"]

_CELLS = (
    ("cd8_blood", "CD8 T cells"),
    ("nk_blood", "NK cells"),
    ("treg_blood", "Treg"),
    ("cd4_blood", "CD4 helper T cells"),
    ("b_blood", "B cells"),
)
_TOTALS = (
    ("cd8_total_1e9", "CD8 T cells"),
    ("nk_total_1e9", "NK cells"),
    ("treg_total_1e9", "Treg"),
)
_COLORS = {"cd8": "tab:red", "nk": "tab:purple", "treg": "tab:green", "cd4": "tab:blue", "b": "tab:brown"}
_HOURS_PER_WEEK = 168.0


def _series(result: Any, name: str) -> np.ndarray | None:
    """An observable or state of ``result`` by name, or None if the model lacks it."""
    obs = result.observables
    if name in obs:
        return np.asarray(obs[name], dtype=float)
    try:
        return np.asarray(result.state(name), dtype=float)
    except (KeyError, ValueError, IndexError):
        return None


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, Mapping) or key not in mapping:
            return None
        mapping = mapping[key]
    return mapping


def _scans(summary: Mapping[str, Any] | None, t_end: float) -> list[tuple[float, str | None]]:
    """RECIST scans after baseline as ``(time_h, response or None)``.

    Taken from the summary (``recist.scans``) when it has them, otherwise every
    8 weeks to the end of follow-up (``provenance.follow_up_weeks``, default 52).
    """
    if summary is not None:
        for path in (("recist", "scans"), ("response", "scans"), ("scans",)):
            scans = _get(summary, *path)
            if isinstance(scans, list) and scans and all(isinstance(s, Mapping) and "time_h" in s for s in scans):
                return [(float(s["time_h"]), s.get("response")) for s in scans if float(s["time_h"]) <= t_end + 1e-9]
    follow_up = _get(summary, "provenance", "follow_up_weeks") if summary is not None else None
    try:
        weeks = float(follow_up) if follow_up is not None else 52.0
    except (TypeError, ValueError):
        weeks = 52.0
    end = min(t_end, weeks * _HOURS_PER_WEEK)
    n = int(np.floor(end / (8 * _HOURS_PER_WEEK) + 1e-9))
    return [(8 * _HOURS_PER_WEEK * k, None) for k in range(1, n + 1)]


def _title(result: Any, summary: Mapping[str, Any] | None) -> str:
    prov = getattr(result, "provenance", {}) or {}
    indication = prov.get("indication") or getattr(getattr(result.individual, "patient", None), "indication", "")
    regimen = getattr(result.regimen, "name", "")
    try:
        from .model import load_table

        label = str(load_table().indications[indication].get("label", indication))
    except (KeyError, ImportError):
        label = str(indication)
    parts = [label, f"regimen {regimen}"]
    if summary is not None:
        given, scheduled = summary.get("doses_given"), summary.get("doses_scheduled")
        if given is not None and scheduled is not None:
            parts.append(f"{given}/{scheduled} doses given")
        bor = summary.get("best_overall_response")
        if bor is not None:
            parts.append(f"best overall response {bor}")
    if not getattr(result, "success", True):
        parts.append("SIMULATION FAILED: " + str(getattr(result, "message", "")))
    return " \u2014 ".join(p for p in parts if p)


def patient_figure(result: Any, summary: Mapping[str, Any] | None = None):
    """One patient's course on six panels, day 0 = start of the first dose.

    Parameters
    ----------
    result
        A :class:`~il2sim.engine.SimulationResult`.
    summary
        Its summary (:func:`il2sim.analysis.summarize`), optional: gives the
        title's dose count and best overall response, and the RECIST scan times.

    Returns
    -------
    matplotlib.figure.Figure
        Panels: (a) serum drug and total IL-2 (log scale) with the doses given
        (ticks) and held (crosses, labelled by rule id); (b) blood immune cells;
        (c) blood lymphocyte count and its baseline; (d) body totals of CD8, NK
        and Treg cells relative to baseline; (e) sum of target-lesion diameters
        with the RECIST scans, the PR threshold (-30 % from baseline) and the
        PD threshold (+20 % over the nadir so far); (f) IFN-gamma and
        endothelial activation. Panels (a)-(c) and (f) show the treatment
        window (to two weeks after the last dose) when the run is longer.

    Notes
    -----
    Uses the object-oriented API only (``matplotlib.figure.Figure``), with
    constrained layout; save it with :func:`il2sim.io.save_figure` (150 dpi).
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    t = np.asarray(result.t, dtype=float)
    day = t / 24.0
    t_end = float(t[-1]) if t.size else 0.0
    fig = Figure(figsize=(13, 11.5), layout="constrained")
    axes = fig.subplots(3, 2)
    (ax_a, ax_b), (ax_c, ax_d), (ax_e, ax_f) = axes

    doses = list(getattr(result, "doses", ()))
    given_days = [r.administration.time_h / 24.0 for r in doses if r.given]
    held: dict[str, list[float]] = {}
    for r in doses:
        if not r.given:
            held.setdefault(r.held_by or "held", []).append(r.administration.time_h / 24.0)
    dose_days = [r.administration.time_h / 24.0 for r in doses]
    last_dose_day = max(dose_days) if dose_days else 0.0
    run_end = float(day[-1]) if day.size and day[-1] > 0 else 1.0
    window_end = min(run_end, max(last_dose_day + 14.0, 7.0))

    # (a) drug and IL-2 -------------------------------------------------------
    total = _series(result, "il2_plasma_iu_per_ml")
    drug = _series(result, "aldesleukin_plasma_iu_per_ml")
    floor = 1e-3
    if total is not None and np.any(total > 0):
        floor = max(1e-4, 0.3 * float(np.min(total[total > 0])))
    if drug is not None:
        ax_a.plot(day, np.where(drug > floor, drug, np.nan), color="tab:red", lw=1.4,
                  label="aldesleukin (drug)")
    if total is not None:
        ax_a.plot(day, np.where(total > 0, total, np.nan), color="0.25", lw=1.0, ls="--",
                  label="total IL-2 (drug + endogenous)")
    ax_a.set_yscale("log")
    ax_a.set_ylim(bottom=floor)
    trans = ax_a.get_xaxis_transform()
    if given_days:
        ax_a.plot(given_days, np.full(len(given_days), 0.97), ls="none", marker="|", ms=9,
                  color="tab:blue", transform=trans, label=f"dose given ({len(given_days)})")
    markers = ("x", "X", "v", "^", "s", "D")
    for i, (rule, days_held) in enumerate(sorted(held.items())):
        ax_a.plot(days_held, np.full(len(days_held), 0.92), ls="none", marker=markers[i % len(markers)],
                  ms=6, color="tab:orange", transform=trans, label=f"held by {rule} ({len(days_held)})")
    ax_a.set_title("(a) Serum IL-2 and doses", loc="left")
    ax_a.set_ylabel("serum concentration (IU/mL, log)")
    ax_a.legend(loc="upper right", fontsize="small", framealpha=0.8)

    # (b) blood immune cells --------------------------------------------------
    for sid, label in _CELLS:
        y = _series(result, sid)
        if y is not None:
            ax_b.plot(day, y, color=_COLORS[sid.split("_")[0]], lw=1.2, label=label)
    ax_b.set_title("(b) Immune cells in blood", loc="left")
    ax_b.set_ylabel("cells/\u00b5L")
    ax_b.set_ylim(bottom=0)
    ax_b.legend(loc="upper right", fontsize="small", framealpha=0.8)

    # (c) lymphocytes ---------------------------------------------------------
    lymph = _series(result, "lymphocytes_per_ul")
    if lymph is not None and lymph.size:
        ax_c.plot(day, lymph, color="k", lw=1.3, label="blood lymphocytes (T + B + NK)")
        ax_c.axhline(lymph[0], color="0.4", ls="--", lw=1.0, label=f"baseline {lymph[0]:.0f}/\u00b5L")
        i_min = int(np.nanargmin(lymph))
        ax_c.plot(day[i_min], lymph[i_min], "o", color="tab:red", ms=5,
                  label=f"nadir {lymph[i_min]:.0f}/\u00b5L (day {day[i_min]:.1f})")
    ax_c.set_title("(c) Blood lymphocyte count", loc="left")
    ax_c.set_ylabel("lymphocytes/\u00b5L")
    ax_c.set_ylim(bottom=0)
    ax_c.legend(loc="best", fontsize="small", framealpha=0.8)

    # (d) body totals relative to baseline -------------------------------------
    for sid, label in _TOTALS:
        y = _series(result, sid)
        if y is not None and y.size and np.isfinite(y[0]) and y[0] != 0:
            ax_d.plot(day, y / y[0], color=_COLORS[sid.split("_")[0]], lw=1.2, label=label)
    ax_d.axhline(1.0, color="0.4", ls="--", lw=1.0)
    ax_d.set_title("(d) Whole-body cell numbers", loc="left")
    ax_d.set_ylabel("relative to baseline (\u00d7)")
    ax_d.legend(loc="upper right", fontsize="small", framealpha=0.8)

    # (e) tumour and RECIST ---------------------------------------------------
    tumour = _series(result, "tumour_sum_diameters_mm")
    if tumour is not None and tumour.size:
        base = float(tumour[0])
        ax_e.plot(day, tumour, color="k", lw=1.4, label="sum of target-lesion diameters")
        ax_e.axhline(0.7 * base, color="tab:green", ls="--", lw=1.0, label="PR threshold (\u221230 % from baseline)")
        nadir = np.fmin.accumulate(tumour)
        ax_e.plot(day, 1.2 * nadir, color="tab:red", ls="--", lw=1.0, label="PD threshold (+20 % over nadir)")
        ax_e.fill_between(day, 0.7 * base, 1.2 * nadir, where=1.2 * nadir > 0.7 * base, color="0.85",
                          alpha=0.5, lw=0, label="stable disease zone")
        scans = _scans(summary, t_end)
        scan_t = np.array([0.0] + [ts for ts, _ in scans])
        scan_y = np.interp(scan_t, t, tumour)
        ax_e.plot(scan_t / 24.0, scan_y, "o", ms=5, mfc="white", color="tab:blue",
                  label="RECIST scans (baseline, every 8 weeks)")
        for (ts, response), y in zip(scans, scan_y[1:], strict=True):
            ax_e.axvline(ts / 24.0, color="tab:blue", lw=0.5, alpha=0.4)
            if response:
                ax_e.annotate(str(response), (ts / 24.0, y), xytext=(0, 7), textcoords="offset points",
                              ha="center", fontsize="small", color="tab:blue")
        ax_e.set_ylim(0, 1.12 * max(float(np.nanmax(tumour)), 1.2 * base, 1.0))
    ax_e.set_title("(e) Tumour burden (RECIST 1.1)", loc="left")
    ax_e.set_ylabel("sum of diameters (mm)")
    ax_e.legend(loc="best", fontsize="small", framealpha=0.8)

    # (f) IFN-gamma and endothelial activation -------------------------------
    ifng = _series(result, "ifng_pg_per_ml")
    if ifng is not None:
        ax_f.plot(day, ifng, color="tab:orange", lw=1.3, label="IFN-\u03b3 (pg/mL)")
    ax_f.set_ylabel("serum IFN-\u03b3 (pg/mL)")
    ax_f.set_ylim(bottom=0)
    ax_f2 = ax_f.twinx()
    endo = _series(result, "endothelial_activation")
    if endo is not None:
        ax_f2.plot(day, endo, color="tab:cyan", lw=1.3, label="endothelial activation (dimensionless)")
    ax_f2.set_ylabel("endothelial activation (dimensionless)")
    ax_f2.set_ylim(bottom=0)
    ax_f.set_title("(f) Inflammation and vascular leak drive", loc="left")
    handles = [h for h in ax_f.get_lines() + ax_f2.get_lines() if isinstance(h, Line2D)]
    ax_f2.legend(handles, [h.get_label() for h in handles], loc="upper right", fontsize="small", framealpha=0.8)

    windowed = (ax_a, ax_b, ax_c, ax_f)
    for ax in axes.flat:
        ax.set_xlim(0, window_end if ax in windowed else run_end)
        label = "days since the first dose (t = 0)"
        if ax in windowed and window_end < run_end:
            label += ", treatment window"
        ax.set_xlabel(label)
        ax.grid(True, alpha=0.3)
    fig.suptitle(_title(result, summary), fontsize="large")
    return fig
