"""Certificates: round trip, the checker's import boundary, and tampering of every kind."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from certify.certifier.writer import build_certificate, encode_tree
from certify.formats.certificate import decode_tree, unpack_bytes
from certify.formats.jsonio import pack_array


def pack_bytes(data):
    return pack_array(data, "u1")
from certify.checker.head import check_document
from certify.formats.problem import canonical_hash
from certify.heads.attention import problem_error


@pytest.fixture(scope="module")
def cert(certified_pair):
    p, r = certified_pair
    return build_certificate(p, r)


@pytest.fixture(scope="module")
def refuted_cert(refuted_pair):
    p, r = refuted_pair
    return build_certificate(p, r)


def test_round_trip_is_valid(cert, refuted_cert, certified_pair):
    rep = check_document(json.loads(json.dumps(cert)), problem=certified_pair[0])
    assert rep.valid, rep.reason
    assert rep.leaves == cert["partition"]["leaves"] and rep.upper <= cert["epsilon"]
    rep = check_document(json.loads(json.dumps(refuted_cert)))
    assert rep.valid and rep.verdict == "REFUTED" and rep.lower > refuted_cert["epsilon"]


def test_checker_never_imports_the_search():
    names = set()
    for src in (Path(__file__).resolve().parents[2] / "certify" / "checker").glob("*.py"):
        for node in ast.walk(ast.parse(src.read_text())):
            if isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
    assert not any("certifier" in n or "construct" in n for n in names), names
    code = ("import sys, certify.checker, certify.cli.main; "
            "bad = [m for m in sys.modules if m in ('certify.certifier.search', 'certify.certifier.estimate')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tree_encoding_round_trips_random_partitions():
    from certify.kernel.sphere import root_cells, split_cells

    rng = np.random.default_rng(4)
    for m in (1, 2, 3):
        f, l, c = root_cells(m)
        for _ in range(3):
            pick = rng.random(f.size) < 0.4
            cf, cl, cc = split_cells(m, f[pick], l[pick], c[pick])
            f, l, c = (np.concatenate([a[~pick], b]) for a, b in ((f, cf), (l, cl), (c, cc)))
        perm = rng.permutation(f.size)
        trees, order = encode_tree(m, f[perm], l[perm], c[perm])
        F, L, C = decode_tree(m, trees)
        assert np.array_equal(F, f[perm][order]) and np.array_equal(L, l[perm][order])
        assert np.array_equal(C, c[perm][order])


def _tree_bits(tree):
    return np.unpackbits(unpack_bytes(tree["data"], 10**7, "x"))[: tree["bits"]]


def _set_bits(tree, bits):
    tree["bits"] = int(len(bits))
    tree["data"] = pack_bytes(np.packbits(np.asarray(bits, dtype=np.uint8)))


def _rehash(doc):
    doc["problem_sha256"] = canonical_hash(doc["problem"])


def _merge_finest_siblings(doc):
    """Coarsen: replace 2^m sibling leaves by their parent (a valid tiling, looser leaf)."""
    m = doc["problem"]["sphere_dim"]
    F, L, C = decode_tree(m, doc["partition"]["trees"])
    k = 1 << m
    deepest = int(np.argmax(L))
    parent = (F[deepest], L[deepest] - 1, tuple(C[deepest] >> 1))
    sib = [i for i in range(F.size) if (F[i], L[i] - 1, tuple(C[i] >> 1)) == parent and L[i] == L[deepest]]
    assert len(sib) == k
    keep = np.setdiff1d(np.arange(F.size), sib)
    F2 = np.append(F[keep], parent[0]); L2 = np.append(L[keep], parent[1])
    C2 = np.vstack([C[keep], np.array(parent[2])[None, :]])
    trees, _ = encode_tree(m, F2, L2, C2)
    doc["partition"]["trees"] = trees
    doc["partition"]["leaves"] = int(F2.size)
    doc["partition"]["leaf_methods"] = pack_bytes(np.zeros(F2.size, np.uint8))


def _drop_last_bit(doc):
    t = doc["partition"]["trees"][0]
    _set_bits(t, _tree_bits(t)[:-1])


def _split_a_leaf(doc):
    t = doc["partition"]["trees"][0]
    b = _tree_bits(t).copy()
    b[np.flatnonzero(b == 0)[0]] = 1
    _set_bits(t, b)


def _extra_bits(doc):
    t = doc["partition"]["trees"][1]
    _set_bits(t, np.concatenate([_tree_bits(t), [0, 0]]))


def _lower_eps_everywhere(doc):
    doc["epsilon"] = doc["problem"]["epsilon"] = doc["enclosure"]["upper"] * 0.5
    doc["enclosure"]["upper"] = doc["epsilon"]
    doc["enclosure"]["lower"] = 0.0
    doc.pop("witness", None)
    _rehash(doc)


def _nudge(doc, field, rehash=False):
    arr = doc["problem"]["head"][field]
    arr[3][0] = float(np.nextafter(arr[3][0], np.inf))
    if rehash:
        _rehash(doc)


def _change_target(doc):
    doc["problem"]["target"] = [doc["problem"]["target"][0] + " + 0.05"]
    _rehash(doc)


def _setpath(path, value):
    def mutate(doc):
        obj = doc
        for k in path[:-1]:
            obj = obj[k]
        obj[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(doc):
        obj = doc
        for k in path[:-1]:
            obj = obj[k]
        del obj[path[-1]]
    return mutate


def _hash_char(doc):
    h = doc["problem_sha256"]
    doc["problem_sha256"] = ("0" if h[0] != "0" else "1") + h[1:]


def _methods_lipschitz(doc):
    doc["partition"]["methods"] = ["lipschitz"]


def _bomb(doc):
    import base64
    import zlib

    t = doc["partition"]["trees"][0]
    t["bits"] = 8 * 10**8
    t["data"] = base64.b64encode(zlib.compress(b"\xff" * 10**8)).decode()


CERTIFIED_MUTATIONS = {
    "leaf dropped (tree cut short)": _drop_last_bit,
    "leaf split without children": _split_a_leaf,
    "trailing bits": _extra_bits,
    "siblings merged into a looser leaf": _merge_finest_siblings,
    "epsilon lowered in the certificate only": lambda d: d.__setitem__("epsilon", d["epsilon"] * 0.9),
    "epsilon lowered everywhere, hash recomputed": _lower_eps_everywhere,
    "key nudged by one ulp": lambda d: _nudge(d, "keys"),
    "value nudged by one ulp": lambda d: _nudge(d, "values"),
    "target changed, hash recomputed": _change_target,
    "hash edited": _hash_char,
    "verdict flipped": _setpath(["verdict"], "REFUTED"),
    "format version changed": _setpath(["format"], "certify.certificate/2"),
    "partition removed": _delete(["partition"]),
    "problem removed": _delete(["problem"]),
    "epsilon removed": _delete(["epsilon"]),
    "enclosure removed": _delete(["enclosure"]),
    "a facet tree removed": lambda d: d["partition"]["trees"].pop(),
    "NaN epsilon": _setpath(["epsilon"], float("nan")),
    "NaN in the witness": lambda d: d["witness"]["point"].__setitem__(0, float("nan")),
    "infinite key": lambda d: d["problem"]["head"]["keys"][0].__setitem__(0, float("inf")),
    "unknown field": _setpath(["comment"], "trust me"),
    "claimed upper above epsilon": lambda d: d["enclosure"].__setitem__("upper", d["epsilon"] * 2),
    "claimed lower above the witness": lambda d: d["enclosure"].__setitem__("lower", d["witness"]["lower"] * 1.5),
    "witness lower inflated": lambda d: d["witness"].__setitem__("lower", d["witness"]["lower"] * 1.5),
    "leaf count changed": lambda d: d["partition"].__setitem__("leaves", d["partition"]["leaves"] + 1),
    "leaf method out of range": lambda d: d["partition"].__setitem__(
        "leaf_methods", pack_bytes(np.full(d["partition"]["leaves"], 3, np.uint8))),
    "leaf methods truncated": lambda d: d["partition"].__setitem__("leaf_methods", pack_bytes(np.zeros(2, np.uint8))),
    "unknown method": _setpath(["partition", "methods"], ["guess"]),
    "weaker method claimed": _methods_lipschitz,
    "tree data not base64": lambda d: d["partition"]["trees"][0].__setitem__("data", "!!!not base64!!!"),
    "decompression bomb": _bomb,
    "problem not canonical": _delete(["problem", "norm"]),
}

def _good_point(doc):
    from certify.formats.problem import problem_from_dict

    p = problem_from_dict(doc["problem"])
    th = np.linspace(0, 2 * np.pi, 2000)
    X = np.stack([np.cos(th), np.sin(th)], 1)
    doc["witness"]["point"] = X[int(np.argmin(problem_error(p, X)))].tolist()


REFUTED_MUTATIONS = {
    "witness moved to a good point": _good_point,
    "witness of the wrong length": lambda d: d["witness"].__setitem__("point", [1.0, 0.0, 0.0]),
    "witness removed": _delete(["witness"]),
    "epsilon raised everywhere, hash recomputed": lambda d: (
        d.__setitem__("epsilon", 1.0), d["problem"].__setitem__("epsilon", 1.0), _rehash(d)),
    "zero witness": lambda d: d["witness"].__setitem__("point", [0.0, 0.0]),
    "verdict flipped": _setpath(["verdict"], "CERTIFIED"),
}


@pytest.mark.parametrize("fixture,mutations,name",
                         [("cert", CERTIFIED_MUTATIONS, n) for n in sorted(CERTIFIED_MUTATIONS)]
                         + [("refuted_cert", REFUTED_MUTATIONS, n) for n in sorted(REFUTED_MUTATIONS)],
                         ids=[f"certified-{n}" for n in sorted(CERTIFIED_MUTATIONS)]
                         + [f"refuted-{n}" for n in sorted(REFUTED_MUTATIONS)])
def test_tampered_certificates_are_rejected(request, fixture, mutations, name):
    doc = copy.deepcopy(request.getfixturevalue(fixture))
    mutations[name](doc)
    rep = check_document(doc)
    assert not rep.valid, name
    assert rep.where and rep.reason


def test_nudged_key_with_rehash_is_caught_by_the_problem_file(cert, certified_pair):
    doc = copy.deepcopy(cert)
    _nudge(doc, "keys", rehash=True)
    assert not check_document(doc, problem=certified_pair[0]).valid


def test_at_least_twenty_kinds_of_tampering():
    assert len(CERTIFIED_MUTATIONS) + len(REFUTED_MUTATIONS) >= 20
