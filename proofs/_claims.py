"""Shared: turn a ``certify claim`` result into a registry verdict."""

from fractions import Fraction

from certify.claims import REFUTED as C_REFUTED, VERIFIED as C_VERIFIED, check_claim, parse_claim

from .registry import NOT_CHECKED, REFUTED, VERIFIED, Verdict


def claim_verdict(text: str, time_limit: float = 20.0) -> Verdict:
    c = parse_claim(text)
    r = check_claim(c, time_limit=time_limit)
    if r.verdict == C_VERIFIED:
        return Verdict(VERIFIED, f"certify claim: {r.boxes} Arb boxes", box=c.box_text())
    if r.verdict == C_REFUTED:
        w = ", ".join(f"{n} = {float(Fraction(q)):.17g}" for n, q in r.witness.items())
        return Verdict(REFUTED, f"certify claim: witness {w}, margin in [{r.witness_margin[0]:.6g}, "
                                f"{r.witness_margin[1]:.6g}] (Arb)", box=c.box_text())
    return Verdict(NOT_CHECKED, f"certify claim UNDECIDED: {r.reason}", box=c.box_text())
