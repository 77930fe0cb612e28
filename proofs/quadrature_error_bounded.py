"""Quadrature step [THEORY 3.1 step 2; the route is the paper's, the constants are ours
(``certify.constructions.vmf.quadrature_error_bound``)].

For equal-area cells V_k with centres b_k and |y - b_k| <= delta on V_k:

* (a) |e^v - 1| <= |v| e^{|v|} for every real v, applied with v = lambda <x, b_k - y>,
  |v| <= lambda delta, gives |e^{lambda<x,b>} - e^{lambda<x,y>}| <= lambda delta e^{lambda delta}
  e^{lambda<x,y>}, hence the denominator bound |D - 1| <= eta = lambda delta e^{lambda delta}
  and the numerator bound eta' = (lambda |f|_inf + L) delta e^{lambda delta};
* (b) a softmax head Num/D with |D - 1| <= eta < 1 and |Num - g| <= eta', |g| <= F, is within
  (eta' + F eta)/(1 - eta) of g.

Checks: (a) by ``certify claim`` on v in [-50, 0] and [0, 50] (lambda delta <= 50 covers every
construction; the box is part of the verdict); (b) by z3 (negation unsat); (c) instances:
the route's derived constants on S^1, decided by ``certify prove``: each certified sup error
must lie below the a-priori bound smoothing + quadrature (CONSISTENT: instances only).
"""

import z3

from ._claims import claim_verdict
from ._instances import Instance, decide
from ._z3 import negation_unsat, zabs
from .registry import CONSISTENT, NOT_CHECKED, VERIFIED, Result, Verdict

EXP_CLAIMS = ("forall v in [0, 50]: exp(v) - 1 <= v*exp(v)",
              "forall v in [-50, 0]: 1 - exp(v) <= -v*exp(-v)")


def _check_exp():
    verdicts = [claim_verdict(c) for c in EXP_CLAIMS]
    if all(v.kind == VERIFIED for v in verdicts):
        return Verdict(VERIFIED, "certify claim on both halves: " + "; ".join(v.evidence for v in verdicts),
                       box="v in [-50, 50]")
    bad = next(v for v in verdicts if v.kind != VERIFIED)
    return Verdict(bad.kind, bad.evidence, box=bad.box)


def check_softmax(bound=lambda eta2, F, eta: (eta2 + F * eta) / (1 - eta)):
    """z3 on lemma (b); ``bound`` is the right-hand side (tests perturb it)."""
    num, den, g, eta, eta2, F = z3.Reals("Num D g eta etaprime F")
    hyp = [0 <= eta, eta < 1, zabs(den - 1) <= eta, zabs(num - g) <= eta2, zabs(g) <= F]
    # |Num/D - g| = |Num - g D| / D, and D >= 1 - eta > 0
    return negation_unsat(hyp, zabs(num - g * den) <= bound(eta2, F, eta) * den,
                          "|Num - g D| <= (eta' + F eta)/(1 - eta) D from |D - 1| <= eta, |Num - g| <= eta', |g| <= F")


INSTANCES = (Instance(1, "x0", 1.0, 0.5, "vmf"), Instance(1, "x0*x1", 1.0, 0.3, "vmf"))


def _check_instances():
    notes = []
    for inst in INSTANCES:
        o = decide(inst)
        notes.append(f"{o.describe()}, a-priori bound {o.a_priori:.3g}")
        if not (o.certified and o.upper <= o.a_priori):
            return Verdict(NOT_CHECKED, "an instance did not confirm the bound: " + notes[-1])
    return Verdict(CONSISTENT, "certify prove (rigorous per instance): " + "; ".join(notes))


RESULTS = [
    Result("exp_increment", "quadrature lemma (a)", "|e^v - 1| <= |v| e^|v|", "derived",
           "forall v in [-50, 50]: |e^v - 1| <= |v| e^{|v|}", _check_exp),
    Result("softmax_quadrature", "quadrature lemma (b)", "normalised quadrature error", "derived",
           "forall Num, D, g, eta in [0, 1), eta', F: |D-1| <= eta, |Num-g| <= eta', |g| <= F => "
           "|Num/D - g| <= (eta' + F eta)/(1 - eta)", check_softmax),
    Result("vmf_route_instances", "density proof route (Fig. 4), our constants", "vMF route with derived constants", "derived",
           "for L-Lipschitz f on S^m, the vMF quadrature head with lambda, N from the derived constants has "
           "sup error <= smoothing + quadrature bound <= eps", _check_instances),
]
