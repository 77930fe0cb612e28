"""Independent checker of ``certify.certificate/1`` files.

It never imports the search (:mod:`certify.certifier.search`; a test enforces this). It trusts only
the problem loader, the cubed-sphere cells (:mod:`certify.kernel.sphere`) and the interval kernel
(:mod:`certify.kernel`), and accepts only on certain predicates:

1. the document parses, is finite and matches the certificate schema;
2. the embedded problem is a valid problem whose canonical SHA-256 is ``problem_sha256``
   (and equals the given problem file's, with ``--problem``); ``epsilon`` is the problem's;
3. CERTIFIED: the partition decodes to complete 2^m-ary trees on all 2(m+1) facets (the
   tiling is re-counted), every leaf is re-bounded with its recorded method, and every
   bound is a finite number <= epsilon; the claimed upper bound is <= epsilon;
4. REFUTED: the witness y gives x = y/|y| whose error enclosure, recomputed, has a lower
   end > epsilon;
5. a recorded witness or enclosure lower bound is never above what is recomputed.

Anything else is INVALID, with the field (and leaf) that failed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

from certify.formats.certificate import CHECKER_VERSION, FORMAT, CertificateError, decode_tree, unpack_bytes
from certify.errors import InputError
from certify.kernel import interval as iv
from certify.checker.pool import CellBounder
from certify.kernel.cellbound import METHODS, error_enclosure_at, prepare, unit_point_enclosure
from certify.formats.problem import canonical_hash, problem_from_dict
from certify.formats.jsonio import check_finite, json_path

#: Leaves bounded together (vectorisation width; not a soundness matter).
LEAF_BATCH = 4096


@dataclass
class CheckReport:
    path: str
    valid: bool
    verdict: str | None = None
    reason: str = ""
    where: str = ""
    leaf: int | None = None
    leaves: int = 0
    lower: float | None = None
    upper: float | None = None
    seconds: float = 0.0
    problem_sha256: str | None = None
    #: "head" (certify.certificate/1) or "seqmap" (certify.seqmap-certificate/1)
    kind: str = "head"
    #: Recorded numbers that a VALID answer does not cover (not re-checked), by field.
    not_checked: list = field(default_factory=list)

    def to_json(self) -> dict:
        out = {"path": self.path, "valid": self.valid, "verdict": self.verdict, "kind": self.kind,
               "leaves": self.leaves, "lower": self.lower, "upper": self.upper,
               "seconds": round(self.seconds, 3), "problem_sha256": self.problem_sha256,
               "not_checked": list(self.not_checked)}
        if not self.valid:
            out.update({"reason": self.reason, "field": self.where, "leaf": self.leaf})
        return out


def _schema():
    from importlib import resources

    return json.loads(resources.files("certify.formats").joinpath("schemas/certificate.schema.json").read_text())


def _validate(doc):
    import jsonschema

    if not isinstance(doc, dict):
        raise CertificateError("(top level)", "expected a JSON object")
    check_finite(doc, [], CertificateError)
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = errors[0]
        where = json_path(list(err.absolute_path)) or "(top level)"
        raise CertificateError(where, err.message)


def check_document(doc, path: str = "<document>", problem=None, strict: bool = False,
                   workers: int = 1, max_nodes: int | None = None) -> CheckReport:
    """Check a parsed certificate; ``problem`` (a Problem) must match when given. ``workers``
    processes bound the leaves (the answer is the same for every number). A partition of more
    than ``max_nodes`` tree nodes (default ``certify.formats.certificate.MAX_NODES``) is refused
    before it is decoded (a resource limit, not a matter of soundness)."""
    t0 = time.monotonic()
    report = CheckReport(path, False)
    try:
        _check(doc, report, problem, strict, workers, max_nodes)
        report.valid = True
    except CertificateError as exc:
        report.valid = False
        report.reason = exc.message
        report.where = exc.field
    report.seconds = time.monotonic() - t0
    return report


def _check(doc, report: CheckReport, expected_problem, strict: bool, workers: int, max_nodes) -> None:
    _validate(doc)
    if doc["format"] != FORMAT or doc["checker_version"] != CHECKER_VERSION:
        raise CertificateError("format", f"unsupported format {doc['format']!r}")
    try:
        problem = problem_from_dict(doc["problem"])
    except InputError as exc:
        raise CertificateError(f"problem.{exc.field}", exc.message) from None
    if problem.canonical != doc["problem"]:
        raise CertificateError("problem", "is not in canonical form (defaults missing or extra fields)")
    digest = canonical_hash(problem.canonical)
    report.problem_sha256 = digest
    if digest != doc["problem_sha256"]:
        raise CertificateError("problem_sha256", f"does not match the embedded problem (its SHA-256 is {digest})")
    if expected_problem is not None and expected_problem.sha256 != digest:
        raise CertificateError("problem", "is not the given problem file (SHA-256 differs)")
    eps = float(problem.epsilon)
    if doc["epsilon"] != eps:
        raise CertificateError("epsilon", f"{doc['epsilon']!r} differs from the problem's epsilon {eps!r}")
    verdict = doc["verdict"]
    report.verdict = verdict
    model = prepare(problem)
    m = problem.sphere_dim
    enc = doc["enclosure"]

    witness_lower = 0.0
    if "witness" in doc:
        w = doc["witness"]
        y = np.array(w["point"], dtype=np.float64)
        if y.shape != (m + 1,):
            raise CertificateError("witness.point", f"expected {m + 1} numbers, got {y.size}")
        if not np.any(y != 0):
            raise CertificateError("witness.point", "is the zero vector")
        with iv.strict_backend(strict):
            lo, hi = error_enclosure_at(model, *unit_point_enclosure(y[None, :]))
        witness_lower = float(lo[0]) if np.isfinite(lo[0]) else 0.0
        if w["lower"] > witness_lower:
            raise CertificateError("witness.lower", f"claims {w['lower']!r} but the recomputed lower bound is {witness_lower!r}")
    if enc["lower"] > witness_lower:
        raise CertificateError("enclosure.lower", f"claims {enc['lower']!r} but the witness proves only {witness_lower!r}")
    report.lower = witness_lower

    if verdict == "REFUTED":
        if not witness_lower > eps:
            raise CertificateError("witness", f"the error at the witness is only proved >= {witness_lower!r}, "
                                              f"not > epsilon = {eps!r}")
        report.upper = enc["upper"]
        return

    # CERTIFIED
    if not enc["upper"] <= eps:
        raise CertificateError("enclosure.upper", f"{enc['upper']!r} is above epsilon = {eps!r}")
    if witness_lower > eps:
        raise CertificateError("witness", "the witness proves the error is above epsilon")
    part = doc["partition"]
    F, L, C = decode_tree(m, part["trees"], max_nodes)
    n = F.shape[0]
    if part["leaves"] != n:
        raise CertificateError("partition.leaves", f"says {part['leaves']} but the trees have {n} leaves")
    report.leaves = n
    which = unpack_bytes(part["leaf_methods"], n, "partition.leaf_methods")
    if which.size != n:
        raise CertificateError("partition.leaf_methods", f"has {which.size} entries for {n} leaves")
    methods = part["methods"]
    if np.any(which >= len(methods)):
        raise CertificateError("partition.leaf_methods", "names a method index outside partition.methods")
    # exhaustive, with the claimed upper bound (<= epsilon, checked above) as the target: every
    # leaf whose first bound is above it is bounded again with more keys (see bound_cells), so
    # no leaf the search kept with its second bound is judged by its first one
    with CellBounder(problem, model, workers, LEAF_BATCH, strict=strict, exhaustive=True) as bounder:
        report.upper = _bound_leaves(bounder, m, F, L, C, which, methods, eps, report, float(enc["upper"]))


def _bound_leaves(bounder, m, F, L, C, which, methods, eps, report, target) -> float:
    """The largest leaf bound; CertificateError at the first leaf above epsilon."""
    upper = 0.0
    for k, name in enumerate(methods):
        if name not in METHODS:
            raise CertificateError(f"partition.methods[{k}]", f"unknown method {name!r}")
        sel = np.nonzero(which == k)[0]
        sel = sel[np.argsort(L[sel], kind="stable")]  # similar cells together (cost only)
        if sel.size == 0:
            continue
        # bounded in chunks of LEAF_BATCH leaves, here or by the workers: the same bounds
        U, _, _, _ = bounder(m, F[sel], L[sel], C[sel], name, target)
        bad = ~(U <= eps)
        if np.any(bad):
            j = int(sel[np.argmax(bad)])
            report.leaf = j
            raise CertificateError("partition", f"leaf {j} (facet {F[j]}, level {L[j]}, cell {C[j].tolist()}) "
                                                f"has bound {float(U[np.argmax(bad)])!r} > epsilon = {eps!r}")
        upper = max(upper, float(U.max()))
    return upper


