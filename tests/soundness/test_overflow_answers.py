"""Wrong definite answers from overflow and undefined intermediates (adversarial cases).

An intermediate that overflows (exp(800)) or is undefined must make an enclosure a refusal
(NaN), never a number; so such targets are never CERTIFIED or REFUTED on the strength of a
swallowed NaN, and the checker refuses certificates whose target gained such a term."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from certify.certifier.writer import build_certificate
from certify.checker.head import check_document
from certify.formats.problem import canonical_hash, make_problem, problem_from_dict
from certify.certifier.search import prove

BUDGET = 5_000


def _one_key(target, value, eps, m=1):
    key = np.zeros((1, m + 1))
    key[0, 0] = 1.0
    return make_problem(m, "softmax", key, np.array([[value]]), [target], eps)


@pytest.mark.parametrize("target", [
    "(1 + exp(800)/(1 + exp(800)))**(1/3)",
    "(1 + exp(900*x0**2)/(1 + exp(900*x0**2)))**(1/3)",
    "sqrt(2 + exp(1000)/exp(1000)) - 2",
    "(exp(750) - exp(750) + 1)**(1/2)",
    "tanh(exp(710)) + 0.25",
])
def test_overflow_is_never_certified(target):
    # the true values are far from the head's output 0 (at least 0.25 everywhere)
    r = prove(_one_key(target, 0.0, 0.01), max_cells=BUDGET)
    assert r.verdict != "CERTIFIED", (target, r.upper)


def test_overflow_does_not_refute_a_true_claim():
    # values in [1, 1.2577]; one key of value 1.13: sup error 0.13 < 0.2, so REFUTED is wrong
    target = "(1 + x1**2*exp(800*x0**2)/(1 + exp(800*x0**2)))**(1/3)"
    r = prove(_one_key(target, 1.13, 0.2), max_cells=BUDGET)
    assert r.verdict != "REFUTED", (r.lower, r.upper, r.witness)
    assert r.lower <= 0.131


def test_checker_refuses_a_target_that_gained_an_overflowing_term():
    from tests.conftest import circle_problem

    p = circle_problem(eps=0.06)
    r = prove(p)
    assert r.verdict == "CERTIFIED"
    doc = build_certificate(p, r)
    assert check_document(copy.deepcopy(doc)).valid
    tampered = dict(p.canonical)
    # numerically the same target: the added term is about -1e-348
    tampered["target"] = [p.canonical["target"][0]
                          + " + ((1 + exp(800)/(1 + exp(800)))**(1/3) - 2**(1/3))"]
    q = problem_from_dict(tampered)
    doc["problem"] = q.canonical
    doc["problem_sha256"] = canonical_hash(q.canonical)
    rep = check_document(doc)
    assert not rep.valid
