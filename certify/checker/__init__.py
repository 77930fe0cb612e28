"""The independent checker (trusted): it imports only :mod:`certify.kernel` and
:mod:`certify.formats`, never the certifier, the constructions or the estimates.

:func:`check_file` reads one certificate and dispatches by its ``format``: a head certificate
(``certify.certificate/1``) to :mod:`certify.checker.head`, a sequence-map certificate
(``certify.seqmap-certificate/1``) to :mod:`certify.checker.sequence_map`. A document that is
not a certificate is bad input (InputError), never INVALID.
"""

from __future__ import annotations

import os
from pathlib import Path

from certify.checker.head import CheckReport, check_document
from certify.errors import InputError
from certify.formats.certificate import FORMAT as HEAD_FORMAT
from certify.formats.jsonio import read_json
from certify.formats.problem import FORMAT as PROBLEM_FORMAT, load_problem

#: The current sequence-map certificate format (its checker is loaded only for such files, so
#: a head certificate's answer rests on the head checker's part of the trusted base alone).
SEQMAP_FORMAT = "certify.seqmap-certificate/1"


#: The ``format`` prefixes of certificates: a head's (:data:`FORMAT`) and a sequence map's
#: (``certify.seqmap-certificate/1``, checked by :mod:`certify.checker.sequence_map`); other versions of
#: either are certificates too, which the checker then answers INVALID (unsupported format).
CERTIFICATE_FORMATS = ("certify.certificate/", "certify.seqmap-certificate/")


def is_certificate_format(fmt) -> bool:
    """Whether a document's top-level ``format`` value names a certificate format."""
    return isinstance(fmt, str) and fmt.startswith(CERTIFICATE_FORMATS)


def scan_certificates(root: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(certificates, skipped) among the ``*.json`` files under ``root``: a file is a
    certificate when its top-level ``format`` field is a certificate format. A file that is
    not JSON but names a certificate format in its first bytes is kept (it is a damaged
    certificate, which reading it will report); every other file is skipped."""
    found, skipped = [], []
    for p in sorted(Path(root).rglob("*.json")):
        if not p.is_file():
            skipped.append(p)
            continue
        try:
            doc = read_json(p, what="certificate")
        except InputError:
            try:
                with open(p, "rb") as fh:
                    head = fh.read(4096).decode("utf-8", "replace")
            except OSError:
                head = ""
            (found if any(f in head for f in CERTIFICATE_FORMATS) else skipped).append(p)
            continue
        fmt = doc.get("format") if isinstance(doc, dict) else None
        (found if is_certificate_format(fmt) else skipped).append(p)
    return found, skipped


def check_file(path: str | os.PathLike, problem: str | os.PathLike | None = None,
               strict: bool = False, workers: int = 1, max_nodes: int | None = None) -> CheckReport:
    """A certify.certificate/1 file (checker) or a certify.seqmap-certificate/1 file; any
    other document is not a certificate (bad input, exit 2), never INVALID. ``problem``, when
    given, is the problem file the certificate must be about; ``max_nodes`` (default
    ``certify.formats.certificate.MAX_NODES``) is the largest partition accepted."""
    doc = read_json(path, what="certificate")
    fmt = doc.get("format") if isinstance(doc, dict) else None
    if not is_certificate_format(fmt):
        if fmt == PROBLEM_FORMAT:
            raise InputError("CERT", f"{path} is a problem file ({PROBLEM_FORMAT}), not a certificate; "
                                     f"certify prove {path} -o CERT.json writes one")
        what = f"its format is {fmt!r}" if isinstance(fmt, str) else "it has no format field"
        raise InputError("CERT", f"{path} is not a certificate ({what}; expected {HEAD_FORMAT} "
                                 f"or {SEQMAP_FORMAT})")
    if not fmt.startswith("certify.seqmap-certificate/"):
        expected = load_problem(problem) if problem is not None else None
        return check_document(doc, str(path), expected, strict=strict, workers=workers, max_nodes=max_nodes)
    if problem:
        raise InputError("--problem", "a sequence-map certificate carries its own problems; drop --problem")
    from certify.checker.sequence_map import check_sequence_map

    c = check_sequence_map(doc, strict)
    report = CheckReport(str(path), c.valid, doc.get("verdict"), c.reason, c.where, upper=c.bound,
                         seconds=c.seconds, kind="seqmap")
    if c.valid and isinstance(doc.get("torus"), dict):
        # VALID covers the end-to-end bound only: the checker does not rerun the torus search
        report.not_checked.append("torus")
    return report
