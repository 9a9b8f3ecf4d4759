r"""Maximum-entropy weights of a virtual-patient pool (prevalence weighting of categorical outcomes).

Given binary features :math:`f_{ik}` of pool patients (responded, had
hypotension reported, ...) and target prevalences :math:`t_k`, the weights
closest to uniform in Kullback-Leibler divergence that reproduce the targets are

.. math:: w_i \propto \exp\Big(\sum_k \lambda_k f_{ik}\Big),

with :math:`\lambda` minimising the convex dual
:math:`\log \sum_i \exp(\lambda \cdot f_i) - \lambda \cdot t`.
Targets from trials carry sampling error, so il2sim solves the *relaxed* dual

.. math:: \log \sum_i e^{\lambda\cdot f_i} - \lambda\cdot t + \tfrac12 \sum_k \sigma_k^2 \lambda_k^2,

whose solution matches each target to within about its standard error
:math:`\sigma_k` (the binomial SE at the published n) instead of forcing an
exact match at any cost in effective sample size (the Gaussian-prior form of
maximum-entropy estimation; Dudik, Phillips & Schapire, JMLR 2007, recalled).
With :math:`\sigma = 0` it is the exact maximum-entropy solution.

References
----------
.. [1] Jaynes ET. Information theory and statistical mechanics. Phys Rev 1957;106:620 (recalled).
.. [2] Allen RJ, Rieger TR, Musante CJ. Efficient generation and selection of
   virtual populations in quantitative systems pharmacology models. CPT
   Pharmacometrics Syst Pharmacol 2016;5:140-146 (recalled).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

__all__ = ["MaxEntResult", "maxent_weights", "kish_ess"]


@dataclass(frozen=True)
class MaxEntResult:
    """Weights (sum 1), multipliers, the weighted feature means and solver status."""

    weights: np.ndarray
    multipliers: np.ndarray
    achieved: np.ndarray
    success: bool
    message: str

    @property
    def ess(self) -> float:
        return kish_ess(self.weights)


def kish_ess(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w * w))


def maxent_weights(features: np.ndarray, targets: np.ndarray, sigma: np.ndarray | float = 0.0,
                   *, max_multiplier: float = 50.0) -> MaxEntResult:
    """Maximum-entropy weights of ``n`` patients matching ``k`` feature means.

    Parameters
    ----------
    features
        ``(n, k)`` feature values (0/1 indicators for prevalences; any bounded
        numbers work).
    targets
        ``(k,)`` target means.
    sigma
        ``(k,)`` (or scalar) tolerances: the relaxation weight of each target,
        typically its standard error. 0 asks for an exact match.
    max_multiplier
        Bound on ``|lambda_k|``: keeps an unreachable target from sending the
        weights to a single patient (the result reports what was achieved).
    """
    f = np.asarray(features, dtype=float)
    t = np.asarray(targets, dtype=float)
    if f.ndim != 2 or t.shape != (f.shape[1],):
        raise ValueError(f"features {f.shape} and targets {t.shape}: expected (n, k) and (k,)")
    s2 = np.broadcast_to(np.asarray(sigma, dtype=float), t.shape) ** 2
    # centre the features on the targets: the dual is then log-mean-exp(lambda . (f - t)) + ridge
    g = f - t

    def dual(lam: np.ndarray) -> tuple[float, np.ndarray]:
        z = g @ lam
        lse = logsumexp(z)
        p = np.exp(z - lse)
        return float(lse - np.log(len(z)) + 0.5 * np.sum(s2 * lam * lam)), g.T @ p + s2 * lam

    res = minimize(dual, np.zeros(len(t)), jac=True, method="L-BFGS-B",
                   bounds=[(-max_multiplier, max_multiplier)] * len(t),
                   options={"maxiter": 5000, "gtol": 1e-10, "ftol": 1e-15})
    z = g @ res.x
    w = np.exp(z - logsumexp(z))
    return MaxEntResult(weights=w, multipliers=res.x, achieved=f.T @ w, success=bool(res.success),
                        message=str(res.message))
