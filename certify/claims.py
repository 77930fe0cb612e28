"""Claims over boxes, decided by Arb branch-and-bound (``certify claim``).

A claim is one line::

    forall lam in [1, 1000], t in [0, 0.5]: LHS <= RHS        (also >=, <, >)

Each side is a whitelisted expression (:mod:`certify.expr`, with the claim functions
``besseli(nu, x)``, ``coth``, ``gamma``, ``min``, ``max`` added) over the quantified
variables; box ends are numeric constants (``1``, ``0.5``, ``1e-3``, ``pi/2``), read
exactly. Nothing in a claim is ever passed to ``eval``.

SOUNDNESS CONTRACT
------------------
* Every evaluation is python-flint Arb ball arithmetic at :data:`PRECISION` bits: each
  operation returns a ball containing the exact result for every point of its argument
  balls. Variables become balls containing their (sub)box; a variable whose box starts at
  or above 0 is clipped to its non-negative part, so that ``sqrt(t)`` on [0, a] is defined.
* ``sqrt``, ``log`` and real powers with fractional exponents are applied only where the
  argument ball is certainly inside the domain; otherwise the result is NaN, which never
  verifies anything (the box is split, and a point outside the domain is reported).
* VERIFIED ON RANGE: every box of a partition of the stated box (the initial box is the
  exact box, rounded outwards if an end is irrational) has ``RHS - LHS`` certainly >= 0
  (> 0 for strict claims; sides swapped for >= and >). python-flint comparisons are True
  only when certain.
* REFUTED: an exact rational point of the box (checked to lie in it) where the claim is
  certainly false, with the enclosure of ``RHS - LHS`` there. Candidate points come from
  a float search (untrusted) and from box midpoints.
* Anything else (budget spent, domain trouble, boxes too thin to split) is UNDECIDED.

How a box is decided (each step only uses enclosures, so each is sound on its own):

1. the margin's ball on the box, then at higher precisions when the ball is tight;
2. the mean-value form g(mid) + sum_j g_j(box) [-r_j, r_j];
3. monotone corners: when every partial derivative is signed on the box, the minimum is
   at one exact corner. A partial derivative whose enclosure is not signed is retried
   (on boxes touching the stated box's ends, where claims are usually tight) through the
   next derivatives up to :data:`MAX_DERIVATIVE`: if d^(k+1) g / dx_j^(k+1) is signed, the
   k-th derivative is monotone in x_j and its extreme lies on an exact face. This
   decides claims tight at an end, such as ``sin(x) <= x`` on [0, 1].

Products of wide balls are intersected with the hull of the endpoint products (a ball
product loses signs), and I_{nu+1}(x)/I_nu(x) (constant nu >= 0) is evaluated as one
increasing function of x from the ball's exact ends (Amos 1974), not as a quotient of two
wide Bessel balls.
"""

from __future__ import annotations

import ast
import heapq
import math
import re
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import sympy as sp

from .errors import InputError
from .expr import CLAIM_FUNCTIONS, compile_numpy, parse_expression

#: Bits of working precision of the Arb evaluation.
PRECISION = 128
#: Most quantified variables in one claim (the box search is exponential in it).
MAX_VARIABLES = 8
#: Boxes narrower than this fraction of the initial width are not split further.
MIN_RELATIVE_WIDTH = 2.0 ** -60
#: Highest derivative order the monotone-corner test may use.
MAX_DERIVATIVE = 4
#: Higher precisions tried on a box whose margin ball is already tight but not decided
#: (a margin like coth(lam) - 1 ~ e^(-2 lam) needs more bits, not more splitting).
PRECISION_LADDER = (512, 2048, 8192)
#: Random float samples used to look for a counterexample before the box search.
SAMPLES = 4000

VERIFIED, REFUTED, UNDECIDED = "VERIFIED ON RANGE", "REFUTED", "UNDECIDED"

_RESERVED = set(CLAIM_FUNCTIONS) | {"pi", "forall", "in"}
_OPS = {ast.LtE: "<=", ast.GtE: ">=", ast.Lt: "<", ast.Gt: ">"}
_VAR = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s+in\s+\[([^\[\]]*)\]\s*(,|$)")


@dataclass
class Claim:
    """A parsed claim: forall variables in box: lhs op rhs."""

    text: str
    names: tuple[str, ...]
    symbols: tuple[sp.Symbol, ...]
    box: tuple[tuple[sp.Expr, sp.Expr], ...]   # exact ends
    lhs: sp.Expr
    op: str
    rhs: sp.Expr

    @property
    def strict(self) -> bool:
        return self.op in ("<", ">")

    @property
    def margin(self) -> sp.Expr:
        """The expression that must be >= 0 (> 0 when strict) everywhere on the box."""
        return self.rhs - self.lhs if self.op in ("<=", "<") else self.lhs - self.rhs

    def box_text(self) -> str:
        return ", ".join(f"{n} in [{sp.sstr(a)}, {sp.sstr(b)}]" for n, (a, b) in zip(self.names, self.box))


@dataclass
class ClaimResult:
    claim: Claim
    verdict: str
    boxes: int
    seconds: float
    reason: str = ""
    witness: dict | None = None       # name -> exact rational (str)
    witness_margin: tuple | None = None  # enclosure of the margin at the witness (floats)
    worst_lower: float | None = None  # least lower bound of the margin over open boxes

    def to_json(self) -> dict:
        return {"claim": self.claim.text, "verdict": self.verdict, "box": self.claim.box_text(),
                "boxes": self.boxes, "seconds": round(self.seconds, 3), "reason": self.reason,
                "witness": self.witness, "witness_margin": self.witness_margin,
                "worst_lower": self.worst_lower}


# ------------------------------------------------------------------------- parsing

def _constant(text: str, fieldname: str) -> sp.Expr:
    e = parse_expression(text, [], fieldname=fieldname, functions=CLAIM_FUNCTIONS)
    if e.free_symbols or not e.is_real or not e.is_finite:
        raise InputError(fieldname, f"box end {text!r} must be a finite real constant")
    return e


def parse_claim(text: str, fieldname: str = "claim") -> Claim:
    """Parse ``forall v in [a, b], ...: LHS op RHS`` (see module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(fieldname, "empty claim")
    body = text.strip()
    m = re.match(r"forall\s+(.*?):(.*)$", body, re.S)
    if not m:
        raise InputError(fieldname, "a claim reads 'forall x in [a, b], y in [c, d]: LHS <= RHS'")
    spec, relation = m.group(1), m.group(2)
    names, box, pos = [], [], 0
    while pos < len(spec):
        vm = _VAR.match(spec, pos)
        if not vm:
            raise InputError(fieldname, f"cannot read the variable list at {spec[pos:]!r} "
                                        "(expected 'name in [a, b]')")
        name = vm.group(1)
        if name in _RESERVED:
            raise InputError(fieldname, f"{name!r} cannot be a variable name (reserved)")
        if name in names:
            raise InputError(fieldname, f"variable {name!r} is quantified twice")
        parts = vm.group(2).split(",")
        if len(parts) != 2:
            raise InputError(fieldname, f"the range of {name!r} must be '[a, b]'")
        lo = _constant(parts[0], f"{fieldname}: range of {name}")
        hi = _constant(parts[1], f"{fieldname}: range of {name}")
        if bool(lo > hi):
            raise InputError(fieldname, f"empty range for {name!r}: {parts[0].strip()} > {parts[1].strip()}")
        names.append(name)
        box.append((lo, hi))
        pos = vm.end()
        if vm.group(3) == "":
            break
    if not names:
        raise InputError(fieldname, "no quantified variable")
    if len(names) > MAX_VARIABLES:
        raise InputError(fieldname, f"{len(names)} variables (at most {MAX_VARIABLES})")
    relation = relation.strip()
    try:
        tree = ast.parse(relation, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise InputError(fieldname, f"cannot parse the inequality {relation!r}") from None
    node = tree.body
    if not isinstance(node, ast.Compare) or len(node.ops) != 1 or type(node.ops[0]) not in _OPS:
        raise InputError(fieldname, "the claim must be one inequality LHS op RHS with op one of "
                                    "<=, >=, <, > (no chains, no ==)")
    op = _OPS[type(node.ops[0])]
    left = ast.get_source_segment(relation, node.left)
    right = ast.get_source_segment(relation, node.comparators[0])
    symbols = tuple(sp.Symbol(n, real=True) for n in names)
    lhs = parse_expression(left, symbols, fieldname=f"{fieldname}: left side", functions=CLAIM_FUNCTIONS)
    rhs = parse_expression(right, symbols, fieldname=f"{fieldname}: right side", functions=CLAIM_FUNCTIONS)
    return Claim(body, tuple(names), symbols, tuple(box), lhs, op, rhs)


def parse_claims_file(text: str, fieldname: str = "claims file") -> list[Claim]:
    """One claim per line; blank lines and lines starting with '#' are skipped."""
    claims = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            claims.append(parse_claim(line, f"{fieldname} line {n}"))
    if not claims:
        raise InputError(fieldname, "no claim found")
    return claims


# ------------------------------------------------------------------------- Arb evaluation

def _arb():
    import flint

    return flint


def _mul(x, y):
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
    flint = _arb()
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
    """``f(list of arb) -> arb`` enclosing ``expr`` (see the soundness contract)."""
    flint = _arb()
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
                    total = total + p(a) if add else _mul(total, p(a))
                return total
            return fold
        if e.is_Pow:
            base = build(e.base)
            ex = e.exp
            if ex.is_Integer:
                k = int(ex)
                if k >= 0:
                    return lambda a: base(a) ** k
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
            return lambda a: abs(one(a))
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


class _Precision:
    """Scoped Arb working precision (restored on exit)."""

    def __init__(self, bits):
        self.bits = bits

    def __enter__(self):
        flint = _arb()
        self.old = flint.ctx.prec
        flint.ctx.prec = self.bits

    def __exit__(self, *exc):
        _arb().ctx.prec = self.old


def _end_bounds(e: sp.Expr):
    """Exact rational ends (lo <= e <= hi) of a box end: itself if rational, else an
    outward enclosure from Arb."""
    if e.is_Rational:
        q = Fraction(int(e.p), int(e.q))
        return q, q
    ball = compile_arb(e, ())([])
    return _arf_fraction(ball.lower()), _arf_fraction(ball.upper())


def _arf_fraction(x) -> Fraction:
    """Exact value of an arb with zero radius (an endpoint) as a Fraction."""
    m, e = x.mid().man_exp()
    m, e = int(m), int(e)
    return Fraction(m) * (Fraction(2) ** e)


def _ball(lo: Fraction, hi: Fraction, clip: bool):
    flint = _arb()
    mid = (lo + hi) / 2
    rad = (hi - lo) / 2
    if lo == hi:
        return flint.arb(flint.fmpq(lo.numerator, lo.denominator))
    b = flint.arb(flint.fmpq(mid.numerator, mid.denominator), flint.fmpq(rad.numerator, rad.denominator))
    return b.nonnegative_part() if clip and lo >= 0 and lo != hi else b


def check_claim(claim: Claim, max_boxes: int = 100_000, time_limit: float | None = 60.0,
                progress=None) -> ClaimResult:
    """Decide ``claim`` on its box (see module docstring)."""
    t0 = time.monotonic()
    with _Precision(PRECISION):
        g = compile_arb(claim.margin, claim.symbols)
        try:
            grads = [compile_arb(sp.diff(claim.margin, v), claim.symbols) for v in claim.symbols]
            higher = [[None] * (MAX_DERIVATIVE + 1) for _ in claim.symbols]
        except (ValueError, TypeError):
            grads = None  # no monotonicity test (e.g. min/max/abs)

        def derivative(j, k):
            """The compiled k-th derivative of the margin in variable j (None: not compilable)."""
            if k == 1:
                return grads[j]
            if higher[j][k] is None:
                try:
                    higher[j][k] = compile_arb(sp.diff(claim.margin, claim.symbols[j], k), claim.symbols)
                except (ValueError, TypeError):
                    higher[j][k] = False
            return higher[j][k] or None

        def signed(j, k, b, balls, sign):
            """True when sign * d^k g / dx_j^k >= 0 certainly on the box ``balls``. An unsigned
            enclosure is retried through the next derivative: when that one is signed, the k-th
            derivative is monotone in x_j and its minimum lies on one face x_j = end (an exact
            point, where tight claims such as 1 - exp(-s) <= s at s = 0 are decided exactly)."""
            d = derivative(j, k)
            if d is None:
                return False
            v = d(balls)
            if v.is_finite() and (v >= 0 if sign > 0 else v <= 0):
                return True
            if k >= MAX_DERIVATIVE:
                return False
            # try the sign the next derivative has at the box's centre (one chain, not 2^k)
            d_next = derivative(j, k + 1)
            if d_next is None:
                return False
            c = d_next([_ball(q, q, False) for q in ((lo + hi) / 2 for lo, hi in b)])
            if not c.is_finite():
                return False
            up = 1 if c.mid() >= 0 else -1
            if not signed(j, k + 1, b, balls, up):
                return False
            face = list(balls)
            end = b[j][0] if sign * up > 0 else b[j][1]
            face[j] = _ball(end, end, False)
            w = d(face)
            return bool(w.is_finite() and (w >= 0 if sign > 0 else w <= 0))

        def slope_sign(j, b, balls, s_):
            """+1 / -1 when the margin is certainly non-decreasing / non-increasing in
            variable j on box b, else 0."""
            if s_ >= 0:
                return 1
            if s_ <= 0:
                return -1
            if b[j][0] != box[j][0] and b[j][1] != box[j][1]:
                # the higher-derivative route pays off where a claim is tight, which in
                # practice is at an end of the stated box; elsewhere it only costs time
                return 0
            if signed(j, 1, b, balls, 1):
                return 1
            if signed(j, 1, b, balls, -1):
                return -1
            return 0

        def decide(b):
            """True when the margin is certainly >= 0 (> 0) on box b."""
            balls = [_ball(lo, hi, True) for lo, hi in b]
            v = g(balls)
            if v.is_finite() and ok(v):
                return True, v
            if v.is_finite() and v.rad() <= abs(v.mid()) * 2.0 ** -64 + 2.0 ** -100:
                for bits in PRECISION_LADDER:
                    with _Precision(bits):
                        w = g([_ball(lo, hi, True) for lo, hi in b])
                    if w.is_finite() and ok(w):
                        return True, w
            if grads is not None:
                # mean-value form: g(box) in g(mid) + sum_j g_j'(box) [-r_j, r_j]
                flint = _arb()
                mids = [(lo + hi) / 2 for lo, hi in b]
                slopes = [dg(balls) for dg in grads]
                mv = g([_ball(q, q, False) for q in mids])
                for sl, (lo, hi), q in zip(slopes, b, mids):
                    r = (hi - lo) / 2
                    mv = mv + sl * flint.arb(0, flint.fmpq(r.numerator, r.denominator))
                if mv.is_finite() and ok(mv):
                    return True, mv
                # monotone in every variable on the box: the minimum is at one corner
                corner = []
                for j, s_ in enumerate(slopes):
                    if not s_.is_finite():
                        return False, v
                    sign = slope_sign(j, b, balls, s_)
                    if sign > 0:
                        corner.append(b[j][0])
                    elif sign < 0:
                        corner.append(b[j][1])
                    else:
                        return False, v
                for bits in (PRECISION,) + PRECISION_LADDER:
                    with _Precision(bits):
                        w = g([_ball(q, q, False) for q in corner])
                    if w.is_finite() and ok(w):
                        return True, v
                    if not w.is_finite() or w.rad() > abs(w.mid()) * 2.0 ** -64 + 2.0 ** -100:
                        break
            return False, v
        ends = [(_end_bounds(lo), _end_bounds(hi)) for lo, hi in claim.box]
        box = [(a[0], b[1]) for a, b in ends]     # covers the stated box
        inner = [(a[1], b[0]) for a, b in ends]   # inside the stated box (witnesses)
        widths = [float(b - a) or 1.0 for a, b in box]

        def ok(v):
            return (v > 0) if claim.strict else (v >= 0)

        def bad(v):
            return (v <= 0) if claim.strict else (v < 0)

        def at_point(pt):
            return g([_ball(q, q, False) for q in pt])

        def witness_result(pt, v, boxes, reason=""):
            return ClaimResult(claim, REFUTED, boxes, time.monotonic() - t0, reason,
                               {n: str(q) for n, q in zip(claim.names, pt)},
                               (float(v.lower()), float(v.upper())))

        def in_box(pt):
            return all(a <= q <= b for q, (a, b) in zip(pt, inner))

        # untrusted float search for a counterexample; every candidate is re-checked in Arb
        cand = _float_candidates(claim, inner)
        for pt in cand:
            if in_box(pt):
                v = at_point(pt)
                if bad(v):
                    return witness_result(pt, v, 0, "counterexample found by sampling, confirmed in Arb")
        heap = [(0.0, 0, box)]
        counter = 1
        boxes = 0
        worst = math.inf
        last = t0
        reason = ""
        while heap:
            if boxes >= max_boxes:
                reason = f"box budget of {max_boxes} spent"
                break
            if time_limit is not None and time.monotonic() - t0 >= time_limit:
                reason = f"time limit of {time_limit:g} s reached"
                break
            _, _, b = heapq.heappop(heap)
            boxes += 1
            done, v = decide(b)
            if done:
                continue
            mid = [(lo + hi) / 2 for lo, hi in b]
            if in_box(mid):
                pv = at_point(mid)
                if bad(pv):
                    return witness_result(mid, pv, boxes)
            rel = [float(hi - lo) / w for (lo, hi), w in zip(b, widths)]
            j = int(np.argmax(rel))
            if rel[j] < MIN_RELATIVE_WIDTH:
                reason = "a box reached the smallest width without a decision"
                heapq.heappush(heap, (0.0, counter, b))
                break
            lower = float(v.lower()) if v.is_finite() else -math.inf
            for half in ((b[j][0], mid[j]), (mid[j], b[j][1])):
                nb = list(b)
                nb[j] = half
                heapq.heappush(heap, (lower, counter, nb))
                counter += 1
            now = time.monotonic()
            if progress and now - last >= 0.5:
                last = now
                progress({"boxes": boxes, "open": len(heap), "seconds": now - t0})
        if not heap:
            return ClaimResult(claim, VERIFIED, boxes, time.monotonic() - t0)
        worst = min(p for p, _, _ in heap)
        return ClaimResult(claim, UNDECIDED, boxes, time.monotonic() - t0, reason,
                           worst_lower=None if not math.isfinite(worst) else worst)


def _float_candidates(claim: Claim, box, n: int = SAMPLES):
    """Points (exact Fractions of floats) ordered by how badly the float margin fails."""
    lo = np.array([float(a) for a, _ in box])
    hi = np.array([float(b) for _, b in box])
    rng = np.random.default_rng(0)
    pts = lo + (hi - lo) * rng.random((n, lo.size))
    corners = np.array([[hi[i] if (k >> i) & 1 else lo[i] for i in range(lo.size)]
                        for k in range(min(1 << lo.size, 256))])
    pts = np.vstack([corners, pts, (lo + hi)[None, :] / 2])
    try:
        fn = compile_numpy(claim.margin, claim.symbols)
        vals = fn(*[pts[:, i] for i in range(lo.size)])
    except (ValueError, TypeError):
        return []
    vals = np.where(np.isfinite(vals), vals, np.inf)
    order = np.argsort(vals)[:8]
    out = []
    for k in order:
        if vals[k] < 0 or (claim.strict and vals[k] <= 0):
            out.append([Fraction(float(x)) for x in pts[k]])
    return out
