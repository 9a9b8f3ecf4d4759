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
_SCORES = (
    ("chills_score", "chills (0\u20133)", "tab:blue"),
    ("fatigue_score", "fatigue (0\u20133)", "tab:brown"),
    ("nausea_score", "nausea (0\u20133)", "tab:olive"),
    ("dyspnea_score", "dyspnoea (0\u20133)", "tab:cyan"),
    ("confusion_score", "confusion (0\u20134)", "tab:red"),
)
_MEDICINES = (
    ("acetaminophen", "acetaminophen", "tab:orange"),
    ("nsaid", "NSAID", "tab:brown"),
    ("antiemetic", "antiemetic", "tab:olive"),
    ("antidiarrheal", "antidiarrhoeal", "tab:purple"),
    ("meperidine", "meperidine", "tab:blue"),
)
_HELD_MARKERS = ("x", "v", "^", "s", "D", "P")
_STOP_MARKERS = ("X", "s", "D", "P", "v", "^")
_HOURS_PER_WEEK = 168.0
_MAX_LONG_POINTS = 3000
_TIME_LABEL = "time since the first dose (days)"


def _series(result: Any, name: str) -> np.ndarray | None:
    """An observable or state of ``result`` by name, or None if the model lacks it."""
    obs = result.observables
    if name in obs:
        return np.asarray(obs[name], dtype=float)
    try:
        return np.asarray(result.state(name), dtype=float)
    except (KeyError, ValueError, IndexError):
        return None


def _control(result: Any, name: str) -> np.ndarray | None:
    """A control input of ``result`` by name, or None if the model lacks it."""
    try:
        return np.asarray(result.control(name), dtype=float)
    except (AttributeError, KeyError, ValueError, IndexError):
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
        label = str(result.individual.model.table.indications[indication].get("label", indication))
    except (KeyError, AttributeError):
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


def _hi(y: np.ndarray | None, default: float) -> float:
    """Largest finite value of ``y``, or ``default`` when it has none."""
    if y is None:
        return default
    y = y[np.isfinite(y)]
    return float(y.max()) if y.size else default


def _lo(y: np.ndarray | None, default: float) -> float:
    """Smallest finite value of ``y``, or ``default`` when it has none."""
    if y is None:
        return default
    y = y[np.isfinite(y)]
    return float(y.min()) if y.size else default


def _runs(on: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` index pairs of the runs where ``on`` is true (stop exclusive)."""
    if not on.size:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], on.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


class _PanelTimeline:
    """The time axis, windows and dosing record of one result, for the panels."""

    def __init__(self, result: Any) -> None:
        t = np.asarray(result.t, dtype=float)
        self.t = t
        self.day = t / 24.0
        self.t_end = float(t[-1]) if t.size else 0.0
        self.run_end = float(self.day[-1]) if t.size and self.day[-1] > 0 else 1.0
        self.doses = list(getattr(result, "doses", None) or ())
        # blocks of doses: (course, cycle) -> [first h, last h, spacing h]
        blocks: dict[tuple[int, int], list[float]] = {}
        for r in self.doses:
            a = r.administration
            blocks.setdefault((int(a.course), int(a.cycle)), []).append(float(a.time_h))
        self.blocks: list[tuple[int, int, float, float]] = []
        for (course, cycle), times in sorted(blocks.items()):
            times.sort()
            spacing = float(np.median(np.diff(times))) if len(times) > 1 else 8.0
            self.blocks.append((course, cycle, times[0] / 24.0, (times[-1] + min(max(spacing, 1.0), 24.0)) / 24.0))
        courses: dict[int, list[float]] = {}
        for course, _, start, end in self.blocks:
            span = courses.setdefault(course, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
        self.courses = {c: (s, e) for c, (s, e) in sorted(courses.items())}
        first = min(self.courses) if self.courses else None
        first_last_dose = max((r.administration.time_h / 24.0 for r in self.doses
                               if r.administration.course == first), default=0.0)
        self.window_end = min(self.run_end, max(first_last_dose + 14.0, 7.0))
        self.later = {c: s for c, (s, _) in self.courses.items() if c != first}
        # indices: the window (one point past its end) and a stride for whole-run panels
        n = t.size
        self.n_window = min(n, int(np.searchsorted(self.day, self.window_end, side="right")) + 1)
        self.stride = max(1, n // _MAX_LONG_POINTS)

    def w(self, y: np.ndarray) -> np.ndarray:
        """``y`` on the short-term window."""
        return y[: self.n_window]

    def long(self, y: np.ndarray) -> np.ndarray:
        """``y`` thinned for a whole-run panel (last point kept)."""
        if self.stride == 1 or y.size < 2:
            return y
        return np.concatenate((y[:: self.stride], y[-1:]))

    def windowed_suffix(self) -> str:
        if not self.later:
            return ""
        return f"  [course {min(self.courses)} of {len(self.courses)}]"


def _empty(ax: Any, what: str = "not in this result") -> None:
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="0.5")


def _legend(ax: Any, *axes: Any, loc: str = "upper right", **kw: Any) -> None:
    """One legend on ``ax`` for the labelled lines/patches of ``axes`` (``ax`` itself by default)."""
    handles, labels = [], []
    for a in axes or (ax,):
        h, lab = a.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        ax.legend(handles, labels, loc=loc, fontsize="small", framealpha=0.85, **kw)


def _ylabel(ax: Any, text: str, color: str | None = None) -> None:
    if color is None:
        ax.set_ylabel(text)
        return
    ax.set_ylabel(text, color=color)
    ax.tick_params(axis="y", colors=color)


def patient_figure(result: Any, summary: Mapping[str, Any] | None = None):
    """One patient's course on sixteen panels, day 0 = start of the first dose.

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
        A 4 x 4 grid. Treatment: (a) the dosing record (doses given, held
        and stopped, each hold or stop labelled by its rule id) over serum
        drug and total IL-2 (log scale). Vital signs and organ function:
        (b) blood pressure (SBP/DBP band, MAP; 90 mmHg SBP and 65 mmHg MAP
        lines) and heart rate; (c) temperature and SpO2; (d) urine output
        (with the 0.5 mL/kg/h line, baseline weight = weight at t = 0) and
        serum creatinine; (e) body weight and its gain over baseline; (f)
        interstitial and plasma volumes. Symptoms: (g) chills, fatigue, nausea,
        dyspnoea and confusion scores; (h) vomiting, excess stools and rash.
        Care given: (i) phenylephrine and oxygen; (j) maintenance IV fluid and
        each fluid bolus; (k) medicines on/off. Immunology: (l) IFN-gamma and
        endothelial activation; (m) blood immune cells; (n) blood lymphocytes
        and baseline. Whole run: (o) body totals of CD8, NK and Treg cells
        relative to baseline, with every course's doses; (p) sum of
        target-lesion diameters with the RECIST scans, the PR threshold
        (-30 % from baseline) and the PD threshold (+20 % over the nadir).

        Panels (a)-(n) show days 0 to 14 days after the first course's last
        dose (the treatment window) when the run is longer; their titles say
        so when later courses exist. Dosing blocks are shaded on every panel.
        Quantities the result lacks are skipped.

    Notes
    -----
    Uses the object-oriented API only (``matplotlib.figure.Figure``), with
    constrained layout; save it with :func:`il2sim.io.save_figure` (150 dpi).
    """
    from matplotlib.figure import Figure

    c = _PanelTimeline(result)
    fig = Figure(figsize=(21, 15.5), layout="constrained")
    grid = fig.add_gridspec(4, 4)
    sub = grid[0, 0].subgridspec(2, 1, height_ratios=(1, 3), hspace=0.0)
    ax_dose = fig.add_subplot(sub[0])
    ax_a = fig.add_subplot(sub[1], sharex=ax_dose)
    axes = {"a": ax_a}
    for k, letter in enumerate("bcdefghijklmnop", start=1):
        axes[letter] = fig.add_subplot(grid[k // 4, k % 4])
    windowed = [ax_dose, *(axes[x] for x in "abcdefghijklmn")]

    _panel_doses(ax_dose, ax_a, result, c)
    _panel_pressure(axes["b"], result, c)
    _panel_temperature(axes["c"], result, c)
    _panel_kidney(axes["d"], result, c)
    _panel_weight(axes["e"], result, c)
    _panel_volumes(axes["f"], result, c)
    _panel_scores(axes["g"], result, c)
    _panel_gi_skin(axes["h"], result, c)
    _panel_pressor_oxygen(axes["i"], result, c)
    _panel_fluids(axes["j"], result, c)
    _panel_medicines(axes["k"], result, c)
    _panel_inflammation(axes["l"], result, c)
    _panel_cells(axes["m"], result, c)
    _panel_lymphocytes(axes["n"], result, c)
    _panel_totals(axes["o"], result, c)
    _panel_tumour(axes["p"], result, c, summary)

    suffix = c.windowed_suffix()
    for ax in windowed:
        ax.set_xlim(0, c.window_end)
        if ax is not ax_dose and ax is not ax_a and suffix:
            ax.set_title(ax.get_title(loc="left") + suffix, loc="left")
    for ax in (axes["o"], axes["p"]):
        ax.set_xlim(0, c.run_end)
    for ax in [*windowed, axes["o"], axes["p"]]:
        for _, _, start, end in c.blocks:
            ax.axvspan(start, end, color="tab:blue", alpha=0.06, lw=0, zorder=0)
        if ax is not ax_dose and ax is not axes["k"]:
            ax.grid(True, alpha=0.3)
        if ax is not ax_dose:
            ax.set_xlabel(_TIME_LABEL)
    title = _title(result, summary)
    if c.later:
        later = ", ".join(f"course {k} from day {s:.0f}" for k, s in c.later.items())
        title += (f"\npanels (a)\u2013(n): days 0\u2013{c.window_end:.0f}, course {min(c.courses)} only; "
                  f"later courses ({later}) in the whole-run panels (o) and (p)")
    elif c.window_end < c.run_end:
        title += f"\npanels (a)\u2013(n): treatment window, days 0\u2013{c.window_end:.0f}; (o) and (p): whole run"
    fig.suptitle(title, fontsize="x-large")
    return fig


# -- treatment ---------------------------------------------------------------


def _dose_groups(doses: list[Any]) -> dict[tuple[str, str], list[float]]:
    """Dose days by ``(kind, rule id)``: kind ``given``, ``held`` or ``stopped``."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in doses:
        kind = "given" if r.given else ("stopped" if getattr(r, "stopped", False) else "held")
        rule = "" if r.given else (getattr(r, "held_by", "") or "?")
        groups.setdefault((kind, rule), []).append(r.administration.time_h / 24.0)
    return groups


def _dose_markers(ax: Any, groups: dict[tuple[str, str], list[float]], ys: Mapping[str, Any],
                  transform: Any = None, ms: float = 8.0) -> None:
    held_i = stop_i = 0
    for (kind, rule), days in sorted(groups.items(), key=lambda kv: ("given", "held", "stopped").index(kv[0][0])):
        if kind == "given":
            style = dict(marker="|", color="tab:blue", ms=ms * 1.3, mew=1.5)
            label = f"given ({len(days)})"
        elif kind == "held":
            style = dict(marker=_HELD_MARKERS[held_i % len(_HELD_MARKERS)], color="tab:orange", ms=ms, mew=1.5,
                         mfc="none")
            held_i += 1
            label = f"held by {rule} ({len(days)})"
        else:
            style = dict(marker=_STOP_MARKERS[stop_i % len(_STOP_MARKERS)], color="tab:red", ms=ms, mec="k",
                         mew=0.6)
            stop_i += 1
            label = f"stopped by {rule} ({len(days)})"
        kw = {} if transform is None else {"transform": transform}
        ax.plot(days, np.full(len(days), ys[kind]), ls="none", label=label, **style, **kw)


def _panel_doses(ax_dose: Any, ax: Any, result: Any, c: _PanelTimeline) -> None:
    groups = _dose_groups(c.doses)
    _dose_markers(ax_dose, groups, {"given": 2, "held": 1, "stopped": 0})
    ax_dose.set_ylim(-0.6, 2.6)
    ax_dose.set_yticks([0, 1, 2], ["stopped", "held", "given"])
    ax_dose.tick_params(axis="x", labelbottom=False)
    ax_dose.grid(True, axis="x", alpha=0.3)
    title = "(a) Doses and serum IL-2"
    if c.later:
        title += c.windowed_suffix()
    ax_dose.set_title(title, loc="left")
    if not groups:
        _empty(ax_dose, "no doses scheduled")

    day = c.w(c.day)
    total = _series(result, "il2_plasma_iu_per_ml")
    drug = _series(result, "aldesleukin_plasma_iu_per_ml")
    total = None if total is None else c.w(total)
    drug = None if drug is None else c.w(drug)
    floor = 1e-3
    if total is not None and np.any(total > 0):
        floor = max(1e-4, 0.3 * float(np.min(total[total > 0])))
    if drug is not None:
        ax.plot(day, np.where(drug > floor, drug, np.nan), color="tab:red", lw=1.3, label="aldesleukin (drug)")
    if total is not None:
        ax.plot(day, np.where(total > 0, total, np.nan), color="0.25", lw=1.0, ls="--",
                label="total IL-2 (drug + endogenous)")
    ax.set_yscale("log")
    top = max(_hi(drug, 0.0), _hi(total, 0.0))
    if top > floor:
        ax.set_ylim(floor, top * 10 ** (0.55 * np.log10(top / floor)))
    else:
        ax.set_ylim(bottom=floor)
    ax.set_ylabel("serum IL-2 (IU/mL, log)")
    if drug is None and total is None:
        _empty(ax)
    _legend(ax, ax, ax_dose)


# -- vital signs and organ function ------------------------------------------


def _panel_pressure(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    sbp, mean, dbp = (_series(result, n) for n in ("sbp_mmhg", "map_mmhg", "dbp_mmhg"))
    drawn = False
    if sbp is not None and dbp is not None:
        ax.fill_between(day, c.w(dbp), c.w(sbp), color="tab:red", alpha=0.15, lw=0)
    if sbp is not None:
        ax.plot(day, c.w(sbp), color="tab:red", lw=1.0, label="systolic")
        drawn = True
    if mean is not None:
        ax.plot(day, c.w(mean), color="darkred", lw=1.6, label="mean arterial (MAP)")
        drawn = True
    if dbp is not None:
        ax.plot(day, c.w(dbp), color="salmon", lw=1.0, label="diastolic")
        drawn = True
    ax.axhline(90, color="tab:red", ls="--", lw=0.9, label="SBP 90 mmHg")
    ax.axhline(65, color="darkred", ls=":", lw=1.2, label="MAP 65 mmHg")
    _ylabel(ax, "blood pressure (mmHg)")
    low = min(60.0, *(_lo(None if y is None else c.w(y), 60.0) for y in (dbp, mean, sbp)))
    high = max(130.0, *(_hi(None if y is None else c.w(y), 130.0) for y in (dbp, mean, sbp)))
    ax.set_ylim(low - 0.3 * (high - low), high + 0.05 * (high - low))
    ax2 = ax.twinx()
    hr = _series(result, "heart_rate_bpm")
    if hr is not None:
        ax2.plot(day, c.w(hr), color="tab:purple", lw=1.0, alpha=0.8, label="heart rate (right axis)")
        drawn = True
        low, high = min(50.0, _lo(c.w(hr), 50.0)), max(130.0, _hi(c.w(hr), 130.0))
        ax2.set_ylim(low - 0.3 * (high - low), high + 0.05 * (high - low))
    _ylabel(ax2, "heart rate (beats/min)", "tab:purple")
    ax.set_title("(b) Blood pressure and heart rate", loc="left")
    if not drawn:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="lower right", ncol=2)


def _panel_temperature(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    temp, spo2 = _series(result, "temperature_c"), _series(result, "spo2_pct")
    if temp is not None:
        ax.plot(day, c.w(temp), color="tab:orange", lw=1.3, label="temperature")
        ax.axhline(38.0, color="tab:orange", ls="--", lw=0.9, label="fever 38 \u00b0C")
        ax.set_ylim(min(36.0, _lo(c.w(temp), 36.0) - 0.2), max(40.0, _hi(c.w(temp), 40.0) + 0.2))
    _ylabel(ax, "body temperature (\u00b0C)", "tab:orange")
    ax2 = ax.twinx()
    if spo2 is not None:
        ax2.plot(day, c.w(spo2), color="tab:blue", lw=1.3, label="SpO\u2082 (right axis)")
        ax2.axhline(90.0, color="tab:blue", ls=":", lw=1.0, label="SpO\u2082 90 %")
        ax2.set_ylim(min(85.0, _lo(c.w(spo2), 85.0) - 1), 100.5)
    _ylabel(ax2, "SpO\u2082 (%)", "tab:blue")
    ax.set_title("(c) Temperature and oxygen saturation", loc="left")
    if temp is None and spo2 is None:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="lower right", ncol=2)


def _baseline_weight(result: Any) -> float | None:
    weight = _series(result, "weight_kg")
    if weight is not None and weight.size and np.isfinite(weight[0]) and weight[0] > 0:
        return float(weight[0])
    try:
        return float(result.individual.named_parameters()["weight_kg"])
    except (AttributeError, KeyError, TypeError):
        return None


def _panel_kidney(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    urine, creat = _series(result, "urine_ml_per_h"), _series(result, "creatinine_mg_dl")
    if urine is not None:
        ax.plot(day, c.w(urine), color="goldenrod", lw=1.2, label="urine output")
        w0 = _baseline_weight(result)
        if w0 is not None:
            ax.axhline(0.5 * w0, color="goldenrod", ls="--", lw=1.0,
                       label=f"0.5 mL/kg/h ({0.5 * w0:.0f} mL/h at {w0:.0f} kg)")
    ax.set_ylim(0, 1.35 * max(_hi(None if urine is None else c.w(urine), 100.0), 1.0))
    _ylabel(ax, "urine output (mL/h)", "darkgoldenrod")
    ax2 = ax.twinx()
    if creat is not None:
        ax2.plot(day, c.w(creat), color="tab:green", lw=1.4, label="creatinine (right axis)")
        ax2.set_ylim(0, max(2.0, 1.35 * _hi(c.w(creat), 0.0)))
    _ylabel(ax2, "serum creatinine (mg/dL)", "tab:green")
    ax.set_title("(d) Urine output and creatinine", loc="left")
    if urine is None and creat is None:
        _empty(ax)
    _legend(ax2, ax, ax2)


def _panel_weight(ax: Any, result: Any, c: _PanelTimeline) -> None:
    weight = _series(result, "weight_kg")
    ax.set_title("(e) Body weight", loc="left")
    if weight is None or not weight.size:
        _empty(ax)
        ax.set_ylabel("body weight (kg)")
        return
    w0 = float(weight[0]) if np.isfinite(weight[0]) and weight[0] > 0 else None
    ax.plot(c.w(c.day), c.w(weight), color="tab:brown", lw=1.4, label="body weight")
    if w0 is not None:
        ax.axhline(w0, color="0.4", ls="--", lw=1.0, label=f"baseline (t = 0) {w0:.1f} kg")
        top = max(_hi(c.w(weight), w0), w0 * 1.1)
        bottom = min(_lo(c.w(weight), w0), w0)
        pad = 0.05 * (top - bottom)
        ax.set_ylim(bottom - pad, top + pad)
        sec = ax.secondary_yaxis("right", functions=(lambda kg: 100.0 * (kg / w0 - 1.0),
                                                     lambda pct: w0 * (1.0 + pct / 100.0)))
        sec.set_ylabel("weight gain over baseline (%)")
    ax.set_ylabel("body weight (kg)")
    _legend(ax, loc="upper right")


def _panel_volumes(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    inter, plasma = _series(result, "interstitial_volume_l"), _series(result, "plasma_volume_l")
    if inter is not None:
        ax.plot(day, c.w(inter), color="tab:cyan", lw=1.4, label="interstitial fluid")
    _ylabel(ax, "interstitial volume (L)", "darkcyan")
    ax2 = ax.twinx()
    if plasma is not None:
        ax2.plot(day, c.w(plasma), color="tab:red", lw=1.4, label="plasma (right axis)")
        if plasma.size:
            ax2.axhline(plasma[0], color="tab:red", ls=":", lw=0.9, label=f"plasma at t = 0 ({plasma[0]:.2f} L)")
    _ylabel(ax2, "plasma volume (L)", "tab:red")
    ax.set_title("(f) Fluid compartments (capillary leak)", loc="left")
    if inter is None and plasma is None:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="upper right")


# -- symptoms -----------------------------------------------------------------


def _panel_scores(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    drawn = False
    for name, label, color in _SCORES:
        y = _series(result, name)
        if y is not None:
            ax.plot(day, c.w(y), color=color, lw=1.3, label=label)
            drawn = True
    ax.set_ylim(0, 4.2)
    ax.set_ylabel("symptom score (0 = none; max 3 or 4)")
    ax.set_title("(g) Symptoms", loc="left")
    if not drawn:
        _empty(ax)
    _legend(ax, loc="upper right")


def _panel_gi_skin(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    vomit, stools = _series(result, "vomiting_per_day"), _series(result, "stools_per_day_above_baseline")
    rash = _series(result, "rash_bsa_pct")
    top = 4.0
    if vomit is not None:
        ax.plot(day, c.w(vomit), color="tab:olive", lw=1.3, label="vomiting (episodes/24 h)")
        top = max(top, _hi(c.w(vomit), 0.0))
    if stools is not None:
        ax.plot(day, c.w(stools), color="tab:brown", lw=1.3, label="stools above baseline (/24 h)")
        top = max(top, _hi(c.w(stools), 0.0))
    ax.set_ylim(0, 1.1 * top)
    ax.set_ylabel("episodes per 24 h")
    ax2 = ax.twinx()
    if rash is not None:
        ax2.plot(day, c.w(rash), color="tab:pink", lw=1.5, label="rash (% body surface, right axis)")
    ax2.set_ylim(0, 100)
    _ylabel(ax2, "rash (% body surface area)", "tab:pink")
    ax.set_title("(h) Vomiting, diarrhoea and rash", loc="left")
    if vomit is None and stools is None and rash is None:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="upper right")


# -- care given ----------------------------------------------------------------


def _panel_pressor_oxygen(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    pressor, oxygen = _control(result, "pressor_ug_kg_min"), _control(result, "oxygen_l_min")
    if pressor is not None:
        ax.fill_between(day, c.w(pressor), step="post", color="tab:red", alpha=0.2, lw=0)
        ax.step(day, c.w(pressor), where="post", color="tab:red", lw=1.4, label="phenylephrine")
        ax.set_ylim(0, max(1.0, 1.25 * _hi(c.w(pressor), 0.0)))
    _ylabel(ax, "phenylephrine (\u00b5g/kg/min)", "tab:red")
    ax2 = ax.twinx()
    if oxygen is not None:
        ax2.step(day, c.w(oxygen), where="post", color="tab:blue", lw=1.4, label="oxygen (right axis)")
        ax2.set_ylim(0, max(4.0, 1.25 * _hi(c.w(oxygen), 0.0)))
    _ylabel(ax2, "oxygen (L/min)", "tab:blue")
    ax.set_title("(i) Vasopressor and oxygen", loc="left")
    if pressor is None and oxygen is None:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="upper right")


def _boluses(result: Any, c: _PanelTimeline, bolus: np.ndarray | None) -> list[tuple[float, float]]:
    """Fluid boluses as ``(day, volume mL)``: from the decisions, else from the control's rising edges."""
    out = []
    for time_h, decision in getattr(result, "decisions", None) or ():
        for name, rate, hours in getattr(decision, "infusions", ()):
            if name == "fluid_bolus_ml_h" and rate > 0:
                out.append((float(time_h) / 24.0, float(rate) * float(hours)))
    if out or bolus is None or not bolus.size:
        return out
    dt = float(np.median(np.diff(c.t))) if c.t.size > 1 else 0.0
    for start, stop in _runs(bolus > 0):
        out.append((float(c.day[start]), float(np.sum(bolus[start:stop])) * dt))
    return out


def _panel_fluids(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    maint, bolus = _control(result, "fluid_maintenance_ml_h"), _control(result, "fluid_bolus_ml_h")
    if maint is not None:
        ax.fill_between(day, c.w(maint), step="post", color="tab:cyan", alpha=0.3, lw=0)
        ax.step(day, c.w(maint), where="post", color="darkcyan", lw=1.4, label="maintenance IV fluid (mL/h)")
    top = max(100.0, 1.3 * _hi(None if maint is None else c.w(maint), 0.0))
    ax.set_ylim(0, top)
    _ylabel(ax, "maintenance IV fluid (mL/h)", "darkcyan")
    ax2 = ax.twinx()
    boluses = _boluses(result, c, bolus)
    if boluses:
        bd = np.array([b[0] for b in boluses])
        bv = np.array([b[1] for b in boluses])
        shown = bd <= c.window_end
        if np.any(shown):
            ax2.vlines(bd[shown], 0, bv[shown], color="tab:blue", lw=1.5)
            ax2.plot(bd[shown], bv[shown], "v", color="tab:blue", ms=6,
                     label=f"fluid bolus ({int(shown.sum())} shown; all: {len(bv)}, {bv.sum() / 1000:.1f} L)")
        ax2.set_ylim(0, 1.3 * float(bv.max()))
    else:
        ax2.set_ylim(0, 1000)
    _ylabel(ax2, "fluid bolus volume (mL)", "tab:blue")
    ax.set_title("(j) Intravenous fluids", loc="left")
    if maint is None and bolus is None and not boluses:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="upper right")


def _panel_medicines(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    n = len(_MEDICINES)
    for i, (name, label, color) in enumerate(_MEDICINES):
        y = n - 1 - i
        on = _control(result, name)
        if on is None:
            text = f"{label}: not in this result"
        else:
            on = c.w(on) > 0.5
            spans = []
            for start, stop in _runs(on):
                end = day[stop] if stop < day.size else day[-1]
                spans.append((day[start], max(end - day[start], 1e-3)))
            if spans:
                ax.broken_barh(spans, (y - 0.4, 0.5), color=color, alpha=0.85, lw=0)
            hours = float(np.sum(np.diff(day, append=day[-1])[on])) * 24.0 if day.size else 0.0
            text = f"{label}: {hours:.0f} h" if hours else f"{label}: not given"
        ax.text(0.01, y + 0.12, text, transform=ax.get_yaxis_transform(), ha="left", va="bottom",
                fontsize="small", color="k" if on is not None else "0.5")
    ax.set_yticks(range(n), [])
    ax.tick_params(axis="y", length=0)
    ax.set_ylim(-0.55, n - 0.1)
    ax.set_ylabel("medicine given (bar = on)")
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title("(k) Medicines", loc="left")


# -- immunology ------------------------------------------------------------------


def _panel_inflammation(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    ifng = _series(result, "ifng_pg_per_ml")
    if ifng is not None:
        ax.plot(day, c.w(ifng), color="tab:orange", lw=1.3, label="IFN-\u03b3")
    ax.set_ylim(bottom=0)
    _ylabel(ax, "serum IFN-\u03b3 (pg/mL)", "tab:orange")
    ax2 = ax.twinx()
    endo = _series(result, "endothelial_activation")
    if endo is not None:
        ax2.plot(day, c.w(endo), color="tab:cyan", lw=1.3, label="endothelial activation (right axis)")
    ax2.set_ylim(bottom=0)
    _ylabel(ax2, "endothelial activation (dimensionless)", "darkcyan")
    ax.set_title("(l) Inflammation and leak drive", loc="left")
    if ifng is None and endo is None:
        _empty(ax)
    _legend(ax2, ax, ax2, loc="upper right")


def _panel_cells(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.w(c.day)
    drawn = False
    for sid, label in _CELLS:
        y = _series(result, sid)
        if y is not None:
            ax.plot(day, c.w(y), color=_COLORS[sid.split("_")[0]], lw=1.2, label=label)
            drawn = True
    ax.set_title("(m) Immune cells in blood", loc="left")
    ax.set_ylabel("cells/\u00b5L")
    ax.set_ylim(bottom=0)
    if not drawn:
        _empty(ax)
    _legend(ax)


def _panel_lymphocytes(ax: Any, result: Any, c: _PanelTimeline) -> None:
    lymph = _series(result, "lymphocytes_per_ul")
    ax.set_title("(n) Blood lymphocyte count", loc="left")
    ax.set_ylabel("lymphocytes/\u00b5L")
    if lymph is None or not lymph.size:
        _empty(ax)
        return
    ax.plot(c.w(c.day), c.w(lymph), color="k", lw=1.3, label="blood lymphocytes (T + B + NK)")
    ax.axhline(lymph[0], color="0.4", ls="--", lw=1.0, label=f"baseline {lymph[0]:.0f}/\u00b5L")
    if np.any(np.isfinite(lymph)):
        i_min = int(np.nanargmin(np.where(np.isfinite(lymph), lymph, np.inf)))
        where = "" if c.day[i_min] <= c.window_end else ", not shown"
        ax.plot(c.day[i_min], lymph[i_min], "o", color="tab:red", ms=5,
                label=f"nadir {lymph[i_min]:.0f}/\u00b5L (day {c.day[i_min]:.1f}{where})")
    ax.set_ylim(bottom=0)
    _legend(ax, loc="best")


# -- whole run -----------------------------------------------------------------


def _label_courses(ax: Any, c: _PanelTimeline) -> None:
    if len(c.courses) < 2:
        return
    trans = ax.get_xaxis_transform()
    for course, (start, _) in c.courses.items():
        ax.text(start, 1.0, f" course {course}", transform=trans, ha="left", va="bottom", fontsize="small",
                color="tab:blue", clip_on=False)


def _panel_totals(ax: Any, result: Any, c: _PanelTimeline) -> None:
    day = c.long(c.day)
    drawn = False
    for sid, label in _TOTALS:
        y = _series(result, sid)
        if y is not None and y.size and np.isfinite(y[0]) and y[0] != 0:
            ax.plot(day, c.long(y) / y[0], color=_COLORS[sid.split("_")[0]], lw=1.2, label=label)
            drawn = True
    ax.axhline(1.0, color="0.4", ls="--", lw=1.0)
    if c.doses:
        lo, hi = ax.get_ylim() if drawn else (0.0, 1.0)
        if drawn:
            ax.set_ylim(lo, hi + 0.4 * (hi - lo))
        _dose_markers(ax, _dose_groups(c.doses), {"given": 0.97, "held": 0.93, "stopped": 0.89},
                      transform=ax.get_xaxis_transform(), ms=5)
    pad = 14 if len(c.courses) > 1 else 6
    ax.set_title("(o) Whole-body cell numbers and all doses (whole run)", loc="left", pad=pad)
    ax.set_ylabel("relative to baseline (\u00d7)")
    _label_courses(ax, c)
    if not drawn:
        _empty(ax)
    _legend(ax, loc="upper right", bbox_to_anchor=(1.0, 0.87) if c.doses else None, ncol=2)


def _panel_tumour(ax: Any, result: Any, c: _PanelTimeline, summary: Mapping[str, Any] | None) -> None:
    tumour = _series(result, "tumour_sum_diameters_mm")
    ax.set_title("(p) Tumour burden, RECIST 1.1 (whole run)", loc="left", pad=14 if len(c.courses) > 1 else 6)
    ax.set_ylabel("sum of target-lesion diameters (mm)")
    _label_courses(ax, c)
    if tumour is None or not tumour.size:
        _empty(ax)
        return
    base = float(tumour[0])
    day = c.long(c.day)
    nadir = c.long(np.fmin.accumulate(tumour))
    y = c.long(tumour)
    ax.plot(day, y, color="k", lw=1.4, label="sum of target-lesion diameters")
    ax.axhline(0.7 * base, color="tab:green", ls="--", lw=1.0, label="PR threshold (\u221230 % from baseline)")
    ax.plot(day, 1.2 * nadir, color="tab:red", ls="--", lw=1.0, label="PD threshold (+20 % over nadir)")
    ax.fill_between(day, 0.7 * base, 1.2 * nadir, where=1.2 * nadir > 0.7 * base, color="0.85",
                    alpha=0.5, lw=0, label="stable disease zone")
    scans = _scans(summary, c.t_end)
    scan_t = np.array([0.0] + [ts for ts, _ in scans])
    scan_y = np.interp(scan_t, c.t, tumour)
    ax.plot(scan_t / 24.0, scan_y, "o", ms=5, mfc="white", color="tab:blue",
            label="RECIST scans (baseline, every 8 weeks)")
    for (ts, response), yy in zip(scans, scan_y[1:], strict=True):
        ax.axvline(ts / 24.0, color="tab:blue", lw=0.5, alpha=0.4)
        if response:
            ax.annotate(str(response), (ts / 24.0, yy), xytext=(0, 7), textcoords="offset points",
                        ha="center", fontsize="small", color="tab:blue")
    ax.set_ylim(0, 1.12 * max(_hi(tumour, 0.0), 1.2 * base if np.isfinite(base) else 0.0, 1.0))
    _legend(ax, loc="best")
