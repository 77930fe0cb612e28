"""Smoothing bound [THEORY 3.1 step 1, derived]: |f * K_lambda - f| <= L sqrt(2(1 - a_1^m)),
with 1 - a_1^m(lambda) <= m/(2 lambda) + (m+2)^2/(8 lambda^2).

Check: the coefficient inequality for m = 1 (a Bessel ratio, enclosed by its monotonicity)
and m = 2 (closed form) on lambda in [0.5, 1000] by Arb branch-and-bound. The first step, the
Funk-Hecke/Jensen argument from the coefficient to the sup norm, is not machine-checked."""

from ._claims import claim_verdict
from .registry import Result

CLAIM = "forall lam in [0.5, 1000]: 1 - ({a}) <= {m}/(2*lam) + ({m}+2)**2/(8*lam**2)"
A1 = {1: "besseli(1, lam)/besseli(0, lam)", 2: "coth(lam) - 1/lam"}

RESULTS = [
    Result(f"smoothing_coefficient_m{m}", f"smoothing bound (m = {m})", "1 - a_1^m <= m/(2l) + (m+2)^2/(8l^2)",
           "derived", CLAIM.format(a=A1[m], m=m), (lambda m=m: claim_verdict(CLAIM.format(a=A1[m], m=m))))
    for m in (1, 2)
]
