"""Arb ball helpers shared by the sympy-based evaluator (:mod:`certify.kernel.arb_expressions`)
and the sympy-free claim fast path (:mod:`certify.claims.light`); importing this module
imports python-flint only.

SOUNDNESS CONTRACT: :func:`arb_pow_int` and :func:`arb_mul` return balls that contain
every value of the operation on the points of their argument balls, and
:func:`interval_ball` a ball containing every point of its rational interval (python-flint's Arb
operations are rigorous; the hulls below only intersect rigorous enclosures or take the
exact ends of monotone maps).
"""

from __future__ import annotations

import math


def _flint():
    import flint

    return flint


def arb_precision(bits: int):
    """Scoped Arb working precision: ``with arb_precision(256): ...`` (restored on exit)."""
    return _flint().ctx.workprec(bits)


def arb_pow_int(x, k: int):
    """x**k (k >= 0) from the exact ends of x when x is not certainly positive: Arb's own
    power of a ball that contains 0 is NaN or loses the sign of even powers."""
    if k == 0:
        return x ** 0
    if not x.is_finite() or x > 0 or x.is_exact():
        return x ** k
    ends = x.lower() ** k, x.upper() ** k
    hull = ends[0].union(ends[1])
    if k % 2:
        return hull  # increasing: between the powers of the ends
    if x.contains(0):
        hull = hull.union(_flint().arb(0))
    return hull.nonnegative_part()


#: Relative radius below which a ball product is kept as it is (the corner hull cannot help).
_TIGHT = math.ldexp(1.0, -40)


def arb_mul(x, y):
    """Enclosure of {a b : a in x, b in y}: the ball product, intersected for wide balls with
    the hull of the four endpoint products (ball products lose signs: [0, 2] [1, 3] is
    [-2, 6] as balls, [0, 6] as intervals)."""
    for a, b in ((x, y), (y, x)):
        # exact +1 / -1 (sympy writes 1 - x as 1 + (-1)*x): Arb's product rounds the radius
        # up, its negation is exact and keeps an exact end exact
        if a.is_exact() and (a == 1 or a == -1):
            return b if a == 1 else -b
    p = x * y
    if not p.is_finite() or p.rad() <= abs(p.mid()) * _TIGHT or x.is_exact() or y.is_exact():
        # (a product with an exact factor is exact scaling: no sign is lost, and the hull's
        # union would only round a ball's exact end, see interval_ball)
        return p
    xs, ys = (x.lower(), x.upper()), (y.lower(), y.upper())
    corners = [xe * ye for xe in xs for ye in ys]
    hull = corners[0]
    for c in corners[1:]:
        hull = hull.union(c)
    if not hull.is_finite():
        return p
    hull = hull.intersection(p)
    # a ball's mid/radius rounding can reach past 0: clip when the sign is certain
    if all(c >= 0 for c in corners):
        return hull.nonnegative_part()
    if all(c <= 0 for c in corners):
        return -((-hull).nonnegative_part())
    return hull


def interval_ball(lo, hi, high: bool = False):
    """A ball containing the rational interval [lo, hi] whose lower end is exactly ``lo``
    (``high``: whose upper end is exactly ``hi``) when that end is a dyadic number of at most
    the working precision. Arb rounds a ball's radius up, so a plain ball [m +/- r] reaches
    past both ends, and an expression such as sqrt(1 - x) on a box ending at x = 1 could
    never be shown defined there; lo + [0, w] (or hi - [0, w]) with [0, w] from
    ``nonnegative_part`` (whose lower end is exactly 0) does not reach past the anchored
    end. ``lo == hi`` gives the exact point."""
    flint = _flint()
    if lo == hi:
        return flint.arb(flint.fmpq(lo.numerator, lo.denominator))
    half = (hi - lo) / 2
    width = flint.arb(flint.fmpq(half.numerator, half.denominator),
                      flint.fmpq(half.numerator, half.denominator)).nonnegative_part()
    if high:
        return flint.arb(flint.fmpq(hi.numerator, hi.denominator)) - width
    return flint.arb(flint.fmpq(lo.numerator, lo.denominator)) + width
