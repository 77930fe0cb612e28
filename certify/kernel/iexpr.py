"""Interval evaluation of whitelisted sympy expressions (trusted base).

SOUNDNESS CONTRACT: ``compile_interval(expr, symbols)`` returns a function mapping
enclosures of the variables (pairs of float64 arrays) to an enclosure of the expression's
exact real value at every point of the argument box, by the rules of
:mod:`certify.kernel.interval`. Rational constants are enclosed by outward rounding of
p/q, pi by one ulp on each side of ``math.pi``. A result that is NaN or infinite means
"undefined or unbounded somewhere in the box" and is never a number.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from . import interval as iv


def _constant(e: sp.Basic):
    if e.is_Integer or e.is_Rational:
        p, q = int(e.p), int(e.q)
        val = p / q  # float(p) and the division each round once: two steps outward
        return iv.down(iv.down(np.float64(val))), iv.up(iv.up(np.float64(val)))
    if e == sp.pi:
        return iv.down(np.float64(math.pi)), iv.up(np.float64(math.pi))
    if e == sp.E:
        return iv.exp((np.float64(1.0), np.float64(1.0)))
    raise ValueError(f"no interval enclosure for the constant {e}")


def compile_interval(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable:
    index = {v: i for i, v in enumerate(variables)}

    def build(e: sp.Basic) -> Callable:
        if e in index:
            i = index[e]
            return lambda args: args[i]
        if e.is_Number or e.is_NumberSymbol:
            c = _constant(e)
            return lambda args: c
        if e.is_Add or e.is_Mul:
            op = iv.add if e.is_Add else iv.mul
            parts = [build(a) for a in e.args]
            def fold(args, parts=parts, op=op):
                total = parts[0](args)
                for p in parts[1:]:
                    total = op(total, p(args))
                return total
            return fold
        if e.is_Pow:
            base = build(e.base)
            ex = e.exp
            if ex.is_Integer:
                n = int(ex)
                return lambda args: iv.pow_int(base(args), n)
            if ex == sp.Rational(1, 2):
                return lambda args: iv.sqrt(base(args))
            if ex.is_Rational:
                P = _constant(ex)
                positive = ex > 0
                def rpow(args, P=P, positive=positive):
                    b = base(args)
                    return _pow_rational(b, P, positive)
                return rpow
            raise ValueError(f"no interval rule for the non-constant exponent in {e}")
        table = {sp.exp: iv.exp, sp.log: iv.log, sp.sin: iv.sin, sp.cos: iv.cos, sp.tan: iv.tan,
                 sp.sinh: iv.sinh, sp.cosh: iv.cosh, sp.tanh: iv.tanh, sp.atan: iv.atan,
                 sp.Abs: iv.absval}
        fn = table.get(e.func)
        if fn is None:
            raise ValueError(f"no interval rule for {e.func}")
        (arg,) = [build(a) for a in e.args]
        return lambda args: fn(arg(args))

    root = build(expr)

    def evaluate(*boxes):
        with np.errstate(all="ignore"):
            lo, hi = root(list(boxes))
        shape = np.broadcast_shapes(*[np.shape(b[0]) for b in boxes]) if boxes else ()
        return np.broadcast_to(lo, shape).copy(), np.broadcast_to(hi, shape).copy()

    return evaluate


def _pow_rational(b, P, positive):
    """b ** p for rational non-integer p enclosed by P: exp(p log b) at the endpoints
    (monotone in b for b > 0); b ** p = 0 at b = 0 for p > 0; undefined for b < 0."""
    lo, hi = b
    safe_lo = np.where(lo > 0, lo, 1.0)
    safe_hi = np.where(hi > 0, hi, 1.0)
    at_lo = iv.exp(iv.mul(P, iv.log(iv.point(safe_lo))))
    at_hi = iv.exp(iv.mul(P, iv.log(iv.point(safe_hi))))
    if positive:
        rlo = np.where(lo > 0, at_lo[0], 0.0)
        rhi = np.where(hi > 0, at_hi[1], 0.0)
        undefined = lo < 0
    else:
        rlo = at_hi[0]
        rhi = np.where(lo > 0, at_lo[1], np.inf)
        undefined = (lo < 0) | (hi <= 0)
    return np.where(undefined, np.nan, rlo), np.where(undefined, np.nan, rhi)
