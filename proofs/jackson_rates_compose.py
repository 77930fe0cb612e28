"""Lemma 2.2 [paper]: Jackson-type rates compose. Encoded composition (ours): if every
b in B is approximated by an A-element of size N_AB(eps, b) and every c in C by a B-element
b_c(eps) at eps, then c is approximated by an A-element of size N_AB(eps/2, b_c(eps/2))
within eps; with monotone non-increasing rates the size is also <= N_AB(eps', b) for any
eps' <= eps/2.

Check: z3 with uninterpreted rate function N and error terms: errors e1 <= eps/2, e2 <= eps/2
give total <= eps, and monotonicity of N gives the size bound; the negation is unsat."""

import z3

from ._z3 import negation_unsat
from .registry import Result


def _check():
    N = z3.Function("N", z3.RealSort(), z3.RealSort())
    e, e1, e2, total, ep = z3.Reals("eps e1 e2 total epsprime")
    x, y = z3.Reals("x y")
    monotone = z3.ForAll([x, y], z3.Implies(z3.And(0 < x, x <= y), N(y) <= N(x)))
    return negation_unsat([monotone, e > 0, 0 <= e1, e1 <= e / 2, 0 <= e2, e2 <= e / 2, total <= e1 + e2,
                           0 < ep, ep <= e / 2], z3.And(total <= e, N(e / 2) <= N(ep)),
                          "the eps/2 + eps/2 composition and the monotone size bound")


RESULTS = [Result("rates_compose", "Lemma 2.2", "Jackson-type rates compose", "paper, statement reconstructed",
                  "N_AC(eps, c) <= N_AB(eps/2, b_c(eps/2)) with total error <= eps (precise composition encoded here)",
                  _check)]
