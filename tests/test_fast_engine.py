"""The fast engine: its integrator against analytic solutions, and against the reference engine."""

import numpy as np
import pytest
from scipy.linalg import expm

from il2sim.engine import FastSettings, SimulationFailedWarning, SolverSettings, simulate, simulate_batch, simulate_fast
from il2sim.engine._jit import build_module, integrator_structure, jacobian_pattern, kernel
from il2sim.model import default_model, typical_patient
from il2sim.protocol import NAMED_REGIMENS, GiveAllPolicy, make_policy


# toy systems built into kernel modules with the same template as the model's
def _toy_module(rhs_body: str, n_states: int) -> str:
    """Kernel source for a toy system: its rhs body, and the entry points the template expects
    (finite-difference Jacobian)."""
    return f'''
@njit(cache=True, error_model="numpy")
def rhs(y, p, u, out):
{rhs_body}

@njit(cache=True, error_model="numpy")
def observe(y, p, u, out):
    out[0] = y[0]


@njit(cache=True, error_model="numpy")
def jacobian(y, p, u, jac):
    pass


@njit(cache=True, error_model="numpy")
def w_factor(jac, inv_hg, lu):
    return False


@njit(cache=True, error_model="numpy")
def w_solve(lu, b, tmp):
    pass


ANALYTIC_JACOBIAN = False
GENERATED_LU = False
N_STATES = {n_states}
N_OBSERVABLES = 1
'''


# a stiff linear system y' = A y with A in p (row-major), and y' = -y^2
_LINEAR = _toy_module("""    n = y.shape[0]
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += p[i * n + j] * y[j]
        out[i] = s
""", 3)
_RICCATI = _toy_module("    out[0] = -y[0] * y[0]\n", 1)


def _dense(n):
    colouring = (np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64))  # one column per colour
    return integrator_structure(np.ones((n, n), dtype=bool), np.arange(n), colouring)


def _run(module, y0, p, t1, rtol, samples=np.zeros(0)):
    n = len(y0)
    y = np.array(y0, dtype=float)
    out = np.zeros((len(samples), n))
    stats = np.zeros(5, dtype=np.int64)
    status, _, _ = module.integrate(0.0, t1, y, np.asarray(p, float), np.zeros(1), 1e-4, rtol, np.full(n, rtol * 1e-3),
                                 np.ones(n), np.inf, 10**6, samples, out, *_dense(n), stats)
    assert status == 0
    return y, out, stats


def test_stiff_linear_system_matches_the_matrix_exponential():
    module = build_module(_LINEAR, "test_linear")
    a = np.array([[-1000.0, 1.0, 0.0], [999.0, -2.0, 0.5], [0.0, 1.0, -0.5]])  # eigenvalues from -1000 to ~-0.4
    y0 = np.array([1.0, 0.0, 2.0])
    samples = np.array([0.0, 0.3, 1.7, 4.2])
    errors = []
    for rtol in (1e-5, 1e-7, 1e-9):
        y, out, stats = _run(module, y0, a.ravel(), 5.0, rtol, samples)
        exact = expm(a * 5.0) @ y0
        err = np.max(np.abs(y - exact) / np.abs(exact))
        assert err < 20 * rtol, (rtol, err)
        errors.append(err)
        for ts, row in zip(samples, out):  # dense output (cubic Hermite) stays within the tolerance's reach
            ref = expm(a * ts) @ y0
            assert np.allclose(row, ref, rtol=100 * rtol, atol=1e-12), (ts, row, ref)
    # a method of order >= 3 gains more than two decades of accuracy per four decades of tolerance
    assert errors[2] < errors[0] * 1e-2


def test_nonlinear_solution_and_step_size_scaling():
    module = build_module(_RICCATI, "test_riccati")
    steps = []
    for rtol in (1e-6, 1e-8, 1e-10):
        y, _, stats = _run(module, [1.0], [], 10.0, rtol)
        assert abs(y[0] - 1.0 / 11.0) < 20 * rtol / 11.0
        steps.append(stats[0])
    # order 4 (error estimate of order 3): steps grow about as tol^(-1/4), far slower than for order 1 or 2
    assert steps[2] / steps[0] < 100 ** 0.5, steps


def _treated_states(n_states=4, seed=1):
    """The typical patient's baseline perturbed by +-30 %, with and without a drug infusion and care."""
    from il2sim.model import derive_constants

    cm = default_model().compiled
    ind = derive_constants(typical_patient("melanoma"))
    rng = np.random.default_rng(seed)
    for k in range(n_states):
        y = ind.y_baseline * rng.uniform(0.7, 1.3, cm.n_states) + 1e-4
        u = rng.uniform(0.0, 50.0, len(cm.control_names))
        u[cm.control_names.index("drug_iv_rate")] = 1e8 * (k % 2)
        yield ind, y, u


def test_jacobian_pattern_covers_the_finite_difference_jacobian():
    """Every non-zero of a numerical Jacobian of the model at a treated state is in the declared pattern."""
    cm = default_model().compiled
    pattern = jacobian_pattern(default_model().compiled)
    for ind, y, u in _treated_states(2):
        f0 = np.array(cm.rhs(0.0, y, ind.p, list(u)))
        for j in range(cm.n_states):
            yj = y.copy()
            yj[j] += 1e-6 * max(abs(y[j]), 1.0)
            col = np.array(cm.rhs(0.0, yj, ind.p, list(u))) - f0
            assert not np.any((col != 0) & ~pattern[:, j]), cm.state_ids[j]
    assert kernel(default_model().compiled).n_colours < cm.n_states


def test_analytic_jacobian_matches_central_differences():
    """The generated chain-rule Jacobian against central differences of the generated right-hand side."""
    from il2sim.engine import atol_scale

    cm = default_model().compiled
    k = kernel(default_model().compiled).module
    n = cm.n_states
    for ind, y, u in _treated_states(4):
        p = np.asarray(ind.p, dtype=float)
        scale = atol_scale(ind)
        jac = np.zeros((n, n))
        k.jacobian(y, p, u, jac)
        fd = np.zeros((n, n))
        f, g, f0 = np.empty(n), np.empty(n), np.empty(n)
        k.rhs(y, p, u, f0)
        for j in range(n):
            h = 1e-5 * max(abs(y[j]), scale[j])
            yp, ym = y.copy(), y.copy()
            yp[j] += h
            ym[j] -= h
            k.rhs(yp, p, u, f)
            k.rhs(ym, p, u, g)
            fd[:, j] = (f - g) / (2 * h)
        # on the states' own scales; the floor is what central differences can resolve in each row
        a, b = jac * scale[None, :], fd * scale[None, :]
        floor = 1e-7 * (np.abs(f0)[:, None] + np.abs(b).max(axis=1, keepdims=True))
        bad = np.abs(a - b) > 1e-4 * np.abs(b) + floor
        assert not bad.any(), [(cm.state_ids[i], cm.state_ids[j], jac[i, j], fd[i, j]) for i, j in zip(*np.nonzero(bad))][:5]
        assert not np.any((jac != 0) & ~jacobian_pattern(default_model().compiled))


# matched accuracy: both engines much tighter than the comparison tolerance
FAST_TIGHT = FastSettings(rtol=1e-9, atol=1e-11)
REF_TIGHT = SolverSettings(method="Radau", rtol=1e-9, atol=1e-11)
# absolute floors: a relative comparison is meaningless for quantities that pass through zero
FLOORS = {"il2_plasma_iu_per_ml": 1e-3, "aldesleukin_plasma_iu_per_ml": 1e-3, "urine_ml_per_h": 1e-2,
          "filtration_ml_h": 1e-2,  # changes sign
          "lymphocytes_per_ul": 1e-2}


# ratios defined only while there is drug: receptor-mediated clearance = elimination rate / concentration is
# a ratio of two vanishing numbers once a dose has cleared (compared where the reference has > 1e-2 IU/mL)
ONLY_WITH_DRUG = ("receptor_clearance_ml_per_min",)


def _compare_observables(a, b, rtol=1e-4, default_floor=1e-6):
    worst = {}
    with_drug = b.observables["aldesleukin_plasma_iu_per_ml"] > 1e-2
    for name, va in a.observables.items():
        vb = b.observables[name]
        if name in ONLY_WITH_DRUG:
            va, vb = va[with_drug], vb[with_drug]
        floor = FLOORS.get(name, default_floor * max(1.0, float(np.max(np.abs(vb)))))
        rel = np.abs(va - vb) / np.maximum(np.abs(vb), floor)
        worst[name] = float(np.max(rel))
    bad = {k: v for k, v in worst.items() if v > rtol}
    assert not bad, bad
    return worst


def test_every_dose_given_matches_the_reference_engine_at_matched_accuracy():
    patient = typical_patient("melanoma")
    reg = NAMED_REGIMENS["high-dose"]
    ref = simulate(patient, reg, days=6, policy=GiveAllPolicy(), solver=REF_TIGHT, run_in=False)
    fast = simulate_fast(patient, reg, days=6, policy=GiveAllPolicy(), solver=FAST_TIGHT, run_in=False)
    assert ref.success and fast.success
    _compare_observables(fast, ref)


def test_clinical_protocol_matches_the_reference_engine_at_matched_accuracy():
    patient = typical_patient("melanoma")
    reg = NAMED_REGIMENS["high-dose"]
    policy = make_policy("pivotal")
    ref = simulate(patient, reg, days=8, policy=policy, solver=REF_TIGHT, run_in=False)
    fast = simulate_fast(patient, reg, days=8, policy=policy, solver=FAST_TIGHT, run_in=False)
    assert [(d.given, d.held_by) for d in fast.doses] == [(d.given, d.held_by) for d in ref.doses]
    assert [t for t, _ in fast.decisions] == [t for t, _ in ref.decisions]
    assert np.array_equal(fast.controls, ref.controls)
    _compare_observables(fast, ref)


def test_a_patient_is_the_same_in_any_batch():
    from il2sim.population import PopulationSpec, draw_patient

    spec = PopulationSpec("melanoma", source="prior")
    patients = [draw_patient(spec, 7, i).patient for i in range(4)]
    reg = NAMED_REGIMENS["high-dose"]
    policy = make_policy("pivotal")
    alone = simulate_fast(patients[2], reg, days=10, policy=policy)
    batch = simulate_batch(patients, reg, days=10, policy=policy)
    reordered = simulate_batch(patients[::-1], reg, days=10, policy=policy)
    for other in (batch[2], reordered[1]):
        assert np.array_equal(alone.y, other.y)
        assert alone.doses == other.doses
        assert alone.stats == other.stats


def test_a_batch_larger_than_its_in_flight_window_gives_every_patient_as_alone(monkeypatch):
    """simulate_batch keeps at most MAX_IN_FLIGHT runs at once and starts the next as one ends (issue 16)."""
    import il2sim.engine._registry as registry
    from il2sim.population import PopulationSpec, draw_patient

    spec = PopulationSpec("melanoma", source="prior")
    patients = [draw_patient(spec, 7, i).patient for i in range(5)]
    reg = NAMED_REGIMENS["high-dose"]
    policy = make_policy("pivotal")
    alone = [simulate_fast(p, reg, days=3, policy=policy) for p in patients]
    monkeypatch.setattr(registry, "MAX_IN_FLIGHT", 2)
    live, most = [0], [0]

    class Counted(registry._Run):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            live[0] += 1
            most[0] = max(most[0], live[0])

        def advance(self):
            out = super().advance()
            live[0] -= out is not None
            return out

    monkeypatch.setattr(registry, "_Run", Counted)
    got: dict = {}
    assert simulate_batch(patients, reg, days=3, policy=policy, on_result=got.__setitem__) == [None] * 5
    assert sorted(got) == list(range(5)) and most[0] == 2 and live[0] == 0
    for a, k in zip(alone, range(5)):
        assert np.array_equal(a.y, got[k].y) and a.doses == got[k].doses and a.stats == got[k].stats


def test_streaming_results_and_failure_status():
    reg = NAMED_REGIMENS["high-dose"]
    got = {}
    out = simulate_batch([typical_patient("melanoma"), typical_patient("rcc")], reg, days=2, policy=GiveAllPolicy(),
                         on_result=lambda i, r: got.__setitem__(i, r))
    assert out == [None, None] and sorted(got) == [0, 1] and all(r.success for r in got.values())
    # a step budget that cannot be met gives a failed status with the part computed, not an exception
    with pytest.warns(SimulationFailedWarning, match="Rodas4"):
        res = simulate_fast(typical_patient("melanoma"), reg, days=2, policy=GiveAllPolicy(),
                            solver=FastSettings(max_step_h=1e-3, max_steps=50), run_in=False)
    assert not res.success and "Rodas4" in res.message
    with pytest.raises(ValueError, match="rtol"):
        FastSettings(rtol=2.0)


@pytest.mark.parametrize("expr", [
    "a * b / (c + a) - 3 * a", "exp(-a * b) + ln(a + c)", "sqrt(a * a + b)", "pow(a, 2.5) + pow(b, a)",
    "max(a, b) * min(a, c)", "above(a - b, 0.1) + above(c, 5)", "-(a / (b * c)) + +a",
])
def test_symbolic_derivatives_match_central_differences(expr):
    import math

    from il2sim.engine._symbolic import derivative

    ns = {"exp": math.exp, "ln": math.log, "sqrt": math.sqrt, "pow": math.pow, "max": max, "min": min,
          "above": lambda x, lim: x if x >= lim else 0.0}
    point = {"a": 1.3, "b": 0.7, "c": 2.1}
    for var in point:
        d = eval(derivative(expr, var), ns, dict(point))
        h = 1e-6
        hi = eval(expr, ns, {**point, var: point[var] + h})
        lo = eval(expr, ns, {**point, var: point[var] - h})
        assert d == pytest.approx((hi - lo) / (2 * h), rel=1e-6, abs=1e-8), (expr, var)
    assert derivative(expr, "zz") == "0.0"


def test_a_segment_below_the_spacing_of_time_is_a_no_op():
    module = build_module(_RICCATI, "test_riccati")
    y = np.array([0.5])
    out = np.zeros((1, 1))
    stats = np.zeros(5, dtype=np.int64)
    t0 = 8000.0
    status, h, _ = module.integrate(t0, t0 + 1e-12, y, np.zeros(0), np.zeros(1), 0.1, 1e-6, np.full(1, 1e-9), np.ones(1),
                                 np.inf, 100, np.array([t0]), out, *_dense(1), stats)
    assert status == 0 and h == 0.1 and y[0] == 0.5 and out[0, 0] == 0.5 and stats[0] == 0
