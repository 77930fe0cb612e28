"""Reference attention heads in numpy float64 (no torch).

* :func:`scaled_dot_product_attention`: the standard definition
  softmax(Q K^T / sqrt(d_k) + mask) V, evaluated with the row maximum subtracted.
* :func:`classical_head`: THEORY 1.1, a head with frozen W_Q, W_K, W_V over a token
  sequence, with an optional prefix every token attends to and an optional causal mask.
* the reduced heads a problem names (:class:`CoreHead`, :class:`SoftmaxHead`,
  :func:`reduce_full_head`) live in :mod:`certify.formats.heads`;
* :func:`universal_head` / :func:`universal_prefix`: the pretrained head of Lemma 3
  (THEORY 1.4), whose weights depend only on (m, o).

Everything here is fast float64 reference code: nothing in this module is rigorous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np



def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                 mask: np.ndarray | None = None) -> np.ndarray:
    """softmax(q k^T / sqrt(d_k) + mask) v for q (n x d_k), k (L x d_k), v (L x d_v).

    ``mask`` is either boolean (True = may attend) or additive float (0 / -inf), as in the
    standard definition. A row with no admissible key gives NaN, as the definition does.
    """
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scores = q @ k.T / np.sqrt(q.shape[-1])
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == bool:
            scores = np.where(mask, scores, -np.inf)
        else:
            scores = scores + mask
    top = np.max(scores, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        weights = np.exp(scores - top)
        weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v


def classical_head(tokens: np.ndarray, W_Q: np.ndarray, W_K: np.ndarray, W_V: np.ndarray,
                   prefix: np.ndarray | None = None, causal: bool = False) -> np.ndarray:
    """Outputs of a prefixed attention head at every position (THEORY 1.1, Eq. (1)).

    tokens (n x d), prefix (N x d), W_Q and W_K (d_k x d), W_V (d_v x d). Token i attends
    to every prefix token and to the input tokens j (j <= i when ``causal``), itself included.
    Returns an n x d_v array.
    """
    tokens = np.atleast_2d(np.asarray(tokens, dtype=np.float64))
    n = tokens.shape[0]
    if prefix is None:
        prefix = np.zeros((0, tokens.shape[1]))
    prefix = np.asarray(prefix, dtype=np.float64).reshape(-1, tokens.shape[1])
    sequence = np.concatenate([prefix, tokens], axis=0)
    q = tokens @ np.asarray(W_Q, dtype=np.float64).T
    k = sequence @ np.asarray(W_K, dtype=np.float64).T
    v = sequence @ np.asarray(W_V, dtype=np.float64).T
    mask = None
    if causal:
        visible = np.tril(np.ones((n, n), dtype=bool))
        mask = np.concatenate([np.ones((n, prefix.shape[0]), dtype=bool), visible], axis=1)
    return scaled_dot_product_attention(q, k, v, mask)


@dataclass
class UniversalHead:
    """The pretrained head of Lemma 3 (THEORY 1.4) for inputs on S^m and outputs in R^o."""

    sphere_dim: int
    out_dim: int
    W_Q: np.ndarray
    W_K: np.ndarray
    W_V: np.ndarray

    @property
    def token_dim(self) -> int:
        return 2 * (self.sphere_dim + 1) + self.out_dim

    def embed(self, points: np.ndarray) -> np.ndarray:
        """x -> (x, 0, 0): the input embedding E x, row-wise."""
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        out = np.zeros((points.shape[0], self.token_dim))
        out[:, : self.sphere_dim + 1] = points
        return out

    @property
    def embedding(self) -> np.ndarray:
        return self.embed(np.eye(self.sphere_dim + 1)).T  # d x (m+1)


def universal_head(sphere_dim: int, out_dim: int) -> UniversalHead:
    """W_Q = sqrt(d_k)[I 0 0], W_K = [0 I 0], W_V = [0 0 I] with d_k = m+1 (THEORY 1.4)."""
    m1, o = sphere_dim + 1, out_dim
    d = 2 * m1 + o
    W_Q = np.zeros((m1, d))
    W_Q[:, :m1] = np.sqrt(m1) * np.eye(m1)
    W_K = np.zeros((m1, d))
    W_K[:, m1:2 * m1] = np.eye(m1)
    W_V = np.zeros((o, d))
    W_V[:, 2 * m1:] = np.eye(o)
    return UniversalHead(sphere_dim, out_dim, W_Q, W_K, W_V)


def universal_prefix(head: UniversalHead, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Prefix tokens (0, keys_k, values_k) with keys_k = lambda p_k^a (lambda folded in)."""
    keys = np.asarray(keys, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64).reshape(keys.shape[0], -1)
    m1 = head.sphere_dim + 1
    prefix = np.zeros((keys.shape[0], head.token_dim))
    prefix[:, m1:2 * m1] = keys
    prefix[:, 2 * m1:] = values
    return prefix
