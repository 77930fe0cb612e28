"""Lemma 2.1 [paper]: transitivity of density. If A is dense in B and B dense in C (on the
same compact D, sup norm), then A is dense in C.

Check: the proof's only inequality, for all reals f, g, h, eps > 0 with |f - g| <= eps/2 and
|g - h| <= eps/2 (pointwise, then taken to the sup), |f - h| <= eps. z3 finds its negation
unsat. (The quantifier order: for all h in C, eps: pick g in B at eps/2, then f in A at eps/2.)"""

import z3

from .registry import PROVED, Result, Verdict


def _check():
    f, g, h, e = z3.Reals("f g h eps")
    s = z3.Solver()
    s.set("timeout", 10_000)
    ab = lambda x: z3.If(x >= 0, x, -x)
    s.add(e > 0, ab(f - g) <= e / 2, ab(g - h) <= e / 2, z3.Not(ab(f - h) <= e))
    res = s.check()
    if res == z3.unsat:
        return Verdict(PROVED, "z3: negation of |f-g| <= eps/2, |g-h| <= eps/2 => |f-h| <= eps is unsat")
    from .registry import NOT_CHECKED
    return Verdict(NOT_CHECKED, f"z3 answered {res}")


RESULTS = [Result("density_transitive", "Lemma 2.1", "density is transitive", "paper",
                  "forall h in C, eps > 0: exists g in B, f in A: sup|f - h| <= eps, given A dense in B, B dense in C",
                  _check)]
