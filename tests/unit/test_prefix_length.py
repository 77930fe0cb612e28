"""certify bound: route parameters meet their own bounds, grow as stated, and the bisection's
answer is certified (and re-checked) while the N below it is not."""

from __future__ import annotations

import json
import math

import pytest

from certify.constructions.prefix_length import paper_exponent, route_bound, smallest_certified
from certify.certifier.writer import build_certificate
from certify.checker.head import check_document
from certify.cli.main import main
from certify.constructions.prefixes import construct_net
from certify.constructions.partitions import equal_area_partition
from certify.formats.expressions import parse_target
from certify.certifier.search import CERTIFIED, prove


@pytest.mark.parametrize("m", [1, 2, 3])
def test_route_parameters_meet_their_bounds(m):
    for eps in (0.5, 0.2):
        net = route_bound("net", m, eps, 1.0)
        r = eps / 2
        assert net.delta <= r / math.sqrt(2) + 1e-15
        assert net.a_priori_bound <= eps * (1 + 1e-9)
        if net.prefix_length_exact:
            assert equal_area_partition(m, int(net.prefix_length)).delta <= net.delta
        paper = route_bound("paper", m, eps, 1.0)
        assert paper.a_priori_bound <= eps * (1 + 1e-9)
        assert paper.prefix_length >= net.prefix_length


def test_prefix_length_grows_as_eps_shrinks_and_exponents():
    a, b = route_bound("net", 2, 0.2, 1.0), route_bound("net", 2, 0.1, 1.0)
    assert b.prefix_length > 3 * a.prefix_length  # ~ eps^-2
    assert paper_exponent(1) == 28 and paper_exponent(2) == 54
    far = route_bound("paper", 4, 0.5, 1.0)
    assert not far.prefix_length_exact and far.prefix_length > 1e10


def test_bisection_answer_is_certified_and_the_one_below_is_not():
    target = parse_target(["x0*x1"], 1)
    res = smallest_certified("net", target, 0.1, 1.0, 89)
    N = res["smallest_certified"]
    assert N is not None and N <= 89
    c = construct_net(target, 0.1, 1.0, prefix_length=N)
    p = prove(c.problem, max_cells=200_000)
    assert p.verdict == CERTIFIED
    assert check_document(json.loads(json.dumps(build_certificate(c.problem, p)))).valid
    below = [t for t in res["trials"] if t["prefix_length"] == res["not_certified_below"]]
    assert below and below[0]["verdict"] != CERTIFIED


def test_cli_bound_json_and_bad_input(capsys):
    assert main(["bound", "--sphere-dim", "2", "--epsilon", "0.2", "--lipschitz", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["paper_exponent"] == 54 and {r["route"] for r in out["routes"]} == {"stated", "paper", "net"}
    for bad, field in ((["--epsilon", "nan"], "--epsilon"), (["--epsilon", "-1"], "--epsilon"),
                       (["--epsilon", "0.1", "--certify-target", "__import__('os')"], "--certify-target"),
                       (["--epsilon", "0.1", "--sup-norm", "0"], "--sup-norm"),
                       (["--epsilon", "0.1", "--max-prefix-length", "0"], "--max-prefix-length"),
                       (["--epsilon", "0.1", "--time-limit", "-1"], "--time-limit")):
        args = ["bound", "--sphere-dim", "1", "--lipschitz", "1"] + bad
        assert main(args) == 2
        err = capsys.readouterr()
        assert field in err.err and err.out == ""


@pytest.mark.parametrize("m", [1, 2])
def test_stated_route_meets_theory_constants_and_asks_for_more(m):
    from certify.constructions.prefix_length import stated_quadrature_delta
    from certify.constructions.vmf import paper_quadrature_eta

    for eps in (0.4, 0.1):
        s, p = route_bound("stated", m, eps, 1.0, 0.5), route_bound("paper", m, eps, 1.0, 0.5)
        assert s.lam == p.lam and s.a_priori_bound <= eps * (1 + 1e-9)
        assert s.delta < p.delta and s.prefix_length > p.prefix_length
        # THEORY 3.1's eta at the returned delta, from the independent formula
        eta = paper_quadrature_eta(m, s.lam, s.delta)
        delta, bound = stated_quadrature_delta(m, s.lam, 0.5, 1.0, eps / 2)
        C = eta / (s.lam * s.delta)
        eta2 = C * (s.lam * 0.5 + 1.0) * s.delta
        assert math.isclose((eta2 + 0.5 * eta) / (1 - eta), eps / 2, rel_tol=1e-9)
        assert math.isclose(bound, eps / 2, rel_tol=1e-9)
        # a larger delta breaks the bound: the delta is the largest
        eta_big = paper_quadrature_eta(m, s.lam, 1.01 * delta)
        assert (C * (s.lam * 0.5 + 1.0) * 1.01 * delta + 0.5 * eta_big) / (1 - eta_big) > eps / 2
    # N ~ eps^-(m (m + 3)) with THEORY 3.1's constants
    a, b = route_bound("stated", m, 0.01, 1.0), route_bound("stated", m, 0.005, 1.0)
    assert math.isclose(math.log2(b.prefix_length / a.prefix_length), m * (m + 3), abs_tol=0.05)
