"""Interval evaluation of whitelisted sympy expressions (trusted base).

SOUNDNESS CONTRACT: ``compile_interval(expr, symbols)`` returns a function mapping
enclosures of the variables (pairs of float64 arrays) to an enclosure of the expression's
exact real value at every point of the argument box, by the rules of
:mod:`certify.kernel.interval` (whose assumptions are the only ones made). Rational
constants are enclosed by rounding p/q down and up exactly (``fractions``), pi and e by
the kernel's rational enclosures. Every node of the expression is checked: where any
intermediate result has a NaN or infinite end (undefined somewhere in the box, such as log
of a negative number, or an overflow such as exp(800)), the whole result is NaN there, so a
later rule can never turn a refusal back into a number (min, max, comparisons, ``x**0``,
``0 * inf``). A NaN result means "undefined or unbounded somewhere in the box" and is never
a number.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from certify.kernel import elementary as el
from certify.kernel import interval as iv
from certify.kernel.expression_tree import Rules, compile_tree, fold

_NAN = (np.float64(np.nan), np.float64(np.nan))


def _rational(p: int, q: int):
    """Enclosure of p/q: each end the nearest float on its side (inf beyond the range)."""
    f = Fraction(p, q)
    try:
        return np.float64(el._float_down(f)), np.float64(el._float_up(f))
    except OverflowError:
        return (np.float64(-np.inf), np.float64(-el.MAXF)) if f < 0 else \
            (np.float64(el.MAXF), np.float64(np.inf))


def _constant(e: sp.Basic):
    if e.is_Integer or e.is_Rational:
        return _rational(int(e.p), int(e.q))
    if e == sp.pi:
        return np.float64(el.PI_INTERVAL[0]), np.float64(el.PI_INTERVAL[1])
    if e == sp.E:
        return iv.exp((np.float64(1.0), np.float64(1.0)))
    if e in (sp.nan, sp.zoo, sp.oo, -sp.oo) or e.has(sp.I):
        return _NAN  # undefined (or not real): refused wherever it is used
    raise ValueError(f"no interval enclosure for the constant {e}")


def _float64(end, direction: int):
    """A box end as float64: exact from narrower floats and integers up to 2^53; a wider
    float (longdouble) or a larger integer is rounded outward (down for a lower end, up for
    an upper end)."""
    a = np.asarray(end)
    out = np.asarray(a, dtype=np.float64)
    toward = -np.inf if direction < 0 else np.inf
    if a.dtype.kind == "f" and a.dtype.itemsize > 8:
        moved = (out > a) if direction < 0 else (out < a)
        out = np.where(moved, np.nextafter(out, toward), out)
    elif a.dtype.kind in "iu":
        # integers beyond 2^53 round to nearest: one step outward covers it
        out = np.where(np.abs(out) > 9007199254740992.0, np.nextafter(out, toward), out)  # 2^53
    elif a.dtype.kind not in "fb":
        raise TypeError(f"box ends must be real numbers, got dtype {a.dtype}")
    return out


_TABLE = {sp.exp: iv.exp, sp.log: iv.log, sp.sin: iv.sin, sp.cos: iv.cos, sp.tan: iv.tan,
          sp.sinh: iv.sinh, sp.cosh: iv.cosh, sp.tanh: iv.tanh, sp.atan: iv.atan,
          sp.Abs: iv.absval, sp.sign: iv.sign}


class IntervalRules(Rules):
    """The kernel's interval rules; every node but a variable is guarded (see the contract)."""

    def variable(self, i):
        return lambda env: env.args[i]

    def is_constant(self, e):
        return bool(e.is_Number or e.is_NumberSymbol or e.has(sp.I) and not e.free_symbols)

    def constant(self, e, build):
        c = _constant(e)
        return lambda env: c

    def add(self, e, build):
        return fold([build(a) for a in e.args], iv.add)

    def mul(self, e, build):
        return fold([build(a) for a in e.args], iv.mul)

    def power(self, e, build):
        base, ex = build(e.base), e.exp
        if ex.is_Integer:
            n = int(ex)
            return lambda env: iv.pow_int(base(env), n)
        if ex == sp.Rational(1, 2):
            return lambda env: iv.sqrt(base(env))
        if ex.is_Rational:
            P, positive = _constant(ex), bool(ex > 0)
            return lambda env: iv.pow_rational(base(env), P, positive)
        raise ValueError(f"no interval rule for the non-constant exponent in {e}")

    def function(self, e, build):
        fn = _TABLE.get(e.func)
        if fn is None:
            raise ValueError(f"no interval rule for {e.func}")
        (arg,) = [build(a) for a in e.args]
        return lambda env: fn(arg(env))

    def wrap(self, fn):
        """Record where this node's result is not a finite interval."""
        def node(env):
            lo, hi = fn(env)
            env.bad = env.bad | ~(np.isfinite(lo) & np.isfinite(hi))
            return lo, hi
        return node


class _Env:
    __slots__ = ("args", "bad")


def compile_interval(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable:
    root = compile_tree(expr, variables, IntervalRules())

    def evaluate(*boxes):
        env = _Env()
        env.args = [(_float64(b[0], -1), _float64(b[1], 1)) for b in boxes]
        env.bad = False
        with np.errstate(all="ignore"):
            lo, hi = root(env)
            shape = np.broadcast_shapes(*[np.shape(b[0]) for b in boxes], np.shape(lo)) if boxes else np.shape(lo)
            bad = np.broadcast_to(env.bad, shape)
            lo = np.where(bad, np.nan, np.broadcast_to(lo, shape))
            hi = np.where(bad, np.nan, np.broadcast_to(hi, shape))
        return lo, hi

    return evaluate
