"""Reference attention against independent direct implementations."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from certify.formats.heads import CoreHead, SoftmaxHead, reduce_full_head
from certify.heads.attention import classical_head, scaled_dot_product_attention, universal_head, universal_prefix
from certify.heads.attention import head_values
from tests.conftest import unit_points


def loop_attention(q_rows, k_rows, v_rows, allowed=None):
    """Scaled dot-product attention written out with Python loops and math.fsum:
    an independent reading of softmax(Q K^T / sqrt(d_k)) V."""
    out = []
    dk = len(q_rows[0])
    for i, q in enumerate(q_rows):
        idx = [j for j in range(len(k_rows)) if allowed is None or allowed[i][j]]
        scores = [math.fsum(a * b for a, b in zip(q, k_rows[j])) / math.sqrt(dk) for j in idx]
        top = max(scores)
        w = [math.exp(s - top) for s in scores]
        total = math.fsum(w)
        out.append([math.fsum(w[t] * v_rows[j][c] for t, j in enumerate(idx)) / total
                    for c in range(len(v_rows[0]))])
    return np.array(out)


def matvec_rows(M, rows):
    return [[math.fsum(M[a][b] * r[b] for b in range(len(r))) for a in range(len(M))] for r in rows]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 5), N=st.integers(0, 4), d=st.integers(1, 5), dk=st.integers(1, 4),
       dv=st.integers(1, 3), causal=st.booleans(), seed=st.integers(0, 2**31 - 1),
       scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_classical_head_matches_direct_loops(n, N, d, dk, dv, causal, seed, scale):
    rng = np.random.default_rng(seed)
    tokens = scale * rng.standard_normal((n, d))
    prefix = scale * rng.standard_normal((N, d))
    W_Q, W_K, W_V = (rng.standard_normal(s) for s in [(dk, d), (dk, d), (dv, d)])
    got = classical_head(tokens, W_Q, W_K, W_V, prefix=prefix, causal=causal)
    seq = np.concatenate([prefix, tokens]).tolist()
    allowed = [[j < N or (not causal) or (j - N) <= i for j in range(N + n)] for i in range(n)]
    want = loop_attention(matvec_rows(W_Q.tolist(), tokens.tolist()),
                          matvec_rows(W_K.tolist(), seq), matvec_rows(W_V.tolist(), seq), allowed)
    assert np.allclose(got, want, rtol=1e-11, atol=1e-12 * (1 + np.abs(want).max())), \
        f"seed={seed} n={n} N={N} d={d} dk={dk} dv={dv} causal={causal}"


def test_sdpa_boolean_and_additive_masks_agree():
    rng = np.random.default_rng(1)
    q, k, v = rng.standard_normal((4, 3)), rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    allowed = rng.random((4, 6)) < 0.6
    allowed[:, 0] = True
    additive = np.where(allowed, 0.0, -np.inf)
    a = scaled_dot_product_attention(q, k, v, allowed)
    b = scaled_dot_product_attention(q, k, v, additive)
    assert np.array_equal(a, b)
    assert np.allclose(a, loop_attention(q.tolist(), k.tolist(), v.tolist(), allowed.tolist()), rtol=1e-12)


def test_softmax_is_stable_for_huge_scores():
    q = np.array([[1e4, 0.0]])
    k = np.array([[1e4, 0.0], [0.0, 1e4]])
    v = np.array([[1.0], [2.0]])
    out = scaled_dot_product_attention(q, k, v)
    assert np.isfinite(out).all() and out[0, 0] == 1.0


@pytest.mark.parametrize("lam", [1.0, 300.0, 1000.0, 5000.0])
def test_core_head_log_scale_matches_mpmath(lam):
    m = 2
    rng = np.random.default_rng(3)
    centres = unit_points(m, 40, seed=4)
    keys = lam * centres
    values = rng.random((40, 2)) + 0.1  # positive: relative accuracy is meaningful
    biases = np.full(40, -lam) + rng.standard_normal(40)  # log-weights ~ e^-lam
    head = CoreHead(keys, values, biases)
    pts = unit_points(m, 6, seed=5)
    got = head_values(head, pts)
    mpmath.mp.dps = 50
    for i, x in enumerate(pts):
        for c in range(2):
            want = mpmath.fsum(mpmath.exp(mpmath.fsum(mpmath.mpf(float(a)) * float(b) for a, b in zip(x, keys[k]))
                                          + float(biases[k])) * float(values[k, c]) for k in range(40))
            assert math.isfinite(got[i, c])
            assert abs(got[i, c] - float(want)) <= 1e-11 * float(want), (lam, i, c)


def test_core_head_overflow_is_inf_not_wrong():
    head = CoreHead(np.array([[1e4, 0.0]]), np.array([[1.0]]), np.array([0.0]))
    assert np.isinf(head_values(head, np.array([[1.0, 0.0]])))[0, 0]


def direct_query(E, W_Q, W_K, W_V, prefix, context, self_attention, x):
    """The query token E x attending to prefix, context and (optionally) itself, by loops."""
    t = (E @ x).tolist()
    seq = prefix.tolist() + context.tolist() + ([t] if self_attention else [])
    return loop_attention(matvec_rows(W_Q.tolist(), [t]), matvec_rows(W_K.tolist(), seq),
                          matvec_rows(W_V.tolist(), seq))[0]


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 4), d=st.integers(2, 8), dk=st.integers(1, 5), o=st.integers(1, 3),
       N=st.integers(1, 6), nc=st.integers(0, 3), self_attention=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_reduction_of_full_matrix_head_is_exact(m, d, dk, o, N, nc, self_attention, seed):
    rng = np.random.default_rng(seed)
    E = rng.standard_normal((d, m + 1))
    W_Q, W_K, W_V = rng.standard_normal((dk, d)), rng.standard_normal((dk, d)), rng.standard_normal((o, d))
    prefix, context = rng.standard_normal((N, d)), rng.standard_normal((nc, d))
    head = reduce_full_head(E, W_Q, W_K, W_V, prefix, self_attention, context)
    pts = unit_points(m, 5, seed=seed % 1000)
    got = head_values(head, pts)
    for i, x in enumerate(pts):
        want = direct_query(E, W_Q, W_K, W_V, prefix, context, self_attention, x)
        assert np.allclose(got[i], want, rtol=1e-10, atol=1e-12), f"seed={seed} point {i}"


@pytest.mark.parametrize("m,o,n,lam", [(1, 1, 1, 5.0), (2, 2, 3, 20.0), (3, 1, 4, 50.0), (2, 3, 7, 400.0)])
def test_lemma3_exact_identity(m, o, n, lam):
    """out = Z/(n+Z) H_lambda and |out - H_lambda| <= n/(n+Z) max|p^b| (THEORY 1.4)."""
    rng = np.random.default_rng(m * 100 + n)
    head = universal_head(m, o)
    pa = unit_points(m, 9, seed=11)
    pb = rng.standard_normal((9, o))
    prefix = universal_prefix(head, lam * pa, pb)
    xs = unit_points(m, n, seed=12)
    out = classical_head(head.embed(xs), head.W_Q, head.W_K, head.W_V, prefix=prefix)
    H = head_values(SoftmaxHead(lam * pa, pb, np.zeros(9)), xs)
    for i, x in enumerate(xs):
        # Z/(n+Z) = 1/(1 + n e^{-log Z}), with log Z by log-sum-exp
        s = lam * pa @ x
        logZ = s.max() + math.log(np.exp(s - s.max()).sum())
        factor = 1.0 / (1.0 + n * math.exp(-logZ))
        assert np.allclose(out[i], factor * H[i], rtol=1e-12, atol=1e-14)
        gap = np.abs(out[i] - H[i]).max()
        assert gap <= n / (n + math.exp(logZ)) * np.abs(pb).max() * (1 + 1e-12) + 1e-15
    # the head's weights do not depend on the prefix: same matrices for any (m, o)
    again = universal_head(m, o)
    assert all(np.array_equal(a, b) for a, b in [(head.W_Q, again.W_Q), (head.W_K, again.W_K), (head.W_V, again.W_V)])
    # the reduced form with context_tokens = n gives the same outputs
    reduced = head_values(SoftmaxHead(lam * pa, pb, np.zeros(9), context_count=n), xs)
    assert np.allclose(out, reduced, rtol=1e-12, atol=1e-14)


def test_lemma3_causal_sees_growing_context():
    m, o, lam = 2, 1, 10.0
    head = universal_head(m, o)
    pa = unit_points(m, 5, seed=1)
    pb = np.linspace(-1, 1, 5)[:, None]
    xs = unit_points(m, 4, seed=2)
    out = classical_head(head.embed(xs), head.W_Q, head.W_K, head.W_V,
                         prefix=universal_prefix(head, lam * pa, pb), causal=True)
    for i, x in enumerate(xs):
        want = head_values(SoftmaxHead(lam * pa, pb, np.zeros(5), context_count=i + 1), x[None, :])[0]
        assert np.allclose(out[i], want, rtol=1e-12)


def test_universal_head_matches_full_matrix_reduction():
    m, o, lam = 2, 2, 30.0
    head = universal_head(m, o)
    pa, pb = unit_points(m, 6, seed=3), np.arange(12.0).reshape(6, 2)
    prefix = universal_prefix(head, lam * pa, pb)
    red = reduce_full_head(head.embedding, head.W_Q, head.W_K, head.W_V, prefix, True)
    assert np.allclose(red.keys, lam * pa, rtol=1e-14)
    assert np.array_equal(red.values, pb)
    assert np.array_equal(red.self_quadratic, np.zeros((3, 3)))
    assert np.array_equal(red.self_value, np.zeros((2, 3)))
