"""Whitelisted expressions: user strings -> sympy -> vectorised numpy.

A user's expression string is never handed to ``eval``, ``sympify`` or ``parse_expr``
(all of which execute Python). It is parsed by :func:`ast.parse` (a parser, which runs
nothing) and the syntax tree is walked node by node; every node kind, name and call is
checked against a whitelist and translated into a sympy object by hand. Anything else
is refused with an :class:`~certify.errors.InputError` naming the field.

Grammar accepted (``x0 .. xm`` are the coordinates of a point of S^m in R^(m+1)):

* numbers (decimal literals, read *exactly* as rationals: ``0.1`` means 1/10),
* the variables ``x0 .. xm`` and the constant ``pi``,
* ``+ - * / **`` and unary ``+ -``; the exponent of ``**`` must be a numeric constant
  (``2``, ``-3``, ``0.5``, ``(1/3)``) with absolute value at most :data:`MAX_EXPONENT`,
* calls of ``exp log sqrt sin cos tan sinh cosh tanh atan abs`` (one argument each).

Callers may extend the function list (``certify claim`` adds ``besseli``, ``coth``,
``gamma``, ``min``, ``max``) and choose other variable names.

Domains. sympy evaluates while it builds (``x/x`` becomes 1, ``sqrt(x)**2`` becomes x,
``exp(log(x))`` becomes x, ``0*log(x)`` becomes 0), so the sympy object can be defined where
the expression as written is not. The walk therefore records, from the syntax tree and
before any simplification, one :class:`DomainCondition` per partial operation: each
division's denominator != 0, each negative integer power's base != 0, each non-integer
power's base >= 0 (> 0 for negative exponents), each log's argument > 0, each sqrt's
argument >= 0, each tan's cos(argument) != 0, each coth's argument != 0, each gamma's
argument off the poles 0, -1, -2, ..., each besseli(nu, x) with non-integer nu at x >= 0
(> 0 for nu < 0 or a variable nu). Wherever every condition holds, the simplified object
equals the expression as written (sympy's rewrites are identities there), and so do its
derivatives; a caller that decides anything from the simplified object must first show the
conditions (:func:`compile_domain`). Constant conditions are decided at parse time (an
expression such as ``log(-1)`` is refused); :func:`parse_target` shows the conditions on the
whole sphere (:func:`check_defined_on_sphere`) or refuses the target.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from certify.errors import InputError

#: Longest accepted expression string; longer strings are refused before parsing.
MAX_LENGTH = 4000
#: Largest number of syntax-tree nodes; bounds the work of building the sympy object.
MAX_NODES = 2000
#: Deepest nesting of the syntax tree; keeps the recursive walk far from Python's limit.
MAX_DEPTH = 60
#: Largest |p| in ``base ** p``; stops exact integer blow-ups such as ``9**9**9``.
MAX_EXPONENT = 64


@dataclass(frozen=True)
class FunctionSpec:
    """A callable name of the grammar: its sympy constructor, arity, numpy evaluator."""

    sympy: Callable
    arity: int | None  # None: any number >= 2 (min, max)
    numpy: Callable


@dataclass(frozen=True)
class DomainCondition:
    """One requirement of the expression as written: ``expr`` (a sympy object of the
    variables) must be > 0 (``kind`` "pos"), >= 0 ("nonneg"), != 0 ("nonzero"), or off the
    poles 0, -1, -2, ... of Gamma ("gamma"), for the sub-expression ``source`` to be defined."""

    kind: str
    expr: sp.Expr
    source: str
    requirement: str

    def explain(self) -> str:
        return f"{self.requirement} in {self.source}"


_RELATION = {"pos": "> 0", "nonneg": ">= 0", "nonzero": "nonzero", "gamma": "off 0, -1, -2, ..."}


def _coth(x):
    return 1.0 / np.tanh(x)


def _heaviside(x, h0=0.5):
    return np.heaviside(x, h0)


def _dirac(x, k=0):
    # only derivatives of abs/min/max produce it; off its support it is exactly 0
    return np.where(x == 0, np.nan, 0.0)


TARGET_FUNCTIONS: dict[str, FunctionSpec] = {
    "exp": FunctionSpec(sp.exp, 1, np.exp),
    "log": FunctionSpec(sp.log, 1, np.log),
    "sqrt": FunctionSpec(sp.sqrt, 1, np.sqrt),
    "sin": FunctionSpec(sp.sin, 1, np.sin),
    "cos": FunctionSpec(sp.cos, 1, np.cos),
    "tan": FunctionSpec(sp.tan, 1, np.tan),
    "sinh": FunctionSpec(sp.sinh, 1, np.sinh),
    "cosh": FunctionSpec(sp.cosh, 1, np.cosh),
    "tanh": FunctionSpec(sp.tanh, 1, np.tanh),
    "atan": FunctionSpec(sp.atan, 1, np.arctan),
    "abs": FunctionSpec(sp.Abs, 1, np.abs),
}


def _claim_functions() -> dict[str, FunctionSpec]:
    import scipy.special as sc

    extra = {
        "besseli": FunctionSpec(sp.besseli, 2, sc.iv),
        "coth": FunctionSpec(sp.coth, 1, _coth),
        "gamma": FunctionSpec(sp.gamma, 1, sc.gamma),
        "min": FunctionSpec(sp.Min, None, lambda *a: np.minimum.reduce(np.broadcast_arrays(*a))),
        "max": FunctionSpec(sp.Max, None, lambda *a: np.maximum.reduce(np.broadcast_arrays(*a))),
    }
    return {**TARGET_FUNCTIONS, **extra}


#: The function list of ``certify claim``: the target list plus special functions.
CLAIM_FUNCTIONS: dict[str, FunctionSpec] = _claim_functions()

_CONSTANTS = {"pi": sp.pi}

_BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


def coordinate_symbols(sphere_dim: int) -> tuple[sp.Symbol, ...]:
    """The real symbols ``x0 .. x_m`` of points of S^m in R^(m+1)."""
    return tuple(sp.Symbol(f"x{i}", real=True) for i in range(sphere_dim + 1))


class _Translator:
    def __init__(self, text: str, fieldname: str, variables: Mapping[str, sp.Symbol],
                 functions: Mapping[str, FunctionSpec]):
        self.text = text
        self.field = fieldname
        self.variables = variables
        self.functions = functions
        self.conditions: list[DomainCondition] = []

    def require(self, kind: str, expr: sp.Expr, node: ast.AST, what: str) -> None:
        """Record that ``expr`` must satisfy ``kind`` for ``node`` (as written) to be defined."""
        source = ast.get_source_segment(self.text, node) or self.text
        self.conditions.append(DomainCondition(kind, expr, source,
                                               f"{what} {sp.sstr(expr)} must be {_RELATION[kind]}"))

    def refuse(self, message: str) -> InputError:
        return InputError(self.field, f"{message} in expression {self.text!r}")

    def number(self, node: ast.AST) -> sp.Rational:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.refuse(f"literal {value!r} is not a real number")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.refuse("a numeric literal overflows float64")
        if isinstance(value, int) and value.bit_length() > 1000:
            raise self.refuse("an integer literal is too large")
        source = ast.get_source_segment(self.text, node)
        # Exact decimal value of the literal as written (0.1 is 1/10, not the nearest double).
        try:
            exact = sp.Rational(source.replace("_", "")) if source else sp.Rational(value)
        except (TypeError, ValueError):
            exact = sp.Rational(value)
        if not math.isfinite(float(exact)):
            raise self.refuse("a numeric literal overflows float64")
        return exact

    def constant_exponent(self, node: ast.AST) -> sp.Rational:
        """Exponents are numeric constants built from literals with + - * / only."""
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = self.constant_exponent(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
            a = self.constant_exponent(node.left)
            b = self.constant_exponent(node.right)
            if isinstance(node.op, ast.Div):
                if b == 0:
                    raise self.refuse("division by zero in an exponent")
                return a / b
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
        raise self.refuse("an exponent must be a numeric constant such as 2, -1 or (1/3); "
                          "write exp(y*log(x)) for a variable exponent")

    def walk(self, node: ast.AST, depth: int = 0) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.refuse(f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ast.Expression):
            return self.walk(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            return self.number(node)
        if isinstance(node, ast.Name):
            if node.id in self.variables:
                return self.variables[node.id]
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            allowed = ", ".join(list(self.variables) + list(_CONSTANTS))
            raise self.refuse(f"unknown name {node.id!r} (allowed: {allowed})")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return -self.walk(node.operand, depth + 1)
            if isinstance(node.op, ast.UAdd):
                return self.walk(node.operand, depth + 1)
            raise self.refuse(f"operator {type(node.op).__name__} is not allowed")
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.BitXor):
                raise self.refuse("'^' is not a power here; use '**'")
            if type(node.op) not in _BINOPS:
                raise self.refuse(f"operator {type(node.op).__name__} is not allowed "
                                  "(only + - * / **)")
            left = self.walk(node.left, depth + 1)
            if isinstance(node.op, ast.Pow):
                p = self.constant_exponent(node.right)
                if abs(p) > MAX_EXPONENT:
                    raise self.refuse(f"exponent {p} exceeds {MAX_EXPONENT} in absolute value")
                if left == 0 and p < 0:
                    raise self.refuse("zero raised to a negative power")
                if p.is_Integer and p < 0:
                    self.require("nonzero", left, node, "the base")
                elif not p.is_Integer:
                    self.require("pos" if p < 0 else "nonneg", left, node, "the base")
                return left ** p
            right = self.walk(node.right, depth + 1)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if right == 0:
                raise self.refuse("division by zero")
            self.require("nonzero", right, node, "the denominator")
            return left / right
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self.refuse("only calls of whitelisted function names are allowed")
            name = node.func.id
            if name not in self.functions:
                raise self.refuse(f"unknown function {name!r} (allowed: "
                                  f"{', '.join(sorted(self.functions))})")
            if node.keywords:
                raise self.refuse(f"keyword arguments are not allowed in {name}()")
            spec = self.functions[name]
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise self.refuse("starred arguments are not allowed")
            n = len(node.args)
            if (spec.arity is not None and n != spec.arity) or (spec.arity is None and n < 2):
                want = spec.arity if spec.arity is not None else "at least 2"
                raise self.refuse(f"{name}() takes {want} argument(s), got {n}")
            args = [self.walk(a, depth + 1) for a in node.args]
            self.require_call(name, args, node)
            if any(a.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for a in args):
                raise self.refuse(f"an argument of {name}() is undefined (such as log(0) or 1/0)")
            try:
                return spec.sympy(*args)
            except (TypeError, ValueError, ZeroDivisionError, ArithmeticError) as exc:
                raise self.refuse(f"{name}() is undefined for its arguments ({exc})") from None
        kind = type(node).__name__
        raise self.refuse(f"syntax element {kind} is not allowed")

    def require_call(self, name: str, args: list, node: ast.AST) -> None:
        """The domain of each partial function of the grammar (see the module docstring)."""
        if name == "log":
            self.require("pos", args[0], node, "the argument")
        elif name == "sqrt":
            self.require("nonneg", args[0], node, "the argument")
        elif name == "tan":
            self.require("nonzero", sp.cos(args[0]), node, "the cosine of the argument")
        elif name == "coth":
            self.require("nonzero", args[0], node, "the argument")
        elif name == "gamma":
            self.require("gamma", args[0], node, "the argument")
        elif name == "besseli":
            nu, x = args
            if nu.is_Integer:
                return  # I_n is entire for integer n
            if nu.is_Rational and nu > 0:
                self.require("nonneg", x, node, "the argument (non-integer order)")
            else:
                self.require("pos", x, node, "the argument (negative or variable order)")


def parse_expression_domain(text: str, variables: Sequence[sp.Symbol], *, fieldname: str = "expression",
                            functions: Mapping[str, FunctionSpec] = TARGET_FUNCTIONS
                            ) -> tuple[sp.Expr, tuple[DomainCondition, ...]]:
    """Parse ``text`` through the whitelist: the sympy expression over ``variables`` and the
    domain conditions of the expression as written that are not constant (constant ones are
    decided here: one that fails, or cannot be decided, is refused)."""
    if not isinstance(text, str):
        raise InputError(fieldname, f"expected an expression string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(fieldname, "empty expression")
    if len(text) > MAX_LENGTH:
        raise InputError(fieldname, f"expression longer than {MAX_LENGTH} characters")
    if any(ord(ch) < 32 and ch not in " \t" for ch in text):
        raise InputError(fieldname, "control characters are not allowed in an expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        raise InputError(fieldname, f"cannot parse {text!r}: {getattr(exc, 'msg', exc)}") from None
    except (RecursionError, MemoryError):
        raise InputError(fieldname, f"expression nested too deeply: {text[:60]!r}") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise InputError(fieldname, f"expression has {count} syntax nodes (limit {MAX_NODES})")
    names = {str(v): v for v in variables}
    translator = _Translator(text.strip(), fieldname, names, functions)
    expr = translator.walk(tree)
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise InputError(fieldname, f"expression {text!r} is undefined (division by zero or infinity)")
    for p in expr.atoms(sp.Pow):
        if p.exp.is_Number and abs(p.exp) > MAX_EXPONENT:
            raise InputError(fieldname, f"exponent {p.exp} exceeds {MAX_EXPONENT} in {text!r}")
    for num in expr.atoms(sp.Number):
        if not math.isfinite(float(num)):
            raise InputError(fieldname, f"a constant in {text!r} overflows float64")
    conditions = _decide_constant_conditions(translator.conditions, text, fieldname)
    if _has_non_real_constant(expr):
        raise InputError(fieldname, f"{text!r} cannot be evaluated in real arithmetic: sympy writes "
                                    f"it as {sp.sstr(expr)!r}, with the imaginary unit (the square "
                                    "root, log or fractional power of a negative quantity)")
    return expr, conditions


def parse_expression(text: str, variables: Sequence[sp.Symbol], *, fieldname: str = "expression",
                     functions: Mapping[str, FunctionSpec] = TARGET_FUNCTIONS) -> sp.Expr:
    """Parse ``text`` through the whitelist into a sympy expression over ``variables``.

    The result may be defined where ``text`` is not (see the module docstring): callers that
    decide anything from it use :func:`parse_expression_domain` and check the conditions."""
    return parse_expression_domain(text, variables, fieldname=fieldname, functions=functions)[0]


def _has_non_real_constant(expr: sp.Expr) -> bool:
    """True when a constant sub-expression is certainly not real (I, (-1)**(1/3), ...)."""
    return any(node.is_number and node.is_extended_real is False for node in sp.preorder_traversal(expr))


def _decide_constant_conditions(conditions, text, fieldname) -> tuple[DomainCondition, ...]:
    """Drop the constant conditions that certainly hold; refuse one that certainly fails or
    that no precision of :data:`ARB_PRECISIONS` decides. Conditions are recorded inner
    first, so the first failing one names the innermost undefined operation."""
    kept = []
    for c in conditions:
        if c.expr.free_symbols:
            kept.append(c)
            continue
        verdict = None
        for bits in ARB_PRECISIONS:
            with arb_precision(bits):
                verdict = _holds(c.kind, _arb_value(c.expr, ()))
            if verdict is not None:
                break
        if verdict is False:
            raise InputError(fieldname, f"{text!r} is undefined: {c.explain()}")
        if verdict is None:
            raise InputError(fieldname, f"cannot decide whether {text!r} is defined: {c.explain()} "
                                        "is not certain in Arb")
    return tuple(kept)



# ---------------------------------------------------------------------------------------
# Arb evaluation (python-flint balls): claims, domain conditions

#: Bits of working precision of Arb evaluations, and the ladder tried when a constant
#: condition is not decided at the first (an exponentially small quantity needs more bits).
ARB_PRECISIONS = (128, 512, 2048)


def _flint():
    import flint

    return flint


class arb_precision:
    """Scoped Arb working precision (restored on exit): ``with arb_precision(256): ...``."""

    def __init__(self, bits: int):
        self.bits = bits

    def __enter__(self):
        flint = _flint()
        self.old = flint.ctx.prec
        flint.ctx.prec = self.bits

    def __exit__(self, *exc):
        _flint().ctx.prec = self.old


def _arb_pow_int(x, k: int):
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


def arb_mul(x, y):
    """Enclosure of {a b : a in x, b in y}: the ball product, intersected for wide balls with
    the hull of the four endpoint products (ball products lose signs: [0, 2] [1, 3] is
    [-2, 6] as balls, [0, 6] as intervals)."""
    p = x * y
    if not p.is_finite() or p.rad() <= abs(p.mid()) * 2.0 ** -40:
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


def compile_arb(expr: sp.Expr, symbols) -> callable:
    """``f(list of arb) -> arb`` enclosing ``expr`` at every point of the argument balls (the
    soundness contract of :mod:`certify.claims.search`); NaN where an operation is not certainly
    defined on its argument ball. Raises ValueError for a node it has no rule for."""
    flint = _flint()
    arb = flint.arb
    index = {s: i for i, s in enumerate(symbols)}
    nan = lambda: arb("nan")

    def const(e):
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

    def positive(f, fn):
        def g(a):
            x = f(a)
            return fn(x) if x > 0 else nan()
        return g

    def build(e):
        if e in index:
            i = index[e]
            return lambda a: a[i]
        if e.is_Number or e.is_NumberSymbol:
            return const(e)
        if e.is_Add or e.is_Mul:
            factors = list(e.args)
            parts = []
            if e.is_Mul:
                parts, factors = _bessel_ratios(factors, build)
            parts = parts + [build(t) for t in factors]
            add = e.is_Add

            def fold(a, parts=parts, add=add):
                total = parts[0](a)
                for p in parts[1:]:
                    total = total + p(a) if add else arb_mul(total, p(a))
                return total
            return fold
        if e.is_Pow:
            base = build(e.base)
            ex = e.exp
            if ex.is_Integer:
                k = int(ex)
                if k >= 0:
                    return lambda a: _arb_pow_int(base(a), k)
                return lambda a: (1 / base(a)) ** (-k) if not base(a).contains(0) else nan()
            if ex == sp.Rational(1, 2):
                def sq(a):
                    x = base(a)
                    return x.sqrt() if x >= 0 else nan()
                return sq
            if ex.is_Rational:
                q = flint.fmpq(int(ex.p), int(ex.q))
                return positive(base, lambda x: (x.log() * arb(q)).exp())
            raise ValueError(f"no Arb evaluator for the power {e}")
        f = e.func
        args = [build(t) for t in e.args]
        one = args[0] if args else None
        simple = {sp.exp: "exp", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan", sp.sinh: "sinh",
                  sp.cosh: "cosh", sp.tanh: "tanh", sp.atan: "atan", sp.gamma: "gamma"}
        if f in simple:
            name = simple[f]
            if f is sp.gamma:
                # Gamma has poles at 0, -1, ...: only evaluate on certainly positive balls
                return positive(one, lambda x: x.gamma())
            return lambda a: getattr(one(a), name)()
        if f is sp.log:
            return positive(one, lambda x: x.log())
        if f is sp.Abs:
            # Arb's |ball| keeps the ball's radius, so [-1, 1] stays [-1, 1]; |x| >= 0 always
            return lambda a: abs(one(a)).nonnegative_part()
        if f in (sp.sign, sp.Heaviside, sp.DiracDelta):
            # only derivatives of abs, min and max produce these; where the argument may be 0
            # they are enclosed by the hull of their one-sided values (sign: [-1, 1],
            # Heaviside: [0, 1]), and DiracDelta, unbounded there, is NaN
            step = {sp.sign: (-1, 1), sp.Heaviside: (0, 1), sp.DiracDelta: (0, 0)}[f]

            def jump(a, step=step, delta=f is sp.DiracDelta):
                x = one(a)
                if not x.is_finite():
                    return nan()
                if x > 0:
                    return arb(step[1])
                if x < 0:
                    return arb(step[0])
                if delta:
                    return nan()
                return arb(step[0]).union(arb(step[1]))
            return jump
        if f is sp.coth:
            def coth(a):
                x = one(a)
                return x.coth() if not x.contains(0) else nan()
            return coth
        if f is sp.besseli:
            nu, x = args

            def bessel(a):
                n, y = nu(a), x(a)
                if n >= 0 and y >= 0:
                    # I_nu(y) is increasing in y >= 0 and decreasing in nu >= 0 (for y > 0,
                    # and I_nu(0) = 0 for nu > 0): evaluate at the exact ball ends, which is
                    # far faster and tighter than Arb's wide-ball Bessel evaluation
                    lo = y.lower().bessel_i(n.upper())
                    hi = y.upper().bessel_i(n.lower())
                    return lo.union(hi)
                return y.bessel_i(n)
            return bessel
        if f in (sp.Min, sp.Max):
            pick = "min" if f is sp.Min else "max"

            def mm(a):
                vals = [p(a) for p in args]
                out = vals[0]
                for v in vals[1:]:
                    out = getattr(out, pick)(v)
                return out
            return mm
        raise ValueError(f"no Arb evaluator for {f}")

    return build(expr)



def _arb_value(expr: sp.Expr, symbols, balls=()):
    """``expr`` enclosed in Arb at ``balls`` (None when no Arb evaluator exists)."""
    try:
        return compile_arb(expr, symbols)(list(balls))
    except (ValueError, TypeError, ZeroDivisionError):
        return None


def _holds(kind: str, v) -> bool | None:
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


def compile_domain(conditions: Sequence[DomainCondition], symbols) -> Callable:
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
            verdict = _holds(c.kind, fn(list(balls)) if fn is not None else None)
            if verdict is False:
                return False, c
            if verdict is None and unknown is None:
                unknown = c
        return (True, None) if unknown is None else (None, unknown)

    return status


# ---------------------------------------------------------------------------------------
# numpy evaluation of sympy expressions (no code generation, no eval: a closure tree)

def _sympy_numpy_table(functions: Mapping[str, FunctionSpec]) -> dict[type, Callable]:
    table: dict[type, Callable] = {}
    for spec in functions.values():
        cls = spec.sympy if isinstance(spec.sympy, type) else None
        if cls is not None:
            table[cls] = spec.numpy
    # constructors that are functions rather than classes in sympy
    table[sp.exp] = np.exp
    table[sp.Abs] = np.abs
    table[sp.coth] = _coth
    # functions that sympy's derivatives of whitelisted ones produce (abs -> sign ->
    # DiracDelta, min/max -> Heaviside, gamma -> polygamma); gradients, Hessians and
    # estimates evaluate them
    import scipy.special as sc

    table[sp.sign] = np.sign
    table[sp.Heaviside] = _heaviside
    table[sp.DiracDelta] = _dirac
    table[sp.polygamma] = lambda n, x: sc.polygamma(np.asarray(n).astype(int), x)
    return table


_NUMPY_TABLE = _sympy_numpy_table(CLAIM_FUNCTIONS)


def compile_numpy(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable[..., np.ndarray]:
    """Compile ``expr`` into ``f(*columns) -> ndarray`` evaluated in float64 with numpy.

    The result broadcasts against the argument arrays (a constant expression returns
    an array of the broadcast shape too).
    """
    index = {v: i for i, v in enumerate(variables)}

    def build(e: sp.Basic) -> Callable:
        if e in index:
            i = index[e]
            return lambda args: args[i]
        if e.is_Number or e.is_NumberSymbol:
            c = float(e)
            return lambda args: np.float64(c)
        if e.is_Add or e.is_Mul:
            combine = np.add if e.is_Add else np.multiply
            parts = [build(a) for a in e.args]
            def fold(args, parts=parts, combine=combine):
                total = parts[0](args)
                for p in parts[1:]:
                    total = combine(total, p(args))
                return total
            return fold
        if e.is_Pow:
            base = build(e.base)
            if e.exp == sp.Rational(1, 2):
                return lambda args: np.sqrt(base(args))
            if e.exp == -1:
                return lambda args: 1.0 / base(args)
            if e.exp.is_Integer:
                k = int(e.exp)
                return lambda args: np.power(base(args), float(k))
            expo = build(e.exp)
            return lambda args: np.power(base(args), expo(args))
        fn = _NUMPY_TABLE.get(e.func)
        if fn is None:
            raise ValueError(f"no numpy evaluator for {e.func}")
        parts = [build(a) for a in e.args]
        return lambda args: fn(*[p(args) for p in parts])

    root = build(expr)

    def evaluate(*columns):
        arrays = [np.asarray(c, dtype=np.float64) for c in columns]
        shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        with np.errstate(all="ignore"):
            out = root(arrays)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy()

    return evaluate


@dataclass
class Target:
    """A vector-valued target f: S^m -> R^o given by whitelisted expression strings.

    ``exprs`` are sympy's (simplified) forms; :func:`parse_target` has shown every domain
    condition of the strings as written on all of S^m, so there the forms, their derivatives
    and the strings agree. ``domain`` keeps the conditions (per component)."""

    sphere_dim: int
    texts: tuple[str, ...]
    exprs: tuple[sp.Expr, ...] = field(repr=False)
    symbols: tuple[sp.Symbol, ...] = field(repr=False)
    domain: tuple[tuple[DomainCondition, ...], ...] = field(default=(), repr=False)

    def __post_init__(self):
        self._fns = [compile_numpy(e, self.symbols) for e in self.exprs]

    @property
    def out_dim(self) -> int:
        return len(self.exprs)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """Values at points (B x (m+1)) as a B x o float64 array."""
        pts = np.asarray(points, dtype=np.float64)
        cols = [pts[:, i] for i in range(self.sphere_dim + 1)]
        return np.stack([fn(*cols) for fn in self._fns], axis=1)

    def gradient_exprs(self) -> list[list[sp.Expr]]:
        """Exact partial derivatives d f_i / d x_j (sympy)."""
        return [[sp.diff(e, s) for s in self.symbols] for e in self.exprs]


def parse_target(texts: Sequence[str] | str, sphere_dim: int, *, fieldname: str = "target") -> Target:
    """Parse the target's expression strings (one per output component).

    Each string must be defined at every point of S^m (see :func:`check_defined_on_sphere`):
    a target such as ``log(x0 - 2)`` or ``x0/x0`` is refused, naming a point."""
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 0:
        raise InputError(fieldname, "at least one target expression is required")
    symbols = coordinate_symbols(sphere_dim)
    exprs, domain = [], []
    for i, t in enumerate(texts):
        where = f"{fieldname}[{i}]"
        e, conditions = parse_expression_domain(t, symbols, fieldname=where)
        check_defined_on_sphere(t, conditions, symbols, fieldname=where)
        try:
            compile_numpy(e, symbols)
        except ValueError as exc:
            raise InputError(where, f"{t!r} cannot be evaluated: {exc}") from None
        exprs.append(e)
        domain.append(conditions)
    return Target(sphere_dim, tuple(texts), tuple(exprs), symbols, tuple(domain))


# ---------------------------------------------------------------------------------------
# the domain of a target on the sphere

#: Boxes of R^(m+1) the sphere domain check may examine before it refuses a target.
MAX_DOMAIN_BOXES = 4000
#: Narrowest box side (the sphere lies in [-1, 1]^(m+1)) the domain check splits.
MIN_DOMAIN_WIDTH = Fraction(1, 2 ** 24)

_SPHERE_CHECKED: dict[tuple, str | None] = {}


def _sphere_probes(d: int) -> list[tuple[Fraction, ...]]:
    """Exact rational points of S^(d-1): the axis points +-e_i and, in each coordinate
    plane, the points (+-3/5, +-4/5) and (+-4/5, +-3/5) (conditions such as x0 != 0 fail
    exactly at such points, where no ball of positive radius can show it)."""
    points = []
    for i in range(d):
        for s_ in (1, -1):
            p = [Fraction(0)] * d
            p[i] = Fraction(s_)
            points.append(tuple(p))
    for i in range(d):
        for j in range(i + 1, d):
            for a, b in ((Fraction(3, 5), Fraction(4, 5)), (Fraction(4, 5), Fraction(3, 5))):
                for sa in (1, -1):
                    for sb in (1, -1):
                        p = [Fraction(0)] * d
                        p[i], p[j] = sa * a, sb * b
                        points.append(tuple(p))
    return points


def _exact_ball(lo: Fraction, hi: Fraction):
    """A ball containing [lo, hi], exact at the end that matters most on the sphere: at +-1
    when the box reaches it, else at 0 (Arb balls with a radius overshoot both ends by a
    relative 2^-30; written as end +- a non-negative part, one end stays exact)."""
    flint = _flint()

    def q(x):
        return flint.arb(flint.fmpq(x.numerator, x.denominator))
    if lo == hi:
        return q(lo)
    w = hi - lo
    span = flint.arb(flint.fmpq(w.numerator, 2 * w.denominator),
                     flint.fmpq(w.numerator, 2 * w.denominator)).nonnegative_part()
    if hi == 1 or (hi == 0 and lo != -1):
        return q(hi) - span
    return q(lo) + span


def _fmt_point(pt) -> str:
    return "(" + ", ".join(str(x) if isinstance(x, Fraction) else f"{x:.6g}" for x in pt) + ")"


def check_defined_on_sphere(text: str, conditions: Sequence[DomainCondition], symbols,
                            *, fieldname: str = "target") -> None:
    """Show that every domain condition of ``text`` holds at every point of S^m
    (m + 1 = len(symbols)), or refuse with an :class:`InputError` naming a point.

    Exact rational points of the sphere are tried first; then a branch-and-bound over
    dyadic boxes of [-1, 1]^(m+1) that meet the sphere: a box where the conditions all hold
    in Arb is done, one where a condition fails in Arb proves the target undefined at the
    sphere's points in it, others are split. A condition that cannot be shown within
    :data:`MAX_DOMAIN_BOXES` boxes (for instance one that holds with equality at a point of
    the sphere) makes the target refused too: soundness does not wait for a proof."""
    if not conditions:
        return
    d = len(symbols)
    key = (text, tuple(symbols), tuple(conditions))
    if key in _SPHERE_CHECKED:
        if _SPHERE_CHECKED[key] is not None:
            raise InputError(fieldname, _SPHERE_CHECKED[key])
        return
    message = _sphere_domain_message(text, conditions, symbols, d)
    if len(_SPHERE_CHECKED) >= 1024:
        _SPHERE_CHECKED.clear()  # a memo of repeated loads of the same targets, kept small
    _SPHERE_CHECKED[key] = message
    if message is not None:
        raise InputError(fieldname, message)


def _sphere_domain_message(text, conditions, symbols, d) -> str | None:
    flint = _flint()
    m = d - 1
    with arb_precision(ARB_PRECISIONS[0]):
        status = compile_domain(conditions, symbols)
        for pt in _sphere_probes(d):
            verdict, c = status([flint.arb(flint.fmpq(x.numerator, x.denominator)) for x in pt])
            if verdict is False:
                return f"{text!r} is undefined at the point {_fmt_point(pt)} of S^{m}: {c.explain()}"
        stack = [[(Fraction(-1), Fraction(1))] * d]
        boxes = 0
        while stack:
            b = stack.pop()
            lo2 = sum(min(lo * lo, hi * hi) if lo * hi > 0 else Fraction(0) for lo, hi in b)
            hi2 = sum(max(lo * lo, hi * hi) for lo, hi in b)
            if lo2 > 1 or hi2 < 1:
                continue  # the box misses the sphere
            boxes += 1
            centre = [float((lo + hi) / 2) for lo, hi in b]
            norm = math.sqrt(sum(x * x for x in centre)) or 1.0
            near = _fmt_point([x / norm for x in centre])
            verdict, c = status([_exact_ball(lo, hi) for lo, hi in b])
            if verdict is True:
                continue
            if verdict is False:
                return f"{text!r} is undefined at the points of S^{m} near {near}: {c.explain()}"
            j = max(range(d), key=lambda i: b[i][1] - b[i][0])
            if boxes >= MAX_DOMAIN_BOXES or b[j][1] - b[j][0] <= MIN_DOMAIN_WIDTH:
                return (f"cannot show that {text!r} is defined at every point of S^{m}: near {near} "
                        f"Arb cannot show that {c.explain()} (a target must be defined on the whole "
                        "sphere)")
            mid = (b[j][0] + b[j][1]) / 2
            for half in ((mid, b[j][1]), (b[j][0], mid)):
                nb = list(b)
                nb[j] = half
                stack.append(nb)
    return None
