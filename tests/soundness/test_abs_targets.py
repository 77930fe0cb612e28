"""abs and the functions sympy's derivatives produce from whitelisted ones.

d|x|/dx is sign(x), d sign(x)/dx is 2 DiracDelta(x), min/max differentiate to Heaviside,
gamma to gamma * polygamma. Every evaluator (numpy for estimates and constructions, Arb for
claims, the kernel's intervals for prove/check) must handle what the derivatives of the
grammar produce, and enclose it soundly where the function has a kink."""

from __future__ import annotations

import flint
import numpy as np
import pytest
import sympy as sp

from certify.claims.search import REFUTED, VERIFIED, check_claim
from certify.claims.grammar import parse_claim
from certify.formats.expressions import (CLAIM_FUNCTIONS, TARGET_FUNCTIONS, coordinate_symbols,
                          parse_expression, parse_target)
from certify.heads.numeric import compile_numpy
from certify.kernel.arb_expressions import compile_arb

X = sp.Symbol("x", real=True)
CALLS = {name: (f"{name}(1, x)" if name == "besseli" else f"{name}(x, 1/2)" if name in ("min", "max")
                else f"{name}(x)") for name in CLAIM_FUNCTIONS}


@pytest.mark.parametrize("name", sorted(CLAIM_FUNCTIONS))
def test_numpy_evaluates_the_first_three_derivatives_of_every_function(name):
    e = parse_expression(CALLS[name], [X], functions=CLAIM_FUNCTIONS)
    pts = np.array([0.3, 0.7, 1.1, 2.5])
    for k in (1, 2, 3):
        d = sp.diff(e, X, k)
        assert not d.has(sp.re, sp.im, sp.Derivative, sp.Subs), (name, k, d)
        vals = compile_numpy(d, [X])(pts)
        assert vals.shape == pts.shape, (name, k, d)


@pytest.mark.parametrize("name", sorted(TARGET_FUNCTIONS))
def test_target_symbols_are_real_so_derivatives_stay_real(name):
    xs = coordinate_symbols(1)
    e = parse_expression(f"{name}(2 + x0)" if name in ("log", "sqrt") else f"{name}(x0)", xs)
    for k in (1, 2, 3):
        assert not sp.diff(e, xs[0], k).has(sp.re, sp.im, sp.arg), (name, k)


def test_abs_derivative_is_sign_and_numpy_matches_finite_differences():
    t = parse_target(["abs(x0 - x1/2)"], 1)
    assert t.gradient_exprs()[0][0] == sp.sign(t.symbols[0] - t.symbols[1] / 2)
    g = compile_numpy(t.gradient_exprs()[0][0], t.symbols)
    assert list(g(np.array([1.0, -1.0, 0.5]), np.array([0.0, 0.0, 1.0]))) == [1.0, -1.0, 0.0]


def test_arb_encloses_sign_heaviside_and_refuses_dirac_at_the_kink():
    s = compile_arb(sp.sign(X), [X])
    h = compile_arb(sp.Heaviside(X), [X])
    d = compile_arb(sp.DiracDelta(X), [X])
    wide = flint.arb(0, 1)
    for v in (-1, 0, 1):
        assert s([wide]).contains(v)
    assert h([wide]).contains(0) and h([wide]).contains(1)
    assert s([flint.arb(0)]).contains(-1) and s([flint.arb(0)]).contains(1)  # Clarke hull at 0
    assert s([flint.arb(2, 1)]) == 1 and s([flint.arb(-2, 1)]) == -1
    assert not d([wide]).is_finite() and not d([flint.arb(0)]).is_finite()
    assert d([flint.arb(2, 1)]) == 0


def test_arb_integer_powers_of_balls_through_zero_keep_their_sign():
    p2 = compile_arb(X ** 2, [X])([flint.arb(0, 1)])
    p3 = compile_arb(X ** 3, [X])([flint.arb(0, 1)])
    assert p2.is_finite() and p2 >= 0 and p2.contains(1) and p2.contains(0)
    assert p3.contains(-1) and p3.contains(1) and p3 <= 1.01 and p3 >= -1.01


@pytest.mark.parametrize("text,verdict", [
    ("forall x in [-1, 1]: abs(x) <= 11/10", VERIFIED),
    ("forall x in [-1, 1], y in [-1, 1]: abs(x*y) <= abs(x) + 1/100", VERIFIED),
    ("forall x in [-2, 3]: abs(x - 1/3) + abs(x + 1/7) >= 2/5", VERIFIED),
    ("forall x in [-1, 1]: abs(x - 1/3) >= 1/1000", REFUTED),
    ("forall x in [-2, 3]: abs(x - 1/3) + abs(x + 1/7) >= 1/2", REFUTED),   # its minimum is 10/21
    ("forall x in [0, 5]: max(x, 1) - min(x, 2) >= -1", VERIFIED),
])
def test_claims_with_abs_min_max_are_decided(text, verdict):
    assert check_claim(parse_claim(text), max_boxes=20000).verdict == verdict, text


def test_constructions_accept_abs_targets():
    from certify.constructions.prefixes import construct_net, estimate_lipschitz

    t = parse_target(["abs(x0)", "abs(x0*x1) + x1"], 1)
    assert 1.0 <= estimate_lipschitz(t) <= 2.5
    construct_net(t, 0.5, lipschitz=2.0)


# ------------------------------------------------------------------------- kernel rules

def _interval(expr, lo, hi):
    from certify.kernel.interval_expressions import compile_interval

    f = compile_interval(expr, [X])
    return f((np.array([lo], dtype=float), np.array([hi], dtype=float)))


def test_kernel_sign_rule_encloses_the_kink():
    for lo, hi, want in [(-1.0, 2.0, (-1.0, 1.0)), (0.5, 2.0, (1.0, 1.0)), (-2.0, -0.5, (-1.0, -1.0))]:
        rlo, rhi = _interval(sp.sign(X), lo, hi)
        assert rlo[0] <= want[0] and rhi[0] >= want[1], (lo, hi, rlo, rhi)
    rlo, rhi = _interval(sp.sign(X), 0.0, 0.0)
    assert rlo[0] <= 0.0 <= rhi[0]


def test_prove_and_check_decide_an_abs_target(tmp_path, capsys):
    """abs(x0) against a vMF head on S^1: prove decides it (the kernel bounds such targets to
    first order: their second derivatives hold DiracDelta) and check accepts the certificate."""
    from certify.cli.main import main
    from certify.formats.jsonio import write_json_atomic
    from tests.conftest import circle_problem

    p = circle_problem(target=("abs(x0)",), eps=0.3)
    path, cert = tmp_path / "abs.json", tmp_path / "abs.cert.json"
    write_json_atomic(path, p.to_json())
    code = main(["prove", str(path), "-o", str(cert), "--max-cells", "20000"])
    err = capsys.readouterr().err
    assert code in (0, 1) and "internal error" not in err, err  # decided, within the budget
    assert main(["check", str(cert), "--problem", str(path)]) == 0


@pytest.mark.parametrize("text, verdict", [
    ("forall x in [-1, 1]: abs(x) >= 0", VERIFIED),
    ("forall x in [-1, 1]: sqrt(x**2) >= 0", VERIFIED),
    ("forall x in [-2, 3]: abs(x - 1/3) + abs(x) >= 1/3 - 1/1000", VERIFIED),
    ("forall x in [-1, 1]: abs(x) > 0", REFUTED),
])
def test_abs_of_a_ball_through_zero_is_non_negative(text, verdict):
    assert check_claim(parse_claim(text), max_boxes=20_000).verdict == verdict
