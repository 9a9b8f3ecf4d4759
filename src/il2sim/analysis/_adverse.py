r"""Adverse-event scoring: CTCAE v5 worst grade and label-reported incidence.

Two pure functions score one simulated patient's time course (contract,
"Adverse events"):

* :func:`worst_grades` - the worst CTCAE v5 grade of each canonical term, read
  from the simulated physiological and symptom signals **and from the care that
  was given** (hypotension, like CTCAE itself, is graded by the intervention it
  needed). Every rule is one row of :data:`CTCAE_CRITERIA`.
* :func:`label_reported` - whether an investigator in the pivotal trials would
  have recorded the event as an adverse reaction in the Proleukin label's
  Table III (COSTART terms, n = 525). Every rule is one row of
  :data:`LABEL_MAPPING`; :data:`LABEL_TARGETS` holds the label incidences the
  trial summaries are compared with.

Conventions
-----------
* The time course is read sample-and-hold: each sample's value holds until the
  next sample, and the last sample adds no time. A condition seen on ``n``
  consecutive samples of a 0.25-h grid therefore lasts ``0.25 n`` h (unless it
  reaches the last sample). "Sustained for >= D h" means one unbroken run of
  at least ``D`` h; durations compare with a tolerance of 1e-9 h.
* Thresholds compare with a relative tolerance of 1e-9, so a value exactly on
  a decimal boundary (weight exactly +5 %, creatinine exactly 1.5 x ULN) falls
  on the side the rule states despite binary floating point.
* Symptom scores (0-3, confusion 0-4) grade as ``floor(max score + 1e-6)``:
  1 mild, 2 moderate, 3 severe (4 life-threatening, confusion only). The 1e-6
  absorbs solver round-off only.
* No rule gives grade 5 (death): the signals cannot attribute a death.
* ``platelet_count_decreased`` is a contract term only "where the model has
  platelets"; il2sim has none, so it is not scored.

References
----------
.. [1] National Cancer Institute. Common Terminology Criteria for Adverse
   Events (CTCAE) version 5.0, 27 Nov 2017.
   https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm
.. [2] Proleukin (aldesleukin) US prescribing information (older format),
   Table III "Adverse events occurring in >= 10% of patients (n = 525)".
.. [3] Dutcher JP, Schwartzentruber DJ, Kaufman HL, et al. High dose
   interleukin-2 (Aldesleukin) - expert consensus on best management
   practices-2014. J Immunother Cancer 2014;2:26.
   https://doi.org/10.1186/s40425-014-0026-0
.. [4] KDIGO Acute Kidney Injury Work Group. KDIGO clinical practice guideline
   for acute kidney injury. Kidney Int Suppl 2012;2:1-138.
   https://doi.org/10.1038/kisup.2012.1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._errors import UserError

__all__ = [
    "TERMS",
    "GradeCriterion",
    "LabelRule",
    "CTCAE_CRITERIA",
    "LABEL_MAPPING",
    "LABEL_TARGETS",
    "worst_grades",
    "label_reported",
]

#: Canonical adverse-event term ids scored by il2sim, in contract order.
#: ``platelet_count_decreased`` is left out: the model has no platelets.
TERMS: tuple[str, ...] = (
    "hypotension",
    "fever",
    "chills",
    "fatigue",
    "nausea",
    "vomiting",
    "diarrhea",
    "rash",
    "confusion",
    "dyspnea",
    "hypoxia",
    "edema",
    "weight_gain",
    "oliguria",
    "creatinine_increased",
    "acute_kidney_injury",
    "capillary_leak_syndrome",
    "lymphocyte_count_decreased",
)

_REL_TOL = 1e-9
_DUR_TOL_H = 1e-9
_SCORE_TOL = 1e-6

_CTCAE = "CTCAE v5.0 (NCI 2017)"


@dataclass(frozen=True, slots=True)
class GradeCriterion:
    """How il2sim grades one term (one row of :data:`CTCAE_CRITERIA`).

    Parameters
    ----------
    term
        Canonical term id (one of :data:`TERMS`).
    ctcae_term
        The CTCAE v5.0 term name, or ``None`` where CTCAE has none (oliguria).
    ctcae_grades
        The CTCAE v5.0 wording for grades 1-4, in order; ``""`` for a grade the
        term does not have.
    rules
        ``(grade, rule)`` pairs: il2sim's rule for each grade it assigns, in
        plain words, lowest grade first.
    signals
        Time-course columns the rule reads.
    params
        ``(name, value)`` pairs: every number the rule uses (the code reads
        them from here, so the table is the single source of the thresholds).
    source
        Where the grading comes from.
    adaptation
        How the CTCAE wording was adapted to continuous simulated signals.
    """

    term: str
    ctcae_term: str | None
    ctcae_grades: tuple[str, str, str, str]
    rules: tuple[tuple[int, str], ...]
    signals: tuple[str, ...]
    params: tuple[tuple[str, float], ...]
    source: str
    adaptation: str

    def __post_init__(self) -> None:
        if self.term not in TERMS:
            raise ValueError(f"GradeCriterion.term: got {self.term!r}, expected one of {TERMS}")
        grades = [g for g, _ in self.rules]
        if grades != sorted(set(grades)) or not all(1 <= g <= 4 for g in grades):
            raise ValueError(f"GradeCriterion({self.term}).rules: got grades {grades}, "
                             "expected increasing grades in 1..4")
        if len(self.ctcae_grades) != 4:
            raise ValueError(f"GradeCriterion({self.term}).ctcae_grades: expected 4 entries")

    def param(self, name: str) -> float:
        """The value of the named threshold (``KeyError`` if the rule has none)."""
        for key, value in self.params:
            if key == name:
                return float(value)
        raise KeyError(f"{self.term}: no parameter {name!r}; has {[k for k, _ in self.params]}")


@dataclass(frozen=True, slots=True)
class LabelRule:
    """When a simulated event counts as label-reported (one row of :data:`LABEL_MAPPING`).

    Parameters
    ----------
    term
        Canonical term id.
    label_term
        The label Table III (COSTART) term it is compared with, or ``None``.
    label_incidence
        The label's any-grade incidence for that term (fraction of n = 525),
        or ``None`` where the label has no such term.
    proxy
        True when the label term only approximates the il2sim term (the
        incidence is then kept out of :data:`LABEL_TARGETS`).
    criterion
        The rule in plain words.
    params
        ``(name, value)`` pairs: every number the rule uses.
    rationale
        One line: why this threshold.
    """

    term: str
    label_term: str | None
    label_incidence: float | None
    proxy: bool
    criterion: str
    params: tuple[tuple[str, float], ...]
    rationale: str

    def __post_init__(self) -> None:
        if self.term not in TERMS:
            raise ValueError(f"LabelRule.term: got {self.term!r}, expected one of {TERMS}")
        if self.label_incidence is not None and not 0.0 <= self.label_incidence <= 1.0:
            raise ValueError(f"LabelRule({self.term}).label_incidence: got {self.label_incidence}, "
                             "expected a fraction in [0, 1]")

    def param(self, name: str) -> float:
        """The value of the named threshold (``KeyError`` if the rule has none)."""
        for key, value in self.params:
            if key == name:
                return float(value)
        raise KeyError(f"{self.term}: no parameter {name!r}; has {[k for k, _ in self.params]}")


_SCORE_ADAPT = ("The simulated score is continuous (1 mild, 2 moderate, 3 severe); the grade is the "
                "largest whole score reached, floor(max + 1e-6).")

_CRITERIA: tuple[GradeCriterion, ...] = (
    GradeCriterion(
        term="hypotension",
        ctcae_term="Hypotension",
        ctcae_grades=("Asymptomatic, intervention not indicated",
                      "Non-urgent medical intervention indicated",
                      "Medical intervention indicated; hospitalization indicated",
                      "Life-threatening consequences and urgent intervention indicated"),
        rules=((1, "SBP < 90 mmHg or MAP < 65 mmHg at any time"),
               (2, "a fluid bolus (fluid_bolus_ml_h > 0) while hypotensive or within 1 h after a hypotensive sample"),
               (3, "any vasopressor (pressor_ug_kg_min > 0)"),
               (4, "vasopressor > 1.5 ug/kg/min phenylephrine-equivalent (consensus absolute criterion), "
                   "or MAP < 55 mmHg sustained >= 1 h")),
        signals=("sbp_mmhg", "map_mmhg", "fluid_bolus_ml_h", "pressor_ug_kg_min"),
        params=(("sbp_below_mmhg", 90.0), ("map_below_mmhg", 65.0), ("bolus_window_h", 1.0),
                ("pressor_grade4_above_ug_kg_min", 1.5), ("map_grade4_below_mmhg", 55.0),
                ("map_grade4_min_duration_h", 1.0)),
        source=f"{_CTCAE}; contract (graded by intervention); Dutcher 2014 Table 3 (absolute criterion)",
        adaptation=("CTCAE grades by the intervention; il2sim reads the intervention actually given by the care "
                    "policy. Grade 4 also includes MAP < 55 mmHg for >= 1 h (shock), whether or not a pressor "
                    "runs; under care this is 'despite a pressor', and without care untreated shock is not "
                    "graded 1. In --no-care runs grades 2-3 cannot occur (no intervention is given)."),
    ),
    GradeCriterion(
        term="fever",
        ctcae_term="Fever",
        ctcae_grades=("38.0-39.0 degC", ">39.0-40.0 degC", ">40.0 degC for <=24 hrs", ">40.0 degC for >24 hrs"),
        rules=((1, "max temperature >= 38.0 degC"), (2, "max temperature > 39.0 degC"),
               (3, "temperature > 40.0 degC"), (4, "temperature > 40.0 degC sustained > 24 h")),
        signals=("temperature_c",),
        params=(("grade1_from_c", 38.0), ("grade2_above_c", 39.0), ("grade3_above_c", 40.0),
                ("grade4_longer_than_h", 24.0)),
        source=_CTCAE,
        adaptation="Duration is the longest unbroken run above 40.0 degC.",
    ),
    GradeCriterion(
        term="chills",
        ctcae_term="Chills",
        ctcae_grades=("Mild sensation of cold; shivering; chattering of teeth",
                      "Moderate tremor of the entire body; narcotics indicated",
                      "Severe or prolonged, not responsive to narcotics", ""),
        rules=((1, "chills_score >= 1"), (2, "chills_score >= 2, or meperidine in force while chills_score >= 1"),
               (3, "chills_score >= 3")),
        signals=("chills_score", "meperidine"),
        params=(("meperidine_min_score", 1.0),),
        source=_CTCAE,
        adaptation=_SCORE_ADAPT + " CTCAE grade 2 is 'narcotics indicated': rigors treated with meperidine "
        "grade at least 2.",
    ),
    GradeCriterion(
        term="fatigue",
        ctcae_term="Fatigue",
        ctcae_grades=("Fatigue relieved by rest", "Fatigue not relieved by rest; limiting instrumental ADL",
                      "Fatigue not relieved by rest, limiting self care ADL", ""),
        rules=((1, "fatigue_score >= 1"), (2, "fatigue_score >= 2"), (3, "fatigue_score >= 3 (limiting self-care)")),
        signals=("fatigue_score",),
        params=(),
        source=_CTCAE,
        adaptation=_SCORE_ADAPT,
    ),
    GradeCriterion(
        term="nausea",
        ctcae_term="Nausea",
        ctcae_grades=("Loss of appetite without alteration in eating habits",
                      "Oral intake decreased without significant weight loss, dehydration or malnutrition",
                      "Inadequate oral caloric or fluid intake; tube feeding, TPN, or hospitalization indicated", ""),
        rules=((1, "nausea_score >= 1"), (2, "nausea_score >= 2"), (3, "nausea_score >= 3 (inadequate intake)")),
        signals=("nausea_score",),
        params=(),
        source=_CTCAE,
        adaptation=_SCORE_ADAPT,
    ),
    GradeCriterion(
        term="vomiting",
        ctcae_term="Vomiting",
        ctcae_grades=("Intervention not indicated", "Outpatient IV hydration; medical intervention indicated",
                      "Tube feeding, TPN, or hospitalization indicated", "Life-threatening consequences"),
        rules=((1, "1-2 episodes in the worst 24 h"), (2, "3-5 episodes in the worst 24 h"),
               (3, ">= 6 episodes in the worst 24 h")),
        signals=("vomiting_per_day",),
        params=(("window_h", 24.0), ("grade1_episodes", 1.0), ("grade2_episodes", 3.0), ("grade3_episodes", 6.0)),
        source="CTCAE v4.03 episode counts (v5.0 grades vomiting by intervention only)",
        adaptation=("Episodes = integral of vomiting_per_day / 24 over the worst 24-h window (rolling), then "
                    "floor(count + 1e-6). v5.0 dropped the counts from its wording; the v4.03 counts are the "
                    "signal-based proxy. Grade 4 (life-threatening) is not modelled."),
    ),
    GradeCriterion(
        term="diarrhea",
        ctcae_term="Diarrhea",
        ctcae_grades=("Increase of <4 stools per day over baseline", "Increase of 4-6 stools per day over baseline",
                      "Increase of >=7 stools per day over baseline; hospitalization indicated",
                      "Life-threatening consequences; urgent intervention indicated"),
        rules=((1, "excess stools in the worst 24 h > 0.5"), (2, "excess stools in the worst 24 h >= 4"),
               (3, "excess stools in the worst 24 h >= 7")),
        signals=("stools_per_day_above_baseline",),
        params=(("window_h", 24.0), ("grade1_above_stools", 0.5), ("grade2_stools", 4.0), ("grade3_stools", 7.0)),
        source=_CTCAE,
        adaptation=("CTCAE counts stools per day: il2sim integrates the rate stools_per_day_above_baseline / 24 "
                    "over the worst 24-h window (a brief peak rate is not a day's count). More than half a stool "
                    "rounds to one. Grade 4 (life-threatening) is not modelled; diarrhea_ml_per_h is not used."),
    ),
    GradeCriterion(
        term="rash",
        ctcae_term="Rash maculo-papular",
        ctcae_grades=("Macules/papules covering <10% BSA", "Macules/papules covering 10-30% BSA",
                      "Macules/papules covering >30% BSA; limiting self care ADL", ""),
        rules=((1, "rash_bsa_pct >= 1"), (2, "rash_bsa_pct >= 10"), (3, "rash_bsa_pct > 30")),
        signals=("rash_bsa_pct",),
        params=(("grade1_from_pct", 1.0), ("grade2_from_pct", 10.0), ("grade3_above_pct", 30.0)),
        source=_CTCAE,
        adaptation="A rash below 1 % BSA is treated as none. Symptoms (pruritus) are not graded.",
    ),
    GradeCriterion(
        term="confusion",
        ctcae_term="Confusion",
        ctcae_grades=("Mild disorientation", "Moderate disorientation; limiting instrumental ADL",
                      "Severe disorientation; limiting self care ADL",
                      "Life-threatening consequences; urgent intervention indicated"),
        rules=((1, "confusion_score >= 1"), (2, "confusion_score >= 2"), (3, "confusion_score >= 3"),
               (4, "confusion_score >= 4 (coma / life-threatening)")),
        signals=("confusion_score",),
        params=(),
        source=_CTCAE,
        adaptation=_SCORE_ADAPT + " Confusion runs to 4 (life-threatening).",
    ),
    GradeCriterion(
        term="dyspnea",
        ctcae_term="Dyspnea",
        ctcae_grades=("Shortness of breath with moderate exertion", "Shortness of breath with minimal exertion",
                      "Shortness of breath at rest", "Life-threatening consequences; urgent intervention indicated"),
        rules=((1, "dyspnea_score >= 1"), (2, "dyspnea_score >= 2"), (3, "dyspnea_score >= 3 (at rest)")),
        signals=("dyspnea_score",),
        params=(),
        source=_CTCAE,
        adaptation=_SCORE_ADAPT + " Grade 4 is not read from the score; respiratory failure shows as hypoxia "
        "grade 4.",
    ),
    GradeCriterion(
        term="hypoxia",
        ctcae_term="Hypoxia",
        ctcae_grades=("", "Decreased oxygen saturation with exercise (e.g., pulse oximeter <88%); "
                      "intermittent supplemental oxygen",
                      "Decreased oxygen saturation at rest (e.g., pulse oximeter <88% or PaO2 <=55 mm Hg)",
                      "Life-threatening airway compromise; urgent intervention indicated (e.g., tracheotomy "
                      "or intubation)"),
        rules=((2, "SpO2 < 92 % at any time, or any supplemental oxygen (up to 2 L/min)"),
               (3, "SpO2 < 88 %, or oxygen > 2 L/min"),
               (4, "SpO2 < 80 %, or oxygen > 6 L/min (beyond nasal cannula: mask / ventilation)")),
        signals=("spo2_pct", "oxygen_l_min"),
        params=(("grade2_spo2_below_pct", 92.0), ("grade3_spo2_below_pct", 88.0), ("grade4_spo2_below_pct", 80.0),
                ("grade3_oxygen_above_l_min", 2.0), ("grade4_oxygen_above_l_min", 6.0)),
        source=_CTCAE,
        adaptation=("CTCAE v5 hypoxia has no grade 1. SpO2 is read on the oxygen in force, so oxygen flow "
                    "stands in for 'at rest' need; a brief dip below 92 % stands for desaturation with exercise."),
    ),
    GradeCriterion(
        term="edema",
        ctcae_term="Edema limbs",
        ctcae_grades=("5-10% inter-limb discrepancy in volume or circumference",
                      ">10-30% inter-limb discrepancy; readily apparent",
                      ">30% inter-limb discrepancy; gross deviation from normal anatomic contour", ""),
        rules=((1, "edema_pct >= 5"), (2, "edema_pct > 10"), (3, "edema_pct > 30")),
        signals=("edema_pct",),
        params=(("grade1_from_pct", 5.0), ("grade2_above_pct", 10.0), ("grade3_above_pct", 30.0)),
        source=_CTCAE,
        adaptation=("CTCAE measures a discrepancy between limbs; IL-2 edema is symmetric, so il2sim uses the "
                    "increase of interstitial volume over baseline (edema_pct) as the volume discrepancy."),
    ),
    GradeCriterion(
        term="weight_gain",
        ctcae_term="Weight gain",
        ctcae_grades=("5 - <10% from baseline", "10 - <20% from baseline", ">=20% from baseline", ""),
        rules=((1, "weight >= 5 % above baseline"), (2, "weight >= 10 % above baseline"),
               (3, "weight >= 20 % above baseline")),
        signals=("weight_kg",),
        params=(("grade1_from_pct", 5.0), ("grade2_from_pct", 10.0), ("grade3_from_pct", 20.0)),
        source=_CTCAE,
        adaptation="Baseline is the pre-treatment weight (baseline_weight_kg).",
    ),
    GradeCriterion(
        term="oliguria",
        ctcae_term=None,
        ctcae_grades=("", "", "", ""),
        rules=((1, "urine < 0.5 mL/kg/h (baseline weight) sustained >= 6 h"),
               (3, "urine < 10 mL/h sustained >= 16 h")),
        signals=("urine_ml_per_h",),
        params=(("grade1_below_ml_kg_h", 0.5), ("grade1_min_duration_h", 6.0),
                ("grade3_below_ml_h", 10.0), ("grade3_min_duration_h", 16.0)),
        source="contract (urine < 0.5 mL/kg/h for >= 6 h; KDIGO urine criterion); label hold criterion "
               "(< 10 mL/h for 16-24 h)",
        adaptation=("CTCAE v5 has no oliguria term: these grades are il2sim's convention (1 = contract "
                    "definition, 3 = the label's hold criterion). Grades 2 and 4 are not used."),
    ),
    GradeCriterion(
        term="creatinine_increased",
        ctcae_term="Creatinine increased",
        ctcae_grades=(">ULN - 1.5 x ULN", ">1.5 - 3.0 x baseline; >1.5 - 3.0 x ULN",
                      ">3.0 x baseline; >3.0 - 6.0 x ULN", ">6.0 x ULN"),
        rules=((1, "creatinine > ULN"), (2, "creatinine > 1.5 x ULN or > 1.5 x baseline"),
               (3, "creatinine > 3.0 x ULN or > 3.0 x baseline"), (4, "creatinine > 6.0 x ULN")),
        signals=("creatinine_mg_dl",),
        params=(("grade1_above_uln", 1.0), ("grade2_above_uln", 1.5), ("grade3_above_uln", 3.0),
                ("grade4_above_uln", 6.0), ("grade2_above_baseline", 1.5), ("grade3_above_baseline", 3.0)),
        source=_CTCAE,
        adaptation="The higher of the ULN-based and baseline-based grades; ULN defaults to 1.2 mg/dL.",
    ),
    GradeCriterion(
        term="acute_kidney_injury",
        ctcae_term="Acute kidney injury",
        ctcae_grades=("", "", "Hospitalization indicated",
                      "Life-threatening consequences; dialysis indicated"),
        rules=((3, "creatinine >= 2 x baseline sustained >= 24 h, or urine < 0.3 mL/kg/h sustained >= 24 h"),
               (4, "creatinine >= 4 mg/dL with urine < 10 mL/h sustained >= 24 h, or urine < 5 mL/h "
                   "sustained >= 12 h")),
        signals=("creatinine_mg_dl", "urine_ml_per_h"),
        params=(("grade3_creatinine_x_baseline", 2.0), ("grade3_creatinine_min_duration_h", 24.0),
                ("grade3_urine_below_ml_kg_h", 0.3), ("grade3_urine_min_duration_h", 24.0),
                ("grade4_creatinine_from_mg_dl", 4.0), ("grade4_urine_below_ml_h", 10.0),
                ("grade4_min_duration_h", 24.0), ("grade4_anuria_below_ml_h", 5.0),
                ("grade4_anuria_min_duration_h", 12.0)),
        source=f"{_CTCAE}; KDIGO 2012 stage 2-3 criteria as the proxy for 'hospitalization / dialysis indicated'",
        adaptation=("CTCAE v5 AKI has only grades 3-5 (grades 1-2 were removed in v5). 'Hospitalization "
                    "indicated' is read as KDIGO stage >= 2 kept for a day; 'dialysis indicated' as "
                    "creatinine >= 4 mg/dL with oliguria for a day, or anuria for 12 h."),
    ),
    GradeCriterion(
        term="capillary_leak_syndrome",
        ctcae_term="Capillary leak syndrome",
        ctcae_grades=("", "Symptomatic; medical intervention indicated", "Severe symptoms; intervention indicated",
                      "Life-threatening consequences; urgent intervention indicated"),
        rules=((1, "edema_pct > 5 or weight > 5 % above baseline (asymptomatic leak)"),
               (2, "hypotension grade >= 2 (fluid bolus) or weight >= 10 % above baseline"),
               (3, "hypotension grade >= 3 (vasopressor)"),
               (4, "hypotension grade 4 or hypoxia grade 4")),
        signals=("edema_pct", "weight_kg", "sbp_mmhg", "map_mmhg", "fluid_bolus_ml_h", "pressor_ug_kg_min",
                 "spo2_pct", "oxygen_l_min"),
        params=(("grade1_edema_above_pct", 5.0), ("grade1_weight_above_pct", 5.0),
                ("grade2_weight_from_pct", 10.0)),
        source=f"{_CTCAE}; label section on CLS (hypotension, edema, dyspnea)",
        adaptation=("CTCAE v5 CLS has no grade 1 wording in the transcription used (as transcribed: "
                    "'asymptomatic'); il2sim grades 1 for a measurable leak without intervention. On IL-2 "
                    "the hypotension is attributed to CLS, so CLS grades at least as high as hypotension "
                    "when that needed intervention."),
    ),
    GradeCriterion(
        term="lymphocyte_count_decreased",
        ctcae_term="Lymphocyte count decreased",
        ctcae_grades=("<LLN - 800/mm3", "<800 - 500/mm3", "<500 - 200/mm3", "<200/mm3"),
        rules=((1, "lymphocytes < 1000 /uL"), (2, "< 800 /uL"), (3, "< 500 /uL"), (4, "< 200 /uL")),
        signals=("lymphocytes_per_ul",),
        params=(("lln_per_ul", 1000.0), ("grade2_below_per_ul", 800.0), ("grade3_below_per_ul", 500.0),
                ("grade4_below_per_ul", 200.0)),
        source=_CTCAE,
        adaptation="LLN taken as 1000 /uL; all blood lymphocytes (T, B, NK).",
    ),
)

#: CTCAE v5 grading rule per term, in :data:`TERMS` order.
CTCAE_CRITERIA: dict[str, GradeCriterion] = {c.term: c for c in _CRITERIA}

_LABEL_RULES: tuple[LabelRule, ...] = (
    LabelRule("hypotension", "Hypotension", 0.71, False,
              "hypotension grade >= 2 (needed a fluid bolus or pressor), or SBP < 85 mmHg",
              (("min_grade", 2.0), ("sbp_below_mmhg", 85.0)),
              "Investigators recorded hypotension that was treated or clearly low; a self-limited SBP of 85-90 "
              "was routine on HD IL-2 and mostly not recorded."),
    LabelRule("fever", "Fever", 0.29, False,
              "temperature >= 39.0 degC at any time (on whatever antipyretics were in force)",
              (("temperature_from_c", 39.0),),
              "Antipyretics were scheduled in the pivotal trials, so COSTART 'fever' (29 %) counts breakthrough "
              "fever; the simulated temperature already includes the antipyretic effect when care is given."),
    LabelRule("chills", "Chills", 0.52, False,
              "chills_score >= 1 while meperidine is in force, or chills_score >= 1.5",
              (("score_with_meperidine", 1.0), ("score_from", 1.5)),
              "Rigors that needed (and outlasted) meperidine, or were clearly moderate, were recorded; a "
              "passing mild shiver was not."),
    LabelRule("fatigue", "Malaise / Asthenia", 0.27, True,
              "fatigue grade >= 2",
              (("min_grade", 2.0),),
              "COSTART 'malaise' (27 %) and 'asthenia' (23 %) capture fatigue that limits activity."),
    LabelRule("nausea", "Nausea", 0.35, False,
              "nausea grade >= 2, or nausea_score >= 1 sustained >= 24 h",
              (("min_grade", 2.0), ("score_from", 1.0), ("min_duration_h", 24.0)),
              "Brief mild nausea under scheduled antiemetics went unrecorded; reduced intake or a day of "
              "nausea was recorded."),
    LabelRule("vomiting", "Vomiting", 0.50, False,
              ">= 1 vomiting episode in some 24-h window (vomiting grade >= 1)",
              (("min_grade", 1.0),),
              "Emesis is a discrete observed event and was recorded when it happened."),
    LabelRule("diarrhea", "Diarrhea", 0.67, False,
              ">= 2 excess stools in some 24-h window, or stools_per_day_above_baseline > 0.5 sustained >= 12 h",
              (("stools_from", 2.0), ("rate_above", 0.5), ("min_duration_h", 12.0)),
              "A single loose stool is not diarrhea; two in a day, or a half-day of increased frequency, was "
              "recorded."),
    LabelRule("rash", "Rash", 0.42, False,
              "rash_bsa_pct >= 5",
              (("bsa_from_pct", 5.0),),
              "The diffuse erythema of IL-2 was recorded once clearly visible; a few macules were not."),
    LabelRule("confusion", "Confusion", 0.34, False,
              "confusion grade >= 1",
              (("min_grade", 1.0),),
              "Any mental-status change was watched for and recorded on HD IL-2 (it leads to holds)."),
    LabelRule("dyspnea", "Dyspnea", 0.43, False,
              "dyspnea_score >= 1 sustained >= 4 h",
              (("score_from", 1.0), ("min_duration_h", 4.0)),
              "Shortness of breath lasting at least a nursing shift's half was recorded; a transient one was not."),
    LabelRule("hypoxia", "Lung disorder / Respiratory disorder", 0.24, True,
              "SpO2 < 90 %, or oxygen > 2 L/min",
              (("spo2_below_pct", 90.0), ("oxygen_above_l_min", 2.0)),
              "No 'hypoxia' in Table III; pulmonary congestion (lung disorder, 24 %) or respiratory disorder "
              "(11 %) was recorded when oxygenation clearly failed."),
    LabelRule("edema", "Edema", 0.15, False,
              "edema_pct >= 25",
              (("edema_from_pct", 25.0),),
              "Generalised edema becomes clinically apparent only after about 2.5-3 L of excess interstitial "
              "fluid (recalled, Guyton & Hall physiology), about a quarter of the adult interstitial volume; "
              "the label also lists peripheral edema at 28 %, which investigators coded separately."),
    LabelRule("weight_gain", "Weight gain", 0.16, False,
              "weight >= 10 % above baseline",
              (("gain_from_pct", 10.0),),
              "Some gain was expected and tolerated; gain of 10 % or more (near the 15 % hold criterion) was "
              "recorded."),
    LabelRule("oliguria", "Oliguria", 0.63, False,
              "oliguria grade >= 1 (urine < 0.5 mL/kg/h for >= 6 h, the contract definition)",
              (("min_grade", 1.0),),
              "The contract defines oliguria for both scorings."),
    LabelRule("creatinine_increased", "Creatinine increase", 0.33, False,
              "creatinine > 3 x the patient's own baseline (CTCAE grade 3)",
              (("above_baseline", 3.0),),
              "Azotemia was expected on HD IL-2: in the NCI's renal series 90 % of patients had a creatinine rise, "
              "with mean peaks of 2.6 mg/dL in cycle 1 (+140 % over baseline) and 3.8 mg/dL in cycle 2 (Belldegrun, "
              "J Urol; Ann Intern Med 1987), so nearly every patient passed 1.5 x baseline while the label reports "
              "33 %: investigators recorded the severe rises. > 3 x baseline is the CTCAE grade-3 boundary, the "
              "level at which this mapping also reports kidney failure and capillary leak. Judged against the "
              "patient's own pre-treatment value (RCC patients after nephrectomy start near the ULN)."),
    LabelRule("acute_kidney_injury", "Kidney failure (acute)", None, False,
              "acute kidney injury grade >= 3",
              (("min_grade", 3.0),),
              "Acute renal failure was recorded as a serious event (label Table IV, ~1 % grade 4)."),
    LabelRule("capillary_leak_syndrome", None, None, False,
              "capillary leak syndrome grade >= 3",
              (("min_grade", 3.0),),
              "CLS was named as such when severe (pressors); milder leak was coded as its parts "
              "(hypotension, edema, weight gain)."),
    LabelRule("lymphocyte_count_decreased", None, None, False,
              "never (False)",
              (),
              "Not a Table III term: lymphopenia is the expected pharmacodynamic effect and was not reported."),
)

#: Label-reported mapping per term, in :data:`TERMS` order.
LABEL_MAPPING: dict[str, LabelRule] = {r.term: r for r in sorted(_LABEL_RULES, key=lambda r: TERMS.index(r.term))}

#: Label Table III any-grade incidence (fraction of n = 525) for the terms the label reports directly.
#: Proxies (fatigue ~ malaise 0.27, hypoxia ~ lung disorder 0.24) are in :data:`LABEL_MAPPING` only.
LABEL_TARGETS: dict[str, float] = {
    r.term: float(r.label_incidence) for r in LABEL_MAPPING.values() if r.label_incidence is not None and not r.proxy
}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _tol(threshold: float) -> float:
    return _REL_TOL * max(1.0, abs(threshold))


def _lt(x: np.ndarray, threshold: float) -> np.ndarray:
    return x < threshold - _tol(threshold)


def _ge(x: np.ndarray, threshold: float) -> np.ndarray:
    return x >= threshold - _tol(threshold)


def _gt(x: np.ndarray, threshold: float) -> np.ndarray:
    return x > threshold + _tol(threshold)


def _runs_h(mask: np.ndarray, dt: np.ndarray) -> float:
    """Length (h) of the longest unbroken run of True samples (sample-and-hold)."""
    if not mask.any():
        return 0.0
    run_id = np.cumsum(~mask)  # constant along each run of True samples
    return float(np.bincount(run_id[mask], weights=dt[mask]).max())


def _sustained(mask: np.ndarray, dt: np.ndarray, hours: float) -> bool:
    return bool(mask.any()) and _runs_h(mask, dt) >= hours - _DUR_TOL_H


def _worst_window_count(t: np.ndarray, dt: np.ndarray, rate_per_day: np.ndarray, window_h: float) -> float:
    """Largest integral of ``rate_per_day / 24`` over any window of ``window_h`` hours."""
    rate = np.where(np.isfinite(rate_per_day), np.maximum(rate_per_day, 0.0), 0.0)
    cum = np.concatenate(([0.0], np.cumsum(rate / 24.0 * dt)))[:-1]
    # ``cum[k]`` is the integral from t[0] to t[k]; piecewise linear in time because the rate is held.
    ends = t + window_h
    from_starts = np.interp(ends, t, cum) - cum
    starts = t - window_h
    from_ends = cum - np.interp(starts, t, cum)
    return float(max(from_starts.max(), from_ends.max()))


class _GradedCourse:
    """A validated view of one time course and its baselines."""

    def __init__(self, timecourse: pd.DataFrame, baseline_weight_kg: float, baseline_creatinine_mg_dl: float,
                 creatinine_uln_mg_dl: float, columns: Iterable[str]) -> None:
        if not isinstance(timecourse, pd.DataFrame):
            raise UserError("timecourse", type(timecourse).__name__, "a pandas DataFrame")
        needed = ["time_h", *dict.fromkeys(columns)]
        missing = [c for c in needed if c not in timecourse.columns]
        if missing:
            raise UserError("timecourse columns", sorted(missing), "every column the requested terms read "
                            f"(missing: {', '.join(missing)})")
        for name, value in (("baseline_weight_kg", baseline_weight_kg),
                            ("baseline_creatinine_mg_dl", baseline_creatinine_mg_dl),
                            ("creatinine_uln_mg_dl", creatinine_uln_mg_dl)):
            if not (isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value) and value > 0):
                raise UserError(name, value, "a finite number > 0")
        t = timecourse["time_h"].to_numpy(dtype=float)
        if len(t) == 0:
            raise UserError("timecourse", "0 rows", "at least one sample")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise UserError("timecourse.time_h", "non-increasing or non-finite times", "strictly increasing times")
        self.t = t
        self.dt = np.append(np.diff(t), 0.0)
        self.df = timecourse
        self.w0 = float(baseline_weight_kg)
        self.cr0 = float(baseline_creatinine_mg_dl)
        self.uln = float(creatinine_uln_mg_dl)

    def col(self, name: str) -> np.ndarray:
        return self.df[name].to_numpy(dtype=float)

    def nanmax(self, name: str) -> float:
        x = self.col(name)
        return float(np.nanmax(x)) if np.isfinite(x).any() else -math.inf

    def nanmin(self, name: str) -> float:
        x = self.col(name)
        return float(np.nanmin(x)) if np.isfinite(x).any() else math.inf

    def on(self, name: str) -> np.ndarray:
        """True where a care control is in force (> 0)."""
        return np.nan_to_num(self.col(name), nan=0.0) > 0.0

    def weight_gain_pct(self) -> np.ndarray:
        return (self.col("weight_kg") / self.w0 - 1.0) * 100.0


def _score_grade(max_score: float, top: int) -> int:
    if not math.isfinite(max_score) or max_score <= 0:
        return 0
    return int(min(top, max(0, math.floor(max_score + _SCORE_TOL))))


def _first(levels: Iterable[tuple[int, bool]]) -> int:
    """Highest grade whose condition holds (0 if none)."""
    return max((g for g, ok in levels if ok), default=0)


# ---------------------------------------------------------------------------
# grading, one function per term
# ---------------------------------------------------------------------------


def _g_hypotension(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["hypotension"]
    sbp, mp = c.col("sbp_mmhg"), c.col("map_mmhg")
    hypo = _lt(sbp, k.param("sbp_below_mmhg")) | _lt(mp, k.param("map_below_mmhg"))
    bolus = c.on("fluid_bolus_ml_h")
    pressor = np.nan_to_num(c.col("pressor_ug_kg_min"), nan=0.0)
    bolus_for_hypo = False
    if bolus.any() and hypo.any():
        th = c.t[hypo]
        window = k.param("bolus_window_h") + _DUR_TOL_H
        for tb in c.t[bolus]:
            j = np.searchsorted(th, tb, side="right")  # hypotensive samples at or before tb
            if j > 0 and tb - th[j - 1] <= window:
                bolus_for_hypo = True
                break
    shock = _sustained(_lt(mp, k.param("map_grade4_below_mmhg")), c.dt, k.param("map_grade4_min_duration_h"))
    return _first(((1, bool(hypo.any())), (2, bolus_for_hypo), (3, bool((pressor > 0).any())),
                   (4, bool(_gt(pressor, k.param("pressor_grade4_above_ug_kg_min")).any()) or shock)))


def _g_fever(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["fever"]
    temp = c.col("temperature_c")
    above40 = _gt(temp, k.param("grade3_above_c"))
    # strictly longer than 24 h
    long = bool(above40.any()) and _runs_h(above40, c.dt) > k.param("grade4_longer_than_h") + _DUR_TOL_H
    return _first(((1, bool(_ge(temp, k.param("grade1_from_c")).any())),
                   (2, bool(_gt(temp, k.param("grade2_above_c")).any())), (3, bool(above40.any())), (4, long)))


def _g_chills(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["chills"]
    score = c.col("chills_score")
    g = _score_grade(c.nanmax("chills_score"), 3)
    if (c.on("meperidine") & _ge(score, k.param("meperidine_min_score"))).any():
        g = max(g, 2)
    return g


def _score_term(name: str, top: int = 3) -> Callable[[_GradedCourse, dict[str, int]], int]:
    def grade(c: _GradedCourse, _: dict[str, int]) -> int:
        return _score_grade(c.nanmax(name), top)

    return grade


def _g_vomiting(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["vomiting"]
    n = _worst_window_count(c.t, c.dt, c.col("vomiting_per_day"), k.param("window_h"))
    episodes = math.floor(n + _SCORE_TOL)
    return _first(((1, episodes >= k.param("grade1_episodes")), (2, episodes >= k.param("grade2_episodes")),
                   (3, episodes >= k.param("grade3_episodes"))))


def _excess_stools(c: _GradedCourse) -> float:
    return _worst_window_count(c.t, c.dt, c.col("stools_per_day_above_baseline"),
                               CTCAE_CRITERIA["diarrhea"].param("window_h"))


def _g_diarrhea(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["diarrhea"]
    n = np.array([_excess_stools(c)])
    return _first(((1, bool(_gt(n, k.param("grade1_above_stools"))[0])),
                   (2, bool(_ge(n, k.param("grade2_stools"))[0])), (3, bool(_ge(n, k.param("grade3_stools"))[0]))))


def _g_rash(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["rash"]
    x = c.col("rash_bsa_pct")
    return _first(((1, bool(_ge(x, k.param("grade1_from_pct")).any())),
                   (2, bool(_ge(x, k.param("grade2_from_pct")).any())),
                   (3, bool(_gt(x, k.param("grade3_above_pct")).any()))))


def _g_hypoxia(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["hypoxia"]
    s = c.col("spo2_pct")
    o2 = np.nan_to_num(c.col("oxygen_l_min"), nan=0.0)
    return _first(((2, bool(_lt(s, k.param("grade2_spo2_below_pct")).any() or (o2 > 0).any())),
                   (3, bool(_lt(s, k.param("grade3_spo2_below_pct")).any()
                            or _gt(o2, k.param("grade3_oxygen_above_l_min")).any())),
                   (4, bool(_lt(s, k.param("grade4_spo2_below_pct")).any()
                            or _gt(o2, k.param("grade4_oxygen_above_l_min")).any()))))


def _g_edema(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["edema"]
    x = c.col("edema_pct")
    return _first(((1, bool(_ge(x, k.param("grade1_from_pct")).any())),
                   (2, bool(_gt(x, k.param("grade2_above_pct")).any())),
                   (3, bool(_gt(x, k.param("grade3_above_pct")).any()))))


def _g_weight_gain(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["weight_gain"]
    x = c.weight_gain_pct()
    return _first(((1, bool(_ge(x, k.param("grade1_from_pct")).any())),
                   (2, bool(_ge(x, k.param("grade2_from_pct")).any())),
                   (3, bool(_ge(x, k.param("grade3_from_pct")).any()))))


def _g_oliguria(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["oliguria"]
    u = c.col("urine_ml_per_h")
    low = _lt(u, k.param("grade1_below_ml_kg_h") * c.w0)
    very_low = _lt(u, k.param("grade3_below_ml_h"))
    return _first(((1, _sustained(low, c.dt, k.param("grade1_min_duration_h"))),
                   (3, _sustained(very_low, c.dt, k.param("grade3_min_duration_h")))))


def _g_creatinine(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["creatinine_increased"]
    cr = np.array([c.nanmax("creatinine_mg_dl")])
    x_uln, x_base = cr / c.uln, cr / c.cr0
    uln_grade = _first((g, bool(_gt(x_uln, k.param(f"grade{g}_above_uln"))[0])) for g in (1, 2, 3, 4))
    base_grade = _first((g, bool(_gt(x_base, k.param(f"grade{g}_above_baseline"))[0])) for g in (2, 3))
    return max(uln_grade, base_grade)


def _g_aki(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["acute_kidney_injury"]
    cr, u = c.col("creatinine_mg_dl"), c.col("urine_ml_per_h")
    g3 = (_sustained(_ge(cr, k.param("grade3_creatinine_x_baseline") * c.cr0), c.dt,
                     k.param("grade3_creatinine_min_duration_h"))
          or _sustained(_lt(u, k.param("grade3_urine_below_ml_kg_h") * c.w0), c.dt,
                        k.param("grade3_urine_min_duration_h")))
    g4 = (_sustained(_ge(cr, k.param("grade4_creatinine_from_mg_dl")) & _lt(u, k.param("grade4_urine_below_ml_h")),
                     c.dt, k.param("grade4_min_duration_h"))
          or _sustained(_lt(u, k.param("grade4_anuria_below_ml_h")), c.dt, k.param("grade4_anuria_min_duration_h")))
    return _first(((3, g3), (4, g4)))


def _g_cls(c: _GradedCourse, done: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["capillary_leak_syndrome"]
    hyp = done["hypotension"] if "hypotension" in done else _g_hypotension(c, done)
    hox = done["hypoxia"] if "hypoxia" in done else _g_hypoxia(c, done)
    gain = c.weight_gain_pct()
    leak = bool(_gt(c.col("edema_pct"), k.param("grade1_edema_above_pct")).any()
                or _gt(gain, k.param("grade1_weight_above_pct")).any())
    return _first(((1, leak), (2, hyp >= 2 or bool(_ge(gain, k.param("grade2_weight_from_pct")).any())),
                   (3, hyp >= 3), (4, hyp >= 4 or hox >= 4)))


def _g_lymphocytes(c: _GradedCourse, _: dict[str, int]) -> int:
    k = CTCAE_CRITERIA["lymphocyte_count_decreased"]
    x = np.array([c.nanmin("lymphocytes_per_ul")])
    return _first(((1, bool(_lt(x, k.param("lln_per_ul"))[0])), (2, bool(_lt(x, k.param("grade2_below_per_ul"))[0])),
                   (3, bool(_lt(x, k.param("grade3_below_per_ul"))[0])),
                   (4, bool(_lt(x, k.param("grade4_below_per_ul"))[0]))))


_GRADERS: dict[str, Callable[[_GradedCourse, dict[str, int]], int]] = {
    "hypotension": _g_hypotension,
    "fever": _g_fever,
    "chills": _g_chills,
    "fatigue": _score_term("fatigue_score"),
    "nausea": _score_term("nausea_score"),
    "vomiting": _g_vomiting,
    "diarrhea": _g_diarrhea,
    "rash": _g_rash,
    "confusion": _score_term("confusion_score", top=4),
    "dyspnea": _score_term("dyspnea_score"),
    "hypoxia": _g_hypoxia,
    "edema": _g_edema,
    "weight_gain": _g_weight_gain,
    "oliguria": _g_oliguria,
    "creatinine_increased": _g_creatinine,
    "acute_kidney_injury": _g_aki,
    "capillary_leak_syndrome": _g_cls,
    "lymphocyte_count_decreased": _g_lymphocytes,
}


def _terms(terms: Iterable[str] | None) -> tuple[str, ...]:
    if terms is None:
        return TERMS
    chosen = tuple(terms)
    unknown = [t for t in chosen if t not in TERMS]
    if unknown:
        raise UserError("terms", unknown, f"canonical term ids ({', '.join(TERMS)})")
    return tuple(t for t in TERMS if t in chosen)


def worst_grades(timecourse: pd.DataFrame, *, baseline_weight_kg: float, baseline_creatinine_mg_dl: float,
                 creatinine_uln_mg_dl: float = 1.2, terms: Iterable[str] | None = None) -> dict[str, int]:
    r"""Worst CTCAE v5 grade of each term over one simulated time course.

    Parameters
    ----------
    timecourse
        One patient's time course: ``time_h`` (strictly increasing) and the
        columns that the requested terms read (``CTCAE_CRITERIA[t].signals``).
    baseline_weight_kg
        Pre-treatment weight, kg (weight gain, urine per kg).
    baseline_creatinine_mg_dl
        Pre-treatment serum creatinine, mg/dL.
    creatinine_uln_mg_dl
        Upper limit of normal of serum creatinine, mg/dL.
    terms
        Terms to score (default: all of :data:`TERMS`); only their columns are
        required.

    Returns
    -------
    dict
        Term id -> worst grade 0-4 (0 = none), in :data:`TERMS` order.

    Raises
    ------
    UserError
        (a ``ValueError``) for a missing column, non-increasing times, an
        unknown term, or a baseline that is not a finite positive number.

    Notes
    -----
    The rules are the rows of :data:`CTCAE_CRITERIA`; see
    ``docs/adverse-events.md``. Missing values (NaN) never meet a criterion.

    References
    ----------
    NCI CTCAE v5.0 (2017); Dutcher et al., J Immunother Cancer 2014;2:26,
    https://doi.org/10.1186/s40425-014-0026-0.

    Examples
    --------
    >>> grades = worst_grades(tc, baseline_weight_kg=70.0, baseline_creatinine_mg_dl=1.0)  # doctest: +SKIP
    >>> grades["hypotension"]  # doctest: +SKIP
    3
    """
    chosen = _terms(terms)
    cols = [s for t in chosen for s in CTCAE_CRITERIA[t].signals]
    c = _GradedCourse(timecourse, baseline_weight_kg, baseline_creatinine_mg_dl, creatinine_uln_mg_dl, cols)
    out: dict[str, int] = {}
    for term in chosen:
        out[term] = int(_GRADERS[term](c, out))
    return out


def label_reported(timecourse: pd.DataFrame, grades: Mapping[str, int] | None = None, *, baseline_weight_kg: float,
                   baseline_creatinine_mg_dl: float, creatinine_uln_mg_dl: float = 1.2,
                   terms: Iterable[str] | None = None) -> dict[str, bool]:
    r"""Whether each term would have been reported as a label adverse reaction.

    The mapping (:data:`LABEL_MAPPING`) imitates investigator reporting in the
    pivotal trials behind the Proleukin label's Table III (COSTART terms,
    n = 525), so that the fraction of simulated patients with ``True`` is
    comparable with :data:`LABEL_TARGETS`.

    Parameters
    ----------
    timecourse
        As for :func:`worst_grades`.
    grades
        The output of :func:`worst_grades` for the same time course and
        baselines; computed here when ``None``.
    baseline_weight_kg, baseline_creatinine_mg_dl, creatinine_uln_mg_dl
        As for :func:`worst_grades`.
    terms
        Terms to score (default: the keys of ``grades``, or all of :data:`TERMS`).

    Returns
    -------
    dict
        Term id -> reported (bool), in :data:`TERMS` order.

    Raises
    ------
    UserError
        As for :func:`worst_grades`, or when ``grades`` lacks a term that a
        requested term's rule needs.

    References
    ----------
    Proleukin (aldesleukin) US prescribing information, older format, Table III.
    """
    if terms is None and grades is not None:
        terms = [t for t in TERMS if t in grades]
    chosen = _terms(terms)
    baselines = dict(baseline_weight_kg=baseline_weight_kg, baseline_creatinine_mg_dl=baseline_creatinine_mg_dl,
                     creatinine_uln_mg_dl=creatinine_uln_mg_dl)
    if grades is None:
        grades = worst_grades(timecourse, terms=chosen, **baselines)
    missing = [t for t in chosen if t not in grades]
    if missing:
        raise UserError("grades", sorted(grades), f"a grade for every requested term (missing: {', '.join(missing)})")
    cols = [s for t in chosen for s in CTCAE_CRITERIA[t].signals]
    c = _GradedCourse(timecourse, baseline_weight_kg, baseline_creatinine_mg_dl, creatinine_uln_mg_dl, cols)
    m = LABEL_MAPPING
    out: dict[str, bool] = {}
    for term in chosen:
        r = m[term]
        g = int(grades[term])
        if term == "hypotension":
            ok = g >= r.param("min_grade") or bool(_lt(c.col("sbp_mmhg"), r.param("sbp_below_mmhg")).any())
        elif term == "fever":
            ok = bool(_ge(c.col("temperature_c"), r.param("temperature_from_c")).any())
        elif term == "chills":
            s = c.col("chills_score")
            ok = bool((c.on("meperidine") & _ge(s, r.param("score_with_meperidine"))).any()
                      or _ge(s, r.param("score_from")).any())
        elif term == "nausea":
            ok = g >= r.param("min_grade") or _sustained(_ge(c.col("nausea_score"), r.param("score_from")), c.dt,
                                                         r.param("min_duration_h"))
        elif term == "diarrhea":
            rate = c.col("stools_per_day_above_baseline")
            ok = (bool(_ge(np.array([_excess_stools(c)]), r.param("stools_from"))[0])
                  or _sustained(_gt(rate, r.param("rate_above")), c.dt, r.param("min_duration_h")))
        elif term == "rash":
            ok = bool(_ge(c.col("rash_bsa_pct"), r.param("bsa_from_pct")).any())
        elif term == "dyspnea":
            ok = _sustained(_ge(c.col("dyspnea_score"), r.param("score_from")), c.dt, r.param("min_duration_h"))
        elif term == "hypoxia":
            ok = bool(_lt(c.col("spo2_pct"), r.param("spo2_below_pct")).any()
                      or _gt(np.nan_to_num(c.col("oxygen_l_min"), nan=0.0), r.param("oxygen_above_l_min")).any())
        elif term == "edema":
            ok = bool(_ge(c.col("edema_pct"), r.param("edema_from_pct")).any())
        elif term == "weight_gain":
            ok = bool(_ge(c.weight_gain_pct(), r.param("gain_from_pct")).any())
        elif term == "creatinine_increased":
            ok = bool(_gt(c.col("creatinine_mg_dl") / c.cr0, r.param("above_baseline")).any())
        elif term == "lymphocyte_count_decreased":
            ok = False
        else:  # grade-threshold rules: fatigue, vomiting, confusion, oliguria, AKI, CLS
            ok = g >= r.param("min_grade")
        out[term] = bool(ok)
    return out
