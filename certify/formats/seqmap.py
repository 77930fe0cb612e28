"""Sequence maps: the spec (``certify.seqmap/1``), its layout, and the reading of the parts
of a sequence-map certificate (``certify.seqmap-certificate/1``) — trusted.

The checker of those certificates is :mod:`certify.checker.sequence_map`; the construction
that builds them is :mod:`certify.constructions.kolmogorov_arnold`. The rigorous ranges and
Lipschitz constants here (:func:`inner_range`, :func:`mean_range`, :func:`lipschitz_bound`)
are interval arithmetic by the kernel; both the checker and the construction use them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp

from certify.errors import InputError
from certify.formats.jsonio import pack_array, unpack_array
from certify.formats.expressions import check_defined_on_sphere, coordinate_symbols, parse_expression_domain
from certify.kernel import interval as iv
from certify.kernel.arb_expressions import compile_domain
from certify.kernel.interval_expressions import compile_interval
from certify.kernel.linebound import LineHead, LineTarget
from certify.formats.problem import make_problem


SPEC_FORMAT = "certify.seqmap/1"


CERT_FORMAT = "certify.seqmap-certificate/1"


#: Longest sequence the construction accepts (the prefix grows like n^2).
MAX_LENGTH = 16


#: Largest number of terms.
MAX_TERMS = 64


# real symbols, so that derivatives of abs are sign, not expressions in re/im
S = sp.Symbol("s", real=True)


U_SYM = sp.Symbol("u", real=True)


@dataclass
class SeqMap:
    """f(x_1..x_n) = sum_q chi_q(sum_p psi_{p,q}(x_p)), the same at every position; or, for a
    sequence-to-sequence map (a term's outer map given per position), the output at position
    i is f_i = sum_q chi_{i,q}(sum_p psi_{p,q}(x_p)) with the inner maps shared."""

    length: int
    inner: list            # Q lists of n sympy expressions over x0, x1
    outer: list            # Q entries: a sympy expression over s, or a list of n (one per position)
    epsilon: float
    texts: dict = field(repr=False, default_factory=dict)

    @property
    def terms(self) -> int:
        return len(self.outer)

    @property
    def per_position(self) -> bool:
        """Whether some outer map depends on the output position (a sequence-to-sequence map)."""
        return any(isinstance(o, list) for o in self.outer)

    def outer_at(self, q: int, i: int):
        """chi_{i,q}: term q's outer map at output position i (0-based)."""
        o = self.outer[q]
        return o[i] if isinstance(o, list) else o

    def outer_texts(self, q: int) -> list:
        """Term q's outer map as written, per output position."""
        terms = self.texts.get("terms")
        o = terms[q]["outer"] if terms else self.outer[q]
        return [str(x) for x in o] if isinstance(o, list) else [str(o)] * self.length

    def inner_text(self, q: int, p: int) -> str:
        """The inner map psi_{p,q} as the spec wrote it (what the inner problems embed: a
        sympy printout would depend on sympy's version)."""
        terms = self.texts.get("terms")
        return terms[q]["inner"][p] if terms else str(self.inner[q][p])


def parse_seqmap(doc) -> SeqMap:
    """Validate a ``certify.seqmap/1`` document (InputError naming the field)."""
    if not isinstance(doc, dict):
        raise InputError("(top level)", "expected a JSON object")
    allowed = {"format", "length", "terms", "epsilon", "meta"}
    extra = sorted(set(doc) - allowed)
    if extra:
        raise InputError("(top level)", f"unknown field(s) {', '.join(map(repr, extra))}")
    for name in ("format", "length", "terms", "epsilon"):
        if name not in doc:
            raise InputError(name, "is required (missing field)")
    if doc["format"] != SPEC_FORMAT:
        raise InputError("format", f"expected {SPEC_FORMAT!r}, got {doc['format']!r}")
    n = doc["length"]
    if not (isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_LENGTH):
        raise InputError("length", f"must be an integer in 1..{MAX_LENGTH}, got {n!r}")
    eps = doc["epsilon"]
    if not (isinstance(eps, (int, float)) and not isinstance(eps, bool)
            and (isinstance(eps, float) or abs(eps) < 2 ** 1000) and math.isfinite(eps) and eps > 0):
        raise InputError("epsilon", f"must be a finite number > 0, got {str(eps)[:40]}")
    terms = doc["terms"]
    if not (isinstance(terms, list) and 1 <= len(terms) <= MAX_TERMS):
        raise InputError("terms", f"expected a list of 1..{MAX_TERMS} terms")
    xs = coordinate_symbols(1)
    inner, outer, outer_conditions = [], [], []
    for q, term in enumerate(terms):
        where = f"terms[{q}]"
        if not isinstance(term, dict):
            raise InputError(where, "expected an object {\"inner\": [...], \"outer\": \"...\"}")
        extra = sorted(set(term) - {"inner", "outer"})
        if extra:
            raise InputError(where, f"unknown field(s) {', '.join(map(repr, extra))}")
        if "inner" not in term or "outer" not in term:
            raise InputError(where, "needs both 'inner' (n expressions in x0, x1) and 'outer' (an expression in s, "
                                    "or a list of n, one per output position)")
        if not (isinstance(term["inner"], list) and len(term["inner"]) == n):
            raise InputError(f"{where}.inner", f"expected a list of {n} expressions (one per position)")
        row = []
        for p, t in enumerate(term["inner"]):
            e, conds = parse_expression_domain(t, xs, fieldname=f"{where}.inner[{p}]")
            check_defined_on_sphere(t, conds, xs, fieldname=f"{where}.inner[{p}]")
            row.append(e)
        inner.append(row)
        o = term["outer"]
        if isinstance(o, list):
            if len(o) != n:
                raise InputError(f"{where}.outer", f"expected one expression in s, or a list of {n} "
                                                   "(one per output position)")
            parsed = [parse_expression_domain(t, [S], fieldname=f"{where}.outer[{i}]") for i, t in enumerate(o)]
            outer.append([e for e, _ in parsed])
            outer_conditions.append([(f"{where}.outer[{i}]", t, c) for i, (t, (_, c)) in enumerate(zip(o, parsed))])
        else:
            e, conds = parse_expression_domain(o, [S], fieldname=f"{where}.outer")
            outer.append(e)
            outer_conditions.append([(f"{where}.outer", o, conds)])
    spec = SeqMap(n, inner, outer, float(eps), {"terms": terms})
    for q, entries in enumerate(outer_conditions):
        if any(conds for _, _, conds in entries):
            lo, hi = mean_range(spec, q)  # of u = s / n; the outer map is written in s
            reach = (float(iv.down(lo * n)), float(iv.up(hi * n)))
            for fieldname, text, conds in entries:
                if conds:
                    _check_outer_domain(text, conds, reach, fieldname)
    return spec


#: Sub-intervals tried when showing an outer map defined on its reachable range.
MAX_OUTER_DOMAIN_BOXES = 512


def _check_outer_domain(text, conditions, reach, fieldname) -> None:
    """Every domain condition of the outer map (as written: denominators, logs, roots) must
    hold on the whole reachable range of s (an enclosure), shown in Arb by bisection; a map
    undefined there, or not shown defined within the budget, is refused."""
    import flint

    status = compile_domain(conditions, [S])
    stack = [(Fraction(reach[0]), Fraction(reach[1]))]
    boxes = 0
    while stack:
        lo, hi = stack.pop()
        boxes += 1
        ball = flint.arb(flint.fmpq(lo.numerator, lo.denominator)).union(
            flint.arb(flint.fmpq(hi.numerator, hi.denominator)))
        verdict, cond = status([ball])
        if verdict is True:
            continue
        if verdict is False or boxes >= MAX_OUTER_DOMAIN_BOXES:
            what = "is undefined" if verdict is False else "cannot be shown defined"
            raise InputError(fieldname, f"{text!r} {what} for s in [{float(lo):.6g}, {float(hi):.6g}], "
                                        f"within the reachable range [{reach[0]:.6g}, {reach[1]:.6g}] "
                                        f"of the inner sums: {cond.explain()}")
        mid = (lo + hi) / 2
        stack += [(lo, mid), (mid, hi)]


def layout_sizes(Q):
    """The residual stream's slots and their sizes for Q terms (Q may be a sympy symbol)."""
    return [("X", 2), ("P", 2), ("ONE", 1), ("PSI", Q), ("MEAN", Q), ("ACC", 1), ("KEY", 4), ("VAL", Q)]


def layout_depth(Q):
    """Blocks of one head each: the inner head, the summing head, one outer head per term."""
    return 2 + Q


def layout_width(Q):
    return sum(size for _, size in layout_sizes(Q))


@dataclass
class Layout:
    """The layout of :func:`layout_sizes` (the formulas the depth statement is proved from)."""

    n: int
    Q: int

    def __post_init__(self):
        self.slot, at = {}, 0
        for name, size in layout_sizes(self.Q):
            self.slot[name] = np.arange(at, at + size)
            at += size
        self.d = at

    @property
    def depth(self) -> int:
        return layout_depth(self.Q)

    @property
    def heads(self) -> int:
        return layout_depth(self.Q)  # one head per block

    def positions(self) -> np.ndarray:
        """e_p = (cos 2 pi p / n, sin 2 pi p / n), p = 0..n-1, each the float nearest to an
        Arb ball of 200 bits: the same floats on every host (the checker rebuilds the inner
        problems from them, so a host's libm must not move them by an ulp)."""
        import flint

        with flint.ctx.workprec(200):
            turns = [flint.arb(flint.fmpq(2 * p, self.n)) for p in range(self.n)]
            return np.array([[float(t.cos_pi().mid()), float(t.sin_pi().mid())] for t in turns])


def _rounded(exact: Fraction, field: str) -> float:
    """float(exact), correctly rounded; InputError naming ``field`` beyond float64's range."""
    try:
        return float(exact)
    except OverflowError:
        raise InputError(field, "a score offset is beyond float64's range") from None


def _exact_biases(e: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, float]:
    """fl(<e, pos_k>) computed exactly then rounded once, and eta >= every |exact - float|."""
    out = np.empty(pos.shape[0])
    for k, (u, v) in enumerate(pos):
        exact = Fraction(float(e[0])) * Fraction(float(u)) + Fraction(float(e[1])) * Fraction(float(v))
        out[k] = _rounded(exact, "inner.position_keys")  # correctly rounded: error <= |out| 2^-53
    eta = float(iv.up(np.max(np.abs(out)) * math.ldexp(1.0, -52))) if out.size else 0.0
    return out, eta


def inner_problem(spec: SeqMap, inner: dict, p: int, epsilon: float):
    """The inner head at position p as a reduced problem on S^1 (keys lambda t_j of every
    position, biases <e_p, mu e_p'> rounded once, n inert tokens) and the bound eta on the
    bias rounding."""
    e = Layout(spec.length, spec.terms).positions()[p]
    biases, eta = _exact_biases(e, np.asarray(inner["position_keys"]))
    texts = [spec.inner_text(q, p) for q in range(spec.terms)]
    problem = make_problem(1, "softmax", inner["keys"], inner["values"], texts, epsilon, biases=biases,
                           context_tokens=spec.length,
                           meta={"role": f"inner head at position {p + 1} of {spec.length}"})
    return problem, eta


def outer_line(spec: SeqMap, o: dict, q: int):
    """Outer head q of a map that is the same at every position: the line head u -> (u, 1)."""
    if spec.per_position:
        raise InputError("outer", "a sequence-to-sequence map has one line head per position (outer_line_at)")
    head = LineHead(np.asarray(o["slopes"], float), np.asarray(o["offsets"], float),
                    np.asarray(o["values"], float), spec.length)
    target = LineTarget(spec.outer[q].subs(S, spec.length * U_SYM), U_SYM)
    return head, target


def _exact_offsets(offsets: np.ndarray, e: np.ndarray, pos: np.ndarray, field: str) -> tuple[np.ndarray, float]:
    """fl(b_k + <e, pos_k>) computed exactly then rounded once, and eta >= every |exact - float|."""
    out = np.empty(pos.shape[0])
    for k, (b, (u, v)) in enumerate(zip(offsets, pos)):
        exact = Fraction(float(b)) + Fraction(float(e[0])) * Fraction(float(u)) + Fraction(float(e[1])) * Fraction(float(v))
        out[k] = _rounded(exact, field)  # correctly rounded: error <= |out| 2^-53
    eta = float(iv.up(np.max(np.abs(out)) * math.ldexp(1.0, -52))) if out.size else 0.0
    return out, eta


def outer_line_at(spec: SeqMap, o: dict, q: int, i: int):
    """Outer head q of a sequence-to-sequence map at output position i (0-based): the query
    2 (MEAN_q, 1, e_i) against the keys (a_k, b_k, mu e_(p_k)) is the line head with offsets
    b_k + <e_i, mu e_(p_k)> (rounded once; eta bounds the rounding), against chi_{i,q}(n u).
    Returns (head, target, eta)."""
    e = Layout(spec.length, spec.terms).positions()[i]
    offsets, eta = _exact_offsets(np.asarray(o["offsets"], float), e, np.asarray(o["position_keys"], float),
                                  f"outer[{q}].offsets")
    head = LineHead(np.asarray(o["slopes"], float), offsets, np.asarray(o["values"], float), spec.length)
    target = LineTarget(spec.outer_at(q, i).subs(S, spec.length * U_SYM), U_SYM)
    return head, target, eta


def inner_range(expr, level: int = 9):
    """Rigorous enclosure of expr(x) over S^1 (cubed-circle cells at ``level``)."""
    from certify.kernel.sphere import cell_caps, root_cells, split_cells

    F, L, C = root_cells(1)
    for _ in range(level):
        F, L, C = split_cells(1, F, L, C)
    c, rho = cell_caps(1, F, L, C)
    box = [(iv.down(c[:, j] - rho), iv.up(c[:, j] + rho)) for j in range(2)]
    lo, hi = compile_interval(expr, coordinate_symbols(1))(*box)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("terms", f"the inner map {expr} is not bounded on S^1 (interval evaluation)")
    return float(np.min(lo)), float(np.max(hi))


def lipschitz_bound(expr, lo: float, hi: float, pieces: int = 512) -> float:
    """Rigorous sup |expr'| over [lo, hi] (interval evaluation on pieces)."""
    d = compile_interval(sp.diff(expr, U_SYM), [U_SYM])
    edges = np.linspace(lo, hi, pieces + 1)
    edges[0], edges[-1] = lo, hi
    val = iv.mag(d((iv.down(edges[:-1]), iv.up(edges[1:]))))
    out = float(np.max(val))
    return out if math.isfinite(out) else math.inf


#: Most breakpoints an outer head's certificate may carry (every segment is re-bounded by
#: the checker; the constructions write a few hundred).
MAX_BREAKPOINTS = 2**20


def pack_breakpoints(a: np.ndarray) -> str:
    """An outer head's breakpoints as packed float64 (:func:`certify.formats.jsonio.pack_array`)."""
    return pack_array(a, "<f8")


def unpack_breakpoints(text, field: str = "breakpoints") -> np.ndarray:
    """The breakpoints of :func:`pack_breakpoints`; InputError naming ``field`` on any
    decoding failure or beyond :data:`MAX_BREAKPOINTS` numbers."""
    return unpack_array(text, "<f8", MAX_BREAKPOINTS, field)


#: How ``certify.seqmap-certificate/1`` names the pretrained network of the layout: an
#: identifier fixed with the format's first version (it is compared, never imported; the
#: network is built by :func:`certify.constructions.kolmogorov_arnold.pretrained`), so that
#: certificates written before the code moved still check.
PRETRAINED_NAME = "certify.kolmogorov.pretrained({n}, {Q})"


def architecture(n: int, Q: int) -> dict:
    """The architecture a certificate records and the checker compares, for the layout (n, Q)."""
    lay = Layout(n, Q)
    return {"layers": lay.depth, "heads": lay.heads, "width": lay.d, "terms": Q,
            "heads_per_layer": 1, "pretrained": PRETRAINED_NAME.format(n=n, Q=Q)}


def sum_up(values) -> float:
    total = 0.0
    for v in values:
        total = float(iv.up(total + v))
    return total


def mean_range(spec: SeqMap, q: int) -> tuple[float, float]:
    """Enclosure of u_q = (1/n) sum_p psi_{p,q} over the torus (outward rounded)."""
    rs = [inner_range(spec.inner[q][p]) for p in range(spec.length)]
    lo = -sum_up(-r[0] for r in rs)
    hi = sum_up(r[1] for r in rs)
    return float(iv.down(lo / spec.length)), float(iv.up(hi / spec.length))

