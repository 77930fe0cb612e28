"""Verdicts of the search: planted counterexamples, near-threshold cases against an
independent high-precision sup, zero-slack containment, every head kind, m = 1..4."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from certify.kernel.cellbound import error_enclosure_at, prepare, unit_point_enclosure
from certify.formats.problem import make_problem, problem_from_dict
from certify.certifier.search import CERTIFIED, REFUTED, UNDECIDED, prove
from certify.kernel.sphere import cell_boxes, embed_points
from certify.heads.attention import problem_error

from tests.conftest import circle_problem, sphere_problem, with_epsilon


def mp_error(problem, x, dps=40):
    """max_i |H_i(x) - f_i(x)| in mpmath at dps digits, from the canonical reduced head."""
    with mp.workdps(dps):
        h = problem.canonical["head"]
        x = [mp.mpf(v) for v in x]
        n = mp.sqrt(mp.fsum(v * v for v in x))
        x = [v / n for v in x]
        scores = [mp.fsum(mp.mpf(a) * xi for a, xi in zip(k, x)) + mp.mpf(b) for k, b in zip(h["keys"], h["biases"])]
        w = [mp.exp(s) for s in scores]
        subs = {sym: v for sym, v in zip(problem.target.symbols, x)}
        out = mp.mpf(0)
        for i, expr in enumerate(problem.target.exprs):
            num = mp.fsum(wk * mp.mpf(v[i]) for wk, v in zip(w, h["values"]))
            H = num / (mp.fsum(w) + h.get("context_tokens", 0)) if h["kind"] == "softmax" else num
            f = mp.mpf(str(expr.evalf(dps + 10, subs=subs)))
            out = max(out, abs(H - f))
        return out


def true_sup_circle(problem, grid=4000):
    """Independent sup on S^1: a dense angle grid in floats, then golden-section in mpmath."""
    th = np.linspace(0, 2 * np.pi, grid, endpoint=False)
    X = np.stack([np.cos(th), np.sin(th)], 1)
    err = problem_error(problem, X)
    best = mp.mpf(0)
    for k in np.argsort(-err)[:6]:
        a, b = th[k] - 2 * np.pi / grid, th[k] + 2 * np.pi / grid
        g = lambda t: -mp_error(problem, [mp.cos(t), mp.sin(t)])
        lo, hi = mp.mpf(a), mp.mpf(b)
        r = (mp.sqrt(5) - 1) / 2
        for _ in range(80):
            c1, c2 = hi - r * (hi - lo), lo + r * (hi - lo)
            if g(c1) < g(c2):
                hi = c2
            else:
                lo = c1
        best = max(best, -g((lo + hi) / 2))
    return float(best)


@pytest.mark.parametrize("kind,target", [("softmax", ("x0**2",)), ("core", ("x0**2",)),
                                         ("softmax", ("sin(2*x0)", "x1"))])
def test_near_threshold_circle(kind, target):
    p = circle_problem(kind=kind, target=target)
    sup = true_sup_circle(p)
    hi = prove(with_epsilon(p, 1.02 * sup))
    lo = prove(with_epsilon(p, 0.98 * sup))
    assert hi.verdict == CERTIFIED, (sup, hi)
    assert lo.verdict == REFUTED, (sup, lo)
    assert hi.lower <= sup * (1 + 1e-9) and hi.upper >= sup * (1 - 1e-9)
    assert lo.witness.lower > 0.98 * sup


def test_near_threshold_sphere():
    from certify.certifier.estimate import estimate_sup_error

    p = sphere_problem()
    est = estimate_sup_error(p, samples=20000, starts=20)
    # the estimate's argmax, polished further, evaluated in mpmath at 40 digits
    x = est.argmax
    sup = float(mp_error(p, x))
    assert abs(sup - est.value) < 1e-9
    assert prove(with_epsilon(p, 1.02 * sup)).verdict == CERTIFIED
    assert prove(with_epsilon(p, 0.98 * sup)).verdict == REFUTED


def planted(depth=0.3, sharp=1e6):
    """A head for x0*x1 on S^2 that is good except in a narrow cap around e."""
    from certify.constructions.prefixes import construct_vmf
    from certify.formats.expressions import parse_target

    base = construct_vmf(parse_target(["x0*x1"], 2), 0.1, 1.0, lam=30.0, prefix_length=200,
                         kind="softmax").problem
    h = base.canonical["head"]
    e = np.array([0.6, 0.0, 0.8])
    best = float(np.max(np.asarray(h["keys"]) @ e))
    keys = np.vstack([h["keys"], sharp * e])
    values = np.vstack([h["values"], [[depth]]])
    biases = np.append(h["biases"], -sharp + best + 5.0)
    return keys, values, biases, e


def test_planted_counterexample_is_never_certified():
    keys, values, biases, e = planted()
    # elsewhere the error is about 0.05; in the cap it is about 0.3
    p = make_problem(2, "softmax", keys, values, ["x0*x1"], 0.2, biases=biases)
    # sampling misses the cap
    from certify.certifier.estimate import random_sphere_points

    pts = random_sphere_points(2, 20000, np.random.default_rng(0))
    assert problem_error(p, pts).max() < 0.2
    r = prove(p, max_cells=200000)
    assert r.verdict == REFUTED
    w = r.witness.point / np.linalg.norm(r.witness.point)
    assert np.linalg.norm(w - e) < 0.02 and r.witness.lower > 0.2


@pytest.mark.parametrize("batch", [16, 64, 4096])
def test_refutation_with_a_batch_in_flight_keeps_a_rigorous_enclosure(batch):
    """The search bounds one batch while it uses the previous one's results; a refutation
    that ends it with a batch in flight still reports an upper bound above the true sup (at
    least the lower end of an accuracy run's enclosure), and the same answer with 2 workers."""
    keys, values, biases, e = planted()
    p = make_problem(2, "softmax", keys, values, ["x0*x1"], 0.2, biases=biases)
    r = prove(p, max_cells=200000, batch=batch)
    assert r.verdict == REFUTED and r.witness.lower > 0.2
    ref = prove(p, max_cells=400000, accuracy=0.05)
    assert r.lower <= ref.upper and r.upper >= ref.lower and r.upper >= r.lower
    r2 = prove(p, max_cells=200000, batch=batch, workers=2)
    assert (r2.verdict, r2.lower, r2.upper, r2.cells) == (r.verdict, r.lower, r.upper, r.cells)


def test_budget_gives_undecided_with_bounds():
    p = sphere_problem(eps=0.05)
    r = prove(p, max_cells=30)
    assert r.verdict == UNDECIDED and "budget" in r.reason
    assert 0 < r.lower <= r.upper


def test_zero_slack_containment(certified_pair):
    """Rigorously evaluated errors at dense points in every leaf never exceed its bound."""
    p, r = certified_pair
    model = prepare(p)
    f, l, c, U = r.leaves
    lower, upper = cell_boxes(1, f, l, c)
    rng = np.random.default_rng(0)
    u = rng.uniform(0, 1, (f.size, 50, 1))
    y = embed_points(1, f, lower[:, None, :] + u * (upper - lower)[:, None, :])
    lo, _ = error_enclosure_at(model, *unit_point_enclosure(y.reshape(-1, 2)))
    lo = lo.reshape(f.size, 50)
    assert np.all(lo <= U[:, None])
    assert lo.max() <= r.upper <= p.epsilon


@pytest.mark.parametrize("kind,lam,context", [("softmax", 300.0, 0), ("core", 40.0, 0), ("softmax", 800.0, 3), ("softmax", 1e5, 0)])
def test_point_enclosures_contain_the_exact_error(kind, lam, context):
    """Zero slack: the witnesses' enclosure (scores by one midpoint-radius product, weights
    from one exp per key) contains the error at the exact unit point, in mpmath at 40 digits;
    sharp keys put most weights far below the largest, some of them subnormal or zero."""
    p = sphere_problem(kind=kind, lam=lam, n=150, target=("x0*x1 - x2", "exp(x0)"), eps=0.1)
    if context:
        doc = dict(p.canonical)
        doc["head"] = dict(doc["head"], context_tokens=context)
        p = problem_from_dict(doc)
    model = prepare(p)
    rng = np.random.default_rng(7)
    keys = np.asarray(p.canonical["head"]["keys"], dtype=float)
    u = keys / np.linalg.norm(keys, axis=1, keepdims=True)
    near = np.argsort(-(u[:6] @ u.T), axis=1)[:, 1]
    # random points, points near keys' directions (one weight dominates) and midway between
    # a key and its nearest neighbour (two weights balance: the scores' rounding shows)
    y = np.concatenate([rng.standard_normal((12, 3)), u[:4] * (1 + 1e-3 * rng.standard_normal((4, 3))),
                        u[:6] + u[near]])
    lo, hi = error_enclosure_at(model, *unit_point_enclosure(y))
    assert np.all(hi - lo <= 1e-13 * lam)     # narrow: the scores' rounding, to a few ulps
    for k in range(y.shape[0]):
        exact = mp_error(p, y[k])
        assert mp.mpf(float(lo[k])) <= exact <= mp.mpf(float(hi[k])), (k, lo[k], exact, hi[k])


@pytest.mark.parametrize("norm", [1e3, 1e6, 1e9])
def test_point_enclosures_hold_where_large_products_cancel(norm):
    """Zero slack where the scores' rounding is all there is: keys of norm up to 1e9 nearly
    orthogonal to the point, so each score is a small difference of large products (the
    outward steps on the small scores are far narrower than the products' rounding; without
    the scores' radius most of these enclosures miss)."""
    rng = np.random.default_rng(3)
    y0 = rng.standard_normal(3)
    P = rng.standard_normal((20, 3))
    P -= np.outer(P @ y0, y0) / (y0 @ y0)
    p = make_problem(2, "softmax", norm * P, rng.standard_normal((20, 1)), ["0"], 0.1)
    model = prepare(p)
    y = np.stack([y0, 3.0 * y0, 0.7 * y0, y0 + 1e-12, y0 + 1e-9 * rng.standard_normal(3)])
    lo, hi = error_enclosure_at(model, *unit_point_enclosure(y))
    for k in range(y.shape[0]):
        exact = mp_error(p, y[k], dps=60)
        assert mp.mpf(float(lo[k])) <= exact <= mp.mpf(float(hi[k])), (k, lo[k], exact, hi[k])


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_every_dimension(m):
    from certify.constructions.prefixes import construct_vmf
    from certify.formats.expressions import parse_target

    t = parse_target(["x0"], m)
    from certify.certifier.estimate import estimate_sup_error

    p = construct_vmf(t, 0.5, 1.0, lam=1.5, prefix_length=10 * m, kind="softmax").problem
    est = estimate_sup_error(p, samples=4000).value
    r = prove(with_epsilon(p, 1.3 * est), max_cells=400000)
    assert r.verdict == CERTIFIED and r.lower <= est * (1 + 1e-9) <= r.upper
    assert prove(with_epsilon(p, 0.9 * est)).verdict == REFUTED


def test_full_matrix_head_with_self_attention(matrix_doc):
    p = problem_from_dict(matrix_doc)
    r = prove(with_epsilon(p, 3.0))
    assert r.method == "lipschitz"
    assert r.verdict == CERTIFIED
    sup = r.lower
    assert prove(with_epsilon(p, 0.9 * sup)).verdict == REFUTED
    # the exact reduction is enclosed: the float evaluation stays inside the bounds
    X = np.stack([np.cos(np.linspace(0, 6.28, 500)), np.sin(np.linspace(0, 6.28, 500))], 1)
    assert problem_error(p, X).max() <= r.upper


def test_context_tokens_and_core_vector_targets():
    p = sphere_problem(kind="core", target=("x0", "x1*x2"), eps=0.3)
    assert prove(p).verdict == CERTIFIED
    q = sphere_problem(eps=0.3)
    doc = dict(q.canonical)
    doc["head"] = dict(doc["head"], context_tokens=3)
    r = prove(problem_from_dict(doc), max_cells=200000)
    assert r.verdict in (CERTIFIED, REFUTED)  # decided either way, never a crash


def test_cell_bounds_do_not_depend_on_the_batch():
    """A cell's bound is the same alone and inside a batch of other cells (pruned key lists of
    different lengths are padded): the search and the checker batch cells differently, so a
    batch-dependent bound would make valid certificates fail to check."""
    import json

    from certify.certifier.writer import build_certificate
    from certify.formats.certificate import decode_tree
    from certify.checker.head import check_document
    from certify.constructions.prefixes import construct_net
    from certify.formats.expressions import parse_target
    from certify.kernel.cellbound import bound_cells

    # lambda ~ 1e6: a padded far key's e^{rho |A - c|} overflows (the bug this guards against)
    c = construct_net(parse_target(["x0*x1"], 1), 0.1, 1.0, prefix_length=63)
    proof = prove(c.problem, max_cells=200_000)
    assert proof.verdict == CERTIFIED
    doc = json.loads(json.dumps(build_certificate(c.problem, proof)))
    assert check_document(doc).valid
    F, L, C = decode_tree(1, doc["partition"]["trees"])
    model = prepare(c.problem)
    together, *_ = bound_cells(model, 1, F, L, C, "taylor3")
    rng = np.random.default_rng(1)
    for j in rng.choice(F.size, 40, replace=False):
        alone, *_ = bound_cells(model, 1, F[j:j + 1], L[j:j + 1], C[j:j + 1], "taylor3")
        assert np.isfinite(together[j])
        assert together[j] == pytest.approx(alone[0], rel=1e-9)
