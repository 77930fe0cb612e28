"""certify tune: the objective's gradients are right, tuning lowers the error from its start,
a tuned prefix is certified through prove -> write -> check, a mis-tuned one is not, and the
same seed gives the same prefix."""

from __future__ import annotations

import json

import numpy as np
import pytest

from certify.certifier.pipeline import decide
from certify.cli.main import main
from certify.constructions.tune import _Model, lemma3_head, start_problem, tune
from certify.formats.expressions import parse_target
from certify.formats.problem import problem_from_dict
from certify.heads.attention import head_values
from certify.heads.numeric import target_values


def _points(m, n, seed):
    x = np.random.default_rng(seed).normal(size=(n, m + 1))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _starts():
    t1 = parse_target(["x0*x1"], 1)
    t2 = parse_target(["x0", "x1*x2"], 2)
    core = {"kind": "core", "keys": [[1.0, 0.0]], "values": [[0.0]]}
    return {"softmax S^1": start_problem(t1, 0.1, 6),
            "softmax S^2 vector": start_problem(t2, 0.2, 12),
            "core S^1": start_problem(t1, 0.3, 40, head=core),
            "lemma3 S^1": start_problem(t1, 0.1, 5, head=lemma3_head(1, 1)),
            "full with context S^2": start_problem(t2, 0.2, 8, head=_full_head(2, 2))}


def _full_head(m, o):
    rng = np.random.default_rng(7)
    d = 6
    return {"kind": "softmax", "embedding": rng.normal(size=(d, m + 1)).tolist(),
            "W_Q": rng.normal(size=(4, d)).tolist(), "W_K": rng.normal(size=(4, d)).tolist(),
            "W_V": rng.normal(size=(o, d)).tolist(), "self_attention": True,
            "context": rng.normal(size=(2, d)).tolist()}


@pytest.mark.parametrize("name", list(_starts()))
def test_gradient_matches_finite_differences_and_the_reference_head(name):
    p = _starts()[name]
    model = _Model(p)
    X = _points(p.sphere_dim, 300, 1)
    F = target_values(p.target, X)
    rng = np.random.default_rng(2)
    theta = model.theta0 * (1 + 0.01 * rng.normal(size=model.theta0.size))
    # the model's head is the reference head of the problem it writes
    q = model.problem_for(theta)
    H_ref = head_values(q.head, X)
    err = np.abs(H_ref - F).max()
    beta = 5.0 / max(err, 1e-9) ** 2
    loss, grad = model.loss_grad(theta, X, F, beta)
    r = (H_ref - F) ** 2
    c = r.max()
    assert np.isclose(loss, c + np.log(np.exp(beta * (r - c)).sum()) / beta, rtol=1e-9)
    for i in rng.choice(theta.size, 12, replace=False):
        h = 1e-6 * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        fd = (model.loss_grad(up, X, F, beta)[0] - model.loss_grad(down, X, F, beta)[0]) / (2 * h)
        assert np.isclose(grad[i], fd, rtol=1e-4, atol=1e-7 * max(1.0, abs(loss))), (name, i, grad[i], fd)


def test_tuning_lowers_the_error_and_is_certified_and_mistuning_is_not():
    p0 = start_problem(parse_target(["x0*x1"], 1), 0.1, 6)
    t = tune(p0, seed=0, rounds=3)
    assert t.estimate_after < 0.5 * t.estimate_before
    d = decide(t.problem, max_cells=100_000)
    assert d.result.verdict == "CERTIFIED" and d.report is not None and d.report.valid
    # one value perturbed: the certifier refuses it
    doc = t.problem.to_json()
    doc["head"]["values"][2][0] += 0.5
    bad = decide(problem_from_dict(doc), max_cells=100_000).result
    assert bad.verdict == "REFUTED" and bad.lower > 0.1
    assert t.problem.meta["tuned"]["seed"] == 0 and t.problem.meta["tuned"]["iterations"] == t.iterations


def test_same_seed_same_prefix_and_another_seed_may_differ():
    p0 = start_problem(parse_target(["x0**2", "x1"], 1), 0.1, 5)
    a, b = tune(p0, seed=3, rounds=2), tune(p0, seed=3, rounds=2)
    assert a.problem.sha256 == b.problem.sha256
    assert json.dumps(a.problem.to_json(), sort_keys=True) == json.dumps(b.problem.to_json(), sort_keys=True)


def test_full_matrix_and_lemma3_heads_tune_their_prefix_tokens():
    t1 = parse_target(["x0*x1"], 1)
    p0 = start_problem(t1, 0.1, 5, head=lemma3_head(1, 1))
    t = tune(p0, seed=0, rounds=2)
    h = t.problem.canonical["head"]
    assert "embedding" in h and len(h["prefix"]) == 5 and h["W_Q"] == lemma3_head(1, 1)["W_Q"]
    assert t.estimate_after < t.estimate_before
    assert decide(t.problem, max_cells=100_000).result.verdict == "CERTIFIED"


def test_cli_tune_certify_search_and_bad_input(tmp_path, capsys):
    out = tmp_path / "t.json"
    code = main(["tune", "--target", "x0*x1", "--sphere-dim", "1", "--epsilon", "0.1", "--prefix-length", "4",
                 "-o", str(out), "--certify", "--certificate", str(tmp_path / "c.json"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["verdict"] == "CERTIFIED" and out.is_file()
    assert main(["check", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    code = main(["tune", "--target", "x0*x1", "--sphere-dim", "1", "--epsilon", "0.1", "--search-length",
                 "-o", str(tmp_path / "s.json"), "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0 and payload["smallest_certified"] <= 8
    below = payload["not_certified_below"]
    assert below is None or payload["below_verdict"] != "CERTIFIED"
    for argv, field in ((["--epsilon", "nan"], "--epsilon"), (["--target", "__import__('os')"], "--target"),
                        (["--head", str(tmp_path / "missing.json")], "--head"),
                        (["--certificate", str(tmp_path / "x.json")], "--certificate")):
        base = {"--target": "x0", "--epsilon": "0.1"}
        args = ["tune", "--sphere-dim", "1", "--prefix-length", "3", "-o", str(tmp_path / "bad.json")]
        extra = dict(zip(argv[::2], argv[1::2]))
        for k, v in {**base, **extra}.items():
            args += [k, v]
        assert main(args) == 2, argv
        assert field in capsys.readouterr().err
        assert not (tmp_path / "bad.json").exists()
    bad_head = tmp_path / "h.json"
    bad_head.write_text(json.dumps({"kind": "softmax", "keys": [[1, 0]], "values": [[0]], "bogus": 1}))
    assert main(["tune", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1", "--prefix-length", "3",
                 "--head", str(bad_head), "-o", str(tmp_path / "bad.json")]) == 2
    assert "bogus" in capsys.readouterr().err


def test_a_head_file_with_nan_is_refused_and_a_reduced_head_with_n_keys_is_the_start(tmp_path, capsys):
    h = tmp_path / "h.json"
    h.write_text('{"kind": "softmax", "keys": [[1, 0]], "values": [[NaN]]}')
    assert main(["tune", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.2", "--prefix-length", "3",
                 "--head", str(h), "-o", str(tmp_path / "t.json")]) == 2
    assert "head.values[0][0]" in capsys.readouterr().err and not (tmp_path / "t.json").exists()
    start = {"kind": "softmax", "keys": [[2.0, 0.0], [-2.0, 0.0]], "values": [[1.0], [-1.0]], "biases": [0.0, 0.0]}
    p = start_problem(parse_target(["x0"], 1), 0.2, 2, head=start)
    assert p.canonical["head"]["keys"] == start["keys"] and p.canonical["head"]["values"] == start["values"]


def test_hostile_targets_seeds_and_problem_files_exit_2(tmp_path, capsys):
    out = tmp_path / "t.json"
    base = ["tune", "--sphere-dim", "1", "--epsilon", "0.1", "--prefix-length", "3", "-o", str(out)]
    seq = tmp_path / "seq.json"
    seq.write_text(json.dumps({"format": "certify.problem/1", "sphere_dim": 1, "target": ["x0"], "epsilon": 0.1,
                               "head": {"kind": "softmax", "keys": [[1.0, 0.0]], "values": [[0.0]]},
                               "sequence": {"max_length": 3, "causal": False}}))
    for extra, field in ((["--target", "1e308*x0"], "--target"), (["--target", "x0", "--seed", "-1"], "--seed"),
                         (["--target", "x0", "--head", str(seq)], "--head")):
        with pytest.raises(SystemExit) if field == "--seed" else _nothing():
            code = main(base + extra)
            assert code == 2
        err = capsys.readouterr().err
        assert field in err and not out.exists(), (extra, err)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
