"""proofs/: every module registers results with honest verdicts; perturbed statements flip them."""

from __future__ import annotations

import sympy as sp

from proofs import bessel_ratio_closed_forms as closed
from proofs._claims import claim_verdict
from proofs.bessel_ratio_lower_bounds import A1, AMOS
from proofs.registry import KINDS, MODULES, NOT_CHECKED, PROVED, PROVENANCES, REFUTED, VERIFIED, results


def test_every_module_registers_results_with_provenance():
    rs = results()
    assert len({r.key for r in rs}) == len(rs)
    assert {r.key.split("_")[0] for r in rs}  # non-empty
    for r in rs:
        assert r.provenance in PROVENANCES and r.statement and r.label
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
    assert by_key["tempting_bound_m2_k1"].run().kind == PROVED


def test_m2_bound_proof_fails_on_a_wrong_margin():
    from proofs.bessel_ratio_lower_bounds import check_tempting_m2

    lam = sp.Symbol("lam", positive=True)
    assert check_tempting_m2(3 / (sp.exp(2 * lam) - 1)).kind == NOT_CHECKED
    assert check_tempting_m2(2 / (sp.exp(lam) - 1)).kind == NOT_CHECKED


def test_every_theory_section_has_a_module():
    sections = {"definitions", "density_is_transitive", "jackson_rates_compose", "prefix_scores_linear_of_embedding",
                "pretrained_head_scales_core_head", "vmf_kernel_integrates_to_one", "bessel_ratio_closed_forms",
                "bessel_ratio_lower_bounds", "smoothing_error_bounded", "quadrature_error_bounded",
                "prefixed_heads_dense", "core_head_density", "prefix_length_jackson_rates", "net_prefix_length_rate",
                "head_tends_to_nearest_key_average", "elementwise_maps_by_one_prefix", "sequence_maps_depth_linear",
                "certifier_facts", "tuned_prefix_lengths"}
    assert sections == set(MODULES)
    kinds = {r.key: r.provenance for r in results()}
    # the paper's results and ours are kept apart
    assert kinds["density_theorem"] == kinds["theorem4_rate"] == "paper"
    assert kinds["corollary2"] == kinds["sequence_theorem"] == "paper, statement reconstructed"
    # our exact forms and constants are ours; a false statement made by neither is a trap
    assert kinds["lemma3_head"] == kinds["core_to_classical"] == "derived"
    assert kinds["lambda_limit_as_stated"] == kinds["corollary2_all_n"] == "trap"
    assert kinds["net_rate"] == kinds["lambda_limit"] == kinds["vmf_route_rate"] == "derived"


def test_quadrature_lemmas_hold_and_perturbations_break_them():
    from proofs import quadrature_error_bounded as q
    assert q.check_softmax().kind == PROVED
    # dropping the 1/(1 - eta) factor makes lemma (b) false
    assert q.check_softmax(lambda eta2, F, eta: eta2 + F * eta).kind != PROVED
    assert claim_verdict(q.EXP_CLAIMS[0]).kind == VERIFIED
    assert claim_verdict(q.EXP_CLAIMS[0].replace("v*exp(v)", "v*exp(v/2)")).kind == REFUTED


def test_rates_and_their_perturbations():
    from proofs import net_prefix_length_rate as net_rate
    from proofs import prefix_length_jackson_rates as jackson_rates
    assert jackson_rates.check_vmf_rate().kind == PROVED
    # delta = eps/(2 (lambda F + L)) is too coarse for the eps/2 budget
    assert jackson_rates.check_vmf_rate(denominator=2).kind != PROVED
    assert net_rate.parameters_exact() is True
    assert net_rate.parameters_exact(factor=1) is False


def test_lambda_limit_corrected_rate_and_the_stated_one_is_refuted_by_the_reference_head():
    import numpy as np

    from certify.formats.heads import SoftmaxHead
    from certify.heads.attention import head_values
    from proofs import head_tends_to_nearest_key_average as lambda_limit
    assert lambda_limit.check_corrected().kind == PROVED
    assert lambda_limit.check_corrected(offset=2).kind != PROVED
    by_key = {r.key: r for r in results()}
    assert by_key["lambda_limit_as_stated"].run().kind == REFUTED
    # the witness, recomputed independently with the float reference head
    lam, th = 10.0, np.pi / 3
    keys = lam * np.array([[1, 0], [np.cos(th), np.sin(th)], [np.cos(th), -np.sin(th)]])
    head = SoftmaxHead(keys, np.array([[1.0], [-1.0], [-1.0]]), np.zeros(3))
    err = 1 - head_values(head, np.array([[1.0, 0.0]]))[0, 0]
    assert err > 3 * np.exp(-5) * 1.2
    assert err <= 2 * np.exp(-5) * 2  # the corrected bound (N - 1) e^(-lambda Delta) diam


def test_instance_based_results_are_at_most_consistent(fresh_audit):
    by_key = {r["key"]: r for r in fresh_audit[1]["results"]}
    for key in ("density_theorem", "corollary2", "vmf_route_instances", "sequence_theorem"):
        assert by_key[key]["verdict"] == "CONSISTENT", key
    # a statement about every m implied by a proved row (never by instances)
    assert by_key["theorem4_rate"]["verdict"] == "IMPLIED"
    assert by_key["vmf_route_rate"]["verdict"] == "PROVED"
    assert by_key["kolmogorov_arnold"]["verdict"] == "NOT CHECKED"  # cited, never instance-checked


def test_no_check_depends_on_the_clock():
    """Budgets are work counts: no z3 timeout and no wall-clock limit in any proofs/ module
    (a loaded machine must reproduce every verdict of the audit)."""
    import re
    from pathlib import Path

    import proofs
    from proofs import _claims, _instances, _z3

    for path in sorted(Path(proofs.__file__).parent.glob("*.py")):
        text = path.read_text()
        assert not re.search(r"""set\(\s*["']timeout""", text), f"{path.name}: a z3 timeout"
        for m in re.finditer(r"time_limit\s*=\s*([^,)\s]+)", text):
            assert m.group(1) == "None", f"{path.name}: time_limit={m.group(1)}"
    assert _z3.RLIMIT > 0 and _claims.CLAIM_MAX_BOXES > 0 and _instances.INSTANCE_MAX_CELLS > 0


def test_corollary2_is_per_maximal_length_and_the_all_n_reading_is_refuted():
    from proofs import elementwise_maps_by_one_prefix as cor

    by_key = {r.key: r for r in results()}
    assert "n_max" in by_key["corollary2"].statement and "forall n <= n_max" in by_key["corollary2"].statement
    v = by_key["corollary2_all_n"].run()
    # the old wording's own instance: certified for n <= n_max, refuted at a larger n
    assert v.kind == REFUTED and "CERTIFIED" in v.evidence and "REFUTED by certify prove" in v.evidence
    assert by_key["corollary2_decay"].run().kind == PROVED
    o = cor.decide(cor.INSTANCES[1][0])
    assert cor.decay_length(o.construction.problem, 0.5, 0.15) < cor.FAIL_LENGTH


def test_core_head_step_and_its_perturbations():
    from proofs import core_head_density as core

    assert core.check_step().kind == PROVED
    assert core.check_step(lambda num, den: num / (den + 1)).kind == NOT_CHECKED
    for inst in core.INSTANCES:
        assert core.sup_bound_proved(inst).kind == PROVED
    import dataclasses

    tight = dataclasses.replace(core.INSTANCES[0], sup_bound=0.49)  # sup |x0 x1| = 1/2
    assert core.sup_bound_proved(tight).kind == NOT_CHECKED


def test_normaliser_is_the_core_head_with_unit_values():
    import numpy as np

    from certify.heads.attention import problem_error
    from proofs import core_head_density as core

    inst = core.INSTANCES[2]
    p = core.construction(inst, "core").problem
    D = core.normaliser_problem(p, 0.1)
    ch = p.canonical["head"]
    x = np.array([[0.0, 0.6, 0.8], [1.0, 0.0, 0.0]])
    direct = np.exp(x @ np.array(ch["keys"]).T + np.array(ch["biases"])).sum(axis=1)
    assert np.allclose(problem_error(D, x), np.abs(direct - 1), rtol=1e-12, atol=1e-12)
    # the vMF weights: D ~ 1 where the partition is fine (the quadrature of a probability density)
    assert np.all(np.abs(direct - 1) < 0.1)


def test_core_instances_certify_both_heads_and_the_step():
    from proofs import core_head_density as core

    by_key = {r.key: r for r in results()}
    assert by_key["core_head_density"].run().kind == "CONSISTENT"
    assert by_key["core_to_classical_instances"].run().kind == "CONSISTENT"
    for o in core.outcomes():
        assert o.eta < 1 and o.soft[1] <= o.soft_bound and o.core[2] <= o.inst.epsilon


def test_certifier_facts_and_their_perturbations():
    from proofs import certifier_facts as facts

    assert facts.check_shift().kind == PROVED and facts.check_cap_range().kind == PROVED
    # a shift that is not a constant, a cap wider than pi/2, constants below the true ones
    assert facts.check_shift(lambda s, c: s + c * s).kind == NOT_CHECKED
    assert facts.check_cap_range(-1).kind == NOT_CHECKED
    assert facts.check_gradient(0.2).kind == NOT_CHECKED and facts.check_gradient().kind == "CONSISTENT"
    assert facts.check_weight_change(0.5).kind == NOT_CHECKED and facts.check_weight_change().kind == "CONSISTENT"
    assert facts.check_cells(0.5).kind == NOT_CHECKED and facts.check_cells().kind == "CONSISTENT"


def test_product_lower_bounds_for_k2_k3_and_a_raised_one_is_refuted():
    from proofs.bessel_ratio_lower_bounds import product_claim

    for k in (2, 3):
        assert claim_verdict(product_claim(k)).kind == VERIFIED
    assert claim_verdict(product_claim(2).replace(">= (lam/(1 + ", ">= 1.2*(lam/(1 + ")).kind == REFUTED


def test_coefficient_properties_and_a_wrong_reference_value(monkeypatch):
    from proofs import bessel_ratio_closed_forms as cf

    assert cf._check_properties().kind == "CONSISTENT"
    monkeypatch.setattr(cf, "REFERENCES", ((2, 1, 10, "0.9001", 1e-8),))
    assert cf._check_properties().kind == NOT_CHECKED


def test_smoothing_step_instances_and_a_too_small_constant(monkeypatch):
    from proofs import smoothing_error_bounded as sm

    assert sm._check_step().kind == "CONSISTENT"
    monkeypatch.setattr(sm, "STEP", "forall lam in [0.5, 1000]: {err} <= sqrt((1 - ({a1}))/100)")
    assert sm._check_step().kind == NOT_CHECKED


def test_tuned_prefix_row_recertifies_and_a_tampered_prefix_fails(tmp_path, monkeypatch):
    import json

    from proofs import tuned_prefix_lengths as tp

    rows, _ = tp.benchmark_rows()
    first = next(r for r in rows if r.get("tuned_file"))
    doc = json.loads((tp.ROOT / first["tuned_file"]).read_text())
    doc["head"]["values"][0][0] += 1.0  # a mis-tuned prefix under the same name
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    results = json.loads(tp.RESULTS_FILE.read_text())
    results["rows"] = [dict(first, tuned_file=str(bad))]
    fake = tmp_path / "TUNE.json"
    fake.write_text(json.dumps(results))
    monkeypatch.setattr(tp, "RESULTS_FILE", fake)
    v = tp._check()
    assert v.kind == NOT_CHECKED and "REFUTED" in v.evidence
