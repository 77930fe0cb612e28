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
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp

from .errors import InputError

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


def _coth(x):
    return 1.0 / np.tanh(x)


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
            return spec.sympy(*[self.walk(a, depth + 1) for a in node.args])
        kind = type(node).__name__
        raise self.refuse(f"syntax element {kind} is not allowed")


def parse_expression(text: str, variables: Sequence[sp.Symbol], *, fieldname: str = "expression",
                     functions: Mapping[str, FunctionSpec] = TARGET_FUNCTIONS) -> sp.Expr:
    """Parse ``text`` through the whitelist into a sympy expression over ``variables``."""
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
    return expr


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
    """A vector-valued target f: S^m -> R^o given by whitelisted expression strings."""

    sphere_dim: int
    texts: tuple[str, ...]
    exprs: tuple[sp.Expr, ...] = field(repr=False)
    symbols: tuple[sp.Symbol, ...] = field(repr=False)

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
    """Parse the target's expression strings (one per output component)."""
    if isinstance(texts, str):
        texts = [texts]
    if len(texts) == 0:
        raise InputError(fieldname, "at least one target expression is required")
    symbols = coordinate_symbols(sphere_dim)
    exprs = tuple(
        parse_expression(t, symbols, fieldname=f"{fieldname}[{i}]") for i, t in enumerate(texts)
    )
    return Target(sphere_dim, tuple(texts), exprs, symbols)
