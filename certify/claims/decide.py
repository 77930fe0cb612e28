"""One entry point for deciding a claim string: the sympy-free fast path first
(:func:`certify.claims.light.quick_verify`), then the full engine
(:mod:`certify.claims.grammar` and :mod:`certify.claims.search`, which import sympy and
numpy) for every claim the fast path does not verify.

The verdict depends only on the claim and ``max_boxes``: the fast path is deterministic,
and when it does not verify the claim the full engine starts over with the whole budget.
"""

from __future__ import annotations

import time

from certify.budgets import DEFAULT_MAX_BOXES
from certify.claims.light import ClaimParts, light_claim, quick_verify, split_claim
from certify.claims.result import VERIFIED, ClaimResult


def decide_claim(text, fieldname: str = "claim", *, parts: ClaimParts | None = None,
                 max_boxes: int = DEFAULT_MAX_BOXES, time_limit: float | None = None,
                 progress=None, fast: bool = True) -> ClaimResult:
    """Decide one claim string (``fast=False`` skips the fast path)."""
    parts = parts or split_claim(text, fieldname)
    if fast:
        t0 = time.monotonic()
        light = light_claim(text, fieldname, parts)
        if light is not None:
            quick = quick_verify(light, max_boxes)
            if quick is not None:
                return ClaimResult(light, VERIFIED, quick[0], time.monotonic() - t0, depths=quick[1],
                                   engine="fast")
    from certify.claims.grammar import parse_claim
    from certify.claims.search import check_claim

    claim = parse_claim(text, fieldname, parts)
    return check_claim(claim, max_boxes=max_boxes, time_limit=time_limit, progress=progress)
