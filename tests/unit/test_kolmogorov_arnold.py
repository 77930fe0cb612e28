"""The depth-linear Kolmogorov-Arnold construction: network, per-head certificates, end-to-end bound."""

from __future__ import annotations

import copy

import mpmath as mp
import numpy as np
import pytest
import sympy as sp

from certify.errors import InputError
from certify.kernel.linebound import LineHead, LineTarget, bound_segments, check_line, enclose_at
from certify.formats.seqmap import pack_breakpoints, unpack_breakpoints, architecture, inner_problem, parse_seqmap
from certify.checker.sequence_map import check_sequence_map
from certify.constructions.kolmogorov_arnold import construct, depth_table, example, pretrained
from certify.certifier.torus import torus_bound
from certify.certifier.search import prove
from certify.heads.attention import head_values
from certify.heads.numeric import seqmap_values


def _sequences(n, count, seed):
    th = np.random.default_rng(seed).uniform(0, 2 * np.pi, (count, n))
    return np.stack([np.cos(th), np.sin(th)], axis=2)


@pytest.fixture(scope="module")
def product2():
    spec = parse_seqmap(example("product", 2, 0.1))
    return spec, construct(spec)


def test_product_certified_and_the_reference_network_agrees(product2):
    spec, r = product2
    assert r.verdict == "CERTIFIED" and r.bound <= 0.1
    X = _sequences(2, 200, 0)
    F = np.array([r.network(x)[:, 0] for x in X])
    f = seqmap_values(spec, X)
    assert np.all(np.ptp(F, axis=1) < 1e-12)  # every position carries the same output
    assert np.max(np.abs(F[:, 0] - f)) <= r.bound
    assert np.allclose(f, X[:, 0, 0] * X[:, 1, 0], atol=1e-12)  # the polarisation is exact


def test_the_per_head_problems_are_the_network_heads(product2):
    spec, r = product2
    x = _sequences(2, 1, 3)[0]
    r.network(x, keep_trace=True)
    trace = r.network.trace
    from certify.formats.seqmap import Layout
    lay = Layout(2, spec.terms)
    for p in range(2):
        prob, _ = inner_problem(spec, r.doc["inner"], p, 1.0)
        y = head_values(prob.head, x[p][None, :])[0]
        assert np.allclose(trace[1][p, lay.slot["PSI"]], y, atol=1e-12)
    # the summing head averages exactly
    assert np.allclose(trace[2][:, lay.slot["MEAN"]], trace[1][:, lay.slot["PSI"]].mean(axis=0), atol=1e-15)


def test_weights_do_not_depend_on_the_target():
    a, b = pretrained(3, 7), pretrained(3, 7)
    for ba, bb in zip(a.blocks, b.blocks):
        for ha, hb in zip(ba.heads, bb.heads):
            for name in ("W_Q", "W_K", "W_V", "W_O"):
                assert np.array_equal(getattr(ha, name), getattr(hb, name))
            assert ha.prefix is None
    rows = depth_table(range(1, 9))
    assert [r["layers"] for r in rows] == [2 * n + 3 for n in range(1, 9)]
    assert np.all(np.diff([r["layers"] for r in rows]) == 2)
    assert architecture(2, 5)["heads"] == 7


@pytest.mark.slow
def test_the_checker_accepts_and_tampering_is_rejected(product2):
    spec, r = product2
    assert check_sequence_map(r.doc).valid
    cases = {}
    d = copy.deepcopy(r.doc)
    d["bound"] = r.bound * 0.9
    cases["bound"] = d
    d = copy.deepcopy(r.doc)
    d["spec"]["epsilon"] = r.bound * 0.5
    cases["verdict"] = d
    d = copy.deepcopy(r.doc)
    bp = unpack_breakpoints(d["outer"][0]["breakpoints"])
    d["outer"][0]["breakpoints"] = pack_breakpoints(bp[:-2])
    cases["outer[0].breakpoints"] = d
    d = copy.deepcopy(r.doc)
    d["outer"][1]["values"][len(d["outer"][1]["values"]) // 2] += 0.3
    cases["outer[1].breakpoints"] = d
    d = copy.deepcopy(r.doc)
    d["outer"][0]["interval"] = [d["outer"][0]["interval"][0] + 0.05, d["outer"][0]["interval"][1]]
    cases["outer[0].interval"] = d
    d = copy.deepcopy(r.doc)
    d["architecture"]["layers"] = 3
    cases["architecture"] = d
    for where, doc in cases.items():
        c = check_sequence_map(doc)
        assert not c.valid and c.where == where, (where, c.where, c.reason)


def test_planted_defect_in_one_positions_prefix_is_refuted(product2):
    spec, r = product2
    inner = copy.deepcopy(r.doc["inner"])
    N = inner["nodes_per_position"]
    k = N + N // 3  # a token of position 2
    inner["values"][k][0] += 0.5
    eps_2 = r.doc["inner"]["positions"][1]["certificate"]["problem"]["epsilon"]
    bad, _ = inner_problem(spec, inner, 1, eps_2)
    res = prove(bad)
    assert res.verdict == "REFUTED"
    good, _ = inner_problem(spec, inner, 0, r.doc["inner"]["positions"][0]["certificate"]["problem"]["epsilon"])
    assert prove(good).verdict == "CERTIFIED"  # position 1 does not see position 2's tokens
    doc = copy.deepcopy(r.doc)
    doc["inner"] = {**inner, "positions": doc["inner"]["positions"]}
    c = check_sequence_map(doc)
    # every position's problem holds the whole prefix, so no inner certificate matches any more
    assert not c.valid and c.where.startswith("inner.positions[") and "SHA-256" in c.reason


def test_torus_bound_is_rigorous_and_compared(product2):
    spec, r = product2
    t = torus_bound(spec, r.doc, max_pairs=60_000)
    assert np.isfinite(t["bound"]) and t["bound"] <= r.bound
    X = _sequences(2, 300, 5)
    F = np.array([r.network(x)[0, 0] for x in X])
    assert np.max(np.abs(F - seqmap_values(spec, X))) <= t["bound"]


def test_line_bounds_against_mpmath():
    rng = np.random.default_rng(2)
    t = np.linspace(-1.2, 1.2, 40)
    lam = 300.0
    head = LineHead(lam * t, 5 - lam * t * t / 2, np.sin(3 * t), 3)
    u = sp.Symbol("u")
    target = LineTarget(sp.sin(3 * u), u)
    mp.mp.dps = 40

    def err(x):
        w = [mp.e ** (mp.mpf(float(a)) * mp.mpf(x) + mp.mpf(float(b))) for a, b in zip(head.slopes, head.offsets)]
        H = mp.fsum([wi * mp.mpf(float(v)) for wi, v in zip(w, head.values)]) / (mp.fsum(w) + 3)
        return abs(H - mp.sin(3 * mp.mpf(x)))

    xs = rng.uniform(-1, 1, 20)
    lo, hi = enclose_at(head, target, xs)
    for x, a, b in zip(xs, lo, hi):
        assert a <= err(float(x)) <= b
    left = np.sort(rng.uniform(-1, 0.99, 10))
    right = left + 0.01
    U, _ = bound_segments(head, target, left, right)
    for a, b, Ub in zip(left, right, U):
        worst = max(err(float(x)) for x in np.linspace(a, b, 25))
        assert worst <= Ub
    ok, _, worst = check_line(head, target, -1, 1, np.linspace(-1, 1, 4001), 1.0)
    assert ok
    ok, reason, _ = check_line(head, target, -1, 1, np.linspace(-1, 1, 4001), worst * 0.5)
    assert not ok and "bound" in reason


def test_seqmap_input_errors():
    good = example("power-sum", 2, 0.1)
    cases = [
        (dict(good, length=0), "length"),
        (dict(good, epsilon=float("nan")), "epsilon"),
        (dict(good, extra=1), "(top level)"),
        ({**good, "terms": [{"inner": ["x0"], "outer": "s"}]}, "terms[0].inner"),
        ({**good, "terms": [{"inner": ["x0", "__import__('os')"], "outer": "s"}]}, "terms[0].inner[1]"),
        ({**good, "terms": [{"inner": ["x0", "x1"], "outer": "x0"}]}, "terms[0].outer"),
        ({**good, "terms": [{"inner": ["x0", "x1"]}]}, "terms[0]"),
    ]
    for doc, field in cases:
        with pytest.raises(InputError) as exc:
            parse_seqmap(doc)
        assert exc.value.field == field, (field, exc.value)


def test_abs_in_inner_and_outer_maps_is_constructed_and_checked():
    spec = parse_seqmap({"format": "certify.seqmap/1", "length": 2, "epsilon": 0.2,
                         "terms": [{"inner": ["abs(x0)", "x1"], "outer": "abs(s - 1)/2"}]})
    r = construct(spec)
    assert r.verdict == "CERTIFIED"
    assert check_sequence_map(r.doc).valid


def test_the_architecture_identifier_is_the_formats_not_a_module_path():
    """certify.seqmap-certificate/1 names the pretrained network by a fixed identifier: moving
    the construction's code must not invalidate certificates written before."""
    from certify.formats.seqmap import architecture

    assert architecture(2, 2)["pretrained"] == "certify.kolmogorov.pretrained(2, 2)"
    assert architecture(3, 7)["pretrained"] == "certify.kolmogorov.pretrained(3, 7)"
