"""The checker of sequence-map certificates (``certify.seqmap-certificate/1``) — trusted.

SOUNDNESS CONTRACT: :func:`check_sequence_map` answers VALID only when the bound it
recomputes from the document alone is <= the recorded one (and <= epsilon for a CERTIFIED
document). It imports only the trusted set (the kernel, the head-certificate checker, the
formats), so a VALID answer rests on nothing the search or the construction could have
influenced. What it re-derives: the spec (:mod:`certify.formats.seqmap`) and the
architecture; every inner head's problem, rebuilt from the document's prefix (positions on
the circle from Arb, biases rounded once from exact products) and its embedded certificate,
checked by :func:`certify.checker.head.check_document`; every outer head's segments
(:func:`certify.kernel.linebound.check_line`); the reachable ranges and the Lipschitz
constants by interval arithmetic; and the end-to-end sum ``sum_q (c_q + L_q e)`` with upward
rounding (the error analysis is in :mod:`certify.constructions.kolmogorov_arnold`). For a
sequence-to-sequence map (outer maps per output position) every outer head is re-checked at
every position i as the line head it is there (offsets b_k + <e_i, mu e_(p_k)> rounded once,
the rounding's slack added), and the bound is the largest of the positions' sums
``sum_q (c_{i,q} + L_{i,q} e)``. The
torus bound a certificate may record is not re-checked, and a VALID answer does not cover it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from certify.errors import InputError
from certify.formats.seqmap import (CERT_FORMAT, architecture,
                                    inner_problem, lipschitz_bound, mean_range, outer_line, outer_line_at,
                                    parse_seqmap, sum_up, unpack_breakpoints)
from certify.kernel import interval as iv
from certify.kernel.linebound import check_line


def rounding_slack(values: np.ndarray, eta: float) -> float:
    """|H_exact - H_rounded| <= (e^{2 eta} - 1) span when every score moves by <= eta; the
    span covers the values and the inert tokens' 0."""
    span = float(iv.up(np.max(np.maximum(values.max(axis=0), 0.0) - np.minimum(values.min(axis=0), 0.0))))
    return float(iv.up(iv.up(iv.exp(iv.point(iv.up(2 * eta)))[1] - 1.0) * span))


def iv_add_up(a, b):
    """a + b rounded up; None when a is None (a part not certified)."""
    return None if a is None else float(iv.up(a + b))


def end_to_end_bound(e_bar: float, outer_upper: list, lipschitz: list) -> float:
    """sum_q (c_q + L_q e), rounded up; inf when any part is missing or not finite."""
    total = 0.0
    for c, L in zip(outer_upper, lipschitz):
        if c is None or not (math.isfinite(c) and math.isfinite(L) and math.isfinite(e_bar)):
            return math.inf
        total = float(iv.up(total + iv.up(c + iv.up(L * e_bar))))
    return total


@dataclass
class SequenceMapCheck:
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


def check_sequence_map(doc, strict: bool = False) -> SequenceMapCheck:
    """Re-check a ``certify.seqmap-certificate/1`` document from scratch: every inner-head
    certificate (``certify check``) against the problem rebuilt from the document's prefix,
    every outer-head segment re-bounded, the ranges, Lipschitz constants and the end-to-end
    sum recomputed. Valid when the recomputed bound is <= the recorded one (and <= epsilon
    for a CERTIFIED document)."""
    t0 = time.monotonic()
    out = SequenceMapCheck(False)
    try:
        _check_document(doc, out, strict)
        out.valid = True
    except _Invalid as exc:
        out.reason, out.where = exc.reason, exc.where
    except InputError as exc:
        out.reason, out.where = exc.message, exc.field
    # any other exception is a fault of the checker or the host, not of the document: the
    # structure is validated first (_validate_structure), so it propagates (certify check: exit 4)
    out.seconds = time.monotonic() - t0
    return out


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _need(container: dict, key: str, where: str):
    if key not in container:
        raise _Invalid(f"{where}.{key}" if where else key, "is required (missing field)")
    return container[key]


def _objects(container: dict, key: str, where: str):
    """(index, path, entry) for each entry of the required array ``container[key]``, every
    entry an object."""
    items = _need(container, key, where)
    path = f"{where}.{key}" if where else key
    if not isinstance(items, list):
        raise _Invalid(path, "expected an array")
    for i, entry in enumerate(items):
        if not isinstance(entry, dict):
            raise _Invalid(f"{path}[{i}]", "expected an object")
        yield i, f"{path}[{i}]", entry


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


def _validate_structure(doc) -> None:
    """Every field :func:`_check_document` reads has the type and shape it needs (else INVALID
    naming the field); finiteness and float64 range of every number (10**400 included)."""
    from certify.formats.jsonio import check_finite

    if not isinstance(doc, dict):
        raise _Invalid("(top level)", "expected a JSON object")
    check_finite(doc, [])
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
        if len(inner[key]) != rows:
            raise _Invalid(f"inner.{key}", f"expected {rows} rows (one per key), got {len(inner[key])}")
    for _, where, entry in _objects(inner, "positions", "inner"):
        cert = entry.get("certificate")
        if isinstance(cert, dict):
            problem = cert.get("problem")
            if not (isinstance(problem, dict) and _is_num(problem.get("epsilon"))):
                raise _Invalid(where + ".certificate.problem.epsilon", "expected a number")
    for _, where, o in _objects(doc, "outer", ""):
        interval = _need(o, "interval", where)
        if not (isinstance(interval, list) and len(interval) == 2 and all(map(_is_num, interval))):
            raise _Invalid(where + ".interval", "expected two numbers [lo, hi]")
        n = _numeric(_need(o, "slopes", where), where + ".slopes", 1)
        for key in ("offsets", "values"):
            if _numeric(_need(o, key, where), f"{where}.{key}", 1) != n:
                raise _Invalid(f"{where}.{key}", f"expected {n} numbers (one per slope), got {len(o[key])}")
        parts = [(where, o)]
        if "positions" in o or "position_keys" in o:
            if _numeric(_need(o, "position_keys", where), where + ".position_keys", 2, 2) != n:
                raise _Invalid(where + ".position_keys", f"expected {n} rows (one per slope)")
            parts = list((w, e) for _, w, e in _objects(o, "positions", where))
        for w, part in parts:
            upper = _need(part, "upper", w)
            if upper is not None and not _is_num(upper):
                raise _Invalid(w + ".upper", f"expected a number or null, got {upper!r}")
            _need(part, "breakpoints", w)


def _check_document(doc, out: SequenceMapCheck, strict: bool) -> None:
    from certify.checker.head import check_document

    _validate_structure(doc)
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
    e_bar = float(iv.up(sum_up(e_p) / n))
    if spec.per_position:
        return _check_positions(doc, spec, e_bar, out)
    if "position_bounds" in doc:
        raise _Invalid("position_bounds", "is for maps whose outer maps depend on the position")
    ups, Ls = [], []
    for q, o in enumerate(doc["outer"]):
        where = f"outer[{q}]"
        if "positions" in o or "position_keys" in o:
            raise _Invalid(where, "has per-position parts, but the spec's outer maps are the same at every position")
        lo, hi = _outer_interval(spec, q, o, e_bar, where)
        head, target = outer_line(spec, o, q)
        ups.append(_segments_checked(head, target, lo, hi, o, where))
        Ls.append(lipschitz_bound(target.expr, lo, hi))
    if len(ups) != Q:
        raise _Invalid("outer", f"expected {Q} outer heads, got {len(ups)}")
    out.outer_errors = ups
    _compare_bound(doc, end_to_end_bound(e_bar, ups, Ls), eps, out)


def _compare_bound(doc, bound: float, eps: float, out: SequenceMapCheck) -> None:
    out.bound = bound
    recorded = doc.get("bound")
    if recorded is None or not bound <= recorded:
        raise _Invalid("bound", f"records {recorded!r} but the recomputed bound is {bound!r}")
    if doc["verdict"] == "CERTIFIED" and not bound <= eps:
        raise _Invalid("verdict", f"CERTIFIED but the bound {bound!r} is above epsilon {eps!r}")


def _outer_interval(spec, q: int, o: dict, e_bar: float, where: str) -> tuple[float, float]:
    """The outer head's interval, which must hold the reachable means widened by e_bar."""
    lo_r, hi_r = mean_range(spec, q)
    need_lo, need_hi = float(iv.down(lo_r - e_bar)), float(iv.up(hi_r + e_bar))
    lo, hi = o["interval"]
    if not (lo <= need_lo and hi >= need_hi):
        raise _Invalid(where + ".interval", f"[{lo!r}, {hi!r}] does not hold the reachable means "
                                            f"[{need_lo!r}, {need_hi!r}]")
    return lo, hi


def _segments_checked(head, target, lo: float, hi: float, part: dict, where: str) -> float:
    """The recomputed worst segment bound of a line head's certificate part."""
    claimed = part["upper"]
    if claimed is None:
        raise _Invalid(where + ".upper", "the outer head is not certified")
    breakpoints = unpack_breakpoints(part["breakpoints"], field=where + ".breakpoints")
    ok, reason, worst = check_line(head, target, lo, hi, breakpoints, claimed)
    if not ok:
        raise _Invalid(where + ".breakpoints", reason)
    return worst


def _check_positions(doc, spec, e_bar: float, out: SequenceMapCheck) -> None:
    """A sequence-to-sequence map: every outer head at every output position."""
    n, Q = spec.length, spec.terms
    per_position = [[] for _ in range(n)]
    Ls = [[] for _ in range(n)]
    for q, o in enumerate(doc["outer"]):
        where = f"outer[{q}]"
        if "positions" not in o:
            raise _Invalid(where + ".positions", "is required: the spec's outer maps depend on the position")
        if len(o["positions"]) != n:
            raise _Invalid(where + ".positions", f"expected {n} entries (one per output position), got {len(o['positions'])}")
        lo, hi = _outer_interval(spec, q, o, e_bar, where)
        values = np.asarray(o["values"], dtype=np.float64)[:, None]
        for i, part in enumerate(o["positions"]):
            head, target, eta = outer_line_at(spec, o, q, i)
            worst = _segments_checked(head, target, lo, hi, part, f"{where}.positions[{i}]")
            per_position[i].append(float(iv.up(worst + rounding_slack(values, eta))))
            Ls[i].append(lipschitz_bound(target.expr, lo, hi))
    out.outer_errors = [max(c[q] for c in per_position) for q in range(Q)]
    bounds = [end_to_end_bound(e_bar, per_position[i], Ls[i]) for i in range(n)]
    recorded = _need(doc, "position_bounds", "")
    if not (isinstance(recorded, list) and len(recorded) == n):
        raise _Invalid("position_bounds", f"expected {n} numbers (one per output position)")
    for i, (b, r) in enumerate(zip(bounds, recorded)):
        if not (_is_num(r) and b <= r):
            raise _Invalid(f"position_bounds[{i}]", f"records {r!r} but the recomputed bound is {b!r}")
    _compare_bound(doc, max(bounds), spec.epsilon, out)


