"""Trial endpoints (arm_summary, Wilson intervals) and the HTML trial report."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from il2sim.analysis import TERMS, arm_summary, trial_summary, wilson_interval
from il2sim.report import SECTIONS, trial_report_html


def _patients(arms):
    """A patient table built by hand.

    ``arms`` maps arm -> list of dicts with keys bor, status, dfc (doses in the
    first course), change (best % change), grades {term: grade}, reported {term}.
    """
    rows = []
    for arm in sorted(arms):
        for pid, p in enumerate(arms[arm]):
            base = 100.0
            change = p.get("change", math.nan)
            row = {
                "arm": arm,
                "patient_id": pid,
                "indication": "melanoma",
                "status": p.get("status", "ok"),
                "best_overall_response": p["bor"],
                "best_change_pct": change,
                "doses_scheduled": 28 if p.get("status", "ok") == "ok" else 0,
                "doses_given": p.get("dfc", 0),
                "doses_first_course": p.get("dfc", 0),
                "courses": 1,
                "baseline_sum_diameters_mm": base,
            }
            for t in TERMS:
                row[f"grade_{t}"] = int(p.get("grades", {}).get(t, 0))
                row[f"reported_{t}"] = t in p.get("reported", ())
            for k in range(1, 8):
                # scans 1-3 go linearly to the best change; later ones not scanned
                row[f"sld_scan_{k}_mm"] = (
                    base * (1.0 + change / 100.0 * k / 3.0) if (k <= 3 and np.isfinite(change)) else math.nan
                )
            rows.append(row)
    df = pd.DataFrame(rows)
    df["patient_id"] = df["patient_id"].astype("int64")
    for c in ("doses_scheduled", "doses_given", "doses_first_course", "courses"):
        df[c] = df[c].astype("int64")
    return df.sort_values(["arm", "patient_id"], kind="mergesort").reset_index(drop=True)


HD = [
    {"bor": "CR", "dfc": 12, "change": -100.0, "grades": {"hypotension": 3}, "reported": {"fever", "hypotension"}},
    {"bor": "PR", "dfc": 10, "change": -45.0, "grades": {"hypotension": 4}, "reported": {"fever"}},
    {"bor": "PR", "dfc": 14, "change": -35.0, "grades": {"hypotension": 2}, "reported": {"fever"}},
    {"bor": "SD", "dfc": 8, "change": -10.0, "grades": {"hypotension": 3, "fever": 3}, "reported": {"fever"}},
    {"bor": "SD", "dfc": 9, "change": 0.0, "grades": {"fever": 1}},
    {"bor": "SD", "dfc": 11, "change": 5.0},
    {"bor": "PD", "dfc": 7, "change": 25.0, "grades": {"oliguria": 3}},
    {"bor": "PD", "dfc": 13, "change": 40.0},
    {"bor": "PD", "dfc": 6, "change": 60.0},
    {"bor": "PD", "dfc": 12, "change": 30.0},
    {"bor": "NE", "dfc": 2},
    # failed simulation: counts as NE whatever its row says, and is left out of the median
    {"bor": "PR", "status": "failed", "dfc": 0, "grades": {"hypotension": 3}},
]
LD = [
    {"bor": "PR", "dfc": 28, "change": -50.0, "reported": {"fatigue"}},
    {"bor": "SD", "dfc": 28, "change": -20.0, "reported": {"fatigue"}},
    {"bor": "SD", "dfc": 26, "change": 10.0},
    {"bor": "PD", "dfc": 27, "change": 35.0},
    {"bor": "PD", "dfc": 28, "change": 50.0, "grades": {"hypotension": 2}},
    {"bor": "PD", "dfc": 25, "change": 21.0},
    {"bor": "PD", "dfc": 28, "change": 80.0},
    {"bor": "NE", "status": "failed", "dfc": 0},
]


@pytest.fixture(scope="module")
def patients():
    return _patients({"high-dose": HD, "low-dose-iv": LD})


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(16, 100)
    assert lo == pytest.approx(0.1009, abs=5e-4)
    assert hi == pytest.approx(0.2439, abs=5e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and lo == pytest.approx(0.7225, abs=1e-4)
    lo, hi = wilson_interval(0, 0)
    assert math.isnan(lo) and math.isnan(hi)


def test_arm_summary_exact(patients):
    s = arm_summary(patients[patients["arm"] == "high-dose"])
    assert set(s) == {
        "n_patients", "n_failed", "n_out_of_domain", "orr", "cr_rate", "pr_rate", "sd_rate", "pd_rate", "ne_rate",
        "median_doses_first_course", "incidence", "incidence_grade3plus", "orr_ci95",
    }
    assert s["n_patients"] == 12 and s["n_failed"] == 1 and s["n_out_of_domain"] == 0  # no column: none counted
    flagged = patients[patients["arm"] == "high-dose"].assign(out_of_domain=[""] * 10 + ["profound_shock", "a;b"])
    assert arm_summary(flagged)["n_out_of_domain"] == 2
    assert s["orr"] == 3 / 12
    assert s["cr_rate"] == 1 / 12
    assert s["pr_rate"] == 2 / 12  # the failed "PR" row is NE
    assert s["sd_rate"] == 3 / 12
    assert s["pd_rate"] == 4 / 12
    assert s["ne_rate"] == 2 / 12
    # median over the 11 successful patients: sorted 2 6 7 8 9 10 11 12 12 13 14 -> 10
    assert s["median_doses_first_course"] == 10.0
    assert list(s["incidence"]) == list(TERMS)
    assert s["incidence"]["fever"] == 4 / 12
    assert s["incidence"]["hypotension"] == 1 / 12
    assert s["incidence"]["rash"] == 0.0
    assert s["incidence_grade3plus"]["hypotension"] == 4 / 12  # includes the failed row's grade 3
    assert s["incidence_grade3plus"]["fever"] == 1 / 12
    assert s["incidence_grade3plus"]["oliguria"] == 1 / 12
    lo, hi = wilson_interval(3, 12)
    assert s["orr_ci95"] == [lo, hi]

    t = arm_summary(patients[patients["arm"] == "low-dose-iv"])
    assert t["n_patients"] == 8 and t["n_failed"] == 1
    assert t["orr"] == 1 / 8 and t["cr_rate"] == 0.0 and t["pd_rate"] == 4 / 8 and t["ne_rate"] == 1 / 8
    assert t["median_doses_first_course"] == 28.0  # 25 26 27 28 28 28 28
    assert t["incidence"]["fatigue"] == 2 / 8
    assert t["incidence_grade3plus"]["hypotension"] == 0.0


def test_trial_summary_plain_and_deterministic(patients):
    s = trial_summary(patients)
    assert list(s["arms"]) == ["high-dose", "low-dose-iv"]
    text = json.dumps(s, allow_nan=False, sort_keys=False)
    assert json.loads(text) == s

    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, str) and plain(v) for k, v in x.items())
        if isinstance(x, list):
            return all(plain(v) for v in x)
        return x is None or type(x) in (int, float, str, bool)

    assert plain(s)
    shuffled = patients.sample(frac=1.0, random_state=1)
    assert json.dumps(trial_summary(shuffled)) == text


def test_report_html(patients):
    summary = trial_summary(patients)
    summary["provenance"] = {"il2sim_version": "0.1.0", "seed": 0, "elapsed_s": 1.5, "note": "a<b & c"}
    page = trial_report_html(patients, summary)
    assert page.startswith("<!DOCTYPE html>")
    assert "high-dose" in page and "low-dose-iv" in page
    for heading in SECTIONS:
        assert f"<h2>{heading}</h2>" in page
    assert page.count('<img src="data:image/png;base64,') >= 4
    assert "a&lt;b &amp; c" in page
    assert "<script" not in page.lower()


def test_report_escapes_arm_names():
    df = _patients({"<script>alert(1)</script>": HD[:3], "plain": LD[:2]})
    page = trial_report_html(df, trial_summary(df), title="<script>x</script>")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_single_arm_tiny_trials():
    for rows in (HD[:1], HD[:2], LD[:3]):
        df = _patients({"only": rows})
        page = trial_report_html(df, trial_summary(df))
        assert page.count('<img src="data:image/png;base64,') >= 4


def test_all_failed_one_patient():
    df = _patients({"high-dose": [{"bor": "NE", "status": "failed", "dfc": 0}]})
    df["best_change_pct"] = np.nan
    s = trial_summary(df)
    a = s["arms"]["high-dose"]
    assert a["n_patients"] == 1 and a["n_failed"] == 1
    assert a["ne_rate"] == 1.0 and a["orr"] == 0.0
    assert a["median_doses_first_course"] is None
    json.dumps(s, allow_nan=False)
    page = trial_report_html(df, s)
    assert "high-dose" in page
    assert page.count('<img src="data:image/png;base64,') >= 4
    # also with no summary at all (summaries computed from the table)
    assert "high-dose" in trial_report_html(df, {})


def test_empty_arm_summary_has_no_nan():
    s = arm_summary(_patients({"a": LD[:1]}).iloc[0:0])
    assert s["n_patients"] == 0 and s["orr"] is None and s["orr_ci95"] == [None, None]
    json.dumps(s, allow_nan=False)
