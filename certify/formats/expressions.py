"""Whitelisted expressions: user strings -> sympy, with the domain of the string as written.

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

import sympy as sp

from certify.errors import InputError
from certify.formats.limits import MAX_CONSTANT_BITS, MAX_DEPTH, MAX_EXPONENT, MAX_GAMMA_ARGUMENT, MAX_LENGTH, MAX_NODES
from certify.kernel.arb_expressions import ARB_PRECISIONS, _flint, arb_precision, arb_value, compile_domain, holds
from certify.kernel.interval_expressions import compile_interval



@dataclass(frozen=True)
class FunctionSpec:
    """A callable name of the grammar: its sympy constructor and arity (the backends that
    evaluate the sympy forms: :mod:`certify.kernel.interval_expressions`,
    :mod:`certify.kernel.arb_expressions`, :mod:`certify.heads.numeric`)."""

    sympy: Callable
    arity: int | None  # None: any number >= 2 (min, max)


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


TARGET_FUNCTIONS: dict[str, FunctionSpec] = {
    "exp": FunctionSpec(sp.exp, 1),
    "log": FunctionSpec(sp.log, 1),
    "sqrt": FunctionSpec(sp.sqrt, 1),
    "sin": FunctionSpec(sp.sin, 1),
    "cos": FunctionSpec(sp.cos, 1),
    "tan": FunctionSpec(sp.tan, 1),
    "sinh": FunctionSpec(sp.sinh, 1),
    "cosh": FunctionSpec(sp.cosh, 1),
    "tanh": FunctionSpec(sp.tanh, 1),
    "atan": FunctionSpec(sp.atan, 1),
    "abs": FunctionSpec(sp.Abs, 1),
}


def _claim_functions() -> dict[str, FunctionSpec]:
    extra = {
        "besseli": FunctionSpec(sp.besseli, 2),
        "coth": FunctionSpec(sp.coth, 1),
        "gamma": FunctionSpec(sp.gamma, 1),
        "min": FunctionSpec(sp.Min, None),
        "max": FunctionSpec(sp.Max, None),
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
        out = self._walk(node, depth)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)):
            # sympy folds constants as it builds ((10**150)**33 is exact): refuse a number
            # past float64 here, before it is printed or grows further (a sum adds a bit at
            # most; exp(c log a) and gamma, which sympy may expand, are checked before)
            for q in out.atoms(sp.Rational):
                p_bits, q_bits = int(q.p).bit_length(), int(q.q).bit_length()
                if p_bits - q_bits > 1024:
                    raise self.refuse("a constant overflows float64")
                if max(p_bits, q_bits) > MAX_CONSTANT_BITS:
                    raise self.refuse(f"a constant needs more than {MAX_CONSTANT_BITS} bits")
        return out

    def _walk(self, node: ast.AST, depth: int = 0) -> sp.Expr:
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
            if name == "exp":
                # sympy writes exp(c*log(a)) as the power a**c, exactly when a is a number
                # (exp(10**8*log(3)) would be the 47-million-digit integer 3**(10**8))
                for term in sp.Add.make_args(args[0]):
                    c, rest = term.as_coeff_Mul()
                    if rest.has(sp.log) and not rest.free_symbols and abs(c) > MAX_EXPONENT:
                        raise self.refuse(f"exp(c*log(a)) with |c| = {sp.sstr(abs(c))} > {MAX_EXPONENT} "
                                          "(sympy writes it as the power a**c)")
            if name == "gamma" and args[0].is_Number and abs(args[0]) > MAX_GAMMA_ARGUMENT:
                # sympy would expand gamma(10**7) into an exact factorial (minutes of work)
                raise self.refuse(f"gamma of a number beyond {MAX_GAMMA_ARGUMENT} in absolute value "
                                  "(it overflows float64 or underflows to 0)")
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
                verdict = holds(c.kind, arb_value(c.expr, ()))
            if verdict is not None:
                break
        if verdict is False:
            raise InputError(fieldname, f"{text!r} is undefined: {c.explain()}")
        if verdict is None:
            raise InputError(fieldname, f"cannot decide whether {text!r} is defined: {c.explain()} "
                                        "is not certain in Arb")
    return tuple(kept)


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

    @property
    def out_dim(self) -> int:
        return len(self.exprs)

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
            compile_interval(e, symbols)
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
