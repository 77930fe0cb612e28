"""The kernel's own elementary functions against Arb (python-flint, 128 bits).

Zero slack: the exact value (an Arb ball of radius ~2^-128 relative) must lie inside the
kernel's enclosure [lo, hi], at >= 10^5 random and adversarial inputs per function: near
reduction boundaries (multiples of ln2/512, pi/4), huge and tiny arguments, subnormals,
-0.0, values near overflow and underflow. Also: the enclosures are tight (a few ulps), NaN
is refused, and no numpy transcendental function is involved (a test replaces them all).
"""

from __future__ import annotations

import math

import flint
import numpy as np
import pytest

from certify.kernel import elementary as el

N_RANDOM = 100_000
TINY = 5e-324


def _around(centres, rng, ulps=4):
    """Each centre and its neighbours up to ``ulps`` floats away on both sides."""
    c = np.asarray(centres, dtype=np.float64)
    out = [c]
    lo = hi = c
    for _ in range(ulps):
        with np.errstate(over="ignore"):
            lo, hi = np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)
        out += [lo, hi]
    return np.concatenate(out)


def _specials():
    return np.array([0.0, -0.0, TINY, -TINY, 2.2250738585072014e-308, -2.2250738585072014e-308,
                     1e-310, -1e-310, 1e-300, 2.0 ** -60, 1.0, -1.0, 0.5, 2.0, 1e-8, 1e8])


def _inputs(name, rng):
    sp = _specials()
    if name == "exp":
        parts = [rng.uniform(-745.5, 709.8, N_RANDOM // 2), rng.uniform(-5, 5, N_RANDOM // 4),
                 rng.standard_normal(N_RANDOM // 4) * 1e-6,
                 _around(np.arange(-600, 600) * (math.log(2) / 512), rng, 2),
                 _around([709.782712893384, 709.78, 709.0, 708.4, -708.4, -744.44, -745.13,
                          -745.2, -746.0, 710.0, 1e300, -1e300], rng, 6), sp]
    elif name == "log":
        e = rng.uniform(-1074, 1023, N_RANDOM // 2)
        parts = [np.exp2(e), rng.uniform(0.5, 2.0, N_RANDOM // 4), 1.0 + rng.standard_normal(N_RANDOM // 4) * 1e-9,
                 _around([1.0, 0.7071067811865476, 1.4142135623730951, 2.0, 0.5, 4.0, 1e-300, TINY,
                          2.2250738585072014e-308, 1.7976931348623157e308, math.e], rng, 6),
                 np.abs(sp[sp != 0])]
    elif name in ("sin", "cos", "tan"):
        half_pi = math.pi / 2
        k = np.concatenate([np.arange(-400, 400), rng.integers(-600_000, 600_000, 2000)])
        parts = [rng.uniform(-10, 10, N_RANDOM // 2), rng.uniform(-1e6, 1e6, N_RANDOM // 4),
                 rng.standard_normal(N_RANDOM // 4) * 1e-5,
                 _around(k * half_pi, rng, 2), _around(k * half_pi / 2, rng, 1),
                 # classic hard cases for the reduction, and beyond the fast range (Arb)
                 _around([355.0, 103993.0, 104348.0, 208341.0, 312689.0, 833719.0, 999999.9],
                         rng, 4),
                 np.array([1e6 + 1, 1e7, 1e22, -1e22, 6381956970095103.0 * 2.0 ** 797, 1e308]), sp]
    elif name in ("sinh", "cosh", "tanh"):
        parts = [rng.uniform(-20, 20, N_RANDOM // 2), rng.uniform(-720, 720, N_RANDOM // 4),
                 rng.standard_normal(N_RANDOM // 4) * 1e-3,
                 _around([0.5, -0.5, 0.25, 354.0, 355.0, 710.0, 711.0, -711.0, 1e300], rng, 6), sp]
    elif name == "arctan":
        parts = [rng.uniform(-50, 50, N_RANDOM // 2), np.exp2(rng.uniform(-1074, 1023, N_RANDOM // 4))
                 * rng.choice([-1.0, 1.0], N_RANDOM // 4),
                 rng.uniform(-1.2, 1.2, N_RANDOM // 4),
                 _around([1.0, -1.0, 0.41421356237309503, 0.19891236737965800, 1.7976931348623157e308], rng, 6),
                 sp]
    else:  # pragma: no cover
        raise AssertionError(name)
    return np.concatenate(parts)


def _inside(l, h, ball):
    return ((l == -math.inf or flint.arb(l) <= ball)
            and (h == math.inf or ball <= flint.arb(h)))


ARB = {"exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh",
       "cosh": "cosh", "tanh": "tanh", "arctan": "atan"}


@pytest.mark.parametrize("name", sorted(ARB))
def test_encloses_arb_with_zero_slack(name):
    rng = np.random.default_rng(20261201 + len(name))
    x = _inputs(name, rng)
    assert x.size >= N_RANDOM
    lo, hi = el.BOUNDS[name](x)
    assert lo.shape == x.shape and hi.shape == x.shape
    method = ARB[name]
    bad = []
    with flint.ctx.workprec(128):
        for xi, l, h in zip(x.tolist(), lo.tolist(), hi.tolist()):
            ball = getattr(flint.arb(xi), method)()
            if not ball.is_finite():
                # only at poles of tan (impossible at floats) or overflow: must not be finite-bounded
                if math.isfinite(h) and math.isfinite(l):
                    bad.append((xi, l, h, "Arb unbounded"))
                continue
            if math.isnan(l) or math.isnan(h):
                bad.append((xi, l, h, "NaN at a defined point"))
                continue
            if name == "tanh" and abs(xi) > 40:
                # 1 - tanh|x| = 2/(e^{2|x|} + 1) is beyond any precision: compare with it
                t = 1 - 2 * (-2 * flint.arb(abs(xi))).exp()
                ok = (flint.arb(abs(h)) >= 1 and flint.arb(abs(l)) <= t) if xi > 0 else \
                     (flint.arb(abs(l)) >= 1 and flint.arb(abs(h)) <= t)
                if not ok:
                    bad.append((xi, l, h, "tanh near +-1"))
                continue
            if not _inside(l, h, ball):
                # a ball of 2^-128 relative radius straddling an end exactly representable
                # (cos(1e-320) <= 1.0): decide it at a precision beyond the subnormal range
                with flint.ctx.workprec(4400):
                    ball = getattr(flint.arb(xi), method)()
                    if not _inside(l, h, ball):
                        bad.append((xi, l, h, str(ball)))
    assert not bad, f"{name}: {len(bad)} enclosures miss the exact value, e.g. {bad[:5]}"


@pytest.mark.parametrize("name", sorted(ARB))
def test_nan_is_refused(name):
    lo, hi = el.BOUNDS[name](np.array([np.nan, 1.0]))
    assert np.isnan(lo[0]) and np.isnan(hi[0])
    assert np.isfinite(lo[1]) and np.isfinite(hi[1])


def test_infinite_arguments():
    lo, hi = el.exp_bounds(np.array([np.inf, -np.inf, 800.0]))
    assert lo[0] == el.MAXF and hi[0] == np.inf       # a valid (finite) lower end
    assert lo[1] == 0.0 and 0.0 < hi[1] <= 1e-300
    assert lo[2] == el.MAXF and hi[2] == np.inf
    for f in (el.sin_bounds, el.cos_bounds, el.tan_bounds):
        lo, hi = f(np.array([np.inf, -np.inf]))
        assert np.all(np.isnan(lo)) and np.all(np.isnan(hi))
    lo, hi = el.log_bounds(np.array([0.0, -1.0, -0.0, np.inf]))
    assert np.all(np.isnan(lo[:3])) and np.all(np.isnan(hi[:3]))
    assert lo[3] >= 709.0 and hi[3] == np.inf
    lo, hi = el.atan_bounds(np.array([np.inf, -np.inf]))
    assert lo[0] <= math.pi / 2 <= hi[0] and lo[1] <= -math.pi / 2 <= hi[1]
    lo, hi = el.tanh_bounds(np.array([np.inf, -np.inf, 1e308]))
    assert np.all(hi <= 1.0) and np.all(lo >= -1.0) and lo[0] > 0.99


def test_odd_functions_keep_the_sign_of_zero_and_symmetry():
    x = np.linspace(-3, 3, 601)
    for f in (el.sin_bounds, el.sinh_bounds, el.tanh_bounds, el.atan_bounds):
        lo, hi = f(x)
        nlo, nhi = f(-x)
        assert np.array_equal(nlo, -hi) and np.array_equal(nhi, -lo)


def test_constants_enclose_ln2_and_pi():
    with flint.ctx.workprec(200):
        assert flint.arb(el.LN2_INTERVAL[0]) < flint.arb(2).log() < flint.arb(el.LN2_INTERVAL[1])
        assert flint.arb(el.PI_INTERVAL[0]) < flint.arb.pi() < flint.arb(el.PI_INTERVAL[1])
        assert flint.arb(el.PI_2_INTERVAL[0]) < flint.arb.pi() / 2 < flint.arb(el.PI_2_INTERVAL[1])


def test_exp_table_entries_are_within_one_ulp():
    with flint.ctx.workprec(200):
        for i, t in enumerate(el._EXP_T.tolist()):
            exact = flint.arb(2) ** (flint.arb(i) / 256)
            assert abs(flint.arb(t) - exact) <= flint.arb(math.ulp(t)), i


def test_no_numpy_transcendental_function_is_called(monkeypatch):
    """Replace numpy's transcendental ufuncs by functions that fail: the kernel's functions
    must give the same enclosures (they use only +, -, *, /, sqrt, ldexp, frexp)."""
    x = np.concatenate([np.linspace(-30, 30, 2001), [1e-300, 1e7]])
    before = {n: f(np.abs(x) + 1e-9 if n == "log" else x) for n, f in el.BOUNDS.items()}

    def forbidden(*args, **kwargs):
        raise AssertionError("a numpy transcendental function was called")

    for fn in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
               "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan", "arctan2", "power",
               "float_power", "hypot", "cbrt"):
        monkeypatch.setattr(np, fn, forbidden)
    for fn in ("exp", "log", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "pow",
               "log2", "log10", "log1p", "expm1"):
        monkeypatch.setattr(math, fn, forbidden)
    for n, f in el.BOUNDS.items():
        after = f(np.abs(x) + 1e-9 if n == "log" else x)
        assert np.array_equal(after[0], before[n][0], equal_nan=True)
        assert np.array_equal(after[1], before[n][1], equal_nan=True)


def test_scalar_and_zero_dimensional_arguments_beyond_the_fast_range():
    for f, name in ((el.sin_bounds, "sin"), (el.cos_bounds, "cos"), (el.tan_bounds, "tan")):
        for x in (2e6, np.float64(1e22), np.array(-3e300)):
            lo, hi = f(x)
            assert np.shape(lo) == () and np.shape(hi) == ()
            with flint.ctx.workprec(128):
                assert _inside(float(lo), float(hi), getattr(flint.arb(float(x)), name)())


def test_split_constants_have_the_bits_that_make_k_times_them_exact():
    from fractions import Fraction

    def significant_bits(v):
        n = Fraction(v).numerator
        return (n // (n & -n)).bit_length()

    for part, bits, kmax in ((el._P1, 33, el._TRIG_K_MAX), (el._P2, 33, el._TRIG_K_MAX),
                             (el._EXP_L1, 34, el._EXP_K_MAX), (el._LN2_A, 42, 2 ** 11)):
        assert significant_bits(part) <= bits
        k = float(kmax - 1)
        assert Fraction(k * part) == Fraction(k) * Fraction(part)  # the float product is exact


@pytest.mark.parametrize("p, q", [(1, 3), (-1, 2), (5, 2), (1, 7), (-7, 3)])
def test_constant_powers_enclose_arb_with_zero_slack(p, q):
    """x ** (p/q) through the kernel's exp and log (never a library pow), at 10^5 arguments:
    random, tiny, huge, subnormal, near 1 and near powers of two."""
    from certify.kernel import interval as iv
    from certify.kernel.interval_expressions import _rational

    rng = np.random.default_rng(abs(100 * p + q))
    x = np.concatenate([np.exp2(rng.uniform(-1074, 1023, N_RANDOM // 2)), rng.uniform(0, 4, N_RANDOM // 4),
                        1.0 + rng.standard_normal(N_RANDOM // 4) * 1e-9,
                        _around([1.0, 2.0, 0.5, 8.0, 1e-300, TINY, 1e300], rng, 4)])
    x = x[x > 0]  # the domain (x < 0 is undefined, and 0 for negative powers: NaN, tested elsewhere)
    assert x.size >= N_RANDOM
    lo, hi = iv.pow_rational(iv.point(x), _rational(p, q), p > 0)
    bad = []
    with flint.ctx.workprec(128):
        e = flint.arb(flint.fmpq(p, q))
        for xi, l, h in zip(x.tolist(), lo.tolist(), hi.tolist()):
            if math.isnan(l) or math.isnan(h):
                bad.append((xi, l, h, "NaN at a defined point"))
                continue
            exact = flint.arb(xi) ** e
            if not exact.is_finite():
                continue
            if not _inside(l, h, exact):
                bad.append((xi, l, h, str(exact)))
    assert not bad, f"x**({p}/{q}): {len(bad)} enclosures miss the exact value, e.g. {bad[:5]}"
