"""Verdicts of ``certify claim`` and the result record (imports nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass

VERIFIED, REFUTED, UNDECIDED = "VERIFIED ON RANGE", "REFUTED", "UNDECIDED"


@dataclass
class ClaimResult:
    claim: object      # a Claim (grammar) or a LightClaim (fast path): text, box_text()
    verdict: str
    boxes: int
    seconds: float
    reason: str = ""
    witness: dict | None = None       # name -> exact rational (str)
    witness_margin: tuple | None = None  # enclosure of the margin at the witness (floats)
    worst_lower: float | None = None  # least lower bound of the margin over open boxes
    depths: tuple | None = None       # VERIFIED: most splits of each variable (Coq export hints)
    engine: str = "full"              # "fast": ball bisection without sympy (certify.claims.light)
    coq: dict | None = None           # the Coq export's report (certify claim --coq/--coq-check)

    def to_json(self) -> dict:
        return {"claim": self.claim.text, "verdict": self.verdict, "box": self.claim.box_text(),
                "boxes": self.boxes, "seconds": round(self.seconds, 3), "reason": self.reason,
                "witness": self.witness, "witness_margin": self.witness_margin,
                "worst_lower": self.worst_lower, "engine": self.engine,
                **({"coq": self.coq} if self.coq else {})}
