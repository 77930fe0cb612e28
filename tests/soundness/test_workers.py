"""The number of worker processes changes nothing but the time: the same verdict, enclosure,
witness, cell count and byte-identical certificate (the tool versions aside) for 1, 2 and 3
workers, and the checker's answer and recomputed bound are the same for every number."""

from __future__ import annotations

import json

import pytest

from certify.certifier.search import prove
from certify.certifier.writer import build_certificate
from certify.checker.head import check_document
from certify.checker.pool import MIN_PARALLEL_CELLS, CellBounder
from certify.kernel.cellbound import prepare
from tests.conftest import circle_problem, sphere_problem, with_epsilon


def _matrix_problem(matrix_doc):
    from certify.formats.problem import problem_from_dict

    return problem_from_dict(dict(matrix_doc, epsilon=1.0))


def _sequence_problem():
    from certify.constructions.elementwise import elementwise_problem
    from certify.constructions.prefixes import construct_net
    from certify.formats.expressions import parse_target

    c = construct_net(parse_target(["x0*x1"], 1), 0.1, 1.0)
    return elementwise_problem(c.problem, 50, False)


CASES = {
    "softmax x0 x1 on S^2": lambda doc: sphere_problem(eps=0.1),
    "core head, vector target on S^2": lambda doc: sphere_problem(kind="core", target=("x0*x1", "exp(x2) - 1"), eps=0.2),
    "full-matrix head with self-attention": _matrix_problem,
    "sequence problem (two token counts)": lambda doc: _sequence_problem(),
    "refuted on S^2": lambda doc: sphere_problem(eps=0.04),
}


def _answer(problem, workers):
    r = prove(problem, workers=workers)
    cert = None
    if r.verdict in ("CERTIFIED", "REFUTED"):
        cert = build_certificate(problem, r)
        cert.pop("tool")
        cert = json.dumps(cert, sort_keys=True)
    return r, cert


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_number_of_workers_gives_the_same_certificate(name, matrix_doc):
    problem = CASES[name](matrix_doc)
    base, cert = _answer(problem, 1)
    assert base.verdict in ("CERTIFIED", "REFUTED"), (name, base.reason)
    for workers in (2, 3):
        r, c = _answer(problem, workers)
        assert (r.verdict, r.lower, r.upper, r.cells) == (base.verdict, base.lower, base.upper, base.cells), name
        assert c == cert, f"{name}: the certificate differs with {workers} workers"
    if base.verdict == "CERTIFIED":
        doc = json.loads(json.dumps(build_certificate(problem, base)))
        one, two = check_document(doc, problem=problem), check_document(doc, problem=problem, workers=2)
        assert one.valid and two.valid and one.upper == two.upper and one.leaves == two.leaves


def test_the_pool_is_used_and_gives_the_chunks_bounds():
    """A batch large enough for the workers is bounded by them, chunk by chunk, exactly as in
    one process (so the cases above exercise the processes, not only the fallback)."""
    import numpy as np

    from certify.kernel.sphere import root_cells, split_cells

    p = circle_problem(eps=0.06)
    F, L, C = root_cells(1)
    for _ in range(10):
        F, L, C = split_cells(1, F, L, C)
    assert F.size >= MIN_PARALLEL_CELLS
    model = prepare(p)
    with CellBounder(p, model, 1, 512) as here, CellBounder(p, model, 2, 512) as there:
        a = here(1, F, L, C, "taylor3")
        b = there(1, F, L, C, "taylor3")
        assert there._pool is not None and here._pool is None
    for x, y in zip(a, b):
        assert np.array_equal(x, y, equal_nan=True)


def test_a_failing_worker_is_an_error_never_a_bound(monkeypatch):
    """A chunk that fails in a worker raises here (exit 4 at the command line), whatever the
    other chunks gave."""
    import numpy as np

    from certify.checker import pool

    p = with_epsilon(circle_problem(), 0.06)
    model = prepare(p)
    bounder = CellBounder(p, model, 2, 512)
    bad = np.zeros(4096, dtype=np.int64)
    with bounder, pytest.raises(Exception):
        bounder(1, bad + 99, bad, bad[:, None], "taylor3")  # facet 99 does not exist
    assert pool.MIN_PARALLEL_CELLS <= 4096


def test_spawned_workers_rebuild_the_same_model(monkeypatch):
    """Where fork is not used (every platform but Linux), workers build the model again from
    the problem's canonical form: the certificate is still the one of a single process."""
    import sys

    problem = sphere_problem(eps=0.1)
    base, cert = _answer(problem, 1)
    monkeypatch.setattr(sys, "platform", "darwin")  # the spawn branch, on this host
    r, c = _answer(problem, 2)
    assert c == cert and r.cells == base.cells


def test_chunks_cover_the_call_in_order_and_spread_small_calls():
    """The cut of a call depends on its size alone, covers every cell once in order, keeps
    chunks at most ``chunk`` long, and gives small calls several chunks (so that the first
    batches of a search keep the workers busy)."""
    from certify.checker.pool import MIN_CHUNK, SPREAD, chunk_cuts

    for chunk in (1, 7, 512, 1024):
        for n in (1, 5, 31, 32, 64, 96, 1000, 1536, 4096, 4097, 10_000):
            cuts = chunk_cuts(n, chunk)
            assert cuts[0].start == 0 and cuts[-1].stop == n
            assert all(a.stop == b.start for a, b in zip(cuts, cuts[1:]))
            assert all(0 < s.stop - s.start <= chunk for s in cuts)
            if n >= SPREAD * MIN_CHUNK and chunk >= MIN_CHUNK:
                assert len(cuts) >= SPREAD
    assert [s.stop - s.start for s in chunk_cuts(1536, 1024)] == [384] * 4
