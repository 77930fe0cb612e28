"""Sequence maps: the spec (``certify.seqmap/1``) and the checker of their certificates
(``certify.seqmap-certificate/1``) — trusted.

The construction that builds such certificates is :mod:`certify.kolmogorov` (it imports the
search); this module imports only the trusted set (the kernel, the head-certificate checker,
the problem and expression loaders), so a VALID answer for a sequence map rests on nothing
the search could have influenced. What it re-derives from a certificate: the spec and the
architecture; every inner head's problem, rebuilt from the document's prefix (positions on
the circle from Arb, biases rounded once from exact products) and its embedded certificate,
checked by :func:`certify.checker.check_document`; every outer head's segments
(:func:`certify.kernel.linebound.check_line`); the reachable ranges and the Lipschitz
constants by interval arithmetic; and the end-to-end sum ``sum_q (c_q + L_q e)`` with upward
rounding (see :mod:`certify.kolmogorov` for the construction and the error analysis). The
torus bound a certificate may record is not re-checked, and a VALID answer does not cover it.
"""

from __future__ import annotations

import base64
import binascii
import math
import time
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp

from .errors import InputError
from .expr import check_defined_on_sphere, compile_domain, coordinate_symbols, parse_expression_domain
from .kernel import interval as iv
from .kernel.iexpr import compile_interval
from .kernel.linebound import LineHead, LineTarget, check_line
from .problem import make_problem


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
    length: int
    inner: list            # Q lists of n sympy expressions over x0, x1
    outer: list            # Q sympy expressions over s
    epsilon: float
    texts: dict = field(repr=False, default_factory=dict)

    @property
    def terms(self) -> int:
        return len(self.outer)

    def inner_text(self, q: int, p: int) -> str:
        """The inner map psi_{p,q} as the spec wrote it (what the inner problems embed: a
        sympy printout would depend on sympy's version)."""
        terms = self.texts.get("terms")
        return terms[q]["inner"][p] if terms else str(self.inner[q][p])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """f at B sequences X (B x n x 2), float (not rigorous)."""
        from .expr import compile_numpy

        X = np.asarray(X, dtype=np.float64)
        xs = coordinate_symbols(1)
        total = np.zeros(X.shape[0])
        for q in range(self.terms):
            s = sum(compile_numpy(self.inner[q][p], xs)(X[:, p, 0], X[:, p, 1]) * np.ones(X.shape[0])
                    for p in range(self.length))
            total = total + compile_numpy(self.outer[q], [S])(s) * np.ones(X.shape[0])
        return total


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
            raise InputError(where, "needs both 'inner' (n expressions in x0, x1) and 'outer' (an expression in s)")
        if not (isinstance(term["inner"], list) and len(term["inner"]) == n):
            raise InputError(f"{where}.inner", f"expected a list of {n} expressions (one per position)")
        row = []
        for p, t in enumerate(term["inner"]):
            e, conds = parse_expression_domain(t, xs, fieldname=f"{where}.inner[{p}]")
            check_defined_on_sphere(t, conds, xs, fieldname=f"{where}.inner[{p}]")
            row.append(e)
        inner.append(row)
        e, conds = parse_expression_domain(term["outer"], [S], fieldname=f"{where}.outer")
        outer.append(e)
        outer_conditions.append(conds)
    spec = SeqMap(n, inner, outer, float(eps), {"terms": terms})
    for q, conds in enumerate(outer_conditions):
        if conds:
            lo, hi = _mean_range(spec, q)  # of u = s / n; the outer map is written in s
            reach = (float(iv.down(lo * n)), float(iv.up(hi * n)))
            _check_outer_domain(terms[q]["outer"], conds, reach, f"terms[{q}].outer")
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


@dataclass
class Layout:
    n: int
    Q: int

    def __post_init__(self):
        sizes = [("X", 2), ("P", 2), ("ONE", 1), ("PSI", self.Q), ("MEAN", self.Q), ("ACC", 1),
                 ("KEY", 4), ("VAL", self.Q)]
        self.slot, at = {}, 0
        for name, size in sizes:
            self.slot[name] = np.arange(at, at + size)
            at += size
        self.d = at

    @property
    def depth(self) -> int:
        return 2 + self.Q

    @property
    def heads(self) -> int:
        return 2 + self.Q

    def positions(self) -> np.ndarray:
        """e_p = (cos 2 pi p / n, sin 2 pi p / n), p = 0..n-1, each the float nearest to an
        Arb ball of 200 bits: the same floats on every host (the checker rebuilds the inner
        problems from them, so a host's libm must not move them by an ulp)."""
        import flint

        with flint.ctx.workprec(200):
            turns = [flint.arb(flint.fmpq(2 * p, self.n)) for p in range(self.n)]
            return np.array([[float(t.cos_pi().mid()), float(t.sin_pi().mid())] for t in turns])


def _exact_biases(e: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, float]:
    """fl(<e, pos_k>) computed exactly then rounded once, and eta >= every |exact - float|."""
    out = np.empty(pos.shape[0])
    for k, (u, v) in enumerate(pos):
        exact = Fraction(float(e[0])) * Fraction(float(u)) + Fraction(float(e[1])) * Fraction(float(v))
        out[k] = float(exact)  # correctly rounded: error <= |out| 2^-53
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
    head = LineHead(np.asarray(o["slopes"], float), np.asarray(o["offsets"], float),
                    np.asarray(o["values"], float), spec.length)
    target = LineTarget(spec.outer[q].subs(S, spec.length * U_SYM), U_SYM)
    return head, target


def _inner_range(expr, level: int = 9):
    """Rigorous enclosure of expr(x) over S^1 (cubed-circle cells at ``level``)."""
    from .kernel.sphere import cell_caps, root_cells, split_cells

    F, L, C = root_cells(1)
    for _ in range(level):
        F, L, C = split_cells(1, F, L, C)
    c, rho = cell_caps(1, F, L, C)
    box = [(iv.down(c[:, j] - rho), iv.up(c[:, j] + rho)) for j in range(2)]
    lo, hi = compile_interval(expr, coordinate_symbols(1))(*box)
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        raise InputError("terms", f"the inner map {expr} is not bounded on S^1 (interval evaluation)")
    return float(np.min(lo)), float(np.max(hi))


def _lipschitz(expr, lo: float, hi: float, pieces: int = 512) -> float:
    """Rigorous sup |expr'| over [lo, hi] (interval evaluation on pieces)."""
    d = compile_interval(sp.diff(expr, U_SYM), [U_SYM])
    edges = np.linspace(lo, hi, pieces + 1)
    edges[0], edges[-1] = lo, hi
    val = iv.mag(d((iv.down(edges[:-1]), iv.up(edges[1:]))))
    out = float(np.max(val))
    return out if math.isfinite(out) else math.inf


def _pack_floats(a: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(np.asarray(a, dtype="<f8").tobytes(), 9)).decode("ascii")


#: Most breakpoints an outer head's certificate may carry (every segment is re-bounded by
#: the checker; the constructions write a few hundred).
MAX_BREAKPOINTS = 2**20


def _unpack_floats(text: str, limit: int = MAX_BREAKPOINTS, field: str = "breakpoints") -> np.ndarray:
    """The float64 array of :func:`_pack_floats`; any decoding failure (not a string, not
    base64, not zlib, truncated, more than ``limit`` numbers, a partial number) is an
    InputError naming ``field``."""
    if not isinstance(text, str):
        raise InputError(field, f"expected a base64 string, got {type(text).__name__}")
    try:
        d = zlib.decompressobj()
        raw = d.decompress(base64.b64decode(text.encode("ascii"), validate=True), 8 * limit + 1)
    except (binascii.Error, zlib.error, UnicodeError, ValueError) as exc:
        raise InputError(field, f"not base64 zlib data ({exc})") from None
    if len(raw) > 8 * limit or d.unconsumed_tail:
        raise InputError(field, f"holds more than {limit} numbers")
    if not d.eof:
        raise InputError(field, "truncated compressed data")
    if len(raw) % 8:
        raise InputError(field, f"{len(raw)} bytes is not a whole number of float64 values")
    return np.frombuffer(raw, dtype="<f8").copy()


def rounding_slack(values: np.ndarray, eta: float) -> float:
    """|H_exact - H_rounded| <= (e^{2 eta} - 1) span when every score moves by <= eta; the
    span covers the values and the inert tokens' 0."""
    span = float(iv.up(np.max(np.maximum(values.max(axis=0), 0.0) - np.minimum(values.min(axis=0), 0.0))))
    return float(iv.up(iv.up(iv.exp(iv.point(iv.up(2 * eta)))[1] - 1.0) * span))


def end_to_end_bound(e_bar: float, outer_upper: list, lipschitz: list) -> float:
    """sum_q (c_q + L_q e), rounded up; inf when any part is missing or not finite."""
    total = 0.0
    for c, L in zip(outer_upper, lipschitz):
        if c is None or not (math.isfinite(c) and math.isfinite(L) and math.isfinite(e_bar)):
            return math.inf
        total = float(iv.up(total + iv.up(c + iv.up(L * e_bar))))
    return total


def architecture(n: int, Q: int) -> dict:
    lay = Layout(n, Q)
    return {"layers": lay.depth, "heads": lay.heads, "width": lay.d, "terms": Q,
            "heads_per_layer": 1, "pretrained": f"certify.kolmogorov.pretrained({n}, {Q})"}


def _sum_up(values) -> float:
    total = 0.0
    for v in values:
        total = float(iv.up(total + v))
    return total


@dataclass
class KACheck:
    valid: bool
    reason: str = ""
    where: str = ""
    bound: float | None = None
    inner_errors: list = field(default_factory=list)
    outer_errors: list = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict:
        out = {"valid": self.valid, "bound": self.bound, "inner_errors": self.inner_errors,
               "outer_errors": self.outer_errors, "seconds": round(self.seconds, 3)}
        if not self.valid:
            out.update({"reason": self.reason, "field": self.where})
        return out


class _Invalid(Exception):
    def __init__(self, where, reason):
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


def check_ka(doc, strict: bool = False) -> KACheck:
    """Re-check a ``certify.seqmap-certificate/1`` document from scratch: every inner-head
    certificate (``certify check``) against the problem rebuilt from the document's prefix,
    every outer-head segment re-bounded, the ranges, Lipschitz constants and the end-to-end
    sum recomputed. Valid when the recomputed bound is <= the recorded one (and <= epsilon
    for a CERTIFIED document)."""
    t0 = time.monotonic()
    out = KACheck(False)
    try:
        _check_ka(doc, out, strict)
        out.valid = True
    except _Invalid as exc:
        out.reason, out.where = exc.reason, exc.where
    except InputError as exc:
        out.reason, out.where = exc.message, exc.field
    # any other exception is a fault of the checker or the host, not of the document: the
    # structure is validated first (_validate_ka), so it propagates (certify check: exit 4)
    out.seconds = time.monotonic() - t0
    return out


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need(container: dict, key: str, where: str):
    if key not in container:
        raise _Invalid(f"{where}.{key}" if where else key, "is required (missing field)")
    return container[key]


def _numeric(value, where: str, depth: int, columns: int | None = None) -> int:
    """A non-empty vector (depth 1) or rectangular matrix (depth 2) of numbers; its length."""
    if not isinstance(value, list) or not value:
        raise _Invalid(where, f"expected a non-empty array{' of arrays' if depth == 2 else ''} of numbers")
    if depth == 1:
        bad = next((i for i, v in enumerate(value) if not _is_num(v)), None)
        if bad is not None:
            raise _Invalid(f"{where}[{bad}]", "expected a number")
        return len(value)
    width = None
    for i, row in enumerate(value):
        w = _numeric(row, f"{where}[{i}]", 1)
        if width is None:
            width = w
        if w != width or (columns is not None and w != columns):
            raise _Invalid(f"{where}[{i}]", f"expected {columns or width} numbers, got {w}")
    return len(value)


def _validate_ka(doc) -> None:
    """Every field :func:`_check_ka` reads has the type and shape it needs (else INVALID
    naming the field); finiteness and float64 range of every number (10**400 included)."""
    from .problem import _check_finite

    if not isinstance(doc, dict):
        raise _Invalid("(top level)", "expected a JSON object")
    _check_finite(doc, [])
    if doc.get("format") != CERT_FORMAT:
        raise _Invalid("format", f"expected {CERT_FORMAT!r}, got {doc.get('format')!r}")
    for key in ("spec", "architecture"):
        _need(doc, key, "")
    if _need(doc, "verdict", "") not in ("CERTIFIED", "UNDECIDED"):
        raise _Invalid("verdict", f"expected 'CERTIFIED' or 'UNDECIDED', got {doc['verdict']!r}")
    bound = _need(doc, "bound", "")
    if bound is not None and not _is_num(bound):
        raise _Invalid("bound", f"expected a number or null, got {bound!r}")
    inner = _need(doc, "inner", "")
    if not isinstance(inner, dict):
        raise _Invalid("inner", "expected an object")
    rows = _numeric(_need(inner, "keys", "inner"), "inner.keys", 2, 2)
    for key in ("values", "position_keys"):
        _numeric(_need(inner, key, "inner"), f"inner.{key}", 2, 2 if key == "position_keys" else None)
    if len(inner["position_keys"]) != rows:
        raise _Invalid("inner.position_keys", f"expected {rows} rows (one per key), got {len(inner['position_keys'])}")
    positions = _need(inner, "positions", "inner")
    if not isinstance(positions, list):
        raise _Invalid("inner.positions", "expected an array")
    for p, entry in enumerate(positions):
        where = f"inner.positions[{p}]"
        if not isinstance(entry, dict):
            raise _Invalid(where, "expected an object")
        cert = entry.get("certificate")
        if isinstance(cert, dict):
            problem = cert.get("problem")
            if not (isinstance(problem, dict) and _is_num(problem.get("epsilon"))):
                raise _Invalid(where + ".certificate.problem.epsilon", "expected a number")
    outer = _need(doc, "outer", "")
    if not isinstance(outer, list):
        raise _Invalid("outer", "expected an array")
    for q, o in enumerate(outer):
        where = f"outer[{q}]"
        if not isinstance(o, dict):
            raise _Invalid(where, "expected an object")
        interval = _need(o, "interval", where)
        if not (isinstance(interval, list) and len(interval) == 2 and all(map(_is_num, interval))):
            raise _Invalid(where + ".interval", "expected two numbers [lo, hi]")
        upper = _need(o, "upper", where)
        if upper is not None and not _is_num(upper):
            raise _Invalid(where + ".upper", f"expected a number or null, got {upper!r}")
        _need(o, "breakpoints", where)
        n = _numeric(_need(o, "slopes", where), where + ".slopes", 1)
        for key in ("offsets", "values"):
            if _numeric(_need(o, key, where), f"{where}.{key}", 1) != n:
                raise _Invalid(f"{where}.{key}", f"expected {n} numbers (one per slope), got {len(o[key])}")


def _check_ka(doc, out: KACheck, strict: bool) -> None:
    from .checker import check_document

    _validate_ka(doc)
    try:
        spec = parse_seqmap(doc["spec"])
    except InputError as exc:
        raise _Invalid(f"spec.{exc.field}" if exc.field != "(top level)" else "spec", exc.message) from None
    n, Q, eps = spec.length, spec.terms, spec.epsilon
    if doc["architecture"] != architecture(n, Q):
        raise _Invalid("architecture", f"is not the pretrained architecture for n = {n}, Q = {Q}")
    inner = doc["inner"]
    positions = inner["positions"]
    if len(positions) != n:
        raise _Invalid("inner.positions", f"expected {n} entries, got {len(positions)}")
    values = np.asarray(inner["values"], dtype=np.float64)
    if len(doc["outer"]) != Q:
        raise _Invalid("outer", f"expected {Q} outer heads, got {len(doc['outer'])}")
    e_p = []
    for p, entry in enumerate(positions):
        where = f"inner.positions[{p}]"
        cert = entry.get("certificate")
        if not isinstance(cert, dict):
            raise _Invalid(where + ".certificate", "missing: the inner head at this position is not certified")
        eps_p = cert["problem"]["epsilon"]
        try:
            prob, eta = inner_problem(spec, inner, p, eps_p)
        except InputError as exc:
            raise _Invalid(f"inner ({exc.field} of the problem at position {p + 1})", exc.message) from None
        report = check_document(cert, f"{where}.certificate", prob, strict)
        if not report.valid:
            raise _Invalid(f"{where}.certificate.{report.where}", report.reason)
        if report.verdict != "CERTIFIED":
            raise _Invalid(where + ".certificate", "is not a CERTIFIED certificate")
        e_p.append(float(iv.up(report.upper + rounding_slack(values, eta))))
    out.inner_errors = e_p
    e_bar = float(iv.up(_sum_up(e_p) / n))
    ups, Ls = [], []
    for q, o in enumerate(doc["outer"]):
        where = f"outer[{q}]"
        lo_r, hi_r = _mean_range(spec, q)
        need_lo, need_hi = float(iv.down(lo_r - e_bar)), float(iv.up(hi_r + e_bar))
        lo, hi = o["interval"]
        if not (lo <= need_lo and hi >= need_hi):
            raise _Invalid(where + ".interval", f"[{lo!r}, {hi!r}] does not hold the reachable means "
                                                f"[{need_lo!r}, {need_hi!r}]")
        head, target = outer_line(spec, o, q)
        claimed = o["upper"]
        if claimed is None:
            raise _Invalid(where + ".upper", "the outer head is not certified")
        breakpoints = _unpack_floats(o["breakpoints"], field=where + ".breakpoints")
        ok, reason, worst = check_line(head, target, lo, hi, breakpoints, claimed)
        if not ok:
            raise _Invalid(where + ".breakpoints", reason)
        ups.append(worst)
        Ls.append(_lipschitz(target.expr, lo, hi))
    if len(ups) != Q:
        raise _Invalid("outer", f"expected {Q} outer heads, got {len(ups)}")
    out.outer_errors = ups
    bound = end_to_end_bound(e_bar, ups, Ls)
    out.bound = bound
    recorded = doc.get("bound")
    if recorded is None or not bound <= recorded:
        raise _Invalid("bound", f"records {recorded!r} but the recomputed bound is {bound!r}")
    if doc["verdict"] == "CERTIFIED" and not bound <= eps:
        raise _Invalid("verdict", f"CERTIFIED but the bound {bound!r} is above epsilon {eps!r}")


def _mean_range(spec: SeqMap, q: int) -> tuple[float, float]:
    """Enclosure of u_q = (1/n) sum_p psi_{p,q} over the torus (outward rounded)."""
    rs = [_inner_range(spec.inner[q][p]) for p in range(spec.length)]
    lo = -_sum_up(-r[0] for r in rs)
    hi = _sum_up(r[1] for r in rs)
    return float(iv.down(lo / spec.length)), float(iv.up(hi / spec.length))

