"""Shared helpers and fixtures of every tier: random points, small problem documents, small
problems the certifier decides in about a second, one fresh audit run."""

from __future__ import annotations

import copy

import numpy as np
import pytest


def unit_points(m: int, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, m + 1))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def valid_doc():
    """A small valid reduced-form softmax problem on S^2 with a 2-component target."""
    return copy.deepcopy({
        "format": "certify.problem/1",
        "sphere_dim": 2,
        "head": {"kind": "softmax",
                 "keys": [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]],
                 "values": [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
                 "biases": [0.0, 0.1, -0.1],
                 "context_tokens": 2},
        "target": ["x0*x1", "exp(x2) - 1"],
        "epsilon": 0.5,
        "norm": "max",
    })


@pytest.fixture
def matrix_doc():
    """A valid full-matrix softmax problem on S^1 (d = 4, d_k = 3, o = 1)."""
    rng = np.random.default_rng(7)
    return {
        "format": "certify.problem/1",
        "sphere_dim": 1,
        "head": {"kind": "softmax",
                 "embedding": rng.standard_normal((4, 2)).tolist(),
                 "W_Q": rng.standard_normal((3, 4)).tolist(),
                 "W_K": rng.standard_normal((3, 4)).tolist(),
                 "W_V": rng.standard_normal((1, 4)).tolist(),
                 "prefix": rng.standard_normal((5, 4)).tolist(),
                 "self_attention": True,
                 "context": rng.standard_normal((2, 4)).tolist()},
        "target": ["x0"],
        "epsilon": 1.0,
    }


def with_epsilon(problem, eps):
    from certify.formats.problem import problem_from_dict

    doc = dict(problem.canonical)
    doc["epsilon"] = float(eps)
    return problem_from_dict(doc)


def vmf_problem(sphere_dim, lipschitz, kind, lam, n, target, eps):
    """The vMF construction's problem with the given lambda and prefix length."""
    from certify.constructions.prefixes import construct_vmf
    from certify.formats.expressions import parse_target

    t = parse_target(list(target), sphere_dim)
    return construct_vmf(t, eps, lipschitz, lam=lam, prefix_length=n, kind=kind).problem


def circle_problem(kind="softmax", lam=20.0, n=40, target=("x0**2",), eps=0.1):
    return vmf_problem(1, 2.0, kind, lam, n, target, eps)


def sphere_problem(kind="softmax", lam=30.0, n=200, target=("x0*x1",), eps=0.1):
    return vmf_problem(2, 1.0, kind, lam, n, target, eps)


def _decided_circle(eps, verdict):
    """(problem, search result) of the circle problem at ``eps``, which the search decides so."""
    from certify.certifier.search import prove

    p = circle_problem(eps=eps)
    r = prove(p)
    assert r.verdict == verdict
    return p, r


@pytest.fixture(scope="session")
def certified_pair():
    return _decided_circle(0.06, "CERTIFIED")


@pytest.fixture(scope="session")
def refuted_pair():
    return _decided_circle(0.02, "REFUTED")


@pytest.fixture(scope="session")
def fresh_audit(tmp_path_factory):
    """One fresh run of the whole audit (every check, the figures, the report files)."""
    from certify.report.audit import run_audit

    out = tmp_path_factory.mktemp("audit")
    return out, run_audit(out)
