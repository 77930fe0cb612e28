"""The head kinds a problem file names, in their reduced form on S^m (part of the trusted
reading of a problem: the checker bounds exactly these heads).

* :class:`CoreHead`: THEORY 1.2, the un-normalised sum_k exp(<x, A_k> + b_k) v_k.
* :class:`SoftmaxHead`: the reduced form of a prefixed head for a query x on S^m: linear
  scores <x, A_k> + b_k with constant values v_k (prefix tokens and fixed context tokens
  alike), ``context_count`` tokens of score 0 and value 0, and optionally the query's own
  token, whose score x^T S x is quadratic and whose value B x is linear.
* :func:`reduce_full_head`: the reduction of a full-matrix head to that form, in float64;
  the problem *is* the reduced head this computes.

The float64 evaluation of these heads is :func:`certify.heads.attention.head_values` (reference
code for estimates and the polishing of witnesses); the checker bounds them by
:mod:`certify.kernel.cellbound`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CoreHead:
    """H(x) = sum_k exp(<x, keys_k> + biases_k) values_k (THEORY 1.2), lambda folded in keys.

    Biases carry log-weights: a weight c ~ e^-1000 is the bias -1000, which float64 holds.
    """

    keys: np.ndarray    # N x (m+1)
    values: np.ndarray  # N x o
    biases: np.ndarray  # N

@dataclass
class SoftmaxHead:
    """Reduced form of a prefixed softmax head for a query x in S^m (THEORY 1.3).

    H(x) = [sum_k e^{s_k} v_k + e^{q(x)} B x] / [sum_k e^{s_k} + n0 + e^{q(x)}]
    with s_k = <x, keys_k> + biases_k, n0 = ``context_count`` tokens of score 0 and
    value 0, and the self term (score q(x) = x^T S x, value B x) present when
    ``self_quadratic`` is not None.
    """

    keys: np.ndarray    # N x (m+1)
    values: np.ndarray  # N x o
    biases: np.ndarray  # N
    context_count: int = 0
    self_quadratic: np.ndarray | None = None  # (m+1) x (m+1), symmetric
    self_value: np.ndarray | None = None      # o x (m+1)

    @property
    def out_dim(self) -> int:
        return self.values.shape[1]

def reduce_full_head(E: np.ndarray, W_Q: np.ndarray, W_K: np.ndarray, W_V: np.ndarray,
                     prefix: np.ndarray, self_attention: bool = True,
                     context: np.ndarray | None = None) -> SoftmaxHead:
    """Exact reduction of a full-matrix head to :class:`SoftmaxHead` (THEORY 1.1).

    The query token is E x; it attends to every prefix token, to every fixed context
    token and (if ``self_attention``) to itself. Scores against fixed tokens u are linear,
    <x, E^T W_Q^T W_K u / sqrt(d_k)>, with constant values W_V u; the self score is the
    quadratic form x^T (E^T W_Q^T W_K E / sqrt(d_k)) x and the self value W_V E x.
    """
    E, W_Q, W_K, W_V = (np.asarray(a, dtype=np.float64) for a in (E, W_Q, W_K, W_V))
    fixed = np.asarray(prefix, dtype=np.float64).reshape(-1, E.shape[0])
    if context is not None and len(context):
        fixed = np.concatenate([fixed, np.asarray(context, dtype=np.float64)], axis=0)
    scale = 1.0 / np.sqrt(W_Q.shape[0])
    QE = W_Q @ E  # d_k x (m+1)
    keys = (fixed @ W_K.T) @ QE * scale  # N x (m+1): row k is (E^T W_Q^T W_K u_k)^T / sqrt(d_k)
    values = fixed @ W_V.T
    head = SoftmaxHead(keys=keys, values=values, biases=np.zeros(fixed.shape[0]))
    if self_attention:
        S = QE.T @ (W_K @ E) * scale
        head.self_quadratic = 0.5 * (S + S.T)
        head.self_value = W_V @ E
    return head
