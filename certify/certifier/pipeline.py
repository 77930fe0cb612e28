"""prove -> write -> check: the one way a verdict about a problem file is reported.

:func:`decide` runs the (untrusted) search, writes its certificate as it would go to disk
(the JSON round trip included), and has the independent checker re-derive it. Only then is
CERTIFIED or REFUTED reported: a verdict the checker does not confirm is never shown as one.
Such a disagreement is a bug of the search or of the checker, not a property of the
problem, so it raises :class:`VerdictNotConfirmed` (the command line turns it into exit 4,
"internal error"). UNDECIDED has no certificate and needs no check.

Every command, figure, proof module and benchmark that reports a verdict of ``certify prove``
goes through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from certify.certifier import search
from certify.checker import head as checker
from certify.certifier import writer
from certify.budgets import DEFAULT_MAX_CELLS
from certify.formats import certificate
from certify.checker.head import CheckReport
from certify.certifier.search import CERTIFIED, REFUTED, UNDECIDED, SearchResult

__all__ = ["CERTIFIED", "REFUTED", "UNDECIDED", "Decision", "VerdictNotConfirmed", "decide"]


class VerdictNotConfirmed(RuntimeError):
    """The checker rejected the certificate of a verdict the search reached (a bug)."""


@dataclass
class Decision:
    result: SearchResult          # the search's answer, enclosure and statistics
    certificate: dict | None      # the checked certificate (CERTIFIED or REFUTED), as JSON data
    report: CheckReport | None    # the checker's report on it

    @property
    def verdict(self) -> str:
        return self.result.verdict


def partition_nodes(doc) -> int:
    """Tree nodes of a certificate's partition as the writer recorded them (0 without one)."""
    return sum(int(t["bits"]) for t in doc.get("partition", {}).get("trees", []))


def _nodes_allowed(doc) -> int:
    """The partition size the check accepts: the default limit, or the size of what this search
    wrote when it is larger (the budget the caller gave the search says it may be)."""
    return max(certificate.MAX_NODES, partition_nodes(doc))


def decide(problem, *, max_cells: int = DEFAULT_MAX_CELLS, time_limit: float | None = None,
           accuracy: float | None = None, method: str | None = None, progress=None,
           workers: int = 1, scheduler=None) -> Decision:
    """Prove ``problem`` within the budget, then check the certificate independently; both
    bound cells in ``workers`` processes (the decision is the same for every number). With
    ``scheduler`` the search runs on a Dask cluster (same decision); the check stays here."""
    # module attributes, not names bound at import: one place to substitute each stage
    r = search.prove(problem, max_cells=max_cells, time_limit=time_limit, accuracy=accuracy,
                     method=method, progress=progress, workers=workers, scheduler=scheduler)
    if r.verdict == UNDECIDED:
        return Decision(r, None, None)
    doc = json.loads(json.dumps(writer.build_certificate(problem, r)))
    report = checker.check_document(doc, problem=problem, workers=workers, max_nodes=_nodes_allowed(doc))
    if not report.valid:
        raise VerdictNotConfirmed(f"the checker rejects the search's {r.verdict} certificate "
                                  f"({report.where}: {report.reason})")
    return Decision(r, doc, report)
