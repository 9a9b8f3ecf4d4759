r"""Non-compartmental analysis (NCA) of a concentration-time profile after one dose.

Pure functions over arrays; no I/O. Units follow the inputs: times in hours,
concentrations in any unit ``C`` (AUC in ``C * h``).

References
----------
.. [1] Gabrielsson J, Weiner D. Non-compartmental analysis. Methods Mol Biol
   2012;929:377-389. https://doi.org/10.1007/978-1-62703-050-2_16
.. [2] Certara. Phoenix WinNonlin user's guide: NCA, "Lambda Z or slope
   estimation settings" (best-fit rule, linear-up/log-down AUC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._errors import UserError

__all__ = ["NCAResult", "nca", "fit_half_life"]

_ADJ_R2_TOL = 1e-4


@dataclass(frozen=True, slots=True)
class NCAResult:
    """Result of :func:`nca`.

    Parameters
    ----------
    cmax
        Highest observed concentration in the window (``C``).
    tmax_h
        Time of ``cmax`` (first occurrence), h.
    auc_0_last
        AUC from the first point in the window to the last positive
        concentration, linear-up/log-down trapezoid (``C * h``).
    auc_inf
        ``auc_0_last + c_last / lambda_z_per_h`` (``C * h``).
    lambda_z_per_h
        Terminal elimination rate constant, 1/h.
    t_half_terminal_min
        Terminal half-life ``ln 2 / lambda_z``, minutes.
    n_points_lambda_z
        Number of points used for ``lambda_z`` (0 if it could not be
        estimated).
    r2_adj
        Adjusted R^2 of the log-linear terminal fit.

    Notes
    -----
    ``lambda_z_per_h``, ``auc_inf``, ``t_half_terminal_min`` and ``r2_adj``
    are NaN when fewer than ``min_points`` positive terminal points exist, or
    when the best terminal fit does not decline (slope >= 0). When the window
    holds no positive concentration at all, every field is NaN (and
    ``n_points_lambda_z`` is 0).
    """

    cmax: float
    tmax_h: float
    auc_0_last: float
    auc_inf: float
    lambda_z_per_h: float
    t_half_terminal_min: float
    n_points_lambda_z: int
    r2_adj: float


def _as_profile(time_h: object, conc: object) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time_h, dtype=float)
    c = np.asarray(conc, dtype=float)
    if t.ndim != 1:
        raise UserError("time_h", f"an array of shape {t.shape}", "a 1-D array")
    if c.shape != t.shape:
        raise UserError("conc", f"an array of shape {c.shape}", f"shape {t.shape} (as time_h)")
    if not np.all(np.isfinite(t)):
        raise UserError("time_h", "non-finite values", "finite times")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise UserError("time_h", "times not strictly increasing", "strictly increasing times")
    return t, c


def _auc_lin_up_log_down(t: np.ndarray, c: np.ndarray) -> float:
    """AUC by the linear-up/log-down trapezoid rule."""
    if t.size < 2:
        return 0.0
    dt = np.diff(t)
    c1, c2 = c[:-1], c[1:]
    lin = 0.5 * (c1 + c2) * dt
    down = (c2 < c1) & (c2 > 0) & (c1 > 0)
    out = lin.copy()
    if np.any(down):
        a, b = c1[down], c2[down]
        out[down] = (a - b) / np.log(a / b) * dt[down]
    return float(np.sum(out))


def _loglinear(t: np.ndarray, logc: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and R^2 of ``logc`` on ``t`` (R^2 NaN if undefined)."""
    tm = t - t.mean()
    ym = logc - logc.mean()
    sxx = float(np.dot(tm, tm))
    syy = float(np.dot(ym, ym))
    if sxx <= 0.0:
        return math.nan, math.nan
    slope = float(np.dot(tm, ym)) / sxx
    if syy <= 0.0:
        return slope, math.nan
    resid = ym - slope * tm
    r2 = 1.0 - float(np.dot(resid, resid)) / syy
    return slope, r2


def nca(
    time_h: object,
    conc: object,
    *,
    dose_start_h: float = 0.0,
    dose_end_h: float | None = None,
    window_end_h: float | None = None,
    min_points: int = 3,
) -> NCAResult:
    r"""Non-compartmental analysis of one dose.

    Parameters
    ----------
    time_h
        Sample times, h, strictly increasing (1-D).
    conc
        Concentrations at ``time_h`` (same shape). Baseline (endogenous)
        subtraction is the caller's business.

    Other Parameters
    ----------------
    dose_start_h
        Start of the dose; points before it are ignored.
    dose_end_h
        End of the infusion, if any; terminal points must be at or after it.
    window_end_h
        Last time considered (inclusive); default: all points.
    min_points
        Minimum number of terminal points for ``lambda_z`` (>= 3 is usual;
        at least 2).

    Returns
    -------
    NCAResult
        NaN fields as documented there; never raises for too few points.

    Raises
    ------
    UserError
        If the arrays are not 1-D of equal shape, times are not finite and
        strictly increasing, or ``min_points < 2``.

    Notes
    -----
    * Points with ``dose_start_h <= t <= window_end_h`` are used.
    * ``auc_0_last`` integrates from the first used point to the last
      positive concentration: linear trapezoid where the concentration rises
      or is flat, log trapezoid :math:`(C_1 - C_2) \Delta t / \ln(C_1/C_2)`
      where it falls (both positive).
    * Terminal phase: positive concentrations strictly after ``tmax`` and at
      or after ``dose_end_h``. For each ``k >= min_points`` the last ``k``
      such points are fitted by least squares of :math:`\ln C` on ``t``, with
      adjusted :math:`R^2 = 1 - (1 - R^2)(k - 1)/(k - 2)`. Best-fit rule
      (WinNonlin): among the fits whose adjusted R^2 is within 1e-4 of the
      best, the one with the most points is taken. ``lambda_z = -slope``.
    * ``auc_inf = auc_0_last + C_last / lambda_z`` with ``C_last`` the last
      positive observed concentration.

    References
    ----------
    .. [1] Gabrielsson J, Weiner D. Methods Mol Biol 2012;929:377-389.
       https://doi.org/10.1007/978-1-62703-050-2_16

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0, 24.01, 0.05)
    >>> r = nca(t, 100 * np.exp(-0.5 * t))
    >>> round(r.lambda_z_per_h, 6), round(r.auc_inf, 3)
    (0.5, 200.0)
    """
    t, c = _as_profile(time_h, conc)
    if not isinstance(min_points, int | np.integer) or isinstance(min_points, bool) or min_points < 2:
        raise UserError("min_points", min_points, "an integer >= 2")
    end = math.inf if window_end_h is None else float(window_end_h)
    keep = (t >= dose_start_h) & (t <= end) & np.isfinite(c)
    t, c = t[keep], c[keep]
    nan = math.nan
    positive = np.flatnonzero(c > 0)
    if positive.size == 0:
        return NCAResult(nan, nan, nan, nan, nan, nan, 0, nan)

    i_max = int(np.argmax(c))
    cmax, tmax = float(c[i_max]), float(t[i_max])
    i_last = int(positive[-1])
    auc_last = _auc_lin_up_log_down(t[: i_last + 1], c[: i_last + 1])
    c_last = float(c[i_last])

    term = (t > tmax) & (c > 0)
    if dose_end_h is not None:
        term &= t >= dose_end_h
    tt, lc = t[term], np.log(c[term])
    best: tuple[float, float, int] | None = None  # (r2_adj, slope, k)
    fits = []
    for k in range(min_points, tt.size + 1):
        slope, r2 = _loglinear(tt[-k:], lc[-k:])
        if math.isnan(r2) or math.isnan(slope):
            continue
        r2_adj = 1.0 - (1.0 - r2) * (k - 1) / (k - 2) if k > 2 else r2
        fits.append((r2_adj, slope, k))
    if fits:
        top = max(f[0] for f in fits)
        best = max((f for f in fits if f[0] >= top - _ADJ_R2_TOL), key=lambda f: f[2])
    if best is None or not best[1] < 0:
        return NCAResult(cmax, tmax, auc_last, nan, nan, nan, 0, nan)
    r2_adj, slope, k = best
    lam = -slope
    return NCAResult(
        cmax=cmax,
        tmax_h=tmax,
        auc_0_last=auc_last,
        auc_inf=auc_last + c_last / lam,
        lambda_z_per_h=lam,
        t_half_terminal_min=math.log(2.0) / lam * 60.0,
        n_points_lambda_z=k,
        r2_adj=r2_adj,
    )


def fit_half_life(time_h: object, conc: object, t_from: float, t_to: float) -> float:
    """Half-life from a log-linear regression over a fixed time window.

    Parameters
    ----------
    time_h, conc
        The profile (as in :func:`nca`).
    t_from, t_to
        Window, h, inclusive at both ends.

    Returns
    -------
    float
        ``ln 2 / lambda`` in **minutes**, where ``-lambda`` is the least-squares
        slope of ``ln C`` on ``t`` over the positive concentrations in the
        window. NaN if fewer than 2 such points or if the slope is not negative.

    Raises
    ------
    UserError
        On malformed arrays (see :func:`nca`).
    """
    t, c = _as_profile(time_h, conc)
    sel = (t >= t_from) & (t <= t_to) & np.isfinite(c) & (c > 0)
    if int(sel.sum()) < 2:
        return math.nan
    slope, _ = _loglinear(t[sel], np.log(c[sel]))
    if math.isnan(slope) or not slope < 0:
        return math.nan
    return math.log(2.0) / -slope * 60.0
