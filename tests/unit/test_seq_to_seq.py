"""Sequence-to-sequence maps (an output at every position, f_i = sum_q chi_{i,q}(sum_p psi_{p,q})):
the construction certifies every position, the checker re-derives each position's outer heads,
the reference network agrees per position, and tampering or a planted defect is rejected."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from certify.certifier.torus import torus_bound
from certify.checker.sequence_map import check_sequence_map
from certify.constructions.kolmogorov_arnold import construct
from certify.errors import InputError
from certify.formats.seqmap import parse_seqmap
from certify.heads.numeric import seqmap_outputs, seqmap_values

#: position 1: a_1 a_2; position 2: (a_1^2 + a_2^2)/2 (a_p = x0 of token p)
TWO = {"format": "certify.seqmap/1", "length": 2, "epsilon": 0.1,
       "terms": [{"inner": ["x0", "x0"], "outer": ["(1/4)*s**2", "(1/4)*s**2"]},
                 {"inner": ["x0", "-x0"], "outer": ["(-1/4)*s**2", "(1/4)*s**2"]}]}
#: position 1: the mean of a; position 2: the variance; position 3: the mean squared
THREE = {"format": "certify.seqmap/1", "length": 3, "epsilon": 0.1,
         "terms": [{"inner": ["x0", "x0", "x0"], "outer": ["s/3", "-(s/3)**2", "(s/3)**2"]},
                   {"inner": ["x0**2", "x0**2", "x0**2"], "outer": ["0", "s/3", "0"]}]}


def _sequences(n, count, seed):
    th = np.random.default_rng(seed).uniform(0, 2 * np.pi, (count, n))
    return np.stack([np.cos(th), np.sin(th)], axis=2)


@pytest.fixture(scope="module", params=[TWO, THREE], ids=["n2", "n3"])
def built(request):
    spec = parse_seqmap(request.param)
    return spec, construct(spec)


def test_every_position_is_certified_and_the_network_agrees(built):
    spec, r = built
    n = spec.length
    assert spec.per_position and r.verdict == "CERTIFIED" and r.bound <= spec.epsilon
    assert len(r.doc["position_bounds"]) == n and max(r.doc["position_bounds"]) == r.bound
    c = check_sequence_map(r.doc)
    assert c.valid and c.bound <= r.bound
    X = _sequences(n, 300, 1)
    F = np.array([r.network(x)[:, 0] for x in X])
    f = seqmap_outputs(spec, X)
    err = np.abs(F - f).max(axis=0)
    assert np.all(err <= np.array(r.doc["position_bounds"]))
    # the outputs really differ between positions (a sequence-to-sequence map)
    assert np.min(np.ptp(f, axis=1)) >= 0 and np.max(np.ptp(f, axis=1)) > 0.1
    if n == 2:
        assert np.allclose(f[:, 0], X[:, 0, 0] * X[:, 1, 0]) and np.allclose(f[:, 1], (X[:, 0, 0] ** 2 + X[:, 1, 0] ** 2) / 2)
        t = torus_bound(spec, r.doc, max_pairs=30_000)
        assert np.max(np.abs(F - f)) <= t["bound"] <= r.bound


def test_tampering_is_rejected(built):
    spec, r = built
    cases = {}
    q = next(q for q in range(spec.terms) if len(set(spec.outer_texts(q))) > 1)  # a term that differs by position
    d = copy.deepcopy(r.doc)
    d["outer"][q]["position_keys"] = [[0.0, 0.0] for _ in d["outer"][q]["position_keys"]]  # every position sees all
    cases["position keys removed"] = d
    d = copy.deepcopy(r.doc)
    k = d["outer"][1]["nodes_per_position"]
    vals = d["outer"][1]["values"]
    for j in range(k, 2 * k):  # position 2's nodes of term 2
        vals[j] += 0.3
    cases["position 2's values"] = d
    d = copy.deepcopy(r.doc)
    d["outer"][0]["positions"] = d["outer"][0]["positions"][:-1]
    cases["a position dropped"] = d
    d = copy.deepcopy(r.doc)
    del d["outer"][0]["positions"]
    cases["positions missing"] = d
    d = copy.deepcopy(r.doc)
    d["position_bounds"] = [b * 0.5 for b in d["position_bounds"]]
    d["bound"] = r.bound * 0.5
    cases["bound"] = d
    for name, doc in cases.items():
        c = check_sequence_map(doc)
        assert not c.valid, name


def test_a_planted_defect_in_one_output_is_caught(built):
    """The certificate of one map presented for a map that differs at one position only."""
    spec, r = built
    d = copy.deepcopy(r.doc)
    outer = list(d["spec"]["terms"][0]["outer"])
    outer[-1] = f"({outer[-1]}) + 1/4"
    d["spec"]["terms"][0]["outer"] = outer
    c = check_sequence_map(d)
    assert not c.valid and c.where.startswith("outer[0].positions[")


def test_common_maps_refuse_per_position_parts():
    from certify.constructions.kolmogorov_arnold import example

    spec = parse_seqmap(example("product", 2, 0.1))
    assert not spec.per_position
    r = construct(spec)
    d = copy.deepcopy(r.doc)
    d["outer"][0]["position_keys"] = [[0.0, 1.0] for _ in d["outer"][0]["slopes"]]
    d["outer"][0]["positions"] = [{"upper": 0.0, "breakpoints": d["outer"][0]["breakpoints"]}] * 2
    c = check_sequence_map(d)
    assert not c.valid and c.where == "outer[0]"


def test_per_position_spec_errors():
    bad = copy.deepcopy(TWO)
    bad["terms"][0]["outer"] = ["s"]
    with pytest.raises(InputError) as exc:
        parse_seqmap(bad)
    assert exc.value.field == "terms[0].outer"
    bad = copy.deepcopy(TWO)
    bad["terms"][1]["outer"] = ["s", "log(s)"]  # s = a_1 - a_2 reaches 0 and below
    with pytest.raises(InputError) as exc:
        parse_seqmap(bad)
    assert exc.value.field == "terms[1].outer[1]"
    bad = copy.deepcopy(TWO)
    bad["terms"][0]["outer"] = ["s", "__import__('os')"]
    with pytest.raises(InputError) as exc:
        parse_seqmap(bad)
    assert exc.value.field == "terms[0].outer[1]"
    with pytest.raises(ValueError):
        seqmap_values(parse_seqmap(TWO), _sequences(2, 3, 0))


def test_one_position_list_outer_is_constructed_and_checked():
    spec = parse_seqmap({"format": "certify.seqmap/1", "length": 1, "epsilon": 0.1,
                         "terms": [{"inner": ["x0"], "outer": ["s**2"]}]})
    r = construct(spec)
    assert r.verdict == "CERTIFIED" and check_sequence_map(r.doc).valid


def test_offsets_beyond_float64_and_short_inner_rows_are_invalid_not_a_crash():
    spec = parse_seqmap(TWO)
    r = construct(spec)
    d = copy.deepcopy(r.doc)
    d["outer"][0]["offsets"][0] = 1.7e308
    d["outer"][0]["position_keys"][0] = [1.7e308, 0.0]
    c = check_sequence_map(d)
    assert not c.valid and c.where == "outer[0].offsets"
    d = copy.deepcopy(r.doc)
    d["inner"]["values"] = d["inner"]["values"][:-1]
    c = check_sequence_map(d)
    assert not c.valid and c.where == "inner.values"
    d = copy.deepcopy(r.doc)
    d["position_bounds"] = [0.0, r.doc["position_bounds"][1]]
    c = check_sequence_map(d)
    assert not c.valid and c.where == "position_bounds[0]"
    del d["position_bounds"]
    assert check_sequence_map(d).where == "position_bounds"
