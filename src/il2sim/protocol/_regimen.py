r"""Dosing regimens: dose blocks, the expanded schedule, named regimens, scenario files.

Time is in hours. ``t = 0`` is 00:00 of treatment day 1 and day ``d`` starts at
``t = 24 (d - 1)`` h. A block gives its amount in one of the units of
:data:`il2sim.model.DOSE_UNITS`: IU or ug per kg of *baseline* (pre-treatment)
body weight, MIU per m2 of body surface area (Mosteller, from the baseline
weight and the height), or flat MIU. The molecule (:class:`il2sim.model.Molecule`)
turns it into an amount.

A regimen is a tuple of :class:`DoseBlock` s. Block ``b`` with ``count = n``,
``every_hours = h`` and ``start_day = s`` schedules administrations at

.. math:: t_k = 24 (s - 1) + k h, \qquad k = 0, \dots, n - 1.

Scenario files (TOML) describe the same blocks::

    name = "Title shown in reports"            # optional
    description = "Free text"                  # optional

    [[block]]
    amount_iu_per_kg = 600000                  # or amount_ug_per_kg, amount_miu_per_m2, amount_miu
    route = "iv"                               # "iv" or "sc"
    infusion_minutes = 15                      # iv only (0 = bolus); optional for sc
    every_hours = 8
    count = 14
    start_day = 1

Blocks are numbered from 1 in error messages (``scenario.toml: block[2].count``).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import UserError
from .._files import read_user_toml
from ..model import DOSE_UNITS

__all__ = [
    "Administration",
    "DoseBlock",
    "Regimen",
    "NAMED_REGIMENS",
    "load_scenario",
    "resolve_regimen",
]

ROUTES = ("iv", "sc")
MAX_AMOUNT_IU_PER_KG = 1e8
#: Largest amount of one administration per unit (about 6 mg/kg of aldesleukin at most).
MAX_AMOUNT: dict[str, float] = {"iu_per_kg": MAX_AMOUNT_IU_PER_KG, "ug_per_kg": 1e4, "miu_per_m2": 1e4, "miu": 1e4}
_AMOUNT_KEYS = tuple(f"amount_{u}" for u in DOSE_UNITS)
MAX_INFUSION_MINUTES = 20160.0
MAX_EVERY_HOURS = 2016.0
MAX_COUNT = 1000

_BLOCK_KEYS = (
    *_AMOUNT_KEYS,
    "route",
    "infusion_minutes",
    "every_hours",
    "count",
    "start_day",
)
_TOP_KEYS = ("name", "description", "block")

# Two times closer than this (hours, i.e. ~3.6 ns) are treated as identical.
_TIME_TOL_H = 1e-12


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Administration:
    """One scheduled administration (a bolus, an infusion or an SC injection).

    Parameters
    ----------
    time_h
        Start time, h since 00:00 of treatment day 1.
    amount
        Whole amount of the administration, in ``unit``.
    route
        ``"iv"`` or ``"sc"``.
    infusion_minutes
        Infusion duration in minutes; 0 for a bolus and always 0 for ``"sc"``.
    course
        Course number, from 1.
    cycle
        Cycle number within the course, from 1 (the index of the dose block,
        blocks ordered by their first administration).
    unit
        A key of :data:`il2sim.model.DOSE_UNITS` (``iu_per_kg`` by default).
    """

    time_h: float
    amount: float
    route: str
    infusion_minutes: float
    course: int
    cycle: int
    unit: str = "iu_per_kg"

    @property
    def amount_label(self) -> str:
        """The amount with its unit, for people (``600,000 IU/kg``, ``6 ug/kg``)."""
        return f"{self.amount:,.6g} {DOSE_UNITS[self.unit]}"

    @property
    def day(self) -> int:
        """Treatment day of the start time, from 1 (``floor(time_h / 24) + 1``)."""
        return math.floor(self.time_h / 24.0) + 1

    @property
    def end_h(self) -> float:
        """End time of the administration, h (``time_h`` for a bolus or SC dose)."""
        return self.time_h + self.infusion_minutes / 60.0


@dataclass(frozen=True, slots=True)
class DoseBlock:
    """A block of identical, evenly spaced administrations (one cycle).

    Parameters
    ----------
    amount
        Amount of one administration (for an infusion, the whole infusion),
        in ``unit``; ``0 < amount <= MAX_AMOUNT[unit]`` (1e8 IU/kg, 1e4 ug/kg,
        1e4 MIU/m2, 1e4 MIU).
    route
        ``"iv"`` or ``"sc"``.
    infusion_minutes
        Infusion duration, minutes; ``0 <= infusion_minutes <= 20160``, 0 is a
        bolus. Must be 0 for ``"sc"``.
    every_hours
        Interval between consecutive administrations, h;
        ``0 < every_hours <= 2016``.
    count
        Number of administrations, an integer in ``1..1000``.
    start_day
        Treatment day of the first administration, an integer ``>= 1``; the
        first administration is at 00:00 of that day, ``24 (start_day - 1)`` h.
    unit
        The amount's unit, a key of :data:`il2sim.model.DOSE_UNITS`
        (``iu_per_kg``, ``ug_per_kg``, ``miu_per_m2``, ``miu``); the scenario
        file's key is ``amount_<unit>``.

    Raises
    ------
    UserError
        If a field is of the wrong type or out of range; ``field`` is the name
        of the offending attribute.
    """

    amount: float
    route: str
    infusion_minutes: float
    every_hours: float
    count: int
    start_day: int
    unit: str = "iu_per_kg"

    def __post_init__(self) -> None:
        if not isinstance(self.unit, str) or self.unit not in DOSE_UNITS:
            raise UserError("unit", self.unit, "one of " + ", ".join(DOSE_UNITS))
        amount, key, top = self.amount, f"amount_{self.unit}", MAX_AMOUNT[self.unit]
        if not _is_real(amount) or not (0.0 < amount <= top):
            raise UserError(key, amount, f"a number with 0 < {key} <= {top:g}")
        if not isinstance(self.route, str) or self.route not in ROUTES:
            raise UserError("route", self.route, "one of 'iv', 'sc'")
        minutes = self.infusion_minutes
        if not _is_real(minutes) or not (0.0 <= minutes <= MAX_INFUSION_MINUTES):
            raise UserError(
                "infusion_minutes",
                minutes,
                "a number with 0 <= infusion_minutes <= 20160",
            )
        if self.route == "sc" and minutes != 0:
            raise UserError(
                "infusion_minutes",
                minutes,
                "0 or absent for route 'sc' (subcutaneous doses are not infused)",
            )
        every = self.every_hours
        if not _is_real(every) or not (0.0 < every <= MAX_EVERY_HOURS):
            raise UserError(
                "every_hours", every, "a number with 0 < every_hours <= 2016"
            )
        if not _is_int(self.count) or not (1 <= self.count <= MAX_COUNT):
            raise UserError("count", self.count, "an integer from 1 to 1000")
        if not _is_int(self.start_day) or self.start_day < 1:
            raise UserError("start_day", self.start_day, "an integer >= 1")
        object.__setattr__(self, "amount", float(amount))
        object.__setattr__(self, "infusion_minutes", float(minutes))
        object.__setattr__(self, "every_hours", float(every))
        object.__setattr__(self, "count", int(self.count))
        object.__setattr__(self, "start_day", int(self.start_day))

    @property
    def first_time_h(self) -> float:
        """Time of the first administration of the block, h."""
        return 24.0 * (self.start_day - 1)

    def times_h(self) -> tuple[float, ...]:
        """Start times of the block's administrations, h, in increasing order."""
        t0 = self.first_time_h
        return tuple(t0 + k * self.every_hours for k in range(self.count))

    @property
    def amount_key(self) -> str:
        """The scenario-file key of the amount (``amount_iu_per_kg``, ``amount_ug_per_kg``, ...)."""
        return f"amount_{self.unit}"

    @property
    def amount_label(self) -> str:
        """The amount with its unit, for people (``600,000 IU/kg``, ``6 ug/kg``)."""
        return f"{self.amount:,.6g} {DOSE_UNITS[self.unit]}"

    def to_dict(self) -> dict[str, Any]:
        """Return the block as a plain dict with the scenario-file keys."""
        return {
            self.amount_key: self.amount,
            "route": self.route,
            "infusion_minutes": self.infusion_minutes,
            "every_hours": self.every_hours,
            "count": self.count,
            "start_day": self.start_day,
        }


def _check_schedule(blocks: tuple[DoseBlock, ...], prefix: str) -> None:
    """Raise UserError on duplicate times or an infusion overlapping the next dose."""
    events = sorted(
        (t, i, b) for i, b in enumerate(blocks) for t in b.times_h()
    )
    for (t1, i1, b1), (t2, i2, _b2) in zip(events, events[1:], strict=False):
        if t2 - t1 <= _TIME_TOL_H:
            raise UserError(
                f"{prefix}block[{i2 + 1}].start_day",
                f"an administration at {t2:g} h",
                f"no two administrations at the same time (block[{i1 + 1}] "
                f"already has one at {t1:g} h)",
            )
        end = t1 + b1.infusion_minutes / 60.0
        if end - t2 > _TIME_TOL_H:
            raise UserError(
                f"{prefix}block[{i1 + 1}].infusion_minutes",
                b1.infusion_minutes,
                f"an infusion that ends by the next administration at {t2:g} h "
                f"(this one starts at {t1:g} h and would end at {end:g} h)",
            )


@dataclass(frozen=True)
class Regimen:
    """A dosing regimen: the schedule of one course, as dose blocks.

    Parameters
    ----------
    name
        Regimen name (a named regimen, or the scenario file's stem; this is the
        trial arm name).
    blocks
        The dose blocks (cycles) of one course, in any order.
    description
        Free text, including the clinical source of the schedule.

    Raises
    ------
    UserError
        If ``blocks`` is empty or holds something other than :class:`DoseBlock`,
        if two administrations fall at the same time, or if an infusion would
        still be running when the next administration starts.

    Notes
    -----
    Semantics of the expanded schedule (see :meth:`administrations`):

    * Times are in hours; ``t = 0`` is 00:00 of treatment day 1; day ``d``
      starts at ``24 (d - 1)`` h.
    * An infusion occupies the half-open interval ``[start, start + duration)``
      and delivers its amount at a constant rate over it.
    * A bolus (``infusion_minutes == 0``, and every SC dose) is applied *before*
      any observation at the same time: an output sample at the dose time
      already contains the dose.
    * Doses per kg are per kg of baseline (pre-treatment) body weight; per m2,
      of the body surface area from baseline weight and height.
    * Two administrations at the same time are an error, never a silent merge,
      and so is an infusion that overlaps the next administration of the same
      regimen (its end must be ``<=`` the next start). Infusions therefore
      never add up within one regimen.
    * Cycles are the blocks, numbered from 1 in the order of their first
      administration. Whether and when further courses are given is decided by
      the protocol, not by the regimen.

    References
    ----------
    .. [1] Proleukin (aldesleukin) prescribing information, Clinigen/Iovance,
       2023, section 2 (Dosage and Administration).

    Examples
    --------
    >>> r = NAMED_REGIMENS["high-dose"]
    >>> [a.time_h for a in r.administrations()][:3]
    [0.0, 8.0, 16.0]
    """

    name: str
    blocks: tuple[DoseBlock, ...]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise UserError("name", self.name, "a non-empty string")
        if not isinstance(self.description, str):
            raise UserError("description", self.description, "a string")
        blocks = tuple(self.blocks) if isinstance(self.blocks, list | tuple) else None
        if not blocks:
            raise UserError("blocks", self.blocks, "a non-empty tuple of DoseBlock")
        for i, b in enumerate(blocks):
            if not isinstance(b, DoseBlock):
                raise UserError(f"blocks[{i}]", b, "a DoseBlock")
        object.__setattr__(self, "blocks", blocks)
        _check_schedule(blocks, "")

    def administrations(
        self, course: int = 1, course_start_h: float = 0.0
    ) -> tuple[Administration, ...]:
        """Expand one course into its administrations, sorted by time.

        Parameters
        ----------
        course
            Course number written into each administration, from 1.
        course_start_h
            Time of the course's day 1, 00:00, h; every time is shifted by it.

        Returns
        -------
        tuple of Administration
            Sorted by ``time_h``. ``cycle`` is the 1-based rank of the block by
            its first administration time.

        Raises
        ------
        UserError
            If ``course`` is not an integer >= 1 or ``course_start_h`` is not
            a finite number.
        """
        if not _is_int(course) or course < 1:
            raise UserError("course", course, "an integer >= 1")
        if not _is_real(course_start_h) or not math.isfinite(course_start_h):
            raise UserError("course_start_h", course_start_h, "a finite number of hours")
        order = sorted(range(len(self.blocks)), key=lambda i: self.blocks[i].first_time_h)
        out = []
        for cycle, i in enumerate(order, start=1):
            b = self.blocks[i]
            for t in b.times_h():
                out.append(
                    Administration(
                        time_h=float(course_start_h) + t,
                        amount=b.amount,
                        route=b.route,
                        infusion_minutes=b.infusion_minutes,
                        course=int(course),
                        cycle=cycle,
                        unit=b.unit,
                    )
                )
        out.sort(key=lambda a: a.time_h)
        return tuple(out)

    @property
    def course_length_h(self) -> float:
        """End of the last administration of one course, h from the course start."""
        return max(a.end_h for a in self.administrations())

    @property
    def n_doses(self) -> int:
        """Number of administrations in one course."""
        return sum(b.count for b in self.blocks)

    def require_dose_by(self, end_h: float, field: str, received: object) -> None:
        """Raise :class:`~il2sim.UserError` on ``field`` unless the first dose falls at or before ``end_h`` (h)."""
        first = min(b.first_time_h for b in self.blocks)
        if first > end_h + 1e-9:
            raise UserError(field, received, f"a run that reaches the regimen's first dose (day {first / 24.0 + 1:g}; "
                                             f"{self.name} would give no dose)")

    def require_dosable(self, patient: Any) -> None:
        """Raise :class:`~il2sim.UserError` unless every block's unit can dose ``patient``'s molecule.

        A molecule without a specific activity (``iu_per_mg``) cannot be dosed
        in IU/kg, MIU/m2 or MIU; the error names the regimen's block.
        """
        for i, b in enumerate(self.blocks, start=1):
            try:
                patient.dose_amount(b.amount, b.unit)
            except UserError as exc:
                raise UserError(f"{self.name}: block[{i}].{exc.field}", exc.received, exc.expected) from None

    def to_dict(self) -> dict[str, Any]:
        """Return the regimen as a plain dict (the scenario-file layout).

        Returns
        -------
        dict
            ``{"name": ..., "description": ..., "block": [block dicts]}``;
            :meth:`from_dict` inverts it.
        """
        return {
            "name": self.name,
            "description": self.description,
            "block": [b.to_dict() for b in self.blocks],
        }

    def to_toml(self) -> str:
        """Return the regimen as scenario-file TOML text (no file is written).

        Loading the text from a file named ``<name>.toml`` with
        :func:`load_scenario` gives back an equal regimen.
        """
        lines = [f"name = {_toml_str(self.name)}"]
        if self.description:
            lines.append(f"description = {_toml_str(self.description)}")
        for b in self.blocks:
            lines += [
                "",
                "[[block]]",
                f"{b.amount_key} = {b.amount!r}",
                f"route = {_toml_str(b.route)}",
                f"infusion_minutes = {b.infusion_minutes!r}",
                f"every_hours = {b.every_hours!r}",
                f"count = {b.count}",
                f"start_day = {b.start_day}",
            ]
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, d: Any, *, source: str) -> Regimen:
        """Build a regimen from a dict in the scenario-file layout.

        Parameters
        ----------
        d
            Mapping with optional ``name`` (str; default: ``source`` without a
            ``.toml`` suffix), optional ``description`` (str) and a required
            non-empty list ``block`` of tables with exactly one amount key
            (``amount_iu_per_kg``, ``amount_ug_per_kg``, ``amount_miu_per_m2``
            or ``amount_miu``) and the keys ``route``, ``infusion_minutes``
            (optional for ``sc``, required for ``iv``), ``every_hours``,
            ``count`` and ``start_day``.
        source
            Where ``d`` came from (a file name); prefixes every error field,
            as in ``"scenario.toml: block[2].count"``.

        Returns
        -------
        Regimen

        Raises
        ------
        UserError
            On an unknown or missing key, a wrong type, an out-of-range value
            or an inconsistent schedule.
        """
        p = f"{source}: "
        if not isinstance(d, dict):
            raise UserError(source, d, "a table of name, description and [[block]]")
        for key in d:
            if key not in _TOP_KEYS:
                raise UserError(
                    f"{p}{key}", d[key], "no such key (allowed: name, description, [[block]])"
                )
        default_name = source[:-5] if source.endswith(".toml") else source
        name = d.get("name", default_name)
        if not isinstance(name, str) or not name:
            raise UserError(f"{p}name", name, "a non-empty string")
        description = d.get("description", "")
        if not isinstance(description, str):
            raise UserError(f"{p}description", description, "a string")
        if "block" not in d:
            raise UserError(f"{p}block", "no [[block]] tables", "at least one [[block]]")
        raw_blocks = d["block"]
        if not isinstance(raw_blocks, list) or not raw_blocks:
            raise UserError(f"{p}block", raw_blocks, "at least one [[block]] table")
        blocks = []
        for i, raw in enumerate(raw_blocks, start=1):
            bp = f"{p}block[{i}]"
            if not isinstance(raw, dict):
                raise UserError(bp, raw, "a [[block]] table")
            for key in raw:
                if key not in _BLOCK_KEYS:
                    raise UserError(
                        f"{bp}.{key}", raw[key], "no such key (allowed: " + ", ".join(_BLOCK_KEYS) + ")"
                    )
            values = dict(raw)
            if values.get("route") == "sc":
                values.setdefault("infusion_minutes", 0)
            given = [k for k in _AMOUNT_KEYS if k in values]
            if len(given) != 1:
                received = "nothing (key missing)" if not given else " and ".join(given)
                raise UserError(f"{bp}.amount_iu_per_kg" if not given else f"{bp}.{given[1]}", received,
                                "exactly one of " + ", ".join(_AMOUNT_KEYS))
            for key in _BLOCK_KEYS:
                if key not in values and key not in _AMOUNT_KEYS:
                    raise UserError(f"{bp}.{key}", "nothing (key missing)", "a value for this required key")
            unit = given[0][len("amount_"):]
            amount = values.pop(given[0])
            try:
                blocks.append(DoseBlock(amount=amount, unit=unit, **values))
            except UserError as exc:
                raise UserError(f"{bp}.{exc.field}", exc.received, exc.expected) from None
        try:
            return cls(name=name, blocks=tuple(blocks), description=description)
        except UserError as exc:
            raise UserError(f"{p}{exc.field}", exc.received, exc.expected) from None


def _toml_str(text: str) -> str:
    """Quote ``text`` as a TOML basic string."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _q8h_course(amount: float) -> tuple[DoseBlock, ...]:
    return (
        DoseBlock(amount, "iv", 15.0, 8.0, 14, 1),
        DoseBlock(amount, "iv", 15.0, 8.0, 14, 15),
    )


_LABEL = (
    "Proleukin (aldesleukin) prescribing information, section 2 and Table 1 "
    "(Clinigen/Iovance 2023; older Chiron/Prometheus label): 600,000 IU/kg "
    "(0.037 mg/kg) as a 15-minute IV infusion every 8 h, maximum 14 doses from "
    "day 1, then after 9 days of rest a maximum of 14 doses from day 15; "
    "2 cycles = 1 course."
)

NAMED_REGIMENS: dict[str, Regimen] = {
    "high-dose": Regimen(
        name="high-dose",
        blocks=_q8h_course(600_000.0),
        description="High-dose IV aldesleukin (the approved regimen). " + _LABEL,
    ),
    "high-dose-720": Regimen(
        name="high-dose-720",
        blocks=_q8h_course(720_000.0),
        description=(
            "High-dose aldesleukin at 720,000 IU/kg, 15-minute IV infusion q8h, "
            "up to 14 doses from day 1 and up to 14 from day 15 (the dose used in "
            "the NCI Surgery Branch trials and in part of the pivotal phase II "
            "trials). Sources: NCCN guidelines; review in Target Oncol 2014 "
            "(high-dose IL-2 in practice). Schedule as in the Proleukin label."
        ),
    ),
    "low-dose-iv": Regimen(
        name="low-dose-iv",
        blocks=_q8h_course(72_000.0),
        description=(
            "Low-dose IV aldesleukin, 72,000 IU/kg as 15-minute IV infusions "
            "q8h on the high-dose schedule (14 doses from day 1, 14 from day 15). "
            "Source: Yang JC et al., J Clin Oncol 2003;21:3127 (NCI randomized "
            "trial of high-dose vs low-dose IV vs SC IL-2 in metastatic renal "
            "cancer); recalled, not retrieved."
        ),
    ),
    "low-dose-sc": Regimen(
        name="low-dose-sc",
        blocks=(DoseBlock(250_000.0, "sc", 0.0, 24.0, 5, 1),)
        + tuple(DoseBlock(125_000.0, "sc", 0.0, 24.0, 5, d) for d in (8, 15, 22, 29, 36)),
        description=(
            "Low-dose subcutaneous aldesleukin: 250,000 IU/kg once daily on days "
            "1-5 of week 1, then 125,000 IU/kg once daily on days 1-5 of weeks "
            "2-6 (30 injections). Source: the SC arm of Yang JC et al., J Clin "
            "Oncol 2003;21:3127, and Atkins-type outpatient SC regimens; "
            "recalled, not retrieved."
        ),
    ),
    # ---- low-dose SC IL-2 for regulatory T cells (autoimmunity, GVHD); aldesleukin
    "ld-treg-1miu-m2": Regimen(
        name="ld-treg-1miu-m2",
        blocks=(DoseBlock(1.0, "sc", 0.0, 24.0, 56, 1, unit="miu_per_m2"),),
        description=(
            "Low-dose SC aldesleukin for regulatory T cells: 1 MIU/m2 once daily for 8 weeks (56 injections), "
            "the maximum tolerated dose in chronic GVHD. Source: Koreth J et al., N Engl J Med 2011;365:2055 "
            "(0.3, 1 or 3 MIU/m2/day x 8 weeks; Tregs peaked at a median of more than 8 times baseline by week 4), "
            "as tabulated in PMC6986328 Table 1."
        ),
    ),
    "ld-treg-3miu-m2": Regimen(
        name="ld-treg-3miu-m2",
        blocks=(DoseBlock(3.0, "sc", 0.0, 24.0, 56, 1, unit="miu_per_m2"),),
        description=(
            "Low-dose SC aldesleukin, 3 MIU/m2 once daily for 8 weeks: the Koreth 2011 dose level above the "
            "maximum tolerated dose (severe constitutional symptoms). Source: Koreth J et al., N Engl J Med "
            "2011;365:2055, as tabulated in PMC6986328 Table 1."
        ),
    ),
    "ld-treg-saadoun": Regimen(
        name="ld-treg-saadoun",
        blocks=(DoseBlock(1.0, "sc", 0.0, 24.0, 5, 1, unit="miu"),)
        + tuple(DoseBlock(3.0, "sc", 0.0, 24.0, 5, d, unit="miu") for d in (22, 43, 64)),
        description=(
            "Low-dose SC aldesleukin in HCV-induced vasculitis: 1 MIU once daily for 5 days, then 3 MIU once "
            "daily for 5 days at weeks 3, 6 and 9 (days 22, 43, 64; cumulative 52.5 MIU in the source's count). "
            "Source: Saadoun D et al., N Engl J Med 2011;365:2067, as tabulated in PMC6986328 Table 1."
        ),
    ),
    # ---- engineered molecules' published schedules (use them with the matching --molecule)
    "nemvaleukin-6ug": Regimen(
        name="nemvaleukin-6ug",
        blocks=tuple(DoseBlock(6.0, "iv", 30.0, 24.0, 5, d, unit="ug_per_kg") for d in (1, 22, 43, 64)),
        description=(
            "Nemvaleukin alfa's IV monotherapy dose: 6 ug/kg/day on days 1-5 of 21-day cycles (4 cycles here), "
            "ARTISTRY-1 (the recommended phase 2 dose; dose escalation to 10 ug/kg/day, maximum tolerated dose "
            "not reached). Sources: ARTISTRY-1 Part B (pearl.plymouth.ac.uk/nm-research/834), ASCO 2022 abstract "
            "2500. The 30-minute infusion is recalled, not retrieved. Use with --molecule nemvaleukin-like."
        ),
    ),
    "bempeg-0.006": Regimen(
        name="bempeg-0.006",
        blocks=tuple(DoseBlock(6.0, "iv", 15.0, 24.0, 1, d, unit="ug_per_kg") for d in (1, 22, 43, 64)),
        description=(
            "Bempegaldesleukin's recommended phase 2 dose: 0.006 mg/kg as a 15-minute IV infusion every 3 weeks "
            "(4 doses here). Sources: Bentebibel SE et al., Cancer Discov 2019;9:711 (abstract); SITC 2016 poster "
            "387 (dose table, 15-minute infusion). Use with --molecule bempeg-like."
        ),
    ),
    "mdna11-30ug": Regimen(
        name="mdna11-30ug",
        blocks=tuple(DoseBlock(30.0, "iv", 30.0, 24.0, 1, d, unit="ug_per_kg") for d in (1, 15, 29, 43, 57, 71)),
        description=(
            "MDNA11 at 30 ug/kg IV every 2 weeks (6 doses here), the ABILITY dose-escalation cohort with CD8 > 3-fold "
            "and NK > 6-fold over baseline. Source: Medicenna press releases 2022 (sponsor-reported). The 30-minute "
            "infusion is an assumption. Use with --molecule mdna11-like."
        ),
    ),
    "treg-peg-24ug-q2w": Regimen(
        name="treg-peg-24ug-q2w",
        blocks=tuple(DoseBlock(24.0, "sc", 0.0, 24.0, 1, d, unit="ug_per_kg") for d in (1, 15, 29)),
        description=(
            "Rezpegaldesleukin's multiple-ascending-dose schedule in SLE at its top dose: 24 ug/kg SC every 2 weeks, "
            "3 doses. Source: Fanton C et al., J Transl Autoimmun 2022;5:100152 (3-24 ug/kg SC q2w). Use with "
            "--molecule treg-peg-il2-like."
        ),
    ),
}


def load_scenario(path: str | Path) -> Regimen:
    """Load a regimen from a scenario TOML file.

    Parameters
    ----------
    path
        Path of the ``.toml`` file (layout in the module docstring).

    Returns
    -------
    Regimen
        Named after the file stem (the trial arm name). A ``name`` key in the
        file is a display title: when it differs from the stem it is prepended
        to the description as ``"<title>: <description>"`` (or becomes the
        description when there is none).

    Raises
    ------
    UserError
        If the file is missing or unreadable, is not valid TOML, has no
        ``[[block]]``, an unknown or missing key, a value of the wrong type or
        out of range, or an inconsistent schedule. Fields are prefixed with the
        file name, as in ``"scenario.toml: block[2].dose"``.
    """
    path = Path(path)
    label = path.name
    data = read_user_toml(path, missing=(label, "an existing scenario .toml file"),
                          unreadable=(label, "a readable scenario .toml file"), valid="a valid TOML file",
                          nested="a scenario file of dose blocks")
    regimen = Regimen.from_dict(data, source=label)
    title = regimen.name
    description = regimen.description
    if "name" in data and title != path.stem:
        description = f"{title}: {description}" if description else title
    return Regimen(name=path.stem, blocks=regimen.blocks, description=description)


def resolve_regimen(name_or_path: str) -> Regimen:
    """Return a named regimen, or load a scenario file.

    Parameters
    ----------
    name_or_path
        One of the keys of :data:`NAMED_REGIMENS`, or a path ending in
        ``.toml``.

    Returns
    -------
    Regimen

    Raises
    ------
    UserError
        With field ``regimen`` if the value is neither; or from
        :func:`load_scenario`.
    """
    if isinstance(name_or_path, str | Path):
        text = str(name_or_path)
        if text in NAMED_REGIMENS:
            return NAMED_REGIMENS[text]
        if text.endswith(".toml"):
            return load_scenario(text)
    raise UserError(
        "regimen",
        name_or_path,
        "one of " + ", ".join(NAMED_REGIMENS) + ", or a scenario .toml file",
    )
