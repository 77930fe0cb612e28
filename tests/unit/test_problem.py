"""Problem files: every violation class is refused with a message naming the field."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from certify.errors import InputError
from certify.formats.problem import load_problem, problem_from_dict, problem_schema
from certify.heads.attention import head_values, problem_error
from tests.conftest import unit_points


def refuse(doc):
    with pytest.raises(InputError) as info:
        problem_from_dict(doc)
    return info.value


def test_valid_problem_loads_and_evaluates(valid_doc):
    p = problem_from_dict(valid_doc)
    assert p.sphere_dim == 2 and p.out_dim == 2 and p.prefix_length == 3 and p.kind == "softmax"
    x = unit_points(2, 4)
    assert head_values(p.head, x).shape == (4, 2) and problem_error(p, x).shape == (4,)


def set_path(doc, path, value):
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    if value is DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return doc


DELETE = object()

CASES = [
    # (path, new value, field named in the error)
    (("format",), "certify.problem/2", "format"),
    (("format",), DELETE, "format"),
    (("sphere_dim",), 0, "sphere_dim"),
    (("sphere_dim",), "2", "sphere_dim"),
    (("sphere_dim",), 1.5, "sphere_dim"),
    (("sphere_dim",), 100, "sphere_dim"),
    (("sphere_dim",), True, "sphere_dim"),
    (("epsilon",), 0, "epsilon"),
    (("epsilon",), -1e-3, "epsilon"),
    (("epsilon",), DELETE, "epsilon"),
    (("epsilon",), "0.1", "epsilon"),
    (("norm",), "l2", "norm"),
    (("extra",), 1, "unknown field"),
    (("head", "extra"), 1, "unknown field"),
    (("head", "kind"), "relu", "head.kind"),
    (("head", "keys"), DELETE, "keys"),
    (("head", "keys"), [], "head.keys"),
    (("head", "keys"), [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], "head.keys"),
    (("head", "keys"), [[1.0, 0.0, 0.0], [0.0, 1.0], [0.0, 0.0, 1.0]], "head.keys[1]"),
    (("head", "keys"), [[1.0, 0.0, 0.0], [0.0, "1", 0.0], [0.0, 0.0, 1.0]], "head.keys[1][1]"),
    (("head", "keys"), [[1.0, 0.0, 0.0], [0.0, True, 0.0], [0.0, 0.0, 1.0]], "head.keys[1][1]"),
    (("head", "keys"), [[1.0, 0.0, 0.0], [0.0, None, 0.0], [0.0, 0.0, 1.0]], "head.keys[1][1]"),
    (("head", "keys"), [1.0, 0.0, 0.0], "head.keys[0]"),
    (("head", "keys", 2, 0), float("nan"), "head.keys[2][0]"),
    (("head", "keys", 0, 1), float("inf"), "head.keys[0][1]"),
    (("head", "values"), [[1.0, 0.0], [0.0, 1.0]], "head.values"),
    (("head", "values"), [[1.0], [0.0], [0.5]], "head.values"),
    (("head", "values", 1, 1), float("-inf"), "head.values[1][1]"),
    (("head", "biases"), [0.0, 0.0], "head.biases"),
    (("head", "biases"), [0.0, float("nan"), 0.0], "head.biases[1]"),
    (("head", "biases"), "zero", "head.biases"),
    (("head", "context_tokens"), -1, "head.context_tokens"),
    (("head", "context_tokens"), 1.5, "head.context_tokens"),
    (("target",), ["x0*x1"], "head.values"),
    (("target",), [], "target"),
    (("target",), "x0", "target"),
    (("target",), ["x0", "__import__('os').system('touch PWNED')"], "target[1]"),
    (("target",), ["x0", "x3"], "target[1]"),
    (("target",), ["x0", 3], "target[1]"),
]


@pytest.mark.parametrize("path,value,field", CASES, ids=[f"{'.'.join(map(str, c[0]))}={c[1]!r}"[:60] for c in CASES])
def test_violations_name_the_field(valid_doc, path, value, field, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    err = refuse(set_path(valid_doc, path, value))
    assert field in str(err), str(err)
    assert list(tmp_path.iterdir()) == []


def test_context_tokens_only_for_softmax(valid_doc):
    valid_doc["head"]["kind"] = "core"
    assert "head.context_tokens" in str(refuse(valid_doc))


MATRIX_CASES = [
    (("head", "embedding"), [[1.0, 0.0, 0.0]] * 4, "head.embedding"),
    (("head", "W_Q"), [[1.0, 0.0, 0.0]] * 3, "head.W_Q"),
    (("head", "W_K"), [[1.0, 0.0, 0.0, 0.0]] * 2, "head.W_K"),
    (("head", "W_V"), [[1.0, 0.0, 0.0, 0.0]] * 2, "head.W_V"),
    (("head", "prefix"), [], "head.prefix"),
    (("head", "prefix"), [[1.0, 0.0, 0.0]], "head.prefix"),
    (("head", "context"), [[1.0, 0.0]], "head.context"),
    (("head", "self_attention"), "yes", "head.self_attention"),
    (("head", "kind"), "core", "head.kind"),
    (("head", "keys"), [[1.0, 0.0]], "unknown field"),
    (("head", "W_V"), DELETE, "W_V"),
]


@pytest.mark.parametrize("path,value,field", MATRIX_CASES)
def test_matrix_head_violations_name_the_field(matrix_doc, path, value, field):
    assert field in str(refuse(set_path(matrix_doc, path, value)))


def test_matrix_head_loads_and_context_may_be_empty(matrix_doc):
    p = problem_from_dict(matrix_doc)
    assert p.prefix_length == 5 and p.head.keys.shape == (7, 2)
    matrix_doc["head"]["context"] = []
    assert problem_from_dict(matrix_doc).head.keys.shape == (5, 2)


@pytest.mark.parametrize("text,field", [
    ("{", "problem file"),
    ('{"a": 1, "a": 2}', "a"),
    ('[1, 2]', "(top level)"),
    ('{"format": "certify.problem/1", "sphere_dim": 1, "epsilon": NaN}', "epsilon"),
    ('{"format": "certify.problem/1", "sphere_dim": 1, "epsilon": Infinity}', "epsilon"),
    ('{"format": "certify.problem/1", "sphere_dim": 1, "epsilon": 1e400}', "epsilon"),
])
def test_malformed_files(tmp_path, text, field):
    path = tmp_path / "p.json"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_problem(path)
    assert field in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_problem(tmp_path / "absent.json")


def test_canonical_hash_ignores_meta_and_spelling_of_defaults(valid_doc):
    a = problem_from_dict(valid_doc)
    b_doc = copy.deepcopy(valid_doc)
    b_doc["meta"] = {"note": "provenance only"}
    b_doc["head"]["keys"] = [[3, 0, 0], [0, 3, 0], [0, 0, 3]]  # ints read as the same floats
    assert problem_from_dict(b_doc).sha256 == a.sha256
    c_doc = copy.deepcopy(valid_doc)
    c_doc["head"]["keys"][0][0] = np.nextafter(3.0, 4.0)  # one ulp
    assert problem_from_dict(c_doc).sha256 != a.sha256
    d_doc = copy.deepcopy(valid_doc)
    del d_doc["head"]["biases"]
    e_doc = copy.deepcopy(d_doc)
    e_doc["head"]["biases"] = [0.0, 0.0, 0.0]
    assert problem_from_dict(d_doc).sha256 == problem_from_dict(e_doc).sha256


def test_round_trip_through_json(valid_doc, tmp_path):
    p = problem_from_dict(valid_doc)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(p.to_json()))
    q = load_problem(path)
    assert q.sha256 == p.sha256
    x = unit_points(2, 10)
    assert np.array_equal(head_values(q.head, x), head_values(p.head, x))


def test_schema_accepts_the_canonical_form(valid_doc, matrix_doc):
    import jsonschema
    for doc in (valid_doc, matrix_doc, problem_from_dict(valid_doc).to_json(),
                problem_from_dict(matrix_doc).to_json()):
        jsonschema.Draft202012Validator(problem_schema()).validate(doc)


def test_large_problem_loads_quickly_enough_to_be_usable(tmp_path):
    """Not a timing assertion: a 10^5-key problem must load (the schema walk is bypassed
    for numeric arrays, which are checked in one pass)."""
    N = 100_000
    keys = unit_points(2, N) * 10
    doc = {"format": "certify.problem/1", "sphere_dim": 2,
           "head": {"kind": "softmax", "keys": keys.tolist(), "values": np.zeros((N, 1)).tolist()},
           "target": ["0"], "epsilon": 0.1}
    p = problem_from_dict(doc)
    assert p.prefix_length == N
