"""The limit lambda -> infinity [THEORY 3.4; derived]: for fixed distinct keys, H_lambda(x) tends to
the average of p_k^b over A = argmax_k <x, p_k^a> (a nearest-key, Voronoi interpolant).

* Corrected rate (ours): with Delta the score gap between A and the next key, q = e^{-lambda
  Delta}, M = |A|: every other key has weight <= q/M (1 - W), so the weight W off A satisfies
  W <= (N - M) q / (M + (N - M) q) <= (N - 1) q, and |H - avg_A| <= W max_k |v_k - avg_A|
  <= (N - 1) e^{-lambda Delta} diam{v_k}. Checked by z3 (negation unsat). The limit follows.
* An earlier version of THEORY 3.4 stated the rate as N e^{-lambda Delta} max_k |p_k^b|: with constant 1 this is
  FALSE. Witness (S^1, N = 3): x = (1, 0), keys at angles 0 and +-pi/3, values 1, -1, -1,
  lambda = 10, so Delta = 1/2 and lambda Delta = 5: the error is 4/(e^5 + 2), above
  3 e^{-5} (it needs e^5 > 6). Evaluated in Arb: REFUTED.
"""

import z3

from ._z3 import negation_unsat
from .registry import NOT_CHECKED, REFUTED, Result, Verdict


def check_corrected(offset=1):
    """z3 on |H - avg_A| <= (N - offset) e^{-lambda Delta} diam (the proved form has offset 1)."""
    W, T, q, N, M, D, err = z3.Reals("W T q N M D err")
    # T = sum over keys off A of e^{lambda(s_k - s_max)} <= (N - M) q; W = T/(M + T)
    hyp = [M >= 1, N >= M + 1, q >= 0, q <= 1, T >= 0, T <= (N - M) * q, W * (M + T) == T, D >= 0,
           err <= W * D]
    return negation_unsat(hyp, err <= (N - offset) * q * D,
                          "W = T/(M + T) with T <= (N - M) e^(-lambda Delta) gives |H - avg_A| <= W diam "
                          "<= (N - 1) e^(-lambda Delta) diam")


def witness_margin():
    """(error, stated bound) of the N = 3 witness, as Arb balls (128 bits)."""
    import flint

    old = flint.ctx.prec
    flint.ctx.prec = 128
    try:
        lam = flint.arb(10)
        cos = flint.arb(1) / 2                        # keys at angles +-pi/3: <x, p> = 1/2
        w = [flint.arb(1), (lam * (cos - 1)).exp(), (lam * (cos - 1)).exp()]  # weights / e^lambda
        v = [1, -1, -1]
        H = sum((wi * vi for wi, vi in zip(w, v)), flint.arb(0)) / sum(w, flint.arb(0))
        error = 1 - H                                 # argmax average is 1
        stated = 3 * (-lam * (1 - cos)).exp() * 1     # N e^{-lambda Delta} max |v|
        return error, stated
    finally:
        flint.ctx.prec = old


def _check_stated():
    error, stated = witness_margin()
    if error > stated:
        return Verdict(REFUTED, f"Arb witness: N = 3 keys on S^1 at angles 0, +-pi/3, values 1, -1, -1, "
                                f"x = (1, 0), lambda = 10: error {error.mid().str(10, radius=False)} > "
                                f"stated bound {stated.mid().str(10, radius=False)} (certain in Arb)",
                       box="N = 3, lambda Delta = 5")
    return Verdict(NOT_CHECKED, "the witness did not separate in Arb")


RESULTS = [
    Result("lambda_limit", "lambda -> infinity (ours)", "limit to the nearest-key interpolant", "derived",
           "forall fixed keys, x with score gap Delta > 0: |H_lambda(x) - avg_{argmax} p^b| <= "
           "(N - 1) e^(-lambda Delta) diam{p_k^b} -> 0", check_corrected),
    Result("lambda_limit_as_stated", "lambda -> infinity, rate of an earlier THEORY 3.4",
           "rate N e^(-lambda Delta) max|p^b|", "trap", "forall fixed keys, x: |H_lambda(x) - avg_{argmax} p^b| <= N e^(-lambda Delta) max_k |p_k^b|",
           _check_stated),
]
