"""Tests for il2sim.protocol: dose blocks, regimens, named regimens, scenario files."""

from __future__ import annotations

import dataclasses

import pytest

from il2sim import UserError
from il2sim.protocol import (
    NAMED_REGIMENS,
    Administration,
    DoseBlock,
    Regimen,
    load_scenario,
    resolve_regimen,
)

# --------------------------------------------------------------------------
# Hand-written schedules of the named regimens
# --------------------------------------------------------------------------

Q8H_TIMES = [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104] + [
    336, 344, 352, 360, 368, 376, 384, 392, 400, 408, 416, 424, 432, 440
]
Q8H_DAYS = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5] + [
    15, 15, 15, 16, 16, 16, 17, 17, 17, 18, 18, 18, 19, 19
]
Q8H_CYCLES = [1] * 14 + [2] * 14

SC_DAYS = [1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19]
SC_DAYS += [22, 23, 24, 25, 26, 29, 30, 31, 32, 33, 36, 37, 38, 39, 40]
SC_TIMES = [24 * (d - 1) for d in SC_DAYS]
SC_AMOUNTS = [250_000] * 5 + [125_000] * 25
SC_CYCLES = [c for c in range(1, 7) for _ in range(5)]


@pytest.mark.parametrize(
    ("name", "amount"),
    [("high-dose", 600_000), ("high-dose-720", 720_000), ("low-dose-iv", 72_000)],
)
def test_q8h_named_regimens_match_table(name, amount):
    adm = NAMED_REGIMENS[name].administrations()
    assert [a.time_h for a in adm] == Q8H_TIMES
    assert [a.day for a in adm] == Q8H_DAYS
    assert [a.cycle for a in adm] == Q8H_CYCLES
    assert all(a.amount == amount for a in adm)
    assert all(a.route == "iv" and a.infusion_minutes == 15 for a in adm)
    assert all(a.course == 1 for a in adm)
    assert adm[0].end_h == 0.25
    assert NAMED_REGIMENS[name].course_length_h == 440.25
    assert NAMED_REGIMENS[name].name == name


def test_low_dose_sc_matches_table():
    r = NAMED_REGIMENS["low-dose-sc"]
    adm = r.administrations()
    assert len(adm) == 30
    assert [a.time_h for a in adm] == SC_TIMES
    assert [a.day for a in adm] == SC_DAYS
    assert [a.amount for a in adm] == SC_AMOUNTS
    assert [a.cycle for a in adm] == SC_CYCLES
    assert all(a.route == "sc" and a.infusion_minutes == 0 for a in adm)
    assert r.course_length_h == 936.0
    assert r.n_doses == 30


def test_named_regimen_set_and_descriptions():
    assert set(NAMED_REGIMENS) == {"high-dose", "high-dose-720", "low-dose-iv", "low-dose-sc", "ld-treg-1miu-m2",
                                   "ld-treg-3miu-m2", "ld-treg-saadoun", "nemvaleukin-6ug", "bempeg-0.006", "mdna11-30ug",
                                   "treg-peg-24ug-q2w"}
    assert "Koreth" in NAMED_REGIMENS["ld-treg-1miu-m2"].description
    assert "Saadoun" in NAMED_REGIMENS["ld-treg-saadoun"].description
    assert "ARTISTRY-1" in NAMED_REGIMENS["nemvaleukin-6ug"].description
    assert "Proleukin" in NAMED_REGIMENS["high-dose"].description
    assert "Target Oncol 2014" in NAMED_REGIMENS["high-dose-720"].description
    assert "Yang" in NAMED_REGIMENS["low-dose-iv"].description
    assert "Yang" in NAMED_REGIMENS["low-dose-sc"].description


def test_second_course_shift_and_number():
    adm = NAMED_REGIMENS["high-dose"].administrations(course=2, course_start_h=1000.0)
    assert [a.time_h for a in adm] == [1000.0 + t for t in Q8H_TIMES]
    assert all(a.course == 2 for a in adm)
    assert adm[0].day == 42  # floor(1000 / 24) + 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"course": 0}, "course"),
        ({"course": 1.0}, "course"),
        ({"course": True}, "course"),
        ({"course_start_h": float("nan")}, "course_start_h"),
        ({"course_start_h": "0"}, "course_start_h"),
    ],
)
def test_administrations_bad_arguments(kwargs, field):
    with pytest.raises(UserError) as exc:
        NAMED_REGIMENS["high-dose"].administrations(**kwargs)
    assert exc.value.field == field


def test_cycles_ordered_by_first_time_not_block_order():
    r = Regimen(
        "x",
        (DoseBlock(2.0, "iv", 0, 24, 2, 10), DoseBlock(1.0, "sc", 0, 24, 2, 1)),
    )
    adm = r.administrations()
    assert [(a.time_h, a.cycle, a.amount) for a in adm] == [
        (0.0, 1, 1.0),
        (24.0, 1, 1.0),
        (216.0, 2, 2.0),
        (240.0, 2, 2.0),
    ]


def test_interleaved_blocks_are_sorted():
    r = Regimen(
        "x",
        (DoseBlock(1.0, "iv", 60, 48, 3, 1), DoseBlock(2.0, "iv", 0, 48, 2, 2)),
    )
    adm = r.administrations()
    assert [a.time_h for a in adm] == [0.0, 24.0, 48.0, 72.0, 96.0]
    assert [a.cycle for a in adm] == [1, 2, 1, 2, 1]
    assert [a.amount for a in adm] == [1.0, 2.0, 1.0, 2.0, 1.0]
    assert r.course_length_h == 97.0


def test_administration_properties():
    a = Administration(47.99, 1.0, "iv", 30.0, 1, 1)
    assert a.day == 2
    assert a.end_h == pytest.approx(48.49)
    assert Administration(48.0, 1.0, "sc", 0.0, 1, 1).day == 3


# --------------------------------------------------------------------------
# DoseBlock validation: each bound just outside and just inside
# --------------------------------------------------------------------------

GOOD = {
    "amount": 600000.0,
    "route": "iv",
    "infusion_minutes": 15.0,
    "every_hours": 8.0,
    "count": 14,
    "start_day": 1,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 1e-300),
        ("amount", 1e8),
        ("amount", 5),
        ("infusion_minutes", 0),
        ("infusion_minutes", 20160),
        ("every_hours", 1e-9),
        ("every_hours", 2016),
        ("count", 1),
        ("count", 1000),
        ("start_day", 1),
        ("start_day", 10_000),
        ("route", "sc"),
    ],
)
def test_doseblock_inside_bounds(field, value):
    kw = dict(GOOD, **{field: value})
    if field == "route":
        kw["infusion_minutes"] = 0
    if field == "infusion_minutes" and value == 20160:
        kw["count"] = 1
    b = DoseBlock(**kw)
    assert getattr(b, field) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -1.0),
        ("amount", 1e8 * (1 + 1e-15)),
        ("amount", float("nan")),
        ("amount", float("inf")),
        ("amount", "600000"),
        ("amount", True),
        ("route", "im"),
        ("route", "IV"),
        ("route", 1),
        ("infusion_minutes", -1e-12),
        ("infusion_minutes", 20160.000001),
        ("infusion_minutes", "15"),
        ("every_hours", 0),
        ("every_hours", -8),
        ("every_hours", 2016.000001),
        ("every_hours", float("nan")),
        ("count", 0),
        ("count", 1001),
        ("count", 2.5),
        ("count", 2.0),
        ("count", "14"),
        ("count", True),
        ("start_day", 0),
        ("start_day", -1),
        ("start_day", 1.5),
        ("start_day", False),
    ],
)
def test_doseblock_outside_bounds(field, value):
    with pytest.raises(UserError) as exc:
        DoseBlock(**dict(GOOD, **{field: value}))
    key = "amount_iu_per_kg" if field == "amount" else field  # the amount's error names its unit's file key
    assert exc.value.field == key
    assert key in str(exc.value)
    assert "expected" in str(exc.value)


def test_sc_requires_zero_infusion():
    with pytest.raises(UserError) as exc:
        DoseBlock(125000, "sc", 15, 24, 5, 1)
    assert exc.value.field == "infusion_minutes"
    assert "sc" in exc.value.expected


def test_doseblock_frozen():
    b = DoseBlock(**GOOD)
    with pytest.raises(dataclasses.FrozenInstanceError):
        b.count = 3  # type: ignore[misc]


# --------------------------------------------------------------------------
# Regimen validation: duplicate and overlapping administrations
# --------------------------------------------------------------------------


def test_duplicate_times_across_blocks():
    with pytest.raises(UserError) as exc:
        Regimen("x", (DoseBlock(1, "iv", 0, 24, 3, 1), DoseBlock(1, "sc", 0, 24, 1, 2)))
    assert exc.value.field == "block[2].start_day"
    assert "same time" in str(exc.value)


def test_infusion_overlapping_next_dose_within_block():
    with pytest.raises(UserError) as exc:
        Regimen("x", (DoseBlock(1, "iv", 8 * 60 + 1e-6, 8, 2, 1),))
    assert exc.value.field == "block[1].infusion_minutes"


def test_infusion_ending_exactly_at_next_dose_is_fine():
    r = Regimen("x", (DoseBlock(1, "iv", 8 * 60, 8, 3, 1),))
    assert r.course_length_h == 24.0


def test_infusion_overlapping_other_block():
    with pytest.raises(UserError) as exc:
        Regimen("x", (DoseBlock(1, "iv", 24 * 60 + 1, 48, 1, 1), DoseBlock(1, "sc", 0, 24, 1, 2)))
    assert exc.value.field == "block[1].infusion_minutes"


def test_single_long_infusion_is_fine():
    r = Regimen("x", (DoseBlock(1, "iv", 20160, 8, 1, 1),))
    assert r.course_length_h == 336.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "blocks": (DoseBlock(**GOOD),)}, "name"),
        ({"name": "x", "blocks": ()}, "blocks"),
        ({"name": "x", "blocks": ("a",)}, "blocks[0]"),
        ({"name": "x", "blocks": (DoseBlock(**GOOD),), "description": 3}, "description"),
    ],
)
def test_regimen_bad_fields(kwargs, field):
    with pytest.raises(UserError) as exc:
        Regimen(**kwargs)
    assert exc.value.field == field


def test_regimen_equality_and_dict_round_trip():
    for r in NAMED_REGIMENS.values():
        assert Regimen.from_dict(r.to_dict(), source="x.toml") == r
    assert Regimen("a", [DoseBlock(**GOOD)]) == Regimen("a", (DoseBlock(**GOOD),))


# --------------------------------------------------------------------------
# Scenario files
# --------------------------------------------------------------------------

BLOCK = """
[[block]]
amount_iu_per_kg = 600000
route = "iv"
infusion_minutes = 15
every_hours = 8
count = 14
start_day = 1
"""


def write(tmp_path, text, name="scenario.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", sorted(NAMED_REGIMENS))
def test_toml_round_trip_named(tmp_path, name):
    r = NAMED_REGIMENS[name]
    p = write(tmp_path, r.to_toml(), f"{name}.toml")
    assert load_scenario(p) == r


def test_toml_round_trip_awkward_strings(tmp_path):
    r = Regimen("odd", (DoseBlock(1e-5, "iv", 0, 0.1, 3, 2),), 'quote " back\\ \n tab\t é')
    p = write(tmp_path, r.to_toml(), "odd.toml")
    assert load_scenario(p) == r


def test_scenario_name_is_file_stem_and_title_goes_to_description(tmp_path):
    p = write(tmp_path, 'name = "My arm"\ndescription = "text"\n' + BLOCK, "arm-a.toml")
    r = load_scenario(p)
    assert r.name == "arm-a"
    assert r.description == "My arm: text"
    p2 = write(tmp_path, 'name = "Only title"\n' + BLOCK, "arm-b.toml")
    assert load_scenario(p2).description == "Only title"
    p3 = write(tmp_path, BLOCK, "arm-c.toml")
    r3 = load_scenario(p3)
    assert (r3.name, r3.description) == ("arm-c", "")
    assert r3.administrations() == NAMED_REGIMENS["high-dose"].administrations()[:14]


def test_scenario_sc_without_infusion_minutes(tmp_path):
    text = '[[block]]\namount_iu_per_kg = 125000.0\nroute = "sc"\nevery_hours = 24\ncount = 5\nstart_day = 8\n'
    r = load_scenario(write(tmp_path, text))
    assert [a.day for a in r.administrations()] == [8, 9, 10, 11, 12]


def test_resolve_regimen(tmp_path):
    assert resolve_regimen("high-dose") is NAMED_REGIMENS["high-dose"]
    p = write(tmp_path, BLOCK, "mine.toml")
    assert resolve_regimen(str(p)).name == "mine"
    with pytest.raises(UserError) as exc:
        resolve_regimen("high_dose")
    assert exc.value.field == "regimen"
    assert "high-dose, high-dose-720, low-dose-iv, low-dose-sc" in str(exc.value)
    assert "'high_dose'" in str(exc.value)


def _block(**changes):
    lines = []
    for key, value in {**GOOD_TOML, **changes}.items():
        if value is not None:
            lines.append(f"{key} = {value}")
    return "[[block]]\n" + "\n".join(lines) + "\n"


GOOD_TOML = {
    "amount_iu_per_kg": "600000",
    "route": '"iv"',
    "infusion_minutes": "15",
    "every_hours": "8",
    "count": "14",
    "start_day": "1",
}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (BLOCK + "\n[[block]]\ndose = 3\n", "scenario.toml: block[2].dose"),
        ('title = "x"\n' + BLOCK, "scenario.toml: title"),
        (BLOCK + _block(start_day="15", extra="1"), "scenario.toml: block[2].extra"),
        (_block(count='"14"'), "scenario.toml: block[1].count"),
        (_block(count="2.5"), "scenario.toml: block[1].count"),
        (_block(count="0"), "scenario.toml: block[1].count"),
        (_block(count="1001"), "scenario.toml: block[1].count"),
        (_block(count="true"), "scenario.toml: block[1].count"),
        (_block(start_day="0"), "scenario.toml: block[1].start_day"),
        (_block(amount_iu_per_kg="0"), "scenario.toml: block[1].amount_iu_per_kg"),
        (_block(amount_iu_per_kg="1.00000001e8"), "scenario.toml: block[1].amount_iu_per_kg"),
        (_block(amount_iu_per_kg="nan"), "scenario.toml: block[1].amount_iu_per_kg"),
        (_block(route='"oral"'), "scenario.toml: block[1].route"),
        (_block(every_hours="0"), "scenario.toml: block[1].every_hours"),
        (_block(every_hours="2017"), "scenario.toml: block[1].every_hours"),
        (_block(infusion_minutes="-1"), "scenario.toml: block[1].infusion_minutes"),
        (_block(infusion_minutes="20161"), "scenario.toml: block[1].infusion_minutes"),
        (_block(infusion_minutes=None), "scenario.toml: block[1].infusion_minutes"),
        (_block(route='"sc"', infusion_minutes="5"), "scenario.toml: block[1].infusion_minutes"),
        (_block(count=None), "scenario.toml: block[1].count"),
        (_block(route=None), "scenario.toml: block[1].route"),
        (_block(infusion_minutes="600"), "scenario.toml: block[1].infusion_minutes"),
        (BLOCK + BLOCK, "scenario.toml: block[2].start_day"),
        ('name = "x"\n', "scenario.toml: block"),
        ("block = []\n", "scenario.toml: block"),
        ("block = 3\n", "scenario.toml: block"),
        ("block = [1]\n", "scenario.toml: block[1]"),
        ("name = 3\n" + BLOCK, "scenario.toml: name"),
        ('name = ""\n' + BLOCK, "scenario.toml: name"),
        ("description = 3\n" + BLOCK, "scenario.toml: description"),
        ("[[block]\ncount = 1\n", "scenario.toml"),
        ("count = \n", "scenario.toml"),
        ("", "scenario.toml: block"),
    ],
)
def test_scenario_errors(tmp_path, text, field):
    p = write(tmp_path, text)
    with pytest.raises(UserError) as exc:
        load_scenario(p)
    assert exc.value.field == field
    assert str(exc.value).startswith(field + ": got ")
    assert "expected" in str(exc.value)


def test_scenario_missing_file(tmp_path):
    with pytest.raises(UserError) as exc:
        load_scenario(tmp_path / "nope.toml")
    assert exc.value.field == "nope.toml"
    assert "existing" in exc.value.expected
    with pytest.raises(UserError):
        resolve_regimen(str(tmp_path / "nope.toml"))


def test_scenario_directory_and_bad_encoding(tmp_path):
    d = tmp_path / "dir.toml"
    d.mkdir()
    with pytest.raises(UserError) as exc:
        load_scenario(d)
    assert exc.value.field == "dir.toml"
    p = tmp_path / "latin.toml"
    p.write_bytes(b'description = "caf\xe9"\n' + BLOCK.encode())
    with pytest.raises(UserError) as exc:
        load_scenario(p)
    assert exc.value.field == "latin.toml"


def test_scenario_error_is_one_line(tmp_path):
    p = write(tmp_path, "[[block]\ncount = 1\n")
    with pytest.raises(UserError) as exc:
        load_scenario(p)
    assert "\n" not in str(exc.value)
