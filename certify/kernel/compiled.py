"""Compiled loops of the cell bounds' per-key passes (trusted base).

SOUNDNESS CONTRACT
------------------
Two kinds of loops, each standing for numpy code of :mod:`certify.kernel.cellbound` or
:mod:`certify.kernel.elementary` whose soundness argument is made there:

* The same numbers: ``key_scores`` (:func:`cellbound._key_scores`, the radial split scores
  with one a-priori error term per bound; the per-cap coefficients come from the caller),
  ``floor_sums`` (the float parts of :func:`cellbound._log_weight_floor`: the largest lower
  score, the rounded-down terms mult_k e^{gap_k}, their float sum in index order and their
  count), ``refine_drops`` (the float parts of :func:`cellbound._refine_rows` after the
  floor: the candidates, their rounded-up weights, the lightest whole weight classes within
  the budget as :func:`cellbound._lightest` takes them, the dropped weight's rounded-up sum as
  :func:`cellbound.usum_rows` forms it) and ``exp_bounds`` (:func:`elementary.exp_bounds`)
  compute *the same IEEE operations in the same order*, element by element, so they return
  the same floats, and the argument made for the numpy code holds unchanged.
* The same derivation, another order of summation: ``moment_sums`` forms the features of
  :func:`cellbound._raw_moments` by the same float operations and sums them (pm f, pm |f|,
  pr |f|), where the numpy code sums by matrix products in whatever order the BLAS chooses;
  ``chord_node_sums`` and ``third_sums`` form the per-key terms of
  :func:`cellbound._chord_nodes` and :func:`cellbound._third_softmax` by the same float
  operations (each rounded up as there) and sum them, where numpy sums pairwise. The moment
  sums run in :func:`_dot4`'s order (four interleaved running sums), the others in key order
  (one running sum each, several sums to a pass over the keys): fixed by the code, so the
  same on every host. ``centre_softmax`` (:func:`cellbound._centre_weights` on the softmax path,
  the weights' sum, pi and the float centres) and ``chord_range``
  (:func:`cellbound._chord_range`) take the same float operations per key, except that the
  dot products <A_k, c> and <A_k, w> are summed in coordinate order (numpy: the BLAS's), and
  the weights' sum and the float centres w, beta in key order (numpy: pairwise, einsum; any
  float centre is sound). The bounds there (usum's 1 + 2 gamma,
  the feature sums' and _dot3's a-priori terms, sum_enclosure's gamma) hold for any order
  of summation, so for these; the caller applies them to the raw sums.

What this rests on, beyond the module contract of :mod:`certify.kernel.elementary`:

1. The compiler (numba, LLVM) evaluates each scalar +, -, *, /, sqrt as one correctly
   rounded IEEE operation in the order written: ``fastmath`` is off (no reassociation, no
   contraction of a product and a sum into one FMA, no flush-to-zero). The tests read the
   generated machine code of every loop here and fail on any fused multiply-add.
2. Where the numbers must be the reference's, sums are loops in index order (np.bincount's
   order); elsewhere in an order fixed by the code (:func:`_dot4`'s, or key order), never one
   the compiler or the host chooses.
3. ``np.maximum``/``np.minimum`` are written out with numpy's NaN rule (a NaN operand gives
   NaN); exp is the kernel's, step by step (constants imported from
   :mod:`certify.kernel.elementary`), never the library's; its power of two is applied by
   products with exact powers of two, rounded once as ldexp rounds; frexp's exponent is read
   off the float's bits.

The tests compare the first kind with the numpy code on random and adversarial inputs
(overflow, NaN, padding, ties, every budget): equal as numbers, NaN where NaN; and check the
second kind's enclosures against exact rational sums. Where numba cannot be imported, or
``CERTIFY_COMPILED=0`` is set, :func:`enabled` is false and the numpy code runs everywhere
(the bounds then differ from the compiled ones by rounding only, both rigorous).
"""

from __future__ import annotations

import os

import numpy as np

from certify.kernel import elementary as el

# The constants the loops use, written out here: numba bakes globals into the machine code
# it caches, and renews that cache only when this file changes, so a change of
# elementary's constants must change this file too. enabled() is false while any differs.
_U = 1.1102230246251565e-16
_STEP = 2.220446049250313e-16
_TINY = 5e-324
_MAXF = 1.7976931348623157e+308
_ONE_UP = 1.0000000000000002
_EXP_C = (1.0, 1.0, 0.5, 0.16666666666666666, 0.041666666666666664, 0.008333333333333333)
_EXP_INV = 369.3299304675746
_EXP_L1, _EXP_L2 = 0.002707606173999011, 6.327543041662719e-14
_EXP_CLO, _EXP_CHI = 0.9999999999999994, 1.0000000000000007
_EXP_X_MIN, _EXP_X_MAX = -746.0, 710.0
_EXP_N = 256
_EXP_BITS = 8
#: The exp table (elementary's), passed to the loops that evaluate exp (an argument, so
#: never baked in).
EXP_TABLE = np.ascontiguousarray(el._EXP_T)
#: 2^e for -1022 <= e <= 1023 (exact), at e + 1022.
POW2 = np.ldexp(1.0, np.arange(-1022, 1024))


def constants_match() -> bool:
    """Whether the constants written out above are elementary's, bit for bit."""
    pairs = [(_U, el.U), (_STEP, el._STEP), (_TINY, el.TINY), (_MAXF, el.MAXF), (_ONE_UP, el._ONE_UP),
             (_EXP_INV, el._EXP_INV), (_EXP_L1, el._EXP_L1), (_EXP_L2, el._EXP_L2), (_EXP_CLO, el._EXP_CLO),
             (_EXP_CHI, el._EXP_CHI), (_EXP_X_MIN, el._EXP_X_MIN), (_EXP_X_MAX, el._EXP_X_MAX)]
    pairs += list(zip(_EXP_C, el._EXP_C))
    return (len(_EXP_C) == len(el._EXP_C) and _EXP_N == el._EXP_N and _EXP_BITS == el._EXP_TABLE_BITS
            and all(np.float64(a).tobytes() == np.float64(b).tobytes() for a, b in pairs))


_STATE: dict = {}


def enabled() -> bool:
    """Whether the compiled loops run: numba imports, every loop compiles (or loads from the
    cache) on a small input of the types the kernel passes, the constants above are
    elementary's, and CERTIFY_COMPILED is not 0. Any failure leaves the numpy code on. The
    first call imports numba and loads the loops (well under a second with a warm cache)."""
    if os.environ.get("CERTIFY_COMPILED", "1") == "0":
        return False
    if "ok" not in _STATE:
        try:
            if not constants_match():
                raise RuntimeError("constants differ from elementary's")
            _build()
            _warm_up()
            _STATE["ok"] = True
        except Exception:  # numba missing, unusable with this numpy, or failing to compile
            _STATE["ok"] = False
    return _STATE["ok"]


def _warm_up():
    """Every loop once, on inputs of the kernel's types: compilation (or the cache's loading)
    happens here, where a failure can still turn the compiled path off."""
    f1, f2, f3 = np.zeros(2), np.zeros((2, 3)), np.zeros((2, 3, 3))
    i1, i2 = np.zeros(2, dtype=np.int64), np.zeros((2, 3), dtype=np.int64)
    b1, b2 = np.zeros(2, dtype=np.bool_), np.zeros((2, 3), dtype=np.bool_)
    table = np.ones((3, 6))
    _key_scores(table, i2, np.ones((2, 3)), f1, np.ones(2), f1, f1, f1, f1, f1, 0.0, 1.0, f2.copy(), f2.copy())
    _floor_sums(f2, i2, np.ones(2), 8.0, EXP_TABLE, POW2, f1.copy(), f1.copy(), i1.copy())
    _refine_drops(f2, f2, i2, np.ones(2), b1, f1, f1, f1, 64, EXP_TABLE, POW2, b2.copy(), f1.copy(), f2.copy())
    _exp_array(f1, EXP_TABLE, POW2, f1.copy(), f1.copy())
    J, L = np.triu_indices(3)                  # d = 3, o = 1: 6 pairs, 19 features
    _moment_sums(f3, np.zeros((2, 3, 1)), f2, np.zeros((2, 1)), J.astype(np.int64), L.astype(np.int64), f2, f2,
                 np.zeros((2, 19)), np.zeros((2, 19)), np.zeros((2, 19)), np.zeros((2, 3, 1)), np.zeros((2, 6, 3)))
    _chord_node_sums(f2, f2, f2, f2, f3, 3, EXP_TABLE, POW2, f3.copy(), f2.copy(), f2.copy(), f3.copy(), f2.copy())
    _third_sums(f3, f2, f2, f2, f2, f3, 1.0, *(f2.copy() for _ in range(7)), f3.copy())
    _centre_softmax(f3, f3, f2, np.ones((2, 3)), f2, f2, f1, 0.0, 0.0, True, 0.0, EXP_TABLE, POW2,
                    *(f2.copy() for _ in range(5)), f2.copy(), f2.copy())
    _chord_range(f3, f2, f2, f2, f2, f2, f1, True, f1, f1, f1, np.ones(2), f1, f1, f1, 0.0, 0.0,
                 f2.copy(), f2.copy(), f2.copy())
    _gather_keys(i2 - 1, f2, f1, f2, f1, f1, f1, f3.copy(), f2.copy(), f3.copy(), f2.copy(), f2.copy(), f2.copy())
    _finite_kept(i2, f2, f2)
    _compact_kept(i2, b2, np.empty((2, _kept_width(i2, b2)), dtype=np.int64))


#: The loops below, by name: plain Python until :func:`_build` compiles them (numba is
#: imported on first use only: it costs about 0.3 s).
_LOOPS: list[str] = []


def _jit(fn):
    _LOOPS.append(fn.__name__)
    return fn


def _build():
    """Replace each loop of this module by its compiled form (IEEE semantics: fastmath off;
    compiled on first call, cached on disk). Callees first, so that callers see compiled
    callees when they compile."""
    if _STATE.get("built"):
        return
    import numba
    g = globals()
    for name in _LOOPS:
        g[name] = numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")(g[name])
    _STATE["built"] = True


def _entry(name):
    def call(*args):
        _build()
        return globals()["_" + name](*args)
    call.__name__ = name
    call.__doc__ = f"The compiled ``_{name}`` (compiled on first use)."
    return call


# ------------------------------------------------------------------------- the loops

@_jit
def _nmax(a, b):
    # np.maximum: (a >= b or a is NaN) ? a : b
    return a if (a >= b or a != a) else b


@_jit
def _nmin(a, b):
    return a if (a <= b or a != a) else b


@_jit
def _down(x):
    return x - (abs(x) * _STEP + _TINY)


@_jit
def _up(x):
    return x + (abs(x) * _STEP + _TINY)


@_jit
def _gamma(n):
    # certify.kernel.interval.gamma for 1 <= n (n u < 1/2 for every count here)
    nu = n * _U
    return nu / (1.0 - nu) * (1.0 + 1e-10)


@_jit
def _exp_core(x, table):
    """elementary.exp_bounds up to its last products: (y, q) with e^x in [y c_lo, y c_hi] 2^q
    (the same operations)."""
    xc = _nmin(_nmax(x, _EXP_X_MIN), _EXP_X_MAX)
    kf = np.rint(xc * _EXP_INV)
    k = np.int64(kf)
    r = xc - kf * _EXP_L1
    r = r - kf * _EXP_L2
    q = _EXP_C[5]
    q = q * r
    q = q + _EXP_C[4]
    q = q * r
    q = q + _EXP_C[3]
    q = q * r
    q = q + _EXP_C[2]
    q = q * r
    q = q + _EXP_C[1]
    q = q * r
    q = q + _EXP_C[0]
    y = q * table[k & (_EXP_N - 1)]
    return y, k >> _EXP_BITS


@_jit
def _scale2(v, e, pow2):
    """ldexp(v, e) for the exp's 0.5 < |v| < 2 and -1077 <= e <= 1024: products by exact powers
    of two (``pow2`` = 2^(j - 1022) at j, every normal power). Where 2^e is normal, v 2^e
    rounded once; else first by 2^(e + 64) or 2^(e - 64), which is exact (the product is a
    normal float), then by 2^-64 or 2^64, rounded once. So v 2^e rounded once to nearest in
    every case, which is what ldexp returns (exact unless subnormal or overflowing)."""
    if e < -1022:
        return (v * pow2[e + 64 + 1022]) * pow2[-64 + 1022]
    if e > 1023:
        return (v * pow2[e - 64 + 1022]) * pow2[64 + 1022]
    return v * pow2[e + 1022]


@_jit
def _exp_lo(x, table, pow2):
    """The lower end of elementary.exp_bounds at one float x (the same operations)."""
    y, e = _exp_core(x, table)
    lo = _scale2(y * _EXP_CLO, e, pow2)
    lo = lo - _TINY
    lo = _nmax(lo, 0.0)
    return _nmin(lo, _MAXF)


@_jit
def _exp_hi(x, table, pow2):
    """The upper end of elementary.exp_bounds at one float x (the same operations)."""
    y, e = _exp_core(x, table)
    return _scale2(y * _EXP_CHI, e, pow2) + _TINY


@_jit
def _exp_array(x, table, pow2, lo, hi):
    """elementary.exp_bounds over a flat array (NaN gives NaN, NaN)."""
    for i in range(x.size):
        v = x[i]
        if v != v:
            lo[i] = np.nan
            hi[i] = np.nan
        else:
            lo[i] = _exp_lo(v, table, pow2)
            hi[i] = _exp_hi(v, table, pow2)


def exp_bounds(x: np.ndarray):
    """:func:`elementary.exp_bounds` of a float64 array, compiled (the same numbers)."""
    _build()
    flat = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    lo, hi = np.empty_like(flat), np.empty_like(flat)
    _exp_array(flat, EXP_TABLE, POW2, lo, hi)
    return lo.reshape(x.shape), hi.reshape(x.shape)


@_jit
def _dot4(x, y):
    """Float sum of the products x_k y_k in a fixed order: four running sums over the indices
    k = 0, 1, 2, 3 (mod 4), then (s0 + s1) + (s2 + s3), then the last n mod 4 terms in order.
    (The callers' error bounds hold for any order of summation; this one is fixed by the
    code, so the same on every host.)"""
    n = x.size
    m = n - n % 4
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    for k in range(0, m, 4):
        a0 = a0 + x[k] * y[k]
        a1 = a1 + x[k + 1] * y[k + 1]
        a2 = a2 + x[k + 2] * y[k + 2]
        a3 = a3 + x[k + 3] * y[k + 3]
    t = (a0 + a1) + (a2 + a3)
    for k in range(m, n):
        t = t + x[k] * y[k]
    return t


@_jit
def _feature_sums3(f, fa, pm, pr):
    """(sum pm_k f_k, sum pm_k |f_k|, sum pr_k |f_k|) in :func:`_dot4`'s order; fa receives |f|."""
    for k in range(f.size):
        fa[k] = abs(f[k])
    return _dot4(f, pm), _dot4(fa, pm), _dot4(fa, pr)


@_jit
def _moment_sums(A, V, w, beta, J, L, pm, pr, mid, am, ar, Yf, XXs):
    """cellbound._raw_moments' float sums without the feature array: per cell, for each
    feature f_k (X = A_k - w, the pairs X_j X_l in the order of J, L, Y = v_k - beta, Y_i X_j,
    Y_i X_j X_l; each the same float operation as there), sum_k pm_k f_k (mid), sum_k pm_k
    |f_k| (am) and sum_k pr_k |f_k| (ar), each in :func:`_dot4`'s order; also Y (Yf, B x K x
    o) and the pairs (XXs, B x P x K). (The error bound there holds
    for any order of summation: this is one.) Feature by feature over the keys (rows that
    vectorise)."""
    B, K, d = A.shape
    o = V.shape[2]
    P = J.size
    X = np.empty((d, K))
    Y = np.empty((o, K))
    f = np.empty(K)
    fa = np.empty(K)
    for b in range(B):
        pmb = pm[b]
        prb = pr[b]
        n = 0
        for j in range(d):
            wj = w[b, j]
            for k in range(K):
                X[j, k] = A[b, k, j] - wj
            mid[b, n], am[b, n], ar[b, n] = _feature_sums3(X[j], fa, pmb, prb)
            n += 1
        for q in range(P):
            xj = X[J[q]]
            xl = X[L[q]]
            xs = XXs[b, q]
            for k in range(K):
                xs[k] = xj[k] * xl[k]
            mid[b, n], am[b, n], ar[b, n] = _feature_sums3(xs, fa, pmb, prb)
            n += 1
        for i in range(o):
            bi = beta[b, i]
            for k in range(K):
                y = V[b, k, i] - bi
                Y[i, k] = y
                Yf[b, k, i] = y
            mid[b, n], am[b, n], ar[b, n] = _feature_sums3(Y[i], fa, pmb, prb)
            n += 1
        for i in range(o):
            for j in range(d):
                for k in range(K):
                    f[k] = Y[i, k] * X[j, k]
                mid[b, n], am[b, n], ar[b, n] = _feature_sums3(f, fa, pmb, prb)
                n += 1
        for i in range(o):
            for q in range(P):
                xs = XXs[b, q]
                for k in range(K):
                    f[k] = Y[i, k] * xs[k]
                mid[b, n], am[b, n], ar[b, n] = _feature_sums3(f, fa, pmb, prb)
                n += 1


@_jit
def _raised(x):
    # elementary.up_nonneg (in place there): x (1 + 2^-52) + 2^-1074
    return x * _ONE_UP + _TINY


@_jit
def _pair_rest(Xb, p, mm, zero):
    """mm_q = the float sum in key order of Xb_qk p_k for the pairs q >= 3, three pairs a pass
    over the keys (``zero``: a row of zeros standing for pairs past the last)."""
    P = Xb.shape[0]
    K = p.size
    for q in range(3, P, 3):
        y0 = Xb[q]
        y1 = Xb[q + 1] if q + 1 < P else zero
        y2 = Xb[q + 2] if q + 2 < P else zero
        m0 = 0.0
        m1 = 0.0
        m2 = 0.0
        for k in range(K):
            pk = p[k]
            m0 = m0 + y0[k] * pk
            m1 = m1 + y1[k] * pk
            m2 = m2 + y2[k] * pk
        mm[q] = m0
        if q + 1 < P:
            mm[q + 1] = m1
        if q + 2 < P:
            mm[q + 2] = m2


@_jit
def _pair_first(Mm, m0, m1, m2):
    """Mm's first three entries (as many as it has)."""
    P = Mm.size
    if P > 0:
        Mm[0] = m0
    if P > 1:
        Mm[1] = m1
    if P > 2:
        Mm[2] = m2


@_jit
def _chord_node_sums(pi_c, E, D, D2, XX, n, table, pow2, ph, S10, S20, Mm, ptop):
    """cellbound._chord_nodes' per-key work: per sub-interval i, ph_ik = up(pi_c_k e^{(i+1)
    E_k / n}) (e^{E/n} by the kernel's exp, then powers, each rounded up as there), and the
    float sums over k, in key order, of up(ph D), up(ph D^2) and of the pair features XX times
    ph (S10, S20, Mm: raw sums, bounded by the caller); ptop the largest ph_ik over k (NaN if
    any is NaN). One pass over the keys per sub-interval forms ph and all its sums but the
    pairs past the third (:func:`_pair_rest`)."""
    B, K = E.shape
    P = XX.shape[1]
    nf = float(n)
    st = np.empty(K)
    g = np.empty(K)
    zero = np.zeros(K)
    for b in range(B):
        for k in range(K):
            x = _nmax(E[b, k], 0.0)
            x = x / nf
            x = _raised(x)
            st[k] = _exp_hi(x, table, pow2) if x == x else np.nan
        pc = pi_c[b]
        Db = D[b]
        D2b = D2[b]
        Xb = XX[b]
        x0 = Xb[0] if P > 0 else zero
        x1 = Xb[1] if P > 1 else zero
        x2 = Xb[2] if P > 2 else zero
        for i in range(n):
            p = ph[b, i]
            a10 = 0.0
            a20 = 0.0
            m0 = 0.0
            m1 = 0.0
            m2 = 0.0
            top = -np.inf
            for k in range(K):
                gk = st[k]
                if i > 0:
                    gk = _raised(g[k] * gk)
                g[k] = gk
                pk = _raised(pc[k] * gk)
                p[k] = pk
                top = _nmax(top, pk)
                a10 = a10 + _raised(pk * Db[k])
                a20 = a20 + _raised(pk * D2b[k])
                m0 = m0 + x0[k] * pk
                m1 = m1 + x1[k] * pk
                m2 = m2 + x2[k] * pk
            ptop[b, i] = top
            S10[b, i] = a10
            S20[b, i] = a20
            _pair_first(Mm[b, i], m0, m1, m2)
            _pair_rest(Xb, p, Mm[b, i], zero)


@_jit
def _third_sums(ph, D, D2, Y, delta, XX, g1, S01, S11, S02, s, qt, lt, wtop, Mm):
    """cellbound._third_softmax's per-key work for one output: per sub-interval, the float
    sums, in key order, of py = up(ph Y), up(py D), up(py Y); S01 = up(sum py * g1) (usum, g1 =
    1 + 2 gamma); then w = up(up(ph up(Y + S01)) up(D + delta)) and the sums of w, up(w D^2),
    up(w D) and of XX w. S11, S02, s, qt, lt, Mm are raw sums; wtop the largest w (NaN if any
    is NaN). Two passes over the keys per sub-interval (py's sums; w's), and
    :func:`_pair_rest`."""
    B, n, K = ph.shape
    P = XX.shape[1]
    w = np.empty(K)
    zero = np.zeros(K)
    for b in range(B):
        Db = D[b]
        D2b = D2[b]
        Yb = Y[b]
        Xb = XX[b]
        x0 = Xb[0] if P > 0 else zero
        x1 = Xb[1] if P > 1 else zero
        x2 = Xb[2] if P > 2 else zero
        for i in range(n):
            p = ph[b, i]
            a01 = 0.0
            a11 = 0.0
            a02 = 0.0
            for k in range(K):
                y = Yb[k]
                py = _raised(p[k] * y)
                a01 = a01 + py
                a11 = a11 + _raised(py * Db[k])
                a02 = a02 + _raised(py * y)
            S11[b, i] = a11
            S02[b, i] = a02
            s01 = _raised(a01 * g1)
            S01[b, i] = s01
            dl = delta[b, i]
            top = -np.inf
            sw = 0.0
            qa = 0.0
            la = 0.0
            m0 = 0.0
            m1 = 0.0
            m2 = 0.0
            for k in range(K):
                x = _raised(Yb[k] + s01)
                x = _raised(p[k] * x)
                x = x * _raised(Db[k] + dl)
                wk = _raised(x)
                w[k] = wk
                top = _nmax(top, wk)
                sw = sw + wk
                qa = qa + _raised(wk * D2b[k])
                la = la + _raised(wk * Db[k])
                m0 = m0 + x0[k] * wk
                m1 = m1 + x1[k] * wk
                m2 = m2 + x2[k] * wk
            wtop[b, i] = top
            s[b, i] = sw
            qt[b, i] = qa
            lt[b, i] = la
            _pair_first(Mm[b, i], m0, m1, m2)
            _pair_rest(Xb, w, Mm[b, i], zero)


@_jit
def _frexp_exponent(w, word, bits):
    """frexp's exponent of a float w >= 0 (w in [2^(e-1), 2^e); 0 for w = 0), read off its
    bits (``word``, a float64 buffer of one, and ``bits``, its int64 view): the biased
    exponent E gives e = E - 1022 for a normal w; a subnormal w (E = 0) has e <= -1022, and
    -1022 is returned for it (callers clip far above that)."""
    if w == 0.0:
        return 0
    word[0] = w
    E = (bits[0] >> 52) & 0x7FF
    return (E if E > 0 else 1) - 1022


@_jit
def _key_scores(table, idx, g, r, c2hi, q_lo, q_hi, k_t, k_a, k_0, k_9, r_up, s_lo, s_hi):
    """cellbound._key_scores_numpy's operations, key by key (the same floats; padding gives
    NaN). Row by row: the keys' table entries gathered first, then the arithmetic on rows
    (which vectorises: the per-cap numbers are locals)."""
    G, K = idx.shape
    d = g.shape[1]
    t = np.empty(K)
    bb = np.empty(K)
    aa = np.empty(K)
    sq = np.empty(K)
    pad = np.empty(K, dtype=np.bool_)
    for i in range(G):
        for j in range(K):
            kk = idx[i, j]
            pad[j] = kk < 0
            if kk < 0:
                kk = 0
            v = table[kk, 0] * g[i, 0]
            for e in range(1, d):
                v = v + table[kk, e] * g[i, e]
            t[j] = v
            bb[j] = table[kk, d]
            aa[j] = table[kk, d + 1]
            sq[j] = table[kk, d + 2]
        _score_row(t, bb, aa, sq, pad, c2hi[i], r[i], q_lo[i], q_hi[i], k_t[i], k_a[i], k_0[i], k_9, r_up,
                   s_lo[i], s_hi[i])


@_jit
def _score_row(t_, b_, a_, sq_, pad, c2hi, r, q_lo, q_hi, k_t, k_a, k_0, k_9, r_up, s_lo, s_hi):
    for j in range(t_.size):
        t = t_[j]
        b = b_[j]
        v = t * t
        v = v / c2hi
        sq = sq_[j] - v
        v = v * 0.0
        R = _nmax(sq, v)
        R = np.sqrt(R)
        R = R * r
        R = R * r_up
        err = abs(b)
        err = err + R
        err = err * k_9
        P = abs(t)
        P = P * k_t
        err = err + P
        a = a_[j] * k_a
        err = err + a
        err = err + k_0
        b = b + t
        v = t * q_hi
        w = t * q_lo
        hi = _nmax(v, w)
        hi = hi + b
        hi = hi + R
        hi = hi + err
        lo = _nmin(v, w)
        lo = lo + b
        lo = lo - R
        lo = lo - err
        s_lo[j] = np.nan if pad[j] else lo
        s_hi[j] = np.nan if pad[j] else hi


@_jit
def _floor_sums(s_lo, idx, mult, span, table, pow2, m_out, total_out, count_out):
    """Per row: m (largest real lower score; NaN if any is NaN; -inf with no real key), the
    float sum in index order of max(down(exp_lo(down(s_lo - m)) mult), 0) over the real keys
    whose gap is not below -span, and their count."""
    G, K = s_lo.shape
    for i in range(G):
        m = -np.inf
        for j in range(K):
            if idx[i, j] >= 0:
                m = _nmax(m, s_lo[i, j])
        total = 0.0
        n = 0
        for j in range(K):
            kk = idx[i, j]
            if kk < 0:
                continue
            gap = _down(s_lo[i, j] - m)
            if gap < -span:
                continue
            e_lo = _exp_lo(gap, table, pow2) if gap == gap else np.nan
            term = _nmax(_down(e_lo * mult[kk]), 0.0)
            total = total + term
            n += 1
        m_out[i] = m
        total_out[i] = total
        count_out[i] = n


@_jit
def _refine_drops(s_lo, s_hi, idx, mult, keep, ref, lim, left, bins, table, pow2, drop, theta, w_up):
    """Per row, the drops of cellbound._refine_rows (movable, then _lightest) and theta (the
    usum_rows of the dropped weights); returns (any movable, any drop)."""
    G, K = s_lo.shape
    sums = np.zeros(bins)
    word = np.zeros(1)
    bits = word.view(np.int64)
    cls = np.zeros(K, dtype=np.int64)
    any_movable = False
    any_drop = False
    for i in range(G):
        # the key with the largest lower score (first of equals) stays
        best = -1
        bv = -np.inf
        for j in range(K):
            if idx[i, j] >= 0:
                v = s_lo[i, j]
                if best < 0 or v > bv or (v != v and bv == bv):
                    best = j
                    bv = v
        for c in range(bins):
            sums[c] = 0.0
        nmov = 0
        for j in range(K):
            kk = idx[i, j]
            drop[i, j] = False
            w_up[i, j] = np.inf
            cls[j] = -1
            if kk < 0 or keep[kk]:
                continue
            gap = _up(s_hi[i, j] - ref[i])
            if not (gap <= lim[i]):
                continue
            w = _up(_exp_hi(gap, table, pow2) * mult[kk])
            w_up[i, j] = w
            if not (w <= left[i]) or j == best:
                continue
            if not (abs(w) < np.inf):
                continue
            ex = _frexp_exponent(w, word, bits)
            c = ex + (bins - 2)
            c = 0 if c < 0 else (bins - 1 if c > bins - 1 else c)
            cls[j] = c
            sums[c] = sums[c] + w
            nmov += 1
        if nmov > 0:
            any_movable = True
        acc = 0.0
        taken = 0
        for c in range(bins):
            acc = acc + sums[c]
            if acc <= left[i]:
                taken += 1
        total = 0.0
        n = 0
        for j in range(K):
            if cls[j] >= 0 and cls[j] < taken:
                drop[i, j] = True
                total = total + w_up[i, j]
                n += 1
        if n > 0:
            any_drop = True
        grow = 1.0 + 2.0 * _gamma(n - 1 if n > 2 else 1)
        x = total * grow
        theta[i] = x * _ONE_UP + _TINY
    return any_movable, any_drop


@_jit
def _exp_pair(x, table, pow2):
    """(_exp_lo(x), _exp_hi(x)) from one evaluation of the shared steps (the same operations)."""
    y, e = _exp_core(x, table)
    lo = _scale2(y * _EXP_CLO, e, pow2)
    lo = lo - _TINY
    lo = _nmax(lo, 0.0)
    return _nmin(lo, _MAXF), _scale2(y * _EXP_CHI, e, pow2) + _TINY


@_jit
def _centre_scores(val, ksq_hi, cnorm, factor, tiny_d, anorm, P_lo, P_hi):
    """From val_k = fl(<A_k, c>): anorm_k = up(sqrt(ksq_hi_k)) (>= |A_k|) and _dot3's
    enclosure of <A_k, c> (error term gamma-factor |A_k| |c|)."""
    for k in range(val.size):
        an = _raised(np.sqrt(ksq_hi[k]))
        anorm[k] = an
        err = _raised(an * cnorm)
        err = _raised(err * factor + tiny_d)
        P_lo[k] = _down(val[k] - err)
        P_hi[k] = _up(val[k] + err)


@_jit
def _centre_softmax(A, V, bias, mult, ksq_hi, c, cnorm, factor, tiny_d, unit, gz, table, pow2,
                    anorm, P_lo, P_hi, pi_lo, pi_hi, w, beta):
    """The softmax path of cellbound._centre_weights and the weights after it, per cell:
    anorm = up(sqrt(ksq_hi)) (>= |A_k|); P = _dot3(c, A, anorm) (the float dot product summed
    in coordinate order; its error term as there); the scores' enclosures, their largest
    upper end (NaN if any is NaN), exp_narrow of the shifted scores (the kernel's exp; the
    wide ones by iv.exp), times mult as there (``unit``: 0 or 1, exact products; else
    iv.scale); Z = sum_enclosure of the weights (sums in key order, ``gz`` = its gamma(K - 1)
    (1 + 4u)); pi = mul_nonneg(W, recip(Z)); the float centres w = sum_k pm_k A_k and beta =
    sum_k pm_k v_k (pm the midpoints of pi: any float centre is sound)."""
    B, K, d = A.shape
    o = V.shape[2]
    W_lo = np.empty(K)
    W_hi = np.empty(K)
    val = np.empty(K)
    for b in range(B):
        _dot_row(A[b], c[b], val)
        _centre_scores(val, ksq_hi[b], cnorm[b], factor, tiny_d, anorm[b], P_lo[b], P_hi[b])
        shift = -np.inf
        for k in range(K):
            shift = _nmax(shift, _up(P_hi[b, k] + bias[b, k]))
        zlo = 0.0
        zhi = 0.0
        alo = 0.0
        ahi = 0.0
        for k in range(K):
            lo = _down(_down(P_lo[b, k] + bias[b, k]) - shift)
            hi = _up(_up(P_hi[b, k] + bias[b, k]) - shift)
            m = (lo + hi) / 2
            h = _nmax(_up(hi - m), _up(m - lo))
            if h <= 0.5:
                elo, ehi = _exp_pair(m, table, pow2)
                rlo = _nmax(_down(elo * _down(1.0 - h)), 0.0)
                rhi = _up(ehi * _up(1.0 + 2.0 * h))
            else:
                elo = _exp_lo(lo, table, pow2) if lo == lo else np.nan
                ehi = _exp_hi(hi, table, pow2) if hi == hi else np.nan
                if elo != elo or ehi != ehi:
                    rlo = np.nan
                    rhi = np.nan
                else:
                    rlo = _nmax(elo, 0.0)
                    rhi = ehi
            mu = mult[b, k]
            if unit:
                rlo = rlo * mu
                rhi = rhi * mu
            else:
                p = rlo * mu
                q = rhi * mu
                rlo = _down(_nmin(p, q))
                rhi = _up(_nmax(p, q))
            W_lo[k] = rlo
            W_hi[k] = rhi
            zlo = zlo + rlo
            zhi = zhi + rhi
            alo = alo + abs(rlo)
            ahi = ahi + abs(rhi)
        zlo = _down(zlo - _up(alo * gz))
        zhi = _up(zhi + _up(ahi * gz))
        if zlo != zlo or zhi != zhi:
            r0 = np.nan
            r1 = np.nan
        elif zlo <= 0.0 and zhi >= 0.0:
            r0 = -np.inf
            r1 = np.inf
        else:
            r0 = _down(1.0 / zhi)
            r1 = _up(1.0 / zlo)
        _pi_row(W_lo, W_hi, r0, r1, pi_lo[b], pi_hi[b], val)
        for j in range(d):
            acc = 0.0
            for k in range(K):
                acc = acc + val[k] * A[b, k, j]
            w[b, j] = acc
        for i in range(o):
            acc = 0.0
            for k in range(K):
                acc = acc + val[k] * V[b, k, i]
            beta[b, i] = acc


@_jit
def _pi_row(W_lo, W_hi, r0, r1, pi_lo, pi_hi, pm):
    """iv.mul_nonneg(W, [r0, r1]) and the midpoints pm."""
    for k in range(W_lo.size):
        lo = _down(_nmin(W_lo[k] * r0, W_hi[k] * r0))
        hi = _up(_nmax(W_lo[k] * r1, W_hi[k] * r1))
        pi_lo[k] = lo
        pi_hi[k] = hi
        pm[k] = (lo + hi) / 2


@_jit
def _chord_range(A, P_lo, P_hi, ksq_hi, anorm, w, wnorm, use_w, cw_lo, cw_hi, w2_hi, c2_hi,
                 Q_lo, Q_hi, rho, factor, tiny_d, e_lo, e_hi, D):
    """cellbound._chord_range per key, the same operations (the float dot product <A_k, w>
    summed in coordinate order, its error term as _dot3's): the enclosure [e_lo, e_hi] of
    <d, A_k - w> over the admissible d, and D = max(-e_lo, e_hi). ``use_w`` false: w = 0
    (then |G_k|^2 <= ksq_hi). Row by row, the per-cell numbers in locals (the key loops then
    vectorise: no store can alias them)."""
    B, K, d = A.shape
    g1 = np.empty(K)
    for b in range(B):
        if use_w:
            _dot_row(A[b], w[b], g1)
            _square_norm_row(g1, ksq_hi[b], anorm[b], wnorm[b], factor, tiny_d, w2_hi[b])
        else:
            g1[:] = ksq_hi[b]
        _chord_row(P_lo[b], P_hi[b], g1, cw_lo[b], cw_hi[b], c2_hi[b], Q_lo[b], Q_hi[b], rho[b],
                   e_lo[b], e_hi[b], D[b])


@_jit
def _dot_row(A, w, out):
    """out_k = fl(<A_k, w>), summed in coordinate order (A: K x d)."""
    K, d = A.shape
    w0 = w[0]
    for k in range(K):
        out[k] = A[k, 0] * w0
    for j in range(1, d):
        wj = w[j]
        for k in range(K):
            out[k] = out[k] + A[k, j] * wj


@_jit
def _square_norm_row(g, ksq_hi, anorm, wnorm, factor, tiny_d, w2_hi):
    """In place, from g_k = fl(<A_k, w>): the upper end of |A_k - w|^2's enclosure as
    _chord_range forms it (the enclosure of <A_k, w> by _dot3's error term, doubled, then
    |A_k|^2 - 2 <A_k, w> + |w|^2 rounded outward)."""
    for k in range(g.size):
        val = g[k]
        err = _raised(anorm[k] * wnorm)
        err = _raised(err * factor + tiny_d)
        a0 = _down(val - err) * 2.0
        a1 = _up(val + err) * 2.0
        s0 = _down(_nmin(a0, a1))
        g[k] = _up(_up(ksq_hi[k] - s0) + w2_hi)


@_jit
def _chord_row(P_lo, P_hi, g1, cw_lo, cw_hi, c2_hi, Q_lo, Q_hi, rho, e_lo, e_hi, D):
    for k in range(P_lo.size):
        gc0 = _down(P_lo[k] - cw_hi)
        gc1 = _up(P_hi[k] - cw_lo)
        m = _nmin(abs(gc0), abs(gc1))
        low = 0.0 if (gc0 <= 0.0) & (gc1 >= 0.0) else m
        along = _down(_nmax(_down(low * low), 0.0) / c2_hi)
        perp = _raised(np.sqrt(_nmax(_up(g1[k] - along), 0.0)))
        bq_lo = _nmin(gc0 * Q_hi, gc1 * Q_lo)
        bq_hi = _nmax(gc1 * Q_hi, gc0 * Q_lo)
        rp = _raised(rho * perp)
        lo = _down(_down(bq_lo) - rp)
        hi = _up(_up(bq_hi) + rp)
        e_lo[k] = lo
        e_hi[k] = hi
        D[k] = _nmax(-lo, hi)

@_jit
def _gather_keys(raw, keys, biases, values, sq_lo, sq_hi, mult, A, b, V, k_lo, k_hi, m):
    """cellbound.bound_caps' gathers (copies): per entry of ``raw`` (rows of key indices, -1
    padding) the key's row, bias, values, squared-norm enclosure and multiplicity; padding
    takes the row's first key (or key 0 where that is padding too) with multiplicity 0."""
    G, K = raw.shape
    d = keys.shape[1]
    o = values.shape[1]
    for i in range(G):
        first = raw[i, 0] if raw[i, 0] >= 0 else 0
        for j in range(K):
            kk = raw[i, j]
            if kk >= 0:
                m[i, j] = mult[kk]
            else:
                kk = first
                m[i, j] = 0.0
            for e in range(d):
                A[i, j, e] = keys[kk, e]
            for e in range(o):
                V[i, j, e] = values[kk, e]
            b[i, j] = biases[kk]
            k_lo[i, j] = sq_lo[kk]
            k_hi[i, j] = sq_hi[kk]

@_jit
def _finite_kept(idx, s_lo, s_hi):
    """Whether both score bounds are finite at every entry of ``idx`` that is a key (>= 0)."""
    G, K = idx.shape
    for i in range(G):
        for j in range(K):
            if idx[i, j] >= 0 and not (np.isfinite(s_lo[i, j]) and np.isfinite(s_hi[i, j])):
                return False
    return True


@_jit
def _kept_width(idx, drop):
    """The largest count, over the rows, of the keys of ``idx`` (>= 0) not dropped (at least 1)."""
    G, K = idx.shape
    width = 1
    for i in range(G):
        n = 0
        for j in range(K):
            if idx[i, j] >= 0 and not drop[i, j]:
                n += 1
        width = max(width, n)
    return width


@_jit
def _compact_kept(idx, drop, out):
    """cellbound._compact(idx >= 0 & ~drop, idx) into ``out`` (G x :func:`_kept_width`): per
    row, the keys of ``idx`` not dropped, in order, from the row's first place, then -1. (The
    caller allocates: numpy's large buffers take huge pages where numba's do not.)"""
    G, K = idx.shape
    width = out.shape[1]
    for i in range(G):
        n = 0
        for j in range(K):
            v = idx[i, j]
            if v >= 0 and not drop[i, j]:
                out[i, n] = v
                n += 1
        for j in range(n, width):
            out[i, j] = -1


key_scores = _entry("key_scores")
floor_sums = _entry("floor_sums")
refine_drops = _entry("refine_drops")
moment_sums = _entry("moment_sums")
chord_node_sums = _entry("chord_node_sums")
third_sums = _entry("third_sums")
centre_softmax = _entry("centre_softmax")
chord_range = _entry("chord_range")
gather_keys = _entry("gather_keys")
finite_kept = _entry("finite_kept")
kept_width = _entry("kept_width")
compact_kept = _entry("compact_kept")
