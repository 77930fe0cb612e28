"""Domains lost to sympy's simplification, for claims and targets.

sympy evaluates while it builds: ``x/x`` is 1, ``sqrt(x)**2`` is x, ``exp(log(x))`` is x,
``0*log(x)`` is 0. Each case below is an expression whose simplified form is defined (and
often trivially true) where the expression as written is not; the claim must never be
VERIFIED there, a REFUTED witness must be a point where the claim is defined, and a target
undefined somewhere on the sphere must be refused (exit 2), never CERTIFIED. Each class
also has a defined twin that must still be decided, so that refusing everything fails."""

from __future__ import annotations

import json
from fractions import Fraction

import mpmath
import pytest
import sympy as sp

from certify.claims.search import REFUTED, UNDECIDED, VERIFIED, check_claim
from certify.claims.grammar import parse_claim
from certify.cli.main import main
from certify.errors import InputError
from certify.formats.expressions import CLAIM_FUNCTIONS, parse_expression_domain, parse_target
from certify.formats.jsonio import write_json_atomic

mpmath.mp.dps = 50

X = sp.Symbol("x", real=True)

# (expression as written, its sympy form without the domain, kinds recorded for x)
LOST = [
    ("x/x", "1", {"nonzero"}),
    ("(x - 1)/(x - 1)", "1", {"nonzero"}),
    ("sqrt(x)**2", "x", {"nonneg"}),
    ("exp(log(x))", "x", {"pos"}),
    ("x**0", "1", set()),            # 0**0 = 1: defined everywhere, nothing to record
    ("log(x)**0", "1", {"pos"}),
    ("0*log(x)", "0", {"pos"}),
    ("log(x) - log(x)", "0", {"pos"}),
    ("sqrt(x)*sqrt(x)", "x", {"nonneg"}),
    ("(x**(1/3))**3", "x", {"nonneg"}),
    ("(x**(-1))**(-1)", "x", {"nonzero"}),
    ("0*coth(x)", "0", {"nonzero"}),
    ("0*gamma(x)", "0", {"gamma"}),
    ("0*besseli(1/2, x)", "0", {"nonneg"}),
    ("0*tan(x)", "0", {"nonzero"}),
    ("sqrt(x - 2)**0", "1", {"nonneg"}),
]


@pytest.mark.parametrize("text,simplified,kinds", LOST)
def test_the_domain_is_recorded_from_the_syntax_before_simplification(text, simplified, kinds):
    e, domain = parse_expression_domain(text, [X], functions=CLAIM_FUNCTIONS)
    assert e == sp.sympify(simplified, locals={"x": X}), (text, e)
    assert {c.kind for c in domain} == kinds, (text, domain)
    for c in domain:
        assert c.source in text and c.expr.has(X), (text, c)


@pytest.mark.parametrize("text", [
    "forall x in [-1, 1]: x/x >= 1",
    "forall x in [-1/2, 1/2]: sqrt(x**2 - 1)**2 <= 0",
    "forall x in [-1, 1]: exp(log(x)) >= 0",
    "forall x in [-1, 3]: (x - 1)/(x - 1) >= 1",
    "forall x in [-2, 1]: log(x)**0 >= 1",
    "forall x in [-1, 1]: 0*log(x) >= 0",
    "forall x in [-1, 1]: log(x) - log(x) >= 0",
    "forall x in [-1, 1]: sqrt(x)*sqrt(x) >= x",
    "forall x in [-1, 1]: 0*coth(x) <= 0",
    "forall x in [-3, -1]: 0*gamma(x) <= 0",
    "forall x in [-1, 1], y in [0, 1]: 0*log(x*y + 1/2) >= 0",
])
def test_claims_undefined_at_an_exact_point_are_refused_with_the_point(text):
    with pytest.raises(InputError) as err:
        check_claim(parse_claim(text), max_boxes=3000)
    msg = str(err.value)
    assert err.value.field == "claim" and "undefined at" in msg, msg


@pytest.mark.parametrize("text", [
    # undefined at an interior point that no exact probe or bisection midpoint reaches
    "forall x in [0.5, 2]: (x - 1)/(x - 1) >= 1",
    "forall x in [-1, 2]: (x - 1)/(x - 1) >= 1",
    "forall x in [-1, 2]: x/x >= 1",
    "forall x in [0.5, 2]: log(x)/log(x) >= 1",
    "forall x in [1, 2]: tan(x)*cos(x) <= 2",
    "forall x in [1, 2]: 0*tan(x) >= 0",
])
def test_claims_undefined_inside_the_box_are_never_verified(text):
    try:
        r = check_claim(parse_claim(text), max_boxes=3000)
    except InputError:
        return
    assert r.verdict == UNDECIDED, (text, r.verdict)


@pytest.mark.parametrize("text", [
    "forall x in [1/2, 1]: x/x >= 1",
    "forall x in [1/2, 1]: exp(log(x)) >= 0",
    "forall x in [2, 3]: (x - 1)/(x - 1) >= 1",
    "forall x in [1/2, 1]: 0*log(x) >= 0",
    "forall x in [1, 2]: sqrt(x)*sqrt(x) >= x",
    "forall x in [-1, 1]: tan(x)*cos(x) <= 1",
    "forall x in [-1, 1]: x**0 >= 1",
    "forall x in [-1/2, 1/2]: sqrt(x**2 + 1)**2 >= 1",
])
def test_defined_twins_are_verified(text):
    assert check_claim(parse_claim(text), max_boxes=3000).verdict == VERIFIED, text


def test_a_refuted_witness_is_a_point_where_the_claim_is_defined():
    # exp(log(x)) >= 1 fails on [1/2, 1): x where log is defined
    r = check_claim(parse_claim("forall x in [1/2, 2]: exp(log(x)) >= 1"))
    assert r.verdict == REFUTED
    x = Fraction(r.witness["x"])
    assert Fraction(1, 2) <= x < 1
    # false where defined, undefined at 0: never a witness at 0
    r = check_claim(parse_claim("forall x in [-1, 3]: x/x >= 2"))
    assert r.verdict == REFUTED and Fraction(r.witness["x"]) != 0


# ------------------------------------------------------------------------- targets

UNDEFINED_TARGETS = [
    ("sin(log(x0 - 2))", 1), ("x0/x0", 1), ("exp(log(x0))", 1), ("sqrt(x0)**2", 1),
    ("0*log(x0)", 1), ("log(x0) - log(x0)", 1), ("log(x0 + 1/2)**0", 1), ("(x0 - x1)/(x0 - x1)", 1),
    ("tan(2*x0)*cos(2*x0)", 1), ("x1**(-2)", 2), ("sqrt(-x0**2 - 1)", 1), ("x0**(1/3)", 2),
    ("1/(x0**2 + x1**2)", 2),
]


@pytest.mark.parametrize("text,m", UNDEFINED_TARGETS)
def test_targets_undefined_on_the_sphere_are_refused(text, m):
    with pytest.raises(InputError) as err:
        parse_target([text], m)
    msg = str(err.value)
    assert err.value.field == "target[0]" and repr(text) in msg and f"S^{m}" in msg, msg


@pytest.mark.parametrize("text,m", [
    ("log(2 + x0)", 1), ("1/(x0**2 + x1**2)", 1), ("1/(x0**2 + x1**2 + x2**2)", 2),
    ("sqrt(1 + x0)", 1), ("tan(x0)", 2), ("abs(x0)**(1/3)", 2), ("x0/(2 + x1)", 2),
    ("sqrt(x0**2 + x1**2)", 3), ("exp(log(2 + x0))", 1), ("x0**0", 1),
])
def test_targets_defined_on_the_sphere_are_accepted(text, m):
    parse_target([text], m)


def test_an_ill_posed_target_is_bad_input_for_prove_and_check(tmp_path, capsys):
    from tests.conftest import circle_problem

    doc = circle_problem(eps=0.06).to_json()
    for text in ["sin(log(x0 - 2))", "(x0 - x1)/(x0 - x1)", "x0/x0"]:
        doc["target"] = [text]
        path = tmp_path / "p.json"
        write_json_atomic(path, doc)
        cert = tmp_path / "p.cert.json"
        assert main(["prove", str(path), "-o", str(cert)]) == 2, text
        err = capsys.readouterr().err
        assert text in err and "S^1" in err and "Traceback" not in err, err
        assert not cert.exists()


# ------------------------------------------------------------------------- imaginary units, huge ends

@pytest.mark.parametrize("text,field", [
    ("forall x in [0, 1]: sqrt(-x**2 - 1) <= 1", "claim"),
    ("forall x in [0, 1]: log(-1) <= x", "claim: left side"),
    ("forall x in [0, 1]: x <= sqrt(-1)", "claim: right side"),
    ("forall x in [0, 1]: x <= (-8)**(1/3)", "claim: right side"),
    ("forall x in [0, 1]: log(log(1/2)) <= x", "claim: left side"),
    ("forall x in [-1e308, 1e308]: x**2 >= 0", "claim: range of x"),
    ("forall x in [0, 2**1000*2]: x >= 0", "claim: range of x"),
    ("forall x in [0, 10**301]: x >= 0", "claim: range of x"),
    ("forall x in [0, sqrt(-1)]: x >= 0", "claim: range of x"),
])
def test_complex_values_and_huge_ends_are_bad_input_naming_the_field(text, field, capsys):
    with pytest.raises(InputError) as err:
        check_claim(parse_claim(text), max_boxes=100)
    assert err.value.field == field, (text, err.value.field, str(err.value))
    assert main(["claim", text]) == 2
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and "Traceback" not in err_text, err_text


def test_a_huge_but_finite_box_is_decided():
    r = check_claim(parse_claim("forall x in [-1e300, 1e300]: x**2 + 1 >= 1"))
    assert r.verdict == VERIFIED


def test_claim_cli_json_on_an_undefined_claim_writes_nothing(capsys):
    assert main(["claim", "forall x in [-1, 1]: x/x >= 1", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "x = 0" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
