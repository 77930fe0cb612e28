"""Eq. (1) and the core head [paper]: with the input embedding t = E x, every prefix score
<W_Q E x, W_K p_k> / sqrt(d_k) equals <x, A_k> with A_k = E^T W_Q^T W_K p_k / sqrt(d_k)
(linear in x); the self score is the quadratic form x^T E^T W_Q^T W_K E x / sqrt(d_k).

Check: sympy matrix-symbol identities, dimension-generic (MatrixSymbol shapes are symbols)."""

import sympy as sp

from .registry import NOT_CHECKED, PROVED, Result, Verdict


def _check():
    d, dk, m1 = sp.symbols("d d_k m1", positive=True, integer=True)
    E = sp.MatrixSymbol("E", d, m1)
    WQ = sp.MatrixSymbol("W_Q", dk, d)
    WK = sp.MatrixSymbol("W_K", dk, d)
    x = sp.MatrixSymbol("x", m1, 1)
    p = sp.MatrixSymbol("p", d, 1)
    score = ((WQ * E * x).T * (WK * p))
    A = E.T * WQ.T * WK * p
    self_score = (WQ * E * x).T * (WK * E * x)
    ok1 = sp.simplify((score - x.T * A).expand()) == sp.ZeroMatrix(1, 1)
    ok2 = sp.simplify((self_score - x.T * (E.T * WQ.T * WK * E) * x).expand()) == sp.ZeroMatrix(1, 1)
    if ok1 and ok2:
        return Verdict(PROVED, "sympy: (W_Q E x)^T (W_K p) = x^T (E^T W_Q^T W_K p) and the self score's "
                               "quadratic form, for symbolic shapes")
    return Verdict(NOT_CHECKED, "sympy did not reduce the difference to zero")


RESULTS = [Result("prefix_scores_linear", "Eq. (1)", "prefix scores are linear in x; the core head", "paper",
                  "forall E, W_Q, W_K, p, x: <W_Q E x, W_K p>/sqrt(d_k) = <x, A>, A = E^T W_Q^T W_K p/sqrt(d_k)",
                  _check)]
