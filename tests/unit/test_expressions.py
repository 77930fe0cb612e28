"""The whitelisted expression parser: accepted grammar, exact literals, refusals."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import sympy as sp

from certify.errors import InputError
from certify.formats.expressions import (CLAIM_FUNCTIONS, MAX_EXPONENT, coordinate_symbols,
                          parse_expression, parse_target)
from certify.heads.numeric import compile_numpy, target_values
from tests.conftest import unit_points

X = unit_points(3, 50, seed=1)


@pytest.mark.parametrize("text,reference", [
    ("x0*x1", lambda x: x[:, 0] * x[:, 1]),
    ("exp(x2) - 1", lambda x: np.exp(x[:, 2]) - 1),
    ("sin(3*x0)", lambda x: np.sin(3 * x[:, 0])),
    ("-x0 + +x1 - 2.5e-1*x3", lambda x: -x[:, 0] + x[:, 1] - 0.25 * x[:, 3]),
    ("x0**2 + (2 + x1)**(-2) + abs(x2)**(1/3)",
     lambda x: x[:, 0] ** 2 + (2 + x[:, 1]) ** -2.0 + np.abs(x[:, 2]) ** (1 / 3)),
    ("sqrt(2 + x0) * log(3 + x1)", lambda x: np.sqrt(2 + x[:, 0]) * np.log(3 + x[:, 1])),
    ("tan(x0) + sinh(x1) + cosh(x2) + tanh(x3) + atan(x0) + cos(pi*x1)",
     lambda x: np.tan(x[:, 0]) + np.sinh(x[:, 1]) + np.cosh(x[:, 2]) + np.tanh(x[:, 3])
     + np.arctan(x[:, 0]) + np.cos(np.pi * x[:, 1])),
    ("1/(2 + x0) / 3", lambda x: 1 / (2 + x[:, 0]) / 3),
    ("7", lambda x: np.full(x.shape[0], 7.0)),
])
def test_accepted_expressions_evaluate_like_numpy(text, reference):
    t = parse_target([text], 3)
    assert np.allclose(target_values(t, X)[:, 0], reference(X), rtol=1e-13, atol=1e-13), text


def test_decimal_literals_are_exact_rationals():
    (x0,) = coordinate_symbols(0)
    assert parse_expression("0.1", [x0]) == sp.Rational(1, 10)
    assert parse_expression("1e-3 + x0", [x0]) == x0 + sp.Rational(1, 1000)


def test_gradients_are_exact():
    t = parse_target(["x0*x1 + sin(x2)"], 2)
    x0, x1, x2 = t.symbols
    assert t.gradient_exprs() == [[x1, x0, sp.cos(x2)]]


HOSTILE = [
    "__import__('os').system('touch PWNED_FILE')",
    "().__class__.__bases__[0].__subclasses__()",
    "x0.real", "lambda: 1", "'text'", "b'bytes'", "[1, 2]", "{1: 2}", "x0 if x1 else x2",
    "x0 < x1", "x0 and x1", "x0 @ x1", "x0 // 2", "x0 % 2", "x0 ^ 2", "x0 << 1", "~x0",
    "exp", "open('f')", "eval('1')", "exec('1')", "getattr(x0, 'y')", "x4", "y", "E", "e",
    "exp(x0, 1)", "sin()", "exp(x=1)", "exp(*x0)", "9**9**9", "x0**x1", "x0**100",
    "(x0**8)**16", "2**1000 * 0 + x0**65", "1e400", "1" * 400, "1/0", "x0/(x1-x1)", "",
    "   ", "x0 +", "(" * 500 + "x0" + ")" * 500, "x0;import os", "x0\nx1", "1j", "True",
    "None", "...", "f'{x0}'", "x0[0]", "[x for x in ()]", "(x0 := 1)", "await x0",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_or_malformed_expressions_are_refused(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as info:
        parse_target([text], 3, fieldname="target")
    assert info.value.field == "target[0]"
    assert list(tmp_path.iterdir()) == [], "parsing must not create files"


def test_exponent_limit_is_inclusive():
    parse_target([f"x0**{MAX_EXPONENT}"], 1)
    with pytest.raises(InputError):
        parse_target([f"x0**{MAX_EXPONENT + 1}"], 1)


def test_claim_functions_are_available_only_when_asked():
    lam, t = sp.Symbol("lam", real=True), sp.Symbol("t", real=True)
    e = parse_expression("besseli(1, lam)/besseli(0, lam) - coth(lam) + min(t, 1) + gamma(t + 1)",
                         [lam, t], functions=CLAIM_FUNCTIONS)
    assert e.has(sp.besseli)
    with pytest.raises(InputError):
        parse_expression("besseli(1, x0)", coordinate_symbols(1))


def test_nan_values_are_reported_not_hidden():
    (x0, x1) = coordinate_symbols(1)
    f = compile_numpy(parse_expression("log(x0)", [x0, x1]), [x0, x1])
    vals = f(np.array([-1.0, 1.0]), np.array([0.0, 0.0]))
    assert math.isnan(vals[0]) and vals[1] == 0.0


def test_a_target_undefined_on_the_sphere_is_refused_naming_a_point():
    with pytest.raises(InputError) as info:
        parse_target(["log(x0)"], 1)
    assert info.value.field == "target[0]"
    assert "log(x0)" in str(info.value) and "(-1, 0)" in str(info.value)


def test_no_file_is_created_by_any_hostile_input_in_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in HOSTILE:
        try:
            parse_target([text], 2)
        except InputError:
            pass
    assert not os.path.exists(tmp_path / "PWNED_FILE")
