"""Newcombe's (1998) method-10 interval for the difference of two paired proportions."""

import math

import numpy as np
import pytest
from scipy.special import gammaln

from il2sim.analysis import paired_difference_ci

# Newcombe RG, Stat Med 1998;17:2635-2650, worked examples (a, b, c, d) -> method 10, 95 %.
# The values are those the propint R package tests as "the results reported in Newcombe1998"
# (github.com/m-Py/propint, tests/testthat/test_Two_Dependent_Props_CI.R); the paper itself was not
# retrieved. Examples 2 and 3 are reproduced only with Newcombe's continuity-corrected phi
# (ad - bc - n/2 when ad > bc): the plain correlation gives 0.0618-0.3239 and -0.0640-0.0640.
NEWCOMBE_EXAMPLES = [
    ((36, 12, 2, 0), 0.2, 0.0569, 0.3404),
    ((18, 12, 2, 18), 0.2, 0.0562, 0.3290),
    ((53, 0, 0, 1), 0.0, -0.0729, 0.0729),
    ((0, 30, 0, 0), 1.0, 0.8395, 1.0),
]


@pytest.mark.parametrize(("table", "diff", "lo", "hi"), NEWCOMBE_EXAMPLES)
def test_newcombe_worked_examples(table, diff, lo, hi):
    d, lower, upper = paired_difference_ci(*table)
    assert d == pytest.approx(diff, abs=1e-12)
    assert lower == pytest.approx(lo, abs=5e-5)
    assert upper == pytest.approx(hi, abs=5e-5)


def _coverage(n, p):
    """Exact coverage of the 95 % interval: the multinomial probability of every table whose interval holds p1 - p2."""
    theta = p[1] - p[2]
    logp = np.log(p)
    total = 0.0
    for a in range(n + 1):
        for b in range(n + 1 - a):
            for c in range(n + 1 - a - b):
                d = n - a - b - c
                _, lo, hi = paired_difference_ci(a, b, c, d)
                if lo <= theta <= hi:
                    k = np.array([a, b, c, d])
                    total += math.exp(gammaln(n + 1) - gammaln(k + 1).sum() + float(k @ logp))
    return total


@pytest.mark.parametrize(("n", "p"), [(30, (0.3, 0.2, 0.1, 0.4)), (40, (0.35, 0.05, 0.1, 0.5))])
def test_exact_coverage_is_near_nominal(n, p):
    # Exact enumeration over all C(n + 3, 3) tables. For these positively correlated pairs the method-10 interval
    # covers 0.951 and 0.963; ignoring the pairing (phi = 0) would cover 0.989 and 0.999 (far too wide), and the
    # uncorrected phi 0.933 and 0.934 (too narrow).
    assert 0.94 <= _coverage(n, p) <= 0.975


def test_symmetries():
    for table in [(5, 7, 1, 20), (0, 3, 4, 9), (12, 0, 6, 2), (1, 1, 7, 12)]:
        a, b, c, d = table
        diff, lo, hi = paired_difference_ci(a, b, c, d)
        assert lo <= diff <= hi and -1.0 <= lo and hi <= 1.0
        # swapping the arms negates the difference and mirrors the interval
        s = paired_difference_ci(a, c, b, d)
        assert s == pytest.approx((-diff, -hi, -lo), abs=1e-12)
        # counting failures instead of successes does the same
        f = paired_difference_ci(d, c, b, a)
        assert f == pytest.approx((-diff, -hi, -lo), abs=1e-12)


def test_pairing_narrows_the_interval_for_concordant_arms():
    # 40 patients, 10 responders on arm 1, 8 on arm 2, and the 8 are among the 10: the arms agree on 38 patients
    diff, lo, hi = paired_difference_ci(8, 2, 0, 30)
    assert diff == pytest.approx(0.05)
    # the independent-samples hybrid score (Newcombe's method 10 for unpaired data) is wider
    from il2sim.analysis import wilson_interval

    l1, u1 = wilson_interval(10, 40)
    l2, u2 = wilson_interval(8, 40)
    p1, p2 = 10 / 40, 8 / 40
    ind_lo = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    ind_hi = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    assert ind_lo < lo and hi < ind_hi
    assert hi - lo < 0.75 * (ind_hi - ind_lo)


def test_edge_cases_and_errors():
    assert all(math.isnan(v) for v in paired_difference_ci(0, 0, 0, 0))
    diff, lo, hi = paired_difference_ci(0, 0, 0, 10)  # no responder on either arm
    assert diff == 0.0 and lo < 0.0 < hi
    diff, lo, hi = paired_difference_ci(0, 0, 30, 0)  # every patient responds on arm 2 only
    assert diff == -1.0 and lo == -1.0 and hi == pytest.approx(-0.8395, abs=5e-5)
    for bad in (-1, 1.5, True, "3", None):
        with pytest.raises(ValueError):
            paired_difference_ci(bad, 1, 1, 1)
    wider = paired_difference_ci(18, 12, 2, 18, z=2.5758293035489)  # 99 %
    assert wider[1] < 0.0562 and wider[2] > 0.3290
