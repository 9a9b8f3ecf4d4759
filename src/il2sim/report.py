"""Self-contained HTML report of a virtual trial.

:func:`trial_report_html` turns the patient table and the trial summary into a
single HTML page: tables of endpoints per arm (side by side) and figures
embedded as base64 PNG (no external files, no scripts). Matplotlib is imported
inside the functions and only its object-oriented API is used (no pyplot), so
nothing global changes. Every string that comes from the data is HTML-escaped.
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

from .analysis._adverse import TERMS
from .analysis._endpoints import arm_summary, wilson_interval

__all__ = ["SECTIONS", "trial_report_html"]

#: Section headings of the report, in order (tests and docs refer to them).
SECTIONS = (
    "Response",
    "Adverse events",
    "Waterfall plots",
    "Spider plots",
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
_GRADE_COLORS = {1: "#fdd49e", 2: "#fc8d59", 3: "#d7301f", 4: "#7f0000"}
_N_SCANS = 7
_WEEKS_PER_SCAN = 8
_DOSES_PER_COURSE = 28

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 1.5em 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f2f2f2; } td.l, th.l { text-align: left; }
table.prov { font-size: 0.8em; } table.prov td { text-align: left; font-family: monospace; }
img { max-width: 100%; height: auto; }
p.note { font-size: 0.85em; color: #555; }
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


# --------------------------------------------------------------------- figures


def _waterfall(patients: pd.DataFrame, arms: list[str]) -> str:
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
    axes[-1].legend(
        handles=_legend_handles(_RESPONSE_COLORS, list(_RESPONSE_COLORS)), loc="upper right", fontsize=7, frameon=False
    )
    return _png(fig)


def _spider(patients: pd.DataFrame, arms: list[str]) -> str:
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
    axes[-1].legend(
        handles=_legend_handles(_RESPONSE_COLORS, list(_RESPONSE_COLORS)), loc="upper right", fontsize=7, frameon=False
    )
    return _png(fig)


def _terms(patients: pd.DataFrame) -> list[str]:
    return [t for t in TERMS if f"grade_{t}" in patients.columns]


def _toxicity(patients: pd.DataFrame, arms: list[str]) -> str:
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
    axes[-1].legend(
        handles=_legend_handles(_GRADE_COLORS, [f"grade {g}" for g in _GRADE_COLORS]),
        loc="lower right",
        fontsize=7,
        frameon=False,
    )
    return _png(fig)


def _dose_intensity(patients: pd.DataFrame, arms: list[str]) -> str:
    fig, axes = _new_figure(len(arms))
    for ax, arm in zip(axes, arms):
        df = _rows(patients, arm)
        d = _float_col(df, "doses_first_course")
        d = d[np.isfinite(d)]
        top = max(_DOSES_PER_COURSE, int(np.max(d)) if d.size else 0)
        bins = np.arange(-0.5, top + 1.5, 1.0)
        if d.size:
            ax.hist(d, bins=bins, color="#4575b4", edgecolor="white", linewidth=0.4)
        else:
            ax.text(0.5, 0.5, "no dosing data", ha="center", va="center", transform=ax.transAxes)
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(-0.5, top + 0.5)
        ax.set_xlabel(f"doses given in the first course (of {_DOSES_PER_COURSE})")
        ax.set_ylabel("patients")
        ax.set_title(arm, loc="left", fontsize=10)
    return _png(fig)


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


def _incidence_table(arms: list[str], sums: dict[str, dict[str, Any]]) -> str:
    terms: list[str] = []
    for a in arms:
        for key in ("incidence", "incidence_grade3plus"):
            for t in sums[a].get(key) or {}:
                if t not in terms:
                    terms.append(t)
    order = {t: i for i, t in enumerate(TERMS)}
    terms.sort(key=lambda t: (order.get(t, len(order)), t))
    head1 = "".join(f'<th colspan="2">{_e(a)}</th>' for a in arms)
    head2 = "".join("<th>reported</th><th>grade &ge; 3</th>" for _ in arms)
    body = ""
    for t in terms:
        cells = "".join(
            f"<td>{_fmt_pct((sums[a].get('incidence') or {}).get(t), 0)}</td>"
            f"<td>{_fmt_pct((sums[a].get('incidence_grade3plus') or {}).get(t), 0)}</td>"
            for a in arms
        )
        body += f'<tr><td class="l">{_e(t.replace("_", " "))}</td>{cells}</tr>'
    return (
        f'<table><tr><th class="l" rowspan="2">term</th>{head1}</tr><tr>{head2}</tr>{body}</table>'
        '<p class="note">Reported: label-reported incidence (investigator-reported adverse reactions); '
        "grade &ge; 3: CTCAE v5 worst grade.</p>"
    )


def _dose_table(arms: list[str], patients: pd.DataFrame) -> str:
    head = "".join(f"<th>{_e(a)}</th>" for a in arms)
    cells_int, cells_held, cells_courses = "", "", ""
    for a in arms:
        df = _rows(patients, a)
        given = _float_col(df, "doses_given")
        sched = _float_col(df, "doses_scheduled")
        ok = np.isfinite(given) & np.isfinite(sched) & (sched > 0)
        mean_int = float(np.mean(given[ok] / sched[ok])) if ok.any() else math.nan
        held = float(np.sum(sched[ok] - given[ok])) if ok.any() else math.nan
        courses = _float_col(df, "courses")
        courses = courses[np.isfinite(courses)]
        cells_int += f"<td>{_fmt_pct(mean_int)}</td>"
        cells_held += f"<td>{_fmt_num(held, 0)}</td>"
        cells_courses += f"<td>{_fmt_num(float(np.mean(courses)) if courses.size else math.nan, 2)}</td>"
    return (
        f'<table><tr><th class="l"></th>{head}</tr>'
        f'<tr><td class="l">mean doses given / scheduled</td>{cells_int}</tr>'
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
        missing from it are summarised from ``patients``.
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
        f'<p class="note">{n_total} patient rows; arms: {_e(", ".join(arms) or "none")}'
        + (f"; indication: {_e(', '.join(indications))}" if indications else "")
        + ".</p>",
        f"<h2>{SECTIONS[0]}</h2>",
        _response_table(arms, sums, patients),
        f"<h2>{SECTIONS[1]}</h2>",
        _incidence_table(arms, sums),
        f"<h2>{SECTIONS[2]}</h2>",
        (
            '<p class="note">Best % change of the sum of target-lesion diameters from baseline, '
            "coloured by best overall response; dashed lines at &minus;30% (PR) and +20% (PD).</p>"
        ),
        _waterfall(patients, fig_arms),
        f"<h2>{SECTIONS[3]}</h2>",
        (
            '<p class="note">% change from baseline at the scans every 8 weeks, one line per patient, '
            "coloured by best overall response.</p>"
        ),
        _spider(patients, fig_arms),
        f"<h2>{SECTIONS[4]}</h2>",
        _toxicity(patients, fig_arms),
        f"<h2>{SECTIONS[5]}</h2>",
        _dose_table(arms, patients),
        _dose_intensity(patients, fig_arms),
        f"<h2>{SECTIONS[6]}</h2>",
        _provenance_table(summary),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
