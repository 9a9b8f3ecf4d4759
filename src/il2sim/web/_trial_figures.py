"""The trial results as plotly figures and HTML tables: the report's sections, interactive.

Every number comes from the trial's own files: ``summary.json`` (per-arm
rates, incidences, Kaplan-Meier curves, hazard ratios, all computed by
:mod:`il2sim.analysis` when the trial finished) and ``patients.parquet`` (the
per-patient rows behind the waterfall, spider, toxicity and dose plots). The
confidence intervals of the response rates are
:func:`il2sim.analysis.wilson_interval`'s, as in ``report.html``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RESPONSE_COLORS", "doses_figure", "km_figure", "response_rows", "spider_figure", "tables",
           "toxicity_figure", "waterfall_figure"]

RESPONSE_COLORS = {"CR": "#1a9850", "PR": "#91cf60", "SD": "#e6c229", "PD": "#d73027", "NE": "#999999"}
_GRADE_COLORS = {1: "#fdd49e", 2: "#fc8d59", 3: "#d7301f", 4: "#7f0000"}
_ARM_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
_ENDPOINTS = (("pfs", "Progression-free survival", "alive without progression"), ("os", "Overall survival", "alive"),
              ("dor", "Duration of response", "still in response"))
_N_SCANS = 7
_WEEKS_PER_SCAN = 8
_LAYOUT = {"template": "plotly_white", "margin": {"l": 70, "r": 30, "t": 50, "b": 60}, "hovermode": "closest",
           "legend": {"orientation": "h", "y": -0.18, "yanchor": "top"}}


def _arm_rows(patients: pd.DataFrame, arm: str) -> pd.DataFrame:
    return patients.loc[patients["arm"].astype(str) == arm]


def _floats(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)


def responses(df: pd.DataFrame) -> np.ndarray:
    """Best overall response per row; failed simulations count as NE (the trial summary's denominator)."""
    bor = df["best_overall_response"].astype(object).to_numpy() if "best_overall_response" in df else [None] * len(df)
    ok = df["status"].astype(str).to_numpy() == "ok" if "status" in df else np.ones(len(df), dtype=bool)
    return np.array([r if good and r in RESPONSE_COLORS else "NE" for r, good in zip(bor, ok)], dtype=object)


def _subplots(arms: Sequence[str], **kw: Any) -> Any:
    from plotly.subplots import make_subplots

    return make_subplots(rows=1, cols=max(1, len(arms)), subplot_titles=list(arms), **kw)


def _response_legend(fig: Any, go: Any, shown: set[str]) -> None:
    for r, color in RESPONSE_COLORS.items():
        if r in shown:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=r, legendgroup=r,
                                     marker={"color": color, "size": 10, "symbol": "square"}, hoverinfo="skip"))


def waterfall_figure(patients: pd.DataFrame, arms: Sequence[str]) -> Any:
    """Best % change of the sum of diameters per patient, sorted, coloured by best response; one panel per arm."""
    import plotly.graph_objects as go

    fig = _subplots(arms, shared_yaxes=True)
    shown: set[str] = set()
    for col, arm in enumerate(arms, start=1):
        df = _arm_rows(patients, arm)
        change, resp = _floats(df, "best_change_pct"), responses(df)
        ids = df["patient_id"].to_numpy() if "patient_id" in df else np.arange(len(df))
        keep = np.isfinite(change)
        change, resp, ids = change[keep], resp[keep], ids[keep]
        order = np.argsort(-change, kind="mergesort")
        change, resp, ids = change[order], resp[order], ids[order]
        shown |= set(resp)
        fig.add_trace(go.Bar(x=list(range(change.size)), y=change, marker={"color": [RESPONSE_COLORS[r] for r in resp]},
                             customdata=np.stack([ids, resp], axis=-1) if change.size else None, showlegend=False,
                             hovertemplate="patient %{customdata[0]}: %{y:.1f} % (best response %{customdata[1]})"
                                           "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text=f"patients with a post-baseline scan (n = {change.size})", showticklabels=False,
                         row=1, col=col)
        for y, color in ((20.0, "#d73027"), (-30.0, "#1a9850")):
            fig.add_hline(y=y, line={"color": color, "dash": "dash", "width": 1}, row=1, col=col)
    _response_legend(fig, go, shown)
    fig.update_yaxes(title_text="best change in sum of diameters (%)", row=1, col=1)
    fig.update_layout(height=420, bargap=0.1, title={"text": "Waterfall: best change from baseline", "x": 0}, **_LAYOUT)
    return fig


def spider_figure(patients: pd.DataFrame, arms: Sequence[str]) -> Any:
    """% change from baseline at every scan, one line per patient, coloured by best response."""
    import plotly.graph_objects as go

    fig = _subplots(arms, shared_yaxes=True)
    weeks = np.array([0.0] + [_WEEKS_PER_SCAN * k for k in range(1, _N_SCANS + 1)])
    shown: set[str] = set()
    for col, arm in enumerate(arms, start=1):
        df = _arm_rows(patients, arm)
        base = _floats(df, "baseline_sum_diameters_mm")
        scans = np.column_stack([_floats(df, f"sld_scan_{k}_mm") for k in range(1, _N_SCANS + 1)])
        resp = responses(df)
        ids = df["patient_id"].to_numpy() if "patient_id" in df else np.arange(len(df))
        for i in range(len(df)):
            if not (np.isfinite(base[i]) and base[i] > 0):
                continue
            y = np.concatenate([[0.0], 100.0 * (scans[i] - base[i]) / base[i]])
            ok = np.isfinite(y)
            if ok.sum() < 2:
                continue
            shown.add(resp[i])
            fig.add_trace(go.Scatter(x=weeks[ok], y=y[ok], mode="lines+markers", showlegend=False,
                                     line={"color": RESPONSE_COLORS[resp[i]], "width": 1}, marker={"size": 4},
                                     opacity=0.8, name=f"patient {ids[i]}",
                                     hovertemplate=f"patient {ids[i]} ({resp[i]}): %{{y:.1f}} % at week %{{x:.0f}}"
                                                   "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="weeks since the first dose", tickvals=weeks, row=1, col=col)
        for level, color in ((20.0, "#d73027"), (-30.0, "#1a9850")):
            fig.add_hline(y=level, line={"color": color, "dash": "dash", "width": 1}, row=1, col=col)
    _response_legend(fig, go, shown)
    fig.update_yaxes(title_text="change in sum of diameters (%)", row=1, col=1)
    fig.update_layout(height=420, title={"text": "Spider: change from baseline at each scan", "x": 0}, **_LAYOUT)
    return fig


def _terms(patients: pd.DataFrame) -> list[str]:
    from ..analysis import TERMS

    return [t for t in TERMS if f"grade_{t}" in patients.columns]


def toxicity_figure(patients: pd.DataFrame, arms: Sequence[str]) -> Any:
    """The fraction of patients at each CTCAE worst grade, per term; one panel per arm."""
    import plotly.graph_objects as go

    terms = _terms(patients)
    fig = _subplots(arms, shared_yaxes=True)
    labels = [t.replace("_", " ") for t in terms]
    for col, arm in enumerate(arms, start=1):
        df = _arm_rows(patients, arm)
        n = len(df)
        for g in (1, 2, 3, 4):
            frac = [float(np.sum(_floats(df, f"grade_{t}") == g)) / n if n else 0.0 for t in terms]
            counts = [int(np.sum(_floats(df, f"grade_{t}") == g)) for t in terms]
            fig.add_trace(go.Bar(x=[100.0 * f for f in frac], y=labels, orientation="h", name=f"grade {g}",
                                 legendgroup=f"grade {g}", showlegend=col == 1, marker={"color": _GRADE_COLORS[g]},
                                 customdata=counts,
                                 hovertemplate=f"%{{y}}, grade {g}: %{{x:.1f}} % of patients (%{{customdata}} of {n})"
                                               "<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="% of patients (CTCAE v5 worst grade)", range=[0, 100], row=1, col=col)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(barmode="stack", height=max(380, 26 * len(terms) + 140),
                      title={"text": "Toxicity by grade", "x": 0}, **_LAYOUT)
    return fig


def doses_figure(patients: pd.DataFrame, arms: Sequence[str]) -> Any:
    """How many patients got each number of doses in the first course, arms side by side."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for k, arm in enumerate(arms):
        d = _floats(_arm_rows(patients, arm), "doses_first_course")
        d = d[np.isfinite(d)].astype(int)
        values, counts = np.unique(d, return_counts=True)
        fig.add_trace(go.Bar(x=values, y=counts, name=arm, marker={"color": _ARM_COLORS[k % len(_ARM_COLORS)]},
                             hovertemplate=f"{escape(arm)}: %{{y}} patients got %{{x}} doses<extra></extra>"))
    fig.update_xaxes(title_text="doses given in the first course", dtick=2)
    fig.update_yaxes(title_text="patients")
    fig.update_layout(barmode="group", height=380, title={"text": "Doses given in the first course", "x": 0}, **_LAYOUT)
    return fig


def _nan(values: Sequence[Any]) -> np.ndarray:
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


def km_figure(summary: Mapping[str, Any], arms: Sequence[str]) -> Any:
    """Kaplan-Meier curves (PFS, OS, duration of response) with 95 % bands and censor ticks, from the summary."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=3, subplot_titles=[e[1] for e in _ENDPOINTS], shared_yaxes=True)
    sums = summary.get("arms") or {}
    for col, (key, _title, what) in enumerate(_ENDPOINTS, start=1):
        for k, arm in enumerate(arms):
            e = ((sums.get(arm) or {}).get("survival") or {}).get(key)
            curve = (e or {}).get("curve") or {}
            tm, sv = _nan(curve.get("time_months", [])), _nan(curve.get("survival", []))
            if not tm.size:
                continue
            lo, hi = _nan(curve.get("lower", [])), _nan(curve.get("upper", []))
            color = _ARM_COLORS[k % len(_ARM_COLORS)]
            group = dict(legendgroup=arm, showlegend=False)
            fig.add_trace(go.Scatter(x=tm, y=100 * hi, mode="lines", line={"width": 0, "shape": "hv"}, hoverinfo="skip",
                                     **group), row=1, col=col)
            fig.add_trace(go.Scatter(x=tm, y=100 * lo, mode="lines", line={"width": 0, "shape": "hv"}, fill="tonexty",
                                     fillcolor=_rgba(color, 0.15), hoverinfo="skip", **group), row=1, col=col)
            fig.add_trace(go.Scatter(
                x=tm, y=100 * sv, mode="lines", name=arm, legendgroup=arm, showlegend=col == 1,
                line={"color": color, "width": 2, "shape": "hv"}, customdata=np.stack([100 * lo, 100 * hi], axis=-1),
                hovertemplate=f"{escape(arm)}: %{{y:.1f}} % {what} at %{{x:.1f}} months "
                              "(95 % CI %{customdata[0]:.1f}-%{customdata[1]:.1f} %)<extra></extra>"), row=1, col=col)
            cens = _nan(curve.get("censored_months", []))
            if cens.size:
                idx = np.clip(np.searchsorted(tm, cens, side="right") - 1, 0, tm.size - 1)
                fig.add_trace(go.Scatter(x=cens, y=100 * sv[idx], mode="markers", hovertemplate=(
                    f"{escape(arm)}: censored at %{{x:.1f}} months<extra></extra>"),
                    marker={"symbol": "line-ns-open", "size": 9, "color": color, "line": {"width": 1.5}}, **group),
                    row=1, col=col)
        fig.update_xaxes(title_text="months since " + ("the first response" if key == "dor" else "the first dose"),
                         rangemode="tozero", row=1, col=col)
    fig.update_yaxes(title_text="% of patients", range=[0, 104], row=1, col=1)
    fig.update_layout(height=430, title={"text": "Kaplan-Meier estimates (95 % bands; ticks: censored)", "x": 0},
                      **_LAYOUT)
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# ------------------------------------------------------------------ tables
def _pct(x: Any, digits: int = 1) -> str:
    return "\u2013" if x is None or not math.isfinite(float(x)) else f"{100.0 * float(x):.{digits}f} %"


def _months(x: Any) -> str:
    return "NR" if x is None or not math.isfinite(float(x)) else f"{float(x):.1f}"


def response_rows(s: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(label, rate, 95 % interval)`` of each response category of one arm's summary (Wilson intervals)."""
    from ..analysis import wilson_interval

    n = int(s.get("n_patients") or 0)
    out = []
    for label, key in (("objective response (CR + PR)", "orr"), ("complete response (CR)", "cr_rate"),
                       ("partial response (PR)", "pr_rate"), ("stable disease (SD)", "sd_rate"),
                       ("progressive disease (PD)", "pd_rate"), ("not evaluable (NE)", "ne_rate")):
        rate = s.get(key)
        if rate is None or not n:
            out.append((label, "\u2013", ""))
            continue
        lo, hi = wilson_interval(round(float(rate) * n), n)
        out.append((label, _pct(rate), f"{_pct(lo)} \u2013 {_pct(hi)}"))
    return out


def _table(table_id: str, head: Sequence[str], rows: Sequence[Sequence[str]], note: str = "") -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    foot = f"<p class=note>{escape(note)}</p>" if note else ""
    return f'<table class=results id="{table_id}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>{foot}'


def tables(patients: pd.DataFrame, summary: Mapping[str, Any], arms: Sequence[str],
           scheduled: Mapping[str, int | None]) -> dict[str, str]:
    """The result tables as HTML (every value escaped): response, survival, toxicity and doses."""
    sums = summary.get("arms") or {}
    per_arm = {a: response_rows(sums.get(a) or {}) for a in arms}
    head = ["", *[h for a in arms for h in (f"{a}: rate", f"{a}: 95 % CI")]]
    rows = [["patients (n)", *[c for a in arms for c in (str((sums.get(a) or {}).get("n_patients", "")), "")]],
            ["failed simulations", *[c for a in arms for c in (str((sums.get(a) or {}).get("n_failed", "")), "")]]]
    for i, (label, _r, _c) in enumerate(per_arm[arms[0]] if arms else []):
        rows.append([label, *[c for a in arms for c in per_arm[a][i][1:]]])
    response = _table("response-table", head, rows, "Rates over all patients of the arm (failed simulations count as "
                      "NE), with Wilson 95 % confidence intervals, as in report.html.")

    hrs = summary.get("hazard_ratio") or {}
    srows = []
    for key, title, _what in _ENDPOINTS:
        for a in arms:
            e = ((sums.get(a) or {}).get("survival") or {}).get(key) or {}
            lo, hi = (list(e.get("ci95") or [None, None]) + [None, None])[:2]
            h = (hrs.get(a) or {}).get(key) if key != "dor" else None
            hr = "reference" if key != "dor" and len(arms) > 1 and a == arms[0] else "\u2013"
            if isinstance(h, Mapping) and h.get("hr") is not None:
                hlo, hhi = (list(h.get("ci95") or [None, None]) + [None, None])[:2]
                hr = f"{h['hr']:.2f} ({_num(hlo, 2)}\u2013{_num(hhi, 2)})"
            srows.append([title, a, f"{e.get('events', 0)} / {e.get('n', 0)}",
                          f"{_months(e.get('median_months'))} ({_months(lo)}\u2013{_months(hi)})" if e.get("n") else "\u2013",
                          hr])
    survival = _table("survival-table", ["endpoint", "arm", "events / n", "median, months (95 % CI)",
                                         f"hazard ratio vs {arms[0] if arms else ''} (95 % CI)"], srows,
                      "Kaplan-Meier medians (NR: not reached within follow-up) and Cox hazard ratios against the "
                      "first arm, from summary.json (il2sim.analysis).")

    grid: list[float] = []
    for a in arms:
        for key, _t, _w in _ENDPOINTS:
            g = ((((sums.get(a) or {}).get("survival") or {}).get(key) or {}).get("at_risk") or {}).get("time_months") or []
            grid = list(g) if len(g) > len(grid) else grid
    rrows = []
    for key, title, _what in _ENDPOINTS:
        for a in arms:
            risk = ((((sums.get(a) or {}).get("survival") or {}).get(key) or {}).get("at_risk") or {})
            counts = dict(zip(risk.get("time_months", []), risk.get("n", [])))
            rrows.append([title, a, *[str(counts[g]) if g in counts else "\u2013" for g in grid]])
    at_risk = _table("at-risk-table", ["number at risk", "arm", *[f"{g:g} mo" for g in grid]], rrows,
                     "Patients still followed and free of the event at each time (months since the first dose; for "
                     "duration of response, since the first response).")

    terms = _terms(patients)
    trows = []
    for t in terms:
        row = [t.replace("_", " ")]
        for a in arms:
            s = sums.get(a) or {}
            g = _floats(_arm_rows(patients, a), f"grade_{t}")
            anyg = float(np.mean(np.nan_to_num(g) >= 1)) if g.size else None
            row += [_pct((s.get("incidence") or {}).get(t)), _pct(anyg), _pct((s.get("incidence_grade3plus") or {}).get(t))]
        trows.append(row)
    toxicity = _table("toxicity-table", ["term", *[h for a in arms for h in (f"{a}: reported", f"{a}: any grade",
                                                                             f"{a}: grade \u2265 3")]], trows,
                      "reported: the label-style count of adverse reactions; any grade and grade \u2265 3: the CTCAE "
                      "v5 worst grade read from the simulated values.")

    drows = []
    for label, fn in (("doses scheduled in the first course", lambda df, a: _num(scheduled.get(a), 0)),
                      ("median doses given in the first course",
                       lambda df, a: _num((sums.get(a) or {}).get("median_doses_first_course"))),
                      ("mean doses given / scheduled (all courses)", lambda df, a: _pct(_ratio(df))),
                      ("mean courses", lambda df, a: _num(np.nanmean(_floats(df, "courses")) if len(df) else None, 2))):
        drows.append([label, *[fn(_arm_rows(patients, a), a) for a in arms]])
    doses = _table("doses-table", ["", *arms], drows)
    return {"response": response, "survival": survival + at_risk, "toxicity": toxicity, "doses": doses}


def _num(x: Any, digits: int = 1) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "\u2013"
    return "\u2013" if not math.isfinite(v) else f"{v:.{digits}f}"


def _ratio(df: pd.DataFrame) -> float | None:
    given, sched = _floats(df, "doses_given"), _floats(df, "doses_scheduled")
    ok = np.isfinite(given) & np.isfinite(sched) & (sched > 0)
    return float(np.mean(given[ok] / sched[ok])) if ok.any() else None
