"""The sympy-free side of ``certify claim``: the claim's structure, a syntax tree of each
side as written, and a fast path that decides easy claims before sympy is imported.

A claim ``forall v in [a, b], ...: LHS op RHS`` is split by :func:`split_claim` (shared with
the full grammar, :mod:`certify.claims.grammar`, so both refuse the same structural errors
with the same messages). :func:`light_claim` reads the sides into small syntax trees
(tuples; see :func:`tree`) with the same whitelist as :mod:`certify.formats.expressions`, or
returns None for anything it does not handle itself (which then goes to the full grammar,
whose message a bad claim gets). The trees also feed the Coq export
(:mod:`certify.claims.coq`), which must state the claim as written.

SOUNDNESS CONTRACT (:func:`quick_verify`)
-----------------------------------------
* The trees are evaluated *as written* (no simplification) in python-flint Arb balls at
  :data:`PRECISION` bits; every operation returns a ball containing its exact value at
  every point of its argument balls, or NaN where it is not certainly defined on them: a
  division or negative power by a ball containing 0, log / non-integer powers of a ball not
  certainly > 0, sqrt of a ball not certainly >= 0, coth of a ball containing 0, gamma off
  the certainly positive axis, besseli with an order that is not a numeric constant. Arb's
  own tan, atan, exp, ... are rigorous (a ball reaching a pole of tan gives a non-finite
  ball). NaN and infinite balls never verify anything.
* A finite margin ball on a box therefore shows both that the claim is defined at every
  point of the box and that its margin lies in the ball there.
* :func:`quick_verify` answers VERIFIED ON RANGE only when every box of a partition of the
  stated box (exact rational ends) has a margin ball certainly >= 0 (> 0 for strict claims),
  within :data:`QUICK_BOXES` boxes; otherwise it answers None and the full engine
  (:mod:`certify.claims.search`) decides the claim from the start, with its whole budget.
  It never refutes and never refuses: a claim it cannot verify is left to the full engine.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from certify.errors import InputError
from certify.formats.limits import MAX_BOX_END, MAX_DEPTH, MAX_EXPONENT, MAX_LENGTH, MAX_NODES, MAX_VARIABLES

#: Bits of working precision of the fast path (the full engine's first precision).
PRECISION = 128

#: Boxes the fast path may examine before it leaves the claim to the full engine.
QUICK_BOXES = 64

#: Callable names of the claim grammar and their arity (None: two or more); the same list
#: as :data:`certify.formats.expressions.CLAIM_FUNCTIONS` (a test checks it).
FUNCTIONS = {"exp": 1, "log": 1, "sqrt": 1, "sin": 1, "cos": 1, "tan": 1, "sinh": 1, "cosh": 1,
             "tanh": 1, "atan": 1, "abs": 1, "besseli": 2, "coth": 1, "gamma": 1, "min": None,
             "max": None}

RESERVED = set(FUNCTIONS) | {"pi", "forall", "in"}

OPS = {ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">"}

_VAR = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s+in\s+\[([^\[\]]*)\]\s*(,|$)")


@dataclass(frozen=True)
class ClaimParts:
    """A claim split into its pieces (texts, not yet parsed)."""

    text: str                                  # the claim, stripped
    variables: tuple[tuple[str, str, str], ...]  # (name, lower end text, upper end text)
    op: str
    left: str
    right: str


def split_claim(text, fieldname: str = "claim") -> ClaimParts:
    """Split ``forall v in [a, b], ...: LHS op RHS``; structural errors are InputErrors."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(fieldname, "empty claim")
    body = text.strip()
    m = re.match(r"forall\s+(.*?):(.*)$", body, re.S)
    if not m:
        raise InputError(fieldname, "a claim reads 'forall x in [a, b], y in [c, d]: LHS <= RHS'")
    spec, relation = m.group(1), m.group(2)
    variables, pos = [], 0
    while pos < len(spec):
        vm = _VAR.match(spec, pos)
        if not vm:
            raise InputError(fieldname, f"cannot read the variable list at {spec[pos:]!r} "
                                        "(expected 'name in [a, b]')")
        name = vm.group(1)
        if name in RESERVED:
            raise InputError(fieldname, f"{name!r} cannot be a variable name (reserved)")
        if name in [v[0] for v in variables]:
            raise InputError(fieldname, f"variable {name!r} is quantified twice")
        parts = vm.group(2).split(",")
        if len(parts) != 2:
            raise InputError(fieldname, f"the range of {name!r} must be '[a, b]'")
        variables.append((name, parts[0], parts[1]))
        pos = vm.end()
        if vm.group(3) == "":
            break
    if not variables:
        raise InputError(fieldname, "no quantified variable")
    if len(variables) > MAX_VARIABLES:
        raise InputError(fieldname, f"{len(variables)} variables (at most {MAX_VARIABLES})")
    relation = relation.strip()
    try:
        tree_ = ast.parse(relation, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise InputError(fieldname, f"cannot parse the inequality {relation!r}") from None
    node = tree_.body
    if not isinstance(node, ast.Compare) or len(node.ops) != 1 or type(node.ops[0]) not in OPS:
        raise InputError(fieldname, "the claim must be one inequality LHS op RHS with op one of "
                                    "<=, >=, <, > (no chains, no ==)")
    left = ast.get_source_segment(relation, node.left)
    right = ast.get_source_segment(relation, node.comparators[0])
    return ClaimParts(body, tuple(variables), OPS[type(node.ops[0])], left, right)


# ------------------------------------------------------------------------- syntax trees


class _Unsupported(Exception):
    """The light reader does not handle this: the full grammar decides (and explains)."""


def tree(text: str, names) -> tuple:
    """The syntax tree of ``text`` as written, over the variables ``names``: nested tuples

        ("num", Fraction) | ("pi",) | ("var", name) | ("neg", a) | ("add"|"sub"|"mul"|"div", a, b)
        | ("pow", a, Fraction) | ("call", name, (a, ...))

    Raises :class:`_Unsupported` for anything outside the whitelist or its limits."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH:
        raise _Unsupported
    if any(ord(ch) < 32 and ch not in " \t" for ch in text):
        raise _Unsupported
    src = text.strip()
    try:
        parsed = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _Unsupported from None
    if sum(1 for _ in ast.walk(parsed)) > MAX_NODES:
        raise _Unsupported
    return _walk(parsed.body, src, frozenset(names), 0)


def _number(node, src) -> Fraction:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Unsupported
    if isinstance(value, int):
        if value.bit_length() > 1000:
            raise _Unsupported
        return Fraction(value)
    seg = (ast.get_source_segment(src, node) or "").replace("_", "")
    try:
        exact = Fraction(seg)       # the decimal as written: 0.1 is 1/10
    except (ValueError, ZeroDivisionError):
        raise _Unsupported from None
    if not math.isfinite(value) or not math.isfinite(float(exact)):
        raise _Unsupported
    return exact


def _exponent(node, src) -> Fraction:
    if isinstance(node, ast.Constant):
        return _number(node, src)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        e = _exponent(node.operand, src)
        return -e if isinstance(node.op, ast.USub) else e
    if isinstance(node, ast.BinOp) and type(node.op) in (ast.Add, ast.Sub, ast.Mult, ast.Div):
        a, b = _exponent(node.left, src), _exponent(node.right, src)
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise _Unsupported
            return a / b
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}[type(node.op)]
    raise _Unsupported


_BIN = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}


def _walk(node, src, names, depth) -> tuple:
    if depth > MAX_DEPTH:
        raise _Unsupported
    if isinstance(node, ast.Constant):
        return ("num", _number(node, src))
    if isinstance(node, ast.Name):
        if node.id in names:
            return ("var", node.id)
        if node.id == "pi":
            return ("pi",)
        raise _Unsupported
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _walk(node.operand, src, names, depth + 1)
        return ("neg", inner) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        base = _walk(node.left, src, names, depth + 1)
        p = _exponent(node.right, src)
        # a power of a power: sympy may merge the exponents past the limit; let it explain
        if abs(p) > MAX_EXPONENT or base[0] == "pow":
            raise _Unsupported
        return ("pow", base, p)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        return (_BIN[type(node.op)], _walk(node.left, src, names, depth + 1),
                _walk(node.right, src, names, depth + 1))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        name, n = node.func.id, len(node.args)
        arity = FUNCTIONS[name]
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _Unsupported
        if (arity is not None and n != arity) or (arity is None and n < 2):
            raise _Unsupported
        args = tuple(_walk(a, src, names, depth + 1) for a in node.args)
        if name == "besseli" and not is_constant(args[0]):
            raise _Unsupported
        return ("call", name, args)
    raise _Unsupported


def is_constant(t: tuple) -> bool:
    """True when the tree has no variable."""
    if t[0] == "var":
        return False
    if t[0] in ("num", "pi"):
        return True
    if t[0] == "call":
        return all(is_constant(a) for a in t[2])
    if t[0] == "pow":
        return is_constant(t[1])
    return all(is_constant(a) for a in t[1:])


def rational(t: tuple) -> Fraction | None:
    """The exact value of a tree of numbers and + - * / (None otherwise)."""
    kind = t[0]
    if kind == "num":
        return t[1]
    if kind == "neg":
        v = rational(t[1])
        return None if v is None else -v
    if kind in ("add", "sub", "mul", "div"):
        a, b = rational(t[1]), rational(t[2])
        if a is None or b is None or (kind == "div" and b == 0):
            return None
        return {"add": a + b, "sub": a - b, "mul": a * b, "div": a / b if b else None}[kind]
    if kind == "pow":
        a = rational(t[1])
        if a is None or t[2].denominator != 1 or (a == 0 and t[2] < 0):
            return None
        return a ** int(t[2])
    return None


#: log2 of the largest number the light reader lets through: the full grammar refuses a
#: constant that overflows float64 (2**1024) after sympy folds it.
_MAGNITUDE_BITS = 1000


def _bounds(t: tuple) -> tuple[Fraction, int]:
    """(degree, bits) bounds over the tree as sympy may rewrite it: ``degree`` bounds the
    exponent of any power sympy can form by merging (x**40 * x**40 is x**80; any non-number
    counts as a base of degree 1), ``bits`` the log2 of any |number| or 1/|number| its
    constant folding can form (1e300*1e300, distributed coefficients). Raises
    :class:`_Unsupported` where either passes the full grammar's limits, so both readers
    accept the same claims: the light reader leaves those to the full grammar."""
    kind = t[0]
    if kind == "num":
        q = t[1]
        d, b = Fraction(0), (q.numerator.bit_length() + q.denominator.bit_length()) if q else 0
    elif kind in ("pi", "var"):
        d, b = Fraction(1), 0
    elif kind == "neg":
        d, b = _bounds(t[1])
    elif kind in ("add", "sub"):
        (d1, b1), (d2, b2) = _bounds(t[1]), _bounds(t[2])
        d, b = max(d1, d2), max(b1, b2) + 1
    elif kind in ("mul", "div"):
        (d1, b1), (d2, b2) = _bounds(t[1]), _bounds(t[2])
        d, b = d1 + d2, b1 + b2
    elif kind == "pow":
        d0, b0 = _bounds(t[1])
        d, b = d0 * abs(t[2]), math.ceil(b0 * abs(t[2]))
    else:
        if t[1] == "gamma" and is_constant(t[2][0]):
            raise _Unsupported     # sympy evaluates gamma(200) to an integer
        if t[1] == "exp" and _has_call(t[2][0], "log"):
            raise _Unsupported     # sympy writes exp(c*log(a)) as the power a**c
        parts = [_bounds(a) for a in t[2]]
        d, b = Fraction(1), max(p[1] for p in parts) + 1
    if d > MAX_EXPONENT or b > _MAGNITUDE_BITS:
        raise _Unsupported
    return d, b


def _has_call(t: tuple, name: str) -> bool:
    if t[0] == "call":
        return t[1] == name or any(_has_call(a, name) for a in t[2])
    return any(isinstance(a, tuple) and _has_call(a, name) for a in t[1:])


def fraction_text(q: Fraction) -> str:
    """``q`` as sympy prints a Rational (``3``, ``-1/2``): the box text of both paths."""
    return str(q)


@dataclass
class LightClaim:
    """A claim read without sympy: the sides as syntax trees, the box ends as trees and,
    when rational, as exact Fractions (``box``; None when an end is irrational)."""

    text: str
    names: tuple[str, ...]
    ends: tuple[tuple[tuple, tuple], ...]
    box: tuple[tuple[Fraction, Fraction], ...] | None
    op: str
    lhs: tuple
    rhs: tuple
    field: str = "claim"

    @property
    def strict(self) -> bool:
        return self.op in ("<", ">")

    def margin(self) -> tuple:
        """The tree that must be >= 0 (> 0 when strict): RHS - LHS, or LHS - RHS."""
        return ("sub", self.rhs, self.lhs) if self.op in ("<=", "<") else ("sub", self.lhs, self.rhs)

    def box_text(self) -> str:
        return ", ".join(f"{n} in [{fraction_text(a)}, {fraction_text(b)}]"
                         for n, (a, b) in zip(self.names, self.box))


def light_claim(text, fieldname: str = "claim", parts: ClaimParts | None = None) -> LightClaim | None:
    """The claim read without sympy, or None when the light reader leaves it to the full
    grammar. Structural errors raise :class:`InputError` (from :func:`split_claim`)."""
    parts = parts or split_claim(text, fieldname)
    names = tuple(v[0] for v in parts.variables)
    try:
        ends = tuple((tree(lo, ()), tree(hi, ())) for _, lo, hi in parts.variables)
        lhs, rhs = tree(parts.left, names), tree(parts.right, names)
        _bounds(lhs)
        _bounds(rhs)
    except _Unsupported:
        return None
    box = []
    for lo, hi in ends:
        a, b = rational(lo), rational(hi)
        if a is None or b is None or a > b or max(abs(a), abs(b)) > MAX_BOX_END:
            box = None
            break
        box.append((a, b))
    return LightClaim(parts.text, names, ends, None if box is None else tuple(box), parts.op,
                      lhs, rhs, fieldname)


# ------------------------------------------------------------------------- Arb evaluation


def evaluate(t: tuple, env: dict):
    """The Arb ball of the tree ``t`` as written at the balls ``env`` (name -> arb); NaN
    where an operation is not certainly defined (see the contract)."""
    import flint

    from certify.kernel.arb_balls import arb_mul, arb_pow_int

    arb = flint.arb
    nan = arb("nan")
    kind = t[0]
    if kind == "num":
        q = t[1]
        return arb(flint.fmpq(q.numerator, q.denominator))
    if kind == "pi":
        return arb.pi()
    if kind == "var":
        return env[t[1]]
    if kind == "neg":
        return -evaluate(t[1], env)
    if kind in ("add", "sub", "mul", "div"):
        a, b = evaluate(t[1], env), evaluate(t[2], env)
        if not (a.is_finite() and b.is_finite()):
            return nan
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return arb_mul(a, b)
        return nan if b.contains(0) else a / b
    if kind == "pow":
        x, p = evaluate(t[1], env), t[2]
        if not x.is_finite():
            return nan
        if p.denominator == 1:
            k = int(p)
            if k >= 0:
                return arb_pow_int(x, k)
            return nan if x.contains(0) else (1 / x) ** (-k)
        if p == Fraction(1, 2):
            return x.sqrt() if x >= 0 else nan
        return (x.log() * arb(flint.fmpq(p.numerator, p.denominator))).exp() if x > 0 else nan
    name, args = t[1], [evaluate(a, env) for a in t[2]]
    if not all(a.is_finite() for a in args):
        return nan
    x = args[0]
    if name in ("exp", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan"):
        return getattr(x, name)()
    if name == "log":
        return x.log() if x > 0 else nan
    if name == "sqrt":
        return x.sqrt() if x >= 0 else nan
    if name == "abs":
        return abs(x).nonnegative_part()
    if name == "coth":
        return nan if x.contains(0) else x.coth()
    if name == "gamma":
        return x.gamma() if x > 0 else nan
    if name == "besseli":
        nu, y = args
        if nu >= 0 and y >= 0:
            # increasing in y >= 0, decreasing in nu >= 0: the exact ends (as the full engine)
            return y.lower().bessel_i(nu.upper()).union(y.upper().bessel_i(nu.lower()))
        return y.bessel_i(nu)
    out = args[0]
    for v in args[1:]:
        out = out.min(v) if name == "min" else out.max(v)
    return out


def quick_verify(claim: LightClaim, max_boxes: int) -> tuple[int, tuple[int, ...]] | None:
    """``(boxes, depths)`` when plain ball bisection verified ``claim`` within
    ``min(QUICK_BOXES, max_boxes)`` boxes (``depths``: the most splits of each variable), or
    None: then the full engine decides it."""
    if claim.box is None:
        return None
    from certify.kernel.arb_balls import arb_precision, interval_ball

    margin = claim.margin()
    limit = min(QUICK_BOXES, max_boxes)
    widths = [(b - a) or Fraction(1) for a, b in claim.box]

    def ball(j, lo, hi):
        # anchored at the stated upper end where the box reaches it, else at its lower end
        return interval_ball(lo, hi, hi == claim.box[j][1] and lo != claim.box[j][0])

    stack, boxes = [(list(claim.box), (0,) * len(claim.box))], 0
    deepest = [0] * len(claim.box)
    with arb_precision(PRECISION):
        while stack:
            if boxes >= limit:
                return None
            b, depth = stack.pop()
            boxes += 1
            deepest[:] = [max(a, d) for a, d in zip(deepest, depth)]
            v = evaluate(margin, {n: ball(j, lo, hi) for j, (n, (lo, hi)) in enumerate(zip(claim.names, b))})
            if v.is_finite() and (v > 0 if claim.strict else v >= 0):
                continue
            j = max(range(len(b)), key=lambda i: (b[i][1] - b[i][0]) / widths[i])
            lo, hi = b[j]
            if lo == hi:
                return None
            mid = (lo + hi) / 2
            for half in ((mid, hi), (lo, mid)):
                nb = list(b)
                nb[j] = half
                stack.append((nb, depth[:j] + (depth[j] + 1,) + depth[j + 1:]))
    return boxes, tuple(deepest)
