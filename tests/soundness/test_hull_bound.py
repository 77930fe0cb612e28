"""The convex-hull bound of sharp softmax heads (kernel/cellbound.greedy_bound, _with_hull):
the linear programme's optimum is bounded exactly (rationals), sampled errors never exceed
the bounds it gives, planted faults are found, and the bound is what certifies the net
construction's large-lambda heads."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from certify.certifier.search import CERTIFIED, REFUTED, prove
from certify.constructions.prefixes import construct_net
from certify.formats.expressions import parse_target
from certify.formats.problem import make_problem
from certify.kernel import cellbound as cb
from certify.kernel.cellbound import bound_cells, error_enclosure_at, prepare, unit_point_enclosure
from certify.kernel.sphere import root_cells, split_cells

from tests.soundness.test_kernel import sample_cell_points


def exact_optimum(om, D):
    """max sum pi_k D_k over the simplex with pi <= om, in rationals (greedy is optimal)."""
    om = [Fraction(float(w)) for w in om]
    D = [Fraction(float(v)) for v in D]
    left, total = Fraction(1), Fraction(0)
    for k in sorted(range(len(D)), key=lambda k: -D[k]):
        take = min(om[k], left)
        total += take * D[k]
        left -= take
    return total


def test_greedy_bound_encloses_the_exact_optimum_with_no_slack():
    rng = np.random.default_rng(5)
    for K in (1, 2, 7, 40):
        om = rng.uniform(0, 1, (200, K)) ** 3
        om[:, 0] = 1.0                       # feasible: one key may take all the weight
        om[rng.uniform(size=om.shape) < 0.2] = 0.0
        om[:, 0] = 1.0
        D = rng.uniform(0, 1, (200, K)) * rng.choice([1e-8, 1.0, 1e3], (200, 1))
        D[rng.uniform(size=D.shape) < 0.1] = 0.0
        U = cb.greedy_bound(om, D)
        for b in range(200):
            opt = exact_optimum(om[b], D[b])
            assert Fraction(float(U[b])) >= opt, (K, b)
            assert float(U[b]) <= float(opt) * (1 + 1e-12) + 1e-300, (K, b)  # tight


def test_greedy_bound_is_never_below_a_feasible_weighting():
    rng = np.random.default_rng(6)
    K = 12
    om = rng.uniform(0.05, 1, (500, K))
    D = rng.uniform(0, 1, (500, K))
    pi = rng.dirichlet(np.ones(K) * 0.3, 500)
    pi = np.minimum(pi, om)
    pi /= pi.sum(axis=1, keepdims=True)        # may exceed om again: scale om up to fit
    om = np.maximum(om, pi)
    U = cb.greedy_bound(om, D)
    got = np.array([sum(Fraction(float(p)) * Fraction(float(d)) for p, d in zip(pr, dr))
                    for pr, dr in zip(pi, D)])
    assert all(Fraction(float(u)) >= g - Fraction(1, 10**12) for u, g in zip(U, got))


def test_greedy_bound_refuses_nan_and_infinity():
    om = np.array([[1.0, 0.5], [1.0, np.nan], [1.0, 0.0]])
    D = np.array([[np.nan, 0.1], [0.1, 0.2], [0.1, np.inf]])
    with np.errstate(invalid="ignore"):
        U = cb.greedy_bound(om, D)
    assert not np.isfinite(U[0]) and not np.isfinite(U[1]) and not np.isfinite(U[2])


@pytest.fixture(scope="module")
def sharp_net():
    """The README's first example: N = 5489 keys, lambda about 6300."""
    t = parse_target(["x0*x1", "exp(x2) - 1"], 2)
    return construct_net(t, 0.5, lipschitz=3.0).problem


def _cells(level, count, seed):
    f, l, co = root_cells(2)
    for _ in range(level):
        f, l, co = split_cells(2, f, l, co)
    pick = np.random.default_rng(seed).choice(len(f), count, replace=False)
    return f[pick], l[pick], co[pick]


@pytest.mark.parametrize("method", ["taylor3", "lipschitz"])
def test_hull_bounds_of_a_sharp_head_are_never_below_sampled_errors(sharp_net, method):
    model = prepare(sharp_net)
    f, l, co = _cells(6, 300, 1)
    U, _, _, _ = bound_cells(model, 2, f, l, co, method)
    y = sample_cell_points(2, f, l, co, 16, np.random.default_rng(2))
    lower, _ = error_enclosure_at(model, *unit_point_enclosure(y.reshape(-1, 3)))
    lower = lower.reshape(len(f), 16)
    assert np.all(lower <= U[:, None])
    # the hull is what decides these cells: without it hardly any meets epsilon
    assert np.mean(U <= 0.5) > 0.9


def test_without_the_hull_the_sharp_head_is_not_bounded(sharp_net, monkeypatch):
    monkeypatch.setattr(cb, "_with_hull", lambda model, total, *a: total)
    model = prepare(sharp_net)
    f, l, co = _cells(6, 100, 1)
    U, _, _, _ = bound_cells(model, 2, f, l, co, "taylor3")
    assert np.mean(U <= 0.5) < 0.1


def _planted(problem, shift, where):
    """The problem with the value of the key nearest ``where`` shifted by ``shift``."""
    h = problem.canonical["head"]
    keys, values = np.asarray(h["keys"]), np.array(h["values"], dtype=float)
    k = int(np.argmax(keys @ where))
    values[k, 0] += shift
    return make_problem(2, "softmax", keys, values, list(problem.target.texts), problem.epsilon,
                        biases=np.asarray(h["biases"]))


def test_a_planted_wrong_value_in_a_sharp_head_is_refuted(sharp_net):
    x = np.array([0.48, -0.6, 0.64])
    bad = _planted(sharp_net, 1.5, x)
    r = prove(bad, max_cells=400_000, workers=1)
    assert r.verdict == REFUTED and r.lower > 0.5
    # the witness is near the planted key, where the head takes the wrong value
    assert np.linalg.norm(r.witness.point / np.linalg.norm(r.witness.point) - x) < 0.2


def test_a_value_shifted_just_past_epsilon_is_never_certified(sharp_net):
    """The key's weight is close to 1 at its own direction, so a shift of 0.55 makes the
    error there exceed 0.5 (shown rigorously), and no cell bound may fall below it."""
    x = np.array([0.48, -0.6, 0.64])
    bad = _planted(sharp_net, 0.55, x)
    model = prepare(bad)
    k = int(np.argmax(np.asarray(bad.canonical["head"]["keys"]) @ x))
    p = np.asarray(bad.canonical["head"]["keys"])[k]
    lo, _ = error_enclosure_at(model, *unit_point_enclosure(p[None, :]))
    assert lo[0] > 0.5
    r = prove(bad, max_cells=400_000, workers=1)
    assert r.verdict != CERTIFIED
