"""The von Mises-Fisher kernel on S^m in float64 (THEORY 2): fast, NOT rigorous.

K_lambda(x, y) = c_{m+1}(lambda) exp(lambda <x, y>),
c_{m+1}(lambda) = lambda^{(m-1)/2} / ((2 pi)^{(m+1)/2} I_{(m-1)/2}(lambda)),
a_k^m(lambda) = I_{k+(m-1)/2}(lambda) / I_{(m-1)/2}(lambda).

The constructions use these values to choose lambda and prefix weights; whatever they
produce is judged afterwards by the estimator or the certifier, never by these numbers.
Bessel functions come from scipy's exponentially scaled ``ive`` so that lambda ~ 1e4
neither overflows nor underflows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special


def sphere_area(m: int) -> float:
    """|S^m| = 2 pi^{(m+1)/2} / Gamma((m+1)/2)."""
    return 2.0 * math.pi ** ((m + 1) / 2) / math.gamma((m + 1) / 2)


def log_vmf_constant(m: int, lam: float) -> float:
    """log c_{m+1}(lambda), the log of the vMF normalising constant on S^m (lambda > 0)."""
    nu = (m - 1) / 2
    log_bessel = math.log(special.ive(nu, lam)) + lam  # log I_nu(lam)
    return nu * math.log(lam) - (m + 1) / 2 * math.log(2 * math.pi) - log_bessel


def vmf_coefficient(m: int, k: int, lam: float) -> float:
    """a_k^m(lambda) = I_{k+(m-1)/2}(lambda) / I_{(m-1)/2}(lambda) (Funk-Hecke)."""
    nu = (m - 1) / 2
    return float(special.ive(nu + k, lam) / special.ive(nu, lam))


def smoothing_error_bound(m: int, lam: float, lipschitz: float) -> float:
    """L sqrt(2 (1 - a_1^m(lambda))) bounds |f * K_lambda - f|_inf (THEORY 3.1, step 1).

    Uses the explicit bound 1 - a_1^m <= m/(2 lambda) + (m+2)^2/(8 lambda^2).
    """
    return lipschitz * math.sqrt(m / lam + (m + 2) ** 2 / (4 * lam ** 2))


def lambda_for_smoothing(m: int, lipschitz: float, budget: float) -> float:
    """Smallest lambda with smoothing_error_bound(m, lambda, L) <= budget (closed form)."""
    # L^2 (m/lam + (m+2)^2/(4 lam^2)) = b^2  <=>  b^2 lam^2 - L^2 m lam - L^2 (m+2)^2/4 = 0
    b2, L2 = budget ** 2, lipschitz ** 2
    disc = (L2 * m) ** 2 + b2 * L2 * (m + 2) ** 2
    return (L2 * m + math.sqrt(disc)) / (2 * b2)


def quadrature_error_bound(lam: float, delta: float, sup_f: float, lipschitz: float,
                           normalised: bool) -> float:
    """Error of the vMF quadrature head against f * K_lambda for cells within delta of their centres.

    [derived] With equal-area cells V_k and centres b_k with |y - b_k| <= delta on V_k,
    |e^{lam<x,b>} - e^{lam<x,y>}| <= lam delta e^{lam delta} e^{lam<x,y>} for y in V_k, and
    integrating against c_{m+1} gives
      eta  = lam delta e^{lam delta}                       (|D - 1|, denominator),
      eta' = (lam |f|_inf + L) delta e^{lam delta}        (numerator).
    The core head's error is eta'; the softmax head's is (eta' + |f|_inf eta)/(1 - eta).
    Compared with THEORY 3.1's eta = c|S^m| lam e^lam delta (also a valid bound, from
    e^{lam <x,b>} - e^{lam <x,y>} <= lam delta e^lam), these are smaller exactly when
    e^{lam delta} <= c_{m+1}(lam) |S^m| e^lam, which holds on the routes' parameters (lam delta
    is small, and c |S^m| e^lam grows like lam^{m/2}); they are labelled as ours.
    Returns inf when eta >= 1.
    """
    growth = delta * math.exp(min(lam * delta, 700.0))
    eta = lam * growth
    eta_num = (lam * sup_f + lipschitz) * growth
    if not normalised:
        return eta_num
    if eta >= 1:
        return math.inf
    return (eta_num + sup_f * eta) / (1 - eta)


def largest_quadrature_delta(lam: float, sup_f: float, lipschitz: float, budget: float,
                             normalised: bool) -> float:
    """The largest covering radius delta whose quadrature bound is <= budget (bisection: the
    bound increases with delta); 0 when none is."""
    lo, hi = 0.0, 2.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if quadrature_error_bound(lam, mid, sup_f, lipschitz, normalised) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def paper_quadrature_eta(m: int, lam: float, delta: float) -> float:
    """THEORY 3.1's denominator bound eta = c_{m+1}(lam) |S^m| lam e^lam delta, for comparison."""
    return math.exp(log_vmf_constant(m, lam) + math.log(sphere_area(m) * lam * delta) + lam)


def vmf_density(m: int, lam: float, cosines: np.ndarray) -> np.ndarray:
    """K_lambda as a function of t = <x, y> (vectorised, log-scaled)."""
    return np.exp(log_vmf_constant(m, lam) + lam * np.asarray(cosines, dtype=np.float64))
