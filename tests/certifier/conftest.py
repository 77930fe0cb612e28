"""Small problems the certifier decides in about a second."""

from __future__ import annotations

import pytest

from certify.constructions.prefixes import construct_vmf
from certify.formats.expressions import parse_target
from certify.formats.problem import problem_from_dict


def with_epsilon(problem, eps):
    doc = dict(problem.canonical)
    doc["epsilon"] = float(eps)
    return problem_from_dict(doc)


def circle_problem(kind="softmax", lam=20.0, n=40, target=("x0**2",), eps=0.1):
    t = parse_target(list(target), 1)
    return construct_vmf(t, eps, 2.0, lam=lam, prefix_length=n, kind=kind).problem


def sphere_problem(kind="softmax", lam=30.0, n=200, target=("x0*x1",), eps=0.1):
    t = parse_target(list(target), 2)
    return construct_vmf(t, eps, 1.0, lam=lam, prefix_length=n, kind=kind).problem


@pytest.fixture(scope="session")
def certified_pair():
    """(problem, result) for a CERTIFIED circle problem."""
    from certify.certifier.search import prove

    p = circle_problem(eps=0.06)
    r = prove(p)
    assert r.verdict == "CERTIFIED"
    return p, r


@pytest.fixture(scope="session")
def refuted_pair():
    from certify.certifier.search import prove

    p = circle_problem(eps=0.02)
    r = prove(p)
    assert r.verdict == "REFUTED"
    return p, r
