"""Element-wise maps [paper, Corollary 2; THEORY 4.1]: for continuous g: S^m -> R^o and eps > 0 a
prefix of the head of Lemma 3 maps every sequence (x_1..x_n) to (y_1..y_n) with
|y_i - g(x_i)| <= eps for every i.

* Other-token term [derived]: by Lemma 3 (its own entry), y_i = Z/(n+Z) H(x_i) with
  Z = sum_k e^{lambda <x_i, p_k^a>}, so |y_i - H(x_i)| <= n/(n+Z) max_k |p_k^b|; the nearest
  key (within delta, <x, p> = 1 - |x - p|^2/2) gives Z >= e^{lambda(1 - delta^2/2)}, hence
  |y_i - H(x_i)| <= n max_k |p_k^b| / (n + e^{lambda(1 - delta^2/2)}). Checked by z3 (the
  monotone step n/(n+Z) <= n/(n+E) for Z >= E > 0, and the exponent bound).
* The corollary: CONSISTENT. A prefix whose single-head sup error is CERTIFIED (``certify
  prove``) plus the other-token term bounds every position of every sequence; the reference
  classical head (numpy, float: not rigorous) is run on random sequences of length 1..4 and
  every position is checked against that bound.
"""

import math

import numpy as np
import z3

from certify.attention import classical_head, universal_head, universal_prefix

from ._instances import Instance, decide
from ._z3 import negation_unsat
from .registry import CONSISTENT, NOT_CHECKED, PROVED, Result, Verdict


def _check_term():
    n, Z, E, lam, d2, s = z3.Reals("n Z E lam delta2 s")  # s: the nearest key's inner product
    mono = negation_unsat([n >= 1, E > 0, Z >= E], n / (n + Z) <= n / (n + E),
                          "n/(n+Z) <= n/(n+E) for Z >= E > 0")
    expo = negation_unsat([lam > 0, d2 >= 0, s == 1 - d2 / 2, d2 <= z3.Real("delta") ** 2],
                          lam * s >= lam * (1 - z3.Real("delta") ** 2 / 2),
                          "lambda <x, p_nearest> >= lambda (1 - delta^2/2)")
    if mono.kind == PROVED and expo.kind == PROVED:
        return Verdict(PROVED, mono.evidence + "; " + expo.evidence + " (Z >= e^{that} by monotonicity of exp)")
    return Verdict(NOT_CHECKED, mono.evidence + "; " + expo.evidence)


INSTANCE = Instance(1, "x0*x1", 1.0, 0.1, "net")
SEQUENCES = 200


def _check_corollary():
    o = decide(INSTANCE)
    if not o.certified:
        return Verdict(NOT_CHECKED, "the single-head prefix was not certified: " + o.describe())
    c = o.construction
    target = c.problem.target
    head = universal_head(INSTANCE.sphere_dim, 1)
    prefix = universal_prefix(head, c.problem.head.keys, c.problem.head.values)
    vmax = float(np.abs(c.problem.head.values).max())
    delta = c.partition.delta
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in range(1, 5):
        extra = n * vmax / (n + math.exp(min(c.lam * (1 - delta**2 / 2), 700.0)))
        for _ in range(SEQUENCES):
            theta = rng.uniform(0, 2 * np.pi, n)
            x = np.stack([np.cos(theta), np.sin(theta)], axis=1)
            y = classical_head(head.embed(x), head.W_Q, head.W_K, head.W_V, prefix)[:, 0]
            err = np.abs(y - target(x)[:, 0])
            worst = max(worst, float(err.max()))
            if np.any(err > o.upper + extra):
                return Verdict(NOT_CHECKED, f"a sequence of length {n} exceeded the bound: {err.max():.3g}")
    return Verdict(CONSISTENT, f"{o.describe()}; the reference classical head of Lemma 3 on "
                               f"{4 * SEQUENCES} random sequences of length 1..4: worst position error "
                               f"{worst:.3g} <= certified {o.upper:.3g} + other-token term (float evaluation)")


RESULTS = [
    Result("corollary2_other_tokens", "Corollary 2 (other-token term, ours)", "error from the other tokens",
           "derived", "forall n >= 1, lambda > 0, delta-net keys, x_i: |y_i - H(x_i)| <= "
           "n max_k |p_k^b| / (n + e^(lambda (1 - delta^2/2)))", _check_term),
    Result("corollary2", "Corollary 2", "element-wise sequence maps by one prefixed head", "paper",
           "forall continuous g: S^m -> R^o, eps > 0, exists prefix: forall n, (x_1..x_n): "
           "max_i |y_i - g(x_i)| <= eps", _check_corollary),
]
