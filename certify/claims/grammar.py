"""The claim grammar (``certify claim``): one line per claim,

    forall lam in [1, 1000], t in [0, 0.5]: LHS <= RHS        (also >=, <, >)

Each side is a whitelisted expression (:mod:`certify.formats.expressions`, with the claim
functions ``besseli(nu, x)``, ``coth``, ``gamma``, ``min``, ``max`` added) over the quantified
variables; box ends are numeric constants (``1``, ``0.5``, ``1e-3``, ``pi/2``), read exactly,
with |end| <= 2**1000 (so box widths and float samples stay finite). Nothing in a claim is
ever passed to ``eval``. A claim whose domain condition is certainly false at an exact point
of its box (a corner or the centre) is bad input (:class:`~certify.errors.InputError` naming
the point). The decision is :mod:`certify.claims.search`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from certify.claims.light import ClaimParts, split_claim
from certify.errors import InputError
from certify.formats.limits import MAX_BOX_END
from certify.formats.expressions import CLAIM_FUNCTIONS, DomainCondition, parse_expression_domain
from certify.kernel.arb_expressions import ARB_PRECISIONS, arb_precision, compile_arb, compile_domain


#: Bits of working precision of the Arb evaluation.
PRECISION = 128




@dataclass
class Claim:
    """A parsed claim: forall variables in box: lhs op rhs. ``domain`` holds the domain
    conditions of both sides as written (sympy's simplified ``lhs``/``rhs`` may be defined
    where the sides are not: ``x/x`` is 1); ``field`` names the claim in messages."""

    text: str
    names: tuple[str, ...]
    symbols: tuple[sp.Symbol, ...]
    box: tuple[tuple[sp.Expr, sp.Expr], ...]   # exact ends
    lhs: sp.Expr
    op: str
    rhs: sp.Expr
    domain: tuple[DomainCondition, ...] = ()
    field: str = "claim"

    @property
    def strict(self) -> bool:
        return self.op in ("<", ">")

    @property
    def margin(self) -> sp.Expr:
        """The expression that must be >= 0 (> 0 when strict) everywhere on the box."""
        return self.rhs - self.lhs if self.op in ("<=", "<") else self.lhs - self.rhs

    def box_text(self) -> str:
        return ", ".join(f"{n} in [{sp.sstr(a)}, {sp.sstr(b)}]" for n, (a, b) in zip(self.names, self.box))


def flint_module():
    import flint

    return flint


def end_bounds(e: sp.Expr):
    """Exact rational ends (lo <= e <= hi) of a box end: itself if rational, else an
    outward enclosure from Arb."""
    if e.is_Rational:
        q = Fraction(int(e.p), int(e.q))
        return q, q
    ball = compile_arb(e, ())([])
    return arf_fraction(ball.lower()), arf_fraction(ball.upper())


def arf_fraction(x) -> Fraction:
    """Exact value of an arb with zero radius (an endpoint) as a Fraction."""
    m, e = x.mid().man_exp()
    m, e = int(m), int(e)
    return Fraction(m) * (Fraction(2) ** e)


def _constant(text: str, fieldname: str) -> sp.Expr:
    e, _ = parse_expression_domain(text, [], fieldname=fieldname, functions=CLAIM_FUNCTIONS)
    if e.free_symbols or not e.is_real or not e.is_finite:
        raise InputError(fieldname, f"box end {text!r} must be a finite real constant")
    lo, hi = end_bounds(e)
    if max(abs(lo), abs(hi)) > MAX_BOX_END:
        raise InputError(fieldname, f"box end {text.strip()!r} is larger than 2**{MAX_BOX_END.bit_length() - 1} "
                                    "in absolute value (box widths and samples must stay finite floats)")
    return e


def _empty(lo: sp.Expr, hi: sp.Expr, fieldname: str, lo_text: str, hi_text: str) -> bool:
    """True when lo > hi, by sympy or by the ends' Arb enclosures; an InputError when
    neither can order them (equal irrational ends sympy does not see as equal)."""
    try:
        return bool(lo > hi)
    except TypeError:   # sympy leaves log(8) > 3*log(2) unevaluated
        pass
    for bits in ARB_PRECISIONS:
        with arb_precision(bits):
            (lo_low, lo_up), (hi_low, hi_up) = end_bounds(lo), end_bounds(hi)
        if lo_up <= hi_low:
            return False
        if lo_low > hi_up:
            return True
    if sp.expand_log(lo - hi, force=True) == 0:   # no simplify: it has no bound on its time
        return False
    raise InputError(fieldname, f"cannot order the ends {lo_text.strip()} and {hi_text.strip()} "
                                "(write them as equal expressions or as rationals)")


def undefined_message(names, point, condition: DomainCondition) -> str:
    where = ", ".join(f"{n} = {q}" for n, q in zip(names, point))
    return f"the claim is undefined at {where}: {condition.explain()}"


def _probe_domain(names, symbols, box, domain, fieldname) -> None:
    """Refuse a claim undefined at an exact corner or the centre of its box (ends rounded
    inwards when irrational)."""
    if not domain:
        return
    flint = flint_module()
    with arb_precision(PRECISION):
        inner = [(a[1], b[0]) for a, b in ((end_bounds(lo), end_bounds(hi)) for lo, hi in box)]
        if any(lo > hi for lo, hi in inner):
            return   # no exact point is known to lie inside (irrational ends closer than their enclosures)
        status = compile_domain(domain, symbols)
        for pt in corners(inner) + [[(lo + hi) / 2 for lo, hi in inner]]:
            verdict, c = status([flint.arb(flint.fmpq(q.numerator, q.denominator)) for q in pt])
            if verdict is False:
                raise InputError(fieldname, undefined_message(names, pt, c))


def corners(box, limit: int = 256) -> list[list[Fraction]]:
    """The exact corners of a box (at most ``limit``; the box has at most 8 variables)."""
    n = len(box)
    return [[box[i][1] if (k >> i) & 1 else box[i][0] for i in range(n)] for k in range(min(1 << n, limit))]


def parse_claim(text: str, fieldname: str = "claim", parts: ClaimParts | None = None) -> Claim:
    """Parse ``forall v in [a, b], ...: LHS op RHS`` (see module docstring); ``parts`` is
    the claim already split by :func:`~certify.claims.light.split_claim`."""
    parts = parts or split_claim(text, fieldname)
    body, op, left, right = parts.text, parts.op, parts.left, parts.right
    names, box = [], []
    for name, lo_text, hi_text in parts.variables:
        lo = _constant(lo_text, f"{fieldname}: range of {name}")
        hi = _constant(hi_text, f"{fieldname}: range of {name}")
        if _empty(lo, hi, f"{fieldname}: range of {name}", lo_text, hi_text):
            raise InputError(fieldname, f"empty range for {name!r}: {lo_text.strip()} > {hi_text.strip()}")
        names.append(name)
        box.append((lo, hi))
    symbols = tuple(sp.Symbol(n, real=True) for n in names)
    lhs, dl = parse_expression_domain(left, symbols, fieldname=f"{fieldname}: left side",
                                      functions=CLAIM_FUNCTIONS)
    rhs, dr = parse_expression_domain(right, symbols, fieldname=f"{fieldname}: right side",
                                      functions=CLAIM_FUNCTIONS)
    _probe_domain(names, symbols, box, dl + dr, fieldname)
    claim = Claim(body, tuple(names), symbols, tuple(box), lhs, op, rhs, dl + dr, fieldname)
    try:
        compile_arb(claim.margin, symbols)
    except (ValueError, TypeError) as exc:
        raise InputError(fieldname, f"the claim cannot be evaluated in Arb: {exc}") from None
    return claim


def parse_claims_file(text: str, fieldname: str = "claims file") -> list[Claim]:
    """One claim per line; blank lines and lines starting with '#' are skipped."""
    claims = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            claims.append(parse_claim(line, f"{fieldname} line {n}"))
    if not claims:
        raise InputError(fieldname, "no claim found")
    return claims
