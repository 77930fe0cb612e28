"""Smoothing bound [THEORY 3.1 step 1, derived]: |f * K_lambda - f| <= L sqrt(2(1 - a_1^m)),
with 1 - a_1^m(lambda) <= m/(2 lambda) + (m+2)^2/(8 lambda^2).

Check: the coefficient inequality for m = 1 (a Bessel ratio, enclosed by its monotonicity)
and m = 2 (closed form) on lambda in [0.5, 1000] by Arb branch-and-bound. The first step, the
Funk-Hecke/Jensen argument from the coefficient to the sup norm, is not machine-checked.

The modulus form |f * K_lambda - f| <= (1 + pi/sqrt 2) w(f, sqrt(1 - a_1^m)) (w geodesic) is
CONSISTENT: checked on f = x0 on S^1 and S^2, where f * K_lambda = a_1^m f (Funk-Hecke, degree
1) gives sup |f * K - f| = 1 - a_1^m exactly and w(x0, r) = 2 sin(r/2): the resulting
inequality in lambda is VERIFIED ON RANGE [0.5, 1000] by Arb for both. Instances only."""

from ._claims import claim_verdict
from .registry import CONSISTENT, NOT_CHECKED, VERIFIED, Result, Verdict

CLAIM = "forall lam in [0.5, 1000]: 1 - ({a}) <= {m}/(2*lam) + ({m}+2)**2/(8*lam**2)"
A1 = {1: "besseli(1, lam)/besseli(0, lam)", 2: "coth(lam) - 1/lam"}

RESULTS = [
    Result(f"smoothing_coefficient_m{m}", f"smoothing bound (m = {m})", "1 - a_1^m <= m/(2l) + (m+2)^2/(8l^2)",
           "derived", CLAIM.format(a=A1[m], m=m), (lambda m=m: claim_verdict(CLAIM.format(a=A1[m], m=m))))
    for m in (1, 2)
]

MODULUS = "forall lam in [0.5, 1000]: 1 - ({a}) <= (1 + pi/sqrt(2))*2*sin(sqrt(1 - ({a}))/2)"


def _check_modulus():
    notes = []
    for m in (1, 2):
        v = claim_verdict(MODULUS.format(a=A1[m]))
        if v.kind != VERIFIED:
            return Verdict(NOT_CHECKED, f"f = x0 on S^{m}: {v.kind}, {v.evidence}")
        notes.append(f"f = x0 on S^{m} (sup |f * K - f| = 1 - a_1^{m}, w(x0, r) = 2 sin(r/2)): VERIFIED ON RANGE "
                     f"lam in [1/2, 1000], {v.evidence}")
    return Verdict(CONSISTENT, "; ".join(notes) + ". Instances only: the statement is about every f and w")


RESULTS.append(Result("smoothing_modulus", "smoothing bound, modulus form (THEORY 3.1 step 1)",
                      "the smoothing error through a modulus of continuity", "derived",
                      "forall continuous f on S^m, lambda > 0: sup |f * K_lambda - f| <= (1 + pi/sqrt 2) "
                      "w(f, sqrt(1 - a_1^m(lambda))), w the geodesic modulus of continuity", _check_modulus))

#: f * K_lambda = a_k^m f for a degree-k spherical harmonic f (Funk-Hecke), so for f = x0 (degree 1,
#: sup |f| = 1) and f = x0 x1 on S^2 (degree 2, sup |f| = 1/2; both chordal 1-Lipschitz:
#: |x^T M x - y^T M y| <= |x - y| |M| |x + y| with |M| = 1/2) the sup error is exact.
STEP = "forall lam in [0.5, 1000]: {err} <= sqrt(2*(1 - ({a1})))"
STEP_INSTANCES = (("x0 on S^1", 1, "1 - (besseli(1, lam)/besseli(0, lam))"),
                  ("x0 on S^2", 2, "1 - (coth(lam) - 1/lam)"),
                  ("x0*x1 on S^2", 2, "(1 - (1 + 3/lam**2 - 3*coth(lam)/lam))/2"))


def _check_step():
    notes = []
    for what, m, err in STEP_INSTANCES:
        v = claim_verdict(STEP.format(err=err, a1=A1[m]))
        if v.kind != VERIFIED:
            return Verdict(NOT_CHECKED, f"{what}: {v.kind}, {v.evidence}")
        notes.append(f"{what} (L = 1; sup |f * K - f| = {err.replace('lam', 'lambda')} exactly): VERIFIED ON RANGE "
                     f"lam in [1/2, 1000], {v.evidence}")
    return Verdict(CONSISTENT, "; ".join(notes) + ". Instances only: the step for every f (Funk-Hecke and Jensen) "
                               "is not machine-checked")


RESULTS.insert(0, Result("smoothing_step", "smoothing bound (THEORY 3.1 step 1)", "the smoothing error in sup norm",
                         "derived", "forall L-Lipschitz f on S^m (chordal), lambda > 0: sup |f * K_lambda - f| <= "
                         "L sqrt(2(1 - a_1^m(lambda)))", _check_step))
