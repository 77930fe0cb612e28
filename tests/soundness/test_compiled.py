"""The compiled pruning loops (certify.kernel.compiled) against the numpy code they stand
for: the same numbers (NaN where NaN) on random and adversarial inputs, the same search
results, and no fused multiply-add in the machine code."""

from __future__ import annotations

import math
import os
import platform
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from certify.formats.problem import make_problem
from certify.kernel import cellbound as cb
from certify.kernel import compiled
from certify.kernel import elementary as el
from certify.kernel.sphere import cell_caps, root_cells, split_cells

def _numba_imports() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


# without numba the numpy code runs and these tests have nothing to compare; with numba, the
# compiled loops must be on (a loop that fails to compile would otherwise skip them all)
pytestmark = pytest.mark.skipif(not _numba_imports(), reason="numba is not installed")


def test_the_compiled_loops_are_on_where_numba_imports():
    assert compiled.enabled(), "numba imports but a compiled loop failed to build"


def same(a, b):
    """Equal as numbers (a signed zero equals zero), NaN exactly where NaN."""
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)


@pytest.fixture
def numpy_only(monkeypatch):
    """Run the numpy code (the reference) inside a ``with numpy_only():`` block."""
    class Switch:
        def __enter__(self):
            monkeypatch.setenv("CERTIFY_COMPILED", "0")

        def __exit__(self, *exc):
            monkeypatch.setenv("CERTIFY_COMPILED", "1")
    return Switch


def fibonacci(n):
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    th = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)], 1)


def head(n, lam=300.0, eps=1e-2, seed=0, context=0, bias=0.0):
    rng = np.random.default_rng(seed)
    k = fibonacci(n)
    b = bias * rng.standard_normal(n) if bias else None
    kw = {"biases": b} if b is not None else {}
    if context:
        kw["context_tokens"] = context
    return make_problem(2, "softmax", lam * k, (k[:, 0] * k[:, 1])[:, None], ["x0*x1"], eps, **kw)


def cells(level, start, count):
    f, l, c = root_cells(2)
    for _ in range(level):
        f, l, c = split_cells(2, f, l, c)
    sel = np.arange(start, start + count) % f.size
    return f[sel], l[sel], c[sel]


# ------------------------------------------------------------------------------ exp

@settings(max_examples=3000, deadline=None)
@given(x=st.one_of(st.floats(-760, 720), st.floats(-746, -700), st.floats(700, 712), st.floats(-1e-300, 1e-300), st.sampled_from(
    [0.0, -0.0, -745.5, -745.1, -744.9, -708.4, 709.7, 709.8, 710.0, -746.0, 1e6, -1e6])))
def test_compiled_exp_is_the_kernel_exp(x):
    compiled.enabled()
    lo = compiled._exp_lo(x, compiled.EXP_TABLE, compiled.POW2)
    hi = compiled._exp_hi(x, compiled.EXP_TABLE, compiled.POW2)
    rlo, rhi = el.exp_bounds(np.array([x]))
    assert same(lo, rlo[0]) and same(hi, rhi[0]), (x, lo, hi, rlo[0], rhi[0])


def test_compiled_exp_arrays_equal_numpy(numpy_only):
    """Arrays through elementary.exp_bounds (compiled from COMPILED_MIN elements on): NaN,
    infinities, overflow, underflow to subnormals and to 0, any shape."""
    rng = np.random.default_rng(5)
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 709.78, 710.0, 711.0, -745.13, -745.2, -746.0,
                        -760.0, -708.39, -708.4, 1e-320, -1e-320, 1e300, -1e300, 1.0, -1.0])
    x = np.concatenate([special, rng.uniform(-800, 800, 20000), rng.uniform(-1, 1, 5000) * 1e-10,
                        rng.standard_normal(5000) * 20]).reshape(-1, 4)
    assert x.size >= el.COMPILED_MIN
    with numpy_only():
        ref = el.exp_bounds(x)
    got = el.exp_bounds(x)
    assert got[0].shape == x.shape
    assert same(ref[0], got[0]) and same(ref[1], got[1])


@settings(max_examples=2000, deadline=None)
@given(w=st.one_of(st.floats(0, 4), st.floats(0, 1e-290), st.floats(0, 1e-300).map(lambda v: v * 1e-8),
                   st.integers(-1074, 1).map(lambda e: float(np.ldexp(1.0, e)))))
def test_weight_classes_are_frexp_exponents(w):
    """The exponent read off the bits is frexp's, wherever the weight classes tell it apart
    (clipped at BINS - 2 below: subnormals share the lowest class)."""
    compiled.enabled()
    word = np.zeros(1)
    got = compiled._frexp_exponent(w, word, word.view(np.int64))
    want = int(np.frexp(w)[1])
    clip = lambda e: min(max(e + cb.BINS - 2, 0), cb.BINS - 1)
    assert clip(got) == clip(want) and (got == want or want < -1021), (w, got, want)


# ----------------------------------------------------------------------- key scores

def _scores_both(model, g, r, idx):
    coef = cb._score_coefficients(g, r)
    ref = cb._key_scores_numpy(model, g, r, idx, *coef)
    got = cb._key_scores(model, g, r, idx)
    return ref, got


@pytest.mark.parametrize("scale", [1e-3, 1.0, 300.0, 1e6, 1e9, 1e160])
def test_key_scores_equal_numpy(scale):
    """Keys of every norm (1e160: t^2 overflows, the bounds are NaN in both), padding, caps
    from tiny to a whole face."""
    rng = np.random.default_rng(int(np.log10(scale) + 10))
    n = 500
    keys = rng.standard_normal((n, 3)) * scale * rng.uniform(0.1, 1.0, (n, 1))
    p = make_problem(2, "softmax", keys, rng.standard_normal((n, 1)), ["x0"], 0.1,
                     biases=rng.standard_normal(n) * scale)
    model = cb.prepare(p, third=True)
    for level in (0, 2, 6, 12):
        f, l, c = cells(level, int(rng.integers(0, 1000)), 64)
        g, r = cell_caps(2, f, l, c)
        idx = rng.integers(-1, n, size=(64, 200))
        (a_lo, a_hi), (b_lo, b_hi) = _scores_both(model, g, r, idx)
        assert same(a_lo, b_lo) and same(a_hi, b_hi)
        assert np.all(np.isnan(b_lo[idx < 0]))


# --------------------------------------------------------------------------- refine

def _refine_both(model, level, start, count, numpy_only, mutate=None):
    f, l, c = cells(level, start, count)
    up = np.minimum(l, cb.GROUP_UP)
    gco = c >> up[:, None]
    gc, gr = cell_caps(2, f, l - up, gco)
    idx, rem, left = cb._pruned(model, gc, gr, cb.PRUNE_SHARE)
    cc, rr = cell_caps(2, f, l, c)
    idx = np.asarray(idx)
    left = left if mutate is None else mutate(left)
    with numpy_only():
        ref = cb._refine_rows(model, cc, rr, idx, rem, left)
    got = cb._refine_rows(model, cc, rr, idx, rem, left)
    return ref, got, idx


@pytest.mark.parametrize("n,level,start", [(3000, 6, 0), (10000, 6, 5000), (30000, 7, 40000), (10000, 4, 100)])
def test_refine_equals_numpy(n, level, start, numpy_only):
    model = cb.prepare(head(n), third=True)
    (ri, rr), (gi, gr), idx = _refine_both(model, level, start, 300, numpy_only)
    assert ri.shape == gi.shape and same(ri, gi) and same(rr, gr)
    assert (gi >= 0).sum() < (idx >= 0).sum()          # keys were dropped


@pytest.mark.parametrize("how", ["zero", "negative", "nan", "tiny", "huge", "mixed"])
def test_refine_equals_numpy_at_odd_budgets(how, numpy_only):
    """Budgets that allow nothing, nothing at all (NaN), a few keys, every key."""
    model = cb.prepare(head(10000, seed=1, bias=0.3), third=True)
    rng = np.random.default_rng(3)
    fns = {"zero": lambda a: np.zeros_like(a), "negative": lambda a: -a, "nan": lambda a: np.full_like(a, np.nan),
           "tiny": lambda a: a * 1e-12, "huge": lambda a: a + 10.0,
           "mixed": lambda a: np.where(rng.random(a.shape) < 0.5, a * 1e-6, np.nan)}
    (ri, rr), (gi, gr), _ = _refine_both(model, 6, 2000, 200, numpy_only, mutate=fns[how])
    assert ri.shape == gi.shape and same(ri, gi) and same(rr, gr)


def test_refine_equals_numpy_with_context_tokens_and_kept_keys(numpy_only):
    """A pseudo-key of multiplicity n (context tokens: never dropped, weight times n)."""
    model = cb.prepare(head(10000, context=50, seed=2), third=True)
    assert np.any(model.mult > 1) and np.any(model.keep)
    (ri, rr), (gi, gr), _ = _refine_both(model, 6, 9000, 200, numpy_only)
    assert same(ri, gi) and same(rr, gr)


def test_refine_falls_back_where_a_score_is_not_finite(numpy_only):
    """A chunk with a non-finite kept score is decided by the numpy code, whatever it gives."""
    model = cb.prepare(head(10000), third=True)
    f, l, c = cells(6, 100, 50)
    cc, rr = cell_caps(2, f, l, c)
    idx, rem, left = cb._pruned(model, *cell_caps(2, f, l - 2, c >> 2), cb.PRUNE_SHARE)
    idx = np.asarray(idx)
    s_lo, s_hi = cb._key_scores(model, cc, rr, idx)
    s_hi[3, 0] = np.inf
    assert cb._refine_rows_compiled(model, idx, rem, left, s_lo, s_hi) is None


def test_compiled_compaction_and_finiteness_equal_numpy():
    """compact_kept is cellbound._compact(idx >= 0 & ~drop, idx) (the same array: order,
    padding, width, rows with nothing left, padding between keys); finite_kept is false
    exactly where a key's score bound is NaN or infinite (padding's never counts)."""
    rng = np.random.default_rng(8)
    for G, K in ((1, 1), (5, 1), (40, 17), (300, 250)):
        idx = rng.integers(0, 10**6, (G, K))
        idx[rng.random((G, K)) < 0.3] = -1
        idx[0] = -1
        drop = rng.random((G, K)) < 0.4
        drop[min(1, G - 1)] = True
        out = np.empty((G, compiled.kept_width(idx, drop)), dtype=np.int64)
        compiled.compact_kept(idx, drop, out)
        assert same(out, cb._compact((idx >= 0) & ~drop, idx))
        s_lo, s_hi = rng.standard_normal((2, G, K))
        s_lo[idx < 0] = np.nan
        s_hi[idx < 0] = np.inf
        assert compiled.finite_kept(idx, s_lo, s_hi)
        real = np.argwhere(idx >= 0)
        if len(real):
            for bad in (np.nan, np.inf, -np.inf):
                for arr in (s_lo, s_hi):
                    i, j = real[rng.integers(len(real))]
                    keep = arr[i, j]
                    arr[i, j] = bad
                    assert not compiled.finite_kept(idx, s_lo, s_hi)
                    arr[i, j] = keep


def test_bound_cells_and_search_agree_with_numpy(numpy_only):
    """Whole passes: bound_cells' bounds and estimates agree with the numpy code's to rounding
    (the raw moments are summed in another order), and a search decides the same way."""
    from certify.certifier.search import prove
    model = cb.prepare(head(20000), third=True)
    f, l, c = cells(6, 7000, 400)
    with numpy_only():
        U0, e0, _, _ = cb.bound_cells(model, 2, f, l, c)
    U1, e1, _, _ = cb.bound_cells(model, 2, f, l, c)
    fin = np.isfinite(U0)
    assert np.array_equal(fin, np.isfinite(U1)) and fin.mean() > 0.9
    assert np.all(np.abs(U1[fin] - U0[fin]) <= 1e-9 * U0[fin])
    assert np.all(np.abs(e1 - e0) <= 1e-9 * np.abs(e0) + 1e-300)
    p = head(4000, eps=0.02)
    with numpy_only():
        a = prove(p, max_cells=200_000, workers=1)
    b = prove(p, max_cells=200_000, workers=1)
    assert a.verdict == b.verdict == "CERTIFIED"
    assert abs(a.cells - b.cells) <= 0.01 * a.cells


# ------------------------------------------------------------------- machine code

FMA = re.compile(r"\b(v?f(?:n?m(?:add|sub)\w*)|fmla\w*|fmls\w*)\b", re.IGNORECASE)


def test_no_fused_multiply_add_in_the_machine_code(tmp_path):
    """Compile afresh (no cache: numba cannot show cached code) and read the assembly of
    every loop: no FMA instruction (x86's vfmadd*/vfnmadd*/vfmsub*, ARM's fmadd/fmla...)."""
    script = textwrap.dedent("""
        import re, sys, numpy as np
        from certify.kernel import compiled as cm
        from certify.kernel import cellbound as cb
        from certify.formats.problem import make_problem
        from certify.kernel.sphere import cell_caps, root_cells, split_cells
        rng = np.random.default_rng(0)
        k = rng.standard_normal((3000, 3)); k /= np.linalg.norm(k, axis=1)[:, None]
        m = cb.prepare(make_problem(2, "softmax", 300 * k, k[:, :1], ["x0"], 0.01), third=True)
        f, l, c = root_cells(2)
        for _ in range(6):
            f, l, c = split_cells(2, f, l, c)
        cb.bound_cells(m, 2, f[:200], l[:200], c[:200])
        assert cm.enabled()
        for name in cm._LOOPS:
            disp = getattr(cm, name)
            assert disp.signatures, name
            for sig in disp.signatures:
                print("@@", name, len(disp.inspect_asm(sig)))
                print(disp.inspect_asm(sig))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), CERTIFY_COMPILED="1")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = re.findall(r"^@@ (\w+) (\d+)$", out.stdout, re.MULTILINE)
    assert {n for n, _ in seen} >= {"_key_scores", "_floor_sums", "_refine_drops", "_exp_lo", "_exp_hi"}
    assert all(int(size) > 1000 for _, size in seen)          # real code, not a placeholder
    found = sorted(set(FMA.findall(out.stdout)))
    assert not found, f"fused multiply-add in compiled loops on {platform.machine()}: {found}"


# ------------------------------------------------------------------ raw moments

def _exact_moments(p, A, w, V, beta):
    """sum_k p_k f_k in exact rationals for the features of cellbound._raw_moments (one cell)."""
    from fractions import Fraction as Fr
    K, d = A.shape
    o = V.shape[1]
    J, L = np.triu_indices(d)
    X = [[Fr(A[k, j]) - Fr(w[j]) for j in range(d)] for k in range(K)]
    Y = [[Fr(V[k, i]) - Fr(beta[i]) for i in range(o)] for k in range(K)]
    feats = []
    for k in range(K):
        XX = [X[k][a] * X[k][b] for a, b in zip(J, L)]
        f = X[k] + XX + Y[k] + [Y[k][i] * X[k][j] for i in range(o) for j in range(d)] \
            + [Y[k][i] * XX[n] for i in range(o) for n in range(len(J))]
        feats.append(f)
    return [sum(Fr(p[k]) * feats[k][n] for k in range(K)) for n in range(len(feats[0]))]


@pytest.mark.parametrize("seed", range(6))
def test_compiled_raw_moments_contain_the_exact_sums(seed, numpy_only):
    """Both paths' enclosures hold sum_k p_k f_k, in exact rationals, for weights p at the
    ends and inside pi; keys far from the float centre (large products that cancel), and
    values of both signs. The two paths agree to rounding."""
    rng = np.random.default_rng(seed)
    B, K, d, o = 2, 40, 3, 2
    scale = [1.0, 300.0, 1e6][seed % 3]
    A = rng.standard_normal((B, K, d)) * scale
    w = A.mean(axis=1) + rng.standard_normal((B, d)) * scale * 1e-3
    V = rng.standard_normal((B, K, o)) * [1.0, 1e4][seed % 2]
    beta = V.mean(axis=1)
    lo = rng.uniform(0, 1, (B, K)) * np.where(rng.random((B, K)) < 0.2, 1e-12, 1.0)
    hi = lo * (1 + rng.uniform(0, 1e-3, (B, K)))
    pi = (lo, hi)
    got = cb._raw_moments(pi, A, w, V, beta)
    with numpy_only():
        ref = cb._raw_moments(pi, A, w, V, beta)
    flat = lambda r: (np.concatenate([r[j][0].reshape(B, -1) for j in range(5)], axis=1),
                      np.concatenate([r[j][1].reshape(B, -1) for j in range(5)], axis=1))
    glo, ghi = flat(got)
    rlo, rhi = flat(ref)
    width = np.maximum(rhi - rlo, 1e-300)
    assert np.all(np.abs(glo - rlo) <= width) and np.all(np.abs(ghi - rhi) <= width)
    assert same(got[5], ref[5]) and same(got[6], ref[6])
    from fractions import Fraction as Fr
    for b in range(B):
        for p in (lo[b], hi[b], lo[b] + (hi[b] - lo[b]) * rng.uniform(0, 1, K)):
            exact = _exact_moments(p, A[b], w[b], V[b], beta[b])
            for n, e in enumerate(exact):
                assert Fr(glo[b, n]) <= e <= Fr(ghi[b, n]), (b, n, glo[b, n], float(e), ghi[b, n])


@pytest.mark.parametrize("path", ["compiled", "numpy"])
def test_moments_and_feature_sums_hold_when_products_underflow(path, numpy_only):
    """Keys within 2^-540 of the float centre: X_j X_l underflows (fl = a multiple of
    2^-1074, or 0), and Y_i fl(X_j X_l) carries that error times |Y| = 1e200; the pair
    features' sums carry it times weights up to e^42. Both paths' enclosures hold the exact
    sums (the underflow term grows with the weights and |Y|)."""
    from fractions import Fraction as Fr
    import contextlib
    rng = np.random.default_rng(0)
    ctx = numpy_only() if path == "numpy" else contextlib.nullcontext()
    B, K, d, o = 1, 4, 2, 1
    A = np.ldexp(1 + rng.uniform(0, 1, (B, K, d)), -540)
    w, beta = np.zeros((B, d)), np.zeros((B, o))
    V = np.full((B, K, o), 1e200)
    V[0, ::2, 0] = 2e200
    pi = (np.full((B, K), 0.25), np.full((B, K), 0.25))
    with ctx:
        EX, EXX, EY, EYX, EYXX, Yf, XXf = cb._raw_moments(pi, A, w, V, beta)
    J, L = np.triu_indices(d)
    for q in range(J.size):
        exact = sum(Fr(0.25) * Fr(V[0, k, 0]) * Fr(A[0, k, J[q]]) * Fr(A[0, k, L[q]]) for k in range(K))
        assert Fr(EYXX[0][0, 0, q]) <= exact <= Fr(EYXX[1][0, 0, q]), q
        exact = sum(Fr(0.25) * Fr(A[0, k, J[q]]) * Fr(A[0, k, L[q]]) for k in range(K))
        assert Fr(EXX[0][0, q]) <= exact <= Fr(EXX[1][0, q]), q
    K = 8
    x0, x1 = (np.ldexp(1 + rng.uniform(0, 1, K), -540) * rng.choice([-1.0, 1.0], K) for _ in range(2))
    pairs = np.stack([x0 * x0, x0 * x1, x1 * x1])[None]     # d = 2: the pairs (0, 0), (0, 1), (1, 1)
    got = {}
    form_of = lambda Mp: (got.setdefault("Mp", Mp), np.zeros(Mp[0].shape[:2]))[1]
    E = np.full((1, K), 56.0)
    zero = np.zeros((1, K))
    with ctx:
        if path == "numpy":
            ph, _, _ = cb._chord_nodes(np.ones((1, K)), E, np.zeros(1), zero, zero,
                                       lambda wts: form_of(cb._feature_sums(pairs, wts)))
        else:
            ph, _, _ = cb._chord_nodes_compiled(np.ones((1, K)), E, np.zeros(1), zero, zero, pairs, form_of)
    lo, hi = got["Mp"]
    assert ph.max() > 1e18
    for i in range(ph.shape[1]):
        for q, (a, b) in enumerate([(x0, x0), (x0, x1), (x1, x1)]):
            exact = sum(Fr(ph[0, i, k]) * Fr(a[k]) * Fr(b[k]) for k in range(K))
            assert Fr(lo[0, i, q]) <= exact <= Fr(hi[0, i, q]), (i, q)


@pytest.mark.parametrize("seed", range(5))
def test_pair_absum_bounds_the_absolute_sums(seed):
    """cellbound._pair_absum, from the float sums of w f alone (f = fl(X_j X_l), pairs in
    triu order), bounds the exact sum of w |f| for every pair: off the diagonal the sums
    cancel (signs mixed, mid near 0 against a large sum of |f|); keys with |X_j| far from
    |X_l|; products that underflow (X near 2^-540); weights far above 1; and (seed 4) keys
    where fl(X_0^2) = 0 but fl(X_0 X_1) = fl(X_1^2) = 2^-1074. Zero slack: exact rationals.
    (Returning mid for every pair fails it.)"""
    from fractions import Fraction as Fr
    rng = np.random.default_rng(seed)
    B, r, K, d = 2, 3, 64, 3
    scale = [1.0, 1e-3, np.ldexp(1.0, -537), 1e150, 1.0][seed]
    X = rng.standard_normal((B, d, K)) * scale * np.exp(rng.uniform(-6, 6, (B, d, K)))
    X[:, 1] = -X[:, 0] * (1 + rng.uniform(0, 1e-9, (B, K)))       # pair (0, 1): f ~ -X_0^2
    if seed == 4:
        half = math.ldexp(math.sqrt(0.5), -537)        # 2^-537.5: half^2 = 2^-1075
        X[:, 0] = half * (1 - 1e-10) * rng.choice([-1.0, 1.0], (B, K))
        X[:, 1] = half * (1 + 1e-6)
        assert (X[:, 0] ** 2 == 0).all() and (X[:, 1] ** 2 == math.ldexp(1.0, -1074)).all()
        assert (np.abs(X[:, 0] * X[:, 1]) == math.ldexp(1.0, -1074)).all()
    J, L = np.triu_indices(d)
    XX = X[:, J] * X[:, L]
    wts = rng.uniform(0, 1, (B, r, K)) * [1.0, 1.0, 1e12, 1.0, 1e12][seed]
    wts[:, 0, ::3] = 0.0
    mid = np.matmul(XX, wts.transpose(0, 2, 1)).transpose(0, 2, 1)
    K_ = XX.shape[2]
    absum = cb._pair_absum(mid, K_, np.max(wts, axis=2))
    assert np.all(absum >= np.matmul(np.abs(XX), wts.transpose(0, 2, 1)).transpose(0, 2, 1))
    # every float sum of w |f| is at least (1 - gamma_K) times the exact one, less K 2^-1075
    u = Fr(1, 2 ** 53)
    low = 1 - K * u / (1 - K * u)
    enc = cb._feature_sums(XX, wts)
    for b in range(B):
        for i in range(r):
            for q in range(J.size):
                exact = sum(Fr(wts[b, i, k]) * abs(Fr(XX[b, q, k])) for k in range(K))
                assert exact * low - K * Fr(1, 2 ** 1075) <= Fr(absum[b, i, q]), (b, i, q)
                exact = sum(Fr(wts[b, i, k]) * Fr(X[b, J[q], k]) * Fr(X[b, L[q], k]) for k in range(K))
                assert Fr(enc[0][b, i, q]) <= exact <= Fr(enc[1][b, i, q]), (b, i, q)
    bad = mid.copy()
    bad[..., 0] = np.nan                     # the pair (0, 0): every pair with j = 0 is NaN
    out = cb._pair_absum(bad, K_, np.max(wts, axis=2))
    assert np.isnan(out[..., :3]).all() and not np.isnan(out[..., 3:]).any()


# ------------------------------------------------------- chord sub-intervals, remainder

def test_compiled_chord_nodes_and_remainder_agree_with_numpy(numpy_only):
    """The sub-intervals' weight caps are the same floats (the same operations per key); the
    sums, the moving-mean bounds and the remainder R3 agree to rounding (sums in another order)."""
    rng = np.random.default_rng(11)
    B, K, P = 5, 300, 6
    pi_c = rng.uniform(0, 1e-2, (B, K)) * np.where(rng.random((B, K)) < 0.3, 1e-9, 1.0)
    E = rng.uniform(-1, 6, (B, K))
    jensen = rng.uniform(0, 0.1, B)
    D = rng.uniform(0, 3, (B, K))
    D2 = D * D * (1 + 1e-15)
    X = rng.standard_normal((B, 3, K))
    J, L = np.triu_indices(3)
    pairs = X[:, J] * X[:, L]                    # P = 6 pair features of d = 3, triu order
    Y = rng.uniform(0, 2, (B, K))
    form_of = lambda Mp: np.maximum(np.abs(Mp[0]), np.abs(Mp[1])).sum(axis=2)   # any upper form
    form = lambda wts: form_of(cb._feature_sums(pairs, wts))
    with numpy_only():
        ph0, S20_0, d0 = cb._chord_nodes(pi_c, E, jensen, D, D2, form)
        R0 = cb._third_softmax(ph0, S20_0, d0, D, D2, Y, form)
    ph1, S20_1, d1 = cb._chord_nodes_compiled(pi_c, E, jensen, D, D2, pairs, form_of)
    R1 = cb._third_softmax_compiled(ph1, S20_1, d1, D, D2, Y, pairs, form_of)
    assert same(ph0, ph1)
    for a, b in ((S20_0, S20_1), (d0, d1), (R0, R1)):
        assert np.all(np.abs(a - b) <= 1e-12 * np.abs(a)), (a, b)


# ---------------------------------------------------------- centre weights, chord range

def _sphere_points_near(c, rho, rng, count):
    """Exact rational points x of S^2 (inverse stereographic images of rationals) with
    |x - c| <= rho exactly, for a float centre c: (Fractions, count x 3)."""
    from fractions import Fraction as Fr
    out = []
    n = c / np.linalg.norm(c)
    while len(out) < count:
        y = n + rng.standard_normal(3) * rho / 2
        y /= np.linalg.norm(y)
        if y[2] < -0.9:                                  # far from the projection's pole
            continue
        u, v = Fr(y[0] / (1 + y[2])).limit_denominator(1 << 40), Fr(y[1] / (1 + y[2])).limit_denominator(1 << 40)
        s = 1 + u * u + v * v
        x = (2 * u / s, 2 * v / s, (1 - u * u - v * v) / s)
        if sum((x[j] - Fr(c[j])) ** 2 for j in range(3)) <= Fr(rho) ** 2:
            out.append(x)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_compiled_centre_weights_and_chord_range_hold_the_exact_values(seed, numpy_only):
    """The compiled centre pass (scores, softmax weights, centres) and chord range against
    exact values: <A_k, c> in rationals inside P; the exact softmax weights (mpmath, 80
    digits) inside pi; <x - c, A_k - w> inside [e_lo, e_hi] for rational points x of the
    sphere within rho of c (zero slack). Keys of norm 1 to 1e4, biases, padding (mult 0)
    and context multiplicities; the numpy code agrees to rounding."""
    import mpmath
    from fractions import Fraction as Fr
    rng = np.random.default_rng(seed)
    B, K, d, o = 3, 60, 3, 2
    c = rng.standard_normal((B, d))
    c /= np.linalg.norm(c, axis=1)[:, None]
    c *= 1 + rng.uniform(-1e-16, 1e-16, (B, 1))           # float centres, not exactly unit
    rho = np.array([1e-3, 2e-2, 0.3])
    lam = [1.0, 30.0, 300.0, 1e4][seed]
    A = rng.standard_normal((B, K, d)) * lam
    b = rng.standard_normal((B, K)) * [0.0, 1.0][seed % 2]
    V = rng.standard_normal((B, K, o))
    mult = np.where(rng.random((B, K)) < 0.1, 0.0, 1.0)
    unit = seed != 3
    if not unit:
        mult = mult * rng.integers(1, 1000, (B, K))
    ksq = cb.iv.sum_enclosure(*cb.iv.square(cb.iv.point(A)), axis=-1)

    class M:
        unit_mult = unit
    pi, P, anorm, w, beta = cb._centre_softmax_compiled(M, c, A, b, V, mult, ksq)
    mpmath.mp.dps = 80
    for bb in range(B):
        exact_s = [Fr(b[bb, k]) + sum(Fr(A[bb, k, j]) * Fr(c[bb, j]) for j in range(d)) for k in range(K)]
        s = [mpmath.mpf(x.numerator) / x.denominator for x in exact_s]
        for k in range(K):
            exact = sum(Fr(A[bb, k, j]) * Fr(c[bb, j]) for j in range(d))
            assert Fr(P[0][bb, k]) <= exact <= Fr(P[1][bb, k])
        top = max(s)
        e = [mult[bb, k] * mpmath.exp(s[k] - top) for k in range(K)]
        Z = sum(e)
        for k in range(K):
            assert mpmath.mpf(pi[0][bb, k]) <= e[k] / Z <= mpmath.mpf(pi[1][bb, k]), (bb, k)
    assert np.all(anorm >= np.sqrt(ksq[1]))
    c2, q_lo, q_hi, _, _ = cb._geometry(c, rho)
    e_lo, e_hi, D = cb._chord_range(P, w, c, c2, A, ksq, q_lo, q_hi, rho, anorm)
    assert same(D, np.maximum(-e_lo, e_hi))
    for bb in range(B):
        for x in _sphere_points_near(c[bb], rho[bb], rng, 8):
            for k in range(K):
                exact = sum((x[j] - Fr(c[bb, j])) * (Fr(A[bb, k, j]) - Fr(w[bb, j])) for j in range(d))
                assert Fr(e_lo[bb, k]) <= exact <= Fr(e_hi[bb, k]), (bb, k)
    with numpy_only():
        P0 = cb._dot3(c, A, anorm)
        r0 = cb._chord_range(P0, w, c, c2, A, ksq, q_lo, q_hi, rho, anorm)
    tol = lambda a, r: np.all(np.abs(a - r) <= 1e-9 * np.abs(r) + 1e-12 * lam)
    assert tol(P[0], P0[0]) and tol(P[1], P0[1])
    # the chord range's squared form turns a last-bit difference of <A_k, c> (the dot
    # product's order) into up to about sqrt(u) |G_k| rho
    near = lambda a, r: np.all(np.abs(a - r) <= 1e-7 * lam * rho[:, None] + 1e-9 * np.abs(r))
    assert all(near(a, r) for a, r in zip((e_lo, e_hi, D), r0))


def test_compiled_gathers_are_the_numpy_gathers(numpy_only):
    """The kept keys' rows, biases, values, multiplicities and squared norms: the same
    copies, padding included (a row's first key with multiplicity 0; key 0 where the whole
    row is padding), with context-token multiplicities."""
    model = cb.prepare(head(3000, bias=0.5, context=5), third=True)
    rng = np.random.default_rng(4)
    raw = rng.integers(-1, model.keys.shape[0], (7, 50))
    raw[2] = -1
    raw[3, 0] = -1
    raw[4, -20:] = -1
    got = cb._gather(model, raw)
    with numpy_only():
        ref = cb._gather(model, raw)
    for a, r in zip(got[:4] + got[4], ref[:4] + ref[4]):
        assert a.shape == r.shape and same(a, r)
    # no keys, or an index past the last key: numpy's answers (empty arrays; IndexError),
    # never a read out of bounds
    assert all(a.shape[:2] == (7, 0) for a in cb._gather(model, raw[:, :0])[:4])
    bad = raw.copy()
    bad[1, 3] = model.keys.shape[0]
    with pytest.raises(IndexError):
        cb._gather(model, bad)
    with pytest.raises(IndexError):
        cb._key_scores(model, np.array([[0.0, 0.0, 1.0]]), np.array([0.1]), bad[1:2])


def test_compiled_loops_stay_in_bounds(tmp_path):
    """Every loop compiled afresh with numba's bounds checking on (an index out of bounds
    raises instead of writing past an array): the warm-up and whole bound passes, with
    padding, context tokens and pruned keys, run and give the same bounds."""
    script = textwrap.dedent("""
        import numpy as np
        from certify.kernel import compiled as cm
        from certify.kernel import cellbound as cb
        from certify.formats.problem import make_problem
        from certify.kernel.sphere import root_cells, split_cells
        assert cm.enabled()
        rng = np.random.default_rng(1)
        k = rng.standard_normal((3000, 3)); k /= np.linalg.norm(k, axis=1)[:, None]
        f, l, c = root_cells(2)
        for _ in range(5):
            f, l, c = split_cells(2, f, l, c)
        for kw in ({}, {"context_tokens": 7}):
            p = make_problem(2, "softmax", 200 * k, np.stack([k[:, 0], k[:, 1] * k[:, 2]], 1),
                             ["x0", "x1*x2"], 0.05, **kw)
            m = cb.prepare(p, third=True)
            U, est, _, _ = cb.bound_cells(m, 2, f[::7], l[::7], c[::7])
            assert np.isfinite(U).mean() > 0.5, U
        print("ok")
    """)
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=os.getcwd())
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-3000:]


# ------------------------------------------------------------------ turning it off

def test_constants_written_out_are_elementarys():
    """The compiled loops carry elementary's constants as literals (numba's cache renews
    only when compiled.py changes): they must be the same bits."""
    assert compiled.constants_match()


def test_a_changed_constant_or_a_failing_compile_turns_the_compiled_path_off(monkeypatch):
    """Where a constant differs from elementary's (a stale copy), or a loop fails to compile,
    enabled() is false and the numpy code runs."""
    monkeypatch.setattr(compiled, "_STATE", {"built": True})
    monkeypatch.setattr(el, "_EXP_CHI", el._EXP_CHI * 2)
    assert not compiled.enabled()
    monkeypatch.undo()
    monkeypatch.setattr(compiled, "_STATE", {"built": True})

    def broken():
        raise RuntimeError("a loop failed to compile")
    monkeypatch.setattr(compiled, "_warm_up", broken)
    assert not compiled.enabled()
    x = np.linspace(-5, 5, 200)
    lo, hi = el.exp_bounds(x)                     # numpy steps, still an enclosure
    assert np.all(lo <= np.exp(x) * (1 + 1e-15)) and np.all(hi >= np.exp(x) * (1 - 1e-15))
