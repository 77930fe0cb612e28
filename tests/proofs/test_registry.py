"""proofs/: every module registers results with honest verdicts; perturbed statements flip them."""

from __future__ import annotations

import sympy as sp

from proofs import bessel_ratio_closed_forms as closed
from proofs._claims import claim_verdict
from proofs.bessel_ratio_lower_bounds import A1, AMOS
from proofs.registry import KINDS, MODULES, PROVED, REFUTED, VERIFIED, results


def test_every_module_registers_results_with_provenance():
    rs = results()
    assert len({r.key for r in rs}) == len(rs)
    assert {r.key.split("_")[0] for r in rs}  # non-empty
    for r in rs:
        assert r.provenance in ("paper", "derived") and r.statement and r.label
    assert len(MODULES) == len(set(MODULES))


def test_symbolic_results_are_proved():
    by_key = {r.key: r for r in results()}
    for key in ("density_transitive", "rates_compose", "prefix_scores_linear", "lemma3_head",
                "vmf_normalised_m2", "bessel_ratio_closed_forms"):
        v = by_key[key].run()
        assert v.kind == PROVED, (key, v)
        assert v.kind in KINDS


def test_perturbed_closed_form_is_not_proved():
    l = sp.Symbol("l", positive=True)
    assert closed.closed_form_difference(1) == 0
    assert closed.closed_form_difference(1, lambda x: sp.coth(x) - sp.Rational(101, 100) / x) != 0
    assert closed.closed_form_difference(3, lambda x: sp.coth(x) * (1 + 14 / x**2) - 6 / x - 15 / x**3) != 0
    del l


def test_amos_bound_verified_and_perturbed_constant_refuted():
    good = AMOS.format(a=A1[2], m=2)
    assert claim_verdict(good).kind == VERIFIED
    # a larger numerator constant makes the bound false near lam -> 0
    bad = good.replace("lam/(", "1.1*lam/(")
    assert claim_verdict(bad).kind == REFUTED


def test_false_bound_is_refuted_and_the_m2_version_is_not():
    by_key = {r.key: r for r in results()}
    assert by_key["tempting_bound_m1_k1"].run().kind == REFUTED
    assert by_key["tempting_bound_m2_k1"].run().kind == VERIFIED
