"""Both constructions reach their epsilon (estimated) on S^1 and S^2 for Lipschitz targets,
and their a-priori bounds are never beaten by the sampled error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from certify.constructions.prefixes import construct_net, construct_vmf, estimate_lipschitz
from certify.errors import InputError
from certify.certifier.estimate import estimate_sup_error
from certify.formats.expressions import parse_target
from certify.constructions.vmf import (lambda_for_smoothing, log_vmf_constant, quadrature_error_bound,
                         smoothing_error_bound, vmf_coefficient)
from certify.heads.attention import head_values

# (sphere dim, targets, chordal Lipschitz constant of every component, epsilon)
NET_CASES = [
    (1, ["x0*x1"], 1.0, 0.1),
    (1, ["sin(2*x0)", "x1"], 2.0, 0.3),
    (2, ["x0*x1"], 1.0, 0.3),
    (2, ["x2", "0.5*x0 - 0.5*x1"], 1.0, 0.4),
]


@pytest.mark.parametrize("m,texts,L,eps", NET_CASES)
def test_net_reaches_epsilon(m, texts, L, eps):
    c = construct_net(parse_target(texts, m), eps, lipschitz=L)
    assert c.predicted_bound <= eps * (1 + 1e-12)
    est = estimate_sup_error(c.problem, samples=4000)
    assert est.value <= eps, (m, texts, est.value, est.argmax)
    assert c.problem.meta["method"] == "net" and c.problem.kind == "softmax"


VMF_DERIVED = [
    (1, ["x0*x1"], 1.0, 0.3, "core"),
    (1, ["x0*x1"], 1.0, 0.3, "softmax"),
    (2, ["0.25*x0*x1"], 0.25, 0.5, "core"),
    (2, ["0.25*x2", "0.25*x0"], 0.25, 0.5, "softmax"),
]


@pytest.mark.parametrize("m,texts,L,eps,kind", VMF_DERIVED)
def test_vmf_with_derived_constants_reaches_epsilon(m, texts, L, eps, kind):
    c = construct_vmf(parse_target(texts, m), eps, lipschitz=L, kind=kind)
    assert c.predicted_bound <= eps * (1 + 1e-12)
    est = estimate_sup_error(c.problem, samples=4000)
    assert est.value <= eps, (m, texts, kind, est.value)


@pytest.mark.parametrize("m,kind,lam,N,eps", [
    (1, "core", 200.0, 400, 0.02), (1, "softmax", 200.0, 400, 0.02),
    (2, "softmax", 300.0, 1000, 0.01), (2, "core", 300.0, 3000, 0.01),
])
def test_vmf_with_chosen_parameters_reaches_epsilon(m, kind, lam, N, eps):
    c = construct_vmf(parse_target(["x0*x1"], m), eps, lipschitz=1.0, lam=lam, prefix_length=N, kind=kind)
    assert c.problem.prefix_length == N
    est = estimate_sup_error(c.problem, samples=4000)
    assert est.value <= eps, (m, kind, est.value)


def test_vmf_derived_constants_too_long_is_a_clear_refusal():
    with pytest.raises(InputError) as info:
        construct_vmf(parse_target(["x0*x1"], 2), 0.05, lipschitz=1.0)
    assert info.value.field == "--max-prefix-length" and "prefix tokens" in info.value.message


def test_net_with_too_few_tokens_is_refused():
    with pytest.raises(InputError, match="more prefix tokens"):
        construct_net(parse_target(["x0"], 2), 0.1, lipschitz=1.0, prefix_length=10)


def test_core_head_weights_are_log_vmf_constant_times_cell_area():
    c = construct_vmf(parse_target(["x0"], 2), 0.1, lipschitz=1.0, lam=1000.0, prefix_length=500)
    b = np.asarray(c.problem.canonical["head"]["biases"])
    assert np.allclose(b, log_vmf_constant(2, 1000.0) + math.log(4 * math.pi / 500), rtol=1e-14)
    # e^-1000-sized weights are carried as biases: the head still evaluates finitely
    assert np.isfinite(head_values(c.problem.head, c.partition.centres[:5])).all()


def test_lipschitz_estimate_is_close_for_known_targets():
    assert 1.0 <= estimate_lipschitz(parse_target(["x0*x1"], 2)) <= 1.2
    assert 3.0 <= estimate_lipschitz(parse_target(["sin(3*x0)"], 1)) <= 3.4


def test_vmf_constant_and_coefficients_match_closed_forms():
    # c_3 = lam / (4 pi sinh lam); a_1^2 = coth(lam) - 1/lam (THEORY 2.1)
    for lam in (1.0, 10.0, 100.0):
        assert math.isclose(math.exp(log_vmf_constant(2, lam)), lam / (4 * math.pi * math.sinh(lam)), rel_tol=1e-12)
        assert math.isclose(vmf_coefficient(2, 1, lam), 1 / math.tanh(lam) - 1 / lam, rel_tol=1e-10)
    assert math.isclose(vmf_coefficient(2, 1, 10.0), 0.9, abs_tol=1e-8)
    assert math.isclose(vmf_coefficient(2, 1, 1.0), 0.31303529, abs_tol=1e-8)
    assert math.isclose(math.exp(log_vmf_constant(2, 1.0)), 0.067713913, rel_tol=1e-7)


def test_smoothing_lambda_is_the_smallest_meeting_the_budget():
    for m in (1, 2, 3, 4):
        lam = lambda_for_smoothing(m, 2.0, 0.1)
        assert math.isclose(smoothing_error_bound(m, lam, 2.0), 0.1, rel_tol=1e-10)
        assert smoothing_error_bound(m, lam * 0.99, 2.0) > 0.1


def test_smoothing_bound_dominates_the_exact_coefficient():
    # L sqrt(2(1 - a_1)) <= L sqrt(m/lam + (m+2)^2/(4 lam^2)) (THEORY 2.2)
    for m in (1, 2, 3, 4):
        for lam in (0.5, 3.0, 40.0, 1000.0):
            exact = math.sqrt(2 * (1 - vmf_coefficient(m, 1, lam)))
            assert exact <= smoothing_error_bound(m, lam, 1.0)


def test_quadrature_bound_is_monotone_and_infinite_when_eta_reaches_one():
    vals = [quadrature_error_bound(100.0, d, 1.0, 1.0, True) for d in (1e-5, 1e-4, 1e-3)]
    assert vals == sorted(vals)
    assert quadrature_error_bound(100.0, 0.1, 1.0, 1.0, True) == math.inf
