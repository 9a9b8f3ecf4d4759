"""Self-contained HTML report of a virtual trial.

:func:`trial_report_html` turns the patient table and the trial summary into a
single HTML page: tables of endpoints per arm (side by side) and figures
embedded as base64 PNG (no external files, no scripts). Matplotlib is imported
inside the functions and only its object-oriented API is used (no pyplot), so
nothing global changes. Every string that comes from the data is HTML-escaped.

What the page shows beyond the per-arm tables:

* the difference of each arm's objective-response and CR rate from the
  trial's first arm, paired by ``patient_id`` (every arm treats the same
  patients) with Newcombe's paired 95 % interval
  (:func:`il2sim.analysis.paired_difference_ci`);
* adverse events counted two ways, side by side: label-reported (what an
  investigator would have written up, :data:`il2sim.analysis.LABEL_MAPPING`)
  beside the label's Table III incidence for arms on the label's schedule,
  and the CTCAE worst grade read from the simulated values (any grade,
  grade >= 3);
* each arm's first-course schedule (the number of doses its regimen
  schedules), read from the regimen recorded in the summary's provenance;
* when the patient table has the time-to-event columns, Kaplan-Meier curves of
  progression-free survival, overall survival and duration of response (all
  arms overlaid, 95 % bands, censor ticks, numbers at risk under each plot),
  a table per endpoint (median with its 95 % interval, 1-, 2- and 5-year
  rates, events, Cox hazard ratio against the reference arm) and a swimmer plot
  of the responders (:mod:`il2sim.analysis` computes every number).

Figure legends sit outside the axes, so they cover no bar or line.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .analysis._adverse import CTCAE_CRITERIA, LABEL_MAPPING, LABEL_TARGETS, TERMS
from .analysis._endpoints import arm_summary, wilson_interval
from .analysis._paired import paired_difference_ci
from .analysis._survival import WEEKS_PER_MONTH, arm_survival, has_time_to_event, hazard_ratios

__all__ = ["SECTIONS", "trial_report_html"]

#: Section headings of the report, in order (tests and docs refer to them).
SECTIONS = (
    "Response",
    "Adverse events",
    "Waterfall plots",
    "Spider plots",
    "Survival",
    "Toxicity by grade",
    "Dose intensity and holds",
    "Provenance",
)

_RESPONSE_COLORS = {
    "CR": "#1a9850",
    "PR": "#91cf60",
    "SD": "#fee08b",
    "PD": "#d73027",
    "NE": "#999999",
}
#: Line colours of the arms (in sorted order) in the survival figures.
_ARM_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
               "#17becf")
#: The survival endpoints: summary key, title, y-axis label, x-axis origin.
_ENDPOINTS = (
    ("pfs", "Progression-free survival", "proportion alive without progression", "the first dose"),
    ("os", "Overall survival", "proportion alive", "the first dose"),
    ("dor", "Duration of response", "proportion still in response", "the first confirmed response"),
)
#: The swimmer plot shows at most this many responders per arm (the longest followed).
_MAX_SWIMMERS = 80
_GRADE_COLORS = {1: "#fdd49e", 2: "#fc8d59", 3: "#d7301f", 4: "#7f0000"}
_N_SCANS = 7
_WEEKS_PER_SCAN = 8
#: The named regimen whose schedule the label's Table III incidences come from (high-dose aldesleukin).
_LABEL_REGIMEN = "high-dose"
#: Patient-table columns that describe the drawn patient, not the arm: equal on every arm of one trial.
_PATIENT_KEYS = ("indication", "weight_kg", "nephrectomy", "n_target_lesions", "pool_index", "rejected_draws")

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td.l, th.l { text-align: left; }
table.prov { font-size: 0.8em; } table.prov td { text-align: left; font-family: monospace; }
img { max-width: 100%; height: auto; }
p.note { font-size: 0.85em; color: #555; }
h3 { font-size: 1.0em; margin-top: 1.2em; }
table.risk { font-size: 0.8em; }
"""


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _finite(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fmt_pct(x: Any, digits: int = 1) -> str:
    v = _finite(x)
    return "&ndash;" if v is None else f"{100.0 * v:.{digits}f}%"


def _fmt_num(x: Any, digits: int = 1) -> str:
    v = _finite(x)
    return "&ndash;" if v is None else f"{v:.{digits}f}"


def _arms(patients: pd.DataFrame, summary: Mapping[str, Any]) -> list[str]:
    names = {str(a) for a in summary.get("arms", {}) or {}}
    if len(patients) and "arm" in patients.columns:
        names |= set(patients["arm"].astype(str))
    return sorted(names)


def _rows(patients: pd.DataFrame, arm: str) -> pd.DataFrame:
    if not len(patients) or "arm" not in patients.columns:
        return patients.iloc[0:0]
    return patients.loc[patients["arm"].astype(str) == arm]


def _responses(df: pd.DataFrame) -> np.ndarray:
    """Best overall response per row; failed patients and unknown values as NE."""
    n = len(df)
    if n == 0:
        return np.zeros(0, dtype=object)
    bor = df["best_overall_response"].astype(object).to_numpy() if "best_overall_response" in df else [None] * n
    ok = df["status"].astype(str).to_numpy() == "ok" if "status" in df else np.ones(n, dtype=bool)
    return np.array(
        [r if (good and isinstance(r, str) and r in _RESPONSE_COLORS) else "NE" for r, good in zip(bor, ok)],
        dtype=object,
    )


def _float_col(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def _bool_col(df: pd.DataFrame, col: str) -> np.ndarray:
    """A column's truth per row; missing values (and a missing column) are False."""
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return np.array([False if (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))) else bool(v)
                     for v in df[col].astype(object)], dtype=bool)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="figure">'


def _new_figure(n_arms: int, height: float = 3.6, width_per_arm: float = 5.0) -> tuple[Any, list[Any]]:
    from matplotlib.figure import Figure

    n = max(1, n_arms)
    fig = Figure(figsize=(min(24.0, width_per_arm * n), height), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


def _legend_handles(colors: Mapping[Any, str], labels: Sequence[Any]) -> list[Any]:
    from matplotlib.patches import Patch

    return [Patch(facecolor=colors[k], edgecolor="none", label=str(lab)) for k, lab in zip(colors, labels)]


def _outside_legend(fig: Any, handles: list[Any], title: str | None = None) -> Any:
    """A figure legend right of all the axes (the constrained layout makes room for it): it covers no data."""
    return fig.legend(handles=handles, loc="outside right upper", fontsize=7, frameon=False, title=title,
                      title_fontsize=7)


# -------------------------------------------------------------------- regimens


def _recorded_input(summary: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """``summary["provenance"]["inputs"][key]`` (arm -> record, in the trial's arm order), if recorded."""
    prov = summary.get("provenance")
    inputs = prov.get("inputs") if isinstance(prov, Mapping) else None
    value = inputs.get(key) if isinstance(inputs, Mapping) else None
    return value if isinstance(value, Mapping) else None


def _recorded_arms(summary: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Each arm's recorded regimen dict, if recorded."""
    return _recorded_input(summary, "arms")


def _arm_molecules(arms: Sequence[str], summary: Mapping[str, Any]) -> dict[str, str]:
    """Each arm's molecule name from ``summary["provenance"]["inputs"]["molecules"]`` (aldesleukin when not recorded)."""
    mols = _recorded_input(summary, "molecules") or {}
    out = {}
    for a in arms:
        rec = mols.get(a)
        out[a] = str(rec.get("name", "aldesleukin")) if isinstance(rec, Mapping) else "aldesleukin"
    return out


def _arm_regimens(arms: Sequence[str], summary: Mapping[str, Any]) -> dict[str, Any]:
    """Each arm's :class:`~il2sim.protocol.Regimen`, or ``None`` where it cannot be known.

    The trial records every arm's regimen in ``summary["provenance"]["inputs"]["arms"]``; a
    summary without that record (a table built by hand) falls back to the named regimen of the
    arm's name. Nothing is read from disk.
    """
    from .protocol import NAMED_REGIMENS, Regimen

    recorded = _recorded_arms(summary)
    out: dict[str, Any] = {}
    for a in arms:
        reg = None
        if recorded is None:
            reg = NAMED_REGIMENS.get(a)
        elif isinstance(recorded.get(a), Mapping):
            try:
                reg = Regimen.from_dict(dict(recorded[a]), source=a)
            except (ValueError, TypeError):  # UserError is a ValueError
                reg = None
        out[a] = reg
    return out


def _scheduled_first_course(regimen: Any) -> int | None:
    """Administrations the regimen schedules in its first course (``None``: regimen unknown)."""
    return None if regimen is None else len(regimen.administrations(course=1))


def _on_label_regimen(regimen: Any) -> bool:
    """Whether ``regimen`` gives exactly the schedule of the label's pivotal trials (the ``high-dose`` regimen)."""
    from .protocol import NAMED_REGIMENS

    return regimen is not None and regimen.administrations() == NAMED_REGIMENS[_LABEL_REGIMEN].administrations()


def _label_regimen_text() -> str:
    from .protocol import NAMED_REGIMENS

    reg = NAMED_REGIMENS[_LABEL_REGIMEN]
    b0 = reg.blocks[0]
    route = f"{b0.route.upper()} over {b0.infusion_minutes:g} min" if b0.infusion_minutes else b0.route.upper()
    doses = ", ".join(f"{b.count} doses from day {b.start_day}" for b in sorted(reg.blocks, key=lambda b: b.start_day))
    return f"{reg.name}: {b0.amount_label} {route} every {b0.every_hours:g} h, {doses}"


def _label_table_facts() -> tuple[int | None, str]:
    """The label table's n and source, from the packaged calibration targets (``calibration/data/targets.toml``)."""
    from .calibration._targets import load_targets

    try:
        ae = load_targets()["raw"]["adverse_events_any_grade"]
        return int(ae["n"]), str(ae["source"])
    except (OSError, KeyError, TypeError, ValueError):
        return None, "Proleukin label Table III"


# --------------------------------------------------------------------- figures


def _waterfall_figure(patients: pd.DataFrame, arms: list[str]) -> Any:
    fig, axes = _new_figure(len(arms))
    for ax, arm in zip(axes, arms):
        df = _rows(patients, arm)
        change = _float_col(df, "best_change_pct")
        resp = _responses(df)
        keep = np.isfinite(change)
        change, resp = change[keep], resp[keep]
        order = np.argsort(-change, kind="mergesort")
        change, resp = change[order], resp[order]
        x = np.arange(change.size)
        if change.size:
            ax.bar(x, change, width=0.85, color=[_RESPONSE_COLORS[r] for r in resp], edgecolor="none")
        else:
            ax.text(0.5, 0.5, "no evaluable scans", ha="center", va="center", transform=ax.transAxes)
        ax.axhline(20.0, color="#d73027", ls="--", lw=0.8)
        ax.axhline(-30.0, color="#1a9850", ls="--", lw=0.8)
        ax.axhline(0.0, color="#444", lw=0.6)
        ax.set_xlim(-1, max(change.size, 1))
        lo = min(-40.0, float(np.min(change)) - 5.0) if change.size else -40.0
        hi = max(30.0, float(np.max(change)) + 5.0) if change.size else 30.0
        ax.set_ylim(max(lo, -105.0), min(hi, 300.0))
        ax.set_xticks([])
        ax.set_xlabel(f"patients with a post-baseline scan (n = {change.size})")
        ax.set_ylabel("best change in sum of diameters (%)")
        ax.set_title(arm, loc="left", fontsize=10)
    _outside_legend(fig, _legend_handles(_RESPONSE_COLORS, list(_RESPONSE_COLORS)), "best response")
    return fig


def _spider_figure(patients: pd.DataFrame, arms: list[str]) -> Any:
    fig, axes = _new_figure(len(arms))
    weeks = np.array([0.0] + [_WEEKS_PER_SCAN * k for k in range(1, _N_SCANS + 1)])
    for ax, arm in zip(axes, arms):
        df = _rows(patients, arm)
        base = _float_col(df, "baseline_sum_diameters_mm")
        scans = np.column_stack([_float_col(df, f"sld_scan_{k}_mm") for k in range(1, _N_SCANS + 1)]) if len(df) else np.zeros((0, _N_SCANS))
        resp = _responses(df)
        drawn = 0
        for i in range(len(df)):
            b = base[i]
            if not (np.isfinite(b) and b > 0):
                continue
            y = np.concatenate([[0.0], 100.0 * (scans[i] - b) / b])
            ok = np.isfinite(y)
            if ok.sum() < 2:
                continue
            ax.plot(weeks[ok], y[ok], color=_RESPONSE_COLORS[resp[i]], lw=0.7, alpha=0.8)
            drawn += 1
        if drawn == 0:
            ax.text(0.5, 0.5, "no post-baseline scans", ha="center", va="center", transform=ax.transAxes)
        ax.axhline(20.0, color="#d73027", ls="--", lw=0.8)
        ax.axhline(-30.0, color="#1a9850", ls="--", lw=0.8)
        ax.axhline(0.0, color="#444", lw=0.6)
        ax.set_xlim(0, weeks[-1])
        ax.set_xticks(weeks)
        ax.set_ylim(bottom=-105.0)
        ax.set_xlabel("weeks since the first dose")
        ax.set_ylabel("change in sum of diameters (%)")
        ax.set_title(f"{arm} (n = {drawn})", loc="left", fontsize=10)
    _outside_legend(fig, _legend_handles(_RESPONSE_COLORS, list(_RESPONSE_COLORS)), "best response")
    return fig


def _terms(patients: pd.DataFrame) -> list[str]:
    return [t for t in TERMS if f"grade_{t}" in patients.columns]


def _toxicity_figure(patients: pd.DataFrame, arms: list[str]) -> Any:
    terms = _terms(patients)
    fig, axes = _new_figure(len(arms), height=max(3.6, 0.28 * len(terms) + 1.2), width_per_arm=5.5)
    for j, (ax, arm) in enumerate(zip(axes, arms)):
        df = _rows(patients, arm)
        n = len(df)
        y = np.arange(len(terms))
        left = np.zeros(len(terms))
        for g in (1, 2, 3, 4):
            frac = np.array(
                [float(np.sum(_float_col(df, f"grade_{t}") == g)) / n if n else 0.0 for t in terms], dtype=float
            )
            if len(terms):
                ax.barh(y, frac, left=left, color=_GRADE_COLORS[g], edgecolor="none", height=0.75)
            left += frac
        ax.set_yticks(y)
        ax.set_yticklabels([t.replace("_", " ") for t in terms] if j == 0 else [], fontsize=7)
        ax.set_ylim(-0.6, max(len(terms), 1) - 0.4)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("fraction of patients (CTCAE worst grade)")
        ax.set_title(f"{arm} (n = {n})", loc="left", fontsize=10)
    _outside_legend(fig, _legend_handles(_GRADE_COLORS, [f"grade {g}" for g in _GRADE_COLORS]), "CTCAE v5")
    return fig


def _dose_intensity_figure(patients: pd.DataFrame, arms: list[str], scheduled: Mapping[str, int | None]) -> Any:
    from matplotlib.ticker import MaxNLocator

    fig, axes = _new_figure(len(arms))
    for ax, arm in zip(axes, arms):
        df = _rows(patients, arm)
        d = _float_col(df, "doses_first_course")
        d = d[np.isfinite(d)]
        planned = scheduled.get(arm)
        top = max(planned or 0, int(np.max(d)) if d.size else 0, 1)
        bins = np.arange(-0.5, top + 1.5, 1.0)
        if d.size:
            ax.hist(d, bins=bins, color="#4575b4", edgecolor="white", linewidth=0.4)
        else:
            ax.text(0.5, 0.5, "no dosing data", ha="center", va="center", transform=ax.transAxes)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(-0.5, top + 0.5)
        of = f" (of {planned} scheduled)" if planned is not None else " (schedule not recorded)"
        ax.set_xlabel(f"doses given in the first course{of}")
        ax.set_ylabel("patients")
        ax.set_title(arm, loc="left", fontsize=10)
    return fig


def _arm_color(arms: Sequence[str], arm: str) -> str:
    return _ARM_COLORS[list(arms).index(arm) % len(_ARM_COLORS)] if arm in arms else "#444444"


def _nan_list(values: Sequence[Any]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


def _km_figure(key: str, survival: Mapping[str, Mapping[str, Any]], arms: list[str]) -> Any:
    """Kaplan-Meier curves of one endpoint, every arm on one axes, with the numbers at risk beneath."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    _, title, ylabel, origin = next(e for e in _ENDPOINTS if e[0] == key)
    ends: dict[str, Mapping[str, Any]] = {}
    for a in arms:
        e = (survival.get(a) or {}).get(key)
        if isinstance(e, Mapping) and (e.get("n") or 0) > 0:
            ends[a] = e
    n_rows = max(1, len(arms))
    fig = Figure(figsize=(7.5, 3.6 + 0.22 * n_rows), layout="constrained")
    ax, tab = fig.subplots(2, 1, sharex=True, height_ratios=[4.0, 0.3 * n_rows + 0.45])
    handles = []
    x_max, grid = 0.0, [0.0]
    for a, e in ends.items():
        color = _arm_color(arms, a)
        curve = e.get("curve") or {}
        tm, sv = _nan_list(curve.get("time_months", [])), _nan_list(curve.get("survival", []))
        lo, hi = _nan_list(curve.get("lower", [])), _nan_list(curve.get("upper", []))
        if not tm.size:
            continue
        ax.fill_between(tm, lo, hi, step="post", color=color, alpha=0.15, linewidth=0)
        ax.step(tm, sv, where="post", color=color, lw=1.4)
        cens = _nan_list(curve.get("censored_months", []))
        if cens.size:
            idx = np.clip(np.searchsorted(tm, cens, side="right") - 1, 0, tm.size - 1)
            ax.plot(cens, sv[idx], ls="none", marker="|", ms=7, mew=1.0, color=color)
        handles.append(Line2D([], [], color=color, lw=1.4, label=f"{a} (n = {e.get('n')}, events = {e.get('events')})"))
        x_max = max(x_max, float(e.get("max_follow_up_months") or tm[-1]))
        g = (e.get("at_risk") or {}).get("time_months") or [0.0]
        grid = g if len(g) > len(grid) else grid
    if not handles:
        what = "no responders" if key == "dor" else "no patients with a time"
        ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes)
    handles.append(Line2D([], [], color="#444", ls="none", marker="|", ms=7, label="censored"))
    ax.set_ylim(0.0, 1.04)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=10)
    ax.grid(True, color="#e5e5e5", lw=0.6)
    right = max(x_max, grid[-1], 1.0)
    every = max(1, math.ceil(len(grid) / 12))  # at most about 12 columns: 6-monthly, yearly, 2-yearly
    shown = {round(float(g), 6) for g in grid[::every]}
    tab.set_xlim(-0.04 * right, right * 1.02)  # room for the counts at month 0, clear of the arm names
    tab.set_xticks(sorted(shown))
    tab.set_xticklabels([f"{g:g}" for g in sorted(shown)], fontsize=8)
    tab.set_xlabel(f"months since {origin}")
    for j, a in enumerate(arms):
        e = ends.get(a)
        risk = (e.get("at_risk") or {}) if e else {}
        for tm_, n_ in zip(risk.get("time_months", []), risk.get("n", [])):
            if round(float(tm_), 6) in shown:
                tab.text(tm_, j, str(n_), ha="center", va="center", fontsize=7, color=_arm_color(arms, a))
    tab.set_ylim(n_rows - 0.5, -0.5)
    tab.set_yticks(range(len(arms)))
    tab.set_yticklabels(list(arms), fontsize=7)
    tab.tick_params(axis="y", length=0)
    for side in ("top", "right", "left"):
        tab.spines[side].set_visible(False)
    tab.set_title("number at risk", loc="left", fontsize=8)
    _outside_legend(fig, handles, "arm")
    return fig


def _swimmer_figure(patients: pd.DataFrame, arms: list[str]) -> Any:
    """One bar per responder, 0 to last follow-up or death (months), with response, progression and death marked."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    per_arm = {}
    for a in arms:
        df = _rows(patients, a)
        df = df.loc[np.isin(_responses(df), ("CR", "PR"))] if len(df) else df
        per_arm[a] = df
    tallest = max([min(len(d), _MAX_SWIMMERS) for d in per_arm.values()] + [1])
    fig, axes = _new_figure(len(arms), height=min(18.0, max(2.8, 0.17 * tallest + 1.3)))
    x_max = 1.0
    for df in per_arm.values():
        if len(df):
            x_max = max(x_max, float(np.nanmax(np.append(_float_col(df, "os_weeks"), 0.0))) / WEEKS_PER_MONTH)
    for ax, a in zip(axes, arms):
        df = per_arm[a]
        resp = _responses(df)
        os_m = _float_col(df, "os_weeks") / WEEKS_PER_MONTH
        order = np.argsort(-np.nan_to_num(os_m, nan=-1.0), kind="mergesort")[:_MAX_SWIMMERS]
        resp_m = _float_col(df, "response_week") / WEEKS_PER_MONTH
        pfs_m = _float_col(df, "pfs_weeks") / WEEKS_PER_MONTH
        died, prog = _bool_col(df, "died"), _bool_col(df, "progressed")
        ended = _bool_col(df, "response_duration_event")
        cause = df["death_cause"].astype(str).to_numpy() if "death_cause" in df.columns else np.array([""] * len(df))
        for i, k in enumerate(order):
            end = os_m[k]
            if not np.isfinite(end):
                continue
            ax.barh(i, end, left=0.0, height=0.62, color=_RESPONSE_COLORS[resp[k]], edgecolor="none")
            if np.isfinite(resp_m[k]):
                ax.plot(resp_m[k], i, ls="none", marker="^", ms=5, mfc="white", mec="#222", mew=0.8)
            # progression: the PFS event, unless it is the death itself (death without progression)
            if prog[k] and np.isfinite(pfs_m[k]) and not (died[k] and pfs_m[k] >= end - 1e-9):
                ax.plot(pfs_m[k], i, ls="none", marker="o", ms=4.5, color=_RESPONSE_COLORS["PD"])
            if died[k]:
                ax.plot(end, i, ls="none", marker="x", ms=5.5, mew=1.4,
                        color="#7b3294" if cause[k] == "treatment" else "#111")
            elif not ended[k]:
                ax.plot(end + 0.012 * x_max, i, ls="none", marker=">", ms=5, color="#222")
        shown = len(order)
        if shown == 0:
            ax.text(0.5, 0.5, "no responders", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylim(max(shown, 1) - 0.4, -0.6)
        ax.set_yticks([])
        ax.set_xlim(0.0, x_max * 1.06)
        ax.set_xlabel("months since the first dose")
        more = f", the {shown} longest followed shown" if len(df) > shown else ""
        ax.set_title(f"{a} (responders n = {len(df)}{more})", loc="left", fontsize=10)
    handles = [
        Patch(facecolor=_RESPONSE_COLORS["CR"], edgecolor="none", label="CR (best response)"),
        Patch(facecolor=_RESPONSE_COLORS["PR"], edgecolor="none", label="PR (best response)"),
        Line2D([], [], ls="none", marker="^", ms=5, mfc="white", mec="#222", label="response confirmed"),
        Line2D([], [], ls="none", marker="o", ms=4.5, color=_RESPONSE_COLORS["PD"], label="progression"),
        Line2D([], [], ls="none", marker=">", ms=5, color="#222", label="response ongoing (censored)"),
        Line2D([], [], ls="none", marker="x", ms=5.5, mew=1.4, color="#111", label="death (disease)"),
        Line2D([], [], ls="none", marker="x", ms=5.5, mew=1.4, color="#7b3294", label="death (treatment)"),
    ]
    _outside_legend(fig, handles)
    return fig


def _fmt_months(x: Any) -> str:
    v = _finite(x)
    return "NR" if v is None else f"{v:.1f}"


def _fmt_median(e: Mapping[str, Any]) -> str:
    if not e.get("n"):
        return "&ndash;"
    lo, hi = (list(e.get("ci95") or [None, None]) + [None, None])[:2]
    return f"{_fmt_months(e.get('median_months'))} <small>({_fmt_months(lo)}&ndash;{_fmt_months(hi)})</small>"


def _fmt_rate(e: Mapping[str, Any], key: str) -> str:
    v = _finite(e.get(key))
    if v is None:
        return "&ndash;"
    lo, hi = (list(e.get(f"{key}_ci95") or [None, None]) + [None, None])[:2]
    if lo is not None and lo == hi:  # the curve is at 0 (or 1): no interval to show
        return _fmt_pct(v)
    return f"{_fmt_pct(v)} <small>({_fmt_pct(lo)}&ndash;{_fmt_pct(hi)})</small>"


def _fmt_hr(h: Mapping[str, Any] | None) -> tuple[str, str]:
    if not isinstance(h, Mapping) or _finite(h.get("hr")) is None:
        note = h.get("note") if isinstance(h, Mapping) else None
        return "&ndash;", f"<small>{_e(note)}</small>" if note else "&ndash;"
    lo, hi = (list(h.get("ci95") or [None, None]) + [None, None])[:2]
    p = _finite(h.get("p"))
    p_text = "&ndash;" if p is None else ("&lt;0.001" if p < 0.001 else f"{p:.3f}")
    return f"{_fmt_num(h.get('hr'), 2)} <small>({_fmt_num(lo, 2)}&ndash;{_fmt_num(hi, 2)})</small>", p_text


def _at_risk_table(key: str, survival: Mapping[str, Mapping[str, Any]], arms: list[str]) -> str:
    """Numbers at risk of one endpoint: rows = arms, columns = 0, 6, 12, ... months."""
    ends = {a: (survival.get(a) or {}).get(key) for a in arms}
    grid: list[float] = []
    for e in ends.values():
        g = ((e or {}).get("at_risk") or {}).get("time_months") or []
        grid = list(g) if len(g) > len(grid) else grid
    if not grid:
        return ""
    head = "".join(f"<th>{g:g}</th>" for g in grid)
    body = ""
    for a in arms:
        risk = ((ends.get(a) or {}).get("at_risk") or {})
        counts = dict(zip(risk.get("time_months", []), risk.get("n", [])))
        cells = "".join(f"<td>{counts[g]}</td>" if g in counts else "<td>&ndash;</td>" for g in grid)
        body += f'<tr><td class="l">{_e(a)}</td>{cells}</tr>'
    title = next(e[1] for e in _ENDPOINTS if e[0] == key)
    return (f'<table class="risk"><tr><th class="l">number at risk ({_e(title.lower())}), months</th>{head}</tr>'
            f"{body}</table>")


def _survival_table(key: str, survival: Mapping[str, Mapping[str, Any]], arms: list[str],
                    hrs: Mapping[str, Any], reference: str, patients: pd.DataFrame) -> str:
    """One endpoint per arm: events / n, median (95% CI), 1-, 2-, 5-year rates and (PFS, OS) the hazard ratio."""
    with_hr = key in ("pfs", "os") and len(arms) >= 2
    head = ("<th>events / n</th><th>median, months (95% CI)</th><th>1 year (95% CI)</th><th>2 years (95% CI)</th>"
            "<th>5 years (95% CI)</th>")
    if key == "os":
        head += "<th>deaths from treatment</th>"
    if with_hr:
        head += f"<th>hazard ratio vs {_e(reference)} (95% CI)</th><th>p</th>"
    body = ""
    for a in arms:
        e = (survival.get(a) or {}).get(key)
        if not isinstance(e, Mapping):
            e = {}
        cells = (f"<td>{_fmt_num(e.get('events'), 0)} / {_fmt_num(e.get('n'), 0)}</td><td>{_fmt_median(e)}</td>"
                 + "".join(f"<td>{_fmt_rate(e, f'at_{y}y')}</td>" for y in (1, 2, 5)))
        if key == "os":
            df = _rows(patients, a)
            ok = df["status"].astype(str).to_numpy() == "ok" if "status" in df.columns else np.ones(len(df), bool)
            cause = df["death_cause"].astype(str).to_numpy() if "death_cause" in df.columns else np.array([""] * len(df))
            cells += f"<td>{int(np.sum(ok & _bool_col(df, 'died') & (cause == 'treatment')))}</td>"
        if with_hr:
            if a == reference:
                cells += '<td class="l">reference</td><td>&ndash;</td>'
            else:
                hr, p = _fmt_hr((hrs.get(a) or {}).get(key))
                cells += f"<td>{hr}</td><td>{p}</td>"
        body += f'<tr><td class="l">{_e(a)}</td>{cells}</tr>'
    title = next(e[1] for e in _ENDPOINTS if e[0] == key)
    return f'<table><tr><th class="l">{_e(title)}</th>{head}</tr>{body}</table>'


def _survival_section(patients: pd.DataFrame, arms: list[str], sums: Mapping[str, Mapping[str, Any]],
                      reference: str) -> list[str]:
    """The Survival section: per endpoint a Kaplan-Meier figure, its numbers at risk and its table; a swimmer plot."""
    if not len(patients) or not has_time_to_event(patients):
        return [
            '<p class="note">The patient table has no time-to-event columns (pfs_weeks, progressed, os_weeks, '
            "died, response_duration_weeks, ...), so no survival endpoint is estimated. Tables written before "
            "the survival endpoints existed have none.</p>"
        ]
    survival: dict[str, Mapping[str, Any]] = {}
    for a in arms:
        recorded = sums.get(a, {}).get("survival")
        survival[a] = recorded if isinstance(recorded, Mapping) and recorded else arm_survival(_rows(patients, a))
    try:
        hrs = hazard_ratios(patients, reference) if len(arms) >= 2 else {}
    except ValueError:  # the reference arm is in the summary but has no rows in the table
        hrs = {}
    excluded = ", ".join(f"{_e(a)} {int((survival[a] or {}).get('n_excluded') or 0)}" for a in arms)
    parts = [
        '<p class="note">Kaplan-Meier estimates, all arms on one plot, with 95% confidence bands (shaded; '
        "Greenwood's variance on the log(&minus;log) scale) and a tick where a patient was censored (still "
        "followed, free of the event, when follow-up ended). <b>Progression-free survival</b>: time from the "
        "first dose to RECIST progression or death, whichever comes first. <b>Overall survival</b>: time to death "
        "from any cause. <b>Duration of response</b>: among the responders (best overall response CR or PR), "
        "time from the first confirmed response to progression or death. The number at risk under each plot "
        "counts the patients still followed and free of the event at 0, 6, 12, ... months. Months are "
        "365.25/12 days. Failed simulations are left out (" + excluded + ").</p>"
    ]
    for key, _, _, _ in _ENDPOINTS:
        parts.append(_png(_km_figure(key, survival, arms)))
        parts.append(_at_risk_table(key, survival, arms))
        parts.append(_survival_table(key, survival, arms, hrs, reference, patients))
    parts.append(
        '<p class="note">Median with its 95% interval (the times at which the confidence band crosses 50%; '
        "Brookmeyer and Crowley); NR: not reached (the curve, or that end of its band, stays above 50% "
        "within follow-up). Year rates: the Kaplan-Meier estimate at 1, 2 and 5 years (365.25 days a year) "
        "with its 95% interval; &ndash; where follow-up ends before that time. Hazard ratio: Cox proportional-"
        f"hazards model of the arm against {_e(reference)} (Efron's method for tied times) with its Wald 95% "
        "interval and p-value; below 1 the arm's hazard of the event is lower. Arms treat the same virtual "
        "patients, but the ratio is estimated as for independent arms.</p>"
    )
    parts.append("<h3>Responders (swimmer plot)</h3>")
    parts.append(
        '<p class="note">One bar per responder, from the first dose to death or the last follow-up, coloured by '
        "best overall response; &#9651; response confirmed, <span style=\"color:#d73027\">&#9679;</span> RECIST "
        "progression, &#9656; response still ongoing at the last follow-up (censored), &times; death "
        "(purple when from treatment).</p>"
    )
    parts.append(_png(_swimmer_figure(patients, arms)))
    return parts


# ---------------------------------------------------------------------- tables


def _summary_of(arm: str, patients: pd.DataFrame, summary: Mapping[str, Any]) -> dict[str, Any]:
    s = (summary.get("arms") or {}).get(arm)
    if isinstance(s, Mapping):
        return dict(s)
    return arm_summary(_rows(patients, arm))


def _rate_ci(s: Mapping[str, Any], key: str) -> str:
    n = s.get("n_patients") or 0
    rate = s.get(key)
    if rate is None:
        return "&ndash;"
    try:
        k = round(float(rate) * n)
    except (TypeError, ValueError):
        return "&ndash;"
    lo, hi = wilson_interval(k, int(n)) if n else (math.nan, math.nan)
    return f"{_fmt_pct(rate)} <small>({_fmt_pct(lo)}&ndash;{_fmt_pct(hi)})</small>"


def _response_table(arms: list[str], sums: dict[str, dict[str, Any]], patients: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(a)}</th>" for a in arms)
    rows = [
        ("patients (n)", lambda s, a: _fmt_num(s.get("n_patients"), 0)),
        ("failed simulations", lambda s, a: _fmt_num(s.get("n_failed"), 0)),
        ("objective response (CR + PR)", lambda s, a: _rate_ci(s, "orr")),
        ("complete response (CR)", lambda s, a: _rate_ci(s, "cr_rate")),
        ("partial response (PR)", lambda s, a: _rate_ci(s, "pr_rate")),
        ("stable disease (SD)", lambda s, a: _rate_ci(s, "sd_rate")),
        ("progressive disease (PD)", lambda s, a: _rate_ci(s, "pd_rate")),
        ("not evaluable (NE)", lambda s, a: _rate_ci(s, "ne_rate")),
        ("median doses, first course", lambda s, a: _fmt_num(s.get("median_doses_first_course"))),
    ]
    body = "".join(
        f'<tr><td class="l">{_e(label)}</td>' + "".join(f"<td>{fn(sums[a], a)}</td>" for a in arms) + "</tr>"
        for label, fn in rows
    )
    return (
        f'<table><tr><th class="l"></th>{head}</tr>{body}</table>'
        '<p class="note">Rates over all patients of the arm (failed simulations count as NE), '
        "with Wilson 95% confidence intervals.</p>"
    )


def _pp(x: float | None) -> str:
    """A difference of two fractions in signed percentage points."""
    if x is None or not math.isfinite(x):
        return "&ndash;"
    v = 100.0 * x
    return f"{'&minus;' if v < -0.05 else '+' if v > 0.05 else ''}{abs(v):.1f} pp"


def _any_grade(patients: pd.DataFrame, arm: str, term: str) -> float | None:
    """Fraction of the arm's rows (all patients, as the summary's incidences) with CTCAE grade >= 1."""
    df = _rows(patients, arm)
    if not len(df) or f"grade_{term}" not in df.columns:
        return None
    g = np.nan_to_num(_float_col(df, f"grade_{term}"), nan=0.0)
    return float(np.sum(g >= 1)) / len(df)


def _incidence_table(arms: list[str], sums: dict[str, dict[str, Any]], patients: pd.DataFrame,
                     label_arms: set[str]) -> str:
    terms: list[str] = []
    for a in arms:
        for key in ("incidence", "incidence_grade3plus"):
            for t in sums[a].get(key) or {}:
                if t not in terms:
                    terms.append(t)
    order = {t: i for i, t in enumerate(TERMS)}
    terms.sort(key=lambda t: (order.get(t, len(order)), t))

    def sub(a: str) -> list[str]:
        if a in label_arms:
            return ["reported (simulated)", "label (Proleukin)", "reported &minus; label", "any grade", "grade &ge; 3"]
        return ["reported (simulated)", "any grade", "grade &ge; 3"]

    head1 = "".join(f'<th colspan="{len(sub(a))}">{_e(a)}</th>' for a in arms)
    head2 = "".join(f"<th>{h}</th>" for a in arms for h in sub(a))
    body = ""
    for t in terms:
        rule = LABEL_MAPPING.get(t)
        label = rule.label_incidence if rule is not None else None
        proxy = bool(rule.proxy) if rule is not None else False
        label_term = _e(rule.label_term) if rule is not None and rule.label_term else "&ndash; (not in Table III)"
        cells = ""
        for a in arms:
            rep = _finite((sums[a].get("incidence") or {}).get(t))
            cells += f"<td>{_fmt_pct(rep)}</td>"
            if a in label_arms:
                if label is None:
                    cells += "<td>&ndash;</td><td>&ndash;</td>"
                else:
                    mark = "&dagger;" if proxy else ""
                    diff = rep - label if (rep is not None and t in LABEL_TARGETS) else None
                    cells += f"<td>{_fmt_pct(label, 0)}{mark}</td><td>{_pp(diff)}</td>"
            cells += f"<td>{_fmt_pct(_any_grade(patients, a, t))}</td>"
            cells += f"<td>{_fmt_pct((sums[a].get('incidence_grade3plus') or {}).get(t))}</td>"
        why = _e(rule.criterion) if rule is not None else "&ndash;"
        if rule is not None and rule.label_incidence is None:
            why += f" <small>({_e(rule.rationale)})</small>"
        body += (f'<tr><td class="l">{_e(t.replace("_", " "))}</td><td class="l">{label_term}</td>'
                 f'{cells}<td class="l"><small>{why}</small></td></tr>')
    n_label, source = _label_table_facts()
    fever_g1 = CTCAE_CRITERIA["fever"].param("grade1_from_c")
    fever_rep = LABEL_MAPPING["fever"].param("temperature_from_c")
    lln = CTCAE_CRITERIA["lymphocyte_count_decreased"].param("lln_per_ul")
    lymph_g3 = CTCAE_CRITERIA["lymphocyte_count_decreased"].param("grade3_below_per_ul")
    proxies = "; ".join(f"{_e(r.term.replace('_', ' '))} ~ {_e(r.label_term)}" for r in LABEL_MAPPING.values()
                        if r.proxy and r.label_term)
    if label_arms:
        label_note = (
            f"<b>label (Proleukin)</b>: the any-grade incidence of the label term in the {_e(source)} "
            f"(n = {n_label if n_label is not None else '?'}, metastatic RCC and melanoma pooled), the figure that "
            "<i>reported</i> imitates; <b>reported &minus; label</b> is the simulated minus the label incidence. "
            "The label figures come from high-dose aldesleukin, so they are shown only for arms on the label's "
            f"schedule ({_e(_label_regimen_text())}); other arms have no published comparator here. "
            f"&dagger; the label term only approximates il2sim's ({proxies}): no difference is computed. "
        )
    else:
        label_note = ("No arm gives aldesleukin on the label's schedule ("
                      f"{_e(_label_regimen_text())}), so the label's incidences are not shown beside these arms. ")
    return (
        f'<table><tr><th class="l" rowspan="2">term</th><th class="l" rowspan="2">label term (Table III)</th>'
        f'{head1}<th class="l" rowspan="2">counted as reported when (il2sim rule)</th></tr><tr>{head2}</tr>{body}</table>'
        '<p class="note">Two different counts of the same simulated patients. '
        "<b>reported</b>: the fraction of patients whose event an investigator would have written up as an adverse "
        "reaction, the way the pivotal trials behind the Proleukin label's adverse-reaction table were recorded "
        "(il2sim's rule in the last column). Expected effects of the drug that clinicians did not write up "
        "count as reported rarely or never, however deep they go. "
        "<b>any grade</b> and <b>grade &ge; 3</b>: the worst CTCAE v5 grade read from the simulated values "
        "(vital signs, laboratory values, symptom scores and the care that was given), whether or not anyone "
        "would have reported it. So the graded columns can be far above <i>reported</i>: lymphocytes below "
        f"{lln:.0f}/&micro;L are lymphocyte count decreased grade &ge; 1, and below "
        f"{lymph_g3:.0f}/&micro;L grade 3, but "
        "lymphopenia, the expected effect of IL-2, is not a label term and is never counted as reported; any "
        f"temperature of {fever_g1:.1f} &deg;C or more is fever grade 1, while the label counted the fever that broke "
        f"through scheduled antipyretics, simulated as {fever_rep:.1f} &deg;C or more. "
        + label_note
        + "All rates over all patients of the arm.</p>"
    )


def _paired_rows(patients: pd.DataFrame, ref: str, arm: str) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Best responses of ``ref`` and ``arm`` for the patients both arms hold, matched by ``patient_id``.

    Returns the two response arrays (same order) and ``None``, or two empty arrays and the reason the
    rows cannot be paired (no ``patient_id``, no patient in common, or a column that describes the
    drawn patient, such as ``weight_kg``, that differs: the rows are not the same patients).
    """
    empty = np.zeros(0, dtype=object)
    if "patient_id" not in patients.columns:
        return empty, empty, "the table has no patient_id column"
    x = _rows(patients, ref).drop_duplicates(subset="patient_id").set_index("patient_id")
    y = _rows(patients, arm).drop_duplicates(subset="patient_id").set_index("patient_id")
    common = x.index.intersection(y.index).sort_values()
    if not len(common):
        return empty, empty, "no patient_id is on both arms"
    x, y = x.loc[common], y.loc[common]
    for col in _PATIENT_KEYS:
        if col in x.columns and col in y.columns:
            u, v = x[col].to_numpy(dtype=object), y[col].to_numpy(dtype=object)
            same = [(p == q) or (isinstance(p, float) and isinstance(q, float) and math.isnan(p) and math.isnan(q))
                    for p, q in zip(u, v)]
            if not all(same):
                pid = common[same.index(False)]
                return empty, empty, f"{col} differs for patient {pid}: the arms do not hold the same patients"
    return _responses(x.reset_index()), _responses(y.reset_index()), None


def _paired_table(patients: pd.DataFrame, arms: list[str], ref: str) -> str:
    """Each arm against ``ref``: the paired differences of ORR and CR rate (Newcombe method 10)."""
    others = [a for a in arms if a != ref]
    if not others:
        return ""
    endpoints = (("objective response (CR + PR)", ("CR", "PR")), ("complete response (CR)", ("CR",)))
    head = "".join(f"<th>{_e(name)}: difference (95% CI)</th><th>discordant pairs</th>" for name, _ in endpoints)
    body = ""
    for a in others:
        r_ref, r_arm, why = _paired_rows(patients, ref, a)
        label = f"{_e(a)} &minus; {_e(ref)}"
        if why is not None:
            body += (f'<tr><td class="l">{label}</td><td>&ndash;</td>'
                     f'<td class="l" colspan="{2 * len(endpoints)}">not paired: {_e(why)}</td></tr>')
            continue
        cells = ""
        for _, cats in endpoints:
            s_arm = np.isin(r_arm, cats)
            s_ref = np.isin(r_ref, cats)
            both, arm_only = int(np.sum(s_arm & s_ref)), int(np.sum(s_arm & ~s_ref))
            ref_only, neither = int(np.sum(~s_arm & s_ref)), int(np.sum(~s_arm & ~s_ref))
            diff, lo, hi = paired_difference_ci(both, arm_only, ref_only, neither)
            cells += (f"<td>{_pp(diff)} <small>({_pp(lo)} to {_pp(hi)})</small></td>"
                      f"<td>{arm_only} / {ref_only}</td>")
        body += f'<tr><td class="l">{label}</td><td>{len(r_ref)}</td>{cells}</tr>'
    return (
        f'<table><tr><th class="l">paired comparison</th><th>patients paired</th>{head}</tr>{body}</table>'
        '<p class="note">Every arm treats the same virtual patients (patient <i>i</i> is drawn once, from its own '
        "random stream, and given each arm's regimen), so two arms' rates are paired proportions: rows are "
        f"matched by patient_id and each arm is compared with the trial's first arm, {_e(ref)} "
        "(difference = arm minus it, in percentage points). Discordant pairs: patients who responded on the "
        f"arm only / on {_e(ref)} only; the difference rests on them. 95% CI: Newcombe's hybrid score interval "
        "for paired data (method 10; Stat Med 1998;17:2635-2650), narrower than an interval that treats the "
        "arms as independent samples when they agree on most patients. Failed simulations count as "
        "non-responders, as in the table above.</p>"
    )


def _dose_table(arms: list[str], patients: pd.DataFrame, scheduled: Mapping[str, int | None]) -> str:
    head = "".join(f"<th>{_e(a)}</th>" for a in arms)
    cells_sched, cells_int, cells_held, cells_courses = "", "", "", ""
    for a in arms:
        df = _rows(patients, a)
        given = _float_col(df, "doses_given")
        sched = _float_col(df, "doses_scheduled")
        ok = np.isfinite(given) & np.isfinite(sched) & (sched > 0)
        mean_int = float(np.mean(given[ok] / sched[ok])) if ok.any() else math.nan
        held = float(np.sum(sched[ok] - given[ok])) if ok.any() else math.nan
        courses = _float_col(df, "courses")
        courses = courses[np.isfinite(courses)]
        cells_sched += f"<td>{_fmt_num(scheduled.get(a), 0)}</td>"
        cells_int += f"<td>{_fmt_pct(mean_int)}</td>"
        cells_held += f"<td>{_fmt_num(held, 0)}</td>"
        cells_courses += f"<td>{_fmt_num(float(np.mean(courses)) if courses.size else math.nan, 2)}</td>"
    return (
        f'<table><tr><th class="l"></th>{head}</tr>'
        f'<tr><td class="l">doses scheduled in the first course (regimen)</td>{cells_sched}</tr>'
        f'<tr><td class="l">mean doses given / scheduled (all courses)</td>{cells_int}</tr>'
        f'<tr><td class="l">doses held or not given (total)</td>{cells_held}</tr>'
        f'<tr><td class="l">mean courses</td>{cells_courses}</tr></table>'
    )


def _provenance_rows(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(obj, Mapping):
        out: list[tuple[str, str]] = []
        for k in obj:
            out += _provenance_rows(obj[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(obj, (list, tuple)) and any(isinstance(v, (Mapping, list, tuple)) for v in obj):
        out = []
        for i, v in enumerate(obj):
            out += _provenance_rows(v, f"{prefix}[{i}]")
        return out
    if isinstance(obj, (list, tuple)):
        return [(prefix, ", ".join(str(v) for v in obj))]
    return [(prefix, str(obj))]


def _provenance_table(summary: Mapping[str, Any]) -> str:
    prov = summary.get("provenance")
    if not prov:
        return '<p class="note">No provenance recorded.</p>'
    rows = _provenance_rows(prov)
    body = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="prov"><tr><th class="l">key</th><th class="l">value</th></tr>{body}</table>'


# ------------------------------------------------------------------------ page


def trial_report_html(
    patients: pd.DataFrame, summary: Mapping[str, Any], *, title: str = "il2sim virtual trial"
) -> str:
    """A self-contained HTML page reporting a virtual trial, arms side by side.

    Parameters
    ----------
    patients
        The patient table (one row per patient and arm; see the contract's
        "Outputs of trial").
    summary
        The trial summary (``{"arms": {...}, "provenance": {...}}``); arms
        missing from it are summarised from ``patients``. Each arm's regimen
        is read from ``provenance["inputs"]["arms"]`` (as :func:`il2sim.trial.run_trial`
        records it; its order makes the first arm the reference of the paired
        comparisons); without that record an arm named like a named regimen
        (``high-dose``) is taken to be on it, and any other arm's schedule is
        reported as not recorded.
    title
        Page title.

    Returns
    -------
    str
        The HTML document: tables and base64-embedded PNG figures, no scripts
        and no external resources. All strings from the inputs are escaped.
    """
    if patients is None:
        patients = pd.DataFrame()
    summary = summary or {}
    arms = _arms(patients, summary)
    sums = {a: _summary_of(a, patients, summary) for a in arms}
    regimens = _arm_regimens(arms, summary)
    scheduled = {a: _scheduled_first_course(regimens[a]) for a in arms}
    molecules = _arm_molecules(arms, summary)
    # the label's incidences are aldesleukin's on its schedule: another molecule on that schedule has no comparator
    label_arms = {a for a in arms if _on_label_regimen(regimens[a]) and molecules[a] == "aldesleukin"}
    recorded = _recorded_arms(summary)
    trial_order = [str(a) for a in recorded if str(a) in arms] if recorded is not None else []
    reference = (trial_order or arms or [""])[0]
    n_total = len(patients)
    indications = (
        sorted(set(patients["indication"].astype(str))) if n_total and "indication" in patients.columns else []
    )
    fig_arms = arms if arms else ["(no arms)"]

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">{n_total} patient rows; arms: '
        f'{_e(", ".join(f"{a} ({molecules[a]})" for a in arms) or "none")}'
        + (f"; indication: {_e(', '.join(indications))}" if indications else "")
        + ".</p>",
        f"<h2>{SECTIONS[0]}</h2>",
        _response_table(arms, sums, patients),
        _paired_table(patients, arms, reference),
        f"<h2>{SECTIONS[1]}</h2>",
        _incidence_table(arms, sums, patients, label_arms),
        f"<h2>{SECTIONS[2]}</h2>",
        (
            '<p class="note">Best % change of the sum of target-lesion diameters from baseline, '
            "coloured by best overall response; dashed lines at &minus;30% (PR) and +20% (PD).</p>"
        ),
        _png(_waterfall_figure(patients, fig_arms)),
        f"<h2>{SECTIONS[3]}</h2>",
        (
            '<p class="note">% change from baseline at the scans every 8 weeks, one line per patient, '
            "coloured by best overall response.</p>"
        ),
        _png(_spider_figure(patients, fig_arms)),
        f"<h2>{SECTIONS[4]}</h2>",
        *_survival_section(patients, arms, sums, reference),
        f"<h2>{SECTIONS[5]}</h2>",
        _png(_toxicity_figure(patients, fig_arms)),
        f"<h2>{SECTIONS[6]}</h2>",
        _dose_table(arms, patients, scheduled),
        _png(_dose_intensity_figure(patients, fig_arms, scheduled)),
        f"<h2>{SECTIONS[7]}</h2>",
        _provenance_table(summary),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
