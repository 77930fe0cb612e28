"""Vectorised outward-rounded interval arithmetic in numpy float64 (trusted base).

SOUNDNESS CONTRACT
------------------
An interval is a pair of float64 arrays (lo, hi); it *encloses* a real number r when
lo <= r <= hi. Every function here maps enclosures of its arguments to an enclosure of
the exact real result, under these assumptions and no others:

1. IEEE 754 binary64 arithmetic in round-to-nearest mode (numpy's default; nothing here
   changes it), no FMA contraction, no flush-to-zero. Then +, -, *, /, sqrt are correctly
   rounded: the exact result lies within half an ulp of the computed one, so one
   :func:`down` / :func:`up` step outward encloses it.
2. exp, log, sin, cos, tan, sinh, cosh, tanh, atan and non-integer powers are the kernel's
   own (:mod:`certify.kernel.elementary`: correctly rounded operations only, with a-priori
   error bounds), never numpy's, glibc's or the CPU's, whose accuracy differs between
   hosts. Under :class:`strict_backend` they are Arb balls (python-flint, 128 bits) instead.
3. Sums of n terms use the a-priori bound |fl(sum) - sum| <= gamma_{n-1} sum |t_i|,
   gamma_k = k u / (1 - k u), u = 2^-53, valid for every summation order (numpy's
   pairwise summation and any SIMD order included). The code multiplies gamma by the
   *float* sum of |t_i|, which may be low by a factor 1 - gamma; that is still a bound,
   by the sharper |fl(sum) - sum| <= (n - 1) u sum |t_i| (Rump 2012, Jeannerod and Rump
   2013), also valid for every order, since gamma_{n-1} (1 - gamma_{n-1}) >= (n - 1) u.
4. Arguments are float64 arrays (the outward steps are binary64 ulps); the entry points
   (:func:`point`, :mod:`certify.kernel.interval_expressions`) convert their inputs.

Refusal: a NaN or infinite bound is never a number. Functions return (-inf, inf) or NaN
where the result is unbounded or undefined (division by an interval containing 0, log or
sqrt of an interval reaching below 0, tan across a pole), and a NaN end of an argument
gives NaN ends of the result (every rule is tested on NaN, infinite and half-infinite
arguments); callers treat any non-finite bound as "not certified".
"""

from __future__ import annotations

import math

import numpy as np

from certify.kernel import elementary as el
from certify.kernel.elementary import down, up, up_nonneg

#: Unit roundoff of binary64.
U = math.ldexp(1.0, -53)
INF = np.inf


#: Elementary-function backend: "kernel" (certify.kernel.elementary) or "arb"
#: (python-flint balls; see :func:`strict_backend`).
_BACKEND = "kernel"


def backend() -> str:
    """The elementary-function backend in use: "kernel" or "arb"."""
    return _BACKEND


class strict_backend:
    """Context manager: with ``strict_backend(True)`` every elementary function value is an
    Arb ball (python-flint, 128 bits) rounded outward to floats: a second, independent
    algorithm for re-checks. Much slower."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        global _BACKEND
        self._old = _BACKEND
        if self.enabled:
            _BACKEND = "arb"
        return self

    def __exit__(self, *exc):
        global _BACKEND
        _BACKEND = self._old
        return False


def _arb_bounds(name, x):
    x = np.asarray(x, dtype=np.float64)
    # non-finite arguments and log's domain edge follow the kernel's rules
    lo, hi = (np.array(e, dtype=np.float64) for e in el.BOUNDS[name](x))
    arb = np.isfinite(x) & ((x > 0) if name == "log" else True)
    if arb.any():
        alo, ahi = el.arb_point_bounds({"arctan": "atan"}.get(name, name), x[arb].tolist())
        lo[arb], hi[arb] = alo, ahi
    return lo, hi


def fbounds(name, x):
    """Pointwise enclosure (lo, hi) of an elementary function at float arguments x."""
    if _BACKEND == "arb":
        return _arb_bounds(name, x)
    with np.errstate(all="ignore"):
        return el.BOUNDS[name](x)


def _nan_where(bad, lo, hi):
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


def _has_nan(*intervals):
    bad = False
    for a in intervals:
        bad = bad | np.isnan(a[0]) | np.isnan(a[1])
    return bad


def point(x):
    """The degenerate interval [x, x] of float64 values (the rules below take float64 arrays:
    their outward steps are binary64 ulps)."""
    x = np.asarray(x, dtype=np.float64)
    return x, x.copy()


def gamma(n: int) -> float:
    """An upper bound on gamma_n = n u / (1 - n u) (valid for n u < 1/2)."""
    if n <= 0:
        return 0.0
    nu = n * U
    if nu >= 0.5:
        return INF
    # the float evaluation is within a few ulps; the factor 1 + 1e-10 dominates that error
    return nu / (1.0 - nu) * (1.0 + 1e-10)


def add(a, b):
    return down(a[0] + b[0]), up(a[1] + b[1])


def sub(a, b):
    return down(a[0] - b[1]), up(a[1] - b[0])


def neg(a):
    return -a[1], -a[0]


def mul(a, b):
    with np.errstate(invalid="ignore"):
        p = [a[0] * b[0], a[0] * b[1], a[1] * b[0], a[1] * b[1]]
    lo = np.minimum(np.minimum(p[0], p[1]), np.minimum(p[2], p[3]))
    hi = np.maximum(np.maximum(p[0], p[1]), np.maximum(p[2], p[3]))
    return down(lo), up(hi)


def scale(a, c):
    """a * c for a float array c (exact float factor)."""
    with np.errstate(invalid="ignore"):
        p, q = a[0] * c, a[1] * c
    return down(np.minimum(p, q)), up(np.maximum(p, q))


def mul_nonneg(a, b):
    """a * b where every number in a is >= 0 (a[0] >= 0): 4 products, 2 comparisons."""
    with np.errstate(invalid="ignore"):
        lo = np.minimum(a[0] * b[0], a[1] * b[0])
        hi = np.maximum(a[0] * b[1], a[1] * b[1])
    return down(lo), up(hi)


def square(a):
    lo, hi = a
    alo, ahi = np.abs(lo), np.abs(hi)
    mx = np.maximum(alo, ahi)
    mn = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(alo, ahi))
    return down(mn * mn).clip(min=0.0), up(mx * mx)


def recip(a):
    lo, hi = a
    bad = (lo <= 0) & (hi >= 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rlo, rhi = down(1.0 / hi), up(1.0 / lo)
    return _nan_where(_has_nan(a), np.where(bad, -INF, rlo), np.where(bad, INF, rhi))


def div(a, b):
    return mul(a, recip(b))


def absval(a):
    lo, hi = a
    alo, ahi = np.abs(lo), np.abs(hi)
    mn = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(alo, ahi))
    return _nan_where(_has_nan(a), mn, np.maximum(alo, ahi))


def sign(a):
    """sign(r): -1, 0 or 1; [-1, 1] where the interval reaches 0 (sign(0) = 0 is inside)."""
    lo, hi = a
    rlo = np.where(lo > 0, 1.0, np.where(hi < 0, -1.0, np.where(lo == 0, 0.0, -1.0)))
    rhi = np.where(hi < 0, -1.0, np.where(lo > 0, 1.0, np.where(hi == 0, 0.0, 1.0)))
    return _nan_where(_has_nan(a), rlo, rhi)


def mag(a):
    """Upper bound of |r| over the interval."""
    return np.maximum(np.abs(a[0]), np.abs(a[1]))


def hull(a, b):
    return np.minimum(a[0], b[0]), np.maximum(a[1], b[1])


def exp(a):
    lo, hi = fbounds("exp", a[0])[0], fbounds("exp", a[1])[1]
    # a NaN end gives NaN at that end; the other end is refused with it
    return _nan_where(np.isnan(lo) | np.isnan(hi), np.maximum(lo, 0.0), hi)


def exp_upper(x):
    """Upper bound of e^r for every real r <= x (float array x): the upper end of
    :func:`exp` of any interval ending at x, from one evaluation; NaN stays NaN."""
    return fbounds("exp", x)[1]


#: Widest half-width that :func:`exp_narrow` takes from one evaluation (e^h <= 1 + 2h needs
#: h <= 1.25; the margin is arbitrary).
_EXP_NARROW_HALF = 0.5


def exp_narrow(a):
    """:func:`exp` for intervals that are mostly narrow (scores enclosed to a few ulps), from
    one evaluation at the midpoint m: with h >= max(hi - m, m - lo), e^r for r in [lo, hi]
    lies in e^m [e^-h, e^h] and 1 - h <= e^-h, e^h <= 1 + 2h for 0 <= h <= 1.25. Intervals
    with h > 1/2 (or a non-finite end) get :func:`exp`."""
    lo, hi = a
    with np.errstate(invalid="ignore", over="ignore"):
        m = (lo + hi) / 2
        h = np.maximum(up(hi - m), up(m - lo))
    wide = ~(h <= _EXP_NARROW_HALF)              # True for NaN
    elo, ehi = fbounds("exp", np.where(wide, 0.0, m))
    rlo = np.maximum(down(elo * down(1.0 - h)), 0.0)
    rhi = up(ehi * up(1.0 + 2.0 * h))
    if np.any(wide):
        lo, hi = np.broadcast_arrays(lo, hi)
        rlo, rhi = np.broadcast_to(rlo, lo.shape).copy(), np.broadcast_to(rhi, lo.shape).copy()
        wide = np.broadcast_to(wide, lo.shape)
        rlo[wide], rhi[wide] = exp((lo[wide], hi[wide]))
    return rlo, rhi


def log(a):
    lo, hi = a
    with np.errstate(divide="ignore", invalid="ignore"):
        rlo, rhi = fbounds("log", lo)[0], fbounds("log", hi)[1]
    undefined = ~(lo > 0) | _has_nan(a)  # log is undefined (or -inf) somewhere in the interval
    return _nan_where(undefined, rlo, rhi)


def sqrt(a):
    lo, hi = a
    with np.errstate(invalid="ignore"):
        rlo, rhi = down(np.sqrt(np.maximum(lo, 0.0))), up(np.sqrt(hi))
    undefined = ~(lo >= 0) | _has_nan(a)
    return _nan_where(undefined, np.maximum(rlo, 0.0), rhi)


def _monotone(name, a, lower=-INF, upper=INF):
    lo, hi = fbounds(name, a[0])[0], fbounds(name, a[1])[1]
    return _nan_where(_has_nan(a), np.maximum(lo, lower), np.minimum(hi, upper))


def atan(a):
    return _monotone("arctan", a, -math.pi / 2 - 1e-15, math.pi / 2 + 1e-15)


def tanh(a):
    return _monotone("tanh", a, -1.0, 1.0)


def sinh(a):
    return _monotone("sinh", a)


def cosh(a):
    lo, hi = a
    blo, bhi = fbounds("cosh", lo), fbounds("cosh", hi)
    top = np.maximum(blo[1], bhi[1])
    bottom = np.where((lo <= 0) & (hi >= 0), 1.0, np.minimum(blo[0], bhi[0]))
    return np.maximum(bottom, 1.0), top


#: Beyond this magnitude the period tests below are not trusted: sin/cos give [-1, 1].
_PHASE_LIMIT = 1e6


def _contains_phase(lo, hi, phase):
    """Conservatively: may [lo, hi] contain phase + 2 k pi for some integer k?

    k = ceil((lo - phase)/(2 pi) - 1e-9) is never larger than the smallest such k (the float
    error of the quotient is far below 1e-9 for |lo| <= 1e6), so the test can only
    over-detect, which only loosens a bound.
    """
    k = np.ceil((lo - phase) / (2 * math.pi) - 1e-9)
    centre = phase + 2 * math.pi * k
    slack = 1e-9 * (1 + np.abs(centre))
    huge = (np.abs(lo) > _PHASE_LIMIT) | (np.abs(hi) > _PHASE_LIMIT) | ~np.isfinite(lo) | ~np.isfinite(hi)
    return (centre <= hi + slack) | huge


def _periodic(name, a, peak_phase, trough_phase):
    """Range of a 2 pi-periodic function in [-1, 1] with maxima at peak_phase + 2 k pi and
    minima at trough_phase + 2 k pi: the endpoint values, or +-1 where an extremum may lie.
    An infinite end gives [-1, 1]; a NaN end gives NaN."""
    lo, hi = a
    flo, fhi = fbounds(name, lo), fbounds(name, hi)
    rlo, rhi = np.minimum(flo[0], fhi[0]), np.maximum(flo[1], fhi[1])
    wide = (hi - lo) >= 2 * math.pi
    single = lo == hi  # a point: its own enclosure, also beyond the phase tests' range
    rhi = np.where(~single & (wide | _contains_phase(lo, hi, peak_phase)), 1.0, np.minimum(rhi, 1.0))
    rlo = np.where(~single & (wide | _contains_phase(lo, hi, trough_phase)), -1.0, np.maximum(rlo, -1.0))
    return _nan_where(_has_nan(a), rlo, rhi)


def sin(a):
    return _periodic("sin", a, math.pi / 2, -math.pi / 2)


def cos(a):
    return _periodic("cos", a, 0.0, math.pi)


def tan(a):
    lo, hi = a
    pole = ((hi - lo) >= math.pi) | _contains_phase(lo, hi, math.pi / 2) | _contains_phase(lo, hi, -math.pi / 2)
    pole &= lo != hi  # a point: its own enclosure (infinite where the cos enclosure reaches 0)
    rlo, rhi = fbounds("tan", lo)[0], fbounds("tan", hi)[1]
    return _nan_where(_has_nan(a), np.where(pole, -INF, rlo), np.where(pole, INF, rhi))


def pow_int(a, n: int):
    if n == 0:
        # x ** 0 = 1 where x is defined; NaN stays NaN (an undefined base stays undefined)
        return _nan_where(_has_nan(a), np.ones_like(a[0]), np.ones_like(a[1]))
    if n < 0:
        return recip(pow_int(a, -n))
    result = None
    base = a
    k = n
    # exponentiation by squaring on intervals; square() is tight for even powers
    while k:
        if k & 1:
            result = base if result is None else mul(result, base)
        k >>= 1
        if k:
            base = square(base)
    if n % 2 == 0:
        # x^n >= 0 for even n: intersect with [0, inf)
        result = (np.maximum(result[0], 0.0), result[1])
    return result


def pow_rational(a, P, positive: bool):
    """a ** p for a non-integer rational p enclosed by the interval P (p itself need not be
    a float, e.g. 1/3) of known sign: exp(p log a) at the ends of a, with the kernel's own
    functions (monotone in a for a > 0); a ** p = 0 at a = 0 for p > 0; undefined (NaN)
    where a < 0 (for p < 0 also where hi <= 0; lo = 0 < hi gives an infinite upper end,
    a refusal)."""
    lo, hi = a
    safe_lo = np.where(lo > 0, lo, 1.0)
    safe_hi = np.where(hi > 0, hi, 1.0)
    at_lo = exp(mul(P, log(point(safe_lo))))
    at_hi = exp(mul(P, log(point(safe_hi))))
    if positive:
        rlo = np.where(lo > 0, at_lo[0], 0.0)
        rhi = np.where(hi > 0, at_hi[1], 0.0)
        undefined = ~(lo >= 0)
    else:
        rlo = at_hi[0]
        rhi = np.where(lo > 0, at_lo[1], INF)
        undefined = ~(lo >= 0) | ~(hi > 0)
    return _nan_where(undefined | _has_nan(a, P), rlo, rhi)


def sum_enclosure(lo, hi, axis=-1):
    """Enclosure of sums of enclosed terms along ``axis`` (a-priori error bound)."""
    n = np.shape(lo)[axis]
    g = gamma(max(n - 1, 0))
    slo, shi = np.sum(lo, axis=axis), np.sum(hi, axis=axis)
    elo = up(np.sum(np.abs(lo), axis=axis) * (g * (1 + 4 * U)))
    ehi = up(np.sum(np.abs(hi), axis=axis) * (g * (1 + 4 * U)))
    return down(slo - elo), up(shi + ehi)


def dot_enclosure(x, M):
    """Enclosure of x @ M.T for exact float arrays x (B x d) and M (K x d): B x K."""
    d = x.shape[-1]
    val = x @ M.T
    # |fl - exact| <= gamma_d sum |x||M| (+ underflow); the float absolute sum is itself
    # within gamma_d of the exact one
    err = (np.abs(x) @ np.abs(M).T) * (gamma(d) * (1 + 2 * gamma(d + 2)))
    err = up(err + d * math.ldexp(1.0, -1073))
    return down(val - err), up(val + err)


def is_finite(a):
    return np.isfinite(a[0]) & np.isfinite(a[1])
