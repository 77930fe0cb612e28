"""Fuzzing the command line: no input ends in a traceback.

Hypothesis generates argument lists, and problem, certificate and claim documents (valid ones
mutated: fields dropped, types changed, numbers replaced by huge, NaN, negative values or
strings, nested junk). Every run of ``certify.cli.main.main`` must end with exit 0, 1, 2 or 3 and at
most one line on stderr (exactly one, starting with ``certify``, for exit 2) -- never a
traceback and never exit 4, which is reserved for faults injected on purpose (tested at the
end: exit 4, one line, no output file). Runs are in-process and kept cheap (small problems,
``--max-cells``, ``--max-boxes`` and ``--samples`` caps).
"""

from __future__ import annotations

import copy
import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from certify.certifier.writer import build_certificate
from certify.cli.main import main
from certify.formats.jsonio import write_json_atomic
from tests.conftest import circle_problem

#: CERTIFY_FUZZ_EXAMPLES=1000 (and CERTIFY_FUZZ_RANDOM=1 for fresh seeds) runs a deeper search.
FUZZ = settings(max_examples=int(os.environ.get("CERTIFY_FUZZ_EXAMPLES", "60")), deadline=None,
                derandomize=not os.environ.get("CERTIFY_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

#: Values put in place of a field: every JSON type, huge, tiny, negative, non-finite, nested.
JUNK = [None, True, False, 0, -1, -0.0, 2, 1.5, 1e308, -1e308, 5e-324, 10**400, -10**400, 2**63,
        math.nan, math.inf, -math.inf, "", "x", "NaN", "1e999", "x0*x1", "AAAA", [], {}, [[["x"]]],
        [1.0, 2.0], {"a": {"b": [1, "2", None]}}]


def run(capsys, argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: usage errors (2), --help and --version (0)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


CODES = __import__("collections").Counter()


def assert_clean(code, err, argv):
    CODES[code] += 1
    assert "Traceback" not in err, (argv, err)
    assert code in (0, 1, 2, 3), (argv, code, err)
    lines = err.strip().splitlines()
    if code == 2:
        # argparse prints its usage before the one error line
        assert lines and lines[-1].startswith("certify"), (argv, err)
        assert sum("error:" in ln for ln in lines) == 1, (argv, err)
    else:
        assert len(lines) <= 1, (argv, err)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files of a CERTIFIED and a REFUTED problem on S^1, their certificates and a
    sequence-map certificate (n = 1), built once."""
    from certify.constructions.kolmogorov_arnold import construct, example
    from certify.formats.seqmap import parse_seqmap
    from certify.certifier.search import prove

    d = tmp_path_factory.mktemp("fuzz")
    good, bad = circle_problem(eps=0.06, n=20), circle_problem(eps=0.02, n=20)
    rg, rb = prove(good), prove(bad)
    assert rg.verdict == "CERTIFIED" and rb.verdict == "REFUTED"
    docs = {"problem": good.to_json(), "certified": build_certificate(good, rg),
            "refuted": build_certificate(bad, rb),
            "seqmap": construct(parse_seqmap(example("product", 1, 0.1))).doc}
    for name, doc in docs.items():
        write_json_atomic(d / f"{name}.json", doc)
    np.save(d / "X.npy", np.array([[1.0, 0.0], [0.0, 1.0]]))
    return d, docs


# ------------------------------------------------------------------ mutations of documents

def _children(node):
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def _mutate_once(data, root):
    holder = {"root": root}
    parent, key = holder, "root"
    while True:
        kids = _children(parent[key])
        # never stop at the root (the whole document replaced is a dull case), 1 in 4 below it
        if not kids or (parent is not holder and data.draw(st.integers(0, 3), label="stop") == 0):
            break
        parent, key = parent[key], kids[data.draw(st.integers(0, len(kids) - 1), label="child")]
    op = data.draw(st.sampled_from(["drop", "junk", "junk", "negate", "scale", "extra", "stringify"]), label="op")
    node = parent[key]
    if op == "drop" and parent is not holder:
        del parent[key]
    elif op == "negate" and isinstance(node, (int, float)) and not isinstance(node, bool):
        parent[key] = -node
    elif op == "scale" and isinstance(node, (int, float)) and not isinstance(node, bool):
        factor = data.draw(st.sampled_from([0, 1e300, 1e-300, 10**400, 3]), label="factor")
        try:
            parent[key] = node * factor
        except OverflowError:  # a float times 10**400
            parent[key] = 10**400
    elif op == "extra" and isinstance(node, dict):
        node["zz_unknown"] = data.draw(st.sampled_from(JUNK), label="extra")
    elif op == "extra" and isinstance(node, list):
        node.append(data.draw(st.sampled_from(JUNK), label="extra"))
    elif op == "stringify" and not isinstance(node, (dict, list)):
        parent[key] = str(node)
    else:
        parent[key] = copy.deepcopy(data.draw(st.sampled_from(JUNK), label="junk"))
    return holder["root"]


def mutated(data, doc):
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        doc = _mutate_once(data, doc)
    return doc


def _write(path, doc):
    path.write_text(json.dumps(doc, allow_nan=True))  # NaN / Infinity literals on purpose


@FUZZ
@given(data=st.data())
def test_mutated_problems(world, capsys, data):
    d, docs = world
    path = d / "mutated-problem.json"
    _write(path, mutated(data, docs["problem"]))
    command = data.draw(st.sampled_from([
        ["prove", path, "--max-cells", "300"], ["prove", path, "--max-cells", "300", "--json"],
        ["estimate", path, "--samples", "200", "--json"],
        ["eval", path, "--points", d / "X.npy", "--out", d / "Y.npy"],
        ["check", d / "certified.json", "--problem", path]]), label="command")
    code, _, err = run(capsys, command)
    assert_clean(code, err, command)


@FUZZ
@given(data=st.data())
def test_mutated_certificates(world, capsys, data):
    d, docs = world
    which = data.draw(st.sampled_from(["certified", "refuted", "seqmap"]), label="certificate")
    path = d / "mutated-cert.json"
    _write(path, mutated(data, docs[which]))
    command = ["check", path] + (["--json"] if data.draw(st.booleans(), label="json") else [])
    code, _, err = run(capsys, command)
    assert_clean(code, err, command)


# ------------------------------------------------------------------ argument lists

_OPTIONS = ["--target", "--sphere-dim", "--epsilon", "--method", "--head", "--lipschitz", "--lam",
            "--prefix-length", "--max-prefix-length", "-o", "--json", "--problem", "--strict",
            "--samples", "--seed", "--points", "--out", "--tokens", "--accuracy", "--route",
            "--sup-norm", "--file", "--frobnicate", "-h", "--version", "--debug", "--causal", "--example",
            "--length", "--spec", "--no-prove", "--max-length"]
_VALUES = ["0", "1", "2", "3", "-1", "0.5", "1e-300", "1e308", "nan", "inf", "-inf", "1e10", "10000000000",
           "abc", "", "x0", "x0*x1", "log(x0)", "abs(x0)", "__import__('os')", "x9", "net", "vmf", "core",
           "softmax", "paper", "taylor3", "lipschitz", "product", "none.json"]


@st.composite
def argument_lists(draw, d):
    files = [str(d / n) for n in ("problem.json", "certified.json", "refuted.json", "seqmap.json",
                                  "X.npy", "out.json", "absent.json")] + [str(d)]
    command = draw(st.sampled_from(["construct", "prove", "check", "estimate", "eval", "bound", "claim",
                                    "construct-seq", "nonsense", "--version", "--help"]))
    tokens = draw(st.lists(st.one_of(st.sampled_from(_OPTIONS), st.sampled_from(_VALUES),
                                     st.sampled_from(files)), max_size=8))
    argv = [command] + tokens
    # caps last (argparse keeps the last occurrence): every run stays cheap
    if command == "prove":
        argv += ["--max-cells", "300"]
    elif command == "estimate":
        argv += ["--samples", "200"]
    elif command == "claim":
        argv += ["--max-boxes", "200"]
    elif command == "construct":
        argv += ["--max-prefix-length", "2000"]
    elif command == "bound":
        argv += ["--max-prefix-length", "2000"]
    elif command == "construct-seq":
        argv = [command, draw(st.sampled_from(["elementwise", "ka"]))] + tokens + ["--no-prove", "--length", "1"]
    return argv


@FUZZ
@given(data=st.data())
def test_generated_argument_lists(world, capsys, data, monkeypatch):
    d, _ = world
    monkeypatch.chdir(d)
    argv = data.draw(argument_lists(d), label="argv")
    code, _, err = run(capsys, argv)
    assert_clean(code, err, argv)


# ------------------------------------------------------------------ claims

_ATOMS = ["x", "0", "1", "2", "1/3", "0.5", "-1", "pi", "1e-12", "10**3"]
_FUNCS = ["exp", "log", "sqrt", "sin", "cos", "tan", "sinh", "cosh", "tanh", "atan", "abs", "coth", "gamma"]


def _expressions():
    return st.recursive(
        st.sampled_from(_ATOMS),
        lambda inner: st.one_of(
            st.builds(lambda f, a: f"{f}({a})", st.sampled_from(_FUNCS), inner),
            st.builds(lambda a, op, b: f"({a}) {op} ({b})", inner, st.sampled_from(["+", "-", "*", "/"]), inner),
            st.builds(lambda a, p: f"({a})**{p}", inner, st.sampled_from(["2", "3", "-1", "(1/2)", "0.5", "65"])),
            st.builds(lambda a: f"besseli(1, {a})/besseli(0, {a})", inner),
            st.builds(lambda a, b: f"min({a}, {b})", inner, inner)),
        max_leaves=4)


@st.composite
def claims(draw):
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=40))  # anything at all
    lo, hi = draw(st.sampled_from(["0", "1", "-1", "1/2", "1e-12", "2", "10**3", "pi", "-pi", "10**301", "x"])), \
        draw(st.sampled_from(["1", "2", "1/2", "10", "pi", "1e-12", "10**3"]))
    op = draw(st.sampled_from(["<=", ">=", "<", ">", "==", "=<"]))
    return f"forall x in [{lo}, {hi}]: {draw(_expressions())} {op} {draw(_expressions())}"


@FUZZ
@given(text=claims())
def test_generated_claims(capsys, text):
    argv = ["claim", text, "--max-boxes", "200", "--time-limit", "2"]
    code, _, err = run(capsys, argv)
    assert_clean(code, err, argv)


@pytest.mark.parametrize("text", ["forall x in [0, 1]: x <= min(x, log(0))",
                                  "forall x in [0, 1]: max(x, 1/0) >= 0",
                                  "forall x in [0, 1]: min(x, sqrt(-1)) <= 1"])
def test_claim_with_min_of_an_undefined_argument_is_bad_input(capsys, text):
    code, _, err = run(capsys, ["claim", text, "--max-boxes", "200"])
    assert code == 2 and len(err.strip().splitlines()) == 1, err


#: Valid command lines whose numeric options are replaced one at a time (extreme, tiny,
#: negative, non-finite values): every answer is a verdict or one bad-input line.
_NUMERIC_COMMANDS = [
    (["bound", "--sphere-dim", "{m}", "--epsilon", "0.1", "--lipschitz", "1"], ["--epsilon", "--lipschitz"]),
    (["bound", "--sphere-dim", "{m}", "--epsilon", "0.1", "--lipschitz", "1", "--sup-norm", "1"], ["--sup-norm"]),
    (["construct", "--target", "x0*x1", "--sphere-dim", "{m}", "--epsilon", "0.3", "--lipschitz", "1",
      "--method", "vmf", "--max-prefix-length", "2000", "-o", "{d}/c.json"], ["--epsilon", "--lipschitz"]),
    (["construct", "--target", "x0", "--sphere-dim", "{m}", "--epsilon", "0.3", "--method", "net",
      "--lam", "20", "--prefix-length", "30", "-o", "{d}/c.json"], ["--epsilon", "--lam"]),
    (["construct", "--target", "x0", "--sphere-dim", "{m}", "--epsilon", "0.3", "--method", "vmf",
      "--lam", "20", "--prefix-length", "30", "-o", "{d}/c.json"], ["--epsilon", "--lam"]),
]
_NUMBERS = st.one_of(st.sampled_from([0.0, -1.0, 1e-320, 1e-300, 1e-200, 1e-12, 1e-9, 1e9, 1e12, 1e200, 1e300,
                                      1.7976931348623157e308, float("inf"), float("nan")]),
                     st.floats(allow_nan=False, allow_infinity=False, width=64))


@FUZZ
@given(case=st.integers(0, len(_NUMERIC_COMMANDS) - 1), which=st.integers(0, 1), value=_NUMBERS,
       m=st.sampled_from(["1", "2"]))
def test_valid_commands_with_one_numeric_option_replaced(capsys, tmp_path_factory, case, which, value, m):
    argv, options = _NUMERIC_COMMANDS[case]
    d = tmp_path_factory.mktemp("num")
    argv = [a.format(m=m, d=d) for a in argv]
    option = options[which % len(options)]
    argv[argv.index(option) + 1] = repr(value)
    code, _, err = run(capsys, argv)
    assert_clean(code, err, argv)


# ------------------------------------------------------------------ faults injected on purpose

def _boom(*args, **kwargs):
    raise RuntimeError("fault injected by the test")


@pytest.mark.parametrize("module,name,argv", [
    ("certify.certifier.search", "prove", ["prove", "{d}/problem.json", "-o", "{d}/new.json"]),
    ("certify.checker.pool", "bound_cells", ["check", "{d}/certified.json"]),
    ("certify.checker.head", "error_enclosure_at", ["check", "{d}/refuted.json"]),
    ("certify.checker.sequence_map", "check_line", ["check", "{d}/seqmap.json"]),
    ("certify.constructions.prefixes", "construct_net", ["construct", "--target", "x0", "--sphere-dim", "1", "--epsilon",
                                            "0.5", "-o", "{d}/new.json"]),
    ("certify.claims.search", "check_claim", ["claim", "forall x in [0, 1]: sin(x) <= x"]),
    ("certify.claims.decide", "quick_verify", ["claim", "forall x in [0, 1]: x <= 1"]),
    ("certify.certifier.estimate", "estimate_sup_error", ["estimate", "{d}/problem.json"]),
])
def test_injected_faults_are_exit_4(world, capsys, monkeypatch, module, name, argv):
    import importlib

    d, _ = world
    monkeypatch.setattr(importlib.import_module(module), name, _boom)
    argv = [a.format(d=d) for a in argv]
    code, out, err = run(capsys, argv)
    lines = err.strip().splitlines()
    assert code == 4 and len(lines) == 1 and "Traceback" not in err, (argv, code, err)
    assert lines[0].startswith(f"certify {argv[0]}: internal error: RuntimeError: fault injected")
    assert "--debug" in lines[0] and "INVALID" not in out
    assert not (d / "new.json").exists() and not list(d.glob(".new.json*"))
