"""Compiled Rosenbrock (Rodas4) integrator of the fast engine: the template half.

This file is not used as it stands: :mod:`il2sim.engine._jit` appends its
source text to the model functions generated from the equation declaration
(``rhs(y, p, u, out)``, ``observe(y, p, u, out)``, ``jacobian(y, p, u, jac)``
and the flag ``ANALYTIC_JACOBIAN``), writes the result to a
cache directory and lets numba compile it there (``cache=True``), so the
machine compiles it once. The functions below refer to that generated
``rhs`` as a global.

Method
------
Rodas4 (Hairer and Wanner, *Solving ODEs II*, section IV.7; coefficients as
in Hairer's RODAS code and DifferentialEquations.jl's ``Rodas4``): a
six-stage, stiffly accurate, L-stable Rosenbrock method of order 4 with an
embedded order-3 error estimate (the last stage). A one-step method suits a
model with a discontinuity at every dose, infusion end and care decision: it
restarts at full order, and it carries the patient's last step size into the
next segment. The model is autonomous between decision times (controls are
piecewise constant), so no time-derivative terms are needed.

* Jacobian: analytic, generated from the declaration by forward-mode chain
  rule through the algebraics (``ANALYTIC_JACOBIAN``); otherwise forward
  differences, columns grouped by a colouring of the structural sparsity
  pattern (one right-hand side per colour instead of one per state). A
  rejected step reuses it.
* Linear algebra: ``W = I/(h*gamma) - J`` is factored without pivoting in a
  fill-reducing (minimum-degree) order over its precomputed fill pattern,
  which holds a sixth of the dense entries. The factors live in one
  compressed array (diagonal, L by columns, U by rows) with precomputed index
  maps (:func:`il2sim.engine._jit.compressed_lu_maps`), so building ``W``,
  eliminating and the six solves of a step read only those entries, in
  order. A pivot that is zero or small against its column sends that step to
  a dense LU with partial pivoting.
* Error: RMS of the last stage over ``atol_i + rtol*max(|y0_i|, |y1_i|)``;
  step factor ``0.9 err^(-1/4)`` clipped to [0.2, 6] (1 after a rejection).
* Output: cubic Hermite interpolation between accepted steps from the states
  and derivatives at both ends (the end derivative is the next step's first
  stage, so it costs nothing).

Every patient is integrated with its own step sequence: a result never
depends on which other patients share the batch.
"""

import math

import numpy as np
from numba import njit

GAMMA = 0.25
A21 = 1.544
A31 = 0.9466785280815826
A32 = 0.2557011698983284
A41 = 3.314825187068521
A42 = 2.896124015972201
A43 = 0.9986419139977817
A51 = 1.221224509226641
A52 = 6.019134481288629
A53 = 12.53708332932087
A54 = -0.6878860361058950
C21 = -5.6688
C31 = -2.430093356833875
C32 = -0.2063599157091915
C41 = -0.1073529058151375
C42 = -9.594562251023355
C43 = -20.47028614809616
C51 = 7.496443313967647
C52 = -10.24680431464352
C53 = -33.99990352819905
C54 = 11.70890893206160
C61 = 8.083246795921522
C62 = -7.981132988064893
C63 = -31.52159432874371
C64 = 16.31930543123136
C65 = -6.058818238834054

SQRT_EPS = 1.4901161193847656e-08

# status codes returned by integrate()
OK = 0
TOO_MANY_STEPS = 1
STEP_TOO_SMALL = 2
NOT_FINITE = 3


@njit(cache=True, error_model="numpy")
def _lu_factor(a, piv):
    """In-place LU with partial pivoting; returns False when singular."""
    n = a.shape[0]
    for k in range(n):
        m = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            v = abs(a[i, k])
            if v > big:
                big = v
                m = i
        piv[k] = m
        if big == 0.0 or not math.isfinite(big):
            return False
        if m != k:
            for j in range(n):
                tmp = a[k, j]
                a[k, j] = a[m, j]
                a[m, j] = tmp
        inv = 1.0 / a[k, k]
        for i in range(k + 1, n):
            f = a[i, k] * inv
            if f != 0.0:
                a[i, k] = f
                for j in range(k + 1, n):
                    a[i, j] -= f * a[k, j]
            else:
                a[i, k] = 0.0
    return True


@njit(cache=True, error_model="numpy")
def _lu_solve(lu, piv, b):
    """Solve in place with the factors of _lu_factor."""
    n = lu.shape[0]
    for k in range(n):
        m = piv[k]
        if m != k:
            tmp = b[k]
            b[k] = b[m]
            b[m] = tmp
    for i in range(n):
        s = b[i]
        for j in range(i):
            s -= lu[i, j] * b[j]
        b[i] = s
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= lu[i, j] * b[j]
        b[i] = s / lu[i, i]


@njit(cache=True, error_model="numpy")
def _sparse_lu(lu, n, l_ptr, l_rows, u_ptr, u_cols, upd, uoff):
    """In-place LU without pivoting of the compressed ``lu`` (rows and columns already permuted).

    ``lu`` holds the diagonal (``lu[k]``; the reciprocal of the pivot once factored), then L by columns (``lu[n + q]``
    is row ``l_rows[q]``), then U by rows (``lu[n + nL + r]`` is column
    ``u_cols[r]``): every entry of the precomputed fill pattern, contiguous
    in the order the elimination and the solves read them. The update of
    entry ``(l_rows[q], u_cols[r])`` goes to ``lu[upd[uoff[q] + r - u_ptr[k]]]``.
    Returns False when a pivot is zero, not finite or small against its
    column (|pivot| < 1e-8 max|column|); the caller then falls back to the
    dense LU with partial pivoting for that step.
    """
    nl = l_rows.shape[0]
    for k in range(n):
        pivot = lu[k]
        if pivot == 0.0 or not math.isfinite(pivot):
            return False
        big = 0.0
        for q in range(l_ptr[k], l_ptr[k + 1]):
            v = abs(lu[n + q])
            if v > big:
                big = v
        if abs(pivot) < 1e-8 * big:
            return False
        inv = 1.0 / pivot
        lu[k] = inv  # the solves multiply by it (a division is on their critical path)
        u0 = u_ptr[k]
        u1 = u_ptr[k + 1]
        for q in range(l_ptr[k], l_ptr[k + 1]):
            f = lu[n + q] * inv
            lu[n + q] = f
            if f != 0.0:
                o = uoff[q] - u0
                for r in range(u0, u1):
                    lu[upd[o + r]] -= f * lu[n + nl + r]
    return True


@njit(cache=True, error_model="numpy")
def _sparse_solve(lu, iperm, l_ptr, l_rows, u_ptr, u_cols, b, tmp):
    """Solve in place with the factors of _sparse_lu (b in the original ordering)."""
    n = iperm.shape[0]
    nl = l_rows.shape[0]
    for i in range(n):
        tmp[iperm[i]] = b[i]
    for k in range(n):
        v = tmp[k]
        if v != 0.0:
            for q in range(l_ptr[k], l_ptr[k + 1]):
                tmp[l_rows[q]] -= lu[n + q] * v
    for k in range(n - 1, -1, -1):
        s = tmp[k]
        for r in range(u_ptr[k], u_ptr[k + 1]):
            s -= lu[n + nl + r] * tmp[u_cols[r]]
        tmp[k] = s * lu[k]
    for i in range(n):
        b[i] = tmp[iperm[i]]


@njit(cache=True, error_model="numpy")
def _factor(jac, inv_hg, lu, w, piv, col_ptr, col_rows, jpos, l_ptr, l_rows, u_ptr, u_cols, upd, uoff):
    """Factor W = I/(h gamma) - J: sparse (compressed, permuted) when its pivots are sound, else dense.

    Returns 1 (sparse, in ``lu``), 2 (dense, in ``w``) or 0 (singular).
    """
    n = w.shape[0]
    if GENERATED_LU:
        if w_factor(jac, inv_hg, lu):
            return 1
    else:
        for q in range(lu.shape[0]):
            lu[q] = 0.0
        for j in range(n):
            for r in range(col_ptr[j], col_ptr[j + 1]):
                lu[jpos[r]] = -jac[col_rows[r], j]
        for k in range(n):
            lu[k] += inv_hg
        if _sparse_lu(lu, n, l_ptr, l_rows, u_ptr, u_cols, upd, uoff):
            return 1
    for i in range(n):
        for j in range(n):
            w[i, j] = -jac[i, j]
        w[i, i] += inv_hg
    return 2 if _lu_factor(w, piv) else 0


@njit(cache=True, error_model="numpy")
def _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, b, tmp):
    if mode == 1:
        if GENERATED_LU:
            w_solve(lu, b, tmp)
        else:
            _sparse_solve(lu, iperm, l_ptr, l_rows, u_ptr, u_cols, b, tmp)
    else:
        _lu_solve(w, piv, b)


@njit(cache=True, error_model="numpy")
def _jacobian(y, f0, p, u, scale, jac, col_ptr, col_rows, color_ptr, color_cols, ytmp, ftmp):
    """Forward-difference Jacobian, one evaluation per colour of the sparsity pattern."""
    n = y.shape[0]
    for c in range(color_ptr.shape[0] - 1):
        for i in range(n):
            ytmp[i] = y[i]
        for q in range(color_ptr[c], color_ptr[c + 1]):
            j = color_cols[q]
            ytmp[j] = y[j] + SQRT_EPS * max(abs(y[j]), scale[j])
        rhs(ytmp, p, u, ftmp)
        for q in range(color_ptr[c], color_ptr[c + 1]):
            j = color_cols[q]
            d = ytmp[j] - y[j]
            for r in range(col_ptr[j], col_ptr[j + 1]):
                i = col_rows[r]
                jac[i, j] = (ftmp[i] - f0[i]) / d


@njit(cache=True, error_model="numpy")
def _all_finite(x):
    for i in range(x.shape[0]):
        if not math.isfinite(x[i]):
            return False
    return True


@njit(cache=True, error_model="numpy")
def integrate(t0, t1, y, p, u, h, rtol, atol, scale, max_step, max_steps, sample_t, sample_y,
              col_ptr, col_rows, color_ptr, color_cols, iperm, l_ptr, l_rows, u_ptr, u_cols, jpos, upd, uoff, stats):
    """Integrate ``y`` (in place) from ``t0`` to ``t1`` with constant controls ``u``.

    ``sample_t`` are ascending output times in ``[t0, t1)``; their states go
    to the rows of ``sample_y`` (a time equal to ``t0`` gets ``y`` as given).
    ``h`` is the first step to try (the patient's last proposal); at most
    ``max_steps`` steps are accepted. ``stats``
    accumulates [steps, rejected, rhs evaluations, jacobians, LU factorisations].

    Returns ``(status, h_next, h_first)``: ``h_first`` is the first accepted
    step scaled by its error to the step that would just have met the
    tolerance, a good first step for the next segment that starts with the
    same discontinuity (0 when that step was cut short to end on ``t1``, or
    none was accepted).
    """
    n = y.shape[0]
    jac = np.zeros((n, n))
    w = np.empty((n, n))
    lu = np.empty(n + l_rows.shape[0] + u_cols.shape[0])
    piv = np.empty(n, dtype=np.int64)
    f0 = np.empty(n)
    f1 = np.empty(n)
    k1 = np.empty(n)
    k2 = np.empty(n)
    k3 = np.empty(n)
    k4 = np.empty(n)
    k5 = np.empty(n)
    k6 = np.empty(n)
    yt = np.empty(n)
    ft = np.empty(n)
    ft2 = np.empty(n)
    y1 = np.empty(n)
    n_samples = sample_t.shape[0]
    s = 0
    while s < n_samples and sample_t[s] <= t0:
        for i in range(n):
            sample_y[s, i] = y[i]
        s += 1
    t = t0
    if not (t1 - t0 > 1e-12 * max(1.0, abs(t0))):  # nothing to integrate (below the spacing of t)
        while s < n_samples:
            for i in range(n):
                sample_y[s, i] = y[i]
            s += 1
        return OK, h, 0.0
    rhs(y, p, u, f0)
    stats[2] += 1
    if not _all_finite(f0):
        return NOT_FINITE, h, 0.0
    h = min(h, max_step)
    have_jac = False
    rejected = False
    steps = 0
    h_proposal = h
    h_first = -1.0
    while t < t1:
        last = False
        h_try = h
        if t + h_try >= t1 or t + 1.0000001 * h_try >= t1:
            h_try = t1 - t
            last = True
        if h_try < 1e-12 * max(1.0, abs(t)):
            return STEP_TOO_SMALL, h, max(h_first, 0.0)
        if not have_jac:
            if ANALYTIC_JACOBIAN:
                jacobian(y, p, u, jac)
            else:
                _jacobian(y, f0, p, u, scale, jac, col_ptr, col_rows, color_ptr, color_cols, yt, ft)
                stats[2] += color_ptr.shape[0] - 1
            stats[3] += 1
            have_jac = True
        inv_hg = 1.0 / (h_try * GAMMA)
        mode = _factor(jac, inv_hg, lu, w, piv, col_ptr, col_rows, jpos, l_ptr, l_rows, u_ptr, u_cols, upd, uoff)
        stats[4] += 1
        ok = mode != 0
        if ok:
            inv_h = 1.0 / h_try
            # stage 1
            for i in range(n):
                k1[i] = f0[i]
            _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, k1, ft2)
            # stage 2
            for i in range(n):
                yt[i] = y[i] + A21 * k1[i]
            rhs(yt, p, u, ft)
            for i in range(n):
                k2[i] = ft[i] + C21 * k1[i] * inv_h
            _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, k2, ft2)
            # stage 3
            for i in range(n):
                yt[i] = y[i] + A31 * k1[i] + A32 * k2[i]
            rhs(yt, p, u, ft)
            for i in range(n):
                k3[i] = ft[i] + (C31 * k1[i] + C32 * k2[i]) * inv_h
            _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, k3, ft2)
            # stage 4
            for i in range(n):
                yt[i] = y[i] + A41 * k1[i] + A42 * k2[i] + A43 * k3[i]
            rhs(yt, p, u, ft)
            for i in range(n):
                k4[i] = ft[i] + (C41 * k1[i] + C42 * k2[i] + C43 * k3[i]) * inv_h
            _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, k4, ft2)
            # stage 5
            for i in range(n):
                yt[i] = y[i] + A51 * k1[i] + A52 * k2[i] + A53 * k3[i] + A54 * k4[i]
            rhs(yt, p, u, ft)
            for i in range(n):
                k5[i] = ft[i] + (C51 * k1[i] + C52 * k2[i] + C53 * k3[i] + C54 * k4[i]) * inv_h
            _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, k5, ft2)
            # stage 6 (stiffly accurate: the solution is the last stage's argument plus k6)
            for i in range(n):
                yt[i] = yt[i] + k5[i]
            rhs(yt, p, u, ft)
            for i in range(n):
                k6[i] = ft[i] + (C61 * k1[i] + C62 * k2[i] + C63 * k3[i] + C64 * k4[i] + C65 * k5[i]) * inv_h
            _solve(mode, lu, w, piv, iperm, l_ptr, l_rows, u_ptr, u_cols, k6, ft2)
            stats[2] += 5
            err = 0.0
            for i in range(n):
                y1[i] = yt[i] + k6[i]
                sc = atol[i] + rtol * max(abs(y[i]), abs(y1[i]))
                e = k6[i] / sc
                err += e * e
            err = math.sqrt(err / n)
            ok = math.isfinite(err)
        if ok:
            fac = 0.9 * err ** -0.25 if err > 0.0 else 6.0
            fac = min(6.0, max(0.2, fac))
        else:
            err = 2.0
            fac = 0.25
        if err <= 1.0:
            rhs(y1, p, u, f1)
            stats[2] += 1
            if not _all_finite(f1):
                err = 2.0
                fac = 0.25
        if err <= 1.0:
            t_new = t1 if last else t + h_try
            # dense output: cubic Hermite on [t, t_new]
            while s < n_samples and sample_t[s] < t_new:
                th = (sample_t[s] - t) / h_try
                h00 = (1.0 + 2.0 * th) * (1.0 - th) * (1.0 - th)
                h10 = th * (1.0 - th) * (1.0 - th)
                h01 = th * th * (3.0 - 2.0 * th)
                h11 = th * th * (th - 1.0)
                for i in range(n):
                    sample_y[s, i] = h00 * y[i] + h10 * h_try * f0[i] + h01 * y1[i] + h11 * h_try * f1[i]
                s += 1
            for i in range(n):
                y[i] = y1[i]
                f0[i] = f1[i]
            t = t_new
            if h_first < 0.0:
                h_first = 0.0 if last else min(h_try * fac, max_step)  # the step that would have met the tolerance
            steps += 1
            stats[0] += 1
            if rejected:
                fac = min(fac, 1.0)
            rejected = False
            have_jac = False
            h_new = min(h_try * fac, max_step)
            if last:  # a step cut short to end on t1 says little about longer steps
                h_proposal = max(h_new, h) if fac >= 1.0 else h_new
            else:
                h = h_new
                h_proposal = h_new
            if steps >= max_steps:
                return TOO_MANY_STEPS, h, h_first
        else:
            stats[1] += 1
            rejected = True
            h = h_try * fac
    while s < n_samples:
        for i in range(n):
            sample_y[s, i] = y[i]
        s += 1
    return OK, h_proposal, max(h_first, 0.0)
