import numpy as np
import pytest

from il2sim.engine import SolverSettings, simulate
from il2sim.model import typical_patient
from il2sim.protocol import NAMED_REGIMENS, GiveAllPolicy


@pytest.fixture(scope="session")
def hd_melanoma():
    """Typical melanoma patient on the label high-dose regimen, first 35 days."""
    return simulate(typical_patient("melanoma"), NAMED_REGIMENS["high-dose"], days=35, policy=GiveAllPolicy())


@pytest.fixture(scope="session")
def regimen_runs():
    """Typical melanoma patient on low-dose IV, high-dose and high-dose-720, 35 days each.

    Every dose is given (no holds) with supportive care, so the regimens differ only in dose.
    """
    from il2sim.protocol import make_policy

    policy = make_policy("pivotal", holds=False)
    return {name: simulate(typical_patient("melanoma"), NAMED_REGIMENS[name], days=35, policy=policy)
            for name in ("low-dose-iv", "high-dose", "high-dose-720")}


TIGHT = SolverSettings(method="Radau", rtol=1e-10, atol=1e-12)


def day_index(t, day):
    return int(np.argmin(np.abs(t - 24.0 * day)))
