"""Arb ball helpers shared by the sympy-based evaluator (:mod:`certify.kernel.arb_expressions`)
and the sympy-free claim fast path (:mod:`certify.claims.light`); importing this module
imports python-flint only.

SOUNDNESS CONTRACT: :func:`arb_pow_int` and :func:`arb_mul` return balls that contain
every value of the operation on the points of their argument balls (python-flint's Arb
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
    p = x * y
    if not p.is_finite() or p.rad() <= abs(p.mid()) * _TIGHT:
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
