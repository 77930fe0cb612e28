"""The search's frontier (certify.certifier.frontier): cells come out highest bucket first and in
arrival order inside a bucket, whatever the memory cap; spilled cells come back unchanged, the
spill files are removed, and a search with a tiny cap gives the same answer as with the default."""

from __future__ import annotations

import os

import numpy as np
import pytest

from certify.certifier.frontier import BOTTOM, TOP, Frontier, bucket_of, worst_first
from certify.certifier.search import prove
from tests.conftest import sphere_problem
from tests.soundness.test_determinism import _certificate_text, _same_result


def test_buckets_are_binary_exponents_exactly():
    one_below = np.nextafter(1.0, 0.0)
    P = np.array([1.0, one_below, 0.5, 3.0, 0.0, np.inf, np.nan, 5e-324, 1e308, -np.inf])
    b = bucket_of(P)
    assert b[0] == 1 and b[1] == 0 and b[2] == 0 and b[3] == 2
    assert b[4] == BOTTOM and b[5] == TOP and b[6] == TOP
    assert b[7] == -1073 and b[8] == 1024 and b[9] == BOTTOM
    with Frontier(1) as fr:
        fr.push([0, 0], [0, 0], [[0], [1]], [-np.inf, 5.0])
        assert fr.max_priority() == 5.0


def _run(ops, memory_cells):
    """Replay pushes and takes; returns what each take gave, and the frontier's statistics."""
    out = []
    with Frontier(2, memory_cells) as fr:
        for op in ops:
            if op[0] == "push":
                fr.push(*op[1:])
            else:
                out.append(fr.take(op[1]))
                assert fr.size == op[2]
        spilled, directory = fr.spilled, fr._dir.name if fr._dir is not None else None
        if directory is not None:
            assert os.path.isdir(directory)
    if directory is not None:
        assert not os.path.exists(directory), "spill files are left behind"
    return out, spilled


def _ops(seed):
    """Random pushes and takes, with the expected size after each take and the reference order
    (sorted by bucket, highest first, then arrival) of the cells each take must return."""
    rng = np.random.default_rng(seed)
    ops, alive, expect, serial = [], [], [], 0
    for _ in range(60):
        if rng.random() < 0.6 or not alive:
            n = int(rng.integers(1, 400))
            P = np.exp2(rng.integers(-6, 6, n) + rng.random(n))
            P[rng.random(n) < 0.05] = np.inf
            P[rng.random(n) < 0.03] = np.nan
            C = np.stack([np.arange(serial, serial + n), rng.integers(0, 9, n)], axis=1)
            F, L = rng.integers(0, 6, n), rng.integers(0, 30, n)
            ops.append(("push", F, L, C, P))
            b = bucket_of(P)
            alive += [(-int(b[i]), serial + i) for i in range(n)]
            serial += n
        else:
            k = int(rng.integers(1, 700))
            alive.sort()
            got, alive = alive[:k], alive[k:]
            ops.append(("take", k, len(alive)))
            expect.append([s for _, s in got])
    return ops, expect


@pytest.mark.parametrize("seed", range(6))
def test_cells_come_out_by_bucket_then_arrival_with_any_memory_cap(seed):
    ops, expect = _ops(seed)
    ref, _ = _run(ops, 1 << 30)
    for got, want in zip(ref, expect):
        assert got[2][:, 0].tolist() == want
        assert got[0].dtype == np.int64 and got[1].dtype == np.int64
    for cap in (1, 50, 700):
        spilled_run, spilled = _run(ops, cap)
        assert spilled > 0
        for a, b in zip(ref, spilled_run):
            for x, y in zip(a, b):
                assert np.array_equal(x, y)


def test_pushed_cells_come_back_unchanged():
    rng = np.random.default_rng(7)
    F, L = rng.integers(0, 8, 500), rng.integers(0, 50, 500)
    C = rng.integers(0, 1 << 49, (500, 3))
    with Frontier(3, memory_cells=10) as fr:
        fr.push(F, L, C, np.full(500, 2.0))    # one bucket: arrival order
        fr.push(F[:1], L[:1], C[:1], np.full(1, 0.1))
        assert fr.max_priority() == 2.0
        f, l, c = fr.take(500)
        assert np.array_equal(f, F) and np.array_equal(l, L) and np.array_equal(c, C)
        assert fr.max_priority() == 0.1 and fr.size == 1


def test_a_search_with_a_tiny_memory_cap_spills_and_gives_the_same_answer():
    problem = sphere_problem(lam=30.0, n=200, eps=0.1)
    default = prove(problem)
    tiny = prove(problem, frontier_memory=256)
    assert default.spilled == 0 and tiny.spilled > 0
    assert tiny.peak_frontier <= default.peak_frontier
    _same_result(default, tiny)
    assert _certificate_text(problem, default) == _certificate_text(problem, tiny)


def test_ties_are_broken_by_position_not_by_the_sorting_algorithm():
    rng = np.random.default_rng(1)
    for _ in range(200):
        P = rng.integers(0, 4, size=int(rng.integers(2, 60))).astype(np.float64)
        P[rng.random(P.size) < 0.1] = np.inf
        P[rng.random(P.size) < 0.05] = np.nan
        take = int(rng.integers(1, P.size + 1))
        got = np.sort(worst_first(P, take))
        key = np.where(np.isnan(P), np.inf, P)
        want = np.sort(np.lexsort((np.arange(P.size), -key))[:take])  # by value, then position
        assert np.array_equal(got, want), (P.tolist(), take)


def test_memory_stays_near_the_cap_when_every_cell_is_in_one_bucket():
    """The top bucket is spilled too (its latest arrivals), so cells of one bound's size (as
    on S^4, where every coarse cell's bound is huge) cannot fill the memory."""
    with Frontier(2, memory_cells=5000) as fr:
        for s in range(100):
            C = np.stack([np.arange(s * 1000, (s + 1) * 1000), np.zeros(1000, dtype=np.int64)], axis=1)
            fr.push(np.zeros(1000), np.zeros(1000), C, np.full(1000, 3.0))
            assert fr.in_memory <= 5000 + 1000
        assert fr.peak_memory <= 6000 and fr.spilled >= 90_000
        got = np.concatenate([fr.take(7000)[2][:, 0] for _ in range(15)])
        assert np.array_equal(got, np.arange(100_000)) and fr.size == 0
