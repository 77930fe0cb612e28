"""Shared: turn a ``certify claim`` result into a registry verdict."""

from fractions import Fraction

from certify.claims.search import REFUTED as C_REFUTED, VERIFIED as C_VERIFIED, check_claim
from certify.claims.grammar import parse_claim

from .registry import NOT_CHECKED, REFUTED, VERIFIED, Verdict

#: Arb boxes each audited claim may use: a work budget, so the audit's verdicts do not depend on
#: the host's speed or load (a 20 s clock limit once turned a verified claim into NOT CHECKED on
#: a loaded machine). The audit's claims use at most 5049 boxes (the m = 1 Amos-type bound, about
#: 3 s); 50000 is a 10x margin and bounds an undecided claim to about half a minute.
CLAIM_MAX_BOXES = 50_000


def claim_verdict(text: str, max_boxes: int = CLAIM_MAX_BOXES) -> Verdict:
    c = parse_claim(text)
    r = check_claim(c, max_boxes=max_boxes, time_limit=None)
    if r.verdict == C_VERIFIED:
        return Verdict(VERIFIED, f"certify claim: {r.boxes} Arb boxes", box=c.box_text())
    if r.verdict == C_REFUTED:
        w = ", ".join(f"{n} = {float(Fraction(q)):.17g}" for n, q in r.witness.items())
        return Verdict(REFUTED, f"certify claim: witness {w}, margin in [{r.witness_margin[0]:.6g}, "
                                f"{r.witness_margin[1]:.6g}] (Arb)", box=c.box_text())
    return Verdict(NOT_CHECKED, f"certify claim UNDECIDED: {r.reason}", box=c.box_text())
