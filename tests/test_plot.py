"""The clinician's figure: every panel drawn and labelled, holds/stops/later courses shown, robust to gaps."""

import ast
import io
from pathlib import Path

import numpy as np
import pytest

from il2sim.plot import patient_figure
from il2sim.protocol import Administration, Decision, DoseRecord

LETTERS = "abcdefghijklmnop"


class FakeResult:
    """A result-like object over a real one: truncated (a failed run), observables or controls dropped."""

    def __init__(self, base, n=None, drop=(), controls=True, doses=None, decisions=None, success=True):
        n = len(base.t) if n is None else n
        self.t = np.asarray(base.t)[:n]
        self._obs = {k: np.asarray(v)[:n] for k, v in base.observables.items() if k not in drop}
        self._base, self._n, self._controls = base, n, controls
        self.individual, self.regimen, self.provenance = base.individual, base.regimen, base.provenance
        self.doses = list(base.doses) if doses is None else doses
        self.decisions = list(base.decisions) if decisions is None else decisions
        self.success = success
        self.message = "" if success else "solver failed at t = 1 h"

    @property
    def observables(self):
        return self._obs

    def state(self, name):
        raise KeyError(name)

    def control(self, name):
        if not self._controls:
            raise ValueError(name)
        return self._base.control(name)[: self._n]


def _render(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=40)
    return buf.getvalue()


def _legend_texts(fig):
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def _main_axes(fig):
    """The sixteen lettered panels, by letter."""
    out = {}
    for ax in fig.axes:
        title = ax.get_title(loc="left")
        if title.startswith("(") and title[2:3] == ")":
            out[title[1]] = ax
    return out


def test_all_panels_drawn_and_labelled(hd_melanoma):
    fig = patient_figure(hd_melanoma)
    panels = _main_axes(fig)
    assert sorted(panels) == list(LETTERS)
    for letter, ax in panels.items():
        if letter == "a":  # the dosing strip, above the serum IL-2 axes that carry the time label
            assert [t.get_text() for t in ax.get_yticklabels()] == ["stopped", "held", "given"]
            continue
        assert ax.get_xlabel() == "time since the first dose (days)", letter
        assert ax.get_ylabel(), letter
    assert any(ax.get_ylabel() == "serum IL-2 (IU/mL, log)" and ax.get_xlabel() for ax in fig.axes)
    for ax in fig.axes:  # twin and secondary axes carry units too
        if ax.yaxis.get_visible() and ax.get_yticks().size and ax.get_yticklabels():
            labelled = ax.get_ylabel() or any(t.get_text() for t in ax.get_yticklabels())
            assert labelled
    assert _render(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_module_never_imports_pyplot():
    import il2sim.plot as plot

    tree = ast.parse(Path(plot.__file__).read_text(encoding="utf-8"))
    names = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    names += [f"{node.module}.{a.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
              for a in node.names]
    assert not [n for n in names if "pyplot" in n]


@pytest.mark.parametrize("n", [0, 1, 5, 200])
def test_failed_run_short_arrays(hd_melanoma, n):
    fake = FakeResult(hd_melanoma, n=n, success=False)
    fig = patient_figure(fake)
    assert "SIMULATION FAILED" in fig.get_suptitle()
    _render(fig)


def test_missing_observables_and_controls_are_skipped(hd_melanoma):
    drop = [k for i, k in enumerate(sorted(hd_melanoma.observables)) if i % 2 == 0]
    drop += ["sbp_mmhg", "weight_kg", "tumour_sum_diameters_mm", "lymphocytes_per_ul"]
    fig = patient_figure(FakeResult(hd_melanoma, drop=drop, controls=False, decisions=[]))
    assert sorted(_main_axes(fig)) == list(LETTERS)
    _render(fig)


def _record(i, day, course, cycle, given=True, held_by="", stopped=False):
    a = Administration(time_h=24.0 * day, amount=600000.0, route="iv", infusion_minutes=15.0,
                       course=course, cycle=cycle)
    return DoseRecord(i, a, given=given, held_by=held_by, stopped=stopped)


def test_held_stopped_and_later_courses(hd_melanoma):
    doses = [
        _record(0, 0.0, 1, 1),
        _record(1, 1 / 3, 1, 1, given=False, held_by="rule_hold"),
        _record(2, 2 / 3, 1, 1),
        _record(3, 1.0, 1, 1, given=False, held_by="rule_stop", stopped=True),
        _record(4, 30.0, 2, 1),
    ]
    decisions = [(8.0, Decision(infusions=(("fluid_bolus_ml_h", 1000.0, 0.5),)))]
    fig = patient_figure(FakeResult(hd_melanoma, doses=doses, decisions=decisions))
    panels = _main_axes(fig)
    legend = _legend_texts(fig)
    assert "held by rule_hold (1)" in legend
    assert "stopped by rule_stop (1)" in legend
    assert "given (3)" in legend
    for letter in "bcdefghijklmn":
        assert "course 1 of 2" in panels[letter].get_title(loc="left"), letter
        assert panels[letter].get_xlim()[1] == pytest.approx(15.0)  # first course's last dose + 14 days
    assert "course 2 from day 30" in fig.get_suptitle()
    assert any(t.startswith("fluid bolus (1 shown") for t in legend)
    _render(fig)
