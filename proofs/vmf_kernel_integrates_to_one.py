"""The vMF normalising constant [formula standard; used by the paper]: for m >= 1,
c_{m+1}(lambda) |S^{m-1}| int_{-1}^{1} e^{lambda t} (1 - t^2)^{(m-2)/2} dt = 1.

Checks: m = 2 symbolically (sympy integrates e^{lambda t} exactly, c_3 = lambda/(4 pi sinh
lambda)); m = 1, 3, 4 numerically (mpmath quadrature at 40 digits at several lambda):
CONSISTENT, since quadrature is not rigorous."""

import mpmath
import sympy as sp

from .registry import CONSISTENT, PROVED, Result, Verdict


def _check_m2():
    lam, t = sp.symbols("lambda t", positive=True)
    c3 = lam / (4 * sp.pi * sp.sinh(lam))
    total = c3 * 2 * sp.pi * sp.integrate(sp.exp(lam * t), (t, -1, 1))
    if sp.simplify(total.rewrite(sp.exp) - 1) == 0:
        return Verdict(PROVED, "sympy: c_3 * 2 pi * int_{-1}^{1} e^{lambda t} dt = 1 for all lambda > 0")
    return Verdict(CONSISTENT, "sympy did not simplify to 1")


def _check_other():
    worst = 0
    with mpmath.workdps(40):
        for m in (1, 3, 4):
            nu = mpmath.mpf(m - 1) / 2
            area = 2 * mpmath.pi ** (mpmath.mpf(m) / 2) / mpmath.gamma(mpmath.mpf(m) / 2)  # |S^{m-1}|
            for lam in (0.5, 1, 5, 20, 100):
                c = mpmath.mpf(lam) ** nu / ((2 * mpmath.pi) ** (mpmath.mpf(m + 1) / 2) * mpmath.besseli(nu, lam))
                integral = mpmath.quad(lambda th: mpmath.exp(lam * mpmath.cos(th)) * mpmath.sin(th) ** (m - 1), [0, mpmath.pi])
                worst = max(worst, abs(c * area * integral - 1))
    return Verdict(CONSISTENT, f"mpmath quadrature, m = 1, 3, 4, lambda in {{0.5, 1, 5, 20, 100}}: "
                               f"max |total - 1| = {float(worst):.1e}")


STATEMENT = "forall m >= 1, lambda > 0: int_{S^m} c_{m+1}(lambda) e^{lambda <x,y>} dsigma(y) = 1"
RESULTS = [
    Result("vmf_normalised_m2", "vMF constant (m = 2)", "c_3 = lambda/(4 pi sinh lambda) normalises", "paper",
           STATEMENT.replace("forall m >= 1", "m = 2"), _check_m2),
    Result("vmf_normalised_m134", "vMF constant (m = 1, 3, 4)", "c_{m+1} normalises the kernel", "paper",
           STATEMENT.replace("forall m >= 1", "m in {1, 3, 4}"), _check_other),
]
