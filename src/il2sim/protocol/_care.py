"""Supportive care during high-dose IL-2: fluids, pressors, oxygen and symptomatic medicines.

:class:`SupportiveCare` is the bedside team's standing orders as a pure
function of the observation: it returns the piecewise-constant controls to
set and the timed infusions (fluid boluses) to start. It keeps no state of
its own; what it did earlier (the pressor rate, the oxygen flow, which
medicines are running) is read from the controls in force, and the fluid
boluses given earlier in the admission are reconstructed from the history by
replaying the same bolus order (so the 3-per-24-h limit holds without any
memory in the object).

Care follows the drug, and the patient. The drug acts from the start of each
dose to the end of its infusion (a 15-min infusion, a 5-day continuous
infusion or an SC injection: its end is its start), or to the moment a rule
interrupted it. The *treatment window* runs from the first dose of a cycle to
24 h after the drug last acted (doses held, and the decision that stopped a
cycle, count like doses); inside it every standing order applies. Then comes
the *observation period*: maintenance fluid, premedication and symptomatic
medicines are off, hypotension and hypoxia are still treated (the same
bolus, phenylephrine and oxygen orders) and support is weaned when the
patient is stable. The patient is discharged at the first check from 48 h
after the drug last acted at which they have *recovered*: off phenylephrine
and oxygen, SBP >= 90 mmHg and MAP >= 65 mmHg. Until then the team keeps
checking (:meth:`SupportiveCare.phase` says ``"observation"`` and the
clinical protocol asks for a recheck every vitals interval), for at most
:attr:`SupportiveCare.max_observation_h` after the drug last acted (an
il2sim assumption: a patient not recovered a week after the last dose is
outside what the model was built for, and its domain flags say so).

Orders and their sources
------------------------
* Maintenance crystalloid 25 mL/h (keep-vein-open plus drug diluent): the
  consensus favours early vasopressors over liberal fluids to limit weight
  gain and pulmonary oedema (Dutcher 2014, recalled; the rate is an
  il2sim assumption).
* Premedication: scheduled acetaminophen and an NSAID (indomethacin) from the
  first dose of a cycle to 24 h after its last dose, to blunt fever and
  chills (Dutcher 2014 consensus; Proleukin clinical practice guide; recalled).
  The NSAID lowers renal perfusion in the model, as it does in patients.
* Antiemetic from the first nausea (score >= 1) or vomiting (>= 1 episode a
  day), then scheduled to the end of the window; antidiarrhoeal (loperamide
  type) from 3 or more stools a day above baseline or 30 mL/h of diarrhoea,
  then scheduled to the end of the window; meperidine while rigors are
  moderate or worse (chills score >= 2). Dutcher 2014 consensus and the
  2024 toxicity-management guideline (PMC11005706), recalled.
* Hypotension (SBP < 90 mmHg or MAP < 65 mmHg): a 500 mL crystalloid bolus
  over 30 min, at most 3 in any 24 h and none once weight gain exceeds 10 %
  (fluid is restricted because of capillary leak; recalled). Oliguria below
  the 2024 guideline's urine target of 0.5 mL/kg/h (baseline weight) gets the
  same bolus under the same limits (PMC11005706 Table 2 [R: S19]).
* Phenylephrine when SBP < 90 mmHg persists at the next check despite a bolus
  (or at once when no bolus may be given): start at 0.5 ug/kg/min, add
  0.25 at every check while SBP < 90 mmHg up to 2.0 ug/kg/min (the pivotal
  trials' "maximum support, including pressors" [R: S9, S10]; the consensus
  rule set holds and stops on this requirement [R: S17]); wean by 0.25 at
  every check with SBP > 100 mmHg; off at 0.
* Oxygen by nasal cannula or mask, 0-10 L/min in 1-L/min steps, to keep SpO2
  >= 95 % (the consensus target [R: S17]); weaned by 1 L/min when SpO2 >= 97 %.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._policy import Observation, settled_doses, sorted_spans
from ._rules import OXYGEN, PHENYLEPHRINE_MAX_UG_KG_MIN, PRESSOR, weight_gain_fraction

__all__ = ["CONTROLS", "PHASES", "CareOrders", "Exposure", "SupportiveCare"]

_EPS = 1e-6

#: The piecewise-constant controls set by supportive care (``fluid_bolus_ml_h``
#: is only used through timed infusions).
CONTROLS = (
    "fluid_maintenance_ml_h",
    PRESSOR,
    OXYGEN,
    "acetaminophen",
    "nsaid",
    "antiemetic",
    "antidiarrheal",
    "meperidine",
)
BOLUS = "fluid_bolus_ml_h"

#: The treatment window lasts this long after the drug last acted, h.
WINDOW_AFTER_LAST_DOSE_H = 24.0
#: Discharge is possible from this long after the drug last acted, h.
DISCHARGE_AFTER_LAST_DOSE_H = 48.0

#: The phases of an admission (:meth:`SupportiveCare.phase`).
PHASES = ("none", "treatment", "observation", "discharged")


class Exposure:
    """When the drug acted: each dose's start and the end of its drug input, up to now.

    Built from an observation: doses given (to the end of the infusion, its
    interruption, or now if it still runs), doses held, the doses due now,
    and for a stopped cycle the time of its first stopped dose (the stop
    decision). Later stopped doses do not count: the patient is discharged
    after a stop. :meth:`since` is the time since the drug last acted.

    With a :class:`~il2sim.protocol.History` the spans of the dosing record's
    settled prefix (every record up to the first one still running or not
    yet due) are kept in its ``cache`` and extended at the next decision: a
    settled record's span no longer changes (only a running infusion can be
    interrupted), so the result is the same as without the cache.
    """

    __slots__ = ("_ends", "_starts")

    def __init__(self, observation: Observation) -> None:
        self._starts: list[float]
        self._ends: list[float]
        now = observation.time_h
        doses = observation.doses
        settled = settled_doses(observation)
        tail = [rec for rec in doses[settled.k:] if rec.administration.time_h <= now + _EPS]
        if not tail and not observation.due:
            self._starts, self._ends = settled.sorted_spans()
            return
        spans = list(settled.spans)
        first_stop = dict(settled.first_stop)
        for rec in tail:
            a = rec.administration
            if rec.stopped and not rec.given:
                key = (a.course, a.cycle)
                first_stop[key] = min(first_stop.get(key, a.time_h), a.time_h)
            elif rec.given:
                spans.append((a.time_h, min(rec.exposure_end_h, now)))
            else:
                spans.append((a.time_h, a.time_h))
        spans.extend((a.time_h, a.time_h) for a in observation.due)
        self._starts, self._ends = sorted_spans(spans, first_stop)

    def since(self, time_h: float) -> float | None:
        """Hours from when the drug last acted (before ``time_h``) to ``time_h``; 0 while it acts; None before any dose."""
        i = bisect.bisect_right(self._starts, time_h + _EPS)
        return None if i == 0 else max(0.0, time_h - self._ends[i - 1])


@dataclass(frozen=True)
class SupportiveCare:
    """Standing orders for supportive care during high-dose IL-2.

    Parameters
    ----------
    maintenance_ml_h
        Maintenance crystalloid in the inpatient window, mL/h (keep-vein-open
        rate; an il2sim assumption).
    bolus_ml, bolus_hours
        A fluid bolus: 500 mL over 0.5 h.
    max_boluses_per_24h
        Most boluses in any 24 h.
    bolus_max_weight_gain
        No bolus once weight gain exceeds this fraction of baseline weight.
    sbp_floor_mmhg, map_floor_mmhg
        Hypotension: SBP below 90 mmHg or MAP below 65 mmHg.
    urine_target_ml_kg_h
        Urine target (2024 guideline, PMC11005706): below it a bolus is given.
    bolus_for_oliguria
        Whether oliguria below the target triggers a bolus.
    pressor_start, pressor_step, pressor_max
        Phenylephrine start rate, titration step and ceiling, ug/kg/min.
    pressor_wean_sbp_mmhg
        Phenylephrine is weaned by one step when SBP is above this.
    spo2_target_pct, spo2_wean_pct, oxygen_step_l_min, oxygen_max_l_min
        Oxygen titration: up a step below the target, down a step at or above
        the weaning threshold, 0 to the maximum flow.
    max_observation_h
        The observation period ends, recovered or not, this long after the
        drug last acted, h (an il2sim assumption, 7 days).

    Examples
    --------
    >>> care = SupportiveCare()
    >>> care.maintenance_ml_h
    25.0
    """

    maintenance_ml_h: float = 25.0
    bolus_ml: float = 500.0
    bolus_hours: float = 0.5
    max_boluses_per_24h: int = 3
    bolus_max_weight_gain: float = 0.10
    sbp_floor_mmhg: float = 90.0
    map_floor_mmhg: float = 65.0
    urine_target_ml_kg_h: float = 0.5
    bolus_for_oliguria: bool = True
    pressor_start: float = 0.5
    pressor_step: float = 0.25
    pressor_max: float = PHENYLEPHRINE_MAX_UG_KG_MIN
    pressor_wean_sbp_mmhg: float = 100.0
    spo2_target_pct: float = 95.0
    spo2_wean_pct: float = 97.0
    oxygen_step_l_min: float = 1.0
    oxygen_max_l_min: float = 10.0
    max_observation_h: float = 168.0

    # -- conditions -------------------------------------------------------

    def hypotensive(self, values: Mapping[str, float]) -> bool:
        """SBP below 90 mmHg or MAP below 65 mmHg."""
        return float(values["sbp_mmhg"]) < self.sbp_floor_mmhg or float(values["map_mmhg"]) < self.map_floor_mmhg

    def oliguric(self, values: Mapping[str, float]) -> bool:
        """Urine output below the target (0.5 mL/kg/h of baseline weight)."""
        return float(values["urine_ml_per_h"]) < self.urine_target_ml_kg_h * float(values["baseline_weight_kg"])

    def _wants_bolus(self, values: Mapping[str, float]) -> bool:
        return self.hypotensive(values) or (self.bolus_for_oliguria and self.oliguric(values))

    def _bolus_allowed(self, values: Mapping[str, float], time_h: float, boluses: Sequence[float]) -> bool:
        recent = sum(1 for b in boluses if time_h - b < 24.0 - _EPS)
        return recent < self.max_boluses_per_24h and weight_gain_fraction(values) <= self.bolus_max_weight_gain

    def recovered(self, values: Mapping[str, float], pressor: float, oxygen: float) -> bool:
        """Fit for discharge: no phenylephrine, no oxygen, SBP >= 90 mmHg and MAP >= 65 mmHg."""
        return pressor <= _EPS and oxygen <= _EPS and not self.hypotensive(values)

    def _bolus_indicated(self, values: Mapping[str, float], since: float | None) -> bool:
        """The bolus order's trigger in each phase: hypotension or oliguria in treatment, hypotension after."""
        if since is None or since > self.max_observation_h + _EPS:
            return False
        if since <= WINDOW_AFTER_LAST_DOSE_H + _EPS:
            return self._wants_bolus(values)
        return self.hypotensive(values)

    def bolus_times(self, observation: Observation, exposure: Exposure | None = None) -> list[float]:
        """Times of the boluses given at earlier checks of the current admission.

        Replays the bolus order over the history records since the admission
        began (the same order gives the same answers, so nothing has to be
        remembered between decisions). With a :class:`~il2sim.protocol.History`
        the replay is memoised in its ``cache`` and extended by the new records
        only: a record's admission and bolus answers depend only on the dosing
        record up to its own time, so they do not change later.
        """
        exposure = Exposure(observation) if exposure is None else exposure
        hist = observation.history
        now = observation.time_h
        if hist and hist[-1][0] >= now - _EPS:
            return []  # a record at this very time: the admission walk-back stops at once (as the replay does)
        cache = getattr(hist, "cache", None)
        if cache is None:
            return self._replay_boluses(hist, now, exposure)
        key = ("bolus_times", self)
        state = cache.get(key)
        if state is None or state[0] > len(hist):
            state = cache[key] = [0, []]
        done, given = state
        for k in range(done, len(hist)):
            t, v = hist[k]
            if not self._admitted(exposure, t):  # a new admission starts after this record
                given = []
            elif self._bolus_indicated(v, exposure.since(t)) and self._bolus_allowed(v, t, given):
                given.append(t)
        state[0], state[1] = len(hist), given
        return list(given)

    def _admitted(self, exposure: Exposure, t: float) -> bool:
        """Within the admission at ``t``: the drug acted no longer than the observation period before."""
        since = exposure.since(t)
        return since is not None and since <= self.max_observation_h + _EPS

    def _replay_boluses(self, hist: Sequence[tuple[float, Mapping[str, float]]], now: float,
                        exposure: Exposure) -> list[float]:
        i = len(hist)
        while i > 0 and hist[i - 1][0] < now - _EPS and self._admitted(exposure, hist[i - 1][0]):
            i -= 1
        given: list[float] = []
        for t, v in hist[i:]:
            if t >= now - _EPS:
                break
            if self._bolus_indicated(v, exposure.since(t)) and self._bolus_allowed(v, t, given):
                given.append(t)
        return given

    # -- the decision -----------------------------------------------------

    def decide(self, observation: Observation) -> tuple[dict[str, float], list[tuple[str, float, float]]]:
        """Controls to set and infusions to start at ``observation.time_h``.

        Parameters
        ----------
        observation
            Signals, controls in force, dosing record and history.

        Returns
        -------
        controls : dict
            Every control in :data:`CONTROLS`, set explicitly.
        infusions : list of (control, rate, hours)
            Fluid boluses to start now.
        """
        orders = self.orders(observation)
        return orders.controls, orders.infusions

    def phase(self, observation: Observation) -> str:
        """Where the patient is at ``observation.time_h``: one of :data:`PHASES`.

        ``"treatment"``: the treatment window; ``"observation"``: after it,
        not yet recovered (or not yet 48 h after the drug last acted);
        ``"discharged"``: recovered from 48 h on, or past
        ``max_observation_h``; ``"none"``: before the first dose.
        """
        return self.orders(observation).phase

    def orders(self, observation: Observation) -> CareOrders:
        """The standing orders at ``observation.time_h``: controls, fluid boluses and the phase."""
        v = observation.values
        t = observation.time_h
        exposure = Exposure(observation)
        since = exposure.since(t)
        pressor = float(observation.controls.get(PRESSOR, 0.0))
        oxygen = float(observation.controls.get(OXYGEN, 0.0))
        controls = {name: 0.0 for name in CONTROLS}
        infusions: list[tuple[str, float, float]] = []

        if since is None:
            return CareOrders(controls, infusions, "none")
        if since > self.max_observation_h + _EPS:
            return CareOrders(controls, infusions, "discharged")
        treatment = since <= WINDOW_AFTER_LAST_DOSE_H + _EPS

        if treatment:
            controls["fluid_maintenance_ml_h"] = self.maintenance_ml_h
            controls["acetaminophen"] = 1.0
            controls["nsaid"] = 1.0
            nausea = float(v["nausea_score"]) >= 1.0 or float(v["vomiting_per_day"]) >= 1.0
            controls["antiemetic"] = 1.0 if nausea or observation.controls.get("antiemetic", 0.0) > 0 else 0.0
            diarrhea = float(v["stools_per_day_above_baseline"]) >= 3.0 or float(v["diarrhea_ml_per_h"]) >= 30.0
            controls["antidiarrheal"] = 1.0 if diarrhea or observation.controls.get("antidiarrheal", 0.0) > 0 else 0.0
            controls["meperidine"] = 1.0 if float(v["chills_score"]) >= 2.0 else 0.0

        # Fluid bolus, phenylephrine and oxygen: in treatment and in observation.
        pressor, oxygen, infusions = self._haemodynamic_orders(observation, exposure, since, pressor, oxygen)
        controls[PRESSOR] = pressor
        controls[OXYGEN] = oxygen
        if treatment:
            return CareOrders(controls, infusions, "treatment")
        if since >= DISCHARGE_AFTER_LAST_DOSE_H - _EPS and not infusions and self.recovered(v, pressor, oxygen):
            return CareOrders({name: 0.0 for name in CONTROLS}, [], "discharged")
        return CareOrders(controls, infusions, "observation")

    def _haemodynamic_orders(self, observation: Observation, exposure: Exposure, since: float,
                             pressor: float, oxygen: float) -> tuple[float, float, list[tuple[str, float, float]]]:
        v = observation.values
        t = observation.time_h
        sbp = float(v["sbp_mmhg"])
        spo2 = float(v["spo2_pct"])
        infusions: list[tuple[str, float, float]] = []
        earlier = self.bolus_times(observation, exposure)
        allowed = self._bolus_allowed(v, t, earlier)
        if self._bolus_indicated(v, since) and allowed:
            infusions.append((BOLUS, self.bolus_ml / self.bolus_hours, self.bolus_hours))
        if pressor > _EPS:
            if sbp < self.sbp_floor_mmhg:
                pressor = min(pressor + self.pressor_step, self.pressor_max)
            elif sbp > self.pressor_wean_sbp_mmhg:
                pressor = max(pressor - self.pressor_step, 0.0)
        elif sbp < self.sbp_floor_mmhg:
            prev_t = _previous_time(observation)
            bolus_before = prev_t is not None and earlier and abs(earlier[-1] - prev_t) < _EPS
            if bolus_before or not allowed:
                pressor = self.pressor_start
        if spo2 < self.spo2_target_pct:
            oxygen = min(oxygen + self.oxygen_step_l_min, self.oxygen_max_l_min)
        elif spo2 >= self.spo2_wean_pct:
            oxygen = max(oxygen - self.oxygen_step_l_min, 0.0)
        return _snap(pressor), _snap(oxygen), infusions


@dataclass(frozen=True)
class CareOrders:
    """What :meth:`SupportiveCare.orders` returns: every control, the boluses to start, the phase."""

    controls: dict[str, float]
    infusions: list[tuple[str, float, float]]
    phase: str


def _previous_time(observation: Observation) -> float | None:
    for t, _ in reversed(observation.history):
        if t < observation.time_h - _EPS:
            return t
    return None


def _snap(x: float) -> float:
    """Round away float drift from repeated steps (0.25 ug/kg/min, 1 L/min)."""
    return round(x, 9) if abs(x) > 1e-9 else 0.0
