"""Survival endpoints (Kaplan-Meier, Cox) in the trial summary and the report, against independent references.

The references are written out here, not taken from lifelines: the product-limit
estimator with Greenwood's variance and its log(-log) interval by hand, and
Cox's partial likelihood with Efron's ties maximised with SciPy (checked
against the coefficients the lifelines documentation and Fox's appendix
print for the Rossi recidivism data).
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from il2sim.analysis import (
    TIME_TO_EVENT_COLUMNS,
    WEEKS_PER_MONTH,
    WEEKS_PER_YEAR,
    arm_summary,
    arm_survival,
    hazard_ratios,
    km_endpoint,
    trial_summary,
)

Z95 = stats.norm.ppf(0.975)


# ------------------------------------------------------------ hand references


def product_limit(t, e):
    """Kaplan-Meier by hand: [(time, S, Greenwood sum d/(n(n-d)))] at each distinct event time, from (0, 1, 0)."""
    t, e = np.asarray(t, float), np.asarray(e, bool)
    out, s, g = [(0.0, 1.0, 0.0)], 1.0, 0.0
    for tj in sorted(set(t[e])):
        n = int(np.sum(t >= tj))  # at risk just before tj: censored at tj are still at risk
        d = int(np.sum((t == tj) & e))
        s *= 1.0 - d / n
        g += d / (n * (n - d)) if n > d else math.inf
        out.append((float(tj), s, g))
    return out


def at(table, time):
    """The step function's (S, Greenwood sum) at ``time``."""
    row = [r for r in table if r[0] <= time][-1]
    return row[1], row[2]


def loglog_band(s, g):
    """The exponential Greenwood (log(-log S)) 95% interval of S."""
    if s >= 1.0:
        return 1.0, 1.0
    if s <= 0.0:
        return 0.0, 0.0
    c = math.log(-math.log(s))
    half = Z95 * math.sqrt(g) / abs(math.log(s))
    return math.exp(-math.exp(c + half)), math.exp(-math.exp(c - half))


def hand_median(table, which=None):
    """First event time at which S (or its lower / upper band) is <= 0.5; None if never."""
    for tj, s, g in table:
        v = s if which is None else loglog_band(s, g)[0 if which == "lower" else 1]
        if v <= 0.5:
            return tj
    return None


def efron_neg_loglik(beta, x, t, e):
    """Minus Cox's log partial likelihood with Efron's approximation for tied event times."""
    eta = x @ beta if np.ndim(x) == 2 else x * float(beta[0])
    w = np.exp(eta)
    ll = 0.0
    for tj in np.unique(t[e]):
        dead = (t == tj) & e
        d = int(dead.sum())
        s_risk, s_dead = w[t >= tj].sum(), w[dead].sum()
        ll += eta[dead].sum() - sum(math.log(s_risk - k / d * s_dead) for k in range(d))
    return -ll


def hand_cox_1d(x, t, e):
    """Hazard ratio, Wald 95% CI and p of one covariate, from the hand partial likelihood."""
    f = lambda b: efron_neg_loglik(np.array([b]), x, t, e)
    b = optimize.minimize_scalar(f, bounds=(-5, 5), method="bounded", options={"xatol": 1e-10}).x
    h = 1e-4
    info = (f(b + h) - 2 * f(b) + f(b - h)) / h**2
    se = 1.0 / math.sqrt(info)
    return math.exp(b), (math.exp(b - Z95 * se), math.exp(b + Z95 * se)), 2 * stats.norm.sf(abs(b / se))


# ------------------------------------------------------------------ tables


def tte_table(arms):
    """A patient table with time-to-event columns, built by hand.

    ``arms`` maps arm -> list of dicts: pfs, prog, os, died, bor, and for responders rw (response week),
    dur (response duration, weeks), dev (response ended by progression/death); status defaults to "ok".
    """
    rows = []
    for arm in sorted(arms):
        for pid, p in enumerate(arms[arm]):
            responder = p.get("bor", "SD") in ("CR", "PR")
            rows.append({
                "arm": arm, "patient_id": pid, "status": p.get("status", "ok"),
                "best_overall_response": p.get("bor", "SD"),
                "response_week": p.get("rw", 8.0) if responder else math.nan,
                "response_duration_weeks": p.get("dur", math.nan) if responder else math.nan,
                "response_duration_event": bool(p.get("dev", False)) and responder,
                "pfs_weeks": float(p["pfs"]), "progressed": bool(p["prog"]),
                "os_weeks": float(p.get("os", p["pfs"])), "died": bool(p.get("died", False)),
                "death_cause": p.get("cause", "disease" if p.get("died") else ""),
            })
    df = pd.DataFrame(rows)
    df["patient_id"] = df["patient_id"].astype("int64")
    return df.sort_values(["arm", "patient_id"], kind="mergesort").reset_index(drop=True)


# ties at 13 weeks (two events and a censoring) and 39 weeks (an event and a censoring)
T_SMALL = [4, 13, 13, 13, 26, 30, 39, 39, 52, 60, 78, 110, 120]
E_SMALL = [1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0]


def test_km_by_hand_with_ties_and_censoring():
    r = km_endpoint(T_SMALL, E_SMALL)
    table = product_limit(T_SMALL, E_SMALL)
    assert r["n"] == 13 and r["events"] == 8 and r["n_missing"] == 0
    # S by hand: 12/13 at 4; x 10/12 at 13 (the one censored at 13 is still at risk); x 8/9 at 26; ...
    s13 = 12 / 13 * 10 / 12
    assert at(table, 13)[0] == pytest.approx(s13)
    assert at(table, 26)[0] == pytest.approx(s13 * 8 / 9)
    # the step curve in months: time 0 and every distinct follow-up time
    assert r["curve"]["time_months"][0] == 0.0 and r["curve"]["survival"][0] == 1.0
    assert r["curve"]["time_months"] == pytest.approx([tj / WEEKS_PER_MONTH for tj in [0, *sorted(set(T_SMALL))]],
                                                      abs=1e-6)
    for weeks, s, lo, hi in zip([0, *sorted(set(T_SMALL))], r["curve"]["survival"], r["curve"]["lower"],
                                r["curve"]["upper"]):
        assert s == pytest.approx(at(table, weeks)[0], abs=1e-6)
        assert [lo, hi] == pytest.approx(list(loglog_band(*at(table, weeks))), abs=1e-6)
    assert r["curve"]["censored_months"] == pytest.approx([w / WEEKS_PER_MONTH for w in (13, 30, 39, 78, 120)], abs=1e-6)
    # median: S first <= 0.5 at 52 weeks; its CI from the times the hand band crosses 0.5
    assert hand_median(table) == 52.0
    assert r["median_months"] == pytest.approx(52.0 / WEEKS_PER_MONTH)
    # (the upper band is still 0.507 at the last event, 110 weeks: the upper end is not reached)
    assert hand_median(table, "lower") == 13.0 and hand_median(table, "upper") is None
    assert r["ci95"][0] == pytest.approx(13.0 / WEEKS_PER_MONTH) and r["ci95"][1] is None
    # landmarks: 1 year = 52.18 weeks (after the event at 52), 2 years = 104.36 weeks (before 110)
    assert WEEKS_PER_YEAR == pytest.approx(52.18, abs=5e-3) and 2 * WEEKS_PER_YEAR == pytest.approx(104.36, abs=5e-3)
    for key, weeks in (("at_1y", WEEKS_PER_YEAR), ("at_2y", 2 * WEEKS_PER_YEAR)):
        s, g = at(table, weeks)
        assert r[key] == pytest.approx(s, rel=1e-12)
        assert r[f"{key}_ci95"] == pytest.approx(list(loglog_band(s, g)), rel=1e-9)
    assert r["at_1y"] == pytest.approx(s13 * 8 / 9 * 6 / 7 * 4 / 5)
    # 5 years is beyond the last follow-up (120 weeks, censored): not estimable
    assert r["at_5y"] is None and r["at_5y_ci95"] == [None, None]
    # numbers at risk at 0, 6, 12, ... months, up to the longest follow-up (120 weeks = 27.6 months)
    grid = [0.0, 6.0, 12.0, 18.0, 24.0]
    assert r["at_risk"]["time_months"] == grid
    assert r["at_risk"]["n"] == [sum(w >= g * WEEKS_PER_MONTH for w in T_SMALL) for g in grid] == [13, 8, 4, 2, 2]
    assert r["max_follow_up_months"] == pytest.approx(120 / WEEKS_PER_MONTH)
    json.dumps(r, allow_nan=False)


def test_median_not_reached_and_landmarks_beyond_follow_up():
    r = km_endpoint([10, 20, 30, 40, 50, 60], [1, 0, 0, 1, 0, 0])  # S ends at 0.8 * 0.667 = 0.53
    assert r["median_months"] is None and r["ci95"][1] is None
    assert r["at_1y"] == pytest.approx(5 / 6 * 2 / 3)
    assert r["at_2y"] is None and r["at_5y"] is None
    none = km_endpoint([5.0, 6.0], [False, False])
    assert none["events"] == 0 and none["median_months"] is None and none["ci95"] == [None, None]
    assert none["curve"]["survival"] == [1.0, 1.0, 1.0]
    # everyone died before a year: the curve is at 0, so the rates later on are 0, not unknown
    dead = km_endpoint([4.0, 8.0, 12.0], [True, True, True])
    assert dead["at_1y"] == 0.0 and dead["at_5y"] == 0.0 and dead["median_months"] == pytest.approx(8 / WEEKS_PER_MONTH)
    for res in (r, none, dead, km_endpoint([], [])):
        json.dumps(res, allow_nan=False)
    empty = km_endpoint([], [])
    assert empty["n"] == 0 and empty["median_months"] is None and empty["at_risk"] == {"time_months": [], "n": []}


def test_km_rejects_bad_input():
    with pytest.raises(ValueError, match="same length"):
        km_endpoint([1.0, 2.0], [True])
    with pytest.raises(ValueError, match="finite and >= 0"):
        km_endpoint([1.0, math.nan], [True, False])
    with pytest.raises(ValueError, match="finite and >= 0"):
        km_endpoint([-1.0], [True])


def test_waltons_medians():
    """lifelines' Waltons data (T in days, read here as weeks): medians 58 (control) and 26 (miR-137)."""
    from lifelines.datasets import load_waltons

    df = load_waltons()
    expected = {"control": 58.0, "miR-137": 26.0}
    for group, median in expected.items():
        sub = df[df["group"] == group]
        r = km_endpoint(sub["T"].to_numpy(), sub["E"].to_numpy())
        table = product_limit(sub["T"], sub["E"])
        assert hand_median(table) == median
        assert r["median_months"] * WEEKS_PER_MONTH == pytest.approx(median)
        lo, hi = hand_median(table, "lower"), hand_median(table, "upper")
        assert [v * WEEKS_PER_MONTH for v in r["ci95"]] == pytest.approx([lo, hi])
        assert r["n"] == len(sub) and r["events"] == int(sub["E"].sum())


def test_hand_cox_reproduces_the_published_rossi_coefficients():
    """The hand partial likelihood gives the full-model coefficients printed by lifelines' docs and Fox (2002).

    lifelines, "Survival Regression": fin -0.38 (HR 0.68, 0.47-1.00), age -0.06, prio 0.09; Fox's appendix on
    the Cox model (Rossi et al. 1980 data) gives fin -0.379, age -0.0574, prio 0.0915.
    """
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    cols = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
    x = rossi[cols].to_numpy(float)
    t, e = rossi["week"].to_numpy(float), rossi["arrest"].to_numpy(bool)
    beta = optimize.minimize(efron_neg_loglik, np.zeros(len(cols)), args=(x, t, e), method="BFGS").x
    coef = dict(zip(cols, beta))
    assert round(coef["fin"], 2) == -0.38 and round(math.exp(coef["fin"]), 2) == 0.68
    assert coef["fin"] == pytest.approx(-0.379, abs=6e-4)
    assert coef["age"] == pytest.approx(-0.0574, abs=1e-4) and coef["prio"] == pytest.approx(0.0915, abs=1e-4)


def test_hazard_ratio_matches_the_hand_cox_fit_on_rossi():
    """Financial aid (fin = 1) as an arm against no aid: the one-covariate Cox fit, by hand and by hazard_ratios."""
    from lifelines.datasets import load_rossi

    rossi = load_rossi()
    df = pd.DataFrame({
        "arm": np.where(rossi["fin"] == 1, "aid", "control"), "patient_id": np.arange(len(rossi)), "status": "ok",
        "pfs_weeks": rossi["week"].astype(float), "progressed": rossi["arrest"].astype(bool),
        "os_weeks": rossi["week"].astype(float), "died": rossi["arrest"].astype(bool),
    })
    hr, (lo, hi), p = hand_cox_1d((rossi["fin"] == 1).to_numpy(float), rossi["week"].to_numpy(float),
                                  rossi["arrest"].to_numpy(bool))
    out = hazard_ratios(df, reference_arm="control")
    assert list(out) == ["aid"] and out["aid"]["reference"] == "control"
    for endpoint in ("pfs", "os"):
        got = out["aid"][endpoint]
        assert got["hr"] == pytest.approx(hr, rel=1e-5)
        assert got["ci95"] == pytest.approx([lo, hi], rel=1e-4)
        assert got["p"] == pytest.approx(p, rel=1e-3)
        assert got["n"] == 432 and got["events"] == 114 and got["note"] is None
    assert hr == pytest.approx(0.691, abs=1e-3) and 0.05 < p < 0.06  # a little weaker than the adjusted -0.379
    # the default reference is the first arm in sorted order ("aid"): the inverse ratio
    inv = hazard_ratios(df)["control"]["pfs"]
    assert inv["hr"] == pytest.approx(1.0 / hr, rel=1e-5) and inv["ci95"] == pytest.approx([1 / hi, 1 / lo], rel=1e-4)
    with pytest.raises(ValueError, match="reference_arm"):
        hazard_ratios(df, reference_arm="nope")


# ------------------------------------------------------------------ arms


def _arm(n, pfs_step, died_every=3, offset=0.0):
    """n patients with PFS every ``pfs_step`` weeks, mixed responses, some deaths, the last ones censored."""
    rows = []
    for i in range(n):
        pfs = offset + pfs_step * (i + 1)
        censored = i >= n - 2
        bor = ("CR", "PR", "SD", "PD")[i % 4]
        rows.append({"pfs": pfs, "prog": not censored, "os": pfs + 20.0, "died": (i % died_every == 0) and not censored,
                     "bor": bor, "rw": 8.0, "dur": max(pfs - 8.0, 1.0), "dev": not censored})
    return rows


def test_arm_survival_excludes_failed_rows_and_dor_is_over_responders():
    good = _arm(12, 6.0)
    failed = {"pfs": 1.0, "prog": True, "os": 1.0, "died": True, "bor": "CR", "dur": 0.5, "dev": True,
              "status": "failed"}
    with_failed = arm_survival(tte_table({"a": good + [failed]}))
    without = arm_survival(tte_table({"a": good}))
    assert with_failed["n_excluded"] == 1 and without["n_excluded"] == 0
    for key in ("pfs", "os", "dor"):
        assert with_failed[key] == without[key]
    assert without["pfs"]["n"] == 12 and without["pfs"]["events"] == 10
    # DOR: the 6 responders (i % 4 in {0, 1}) with their own durations
    resp = [p for p in good if p["bor"] in ("CR", "PR")]
    assert without["dor"]["n"] == len(resp) == 6
    ref = km_endpoint([p["dur"] for p in resp], [p["dev"] for p in resp])
    assert without["dor"] == ref
    # a row that is ok but has no PFS time is left out of PFS and counted there
    df = tte_table({"a": good})
    df.loc[3, "pfs_weeks"] = math.nan
    s = arm_survival(df)
    assert s["pfs"]["n"] == 11 and s["pfs"]["n_missing"] == 1 and s["os"]["n_missing"] == 0
    json.dumps(s, allow_nan=False)


def test_old_tables_have_no_survival():
    df = tte_table({"a": _arm(4, 6.0), "b": _arm(4, 8.0)}).drop(columns=list(TIME_TO_EVENT_COLUMNS))
    assert arm_survival(df) == {} and hazard_ratios(df) == {}
    s = trial_summary(df)
    assert "hazard_ratio" not in s and all("survival" not in a for a in s["arms"].values())


def test_summary_wiring_and_json():
    df = tte_table({"a-ref": _arm(16, 6.0), "b-new": _arm(16, 9.0)})
    s = trial_summary(df)
    text = json.dumps(s, allow_nan=False)
    a = s["arms"]["a-ref"]
    assert {"n_patients", "orr", "orr_ci95", "incidence"} <= set(a)  # the existing keys are still there
    assert set(a["survival"]) == {"pfs", "os", "dor", "n_excluded"}
    for key in ("pfs", "os", "dor"):
        assert {"median_months", "ci95", "at_1y", "at_2y", "at_5y", "curve", "at_risk"} <= set(a["survival"][key])
    assert a["survival"] == arm_survival(df[df["arm"] == "a-ref"])
    assert arm_summary(df[df["arm"] == "b-new"])["survival"] == s["arms"]["b-new"]["survival"]
    hr = s["hazard_ratio"]
    assert list(hr) == ["b-new"] and hr["b-new"]["reference"] == "a-ref"
    assert 0.0 < hr["b-new"]["pfs"]["hr"] < 1.0  # longer PFS on b-new: a lower hazard
    assert hr == hazard_ratios(df)
    # bit-identical whatever the row order
    assert json.dumps(trial_summary(df.sample(frac=1.0, random_state=2)), allow_nan=False) == text
    # an explicit reference arm
    assert list(trial_summary(df, reference_arm="b-new")["hazard_ratio"]) == ["a-ref"]
    # one arm: no hazard ratio
    one = trial_summary(df[df["arm"] == "a-ref"])
    assert "hazard_ratio" not in one and "survival" in one["arms"]["a-ref"]


def test_hazard_ratio_not_estimable_gives_none_and_a_note():
    no_events = [{"pfs": 10.0 * (i + 1), "prog": False, "os": 10.0 * (i + 1), "died": False} for i in range(5)]
    some = [{"pfs": 7.0 * (i + 1), "prog": True, "os": 9.0 * (i + 1), "died": i % 2 == 0} for i in range(5)]
    out = hazard_ratios(tte_table({"a": some, "b": no_events}))
    for key in ("pfs", "os"):
        got = out["b"][key]
        assert got["hr"] is None and got["ci95"] == [None, None] and got["p"] is None
        assert "no event on b" in got["note"]
    # complete separation: every event on "a" happens while all of "b" is at risk and event-free,
    # b's one event comes after the last of a: the partial likelihood has no maximum
    a = [{"pfs": float(t), "prog": True} for t in (1, 2, 3)]
    b = [{"pfs": float(t), "prog": t == 6} for t in (4, 5, 6)]
    got = hazard_ratios(tte_table({"a": a, "b": b}))["b"]["pfs"]
    assert got["hr"] is None and got["note"] and "Cox fit" in got["note"]
    # all failed on one arm
    failed = [dict(p, status="failed") for p in some]
    got = hazard_ratios(tte_table({"a": some, "b": failed}))["b"]["os"]
    assert got["hr"] is None and "no patient" in got["note"]
    json.dumps(out, allow_nan=False)


# ------------------------------------------------------------------ report


def _section(page, heading):
    start = page.index(f"<h2>{heading}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start:end if end >= 0 else len(page)]


def _report_table():
    """Two arms of 16 with responders that progress, die (one from treatment) or are still responding."""
    df = tte_table({"a-ref": _arm(16, 6.0), "b-new": _arm(16, 9.0)})
    df.loc[0, "death_cause"] = "treatment"  # a-ref patient 0 died (i % 3 == 0)
    # a-ref patient 13 (PR) still responding, alive and progression-free at the last follow-up
    df.loc[13, ["progressed", "response_duration_event", "died"]] = False
    df.loc[13, "pfs_weeks"] = df.loc[13, "os_weeks"]
    df.loc[13, "response_duration_weeks"] = df.loc[13, "os_weeks"] - df.loc[13, "response_week"]
    return df


def test_report_survival_section():
    from il2sim.report import SECTIONS, trial_report_html

    df = _report_table()
    summary = trial_summary(df)
    page = trial_report_html(df, summary)
    assert "Survival" in SECTIONS
    sec = _section(page, "Survival")
    assert sec.count('<img src="data:image/png;base64,') == 4  # PFS, OS, DOR, swimmer
    for words in ("Progression-free survival", "Overall survival", "Duration of response", "swimmer plot",
                  "number at risk", "hazard ratio vs a-ref", "reference", "Brookmeyer"):
        assert words in sec
    # the numbers at risk under the PFS plot are the summary's, arm by arm
    for arm in ("a-ref", "b-new"):
        risk = summary["arms"][arm]["survival"]["pfs"]["at_risk"]
        row = "".join(f"<td>{n}</td>" for n in risk["n"])
        assert f'<tr><td class="l">{arm}</td>{row}' in sec
    # median (95% CI) and events / n of the PFS table
    e = summary["arms"]["b-new"]["survival"]["pfs"]
    assert f"<td>{e['events']} / {e['n']}</td><td>{e['median_months']:.1f} <small>(" in sec
    hr = summary["hazard_ratio"]["b-new"]["pfs"]
    assert f"{hr['hr']:.2f} <small>({hr['ci95'][0]:.2f}&ndash;{hr['ci95'][1]:.2f})</small>" in sec
    assert "<th>deaths from treatment</th>" in sec
    # the section comes after the spider plots, before toxicity
    assert page.index("<h2>Spider plots</h2>") < page.index("<h2>Survival</h2>") < page.index("<h2>Toxicity by grade</h2>")
    assert "<script" not in page.lower()


def test_report_without_time_to_event_columns_says_so():
    from il2sim.report import trial_report_html

    df = _report_table().drop(columns=list(TIME_TO_EVENT_COLUMNS))
    sec = _section(trial_report_html(df, trial_summary(df)), "Survival")
    assert "no time-to-event columns" in sec and "<img" not in sec
    assert "no time-to-event columns" in _section(trial_report_html(pd.DataFrame(), {}), "Survival")


def test_report_single_arm_and_no_responders():
    from il2sim.report import trial_report_html

    rows = [dict(p, bor="SD") for p in _arm(6, 5.0)]
    df = tte_table({"only": rows})
    sec = _section(trial_report_html(df, trial_summary(df)), "Survival")
    assert "hazard ratio" not in sec  # nothing to compare with
    assert sec.count('<img src="data:image/png;base64,') == 4


def test_km_figure_overlays_arms_with_bands_censor_ticks_and_numbers_at_risk():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from il2sim.report import _km_figure

    df = _report_table()
    arms = ["a-ref", "b-new"]
    surv = {a: arm_survival(df[df["arm"] == a]) for a in arms}
    fig = _km_figure("pfs", surv, arms)
    FigureCanvasAgg(fig).draw()
    ax, tab = fig.axes
    assert len(ax.collections) == 2  # one shaded band per arm
    steps = [ln for ln in ax.lines if ln.get_linestyle() == "-"]
    ticks = [ln for ln in ax.lines if ln.get_marker() == "|"]
    assert len(steps) == 2 and len(ticks) == 2
    assert sum(len(t.get_xdata()) for t in ticks) == 5  # two censored per arm, and a-ref patient 13
    assert tab.get_xlabel() == "months since the first dose"
    assert [t.get_text() for t in tab.get_yticklabels()] == arms
    texts = sorted((t.get_position()[1], t.get_text()) for t in tab.texts)
    expected = sorted((j, str(n)) for j, a in enumerate(arms) for n in surv[a]["pfs"]["at_risk"]["n"])
    assert texts == expected
    assert list(tab.get_xticks()) == surv["b-new"]["pfs"]["at_risk"]["time_months"]
    # the legend is outside the axes
    renderer = fig.canvas.get_renderer()
    box = fig.legends[0].get_window_extent(renderer)
    assert not box.overlaps(ax.get_window_extent(renderer)) and not box.overlaps(tab.get_window_extent(renderer))


def test_swimmer_plot_marks_response_progression_ongoing_and_death():
    from il2sim.report import _swimmer_figure

    df = _report_table()
    df.loc[1, "status"] = "failed"  # a-ref patient 1 (a PR): left out
    fig = _swimmer_figure(df, ["a-ref", "b-new"])
    ax = fig.axes[0]
    sub = df[(df["arm"] == "a-ref") & (df["status"] == "ok") & df["best_overall_response"].isin(["CR", "PR"])]
    assert len(ax.patches) == len(sub) == 7  # one bar per responder (8 CR/PR, one failed)
    widths = sorted(p.get_width() for p in ax.patches)
    assert widths == pytest.approx(sorted(sub["os_weeks"] / WEEKS_PER_MONTH))
    markers = [ln.get_marker() for ln in ax.lines]
    assert markers.count("^") == len(sub)
    assert markers.count("x") == int(sub["died"].sum())
    ongoing = int((~sub["response_duration_event"] & ~sub["died"]).sum())
    assert markers.count(">") == ongoing >= 1
    prog = int((sub["progressed"] & ~(sub["died"] & (sub["pfs_weeks"] >= sub["os_weeks"]))).sum())
    assert markers.count("o") == prog >= 1
    assert ax.get_xlabel() == "months since the first dose"
    colors = {x.get_color() for x in ax.lines if x.get_marker() == "x"}
    assert "#7b3294" in colors  # the treatment death
