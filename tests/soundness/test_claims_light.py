"""The sympy-free fast path of ``certify claim`` (certify.claims.light): it verifies only
what is true (random claims re-checked in mpmath, planted false claims, claims undefined
somewhere), it refuses what the full grammar refuses, it agrees with the full engine, and a
trivial claim is answered without importing sympy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import mpmath
import pytest
from hypothesis import given, settings, strategies as st

from certify.claims.decide import decide_claim
from certify.claims.light import FUNCTIONS, light_claim, quick_verify
from certify.claims.result import REFUTED, UNDECIDED, VERIFIED
from certify.errors import InputError
from certify.formats.expressions import CLAIM_FUNCTIONS

from tests.unit.test_claims import test_bad_claims_are_refused_with_a_field as _bad

mpmath.mp.dps = 40

BAD = _bad.pytestmark[0].args[1]


def test_function_list_is_the_full_grammars():
    assert set(FUNCTIONS) == set(CLAIM_FUNCTIONS)
    for name, spec in CLAIM_FUNCTIONS.items():
        assert FUNCTIONS[name] == spec.arity


@pytest.mark.parametrize("text", BAD + [
    "forall x in [0, 1]: log(x - 2) <= x",          # undefined everywhere on the box
    "forall x in [0, 1]: 0*log(x - 2) <= 1",        # sympy drops the log; as written it is undefined
    "forall x in [0, 1]: x/(x - x) <= 1",
    "forall x in [0, 1]: (x**9)**9 <= 2",           # sympy merges the exponents past the limit
    "forall x in [0, 2**1001]: x <= 2**1002",
    "forall x in [0, 1]: 1e400 <= 2",
    "forall x in [0, 1]: sqrt(-1) <= 2",
    "forall x in [0, 1]: x**40 * x**40 <= 2",       # sympy merges the product to x**80
    "forall x in [0, 1]: x/x**40/x**40 <= 2",
    "forall x in [0, 1]: x <= 1e300*1e300",         # sympy folds the constant past float64
    "forall x in [0, 1]: 1e200*(x + 1e200)*1e200 >= 0",
    "forall x in [0, 1]: x <= gamma(300)",
    "forall x in [0, 1]: x <= exp(2000*log(2))",       # sympy writes it as the integer 2**2000
    "forall x in [1, 2]: exp(80*log(x)) <= exp(81*log(2))",
    "forall x in [1, 2]: exp(log(pi)*100) >= x",
])
def test_what_the_full_grammar_refuses_is_refused(text):
    with pytest.raises(InputError):
        decide_claim(text, "claim")


@pytest.mark.parametrize("text", [
    "forall x in [0, 1]: x <= 1 - 1/10**30",            # false at the corner by 1e-30
    "forall x in [0, 1]: sin(x) <= x - 1/10**9",
    "forall x in [-1, 1], y in [-1, 1]: x*y <= 1 - 1/10**12",
    "forall x in [0, 1]: x**2 < 1",
    "forall x in [1/3, 1/2]: sqrt(x) < sqrt(1/2)",
    "forall x in [0, 1]: min(x, 1/2) < 1/2",
])
def test_planted_false_claims_are_never_fast_verified(text):
    light = light_claim(text)
    assert light is not None
    assert quick_verify(light, 10 ** 6) is None
    assert decide_claim(text).verdict in (REFUTED, UNDECIDED)


@pytest.mark.parametrize("text", [
    "forall x in [0, 1]: x <= 2",
    "forall x in [0, 1], y in [-2, 3]: x*y <= 3 + 1/10**9",
    "forall x in [1/2, 3]: log(x) + sqrt(x) <= 4",
    "forall x in [0, 1]: exp(x) - abs(x - 1/2) <= 3",
    "forall x in [1, 2]: besseli(1, x)/besseli(0, x) <= 1",
    "forall x in [1, 2]: gamma(x) + coth(x) <= 3",
    "forall x in [-1, 1]: max(x, 0) + min(x, 0) <= 2",
])
def test_fast_verdicts_agree_with_the_full_engine(text):
    fast = decide_claim(text)
    full = decide_claim(text, fast=False)
    assert fast.engine == "fast" and full.engine == "full"
    assert fast.verdict == full.verdict == VERIFIED
    assert fast.to_json()["box"] == full.to_json()["box"]


# random claims: whatever the fast path verifies holds at sampled points (mpmath, 40 digits)

_LEAVES = st.one_of(st.just(("var", "x")), st.just(("var", "y")),
                    st.fractions(min_value=-3, max_value=3, max_denominator=8).map(lambda q: ("num", q)))


def _extend(children):
    unary = st.tuples(st.sampled_from(["exp", "sin", "cos", "atan", "tanh", "abs", "log", "sqrt",
                                       "sinh", "coth"]), children).map(lambda t: ("call", t[0], (t[1],)))
    binary = st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), children, children)
    power = st.tuples(st.just("pow"), children, st.sampled_from([Fraction(2), Fraction(3), Fraction(-1),
                                                                  Fraction(1, 2), Fraction(1, 3)]))
    return st.one_of(unary, binary, power, st.tuples(st.just("neg"), children))


TREES = st.recursive(_LEAVES, _extend, max_leaves=6)


def _q(q: Fraction):
    return mpmath.mpf(q.numerator) / q.denominator


def _mp(t, env):
    k = t[0]
    if k == "num":
        return mpmath.mpf(t[1].numerator) / t[1].denominator
    if k == "var":
        return env[t[1]]
    if k == "neg":
        return -_mp(t[1], env)
    if k == "pow":
        return _mp(t[1], env) ** (mpmath.mpf(t[2].numerator) / t[2].denominator)
    if k == "call":
        x = _mp(t[2][0], env)
        return {"exp": mpmath.exp, "sin": mpmath.sin, "cos": mpmath.cos, "atan": mpmath.atan,
                "tanh": mpmath.tanh, "abs": abs, "log": mpmath.log, "sqrt": mpmath.sqrt,
                "sinh": mpmath.sinh, "coth": mpmath.coth}[t[1]](x)
    a, b = _mp(t[1], env), _mp(t[2], env)
    if k == "add":
        return a + b
    if k == "sub":
        return a - b
    return a * b if k == "mul" else a / b


@settings(max_examples=300, deadline=None)
@given(TREES, st.fractions(-2, 2, max_denominator=4), st.fractions(0, 2, max_denominator=4),
       st.fractions(-2, 2, max_denominator=4), st.fractions(0, 2, max_denominator=4),
       st.fractions(-2, 2, max_denominator=16))
def test_random_fast_verdicts_hold_at_samples(t, x0, wx, y0, wy, c):
    from certify.claims.light import LightClaim

    box = ((x0, x0 + wx), (y0, y0 + wy))
    claim = LightClaim("random", ("x", "y"), (), box, "<=", t, ("num", c))
    if quick_verify(claim, 64) is None:
        return
    for i in range(5):
        for j in range(5):
            env = {"x": _q(box[0][0] + wx * Fraction(i, 4)), "y": _q(box[1][0] + wy * Fraction(j, 4))}
            try:
                v = _mp(t, env)
            except (ZeroDivisionError, ValueError) as exc:   # undefined where it was verified
                raise AssertionError((t, env, exc)) from None
            assert isinstance(v, mpmath.mpf), (t, env, v)   # defined (and real) where verified
            assert v <= _q(c), (t, env, v)


def test_trivial_claim_runs_without_sympy_or_numpy():
    code = ("import sys, runpy; sys.argv = ['certify', 'claim', '--json', 'forall x in [0, 1]: x <= 2'];\n"
            "from certify.cli.main import main\n"
            "rc = main(sys.argv[1:])\n"
            "assert 'sympy' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
            "sys.exit(rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)["claims"][0]
    assert row["verdict"] == VERIFIED and row["engine"] == "fast"


# ----------------------------------------------- the full engine's higher-order routes, attacked

from certify.claims.grammar import parse_claim as _parse  # noqa: E402
from certify.claims.search import check_claim as _check  # noqa: E402


@pytest.mark.parametrize("text", [
    "forall x in [-1, 1]: x**3 >= 0",                          # zero gradient at 0, not convex
    "forall x in [-1, 1], y in [-1, 1]: x**2 + y**2 - 3*x*y >= 0",   # zero gradient, indefinite
    "forall x in [-1, 1]: x**2 >= x/10**12",                   # false at x = 1e-13
    "forall x in [-1, 1]: x**4 - x**6*2 >= 0",                 # convex at 0, false near the ends
    "forall lam in [1, 50], t in [-1, 1]: exp(lam*t) <= exp(lam) - 1/10**40",   # the face is false
    "forall x in [1/2, 2]: abs(sqrt(x) - (((((122/7397*x + (-1733)/13547)*x + 529/1274)*x"
    " + (-767)/999)*x + 407/334)*x + 227/925)) <= 7/100000",   # one half of |e| <= b is false
    "forall lam in [1, 500]: besseli(1.5, lam)/besseli(0.5, lam) >= lam/(1 + sqrt(lam**2 + 4)) + 1/10**5",
])
def test_planted_false_claims_are_refuted_with_checked_witnesses(text):
    r = _check(_parse(text), max_boxes=20000)
    assert r.verdict == REFUTED, (r.verdict, r.reason)
    claim = _parse(text)
    import sympy as sp

    point = {s: sp.Rational(Fraction(r.witness[n])) for n, s in zip(claim.names, claim.symbols)}
    with mpmath.workdps(60):
        value = sp.N(claim.margin.subs(point), 50)
    assert value < 0, (text, r.witness, value)


@pytest.mark.parametrize("text", [
    "forall lam in [1, 500]: besseli(1.5, lam)/besseli(0.5, lam) >= lam/(1 + sqrt(lam**2 + 4))",
    "forall lam in [1, 50], t in [-1, 1]: exp(lam*t) <= exp(lam)",
    "forall x in [-2, 2]: cos(x) <= 1 - x**2/2 + x**4/24",
    "forall x in [-1, 10]: sqrt(1 + x) <= 1 + x/2",
    "forall x in [-1, 5]: (1 + x)**8 >= 1 + 8*x",
    "forall x in [1/2, 2]: abs(sqrt(x) - (((((122/7397*x + (-1733)/13547)*x + 529/1274)*x"
    " + (-767)/999)*x + 407/334)*x + 227/925)) <= 5/65536",
])
def test_tight_claims_decided_by_the_higher_order_routes(text):
    r = _check(_parse(text))
    assert r.verdict == VERIFIED, (r.verdict, r.reason)


def test_bessel_ratio_derivative_encloses_the_true_derivative():
    import flint
    import sympy as sp

    from certify.kernel.arb_balls import interval_ball
    from certify.kernel.arb_expressions import besselratio, compile_arb

    x = sp.Symbol("x", real=True)
    for nu in (sp.Integer(0), sp.Rational(1, 2), sp.Integer(3)):
        for k in (1, 2):
            d = compile_arb(sp.diff(besselratio(nu, x), x, k), (x,))
            for lo in (Fraction(1, 10), Fraction(3), Fraction(40)):
                ball = interval_ball(lo, lo + Fraction(1, 64))
                enc = d([ball])
                for t in (lo, lo + Fraction(1, 128), lo + Fraction(1, 64)):
                    with mpmath.workdps(40):
                        true = mpmath.diff(lambda s: mpmath.besseli(nu + 1, s) / mpmath.besseli(nu, s),
                                           _q(t), k)
                    assert enc.contains(flint.arb(mpmath.nstr(true, 30))) or \
                        abs(float(enc.mid()) - float(true)) <= float(enc.rad()) + 1e-25, (nu, k, t)


@pytest.mark.parametrize("text", [
    "forall x in [sqrt(2), sqrt(2)]: x**2 <= 2",
    "forall x in [sqrt(2), sqrt(2)]: x**2 >= 2",
    "forall x in [pi, pi + 1e-45]: sin(x) <= 0",
    "forall x in [pi/2 - 1e-45, pi/2]: cos(x) >= 0",
])
def test_true_claims_on_boxes_narrower_than_their_ends_are_never_refuted(text):
    """Irrational ends closer than Arb's enclosures of them: no exact corner lies inside."""
    assert decide_claim(text).verdict != REFUTED


# validity does not depend on the path: whatever the fast path verifies, the full grammar
# accepts (sympy's rewrites, such as merged powers and folded constants, are foreseen)

_BIG = st.sampled_from([Fraction(10) ** 150, Fraction(10) ** 300, Fraction(1, 10 ** 300), Fraction(2) ** 500])
_LEAVES_V = st.one_of(st.just(("var", "x")), st.just(("pi",)), _BIG.map(lambda q: ("num", q)),
                      st.fractions(-3, 3, max_denominator=4).map(lambda q: ("num", q)))


def _extend_v(children):
    unary = st.tuples(st.sampled_from(["exp", "tan", "sqrt", "gamma", "abs", "log"]), children).map(
        lambda t: ("call", t[0], (t[1],)))
    power = st.tuples(st.just("pow"), children, st.sampled_from([Fraction(20), Fraction(33), Fraction(-40),
                                                                  Fraction(64), Fraction(1, 2)]))
    return st.one_of(unary, power, st.tuples(st.sampled_from(["add", "sub", "mul", "div"]), children, children))


def _text(t) -> str:
    k = t[0]
    if k == "num":
        q = t[1]
        return f"({q.numerator}/{q.denominator})" if q.denominator != 1 else f"({q.numerator})"
    if k == "pi":
        return "pi"
    if k == "var":
        return t[1]
    if k == "pow":
        return f"({_text(t[1])})**({t[2]})"
    if k == "call":
        return f"{t[1]}({_text(t[2][0])})"
    return f"({_text(t[1])} {dict(add='+', sub='-', mul='*', div='/')[k]} {_text(t[2])})"


@settings(max_examples=200, deadline=None)
@given(st.recursive(_LEAVES_V, _extend_v, max_leaves=5))
def test_what_the_fast_path_verifies_the_full_grammar_accepts(t):
    from certify.claims.grammar import parse_claim

    for text in (f"forall x in [1/4, 1]: {_text(t)} <= 1e250", f"forall x in [1/4, 1]: {_text(t)} >= -1e250"):
        light = light_claim(text)
        if light is None or quick_verify(light, 64) is None:
            continue
        parse_claim(text)    # an InputError here: the paths disagree on validity


def test_sympy_rewrites_into_cot_and_symbolic_powers_are_decided():
    """tan(pi/2 - x) is cot(x) and exp(x*log(2)) is 2**x in sympy's form; box ends that sympy
    cannot order (log(8), 3*log(2)) are ordered exactly or refused as bad input."""
    from certify.claims.decide import decide_claim as decide

    assert decide("forall x in [1/10, 1]: tan(pi/2 - x) >= 0.6", fast=False).verdict == VERIFIED
    assert decide("forall x in [1/10, 1]: tan(pi/2 - x) >= 0.65", fast=False).verdict == REFUTED
    assert decide("forall x in [0, tan(pi/2 - 1)]: x <= 0.65", fast=False).verdict == VERIFIED
    assert decide("forall x in [0, 3]: exp(x*log(2)) <= 8", fast=False).verdict == VERIFIED
    assert decide("forall x in [0, 3]: exp(x*log(2)) <= 7.99", fast=False).verdict == REFUTED
    assert decide("forall x in [0, exp(pi*log(2))]: x <= 8.83", fast=False).verdict == VERIFIED
    assert decide("forall x in [log(8), 3*log(2)]: x <= 2.08").verdict == VERIFIED
    with pytest.raises(InputError, match="empty range"):
        decide("forall x in [log(9), 3*log(2)]: x <= 3")
