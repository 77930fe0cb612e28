"""Targets with abs (Lipschitz, not smooth): proven with the first-order bound, checked, and
never given a Taylor bound (whose remainder needs derivatives that do not exist)."""

from __future__ import annotations

import pytest

from certify.certifier.writer import build_certificate
from certify.checker.head import check_document
from certify.kernel.cellbound import prepare
from certify.certifier.search import prove

from tests.conftest import circle_problem, sphere_problem


@pytest.mark.parametrize("make, target, eps", [
    (circle_problem, "abs(x0)", 0.3),
    (circle_problem, "abs(x0*x1) + x0", 0.3),
    (sphere_problem, "abs(x0 - x1)/2", 0.4),
])
def test_abs_targets_are_proven_and_checked(make, target, eps):
    p = make(target=(target,), eps=eps)
    model = prepare(p)
    assert not model.smooth and model.default_method == "lipschitz"
    r = prove(p, max_cells=300_000)
    assert r.verdict in ("CERTIFIED", "REFUTED"), (target, r.verdict, r.upper)
    rep = check_document(build_certificate(p, r))
    assert rep.valid


def test_a_taylor_leaf_is_refused_for_a_nonsmooth_target():
    p = circle_problem(target=("abs(x0)",), eps=0.3)
    r = prove(p, max_cells=300_000)
    assert r.verdict == "CERTIFIED"
    doc = build_certificate(p, r)
    assert check_document(doc).valid
    # relabel every leaf as taylor3: the checker must not accept a bound it cannot give
    assert doc["partition"]["methods"] == ["lipschitz"]
    doc["partition"]["methods"] = ["taylor3"]
    rep = check_document(doc)
    assert not rep.valid
