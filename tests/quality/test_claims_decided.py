"""Quality: how often claims are decided within the default budget, and with how many boxes.
A claim checker that answers UNDECIDED to everything is sound; these tests fail on it."""

from __future__ import annotations

import pytest

from certify.claims.search import REFUTED, VERIFIED, check_claim
from certify.claims.grammar import parse_claim


def run(text, **kw):
    kw.setdefault("time_limit", None)  # budgets are boxes, never seconds
    return check_claim(parse_claim(text), **kw)


def test_exponentially_small_margin_needs_the_precision_ladder():
    # a_1^2 = coth(lam) - 1/lam >= 1 - 1/lam holds for all lam > 0 (margin ~ 2 e^(-2 lam))
    assert run("forall lam in [37, 1000]: coth(lam) - 1/lam >= 1 - 1/lam").verdict == VERIFIED


@pytest.mark.slow
def test_audited_claims_get_their_committed_verdicts_within_the_default_budget():
    """The claims of proofs/ under the box budget alone (no clock): committed verdicts, and
    exactly the box counts the audit records (Arb arithmetic is deterministic, so a change of
    count is a change of the search, to be reviewed and recorded)."""
    from proofs.bessel_ratio_lower_bounds import A1, AMOS, TEMPTING
    from proofs.quadrature_error_bounded import EXP_CLAIMS
    from proofs.smoothing_error_bounded import A1 as S_A1, CLAIM

    expected = [(CLAIM.format(a=S_A1[1], m=1), VERIFIED, 1139), (CLAIM.format(a=S_A1[2], m=2), VERIFIED, 23),
                (EXP_CLAIMS[0], VERIFIED, 7), (EXP_CLAIMS[1], VERIFIED, 7),
                (AMOS.format(a=A1[1], m=1), VERIFIED, 287), (AMOS.format(a=A1[2], m=2), VERIFIED, 2137),
                (TEMPTING.format(a=A1[1], k=1, m=1), REFUTED, 0), (TEMPTING.format(a=A1[2], k=1, m=2), VERIFIED, 255)]
    from proofs._claims import CLAIM_MAX_BOXES

    for text, verdict, boxes in expected:
        r = check_claim(parse_claim(text), max_boxes=CLAIM_MAX_BOXES, time_limit=None)
        assert r.verdict == verdict and r.boxes == boxes <= CLAIM_MAX_BOXES, (text, r.verdict, r.boxes, boxes, r.reason)
