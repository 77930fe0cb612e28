"""Lemma 2.1 [paper]: transitivity of density. If A is dense in B and B dense in C (on the
same compact D, sup norm), then A is dense in C.

Check: the proof's only inequality, for all reals f, g, h, eps > 0 with |f - g| <= eps/2 and
|g - h| <= eps/2 (pointwise, then taken to the sup), |f - h| <= eps. z3 finds its negation
unsat. (The quantifier order: for all h in C, eps: pick g in B at eps/2, then f in A at eps/2.)"""

import z3

from ._z3 import negation_unsat, zabs
from .registry import Result


def _check():
    f, g, h, e = z3.Reals("f g h eps")
    return negation_unsat([e > 0, zabs(f - g) <= e / 2, zabs(g - h) <= e / 2], zabs(f - h) <= e,
                          "|f-g| <= eps/2, |g-h| <= eps/2 => |f-h| <= eps")


RESULTS = [Result("density_transitive", "Lemma 2.1", "density is transitive", "paper, statement reconstructed",
                  "forall h in C, eps > 0: exists g in B, f in A: sup|f - h| <= eps, given A dense in B, B dense in C",
                  _check)]
