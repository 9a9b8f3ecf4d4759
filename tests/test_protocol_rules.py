"""Decision tables for the treating-team policy: hold/stop rules, supportive care, monitoring, retreatment.

Observations are built by hand on the label high-dose schedule (doses q8h from
t = 0). History entries are the policy's own monitoring times before the
decision time; each carries normal values unless a case overrides them, plus
the controls in force at that time (the engine's convention).
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from il2sim import UserError
from il2sim.protocol import (
    NAMED_REGIMENS,
    RULE_SETS,
    ClinicalProtocol,
    DoseRecord,
    Observation,
    Policy,
    Rule,
    SupportiveCare,
    early_warning_score,
    graded_warning_points,
    make_policy,
    toxicity_burden,
)
from il2sim.protocol._rules import latest_lab

HD = NAMED_REGIMENS["high-dose"].administrations()
HD_BY_TIME = {a.time_h: a for a in HD}

NORMAL = {
    "sbp_mmhg": 120.0,
    "dbp_mmhg": 70.0,
    "map_mmhg": 87.0,
    "heart_rate_bpm": 80.0,
    "temperature_c": 37.0,
    "spo2_pct": 97.0,
    "weight_kg": 70.0,
    "creatinine_mg_dl": 1.0,
    "albumin_g_dl": 4.0,
    "lymphocytes_per_ul": 1500.0,
    "urine_ml_per_h": 70.0,
    "diarrhea_ml_per_h": 0.0,
    "chills_score": 0.0,
    "fatigue_score": 0.0,
    "nausea_score": 0.0,
    "dyspnea_score": 0.0,
    "confusion_score": 0.0,
    "vomiting_per_day": 0.0,
    "stools_per_day_above_baseline": 0.0,
    "rash_bsa_pct": 0.0,
    "tumour_sum_diameters_mm": 100.0,
    "baseline_weight_kg": 70.0,
    "baseline_creatinine_mg_dl": 1.0,
    "toxicity_tolerance_burden": 280.0,
}


def vals(t: float, **over: float) -> dict[str, float]:
    """Normal values at time t (cumulative volumes at their normal rates), with overrides."""
    v = dict(NORMAL)
    v["urine_cumulative_ml"] = 70.0 * t
    v["fluid_in_cumulative_ml"] = 100.0 * t
    v["diarrhea_cumulative_ml"] = 0.0
    v.update(over)
    return v


MONITOR = ClinicalProtocol().monitoring_times(HD, 24.0 * 28)


def make_obs(
    t: float,
    now: dict | None = None,
    past: dict | None = None,
    controls: dict | None = None,
    held: dict | None = None,
    due: bool = True,
) -> Observation:
    """An observation at t on the high-dose schedule.

    now: overrides of the current values; past: {time: overrides} for history
    entries (times not on the monitoring grid are added); controls: in force
    now; held: {dose time: rule id} for earlier doses not given (rule ids
    starting with "stop:" mark stopped records).
    """
    past = past or {}
    held = held or {}
    times = sorted({x for x in MONITOR if x < t} | {x for x in past if x < t})
    history = tuple((x, vals(x, **past.get(x, {}))) for x in times)
    doses = []
    for i, a in enumerate(HD):
        if a.time_h >= t:
            break
        rule = held.get(a.time_h, "")
        if rule.startswith("stop:"):
            doses.append(DoseRecord(i, a, given=False, held_by=rule[5:], stopped=True))
        else:
            doses.append(DoseRecord(i, a, given=not rule, held_by=rule))
    dues = (HD_BY_TIME[t],) if due and t in HD_BY_TIME else ()
    return Observation(
        time_h=t,
        values=vals(t, **(now or {})),
        doses=tuple(doses),
        due=dues,
        controls=dict(controls or {}),
        history=history,
    )


PIVOTAL = ClinicalProtocol(rules="pivotal")
CONSENSUS = ClinicalProtocol(rules="consensus")
POLICIES = {"pivotal": PIVOTAL, "consensus": CONSENSUS}


def decide(rules: str, obs: Observation):
    return POLICIES[rules].decide(obs)


# --------------------------------------------------------------------------
# Rule objects
# --------------------------------------------------------------------------


def test_rule_sets_are_named_rules_with_sources():
    assert set(RULE_SETS) == {"pivotal", "consensus"}
    seen = set()
    for name, rules in RULE_SETS.items():
        for r in rules:
            assert isinstance(r, Rule)
            assert re.fullmatch(r"[a-z][a-z0-9_]*", r.id)
            assert r.id not in seen
            seen.add(r.id)
            assert r.rule_set == name
            assert r.action in ("hold", "stop")
            assert r.description and r.source
            if r.action == "hold":
                assert r.restart


@pytest.mark.parametrize("rule_id", ["pivotal_hypotension", "pivotal_creatinine", "pivotal_oliguria"])
def test_recalled_rows_say_recalled(rule_id):
    rule = {r.id: r for r in RULE_SETS["pivotal"]}[rule_id]
    assert "recalled" in rule.source


def test_stop_rules_never_clear():
    obs = make_obs(8.0)
    for rules in RULE_SETS.values():
        for r in rules:
            if r.action == "stop":
                assert not r.cleared(obs)


def test_protocol_is_a_policy_and_named():
    assert isinstance(PIVOTAL, Policy)
    assert PIVOTAL.name == "pivotal"
    assert ClinicalProtocol(holds=False).name == "pivotal,no-holds"
    assert ClinicalProtocol(rules="consensus", holds=False, care=False).name == "consensus,no-holds,no-care"
    assert make_policy("consensus", max_courses=1).name == "consensus,max-courses=1"


def test_make_policy_unknown_rule_set():
    with pytest.raises(UserError) as exc:
        make_policy("nci")
    assert exc.value.field == "rules"
    with pytest.raises(UserError) as exc:
        make_policy("pivotal", max_courses=0)
    assert exc.value.field == "max_courses"


# --------------------------------------------------------------------------
# Trigger tables: just below and just above every threshold
# --------------------------------------------------------------------------

T = 40.0  # a dose time on day 2 (the 06:00 draw of day 2 is at 30 h)
LAB = 30.0

PIVOTAL_CASES = [
    # id, now, past, controls, expected dose, expected rule
    ("normal", {}, {}, {}, "give", ""),
    ("sbp89_pressor_max", {"sbp_mmhg": 89.9}, {}, {"pressor_ug_kg_min": 2.0}, "hold", "pivotal_hypotension"),
    ("sbp89_pressor_below_max", {"sbp_mmhg": 89.9}, {}, {"pressor_ug_kg_min": 1.75}, "give", ""),
    # the older label's "SBP < 90 mmHg with increasing pressor requirement": the last check raised the rate
    ("sbp89_pressor_raised", {"sbp_mmhg": 89.9}, {36.0: {"pressor_ug_kg_min": 0.5}}, {"pressor_ug_kg_min": 0.75},
     "hold", "pivotal_hypotension"),
    ("sbp89_pressor_stable", {"sbp_mmhg": 89.9}, {36.0: {"pressor_ug_kg_min": 0.75}}, {"pressor_ug_kg_min": 0.75},
     "give", ""),
    ("sbp90_pressor_raised", {"sbp_mmhg": 90.0}, {36.0: {"pressor_ug_kg_min": 0.5}}, {"pressor_ug_kg_min": 0.75},
     "give", ""),
    ("sbp90_pressor_max", {"sbp_mmhg": 90.0}, {}, {"pressor_ug_kg_min": 2.0}, "give", ""),
    ("sbp80_no_pressor", {"sbp_mmhg": 80.0}, {}, {}, "give", ""),
    ("spo2_89.9", {"spo2_pct": 89.9}, {}, {}, "hold", "pivotal_hypoxia"),
    ("spo2_90", {"spo2_pct": 90.0}, {}, {}, "give", ""),
    ("confusion_1.9", {"confusion_score": 1.9}, {}, {}, "give", ""),
    ("confusion_2", {"confusion_score": 2.0}, {}, {}, "hold", "pivotal_confusion"),
    ("confusion_3.9", {"confusion_score": 3.9}, {}, {}, "hold", "pivotal_confusion"),
    ("coma", {"confusion_score": 4.0}, {}, {}, "stop", "pivotal_coma"),
    ("creat_4.4", {}, {LAB: {"creatinine_mg_dl": 4.4}}, {}, "give", ""),
    ("creat_4.5", {}, {LAB: {"creatinine_mg_dl": 4.5}}, {}, "hold", "pivotal_creatinine"),
    ("creat_4.0_gain_10.1", {"weight_kg": 77.1}, {LAB: {"creatinine_mg_dl": 4.0}}, {}, "hold", "pivotal_creatinine"),
    ("creat_4.0_gain_9.9", {"weight_kg": 76.9}, {LAB: {"creatinine_mg_dl": 4.0}}, {}, "give", ""),
    ("creat_3.9_gain_20", {"weight_kg": 84.0}, {LAB: {"creatinine_mg_dl": 3.9}}, {}, "give", ""),
]

_OLIGURIC = {"urine_ml_per_h": 5.0}
PIVOTAL_CASES += [
    (
        "oliguria_16h_creat_rising",
        _OLIGURIC,
        {24.0: _OLIGURIC, 28.0: _OLIGURIC, LAB: {**_OLIGURIC, "creatinine_mg_dl": 2.0}, 32.0: _OLIGURIC, 36.0: _OLIGURIC},
        {},
        "hold",
        "pivotal_oliguria",
    ),
    (
        "oliguria_12h_creat_rising",
        _OLIGURIC,
        {LAB: {**_OLIGURIC, "creatinine_mg_dl": 2.0}, 28.0: _OLIGURIC, 32.0: _OLIGURIC, 36.0: _OLIGURIC},
        {},
        "give",
        "",
    ),
    (
        "oliguria_16h_creat_flat",
        _OLIGURIC,
        {24.0: _OLIGURIC, 28.0: _OLIGURIC, LAB: _OLIGURIC, 32.0: _OLIGURIC, 36.0: _OLIGURIC},
        {},
        "give",
        "",
    ),
    (
        "urine_10_for_16h",
        {"urine_ml_per_h": 10.0},
        {x: {"urine_ml_per_h": 10.0, **({"creatinine_mg_dl": 2.0} if x == LAB else {})} for x in (24.0, 28.0, LAB, 32.0, 36.0)},
        {},
        "give",
        "",
    ),
]


# "as clinically tolerated": the toxicity borne since the cycle began (the time integral of the graded
# early-warning score) against the tolerance (280 points h here). At band midpoints the graded score is NEWS2's:
# SBP 95.5 (2) + pulse 120.5 (2) + SpO2 94.5 (1) + oxygen (2) = 7 points; a temperature of 38.55 adds 1.
# T = 40 h is 40 h after the cycle's first dose (0 h), so 7 points throughout make 280 points h.
_EWS7 = {"sbp_mmhg": 95.5, "heart_rate_bpm": 120.5, "spo2_pct": 94.5}
_EWS8 = {**_EWS7, "temperature_c": 38.55}
_O2 = {"oxygen_l_min": 2.0}


def _throughout(values: dict, since: float = 0.0) -> dict:
    """The same values at every monitoring time from ``since`` to before T."""
    return {x: dict(values) for x in MONITOR if since - 1e-9 <= x < T}


PIVOTAL_CASES += [
    ("burden_7_points_40h_at_tolerance", _EWS7, _throughout({**_EWS7, **_O2}), _O2, "give", ""),
    ("burden_8_points_40h_above", _EWS8, _throughout({**_EWS8, **_O2}), _O2, "stop", "pivotal_not_tolerated"),
    ("burden_8_points_without_oxygen", _EWS8, _throughout(_EWS8), {}, "give", ""),
    ("burden_8_points_tolerance_330", {**_EWS8, "toxicity_tolerance_burden": 330.0}, _throughout({**_EWS8, **_O2}),
     _O2, "give", ""),
    # a first bad reading after normal ones: half its points over the 4 h since the last check (16 points h)
    ("burden_first_reading_16", {**_EWS8, "toxicity_tolerance_burden": 16.5}, {}, _O2, "give", ""),
    ("burden_first_reading_16_above", {**_EWS8, "toxicity_tolerance_burden": 15.5}, {}, _O2, "stop",
     "pivotal_not_tolerated"),
    ("burden_confusion_counts_3", {**_EWS7, "confusion_score": 1.0},
     _throughout({**_EWS7, "confusion_score": 1.0}), {}, "stop", "pivotal_not_tolerated"),
]


@pytest.mark.parametrize(("case", "now", "past", "controls", "dose", "rule_id"), PIVOTAL_CASES, ids=[c[0] for c in PIVOTAL_CASES])
def test_pivotal_table(case, now, past, controls, dose, rule_id):
    d = decide("pivotal", make_obs(T, now, past, controls))
    assert (d.dose, d.rule_id) == (dose, rule_id)


CONSENSUS_CASES = [
    ("normal", {}, {}, {}, "give", ""),
    # phenylephrine: the highest rate over the last 8 h
    ("pe_0.99", {}, {}, {"pressor_ug_kg_min": 0.99}, "give", ""),
    ("pe_1.0", {}, {}, {"pressor_ug_kg_min": 1.0}, "hold", "consensus_phenylephrine_relative"),
    ("pe_1.5", {}, {}, {"pressor_ug_kg_min": 1.5}, "hold", "consensus_phenylephrine_relative"),
    ("pe_1.75", {}, {}, {"pressor_ug_kg_min": 1.75}, "stop", "consensus_phenylephrine_absolute"),
    ("pe_1.25_4h_ago", {}, {36.0: {"pressor_ug_kg_min": 1.25}}, {"pressor_ug_kg_min": 0.75}, "hold", "consensus_phenylephrine_relative"),
    ("pe_2.0_12h_ago", {}, {28.0: {"pressor_ug_kg_min": 2.0}}, {"pressor_ug_kg_min": 0.5}, "give", ""),
    # urine per 8-h shift (cumulative now minus 8 h ago)
    ("urine_161", {"urine_cumulative_ml": 70.0 * 32 + 161}, {}, {}, "give", ""),
    ("urine_160", {"urine_cumulative_ml": 70.0 * 32 + 160}, {}, {}, "hold", "consensus_oliguria_relative"),
    ("urine_80", {"urine_cumulative_ml": 70.0 * 32 + 80}, {}, {}, "hold", "consensus_oliguria_relative"),
    ("urine_79", {"urine_cumulative_ml": 70.0 * 32 + 79}, {}, {}, "stop", "consensus_oliguria_absolute"),
    # creatinine on the 06:00 draw
    ("creat_2.4", {}, {LAB: {"creatinine_mg_dl": 2.4}}, {}, "give", ""),
    ("creat_2.5", {}, {LAB: {"creatinine_mg_dl": 2.5}}, {}, "hold", "consensus_creatinine_relative"),
    ("creat_2.9", {}, {LAB: {"creatinine_mg_dl": 2.9}}, {}, "hold", "consensus_creatinine_relative"),
    ("creat_3.0", {}, {LAB: {"creatinine_mg_dl": 3.0}}, {}, "stop", "consensus_creatinine_absolute"),
    # weight gain over 15 % (70 kg baseline)
    ("gain_15.0", {"weight_kg": 80.5}, {}, {}, "give", ""),
    ("gain_15.1", {"weight_kg": 80.6}, {}, {}, "hold", "consensus_weight_gain"),
    # oxygen needed to keep SpO2 >= 95 %
    ("o2_2_spo2_95", {"spo2_pct": 95.0}, {}, {"oxygen_l_min": 2.0}, "give", ""),
    ("o2_2_spo2_94", {"spo2_pct": 94.9}, {}, {"oxygen_l_min": 2.0}, "hold", "consensus_oxygen_relative"),
    ("o2_3_spo2_96", {"spo2_pct": 96.0}, {}, {"oxygen_l_min": 3.0}, "hold", "consensus_oxygen_relative"),
    ("o2_4_spo2_95", {"spo2_pct": 95.0}, {}, {"oxygen_l_min": 4.0}, "hold", "consensus_oxygen_relative"),
    ("o2_4_spo2_94", {"spo2_pct": 94.9}, {}, {"oxygen_l_min": 4.0}, "stop", "consensus_oxygen_absolute"),
    ("o2_5_spo2_97", {"spo2_pct": 97.0}, {}, {"oxygen_l_min": 5.0}, "stop", "consensus_oxygen_absolute"),
    # sinus tachycardia, sustained over the previous vitals check
    ("hr_100_prev_100", {"heart_rate_bpm": 100.0}, {36.0: {"heart_rate_bpm": 100.0}}, {}, "hold", "consensus_tachycardia_relative"),
    ("hr_100_prev_99", {"heart_rate_bpm": 100.0}, {36.0: {"heart_rate_bpm": 99.0}}, {}, "give", ""),
    ("hr_99_prev_120", {"heart_rate_bpm": 99.0}, {36.0: {"heart_rate_bpm": 120.0}}, {}, "give", ""),
    ("hr_130_prev_120", {"heart_rate_bpm": 130.0}, {36.0: {"heart_rate_bpm": 120.0}}, {}, "hold", "consensus_tachycardia_relative"),
    ("hr_131", {"heart_rate_bpm": 131.0}, {}, {}, "stop", "consensus_tachycardia_absolute"),
    # diarrhoea per 8-h shift
    ("diarrhea_999", {"diarrhea_cumulative_ml": 999.0}, {}, {}, "give", ""),
    ("diarrhea_1000", {"diarrhea_cumulative_ml": 1000.0}, {}, {}, "hold", "consensus_diarrhea_relative"),
    (
        "diarrhea_1000_twice",
        {"diarrhea_cumulative_ml": 2000.0},
        {32.0: {"diarrhea_cumulative_ml": 1000.0}, 36.0: {"diarrhea_cumulative_ml": 1500.0}},
        {},
        "stop",
        "consensus_diarrhea_absolute",
    ),
    (
        "diarrhea_1000_then_999",
        {"diarrhea_cumulative_ml": 1999.0},
        {32.0: {"diarrhea_cumulative_ml": 999.0}, 36.0: {"diarrhea_cumulative_ml": 1500.0}},
        {},
        "hold",
        "consensus_diarrhea_relative",
    ),
    # vomiting not responding to antiemetics
    ("vomit_6_antiemetic", {"vomiting_per_day": 6.0}, {}, {"antiemetic": 1.0}, "stop", "consensus_refractory_vomiting"),
    ("vomit_5.9_antiemetic", {"vomiting_per_day": 5.9}, {}, {"antiemetic": 1.0}, "give", ""),
    ("vomit_6_no_antiemetic", {"vomiting_per_day": 6.0}, {}, {}, "give", ""),
    # mental status
    ("confusion_1.9", {"confusion_score": 1.9}, {}, {}, "give", ""),
    ("confusion_2", {"confusion_score": 2.0}, {}, {}, "hold", "consensus_confusion_relative"),
    ("confusion_3", {"confusion_score": 3.0}, {}, {}, "stop", "consensus_confusion_absolute"),
    # SpO2 < 90 % (with oxygen at 3 L/min achieving it, so only hypoxia counts twice)
    ("spo2_89.9", {"spo2_pct": 89.9}, {}, {}, "hold", "consensus_hypoxia"),
    ("spo2_90", {"spo2_pct": 90.0}, {}, {}, "give", ""),
    # SpringerPlus: three relative criteria at once
    (
        "three_relative",
        {"weight_kg": 81.0, "heart_rate_bpm": 110.0},
        {LAB: {"creatinine_mg_dl": 2.6}, 36.0: {"heart_rate_bpm": 110.0}},
        {},
        "stop",
        "springerplus_three_relative",
    ),
    (
        "two_relative",
        {"weight_kg": 81.0},
        {LAB: {"creatinine_mg_dl": 2.6}},
        {},
        "hold",
        "consensus_creatinine_relative",
    ),
]


@pytest.mark.parametrize(("case", "now", "past", "controls", "dose", "rule_id"), CONSENSUS_CASES, ids=[c[0] for c in CONSENSUS_CASES])
def test_consensus_table(case, now, past, controls, dose, rule_id):
    # Controls in force earlier are recorded in the history under their names.
    d = decide("consensus", make_obs(T, now, past, controls))
    assert (d.dose, d.rule_id) == (dose, rule_id)


def test_note_lists_every_rule_met():
    obs = make_obs(T, {"weight_kg": 81.0, "heart_rate_bpm": 110.0}, {LAB: {"creatinine_mg_dl": 2.6}, 36.0: {"heart_rate_bpm": 110.0}})
    d = CONSENSUS.decide(obs)
    for rid in ("consensus_creatinine_relative", "consensus_weight_gain", "consensus_tachycardia_relative", "springerplus_three_relative"):
        assert rid in d.note


@pytest.mark.parametrize(("n_held", "dose", "rule_id"), [(2, "give", ""), (3, "stop", "springerplus_three_holds")])
def test_three_holds_in_cycle_stop(n_held, dose, rule_id):
    # Earlier holds by a rule that has since cleared (SpO2 back to normal).
    held = {x: "consensus_hypoxia" for x in (8.0, 16.0, 24.0)[:n_held]}
    d = CONSENSUS.decide(make_obs(T, held=held))
    assert (d.dose, d.rule_id) == (dose, rule_id)


def test_holds_of_the_previous_cycle_do_not_count():
    held = {x: "consensus_hypoxia" for x in (80.0, 88.0, 96.0)}
    d = CONSENSUS.decide(make_obs(336.0, held=held))
    assert d.dose == "give"


@pytest.mark.parametrize(
    "case",
    [
        ("pressor 1.2, SBP 95", {"sbp_mmhg": 95.0}, {}, {"pressor_ug_kg_min": 1.2}),
        ("creatinine 2.7", {}, {LAB: {"creatinine_mg_dl": 2.7}}, {}),
        ("weight gain 16 %", {"weight_kg": 81.2}, {}, {}),
        ("urine 120 mL/shift", {"urine_cumulative_ml": 70.0 * 32 + 120}, {}, {}),
        ("oxygen 3 L/min", {"spo2_pct": 96.0}, {}, {"oxygen_l_min": 3.0}),
    ],
    ids=lambda c: c[0],
)
def test_consensus_holds_where_pivotal_gives(case):
    _, now, past, controls = case
    obs = make_obs(T, now, past, controls)
    assert PIVOTAL.decide(obs).dose == "give"
    assert CONSENSUS.decide(obs).dose == "hold"


# --------------------------------------------------------------------------
# Restart criteria: a dose held earlier stays held until the rule clears
# --------------------------------------------------------------------------

RESTART_CASES = [
    # rules, held by, now, past, controls, expected dose
    ("pivotal", "pivotal_confusion", {"confusion_score": 0.6}, {}, {}, "hold"),
    ("pivotal", "pivotal_confusion", {"confusion_score": 0.4}, {}, {}, "give"),
    ("pivotal", "pivotal_hypoxia", {"spo2_pct": 90.0}, {}, {}, "give"),
    ("pivotal", "pivotal_hypotension", {"sbp_mmhg": 95.0}, {36.0: {"pressor_ug_kg_min": 2.0}}, {"pressor_ug_kg_min": 2.0}, "give"),
    ("pivotal", "pivotal_hypotension", {"sbp_mmhg": 95.0}, {36.0: {"pressor_ug_kg_min": 1.75}}, {"pressor_ug_kg_min": 2.0}, "hold"),
    ("pivotal", "pivotal_hypotension", {"sbp_mmhg": 89.0}, {36.0: {"pressor_ug_kg_min": 2.0}}, {"pressor_ug_kg_min": 1.75}, "hold"),
    ("pivotal", "pivotal_creatinine", {}, {LAB: {"creatinine_mg_dl": 4.2}}, {}, "hold"),
    ("pivotal", "pivotal_creatinine", {}, {LAB: {"creatinine_mg_dl": 3.9}}, {}, "give"),
    ("pivotal", "pivotal_oliguria", {"urine_ml_per_h": 10.0}, {}, {}, "hold"),
    ("pivotal", "pivotal_oliguria", {"urine_ml_per_h": 10.1}, {}, {}, "give"),
    ("consensus", "consensus_phenylephrine_relative", {}, {36.0: {"pressor_ug_kg_min": 0.75}}, {"pressor_ug_kg_min": 0.5}, "give"),
    ("consensus", "consensus_confusion_relative", {"confusion_score": 1.0}, {}, {}, "hold"),
    ("consensus", "consensus_confusion_relative", {"confusion_score": 0.0}, {}, {}, "give"),
    ("consensus", "consensus_creatinine_relative", {}, {LAB: {"creatinine_mg_dl": 2.4}}, {}, "give"),
]


@pytest.mark.parametrize(("rules", "held_by", "now", "past", "controls", "dose"), RESTART_CASES)
def test_restart_criteria(rules, held_by, now, past, controls, dose):
    d = decide(rules, make_obs(T, now, past, controls, held={32.0: held_by}))
    assert d.dose == dose
    if dose == "hold":
        assert d.rule_id == held_by
        assert "awaiting restart: " + held_by in d.note


def test_restart_looks_back_over_consecutive_holds_only():
    # Held at 16 h by confusion, given at 24 and 32 h: confusion 1.0 no longer holds.
    d = PIVOTAL.decide(make_obs(T, {"confusion_score": 1.0}, held={16.0: "pivotal_confusion"}))
    assert d.dose == "give"
    # Held at 24 and 32 h (different rules): both must clear.
    d = PIVOTAL.decide(make_obs(T, {"confusion_score": 1.0}, held={24.0: "pivotal_confusion", 32.0: "pivotal_hypoxia"}))
    assert (d.dose, d.rule_id) == ("hold", "pivotal_confusion")


def test_stopped_cycle_then_next_cycle_starts_when_no_stop_rule_fires():
    held = {x: "stop:pivotal_coma" for x in HD_BY_TIME if 80.0 <= x < 336.0}
    assert PIVOTAL.decide(make_obs(336.0, held=held)).dose == "give"
    d = PIVOTAL.decide(make_obs(336.0, {"confusion_score": 4.0}, held=held))
    assert (d.dose, d.rule_id) == ("stop", "pivotal_coma")


# --------------------------------------------------------------------------
# Laboratory values are seen only at the 06:00 draw
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lab", "continuous", "dose"),
    [(1.0, 5.0, "give"), (5.0, 1.0, "hold")],
)
def test_creatinine_seen_only_at_lab_time(lab, continuous, dose):
    obs = make_obs(T, {"creatinine_mg_dl": continuous}, {LAB: {"creatinine_mg_dl": lab}})
    assert PIVOTAL.decide(obs).dose == dose


def test_latest_lab():
    obs = make_obs(T, {"creatinine_mg_dl": 9.0}, {6.0: {"creatinine_mg_dl": 1.5}, LAB: {"creatinine_mg_dl": 2.5}})
    assert latest_lab(obs, "creatinine_mg_dl") == 2.5
    at_lab = make_obs(LAB, {"creatinine_mg_dl": 3.5}, due=False)
    assert latest_lab(at_lab, "creatinine_mg_dl") == 3.5
    first = make_obs(0.0, {"creatinine_mg_dl": 9.0})
    assert latest_lab(first, "creatinine_mg_dl") is None
    # Before the first draw the pre-treatment creatinine is used.
    assert CONSENSUS.decide(first).dose == "give"


# --------------------------------------------------------------------------
# Switches
# --------------------------------------------------------------------------


@pytest.mark.parametrize("rules", ["pivotal", "consensus"])
def test_no_holds_gives_everything(rules):
    policy = ClinicalProtocol(rules=rules, holds=False)
    bad = {"confusion_score": 4.0, "spo2_pct": 80.0, "heart_rate_bpm": 150.0, "weight_kg": 90.0}
    d = policy.decide(make_obs(T, bad, {LAB: {"creatinine_mg_dl": 6.0}}, {"pressor_ug_kg_min": 2.0}, held={32.0: "pivotal_confusion"}))
    assert (d.dose, d.rule_id) == ("give", "")


def test_no_care_gives_no_controls():
    policy = ClinicalProtocol(care=False)
    for obs in (make_obs(T, {"sbp_mmhg": 70.0, "spo2_pct": 85.0, "nausea_score": 3.0}), make_obs(36.0, due=False)):
        d = policy.decide(obs)
        assert dict(d.controls) == {} and tuple(d.infusions) == ()


def test_no_dose_due_gives_no_dose_decision():
    d = PIVOTAL.decide(make_obs(36.0, {"confusion_score": 4.0}, due=False))
    assert d.dose is None


# --------------------------------------------------------------------------
# Supportive care
# --------------------------------------------------------------------------

CARE = SupportiveCare()


def test_care_in_window_standing_orders():
    controls, infusions = CARE.decide(make_obs(T))
    assert controls["fluid_maintenance_ml_h"] == 25.0
    assert controls["acetaminophen"] == 1.0 and controls["nsaid"] == 1.0
    assert controls["antiemetic"] == controls["antidiarrheal"] == controls["meperidine"] == 0.0
    assert controls["pressor_ug_kg_min"] == 0.0 and controls["oxygen_l_min"] == 0.0
    assert infusions == []


@pytest.mark.parametrize(
    ("now", "controls", "name", "expected"),
    [
        ({"nausea_score": 0.9}, {}, "antiemetic", 0.0),
        ({"nausea_score": 1.0}, {}, "antiemetic", 1.0),
        ({"vomiting_per_day": 1.0}, {}, "antiemetic", 1.0),
        ({}, {"antiemetic": 1.0}, "antiemetic", 1.0),  # continued through the window
        ({"stools_per_day_above_baseline": 2.9}, {}, "antidiarrheal", 0.0),
        ({"stools_per_day_above_baseline": 3.0}, {}, "antidiarrheal", 1.0),
        ({"diarrhea_ml_per_h": 30.0}, {}, "antidiarrheal", 1.0),
        ({"chills_score": 1.9}, {}, "meperidine", 0.0),
        ({"chills_score": 2.0}, {}, "meperidine", 1.0),
        ({"spo2_pct": 94.9}, {"oxygen_l_min": 2.0}, "oxygen_l_min", 3.0),
        ({"spo2_pct": 96.0}, {"oxygen_l_min": 2.0}, "oxygen_l_min", 2.0),
        ({"spo2_pct": 97.0}, {"oxygen_l_min": 2.0}, "oxygen_l_min", 1.0),
        ({"spo2_pct": 80.0}, {"oxygen_l_min": 10.0}, "oxygen_l_min", 10.0),
    ],
)
def test_care_symptom_orders(now, controls, name, expected):
    got, _ = CARE.decide(make_obs(T, now, controls=controls))
    assert got[name] == expected


def _run_care(sbp: list[float], t0: float = 40.0, **now: float):
    """Feed a sequence of SBP readings at q4h checks; return (time, pressor, n boluses) per check."""
    history: list[tuple[float, dict]] = [(x, vals(x)) for x in MONITOR if x < t0]
    controls: dict[str, float] = {}
    doses = tuple(DoseRecord(i, a, True) for i, a in enumerate(HD) if a.time_h < t0)
    out = []
    for k, s in enumerate(sbp):
        t = t0 + 4.0 * k
        v = vals(t, sbp_mmhg=s, map_mmhg=s * 0.7, **now)
        due = (HD_BY_TIME[t],) if t in HD_BY_TIME else ()
        obs = Observation(t, v, doses, due, dict(controls), tuple(history))
        d = PIVOTAL.decide(obs)
        out.append((t, d.controls["pressor_ug_kg_min"], len(d.infusions)))
        history.append((t, {**v, **controls}))
        controls = dict(d.controls)
        doses = doses + tuple(DoseRecord(len(doses), a, True) for a in due)
    return out


def test_care_escalation_bolus_pressor_titration_wean():
    steps = _run_care([85, 85, 85, 85, 85, 95, 105, 105, 105, 105])
    pressor = [p for _, p, _ in steps]
    boluses = [b for _, _, b in steps]
    assert boluses == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]  # at most 3 in 24 h
    assert pressor == [0.0, 0.5, 0.75, 1.0, 1.25, 1.25, 1.0, 0.75, 0.5, 0.25]
    assert _run_care([85] * 10)[-1][1] == 2.0  # the ceiling


def test_care_bolus_order_and_volume():
    _, infusions = CARE.decide(make_obs(T, {"sbp_mmhg": 88.0}))
    assert infusions == [("fluid_bolus_ml_h", 1000.0, 0.5)]
    _, infusions = CARE.decide(make_obs(T, {"map_mmhg": 64.0}))
    assert len(infusions) == 1
    _, infusions = CARE.decide(make_obs(T, {"urine_ml_per_h": 34.0}))  # below 0.5 mL/kg/h
    assert len(infusions) == 1
    _, infusions = CARE.decide(make_obs(T, {"urine_ml_per_h": 35.0}))
    assert infusions == []


def test_care_no_bolus_over_10_percent_gain_goes_straight_to_pressor():
    controls, infusions = CARE.decide(make_obs(T, {"sbp_mmhg": 85.0, "weight_kg": 77.5}))
    assert infusions == []
    assert controls["pressor_ug_kg_min"] == 0.5


def test_care_outside_window():
    """After the treatment window: instability still treated, support weaned, discharge once recovered."""
    last_end = 104.25  # the last dose of cycle 1 starts at 104 h and runs 15 min
    inside, _ = CARE.decide(make_obs(last_end + 23.75, due=False))
    assert inside["fluid_maintenance_ml_h"] == 25.0
    assert CARE.phase(make_obs(last_end + 23.75, due=False)) == "treatment"
    # Observation period, still hypotensive: a bolus and the pressor titrated up; no maintenance or premedication.
    obs = make_obs(last_end + 27.75, {"sbp_mmhg": 85.0, "spo2_pct": 98.0, "nausea_score": 3.0},
                   controls={"oxygen_l_min": 3.0, "pressor_ug_kg_min": 0.5, "antiemetic": 1.0}, due=False)
    c, inf = CARE.decide(obs)
    assert inf == [("fluid_bolus_ml_h", 1000.0, 0.5)]
    assert c["pressor_ug_kg_min"] == 0.75
    assert c["oxygen_l_min"] == 2.0  # weaning continues
    assert c["fluid_maintenance_ml_h"] == c["antiemetic"] == c["acetaminophen"] == c["nsaid"] == 0.0
    assert CARE.phase(obs) == "observation"
    # Oliguria alone gets no bolus after the treatment window.
    _, inf = CARE.decide(make_obs(last_end + 27.75, {"urine_ml_per_h": 10.0}, due=False))
    assert inf == []
    # Stable: weaned by one step.
    c, _ = CARE.decide(make_obs(last_end + 27.75, {"sbp_mmhg": 110.0},
                                controls={"pressor_ug_kg_min": 0.5}, due=False))
    assert c["pressor_ug_kg_min"] == 0.25
    # Not discharged before 48 h even when recovered; at 48 h still on support: kept in.
    assert CARE.phase(make_obs(last_end + 44.0, due=False)) == "observation"
    obs = make_obs(last_end + 48.0, {"sbp_mmhg": 95.0}, controls={"pressor_ug_kg_min": 0.5}, due=False)
    c, _ = CARE.decide(obs)
    assert c["pressor_ug_kg_min"] == 0.5 and CARE.phase(obs) == "observation"
    # Weaned off at this check, normotensive: discharged, everything off.
    obs = make_obs(last_end + 52.0, {"sbp_mmhg": 110.0}, controls={"pressor_ug_kg_min": 0.25, "oxygen_l_min": 1.0},
                   due=False)
    c, inf = CARE.decide(obs)
    assert all(x == 0.0 for x in c.values()) and inf == [] and CARE.phase(obs) == "discharged"
    # Hypotensive at 52 h with nothing running: treated, not discharged.
    obs = make_obs(last_end + 52.0, {"sbp_mmhg": 85.0}, due=False)
    assert CARE.phase(obs) == "observation"
    # The observation period ends after max_observation_h whatever the state.
    obs = make_obs(last_end + CARE.max_observation_h + 4.0, {"sbp_mmhg": 80.0}, due=False)
    c, inf = CARE.decide(obs)
    assert all(x == 0.0 for x in c.values()) and inf == [] and CARE.phase(obs) == "discharged"
    c, _ = CARE.decide(make_obs(200.0, due=False))
    assert all(x == 0.0 for x in c.values())


def test_protocol_rechecks_a_patient_not_recovered():
    last_end = 104.25
    kept = make_obs(last_end + 48.0, {"sbp_mmhg": 95.0}, controls={"pressor_ug_kg_min": 0.5}, due=False)
    assert PIVOTAL.decide(kept).recheck_h == PIVOTAL.vitals_every_h
    well = make_obs(last_end + 52.0, controls={}, due=False)
    assert PIVOTAL.decide(well).recheck_h is None
    assert PIVOTAL.decide(make_obs(last_end + 12.0, due=False)).recheck_h is None  # the grid covers treatment
    assert ClinicalProtocol(care=False).decide(kept).recheck_h is None


def test_care_window_ends_24h_after_a_stop():
    held = {x: "stop:consensus_creatinine_absolute" for x in HD_BY_TIME if 48.0 <= x < 336.0}
    c, _ = CARE.decide(make_obs(72.0, held=held, due=False))
    assert c["fluid_maintenance_ml_h"] == 25.0
    c, _ = CARE.decide(make_obs(76.0, held=held, due=False))
    assert c["fluid_maintenance_ml_h"] == 0.0


# --------------------------------------------------------------------------
# Monitoring times
# --------------------------------------------------------------------------


def test_monitoring_times_high_dose():
    times = PIVOTAL.monitoring_times(HD, 24.0 * 28)
    assert list(times) == sorted(set(times))
    cycle1 = [t for t in times if t < 200]
    q4h = [4.0 * k for k in range(0, 39)]  # 0 .. 152, and 152.25 = the last dose's end (104.25) + 48
    labs = [6.0 + 24.0 * k for k in range(0, 7)]  # 06:00 of days 1-7
    assert cycle1 == sorted(set(q4h) | set(labs) | {152.25})
    cycle2 = [t for t in times if t >= 200]
    assert cycle2[0] == 336.0 and cycle2[-1] == 488.25
    assert 342.0 in cycle2 and 486.0 in cycle2
    assert not [t for t in times if 152.25 < t < 336.0]
    assert all(t <= 672.0 for t in times)


def test_monitoring_times_clipped_to_end():
    times = PIVOTAL.monitoring_times(HD, 50.0)
    assert times[0] == 0.0 and times[-1] == 48.0
    assert ClinicalProtocol(vitals_every_h=8.0).monitoring_times(HD, 50.0) == (0.0, 6.0, 8.0, 16.0, 24.0, 30.0, 32.0, 40.0, 48.0)


# --------------------------------------------------------------------------
# Further courses
# --------------------------------------------------------------------------


def _course_end_obs(tumour_now: float, past: dict | None = None) -> Observation:
    t = 440.0 + 7 * 168.0
    past = {0.0: {"tumour_sum_diameters_mm": 100.0}, **(past or {})}
    return make_obs(t, {"tumour_sum_diameters_mm": tumour_now}, past, due=False)


@pytest.mark.parametrize(
    ("tumour", "past", "course", "max_courses", "expected"),
    [
        (80.0, {}, 1, 3, True),
        (100.0, {}, 1, 3, False),  # no shrinkage
        (120.0, {}, 1, 3, False),
        (80.0, {}, 3, 3, False),  # course limit
        (80.0, {}, 1, 1, False),
        (80.0, {}, 2, 3, False),  # no record of the first dose of course 2
    ],
)
def test_next_course(tumour, past, course, max_courses, expected):
    policy = ClinicalProtocol(max_courses=max_courses)
    assert policy.next_course(_course_end_obs(tumour, past), course) is expected


@pytest.mark.parametrize(
    ("key", "value", "hours", "expected"),
    [
        ("confusion_score", 4.0, 48.0, True),
        ("confusion_score", 4.0, 52.0, False),
        ("confusion_score", 3.9, 100.0, True),
        ("urine_ml_per_h", 5.0, 72.0, True),
        ("urine_ml_per_h", 5.0, 76.0, False),
    ],
)
def test_next_course_contraindications(key, value, hours, expected):
    past = {x: {key: value} for x in MONITOR if 40.0 <= x <= 40.0 + hours}
    assert ClinicalProtocol().next_course(_course_end_obs(80.0, past), 1) is expected


# NEWS2 chart (Royal College of Physicians 2017, recalled): each band edge of each item, on a normal background
# (SBP 120, pulse 80, SpO2 97, air, 37.0 degC, alert: 0 points).
NEWS2_EDGES = [
    ("sbp_mmhg", [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]),
    ("heart_rate_bpm", [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)]),
    ("spo2_pct", [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0)]),
    ("temperature_c", [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)]),
    ("confusion_score", [(0.99, 0), (1.0, 3)]),
]


@pytest.mark.parametrize(("key", "edges"), NEWS2_EDGES, ids=[k for k, _ in NEWS2_EDGES])
def test_early_warning_score_bands_match_news2(key, edges):
    assert early_warning_score(vals(T), 0.0) == 0
    for x, points in edges:
        assert early_warning_score(vals(T, **{key: x}), 0.0) == points, (key, x)
    assert early_warning_score(vals(T), 1.0) == 2  # any supplemental oxygen


# The graded score behind the 'not clinically tolerated' burden: NEWS2's points at every band's midpoint,
# 0 on the normal band's edge, and no jump anywhere (a small change of a vital sign moves it a little).
NEWS2_MIDPOINTS = [
    ("sbp_mmhg", [(80, 3), (90, 3), (95.5, 2), (105.5, 1), (111, 0), (150, 0)]),
    ("heart_rate_bpm", [(35, 3), (40, 3), (45.5, 1), (51, 0), (90, 0), (100.5, 1), (120.5, 2), (131, 3), (150, 3)]),
    ("spo2_pct", [(88, 3), (91, 3), (92.5, 2), (94.5, 1), (96, 0), (99, 0)]),
    ("temperature_c", [(34.0, 3), (35.0, 3), (35.55, 1), (36.1, 0), (38.0, 0), (38.55, 1), (39.1, 2), (40.5, 2)]),
    ("confusion_score", [(0.0, 0), (0.5, 1.5), (1.0, 3), (3.0, 3)]),
]


@pytest.mark.parametrize(("key", "points"), NEWS2_MIDPOINTS, ids=[k for k, _ in NEWS2_MIDPOINTS])
def test_graded_warning_points_take_news2_points_at_band_midpoints(key, points):
    assert graded_warning_points(vals(T), 0.0) == 0.0
    for x, expected in points:
        assert graded_warning_points(vals(T, **{key: x}), 0.0) == pytest.approx(expected, abs=1e-12), (key, x)
    assert graded_warning_points(vals(T), 0.5) == 1.0 and graded_warning_points(vals(T), 3.0) == 2.0


@given(sbp=st.floats(60, 180), hr=st.floats(30, 170), spo2=st.floats(80, 100), temp=st.floats(33, 42),
       conf=st.floats(0, 4), o2=st.floats(0, 6), key=st.sampled_from(["sbp_mmhg", "heart_rate_bpm", "spo2_pct",
                                                                      "temperature_c", "confusion_score"]),
       dx=st.floats(-0.05, 0.05))
def test_graded_warning_points_is_lipschitz(sbp, hr, spo2, temp, conf, o2, key, dx):
    """No step: moving one item by dx moves the score by at most 3 points per 0.55 units (the steepest ramp)."""
    v = vals(T, sbp_mmhg=sbp, heart_rate_bpm=hr, spo2_pct=spo2, temperature_c=temp, confusion_score=conf)
    w = dict(v)
    w[key] = v[key] + dx
    assert abs(graded_warning_points(w, o2) - graded_warning_points(v, o2)) <= 3.7 * abs(dx) + 1e-12
    assert 0.0 <= graded_warning_points(v, o2) <= 17.0


def test_toxicity_burden_is_the_trapezoid_since_the_cycle_began():
    # 2 points (SBP 95.5) at every check after 8 h, 0 before: the integral is 2 * (T - 8) minus half a 4-h step.
    past = {x: {"sbp_mmhg": 95.5} for x in MONITOR if 8.0 + 1e-9 < x < T}
    obs = make_obs(T, {"sbp_mmhg": 95.5}, past)
    first = min(x for x in past)
    assert toxicity_burden(obs) == pytest.approx(2.0 * (T - first) + 0.5 * 2.0 * (first - max(x for x in MONITOR if x < first)))
    # in cycle 2 only cycle 2's checks count: a bad cycle 1 leaves nothing behind
    t2 = min(a.time_h for a in HD if a.cycle == 2)
    t_due = min(a.time_h for a in HD if a.cycle == 2 and a.time_h >= t2 + 16.0)
    past2 = {x: {"sbp_mmhg": 85.0} for x in MONITOR if x < t2}
    past2.update({x: {"sbp_mmhg": 95.5} for x in MONITOR if t2 - 1e-9 <= x < t_due})
    assert toxicity_burden(make_obs(t_due, {"sbp_mmhg": 95.5}, past2)) == pytest.approx(2.0 * (t_due - t2))
    # nothing due: no cycle, no burden; the cycle's first dose: no time borne yet
    assert toxicity_burden(make_obs(T + 2.0, {"sbp_mmhg": 85.0}, past, due=False)) == 0.0
    assert toxicity_burden(make_obs(t2, {"sbp_mmhg": 85.0}, past2)) == 0.0


def test_history_is_a_fixed_read_only_view_sharing_one_cache():
    from il2sim.protocol import History

    records = [(0.0, {"a": 1.0}), (4.0, {"a": 2.0})]
    cache: dict = {}
    h = History(records, 2, cache)
    records.append((8.0, {"a": 3.0}))  # the run goes on: this view stays at its two records
    assert len(h) == 2 and h[-1] == (4.0, {"a": 2.0}) and h[0:5] == tuple(records[:2])
    assert list(h) == records[:2] and list(reversed(h)) == records[1::-1] and h == tuple(records[:2])
    with pytest.raises(IndexError):
        h[2]
    later = History(records, 3, cache)
    assert later.cache is h.cache and len(later) == 3 and later != h


def test_the_memoised_bolus_replay_answers_as_the_full_replay_at_every_decision():
    """The engines pass a History whose cache memoises the bolus replay; a plain tuple replays from scratch."""
    import dataclasses

    from il2sim.engine import simulate
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS, make_policy

    inner = make_policy("pivotal")
    seen: list[tuple[list[float], list[float]]] = []

    class Checking:
        name = "checking"

        def monitoring_times(self, schedule, t_end_h):
            return inner.monitoring_times(schedule, t_end_h)

        def decide(self, obs):
            memo = inner.care.bolus_times(obs)
            plain = inner.care.bolus_times(dataclasses.replace(obs, history=tuple(obs.history)))
            seen.append((memo, plain))
            return inner.decide(obs)

        def next_course(self, obs, course):
            return inner.next_course(obs, course)

    p = typical_patient("melanoma", vasodilation_gain=2.0)  # hypotensive: boluses in both cycles
    simulate(p, NAMED_REGIMENS["high-dose"], days=21, policy=Checking())
    assert len(seen) > 50 and sum(len(m) for m, _ in seen) > 10
    assert all(m == p_ for m, p_ in seen)


def test_the_memoised_exposure_running_and_burden_answer_as_without_the_cache():
    """Exposure, Observation.running and toxicity_burden keep what is settled in the History's cache (issue 16).

    At every decision of a high-dose run with holds and stops, and of a continuous infusion that the consensus
    rules interrupt, each is computed with the engine's History and again from a plain tuple (no cache):
    they must be equal, to the last bit; and Exposure.since and running must agree with a replay of the whole record.
    """
    import dataclasses

    from il2sim.engine import simulate
    from il2sim.model import typical_patient
    from il2sim.protocol import NAMED_REGIMENS, DoseBlock, Regimen, make_policy
    from il2sim.protocol._care import Exposure

    def reference_since(obs, x):
        """The documented semantics, replayed from the whole record (the code before the memo)."""
        now = obs.time_h
        spans = [(a.time_h, a.time_h) for a in obs.due]
        first_stop = {}
        for rec in obs.doses:
            a = rec.administration
            if a.time_h > now + 1e-6:
                continue
            if rec.stopped and not rec.given:
                first_stop[(a.course, a.cycle)] = min(first_stop.get((a.course, a.cycle), a.time_h), a.time_h)
            elif rec.given:
                spans.append((a.time_h, min(rec.exposure_end_h, now)))
            else:
                spans.append((a.time_h, a.time_h))
        spans += [(t, t) for t in first_stop.values()]
        before = [e for s, e in spans if s <= x + 1e-6]
        return None if not before else max(0.0, x - max(before))

    def answers(obs):
        e = Exposure(obs)
        probes = [obs.time_h - x for x in (0.0, 0.5, 4.0, 30.0)]
        since = [e.since(x) for x in probes]
        assert since == [reference_since(obs, x) for x in probes]
        assert obs.running == tuple(r for r in obs.doses if r.running_at(obs.time_h))  # the definition, unmemoised
        return since, obs.running, toxicity_burden(obs)

    def check(regimen, rules, days, **patient):
        inner = make_policy(rules)
        seen = []

        class Checking:
            name = "checking"

            def monitoring_times(self, schedule, t_end_h):
                return inner.monitoring_times(schedule, t_end_h)

            def decide(self, obs):
                memo = answers(obs)
                plain = answers(dataclasses.replace(obs, history=tuple(obs.history)))
                seen.append((memo, plain))
                return inner.decide(obs)

            def next_course(self, obs, course):
                return inner.next_course(obs, course)

        res = simulate(typical_patient("melanoma", **patient), regimen, days=days, policy=Checking())
        assert len(seen) > 30
        assert all(m == p_ for m, p_ in seen)
        return res, seen

    res, seen = check(NAMED_REGIMENS["high-dose"], "pivotal", 21, vasodilation_gain=2.0)
    assert any(not d.given for d in res.doses) and any(m[2] > 0 for m, _ in seen)
    civ = Regimen(name="civ-5-day", blocks=(DoseBlock(1_500_000.0, "iv", 5 * 24 * 60.0, 24.0, 1, 1),))
    res, seen = check(civ, "consensus", 10)
    assert any(d.interrupted_h is not None for d in res.doses)
    res, seen = check(civ, "pivotal", 10)  # runs to its end: running at every check of days 1-5
    assert sum(bool(m[1]) for m, _ in seen) > 20
