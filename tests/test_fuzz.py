"""Hypothesis fuzz over scenario files and command-line values: one clean line, never a traceback.

Derandomized by default, so CI runs the same examples every time; ``IL2SIM_FUZZ_RANDOM=1`` draws fresh ones
(and more of them) for a fuzzing session.
"""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from il2sim.cli import main

_RANDOM = os.environ.get("IL2SIM_FUZZ_RANDOM") == "1"
_SCALE = 5 if _RANDOM else 1

JUNK = st.sampled_from(["", "-1", "0", "nan", "inf", "1e400", "abc", "--out", "3.5", "999999999999", "\x00", "é",
                        "high-dose", "pivotal", "melanoma", "kd_fold_alpha=1000", "x=1", "=", "1"])
VALUE = st.one_of(JUNK, st.text(max_size=12))

# option -> values that keep a valid run short (invalid ones are the point)
OPTIONS = {
    "--indication": st.one_of(st.sampled_from(["melanoma", "rcc"]), VALUE),
    "--regimen": st.one_of(st.sampled_from(["high-dose", "low-dose-iv", "low-dose-sc"]), VALUE),
    "--weight-kg": st.one_of(st.sampled_from(["70", "19", "301"]), VALUE),
    "--days": st.one_of(st.sampled_from(["0.5", "1"]), JUNK.filter(lambda v: v not in ("999999999999", "1e400"))),
    "--output-step-h": st.one_of(st.sampled_from(["0.25", "0.7", "25"]), VALUE),
    "--rules": st.one_of(st.sampled_from(["pivotal", "consensus"]), VALUE),
    "--max-courses": VALUE,
    "--format": VALUE,
    "--param": st.one_of(st.sampled_from(["kd_fold_alpha=-1", "prodrug_fraction=2", "cl_linear=6"]), VALUE),
    "--engine": st.one_of(st.sampled_from(["fast", "scipy", "gpu"]), VALUE),
}
FLAGS = ["--no-holds", "--no-care", "--overwrite", "--bogus", "--days"]


def _check(capsys, rc):
    out = capsys.readouterr()
    assert rc in (0, 1, 2), rc
    assert "Traceback" not in out.err and "Traceback" not in out.out
    for line in out.err.strip().splitlines():
        assert line.startswith(("error: ", "warning: ")), line
    if rc == 2:
        assert len(out.err.strip().splitlines()) == 1, out.err


@settings(max_examples=40 * _SCALE, deadline=None, derandomize=not _RANDOM, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(options=st.dictionaries(st.sampled_from(sorted(OPTIONS)), st.none(), max_size=4).flatmap(
    lambda d: st.fixed_dictionaries({k: OPTIONS[k] for k in d})), flags=st.lists(st.sampled_from(FLAGS), max_size=2),
    days=st.sampled_from(["0.5", "1"]))
def test_simulate_options_never_trace_back(tmp_path_factory, capsys, options, flags, days):
    out = tmp_path_factory.mktemp("fz") / "o"
    args = ["simulate", "--days", days]
    for k, v in options.items():
        args += [k, v]
    args += flags
    _check(capsys, main([*args, "--out", str(out)]))


@settings(max_examples=30 * _SCALE, deadline=None, derandomize=not _RANDOM, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(patients=VALUE, seed=VALUE, chunk=VALUE, weeks=VALUE, population=VALUE, workers=VALUE)
def test_trial_options_never_trace_back(tmp_path_factory, capsys, patients, seed, chunk, weeks, population, workers):
    # every value is fuzzed but --patients and --follow-up-weeks stay small when valid
    if patients.strip().isdigit() and int(patients) > 2:
        patients = "2"
    try:
        if float(weeks) > 2:
            weeks = "2"
    except ValueError:
        pass
    out = tmp_path_factory.mktemp("fz") / "t"
    _check(capsys, main(["trial", "--patients", patients, "--seed", seed, "--chunk-size", chunk,
                         "--follow-up-weeks", weeks, "--population", population, "--workers", workers,
                         "--out", str(out)]))


SCENARIO_KEYS = ["name", "description", "amount_iu_per_kg", "route", "infusion_minutes", "every_hours", "count",
                 "start_day", "bioavailability", "junk"]
TOML_VALUE = st.one_of(st.integers(-5, 30), st.floats(allow_nan=True, allow_infinity=True, width=32),
                       st.sampled_from(['"iv"', '"sc"', '"x"', "true", "[]", "{}", '""']))


@st.composite
def scenario_text(draw):
    if draw(st.booleans()):
        return draw(st.text(max_size=200))  # arbitrary bytes of text: malformed TOML
    lines = []
    if draw(st.booleans()):
        lines.append(f'name = "{draw(st.sampled_from(["f", "", "x y"]))}"')
    for _ in range(draw(st.integers(0, 3))):
        lines.append("[[block]]")
        for key in draw(st.lists(st.sampled_from(SCENARIO_KEYS), max_size=8, unique=True)):
            v = draw(TOML_VALUE)
            lines.append(f"{key} = {v if isinstance(v, str) else repr(v)}")  # repr: TOML's nan, inf, -inf too
    return "\n".join(lines) + "\n"


@settings(max_examples=60 * _SCALE, deadline=None, derandomize=not _RANDOM, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=scenario_text())
def test_scenario_files_never_trace_back(tmp_path_factory, capsys, text):
    d = tmp_path_factory.mktemp("sc")
    f = d / "f.toml"
    f.write_text(text, encoding="utf-8")
    # --days 1 keeps a valid scenario short; regimens whose first dose is later are refused on one line
    _check(capsys, main(["simulate", "--regimen", str(f), "--days", "1", "--out", str(d / "o")]))


@pytest.mark.parametrize("args", [["trial", "--params", "{}"], ["simulate", "--params", "/"], ["regimens", "--show"]])
def test_a_few_hand_picked_corners(tmp_path, capsys, args):
    _check(capsys, main([*args, "--out", str(tmp_path / "o")] if args[0] != "regimens" else args))
