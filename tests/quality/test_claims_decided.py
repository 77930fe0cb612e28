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


def _suite():
    import tomllib
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "claim_suite.toml"
    return tomllib.loads(path.read_text())["claim"]


SUITE_QUICK = ("remez_sqrt", "harrison97", "abs_err_atan", "cos_upper", "sqrt_upper", "bernoulli_8",
               "own: langevin_bound", "own: exp_face")


@pytest.mark.parametrize("label", SUITE_QUICK)
def test_suite_claims_that_need_the_higher_order_routes_are_verified(label):
    """The benchmark suite's claims that need Taylor-like routes (|e| <= b halves, tight
    points, faces, the Bessel-ratio derivative), within the default budget."""
    c = next(c for c in _suite() if c["label"] == label)
    r = run(c["statement"])
    assert r.verdict == VERIFIED, (label, r.verdict, r.reason)


def test_suite_false_variants_are_refuted_with_witnesses_checked_in_mpmath():
    from fractions import Fraction

    import mpmath
    import sympy as sp

    false = [c for c in _suite() if c["expected"] == "REFUTED"]
    assert len(false) == 7
    for c in false:
        claim = parse_claim(c["statement"])
        r = check_claim(claim)
        assert r.verdict == REFUTED, (c["label"], r.verdict)
        point = {s: sp.Rational(Fraction(r.witness[n])) for n, s in zip(claim.names, claim.symbols)}
        assert all(lo <= point[s] <= hi for s, (lo, hi) in zip(claim.symbols, claim.box))
        with mpmath.workdps(60):
            margin = sp.N(claim.margin.subs(point), 50)
        assert (margin <= 0) if claim.strict else (margin < 0), (c["label"], r.witness, margin)
