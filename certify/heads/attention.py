"""Reference attention heads in numpy float64 (no torch).

* :func:`scaled_dot_product_attention`: the standard definition
  softmax(Q K^T / sqrt(d_k) + mask) V, evaluated with the row maximum subtracted.
* :func:`classical_head`: THEORY 1.1, a head with frozen W_Q, W_K, W_V over a token
  sequence, with an optional prefix every token attends to and an optional causal mask.
* :func:`head_values`: the float64 outputs of the reduced heads a problem names
  (:class:`~certify.formats.heads.CoreHead`, :class:`~certify.formats.heads.SoftmaxHead`),
  and :func:`problem_error`, a problem's pointwise error;
* :func:`universal_head` / :func:`universal_prefix`: the pretrained head of Lemma 3
  (THEORY 1.4), whose weights depend only on (m, o).

Everything here is fast float64 reference code: nothing in this module is rigorous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from certify.formats.heads import CoreHead, SoftmaxHead
from certify.heads.numeric import target_values



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


#: Points x B keys evaluated per block; bounds the temporary score matrix (~32 MB).
BLOCK_ENTRIES = 4_000_000


def _blocks(batch: int, keys: int):
    step = max(1, BLOCK_ENTRIES // max(1, keys))
    for start in range(0, batch, step):
        yield slice(start, min(batch, start + step))


def core_log_scaled(head: CoreHead, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, S) with H(x) = exp(M) * S, M the largest score: neither part overflows."""
    points = np.asarray(points, dtype=np.float64)
    B = points.shape[0]
    M = np.empty(B)
    S = np.empty((B, head.values.shape[1]))
    for blk in _blocks(B, head.keys.shape[0]):
        scores = points[blk] @ head.keys.T + head.biases
        top = scores.max(axis=1)
        M[blk] = top
        S[blk] = np.exp(scores - top[:, None]) @ head.values
    return M, S


def _core_values(head: CoreHead, points: np.ndarray) -> np.ndarray:
    M, S = core_log_scaled(head, points)
    with np.errstate(over="ignore", divide="ignore"):
        # exp(M + log|S|) avoids forming exp(M) alone, which may overflow while H is small
        return np.sign(S) * np.exp(M[:, None] + np.log(np.abs(S)))


def _softmax_values(head: SoftmaxHead, points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    B = points.shape[0]
    out = np.empty((B, head.out_dim))
    for blk in _blocks(B, head.keys.shape[0] + 1):
        x = points[blk]
        scores = x @ head.keys.T + head.biases
        extra = [np.zeros(x.shape[0])] if head.context_count else []
        if head.self_quadratic is not None:
            extra.append(np.einsum("bi,ij,bj->b", x, head.self_quadratic, x))
        top = scores.max(axis=1) if scores.shape[1] else np.full(x.shape[0], -np.inf)
        for e in extra:
            top = np.maximum(top, e)
        w = np.exp(scores - top[:, None])
        num = w @ head.values
        den = w.sum(axis=1)
        if head.context_count:
            den = den + head.context_count * np.exp(-top)
        if head.self_quadratic is not None:
            ws = np.exp(extra[-1] - top)
            num = num + ws[:, None] * (x @ head.self_value.T)
            den = den + ws
        out[blk] = num / den[:, None]
    return out


def head_values(head: CoreHead | SoftmaxHead, points: np.ndarray) -> np.ndarray:
    """The head's outputs at points (B x (m+1)) as a B x o float64 array: for a core head
    with a carried log-scale (lambda ~ 1e3 neither overflows nor underflows), for a softmax
    head with the largest score subtracted."""
    return _core_values(head, points) if isinstance(head, CoreHead) else _softmax_values(head, points)


def problem_error(problem, points: np.ndarray) -> np.ndarray:
    """max_i |H_i(x) - f_i(x)| at each point, the worst over the problem's heads (float64,
    non-rigorous)."""
    with np.errstate(all="ignore"):
        f = target_values(problem.target, points)
        return np.max([np.abs(head_values(h, points) - f).max(axis=1) for h in problem.heads], axis=0)


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
