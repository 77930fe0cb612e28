"""Lemma 3 [paper; exact form derived]: the pretrained head whose input tokens score 0 and
carry value 0 gives out = Z/(n + Z) H_lambda(x), Z = sum_k e^{s_k}, so |out - H| <=
n/(n + Z) max_k |v_k|.

Check: sympy, the block matrices of THEORY 1.4 (for m = 1, 2 and o = 1, 2, symbolic x, p^a,
p^b, lambda) give the score lambda <x, p^a> against a prefix token and 0 against an input
token, whose value is 0 (so the matrices depend on (m, o) only, not on f, eps, N or lambda);
the identity out = Z/(n+Z) H for a symbolic number N of keys and any n; and the bound via
|H| <= max |v_k| (H is a convex combination): the remaining inequality n|H|/(n+Z) <=
n M/(n+Z) for |H| <= M, n >= 0, Z > 0 is checked by z3 (negation unsat)."""

import sympy as sp
import z3

from ._z3 import RLIMIT
from .registry import NOT_CHECKED, PROVED, Result, Verdict


def _blocks_ok() -> bool:
    """sympy: W_Q = sqrt(d_k)[I 0 0], W_K = [0 I 0], W_V = [0 0 I] score and value as THEORY 1.4 says."""
    for m1, o in ((2, 1), (3, 2)):
        lam = sp.Symbol("lam", positive=True)
        x, pa, pb = (sp.Matrix(sp.symbols(f"{c}0:{k}", real=True)) for c, k in (("x", m1), ("a", m1), ("b", o)))
        z = lambda k: sp.zeros(k, 1)  # noqa: E731
        WQ = sp.sqrt(m1) * sp.Matrix.hstack(sp.eye(m1), sp.zeros(m1, m1), sp.zeros(m1, o))
        WK = sp.Matrix.hstack(sp.zeros(m1, m1), sp.eye(m1), sp.zeros(m1, o))
        WV = sp.Matrix.hstack(sp.zeros(o, m1), sp.zeros(o, m1), sp.eye(o))
        tok = sp.Matrix.vstack(x, z(m1), z(o))
        pre = sp.Matrix.vstack(z(m1), lam * pa, pb)
        score = lambda u: sp.simplify(((WQ * tok).T * (WK * u))[0] / sp.sqrt(m1))  # noqa: E731
        if not (sp.simplify(score(pre) - lam * (x.T * pa)[0]) == 0 and score(tok) == 0
                and WV * tok == z(o) and sp.simplify(WV * pre - pb) == z(o)):
            return False
    return True


def _check():
    k, N = sp.symbols("k N", integer=True, positive=True)
    s, v = sp.IndexedBase("s"), sp.IndexedBase("v")
    n = sp.Symbol("n", nonnegative=True)
    Z = sp.Sum(sp.exp(s[k]), (k, 1, N))
    num = sp.Sum(sp.exp(s[k]) * v[k], (k, 1, N))
    H = num / Z
    out = num / (Z + n * sp.exp(0))  # input tokens: score 0, value 0
    ok = (_blocks_ok() and sp.simplify(out - Z / (n + Z) * H) == 0
          and sp.simplify(out - H + n / (n + Z) * H) == 0)
    hh, M, nn, zz = z3.Reals("H M n Z")
    sol = z3.Solver()
    sol.set("rlimit", RLIMIT)  # a work limit, not a timeout: the verdict does not depend on load
    sol.add(nn >= 0, zz > 0, hh <= M, -M <= hh, z3.Not(nn * z3.If(hh >= 0, hh, -hh) / (nn + zz) <= nn * M / (nn + zz)))
    if ok and sol.check() == z3.unsat:
        return Verdict(PROVED, "sympy: the block matrices of THEORY 1.4 (m = 1, 2; o = 1, 2) score lambda <x, p^a> "
                               "against a prefix token and 0 against an input token of value 0, and depend on (m, o) "
                               "only; out = Z/(n+Z) H and out - H = -n/(n+Z) H for a symbolic number N of keys; "
                               "z3: n|H|/(n+Z) <= n M/(n+Z)")
    return Verdict(NOT_CHECKED, "identity or inequality not confirmed")


RESULTS = [Result("lemma3_head", "Lemma 3 (exact form, ours)", "the pretrained universal head", "derived",
                  "the head of THEORY 1.4 (W_Q, W_K, W_V fixed by (m, o) only): forall x, n >= 0: out(x) = "
                  "Z/(n+Z) H_lambda(x) and |out - H_lambda| <= n/(n+Z) max_k |p_k^b|",
                  _check)]
