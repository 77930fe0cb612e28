"""Sequence problems (Corollary 2): format, reduction to two token counts, certificates."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from certify.certifier.writer import build_certificate
from certify.checker.head import check_document
from certify.constructions.prefixes import construct_net
from certify.errors import InputError
from certify.formats.expressions import parse_target
from certify.formats.problem import make_problem, problem_from_dict
from certify.certifier.search import prove
from certify.constructions.elementwise import elementwise_problem, sequence_outputs
from certify.heads.attention import problem_error


def _circle(N):
    th = 2 * np.pi * np.arange(N) / N
    return np.stack([np.cos(th), np.sin(th)], 1)


def _soft(eps):
    """lambda = 5, 16 keys, target x0: the inert tokens matter (error 0.11 at n = 1, 0.27 at 100)."""
    P = _circle(16)
    return make_problem(1, "softmax", 5 * P, P[:, 0], ["x0"], eps)


def _random_sequences(n, count, rng):
    th = rng.uniform(0, 2 * np.pi, (count, n))
    return np.stack([np.cos(th), np.sin(th)], axis=2)


@pytest.fixture(scope="module")
def certified():
    c = construct_net(parse_target(["x0*x1"], 1), 0.1, lipschitz=1.0)
    q = elementwise_problem(c.problem, 50)
    r = prove(q)
    return q, r


def test_certified_elementwise_and_its_certificate_checks(certified):
    q, r = certified
    assert r.verdict == "CERTIFIED" and r.upper <= 0.1
    report = check_document(build_certificate(q, r))
    assert report.valid, report.reason
    # the float reference of the head of Lemma 3 on sequences of every length stays below the bound
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 50):
        for causal in (False, True):
            qq = elementwise_problem(construct_net(parse_target(["x0*x1"], 1), 0.1, lipschitz=1.0).problem,
                                     50, causal) if causal else q
            for x in _random_sequences(n, 20, rng):
                y = sequence_outputs(qq, x)[:, 0]
                assert np.max(np.abs(y - x[:, 0] * x[:, 1])) <= r.upper + 1e-12


def test_the_token_count_decides_and_the_extremes_bound_every_count():
    assert prove(elementwise_problem(_soft(0.2), 10)).verdict == "CERTIFIED"
    q = elementwise_problem(_soft(0.2), 100)
    r = prove(q)
    assert r.verdict == "REFUTED"
    assert check_document(build_certificate(q, r)).valid
    # the witness is real: the float reference on a 100-token sequence exceeds epsilon there
    w = r.witness.point / np.linalg.norm(r.witness.point)
    y = sequence_outputs(q, np.repeat(w[None, :], 100, axis=0))[0, 0]
    assert abs(y - w[0]) > 0.2
    # convexity: at random points, the error at every count is at most the larger end's
    base = _soft(0.2)
    ends = elementwise_problem(base, 100)
    x = _circle(97) @ np.array([[0.8, -0.6], [0.6, 0.8]])
    worst_ends = problem_error(ends, x)
    for n in range(1, 101, 9):
        single = make_problem(1, "softmax", base.head.keys, base.head.values, ["x0"], 0.2, context_tokens=n)
        assert np.all(problem_error(single, x) <= worst_ends + 1e-12)


def test_planted_defect_in_one_prefix_token_is_refuted(certified):
    q, _ = certified
    doc = copy.deepcopy(q.to_json())
    k = len(doc["head"]["prefix"]) // 3
    doc["head"]["prefix"][k][-1] += 0.5  # one prefix token's value
    bad = problem_from_dict(doc)
    r = prove(bad)
    assert r.verdict == "REFUTED"
    key = np.array(doc["head"]["prefix"][k][2:4])
    w = r.witness.point / np.linalg.norm(r.witness.point)
    assert np.dot(w, key / np.linalg.norm(key)) > 0.99  # found at the perturbed token
    assert check_document(build_certificate(bad, r)).valid


def test_a_certificate_does_not_transfer_to_a_longer_sequence(certified):
    q, r = certified
    cert = build_certificate(q, r)
    cert["problem"]["sequence"]["max_length"] = 5000
    report = check_document(cert)
    assert not report.valid and report.where == "problem_sha256"


def test_sequence_field_errors(certified, valid_doc, matrix_doc):
    q, _ = certified
    cases = []
    doc = copy.deepcopy(q.to_json())
    doc["sequence"]["length"] = 3
    cases.append((doc, "sequence"))
    doc = copy.deepcopy(q.to_json())
    doc["sequence"]["max_length"] = 0
    cases.append((doc, "sequence.max_length"))
    doc = copy.deepcopy(q.to_json())
    doc["sequence"] = {"max_length": 2.5}
    cases.append((doc, "sequence.max_length"))
    cases.append((dict(matrix_doc, sequence={"max_length": 3}), "head.W_K"))  # tokens not inert
    core = copy.deepcopy(valid_doc)
    core["head"]["kind"] = "core"
    del core["head"]["context_tokens"]
    cases.append((dict(core, sequence={"max_length": 3}), "sequence"))
    for doc, field in cases:
        with pytest.raises(InputError) as err:
            problem_from_dict(doc)
        assert err.value.field == field, (field, str(err.value))
