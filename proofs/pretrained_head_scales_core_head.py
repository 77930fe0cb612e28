"""Lemma 3 [paper; exact form derived]: the pretrained head whose input tokens score 0 and
carry value 0 gives out = Z/(n + Z) H_lambda(x), Z = sum_k e^{s_k}, so |out - H| <=
n/(n + Z) max_k |v_k|.

Check: sympy identity for symbolic scores and values (N = 3 keys, any n), and the bound via
|H| <= max |v_k| (H is a convex combination): the remaining inequality n|H|/(n+Z) <=
n M/(n+Z) for |H| <= M, n >= 0, Z > 0 is checked by z3 (negation unsat)."""

import sympy as sp
import z3

from ._z3 import RLIMIT
from .registry import NOT_CHECKED, PROVED, Result, Verdict


def _check():
    s = sp.symbols("s1:4", real=True)
    v = sp.symbols("v1:4", real=True)
    n = sp.Symbol("n", nonnegative=True)
    w = [sp.exp(t) for t in s]
    Z = sum(w)
    H = sum(wi * vi for wi, vi in zip(w, v)) / Z
    out = sum(wi * vi for wi, vi in zip(w, v)) / (Z + n * sp.exp(0))  # input tokens: score 0, value 0
    ok = sp.simplify(out - Z / (n + Z) * H) == 0 and sp.simplify(out - H + n / (n + Z) * H) == 0
    hh, M, nn, zz = z3.Reals("H M n Z")
    sol = z3.Solver()
    sol.set("rlimit", RLIMIT)  # a work limit, not a timeout: the verdict does not depend on load
    sol.add(nn >= 0, zz > 0, hh <= M, -M <= hh, z3.Not(nn * z3.If(hh >= 0, hh, -hh) / (nn + zz) <= nn * M / (nn + zz)))
    if ok and sol.check() == z3.unsat:
        return Verdict(PROVED, "sympy: out = Z/(n+Z) H and out - H = -n/(n+Z) H; z3: n|H|/(n+Z) <= n M/(n+Z)")
    return Verdict(NOT_CHECKED, "identity or inequality not confirmed")


RESULTS = [Result("lemma3_head", "Lemma 3", "the pretrained universal head", "paper, statement reconstructed",
                  "forall x, n >= 0: out(x) = Z/(n+Z) H_lambda(x) and |out - H_lambda| <= n/(n+Z) max_k |p_k^b|",
                  _check)]
