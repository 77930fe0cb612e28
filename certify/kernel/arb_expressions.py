"""Arb-ball evaluation of whitelisted sympy expressions (trusted: the domain conditions of
targets are shown with it, and ``certify claim`` decides claims with it).

SOUNDNESS CONTRACT: ``compile_arb(expr, symbols)`` returns ``f(list of arb) -> arb`` whose
ball encloses ``expr`` at every point of the argument balls, by python-flint's Arb (whose
balls are rigorous), or is NaN where an operation is not certainly defined on its argument
ball (log or a non-integer power of a ball that may reach 0 or below, a division by a ball
containing 0, cot where sin may be 0, Gamma off the certainly positive axis). Products of wide balls are tightened
by the hull of the corner products (:func:`arb_mul`), integer powers of balls containing 0
by their exact ends (:func:`_arb_pow_int`), and I_{nu+1}(x)/I_nu(x) is evaluated as one
monotone ratio (:func:`_bessel_ratios`). ``compile_domain`` decides domain conditions
(``kind`` pos, nonneg, nonzero, gamma; ``expr``) on balls: True or False only when certain.
Working precision is scoped with ``flint.ctx.workprec`` (:func:`arb_precision`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp

from certify.kernel.arb_balls import _flint, arb_mul, arb_precision
from certify.kernel.arb_balls import arb_pow_int as _arb_pow_int
from certify.kernel.expression_tree import Rules, compile_tree, fold

__all__ = ["ARB_PRECISIONS", "ArbRules", "_flint", "arb_mul", "arb_precision", "arb_value", "besselratio",
           "compile_arb", "compile_domain", "holds", "with_bessel_ratios"]

#: Bits of working precision of Arb evaluations, and the ladder tried when a constant
#: condition is not decided at the first (an exponentially small quantity needs more bits).
ARB_PRECISIONS = (128, 512, 2048)


def _bessel_ratios(factors, build):
    """Pull pairs I_{nu+1}(x) * I_nu(x)^-1 (constant nu >= 0) out of a product and evaluate
    each as one ratio R(x) = I_{nu+1}(x)/I_nu(x). R is increasing in x > 0 for nu >= 0
    (Amos 1974; Laforgia and Natalini 2010), so on a ball of x >= 0 it lies between its values
    at the two exact ends: far tighter than dividing two wide Bessel balls, whose widths
    both grow with e^x and cancel in the true ratio."""
    flint = _flint()
    ratios = []
    rest = list(factors)
    for den in list(rest):
        if not (den.is_Pow and den.exp == -1 and den.base.func is sp.besseli):
            continue
        nu, x = den.base.args
        if not (nu.is_Rational and nu >= 0):
            continue
        num = next((f for f in rest if f.func is sp.besseli and f.args == (nu + 1, x)), None)
        if num is None or den not in rest:
            continue
        rest.remove(den)
        rest.remove(num)
        arg = build(x)
        order = flint.fmpq(int(nu.p), int(nu.q))

        def ratio(a, arg=arg, order=order):
            y = arg(a)
            if not (y.is_finite() and y >= 0):
                return flint.arb("nan")
            ends = []
            for end in (y.lower(), y.upper()):
                if end.is_zero():
                    ends.append(flint.arb(0))
                else:
                    ends.append(end.bessel_i(order + 1) / end.bessel_i(order))
            return ends[0].union(ends[1])
        ratios.append(ratio)
    return ratios, rest


class besselratio(sp.Function):
    """R_nu(x) = I_{nu+1}(x)/I_nu(x) as one function (constant nu >= 0), so that its
    derivatives are the closed form R' = 1 - R^2 - (2 nu + 1) R / x (from I_nu' = I_{nu+1} +
    (nu/x) I_nu and I_{nu+1}' = I_nu - ((nu+1)/x) I_{nu+1}) instead of quotients of wide
    Bessel balls. :func:`with_bessel_ratios` writes a margin with it; Arb evaluates it as the
    increasing ratio from the ball's exact ends (:func:`_bessel_ratios`)."""

    def fdiff(self, argindex=2):
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        nu, x = self.args
        return 1 - self ** 2 - (2 * nu + 1) * self / x


def with_bessel_ratios(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every product I_{nu+1}(x) * I_nu(x)^-1 (rational nu >= 0) written as
    besselratio(nu, x): the same function wherever I_nu(x) != 0."""
    def rewrite(e):
        if not e.is_Mul:
            return e
        factors = list(e.args)
        for den in list(factors):
            if not (den.is_Pow and den.exp == -1 and den.base.func is sp.besseli):
                continue
            nu, x = den.base.args
            if not (nu.is_Rational and nu >= 0):
                continue
            num = sp.besseli(nu + 1, x)
            if num in factors and den in factors:
                factors.remove(num)
                factors.remove(den)
                factors.append(besselratio(nu, x))
        return sp.Mul(*factors)
    return expr.replace(lambda e: e.is_Mul, rewrite)


_SIMPLE = {sp.exp: "exp", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.sinh: "sinh",
           sp.cosh: "cosh", sp.tanh: "tanh", sp.atan: "atan"}
#: sign, Heaviside and DiracDelta appear only in derivatives of abs, min and max. Where the
#: argument may be 0 they are enclosed by the hull of their one-sided values (sign: [-1, 1],
#: Heaviside: [0, 1]); DiracDelta, unbounded there, is NaN.
_STEPS = {sp.sign: (-1, 1), sp.Heaviside: (0, 1), sp.DiracDelta: (0, 0)}


class ArbRules(Rules):
    """The Arb rules (see the contract)."""

    def __init__(self):
        self.flint = _flint()
        self.arb = self.flint.arb

    def nan(self):
        return self.arb("nan")

    def constant(self, e, build):
        arb, flint = self.arb, self.flint
        if e.is_Integer:
            return lambda a: arb(int(e))
        if e.is_Rational:
            q = flint.fmpq(int(e.p), int(e.q))
            return lambda a: arb(q)
        if e is sp.pi:
            return lambda a: arb.pi()
        if e is sp.E:
            return lambda a: arb(1).exp()
        if e is sp.EulerGamma:
            return lambda a: arb.const_euler()
        raise ValueError(f"no Arb evaluator for the constant {e}")

    def positive(self, f, fn):
        """fn(x) where the ball x = f(a) is certainly positive, else NaN."""
        return lambda a: (lambda x: fn(x) if x > 0 else self.nan())(f(a))

    def add(self, e, build):
        return fold([build(t) for t in e.args], lambda x, y: x + y)

    def mul(self, e, build):
        ratios, rest = _bessel_ratios(list(e.args), build)
        return fold(ratios + [build(t) for t in rest], arb_mul)

    def power(self, e, build):
        base, ex = build(e.base), e.exp
        if ex.is_Integer:
            k = int(ex)
            if k >= 0:
                return lambda a: _arb_pow_int(base(a), k)
            return lambda a: (lambda x: (1 / x) ** (-k) if not x.contains(0) else self.nan())(base(a))
        if ex == sp.Rational(1, 2):
            return lambda a: (lambda x: x.sqrt() if x >= 0 else self.nan())(base(a))
        if ex.is_Rational:
            q = self.flint.fmpq(int(ex.p), int(ex.q))
            return self.positive(base, lambda x: (x.log() * self.arb(q)).exp())
        # a symbolic exponent (sympy writes exp(c*log(a)) as a**c): exp(c log a), base > 0
        expo = build(ex)
        return lambda a: (lambda x: (x.log() * expo(a)).exp() if x > 0 else self.nan())(base(a))

    def function(self, e, build):
        f, arb = e.func, self.arb
        args = [build(t) for t in e.args]
        one = args[0] if args else None
        if f in _SIMPLE:
            name = _SIMPLE[f]
            return lambda a: getattr(one(a), name)()
        if f is sp.gamma:  # poles at 0, -1, ...: only on certainly positive balls
            return self.positive(one, lambda x: x.gamma())
        if f is sp.log:
            return self.positive(one, lambda x: x.log())
        if f is sp.Abs:
            # Arb's |ball| keeps the ball's radius, so [-1, 1] stays [-1, 1]; |x| >= 0 always
            return lambda a: abs(one(a)).nonnegative_part()
        if f in _STEPS:
            lo, hi = _STEPS[f]
            delta = f is sp.DiracDelta

            def jump(a):
                x = one(a)
                if not x.is_finite():
                    return self.nan()
                if x > 0:
                    return arb(hi)
                if x < 0:
                    return arb(lo)
                return self.nan() if delta else arb(lo).union(arb(hi))
            return jump
        if f is sp.cot:  # sympy's form of tan(pi/2 - x): cos/sin where sin is not 0
            return lambda a: (lambda x: (lambda s: x.cos() / s if not s.contains(0) else self.nan())(x.sin()))(one(a))
        if f is sp.coth:
            return lambda a: (lambda x: x.coth() if not x.contains(0) else self.nan())(one(a))
        if f is sp.besseli:
            nu, x = args

            def bessel(a):
                n, y = nu(a), x(a)
                if n >= 0 and y >= 0:
                    # I_nu(y) is increasing in y >= 0 and decreasing in nu >= 0 (for y > 0,
                    # and I_nu(0) = 0 for nu > 0): evaluate at the exact ball ends, which is
                    # far faster and tighter than Arb's wide-ball Bessel evaluation
                    return y.lower().bessel_i(n.upper()).union(y.upper().bessel_i(n.lower()))
                return y.bessel_i(n)
            return bessel
        if f is besselratio:
            order, point = e.args[0], args[1]
            q = self.flint.fmpq(int(order.p), int(order.q))

            def ratio(a):
                y = point(a)
                if not (y.is_finite() and y >= 0):
                    return self.nan()
                ends = [arb(0) if end.is_zero() else end.bessel_i(q + 1) / end.bessel_i(q)
                        for end in (y.lower(), y.upper())]
                return ends[0].union(ends[1])
            return ratio
        if f in (sp.Min, sp.Max):
            pick = "min" if f is sp.Min else "max"

            def extreme(a):
                vals = [p(a) for p in args]
                out = vals[0]
                for v in vals[1:]:
                    out = getattr(out, pick)(v)
                return out
            return extreme
        raise ValueError(f"no Arb evaluator for {f}")


def compile_arb(expr: sp.Expr, symbols) -> Callable:
    """``f(list of arb) -> arb`` enclosing ``expr`` (the contract above). Raises ValueError
    for a node it has no rule for."""
    return compile_tree(expr, symbols, ArbRules())


def arb_value(expr: sp.Expr, symbols, balls=()):
    """``expr`` enclosed in Arb at ``balls`` (None when no Arb evaluator exists)."""
    try:
        return compile_arb(expr, symbols)(list(balls))
    except (ValueError, TypeError, ZeroDivisionError):
        return None


def holds(kind: str, v) -> bool | None:
    """True / False when the condition ``kind`` certainly holds / fails on the ball v,
    None when v does not decide it (or is NaN)."""
    if v is None or not v.is_finite():
        return None
    if kind == "pos":
        return True if v > 0 else (False if v <= 0 else None)
    if kind == "nonneg":
        return True if v >= 0 else (False if v < 0 else None)
    if kind == "nonzero":
        return True if not v.contains(0) else (False if v.is_zero() else None)
    if kind == "gamma":
        if v > 0 or (v < 0 and not v.contains_integer()):
            return True
        if v.is_exact() and v.is_integer() and v <= 0:
            return False
        return None
    raise ValueError(f"unknown domain condition {kind!r}")


def compile_domain(conditions: Sequence, symbols) -> Callable:
    """``status(balls) -> (verdict, condition)``: (True, None) when every condition certainly
    holds at every point of the balls; (False, c) when c certainly fails at every point (the
    expression is undefined there: either c's own operation is, or one inside it); (None, c)
    when c is not decided. A condition with no Arb evaluator is never decided."""
    checks = []
    for c in conditions:
        try:
            checks.append((c, compile_arb(c.expr, symbols)))
        except (ValueError, TypeError):
            checks.append((c, None))

    def status(balls):
        unknown = None
        for c, fn in checks:
            verdict = holds(c.kind, fn(list(balls)) if fn is not None else None)
            if verdict is False:
                return False, c
            if verdict is None and unknown is None:
                unknown = c
        return (True, None) if unknown is None else (None, unknown)

    return status
