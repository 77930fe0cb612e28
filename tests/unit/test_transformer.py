"""The reference transformer against an independent loop implementation in mpmath (every
softmax, residual and ReLU written out per token), and against the single head it reduces to."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from certify.heads.attention import classical_head
from certify.heads.transformer import MLP, Block, Head, Transformer


def random_transformer(rng, d_in=3, d=6, n_max=5, o=2, blocks=2, heads=2, prefix=3, causal=False, mlp=True):
    def head():
        dk, dv = 4, 3
        return Head(rng.normal(size=(dk, d)), rng.normal(size=(dk, d)), rng.normal(size=(dv, d)),
                    rng.normal(size=(d, dv)) / 3, rng.normal(size=(prefix, d)) if prefix else None)
    bl = [Block([head() for _ in range(heads)],
                MLP(rng.normal(size=(5, d)), rng.normal(size=5), rng.normal(size=(d, 5)) / 3, rng.normal(size=d))
                if mlp else None) for _ in range(blocks)]
    return Transformer(rng.normal(size=(d, d_in)), rng.normal(size=(n_max, d)), bl, rng.normal(size=(o, d)),
                       rng.normal(size=o), causal)


def loop_reference(t: Transformer, x):
    """Token by token, head by head, in mpmath at 40 digits."""
    with mp.workdps(40):
        M = lambda a: mp.matrix(np.asarray(a, dtype=float).tolist())  # noqa: E731
        n = len(x)
        h = [M(t.embedding) * M(np.asarray(x[i])[:, None]) + M(t.positions[i][:, None]) for i in range(n)]
        for block in t.blocks:
            new = [hi.copy() for hi in h]
            for hd in block.heads:
                WQ, WK, WV, WO = M(hd.W_Q), M(hd.W_K), M(hd.W_V), M(hd.W_O)
                pre = [M(p[:, None]) for p in (hd.prefix if hd.prefix is not None else [])]
                dk = hd.W_Q.shape[0]
                for i in range(n):
                    q = WQ * h[i]
                    seq = pre + [h[j] for j in range(n) if (j <= i or not t.causal)]
                    s = [(q.T * (WK * u))[0] / mp.sqrt(dk) for u in seq]
                    top = max(s)
                    w = [mp.exp(v - top) for v in s]
                    out = sum((wi * (WV * u) for wi, u in zip(w, seq)), mp.matrix(hd.W_V.shape[0], 1)) / mp.fsum(w)
                    new[i] = new[i] + WO * out
            h = new
            if block.mlp is not None:
                W1, b1, W2, b2 = M(block.mlp.W_1), M(block.mlp.b_1[:, None]), M(block.mlp.W_2), M(block.mlp.b_2[:, None])
                for i in range(n):
                    z = W1 * h[i] + b1
                    z = mp.matrix([max(v, 0) for v in z])
                    h[i] = h[i] + W2 * z + b2
        R = M(t.readout)
        rb = M(t.readout_bias[:, None]) if t.readout_bias is not None else mp.matrix(t.readout.shape[0], 1)
        return np.array([[float(v) for v in (R * h[i] + rb)] for i in range(n)])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n", [1, 2, 4])
def test_transformer_matches_the_loop_reference(causal, n):
    rng = np.random.default_rng(10 * n + causal)
    t = random_transformer(rng, causal=causal)
    x = rng.normal(size=(n, 3))
    np.testing.assert_allclose(t(x), loop_reference(t, x), rtol=1e-10, atol=1e-10)


def test_no_prefix_no_mlp_and_depth_counts():
    rng = np.random.default_rng(3)
    t = random_transformer(rng, prefix=0, mlp=False, blocks=3, heads=1)
    x = rng.normal(size=(3, 3))
    np.testing.assert_allclose(t(x), loop_reference(t, x), rtol=1e-10, atol=1e-10)
    assert t.depth == 3 and t.head_count == 3


def test_one_block_reduces_to_the_classical_head_plus_residual():
    rng = np.random.default_rng(4)
    d = 5
    hd = Head(rng.normal(size=(3, d)), rng.normal(size=(3, d)), rng.normal(size=(d, d)), np.eye(d),
              rng.normal(size=(4, d)))
    t = Transformer(np.eye(d), np.zeros((3, d)), [Block([hd])], np.eye(d))
    x = rng.normal(size=(3, d))
    np.testing.assert_allclose(t(x), x + classical_head(x, hd.W_Q, hd.W_K, hd.W_V, hd.prefix), rtol=1e-12)


def test_a_changed_prefix_changes_the_output_and_long_sequences_are_refused():
    rng = np.random.default_rng(5)
    t = random_transformer(rng)
    x = rng.normal(size=(2, 3))
    before = t(x)
    t.blocks[1].heads[0].prefix[0, 0] += 1.0
    assert not np.allclose(before, t(x))
    with pytest.raises(ValueError):
        t(rng.normal(size=(6, 3)))
