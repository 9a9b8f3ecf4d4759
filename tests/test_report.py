"""Trial endpoints (arm_summary, Wilson intervals) and the HTML trial report."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from il2sim.analysis import (
    CTCAE_CRITERIA,
    LABEL_MAPPING,
    TERMS,
    arm_summary,
    paired_difference_ci,
    trial_summary,
    wilson_interval,
)
from il2sim.protocol import NAMED_REGIMENS
from il2sim.report import (
    SECTIONS,
    _arm_regimens,
    _dose_intensity_figure,
    _pp,
    _scheduled_first_course,
    _spider_figure,
    _toxicity_figure,
    _waterfall_figure,
    trial_report_html,
)


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


# ------------------------------------------------------------------ issue 18: the report a new user reads


def _section(page, heading):
    start = page.index(f"<h2>{heading}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start:end if end >= 0 else len(page)]


def _row(html_text, first_cell):
    """The cells (inner HTML) after the first cell of the table row whose first cell is ``first_cell``."""
    m = re.search(r'<tr><td class="l">' + re.escape(first_cell) + r"</td>(.*?)</tr>", html_text)
    assert m, f"no row {first_cell!r}"
    return re.findall(r"<td[^>]*>(.*?)</td>", m.group(1))


def _recorded(arms):
    """A summary provenance recording each arm's regimen (arm -> named regimen), in the given order."""
    return {"provenance": {"inputs": {"arms": {a: {**NAMED_REGIMENS[r].to_dict(), "name": a} for a, r in arms.items()}}}}


def test_adverse_event_table_label_column_and_explanations(patients):
    page = trial_report_html(patients, trial_summary(patients))  # no provenance: regimens from the arm names
    ae = _section(page, "Adverse events")
    # the label column is there for the high-dose arm only (the label figures are for high-dose aldesleukin)
    assert ae.count("<th>label (Proleukin)</th>") == 1
    assert '<th colspan="5">high-dose</th><th colspan="3">low-dose-iv</th>' in ae
    assert "high-dose aldesleukin" in ae and "600,000 IU/kg" in ae
    # fever, high-dose: 4/12 reported, label incidence from LABEL_MAPPING, 2/12 any grade, 1/12 grade >= 3
    label = LABEL_MAPPING["fever"].label_incidence
    cells = _row(ae, "fever")
    assert cells[0] == "Fever"
    assert cells[1:6] == ["33.3%", f"{100 * label:.0f}%", f"+{100 * (4 / 12 - label):.1f} pp", "16.7%", "8.3%"]
    assert cells[6:9] == ["0.0%", "0.0%", "0.0%"]  # low-dose-iv: reported, any grade, grade >= 3 (no label cells)
    assert "39.0" in cells[9]  # the reporting rule is shown
    # hypotension: 5 of 12 graded (the failed row's grade 3 included), 1 reported
    cells = _row(ae, "hypotension")
    assert cells[1] == "8.3%" and cells[4] == "41.7%" and cells[5] == "33.3%"
    assert cells[3] == f"&minus;{100 * (LABEL_MAPPING['hypotension'].label_incidence - 1 / 12):.1f} pp"
    # a proxy label term is marked and not differenced; a term the label lacks says so
    fatigue = _row(ae, "fatigue")
    assert fatigue[0] == "Malaise / Asthenia" and fatigue[2].endswith("&dagger;") and fatigue[3] == "&ndash;"
    lymph = _row(ae, "lymphocyte count decreased")
    assert lymph[0].startswith("&ndash; (not in Table III)") and lymph[2] == "&ndash;" and lymph[3] == "&ndash;"
    assert "expected pharmacodynamic effect" in lymph[-1]
    # the note says what the two kinds of column count, with the thresholds of the package's own rules
    for words in ("<b>reported</b>", "<b>any grade</b>", "whether or not anyone", "lymphopenia", "antipyretics",
                  f"{CTCAE_CRITERIA['fever'].param('grade1_from_c'):.1f} &deg;C",
                  f"{CTCAE_CRITERIA['lymphocyte_count_decreased'].param('lln_per_ul'):.0f}/&micro;L"):
        assert words in ae


def test_label_column_follows_the_recorded_schedule_not_the_name(patients):
    # "high-dose" recorded with the low-dose schedule, "low-dose-iv" recorded with the label's schedule
    summary = trial_summary(patients) | _recorded({"high-dose": "low-dose-iv", "low-dose-iv": "high-dose"})
    ae = _section(trial_report_html(patients, summary), "Adverse events")
    assert ae.count("<th>label (Proleukin)</th>") == 1
    assert '<th colspan="3">high-dose</th><th colspan="5">low-dose-iv</th>' in ae
    assert _row(ae, "fever")[5] == f"{100 * LABEL_MAPPING['fever'].label_incidence:.0f}%"  # after 3 high-dose cells + 1
    # neither arm on the label's schedule: no label column, and the note says why
    summary = trial_summary(patients) | _recorded({"high-dose": "high-dose-720", "low-dose-iv": "low-dose-sc"})
    ae = _section(trial_report_html(patients, summary), "Adverse events")
    assert "<th>label (Proleukin)</th>" not in ae and "No arm gives aldesleukin on the label's schedule" in ae


def test_another_molecule_on_the_label_schedule_has_no_label_comparator(patients):
    """The label's incidences are aldesleukin's: an engineered molecule on the same schedule is not compared with them."""
    summary = trial_summary(patients) | _recorded({"high-dose": "high-dose", "low-dose-iv": "low-dose-iv"})
    summary["provenance"]["inputs"]["molecules"] = {"high-dose": {"name": "cd25-blind-il2"},
                                                    "low-dose-iv": {"name": "aldesleukin"}}
    html = trial_report_html(patients, summary)
    ae = _section(html, "Adverse events")
    assert "<th>label (Proleukin)</th>" not in ae and "No arm gives aldesleukin on the label's schedule" in ae
    assert "high-dose (cd25-blind-il2), low-dose-iv (aldesleukin)" in html
    del summary["provenance"]["inputs"]["molecules"]  # not recorded: aldesleukin, compared with the label
    assert "<th>label (Proleukin)</th>" in _section(trial_report_html(patients, summary), "Adverse events")


def _paired_patients():
    ref = ["CR", "PR", "PR", "SD", "PD", "PD", "SD", "NE", "PR", "PD"]
    new = ["CR", "CR", "SD", "PR", "PD", "PR", "SD", "PR", "PR", "CR"]
    df = _patients({
        "a-ref": [{"bor": r, "dfc": 20, "change": 0.0} for r in ref],
        # patient 7 on the new arm failed: counts as NE whatever its row says
        "b-new": [{"bor": r, "dfc": 20, "change": 0.0, "status": "failed" if i == 7 else "ok"} for i, r in enumerate(new)],
    })
    df["weight_kg"] = 60.0 + df["patient_id"]
    return df


def test_paired_difference_table():
    df = _paired_patients()
    resp = _section(trial_report_html(df, trial_summary(df)), "Response")
    cells = _row(resp, "b-new &minus; a-ref")
    # ORR: both respond {0, 1, 8}, new only {3, 5, 9}, ref only {2}, neither 3; CR: both {0}, new only {1, 9}
    d, lo, hi = paired_difference_ci(3, 3, 1, 3)
    assert d == pytest.approx(0.2)
    assert cells[0] == "10"
    assert cells[1] == f"{_pp(d)} <small>({_pp(lo)} to {_pp(hi)})</small>" and cells[1].startswith("+20.0 pp")
    assert cells[2] == "3 / 1"
    d, lo, hi = paired_difference_ci(1, 2, 0, 7)
    assert cells[3] == f"{_pp(d)} <small>({_pp(lo)} to {_pp(hi)})</small>" and cells[4] == "2 / 0"
    assert "Newcombe" in resp and "patient_id" in resp
    # rows are paired by patient_id, not by their order in the table
    shuffled = df.sample(frac=1.0, random_state=3)
    assert _row(_section(trial_report_html(shuffled, trial_summary(df)), "Response"), "b-new &minus; a-ref") == cells


def test_paired_reference_is_the_trials_first_arm_and_each_arm_is_compared_with_it():
    df = _paired_patients()
    summary = trial_summary(df) | _recorded({"b-new": "low-dose-iv", "a-ref": "high-dose"})
    resp = _section(trial_report_html(df, summary), "Response")
    assert _row(resp, "a-ref &minus; b-new")[1].startswith("&minus;20.0 pp")
    assert "b-new &minus; a-ref" not in resp
    third = df[df["arm"] == "a-ref"].assign(arm="c-third")
    three = pd.concat([df, third], ignore_index=True)
    resp = _section(trial_report_html(three, trial_summary(three)), "Response")
    assert _row(resp, "b-new &minus; a-ref")[1].startswith("+20.0 pp")
    d, lo, hi = paired_difference_ci(4, 0, 0, 6)  # the same responses: no discordant pair, an interval around 0
    assert _row(resp, "c-third &minus; a-ref")[1:3] == [f"0.0 pp <small>({_pp(lo)} to {_pp(hi)})</small>", "0 / 0"]
    assert d == 0.0 and lo < 0.0 < hi
    # a single arm has nothing to compare
    one = df[df["arm"] == "a-ref"]
    assert "paired comparison" not in trial_report_html(one, trial_summary(one))


def test_rows_of_different_patients_are_not_paired():
    df = _paired_patients()
    df.loc[(df["arm"] == "b-new") & (df["patient_id"] == 4), "weight_kg"] = 99.0
    cells = _row(_section(trial_report_html(df, trial_summary(df)), "Response"), "b-new &minus; a-ref")
    assert cells[0] == "&ndash;" and "not paired: weight_kg differs for patient 4" in cells[1]


def test_trial_draws_the_same_patient_on_every_arm():
    from il2sim.population import PopulationSpec
    from il2sim.trial import Arm, TrialSpec

    spec = TrialSpec(arms=("high-dose", Arm("low-dose-iv", parameters={"gfr_reference": 9.0})), n_patients=4,
                     population=PopulationSpec("melanoma", source="prior"))
    seen = []
    for i in range(4):
        draw = spec.draw(i)
        assert spec.draw(i).patient == draw.patient  # drawn from patient i's own stream, whoever asks
        hd, ld = (spec.arm_patient(arm, draw) for arm in spec.arms)
        assert hd.patient_id == ld.patient_id == i and hd.covariates == ld.covariates
        assert {k for k in hd.parameters if hd.parameters[k] != ld.parameters[k]} <= {"gfr_reference"}
        assert ld.parameters["gfr_reference"] == 9.0
        seen.append(hd.covariates.weight_kg)
    assert len(set(seen)) == 4  # different ids are different patients


def test_small_trial_report_pairs_its_arms(tmp_path):
    from il2sim.trial import TrialSpec, run_trial

    spec = TrialSpec(arms=("low-dose-iv", "high-dose"), n_patients=2)
    run_trial(spec, tmp_path / "t", report=trial_report_html)
    df = pd.read_parquet(tmp_path / "t" / "patients.parquet")
    by_arm = {a: g.set_index("patient_id").sort_index() for a, g in df.groupby("arm")}
    for col in ("weight_kg", "pool_index", "nephrectomy", "n_target_lesions", "baseline_sum_diameters_mm"):
        assert by_arm["high-dose"][col].tolist() == by_arm["low-dose-iv"][col].tolist()
    page = (tmp_path / "t" / "report.html").read_text()
    resp = _section(page, "Response")
    # the trial's first arm (low-dose-iv) is the reference, although the report lists arms sorted
    assert _row(resp, "high-dose &minus; low-dose-iv")[0] == "2" and "not paired" not in resp
    assert _row(_section(page, "Dose intensity and holds"), "doses scheduled in the first course (regimen)") == ["28", "28"]


def test_dose_histogram_uses_each_arms_schedule(patients):
    summary = trial_summary(patients) | _recorded({"high-dose": "high-dose", "low-dose-iv": "low-dose-sc"})
    arms = ["high-dose", "low-dose-iv"]
    scheduled = {a: _scheduled_first_course(r) for a, r in _arm_regimens(arms, summary).items()}
    assert scheduled == {"high-dose": 28, "low-dose-iv": 30}
    fig = _dose_intensity_figure(patients, arms, scheduled)
    assert [ax.get_xlabel() for ax in fig.axes] == ["doses given in the first course (of 28 scheduled)",
                                                     "doses given in the first course (of 30 scheduled)"]
    assert fig.axes[1].get_xlim()[1] == pytest.approx(30.5)
    dose = _section(trial_report_html(patients, summary), "Dose intensity and holds")
    assert _row(dose, "doses scheduled in the first course (regimen)") == ["28", "30"]
    # an arm whose regimen is not known says so instead of a made-up count
    odd = _patients({"my-own": LD[:3]})
    assert _arm_regimens(["my-own"], {}) == {"my-own": None}
    fig = _dose_intensity_figure(odd, ["my-own"], {"my-own": None})
    assert fig.axes[0].get_xlabel() == "doses given in the first course (schedule not recorded)"


@pytest.mark.parametrize("builder", [_waterfall_figure, _spider_figure, _toxicity_figure])
@pytest.mark.parametrize("arms", [["high-dose", "low-dose-iv"], ["high-dose"]])
def test_legends_are_outside_the_axes(patients, builder, arms):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = builder(patients, arms)
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    assert len(fig.legends) == 1 and all(ax.get_legend() is None for ax in fig.axes)
    box = fig.legends[0].get_window_extent(renderer)
    assert box.width > 0 and box.height > 0
    assert fig.bbox.contains(box.x0, box.y0) and fig.bbox.contains(box.x1, box.y1)  # not cut off
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), "the legend covers an axes' data area"
        for artist in [*ax.patches, *ax.lines]:
            assert not box.overlaps(artist.get_window_extent(renderer))
