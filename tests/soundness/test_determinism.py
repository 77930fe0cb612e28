"""Verdicts that do not depend on load: ``certify prove`` stops on a cell budget, never on the
clock, so the same problem gives the same verdict, enclosure, witness and certificate on an
idle and on a loaded machine; a small budget gives the same UNDECIDED answer every time."""

from __future__ import annotations

import inspect
import json
import multiprocessing as mp
import time

import numpy as np
import pytest

from certify.budgets import BISECTION_MAX_CELLS, DEFAULT_MAX_CELLS, DEFAULT_MAX_PAIRS
from certify.certifier.writer import build_certificate
from certify.certifier.search import CERTIFIED, REFUTED, UNDECIDED, prove

from tests.conftest import circle_problem, sphere_problem

#: Keys of a certificate (at any depth) that hold timings: the only fields allowed to differ.
TIMING_FIELDS = {"seconds", "time", "timestamp", "elapsed"}
#: Busy-loop processes started for the loaded run (the reference machine has 2 cores, so 3
#: loaders more than double its load).
LOADERS = 3


def _busy_loop():  # pragma: no cover - runs in a child process
    while True:
        pass


class cpu_load:
    """Context manager: LOADERS busy-loop processes for the duration of the block."""

    def __enter__(self):
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        self.procs = [ctx.Process(target=_busy_loop, daemon=True) for _ in range(LOADERS)]
        for p in self.procs:
            p.start()
        time.sleep(0.2)  # let them take the cores
        return self

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join(5)
        return False


def _without_timings(doc):
    if isinstance(doc, dict):
        return {k: _without_timings(v) for k, v in doc.items() if k not in TIMING_FIELDS}
    if isinstance(doc, list):
        return [_without_timings(v) for v in doc]
    return doc


def _certificate_text(problem, result) -> str:
    return json.dumps(_without_timings(build_certificate(problem, result)), sort_keys=True,
                      separators=(",", ":"), allow_nan=False)


def _same_result(a, b) -> None:
    assert (a.verdict, a.lower, a.upper, a.cells, a.method, a.reason) == \
           (b.verdict, b.lower, b.upper, b.cells, b.method, b.reason)
    assert (a.witness is None) == (b.witness is None)
    if a.witness is not None:
        assert np.array_equal(a.witness.point, b.witness.point)
        assert (a.witness.lower, a.witness.upper) == (b.witness.lower, b.witness.upper)
    assert len(a.leaves) == len(b.leaves)
    for x, y in zip(a.leaves, b.leaves):
        assert np.array_equal(x, y)


@pytest.mark.parametrize("make,verdict", [
    (lambda: sphere_problem(lam=30.0, n=200, eps=0.1), CERTIFIED),    # 7e3 cells on S^2
    (lambda: circle_problem(eps=0.02), REFUTED),
])
def test_same_certificate_on_an_idle_and_a_loaded_machine(make, verdict):
    problem = make()
    idle = prove(problem)
    with cpu_load() as load:
        loaded = prove(problem)
        assert load.alive(), "the load ended before the loaded proof did"
    assert idle.verdict == verdict, (idle.verdict, idle.reason)
    _same_result(idle, loaded)
    a, b = _certificate_text(problem, idle), _certificate_text(problem, loaded)
    assert a == b, f"certificates differ for problem {problem.sha256}"


def test_a_small_budget_is_undecided_with_the_same_bounds_every_time():
    problem = sphere_problem(lam=30.0, n=200, eps=0.1)
    first = prove(problem, max_cells=500)
    second = prove(problem, max_cells=500)
    assert first.verdict == UNDECIDED and "cell budget of 500" in first.reason
    assert np.isfinite(first.upper) and first.upper > problem.epsilon
    _same_result(first, second)
    with cpu_load():
        third = prove(problem, max_cells=500)
    _same_result(first, third)


def test_a_time_limit_is_an_extra_cap_that_says_it_depends_on_the_host():
    problem = sphere_problem(lam=30.0, n=200, eps=0.1)
    r = prove(problem, time_limit=1e-9)
    assert r.verdict == UNDECIDED and "time limit" in r.reason and "host" in r.reason


def test_every_verdict_path_defaults_to_a_work_budget():
    from certify.constructions.prefix_length import smallest_certified
    from certify.cli.main import build_parser
    from certify.constructions.kolmogorov_arnold import construct
    from certify.certifier.torus import torus_bound
    from proofs._instances import decide

    def default(fn, name):
        return inspect.signature(fn).parameters[name].default

    assert default(prove, "max_cells") == DEFAULT_MAX_CELLS and default(prove, "time_limit") is None
    assert default(smallest_certified, "max_cells") == BISECTION_MAX_CELLS
    assert default(smallest_certified, "time_limit") is None
    assert default(construct, "time_limit") is None and default(construct, "max_cells") == DEFAULT_MAX_CELLS
    assert default(torus_bound, "time_limit") is None and default(torus_bound, "max_pairs") == DEFAULT_MAX_PAIRS
    assert "time_limit" not in inspect.signature(decide).parameters
    parser = build_parser()
    cases = {
        ("prove", "p.json"): DEFAULT_MAX_CELLS,
        ("bound", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "1"): BISECTION_MAX_CELLS,
        ("construct-seq", "elementwise", "--target", "x0", "--sphere-dim", "1", "--epsilon", "0.1",
         "--max-length", "2", "-o", "s.json"): DEFAULT_MAX_CELLS,
        ("construct-seq", "ka", "--example", "product", "-o", "k.json"): DEFAULT_MAX_CELLS,
    }
    for argv, cells in cases.items():
        args = parser.parse_args(list(argv))
        assert args.time_limit is None, argv
        assert args.max_cells == cells, argv


@pytest.mark.slow
def test_demo_decides_every_case_it_builds(capsys):
    from certify.report.demo import DEMO_MAX_CELLS, run_demo

    assert run_demo(json_output=True) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    built = [r for r in rows if r["built"]]
    assert len(built) == 4 and [r["case"] for r in rows if not r["built"]] == ["vmf-derived"]
    for r in built:
        assert r["verdict"] in (CERTIFIED, REFUTED), r
        assert r["certificate_valid"] is True, r
        assert r["cells"] <= DEMO_MAX_CELLS // 4, f"{r['case']} uses {r['cells']} cells: little margin left"
