"""The one-patient chart as a plotly figure: the clinical panels of ``figure.png``, linked on one time axis.

Built in Python with the ``plotly`` package and drawn in the browser by the
plotly.js that package bundles (served by the app, never from a CDN). Every
panel shares the x axis (days since the first dose), so zooming one zooms all;
hovering shows each value with its unit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["PANELS", "compare_figure", "patient_figure"]

#: The panels, top to bottom: (title, y-axis label, secondary y-axis label or "").
PANELS = (
    ("Doses given and held", "", ""),
    ("Blood pressure and heart rate", "mmHg", "beats/min"),
    ("Body weight", "kg", ""),
    ("Urine output and creatinine", "mL/h", "mg/dL"),
    ("Temperature", "\u00b0C", ""),
    ("Symptoms (scores) and vomiting", "score", "episodes/24 h"),
    ("Supportive care: phenylephrine, oxygen and IV fluids", "\u00b5g/kg/min, L/min", "mL/h"),
    ("Blood lymphocytes and expansion", "cells/\u00b5L", "10\u2079 cells"),
    ("Tumour: sum of target-lesion diameters", "mm", ""),
)
#: Rows of the panels by what they show.
_ROW = {title.split(":")[0].split(" (")[0]: k for k, (title, _, _) in enumerate(PANELS, start=1)}
_MAX_POINTS = 3000  # per trace: the page stays light; the downloads have every point


def _thin(n: int) -> np.ndarray:
    """Indices of at most about ``_MAX_POINTS`` points of ``n``, first and last kept (finer where the grid is finer)."""
    stride = max(1, int(np.ceil(n / _MAX_POINTS)))
    return np.unique(np.r_[np.arange(0, n, stride), n - 1]) if n else np.arange(0)


def _series(result: Any, name: str) -> np.ndarray | None:
    """An observable, or a control input in force (phenylephrine, fluids, oxygen), at the output times."""
    obs = result.observables
    if name in obs:
        return np.asarray(obs[name], dtype=float)
    if name in result.individual.model.compiled.control_names:
        return np.asarray(result.control(name), dtype=float)
    return None


def patient_figure(result: Any, summary: Mapping[str, Any]) -> Any:
    """The linked panels of one run as a :class:`plotly.graph_objects.Figure`.

    Parameters
    ----------
    result
        A :class:`~il2sim.engine.SimulationResult`.
    summary
        Its ``summary.json`` content (the RECIST scans are taken from ``recist.scans``).
    """
    return _figure([("", result, summary)])


def compare_figure(a: tuple[Any, Mapping[str, Any]], b: tuple[Any, Mapping[str, Any]]) -> Any:
    """Two runs of one patient on the same panels: A in solid lines, B dashed; the doses of each on their own row."""
    return _figure([("A", *a), ("B", *b)])


def _figure(runs: list[tuple[str, Any, Mapping[str, Any]]]) -> Any:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    specs = [[{"secondary_y": bool(p[2])}] for p in PANELS]
    fig = make_subplots(rows=len(PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.025, specs=specs,
                        subplot_titles=[p[0] for p in PANELS],
                        row_heights=[0.09] + [(1 - 0.09) / (len(PANELS) - 1)] * (len(PANELS) - 1))
    compare = len(runs) > 1
    for k, (label, result, summary) in enumerate(runs):
        t = np.asarray(result.t, dtype=float)
        keep = _thin(t.size)
        day = t[keep] / 24.0
        prefix = f"{label}: " if label else ""

        def line(row: int, name: str, series: str, unit: str, color: str, secondary: bool = False, dash: str = "solid",
                 fmt: str = ".1f") -> None:
            y = _series(result, series)  # noqa: B023 - called at once, in this iteration
            if y is None:
                return
            if k:  # run B: dashed (a dotted line of A: dash-dot)
                dash = "dashdot" if dash != "solid" else "dash"
            shown = prefix + name
            fig.add_trace(go.Scatter(x=day, y=y[keep], name=shown, mode="lines",  # noqa: B023
                                     line={"color": color, "width": 1.4, "dash": dash}, legendgroup=label or None,
                                     hovertemplate=f"{shown}: %{{y:{fmt}}} {unit}<br>day %{{x:.2f}}<extra></extra>"),
                          row=row, col=1, secondary_y=secondary if PANELS[row - 1][2] else None)

        if compare:
            _doses_row(fig, go, result, label, y=1 - k)
        else:
            _doses(fig, go, result)
        line(2, "systolic BP", "sbp_mmhg", "mmHg", "#c0392b")
        line(2, "mean arterial pressure", "map_mmhg", "mmHg", "#e74c3c", dash="dot")
        line(2, "diastolic BP", "dbp_mmhg", "mmHg", "#f1948a")
        line(2, "heart rate", "heart_rate_bpm", "beats/min", "#8e44ad", secondary=True, fmt=".0f")
        line(3, "body weight", "weight_kg", "kg", "#795548", fmt=".2f")
        line(4, "urine output", "urine_ml_per_h", "mL/h", "#b7950b", fmt=".0f")
        line(4, "creatinine", "creatinine_mg_dl", "mg/dL", "#1e8449", secondary=True, fmt=".2f")
        line(5, "temperature", "temperature_c", "\u00b0C", "#e67e22", fmt=".2f")
        sym = _ROW["Symptoms"]
        for name, series, color in (("chills", "chills_score", "#5dade2"), ("fatigue", "fatigue_score", "#7f8c8d"),
                                    ("nausea", "nausea_score", "#27ae60"), ("confusion", "confusion_score", "#8e44ad"),
                                    ("dyspnoea", "dyspnea_score", "#2e86c1")):
            line(sym, name, series, "(score)", color, fmt=".2f")
        line(sym, "vomiting", "vomiting_per_day", "episodes/24 h", "#a04000", secondary=True, dash="dot", fmt=".1f")
        care = _ROW["Supportive care"]
        line(care, "phenylephrine", "pressor_ug_kg_min", "\u00b5g/kg/min", "#c0392b", fmt=".2f")
        line(care, "oxygen", "oxygen_l_min", "L/min", "#2980b9", dash="dot", fmt=".1f")
        line(care, "fluid bolus", "fluid_bolus_ml_h", "mL/h", "#16a085", secondary=True, fmt=".0f")
        line(care, "maintenance IV fluid", "fluid_maintenance_ml_h", "mL/h", "#76d7c4", secondary=True, dash="dot",
             fmt=".0f")
        lym = _ROW["Blood lymphocytes and expansion"]
        line(lym, "lymphocytes", "lymphocytes_per_ul", "cells/\u00b5L", "#2471a3", fmt=".0f")
        line(lym, "CD8 T cells (whole body)", "cd8_total_1e9", "10\u2079 cells", "#884ea0", secondary=True, fmt=".1f")
        line(lym, "NK cells (whole body)", "nk_total_1e9", "10\u2079 cells", "#d35400", secondary=True, dash="dot",
             fmt=".1f")
        line(len(PANELS), "sum of diameters", "tumour_sum_diameters_mm", "mm", "#34495e")
        _scans(fig, go, summary, prefix)
    for row, (_title, ylabel, y2label) in enumerate(PANELS, start=1):
        if ylabel:
            fig.update_yaxes(title_text=ylabel, row=row, col=1, secondary_y=False if y2label else None)
        if y2label:
            # plotly.js 3 syncs an overlaying axis's ticks to the primary grid by default (ticks such as 124.3,
            # 105.8, 87.2): the secondary axis gets its own round ticks instead
            fig.update_yaxes(title_text=y2label, row=row, col=1, secondary_y=True, showgrid=False, tickmode="auto",
                             nticks=6)
    if compare:
        fig.update_yaxes(row=1, col=1, tickvals=[1, 0], ticktext=[r[0] for r in runs], range=[-0.6, 1.6])
        fig.layout.annotations[0].text = "Doses: | given, \u2715 held, \u25a0 stopped"
    else:
        fig.update_yaxes(row=1, col=1, tickvals=[0, 1, 2], ticktext=["stopped", "held", "given"], range=[-0.5, 2.5])
    fig.update_xaxes(title_text="days since the first dose", row=len(PANELS), col=1)
    fig.update_layout(height=150 + 200 * len(PANELS), margin={"l": 70, "r": 70, "t": 40 if not compare else 70, "b": 50},
                      hovermode="closest", legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"},
                      template="plotly_white")
    return fig


def _doses_row(fig: Any, go: Any, result: Any, label: str, y: float) -> None:
    """Panel 1 of a comparison: the doses of run ``label`` on one row, given, held or stopped by their marker."""
    table = result.doses_table()
    if table.empty:
        return
    amount = np.array([f"{a:g} {u}" for a, u in zip(table["amount"], table["amount_unit"])], dtype=object)
    given = table["given"].astype(bool).to_numpy()
    stopped = table["stopped"].astype(bool).to_numpy()
    rule = table["held_by"].fillna("").astype(str).to_numpy()
    for kind, mask, symbol, color in (("given", given, "line-ns-open", "#117a65"),
                                      ("held", ~given & ~stopped, "x", "#d68910"),
                                      ("stopped", ~given & stopped, "square", "#b03a2e")):
        if not mask.any():
            continue
        why = [f" by {r}" if r else "" for r in rule[mask]]
        fig.add_trace(go.Scatter(x=table["time_h"].to_numpy()[mask] / 24.0, y=[y] * int(mask.sum()), mode="markers",
                                 name=f"{label}: dose {kind}", legendgroup=label,
                                 marker={"symbol": symbol, "size": 12 if kind == "given" else 8, "color": color,
                                         "line": {"width": 2 if kind == "given" else 1}},
                                 customdata=np.stack([amount[mask], np.array(why, dtype=object)], axis=-1),
                                 hovertemplate=f"{label}: dose {kind}%{{customdata[1]}}: %{{customdata[0]}}<br>"
                                               "day %{x:.2f}<extra></extra>"), row=1, col=1)


def _doses(fig: Any, go: Any, result: Any) -> None:
    """Panel 1: one marker per scheduled dose at 'given', 'held' (one trace per rule) or 'stopped'."""
    table = result.doses_table()
    if table.empty:
        return
    amount = [f"{a:g} {u}" for a, u in zip(table["amount"], table["amount_unit"])]
    table = table.assign(label=amount)
    given = table[table["given"].astype(bool)]
    if len(given):
        fig.add_trace(go.Scatter(x=given["time_h"] / 24.0, y=[2] * len(given), mode="markers", name="dose given",
                                 marker={"symbol": "line-ns-open", "size": 14, "color": "#117a65", "line": {"width": 2}},
                                 customdata=np.stack([given["label"], given["course"]], axis=-1),
                                 hovertemplate="dose given: %{customdata[0]} (course %{customdata[1]})<br>"
                                               "day %{x:.2f}<extra></extra>"), row=1, col=1)
    not_given = table[~table["given"].astype(bool)]
    symbols = ("x", "triangle-down", "triangle-up", "square", "diamond", "cross")
    groups = not_given.groupby([not_given["stopped"].astype(bool), not_given["held_by"].fillna("").astype(str)], sort=True)
    for k, ((stopped, rule), rows) in enumerate(groups):
        kind = "stopped" if stopped else "held"
        rule = rule or "?"
        fig.add_trace(go.Scatter(x=rows["time_h"] / 24.0, y=[0 if stopped else 1] * len(rows), mode="markers",
                                 name=f"dose {kind} by {rule}",
                                 marker={"symbol": symbols[k % len(symbols)], "size": 9,
                                         "color": "#b03a2e" if stopped else "#d68910"},
                                 customdata=rows["label"],
                                 hovertemplate=f"dose {kind} by {rule}: %{{customdata}}<br>day %{{x:.2f}}<extra></extra>"),
                      row=1, col=1)


def _scans(fig: Any, go: Any, summary: Mapping[str, Any], prefix: str = "") -> None:
    """RECIST scans on the tumour panel, labelled with their response."""
    scans = (summary.get("recist") or {}).get("scans") or []
    scans = [s for s in scans if isinstance(s, Mapping) and s.get("sum_diameters_mm") is not None]
    if not scans:
        return
    fig.add_trace(go.Scatter(
        x=[float(s["time_h"]) / 24.0 for s in scans], y=[float(s["sum_diameters_mm"]) for s in scans],
        name=prefix + "RECIST scan",
        mode="markers+text", text=[s.get("response") or "" for s in scans], textposition="top center",
        marker={"symbol": "diamond", "size": 10, "color": "#1a5276"},
        customdata=[s.get("response") or "not assessed" for s in scans],
        hovertemplate=prefix + "scan: %{y:.1f} mm, %{customdata}<br>day %{x:.1f}<extra></extra>"), row=len(PANELS), col=1)
