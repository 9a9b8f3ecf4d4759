"""Adverse-event scoring (il2sim.analysis): CTCAE v5 worst grades and label-reported mapping.

Hand-built time courses: a normal patient with one perturbation placed just
below, exactly on and just above every category boundary. The time course is
read sample-and-hold, so a perturbation on ``n`` samples of the 0.25-h grid
lasts ``0.25 n`` h.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from il2sim import UserError
from il2sim.analysis import (
    CTCAE_CRITERIA,
    LABEL_MAPPING,
    LABEL_TARGETS,
    TERMS,
    label_reported,
    worst_grades,
)

STEP = 0.25
W0, CR0, ULN = 70.0, 1.0, 1.2

NORMAL = {
    "sbp_mmhg": 120.0, "dbp_mmhg": 70.0, "map_mmhg": 87.0, "heart_rate_bpm": 80.0, "temperature_c": 37.0,
    "spo2_pct": 97.0, "weight_kg": W0, "urine_ml_per_h": 70.0, "creatinine_mg_dl": CR0, "albumin_g_dl": 4.0,
    "lymphocytes_per_ul": 1500.0, "plasma_volume_l": 3.0, "interstitial_volume_l": 12.0, "lung_water_ml": 0.0,
    "edema_pct": 0.0, "gfr_ml_min": 100.0,
    "chills_score": 0.0, "fatigue_score": 0.0, "nausea_score": 0.0, "dyspnea_score": 0.0, "confusion_score": 0.0,
    "vomiting_per_day": 0.0, "stools_per_day_above_baseline": 0.0, "diarrhea_ml_per_h": 0.0, "rash_bsa_pct": 0.0,
    "fluid_maintenance_ml_h": 0.0, "fluid_bolus_ml_h": 0.0, "pressor_ug_kg_min": 0.0, "oxygen_l_min": 0.0,
    "acetaminophen": 0.0, "nsaid": 0.0, "antiemetic": 0.0, "antidiarrheal": 0.0, "meperidine": 0.0,
}

# Direction in which each graded signal gets worse (+1 higher is worse, -1 lower is worse).
WORSE = {
    "sbp_mmhg": -1, "map_mmhg": -1, "temperature_c": +1, "spo2_pct": -1, "weight_kg": +1, "urine_ml_per_h": -1,
    "creatinine_mg_dl": +1, "lymphocytes_per_ul": -1, "edema_pct": +1, "chills_score": +1, "fatigue_score": +1,
    "nausea_score": +1, "dyspnea_score": +1, "confusion_score": +1, "vomiting_per_day": +1,
    "stools_per_day_above_baseline": +1, "rash_bsa_pct": +1, "fluid_bolus_ml_h": +1, "pressor_ug_kg_min": +1,
    "oxygen_l_min": +1, "meperidine": +1,
}


def normal_course(hours: float = 72.0, step: float = STEP) -> pd.DataFrame:
    """A normal patient: every signal at its healthy baseline, no care, on a regular grid."""
    t = np.round(np.arange(0.0, hours + step / 2, step), 9)
    return pd.DataFrame({"time_h": t, **{k: np.full(t.shape, v) for k, v in NORMAL.items()}})


def perturb(df: pd.DataFrame, column: str, value: float, start_h: float = 10.0,
            duration_h: float = 1.0) -> pd.DataFrame:
    """Copy of ``df`` with ``column = value`` on the samples in [start_h, start_h + duration_h)."""
    out = df.copy()
    t = out["time_h"].to_numpy()
    sel = (t >= start_h - 1e-9) & (t < start_h + duration_h - 1e-9)
    out.loc[sel, column] = value
    return out


def with_(*changes, hours: float = 72.0) -> pd.DataFrame:
    df = normal_course(hours)
    for ch in changes:
        df = perturb(df, *ch)
    return df


def grade(df, term, **kw):
    kw = {"baseline_weight_kg": W0, "baseline_creatinine_mg_dl": CR0, **kw}
    return worst_grades(df, **kw)[term]


def reported(df, term, **kw):
    kw = {"baseline_weight_kg": W0, "baseline_creatinine_mg_dl": CR0, **kw}
    return label_reported(df, **kw)[term]


# --------------------------------------------------------------------------
# tables and the normal patient
# --------------------------------------------------------------------------


def test_terms_in_contract_order_without_platelets():
    assert TERMS == ("hypotension", "fever", "chills", "fatigue", "nausea", "vomiting", "diarrhea", "rash",
                     "confusion", "dyspnea", "hypoxia", "edema", "weight_gain", "oliguria", "creatinine_increased",
                     "acute_kidney_injury", "capillary_leak_syndrome", "lymphocyte_count_decreased")
    assert "platelet_count_decreased" not in TERMS
    assert tuple(CTCAE_CRITERIA) == TERMS and tuple(LABEL_MAPPING) == TERMS


def test_every_criterion_reads_real_columns_and_has_source_and_rationale():
    for term in TERMS:
        crit = CTCAE_CRITERIA[term]
        assert set(crit.signals) <= set(NORMAL), term
        assert crit.source and crit.adaptation and crit.rules
        assert LABEL_MAPPING[term].rationale and LABEL_MAPPING[term].criterion


def test_label_targets():
    assert LABEL_TARGETS == {
        "hypotension": 0.71, "diarrhea": 0.67, "oliguria": 0.63, "chills": 0.52, "vomiting": 0.50, "dyspnea": 0.43,
        "rash": 0.42, "nausea": 0.35, "confusion": 0.34, "creatinine_increased": 0.33, "fever": 0.29,
        "edema": 0.15, "weight_gain": 0.16,
    }
    assert LABEL_MAPPING["fatigue"].proxy and LABEL_MAPPING["fatigue"].label_incidence == 0.27
    assert LABEL_MAPPING["hypoxia"].proxy


def test_normal_patient_has_no_events():
    df = normal_course()
    g = worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    assert list(g) == list(TERMS) and set(g.values()) == {0}
    r = label_reported(df, g, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    assert list(r) == list(TERMS) and set(r.values()) == {False}
    assert r == label_reported(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)


def test_inputs_not_mutated():
    df = with_(("temperature_c", 41.0))
    before = df.copy()
    worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    label_reported(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    pd.testing.assert_frame_equal(df, before)


# --------------------------------------------------------------------------
# CTCAE boundaries: (term, [(column, value, start_h, duration_h), ...], expected grade)
# --------------------------------------------------------------------------

BOUNDARIES = [
    # fever: 38.0-39.0 -> 1, >39-40 -> 2, >40 for <= 24 h -> 3, > 24 h -> 4
    ("fever", [("temperature_c", 37.99)], 0),
    ("fever", [("temperature_c", 38.0)], 1),
    ("fever", [("temperature_c", 39.0)], 1),
    ("fever", [("temperature_c", 39.01)], 2),
    ("fever", [("temperature_c", 40.0)], 2),
    ("fever", [("temperature_c", 40.01)], 3),
    ("fever", [("temperature_c", 40.5, 10.0, 24.0)], 3),
    ("fever", [("temperature_c", 40.5, 10.0, 24.25)], 4),
    # hypotension: SBP < 90 or MAP < 65 -> 1
    ("hypotension", [("sbp_mmhg", 90.0)], 0),
    ("hypotension", [("sbp_mmhg", 89.9)], 1),
    ("hypotension", [("map_mmhg", 65.0)], 0),
    ("hypotension", [("map_mmhg", 64.9)], 1),
    # bolus while hypotensive -> 2; within 1 h after the last hypotensive sample (11.75 h) -> 2; later -> 1
    ("hypotension", [("sbp_mmhg", 85.0, 10.0, 2.0), ("fluid_bolus_ml_h", 500.0, 11.0, 0.5)], 2),
    ("hypotension", [("sbp_mmhg", 85.0, 10.0, 2.0), ("fluid_bolus_ml_h", 500.0, 12.75, 0.25)], 2),
    ("hypotension", [("sbp_mmhg", 85.0, 10.0, 2.0), ("fluid_bolus_ml_h", 500.0, 13.0, 0.25)], 1),
    ("hypotension", [("fluid_bolus_ml_h", 500.0, 13.0, 1.0)], 0),  # bolus for oliguria, not hypotension
    ("hypotension", [("sbp_mmhg", 85.0, 10.0, 2.0), ("fluid_bolus_ml_h", 500.0, 9.0, 0.75)], 1),  # bolus before
    # pressor -> 3; > 1.5 ug/kg/min -> 4
    ("hypotension", [("map_mmhg", 60.0, 10.0, 4.0), ("pressor_ug_kg_min", 0.1, 10.0, 4.0)], 3),
    ("hypotension", [("map_mmhg", 60.0, 10.0, 4.0), ("pressor_ug_kg_min", 1.5, 10.0, 4.0)], 3),
    ("hypotension", [("map_mmhg", 60.0, 10.0, 4.0), ("pressor_ug_kg_min", 1.51, 10.0, 4.0)], 4),
    # MAP < 55 for >= 1 h -> 4
    ("hypotension", [("map_mmhg", 54.9, 10.0, 0.75), ("pressor_ug_kg_min", 1.0, 10.0, 4.0)], 3),
    ("hypotension", [("map_mmhg", 54.9, 10.0, 1.0), ("pressor_ug_kg_min", 1.0, 10.0, 4.0)], 4),
    ("hypotension", [("map_mmhg", 55.0, 10.0, 6.0), ("pressor_ug_kg_min", 1.0, 10.0, 6.0)], 3),
    # symptom scores: floor(max + 1e-6)
    ("chills", [("chills_score", 0.99)], 0),
    ("chills", [("chills_score", 1.0)], 1),
    ("chills", [("chills_score", 1.99)], 1),
    ("chills", [("chills_score", 1.9999999)], 2),
    ("chills", [("chills_score", 3.0)], 3),
    ("chills", [("chills_score", 3.7)], 3),
    ("chills", [("chills_score", 1.2), ("meperidine", 1.0)], 2),  # narcotics indicated
    ("chills", [("chills_score", 0.9), ("meperidine", 1.0)], 0),
    ("fatigue", [("fatigue_score", 1.99)], 1),
    ("fatigue", [("fatigue_score", 2.0)], 2),
    ("fatigue", [("fatigue_score", 3.0)], 3),
    ("nausea", [("nausea_score", 0.999)], 0),
    ("nausea", [("nausea_score", 2.5)], 2),
    ("nausea", [("nausea_score", 3.0)], 3),
    ("dyspnea", [("dyspnea_score", 2.99)], 2),
    ("dyspnea", [("dyspnea_score", 3.0)], 3),
    ("confusion", [("confusion_score", 3.99)], 3),
    ("confusion", [("confusion_score", 4.0)], 4),
    ("confusion", [("confusion_score", 5.0)], 4),
    # vomiting: episodes in the worst 24 h = integral of rate / 24
    ("vomiting", [("vomiting_per_day", 0.99, 10.0, 24.0)], 0),
    ("vomiting", [("vomiting_per_day", 1.0, 10.0, 24.0)], 1),
    ("vomiting", [("vomiting_per_day", 2.99, 10.0, 24.0)], 1),
    ("vomiting", [("vomiting_per_day", 3.0, 10.0, 24.0)], 2),
    ("vomiting", [("vomiting_per_day", 5.99, 10.0, 24.0)], 2),
    ("vomiting", [("vomiting_per_day", 6.0, 10.0, 24.0)], 3),
    ("vomiting", [("vomiting_per_day", 6.0, 10.0, 48.0)], 3),  # 6/day for two days is still 6 in 24 h
    ("vomiting", [("vomiting_per_day", 12.0, 10.0, 11.75)], 2),  # 5.875 episodes
    ("vomiting", [("vomiting_per_day", 12.0, 10.0, 12.0)], 3),  # 6 episodes
    ("vomiting", [("vomiting_per_day", 48.0, 10.0, 0.5)], 1),  # 1 episode in half an hour
    ("vomiting", [("vomiting_per_day", 3.0, 10.0, 12.0), ("vomiting_per_day", 3.0, 40.0, 12.0)], 1),
    # diarrhea: excess stools in the worst 24 h
    ("diarrhea", [("stools_per_day_above_baseline", 0.5, 10.0, 24.0)], 0),
    ("diarrhea", [("stools_per_day_above_baseline", 0.51, 10.0, 24.0)], 1),
    ("diarrhea", [("stools_per_day_above_baseline", 3.99, 10.0, 24.0)], 1),
    ("diarrhea", [("stools_per_day_above_baseline", 4.0, 10.0, 24.0)], 2),
    ("diarrhea", [("stools_per_day_above_baseline", 6.99, 10.0, 24.0)], 2),
    ("diarrhea", [("stools_per_day_above_baseline", 7.0, 10.0, 24.0)], 3),
    ("diarrhea", [("stools_per_day_above_baseline", 8.0, 10.0, 12.0)], 2),  # 4 stools: a peak rate is not a day
    # rash
    ("rash", [("rash_bsa_pct", 0.99)], 0),
    ("rash", [("rash_bsa_pct", 1.0)], 1),
    ("rash", [("rash_bsa_pct", 9.99)], 1),
    ("rash", [("rash_bsa_pct", 10.0)], 2),
    ("rash", [("rash_bsa_pct", 30.0)], 2),
    ("rash", [("rash_bsa_pct", 30.01)], 3),
    # hypoxia (no grade 1)
    ("hypoxia", [("spo2_pct", 92.0)], 0),
    ("hypoxia", [("spo2_pct", 91.9)], 2),
    ("hypoxia", [("spo2_pct", 88.0)], 2),
    ("hypoxia", [("spo2_pct", 87.9)], 3),
    ("hypoxia", [("spo2_pct", 80.0)], 3),
    ("hypoxia", [("spo2_pct", 79.9)], 4),
    ("hypoxia", [("oxygen_l_min", 1.0)], 2),
    ("hypoxia", [("oxygen_l_min", 2.0)], 2),
    ("hypoxia", [("oxygen_l_min", 2.01)], 3),
    ("hypoxia", [("oxygen_l_min", 6.0)], 3),
    ("hypoxia", [("oxygen_l_min", 6.01)], 4),
    # edema
    ("edema", [("edema_pct", 4.99)], 0),
    ("edema", [("edema_pct", 5.0)], 1),
    ("edema", [("edema_pct", 10.0)], 1),
    ("edema", [("edema_pct", 10.01)], 2),
    ("edema", [("edema_pct", 30.0)], 2),
    ("edema", [("edema_pct", 30.01)], 3),
    # weight gain from 70 kg
    ("weight_gain", [("weight_kg", 73.49)], 0),
    ("weight_gain", [("weight_kg", 73.5)], 1),
    ("weight_gain", [("weight_kg", 76.99)], 1),
    ("weight_gain", [("weight_kg", 77.0)], 2),
    ("weight_gain", [("weight_kg", 83.99)], 2),
    ("weight_gain", [("weight_kg", 84.0)], 3),
    # oliguria: < 0.5 mL/kg/h (35 mL/h at 70 kg) for >= 6 h -> 1; < 10 mL/h for >= 16 h -> 3
    ("oliguria", [("urine_ml_per_h", 34.9, 10.0, 5.75)], 0),
    ("oliguria", [("urine_ml_per_h", 34.9, 10.0, 6.0)], 1),
    ("oliguria", [("urine_ml_per_h", 35.0, 10.0, 12.0)], 0),
    ("oliguria", [("urine_ml_per_h", 34.9, 10.0, 3.0), ("urine_ml_per_h", 34.9, 13.25, 3.0)], 0),  # broken run
    ("oliguria", [("urine_ml_per_h", 9.9, 10.0, 15.75)], 1),
    ("oliguria", [("urine_ml_per_h", 9.9, 10.0, 16.0)], 3),
    ("oliguria", [("urine_ml_per_h", 10.0, 10.0, 20.0)], 1),
    # creatinine: ULN 1.2, baseline 1.0
    ("creatinine_increased", [("creatinine_mg_dl", 1.2)], 0),
    ("creatinine_increased", [("creatinine_mg_dl", 1.21)], 1),
    ("creatinine_increased", [("creatinine_mg_dl", 1.5)], 1),  # exactly 1.5 x baseline
    ("creatinine_increased", [("creatinine_mg_dl", 1.51)], 2),  # > 1.5 x baseline
    ("creatinine_increased", [("creatinine_mg_dl", 3.0)], 2),  # 3.0 x baseline, 2.5 x ULN
    ("creatinine_increased", [("creatinine_mg_dl", 3.01)], 3),  # > 3 x baseline
    ("creatinine_increased", [("creatinine_mg_dl", 7.2)], 3),  # 6.0 x ULN
    ("creatinine_increased", [("creatinine_mg_dl", 7.21)], 4),
    # acute kidney injury (grades 3-4 only)
    ("acute_kidney_injury", [("creatinine_mg_dl", 2.0, 10.0, 23.75)], 0),
    ("acute_kidney_injury", [("creatinine_mg_dl", 2.0, 10.0, 24.0)], 3),
    ("acute_kidney_injury", [("creatinine_mg_dl", 1.99, 10.0, 40.0)], 0),
    ("acute_kidney_injury", [("urine_ml_per_h", 20.9, 10.0, 24.0)], 3),  # < 0.3 mL/kg/h = 21 mL/h
    ("acute_kidney_injury", [("urine_ml_per_h", 20.9, 10.0, 23.75)], 0),
    ("acute_kidney_injury", [("urine_ml_per_h", 21.0, 10.0, 30.0)], 0),
    ("acute_kidney_injury", [("creatinine_mg_dl", 4.0, 10.0, 24.0), ("urine_ml_per_h", 9.9, 10.0, 24.0)], 4),
    ("acute_kidney_injury", [("creatinine_mg_dl", 3.99, 10.0, 24.0), ("urine_ml_per_h", 9.9, 10.0, 24.0)], 3),
    ("acute_kidney_injury", [("creatinine_mg_dl", 4.0, 10.0, 24.0), ("urine_ml_per_h", 10.0, 10.0, 24.0)], 3),
    ("acute_kidney_injury", [("urine_ml_per_h", 4.9, 10.0, 12.0)], 4),
    ("acute_kidney_injury", [("urine_ml_per_h", 4.9, 10.0, 11.75)], 0),
    ("acute_kidney_injury", [("urine_ml_per_h", 5.0, 10.0, 20.0)], 0),
    # capillary leak syndrome
    ("capillary_leak_syndrome", [("edema_pct", 5.0)], 0),
    ("capillary_leak_syndrome", [("edema_pct", 5.01)], 1),
    ("capillary_leak_syndrome", [("weight_kg", 73.5)], 0),
    ("capillary_leak_syndrome", [("weight_kg", 73.6)], 1),
    ("capillary_leak_syndrome", [("weight_kg", 77.0)], 2),
    ("capillary_leak_syndrome", [("sbp_mmhg", 85.0, 10.0, 2.0), ("fluid_bolus_ml_h", 500.0, 11.0, 0.5)], 2),
    ("capillary_leak_syndrome", [("map_mmhg", 60.0, 10.0, 4.0), ("pressor_ug_kg_min", 0.5, 10.0, 4.0)], 3),
    ("capillary_leak_syndrome", [("map_mmhg", 60.0, 10.0, 4.0), ("pressor_ug_kg_min", 1.6, 10.0, 4.0)], 4),
    ("capillary_leak_syndrome", [("spo2_pct", 79.0)], 4),
    # lymphocytes (LLN 1000)
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 1000.0)], 0),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 999.0)], 1),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 800.0)], 1),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 799.0)], 2),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 500.0)], 2),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 499.0)], 3),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 200.0)], 3),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 199.0)], 4),
]


def _label(case):
    term, changes, expected = case
    return f"{term}-" + "+".join(f"{c[0]}={c[1]}" + (f"x{c[3]}h" if len(c) > 3 else "") for c in changes)


@pytest.mark.parametrize(("term", "changes", "expected"), BOUNDARIES, ids=[_label(c) for c in BOUNDARIES])
def test_ctcae_boundary(term, changes, expected):
    assert grade(with_(*changes), term) == expected


def test_every_term_has_boundary_cases():
    assert {c[0] for c in BOUNDARIES} == set(TERMS)


@pytest.mark.parametrize(("baseline", "creatinine", "expected"), [
    (0.6, 0.9, 0),  # exactly 1.5 x baseline, below ULN
    (0.6, 0.91, 2),  # > 1.5 x baseline although below ULN: baseline criterion
    (0.5, 1.5, 2),  # 3.0 x baseline, 1.25 x ULN
    (0.5, 1.6, 3),  # 3.2 x baseline, 1.33 x ULN: baseline criterion
    (3.0, 3.7, 3),  # 1.23 x baseline but > 3 x ULN: ULN criterion
    (2.0, 2.5, 2),  # chronic kidney disease: 1.25 x baseline, 2.08 x ULN
])
def test_creatinine_baseline_versus_uln(baseline, creatinine, expected):
    df = with_(("creatinine_mg_dl", baseline, 0.0, 73.0), ("creatinine_mg_dl", creatinine))
    assert grade(df, "creatinine_increased", baseline_creatinine_mg_dl=baseline) == expected


def test_creatinine_uln_is_a_parameter():
    df = with_(("creatinine_mg_dl", 1.21))
    assert grade(df, "creatinine_increased") == 1
    assert grade(df, "creatinine_increased", creatinine_uln_mg_dl=1.3) == 0


def test_oliguria_threshold_scales_with_baseline_weight():
    df = with_(("urine_ml_per_h", 40.0, 10.0, 8.0))  # 0.5 mL/kg/h at 80 kg
    assert grade(df, "oliguria") == 0
    assert grade(df, "oliguria", baseline_weight_kg=80.0) == 0
    assert grade(df, "oliguria", baseline_weight_kg=80.2) == 1


def test_fever_run_must_be_unbroken_for_grade_4():
    df = with_(("temperature_c", 40.5, 0.0, 20.0), ("temperature_c", 40.5, 20.5, 20.0))
    assert grade(df, "fever") == 3


def test_condition_reaching_the_last_sample():
    # the last sample adds no time: the 24 samples 66.25 h..72 h (the end) last 5.75 h
    df = with_(("urine_ml_per_h", 30.0, 66.25, 6.0))
    assert df["urine_ml_per_h"].iloc[-1] == 30.0
    assert grade(df, "oliguria") == 0
    df = with_(("urine_ml_per_h", 30.0, 66.0, 6.25))
    assert grade(df, "oliguria") == 1


def test_irregular_grid_durations():
    df = normal_course(48.0).iloc[::4].reset_index(drop=True)  # hourly
    df = perturb(df, "urine_ml_per_h", 30.0, 10.0, 6.0)  # samples 10..15 -> 6 h
    assert grade(df, "oliguria") == 1
    df = perturb(normal_course(48.0).iloc[::4].reset_index(drop=True), "urine_ml_per_h", 30.0, 10.0, 5.0)
    assert grade(df, "oliguria") == 0


def test_nan_never_meets_a_criterion():
    df = normal_course()
    df.loc[5:10, ["sbp_mmhg", "temperature_c", "spo2_pct", "urine_ml_per_h", "chills_score"]] = np.nan
    assert set(worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0).values()) == {0}


def test_no_grade_5():
    df = with_(("map_mmhg", 30.0, 0.0, 72.0), ("pressor_ug_kg_min", 5.0, 0.0, 72.0), ("spo2_pct", 50.0),
               ("temperature_c", 42.0, 0.0, 72.0), ("urine_ml_per_h", 0.0, 0.0, 72.0),
               ("creatinine_mg_dl", 10.0, 0.0, 72.0), ("confusion_score", 9.0), ("lymphocytes_per_ul", 0.0))
    g = worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    assert max(g.values()) == 4
    assert g["hypotension"] == g["capillary_leak_syndrome"] == g["acute_kidney_injury"] == 4


# --------------------------------------------------------------------------
# input validation and term selection
# --------------------------------------------------------------------------


def test_missing_column_names_it():
    df = normal_course().drop(columns=["rash_bsa_pct"])
    with pytest.raises(UserError, match="rash_bsa_pct"):
        worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    # scoring only the terms whose columns exist works
    g = worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0, terms=["fever", "hypotension"])
    assert g == {"hypotension": 0, "fever": 0}


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_baseline(bad):
    with pytest.raises(UserError, match="baseline_weight_kg"):
        worst_grades(normal_course(), baseline_weight_kg=bad, baseline_creatinine_mg_dl=CR0)


def test_bad_time_and_unknown_term():
    df = normal_course()
    with pytest.raises(UserError, match="time_h"):
        worst_grades(df.iloc[::-1], baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0)
    with pytest.raises(UserError, match="terms"):
        worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0, terms=["platelet_count_decreased"])
    with pytest.raises(UserError, match="grades"):
        label_reported(df, {"fever": 0}, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0, terms=["rash"])


def test_label_reported_follows_grades_keys():
    df = with_(("temperature_c", 39.5))
    g = worst_grades(df, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0, terms=["fever"])
    assert label_reported(df, g, baseline_weight_kg=W0, baseline_creatinine_mg_dl=CR0) == {"fever": True}


# --------------------------------------------------------------------------
# label-reported mapping
# --------------------------------------------------------------------------

LABEL_CASES = [
    ("hypotension", [("sbp_mmhg", 85.0)], False),  # grade 1, SBP not < 85
    ("hypotension", [("sbp_mmhg", 84.9)], True),
    ("hypotension", [("map_mmhg", 60.0)], False),  # grade 1 by MAP only
    ("hypotension", [("sbp_mmhg", 88.0, 10.0, 2.0), ("fluid_bolus_ml_h", 500.0, 11.0, 0.5)], True),
    ("hypotension", [("map_mmhg", 62.0, 10.0, 2.0), ("pressor_ug_kg_min", 0.3, 10.0, 2.0)], True),
    ("fever", [("temperature_c", 38.99)], False),
    ("fever", [("temperature_c", 39.0)], True),
    ("fever", [("temperature_c", 39.5), ("acetaminophen", 1.0, 0.0, 72.0)], True),
    ("chills", [("chills_score", 1.49)], False),
    ("chills", [("chills_score", 1.5)], True),
    ("chills", [("chills_score", 1.0), ("meperidine", 1.0)], True),
    ("chills", [("chills_score", 0.99), ("meperidine", 1.0)], False),
    ("chills", [("chills_score", 1.2), ("meperidine", 1.0, 20.0, 1.0)], False),  # meperidine at another time
    ("fatigue", [("fatigue_score", 1.99)], False),
    ("fatigue", [("fatigue_score", 2.0)], True),
    ("nausea", [("nausea_score", 1.5, 10.0, 23.75)], False),
    ("nausea", [("nausea_score", 1.0, 10.0, 24.0)], True),
    ("nausea", [("nausea_score", 2.0, 10.0, 0.25)], True),
    ("vomiting", [("vomiting_per_day", 0.99, 10.0, 24.0)], False),
    ("vomiting", [("vomiting_per_day", 1.0, 10.0, 24.0)], True),
    ("diarrhea", [("stools_per_day_above_baseline", 1.99, 10.0, 24.0)], True),  # > 0.5 for 24 h
    ("diarrhea", [("stools_per_day_above_baseline", 1.0, 10.0, 11.75)], False),
    ("diarrhea", [("stools_per_day_above_baseline", 1.0, 10.0, 12.0)], True),
    ("diarrhea", [("stools_per_day_above_baseline", 0.5, 10.0, 48.0)], False),
    ("diarrhea", [("stools_per_day_above_baseline", 8.0, 10.0, 5.75)], False),  # 1.92 stools
    ("diarrhea", [("stools_per_day_above_baseline", 8.0, 10.0, 6.0)], True),  # 2 stools
    ("rash", [("rash_bsa_pct", 4.99)], False),
    ("rash", [("rash_bsa_pct", 5.0)], True),
    ("confusion", [("confusion_score", 0.99)], False),
    ("confusion", [("confusion_score", 1.0)], True),
    ("dyspnea", [("dyspnea_score", 2.5, 10.0, 3.75)], False),
    ("dyspnea", [("dyspnea_score", 1.0, 10.0, 4.0)], True),
    ("hypoxia", [("spo2_pct", 90.0)], False),
    ("hypoxia", [("spo2_pct", 89.9)], True),
    ("hypoxia", [("oxygen_l_min", 2.0)], False),
    ("hypoxia", [("oxygen_l_min", 2.01)], True),
    ("edema", [("edema_pct", 24.99)], False),
    ("edema", [("edema_pct", 25.0)], True),
    ("weight_gain", [("weight_kg", 76.99)], False),
    ("weight_gain", [("weight_kg", 77.0)], True),
    ("oliguria", [("urine_ml_per_h", 34.9, 10.0, 5.75)], False),
    ("oliguria", [("urine_ml_per_h", 34.9, 10.0, 6.0)], True),
    ("creatinine_increased", [("creatinine_mg_dl", 2.9)], False),  # grade 2: an expected rise, not recorded
    ("creatinine_increased", [("creatinine_mg_dl", 3.0)], False),  # exactly 3 x baseline
    ("creatinine_increased", [("creatinine_mg_dl", 3.01)], True),  # > 3 x baseline (grade 3)
    ("acute_kidney_injury", [("creatinine_mg_dl", 2.0, 10.0, 23.75)], False),
    ("acute_kidney_injury", [("creatinine_mg_dl", 2.0, 10.0, 24.0)], True),
    ("capillary_leak_syndrome", [("weight_kg", 80.0)], False),  # grade 2
    ("capillary_leak_syndrome", [("map_mmhg", 60.0, 10.0, 2.0), ("pressor_ug_kg_min", 0.3, 10.0, 2.0)], True),
    ("lymphocyte_count_decreased", [("lymphocytes_per_ul", 100.0)], False),
]


@pytest.mark.parametrize(("term", "changes", "expected"), LABEL_CASES, ids=[_label(c) for c in LABEL_CASES])
def test_label_mapping(term, changes, expected):
    assert reported(with_(*changes), term) is expected


def test_every_term_has_label_cases():
    assert {c[0] for c in LABEL_CASES} == set(TERMS)


def test_docs_cover_every_term_and_threshold_table():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "adverse-events.md").read_text()
    for term in TERMS:
        assert f"`{term}`" in doc, term
    assert "platelet_count_decreased" in doc


# --------------------------------------------------------------------------
# monotonicity: a strictly worse signal never lowers a grade or un-reports an event
# --------------------------------------------------------------------------

_RANGES = {  # (low, high) for random base values and worsening sizes
    "sbp_mmhg": (60.0, 130.0), "map_mmhg": (40.0, 95.0), "temperature_c": (36.5, 41.0), "spo2_pct": (75.0, 99.0),
    "weight_kg": (68.0, 90.0), "urine_ml_per_h": (0.0, 100.0), "creatinine_mg_dl": (0.6, 8.0),
    "lymphocytes_per_ul": (100.0, 2000.0), "edema_pct": (0.0, 40.0), "chills_score": (0.0, 3.0),
    "fatigue_score": (0.0, 3.0), "nausea_score": (0.0, 3.0), "dyspnea_score": (0.0, 3.0),
    "confusion_score": (0.0, 4.0), "vomiting_per_day": (0.0, 12.0), "stools_per_day_above_baseline": (0.0, 10.0),
    "rash_bsa_pct": (0.0, 40.0), "fluid_bolus_ml_h": (0.0, 1000.0), "pressor_ug_kg_min": (0.0, 2.0),
    "oxygen_l_min": (0.0, 8.0), "meperidine": (0.0, 1.0),
}

_episode = st.tuples(st.sampled_from(sorted(_RANGES)), st.integers(0, 191), st.integers(1, 120),
                     st.floats(0.0, 1.0))


def _apply(df, episodes):
    out = df.copy()
    for col, start, length, u in episodes:
        lo, hi = _RANGES[col]
        out.loc[start:start + length - 1, col] = lo + u * (hi - lo)
    return out


@settings(max_examples=150, deadline=None)
@given(base=st.lists(_episode, max_size=8), worse=_episode, amount=st.floats(0.01, 1.0))
def test_worse_signal_never_lowers_grade(base, worse, amount):
    df = _apply(normal_course(48.0), base)
    col, start, length, _ = worse
    lo, hi = _RANGES[col]
    bad = df.copy()
    sel = slice(start, start + length - 1)
    bad.loc[sel, col] = bad.loc[sel, col] + WORSE[col] * amount * (hi - lo)
    kw = {"baseline_weight_kg": W0, "baseline_creatinine_mg_dl": CR0}
    g0, g1 = worst_grades(df, **kw), worst_grades(bad, **kw)
    for term in TERMS:
        assert g1[term] >= g0[term], (term, col)
    r0, r1 = label_reported(df, g0, **kw), label_reported(bad, g1, **kw)
    for term in TERMS:
        assert r1[term] >= r0[term], (term, col)
