"""The search on a Dask cluster (``certify prove --scheduler``) gives the answer and the
certificate of the single-process search, also when a worker is killed midway (its tasks run
again elsewhere). The cluster is a LocalCluster of two worker processes, one thread each."""

from __future__ import annotations

import json
import os

import pytest

from certify.certifier import cluster as cl
from certify.certifier.search import prove
from certify.certifier.writer import build_certificate
from certify.checker.head import check_document
from certify.certifier.cluster import MIN_CLUSTER_CELLS
from certify.errors import InputError
from tests.conftest import sphere_problem

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None, silence_logs=40) as lc:
        with distributed.Client(lc, set_as_default=False) as c:  # as the CLI connects
            yield c


def _body(problem, r):
    cert = build_certificate(problem, r)
    cert.pop("tool")
    return json.dumps(cert, sort_keys=True)


@pytest.fixture(scope="module")
def problem_and_base():
    problem = sphere_problem(kind="core", target=("x0*x1", "exp(x2) - 1"), eps=0.1)
    base = prove(problem, workers=1)
    assert base.verdict == "CERTIFIED" and base.cells > 4 * MIN_CLUSTER_CELLS
    return problem, base


def test_a_cluster_gives_the_certificate_of_one_process(client, problem_and_base, monkeypatch):
    problem, base = problem_and_base
    used = []
    real = cl.DaskBounder._spread

    def spy(self, *a):
        used.append(len(a[-1]))
        return real(self, *a)

    monkeypatch.setattr(cl.DaskBounder, "_spread", spy)
    r = prove(problem, scheduler=client)
    assert used, "no batch went to the cluster"
    assert (r.verdict, r.lower, r.upper, r.cells) == (base.verdict, base.lower, base.upper, base.cells)
    assert _body(problem, r) == _body(problem, base)
    report = check_document(json.loads(json.dumps(build_certificate(problem, r))), problem=problem)
    assert report.valid


def _exit_soon(delay):
    import threading

    threading.Timer(delay, os._exit, (1,)).start()


def test_a_worker_killed_midway_changes_nothing(client, problem_and_base, monkeypatch):
    """On the second batch sent to the cluster, one worker process exits hard while its tasks
    are in flight; the scheduler runs them again and the certificate is unchanged."""
    problem, base = problem_and_base
    calls = []
    real = cl.DaskBounder._spread

    def killing(self, *a):
        calls.append(1)
        if len(calls) == 2:
            victim = sorted(self.client.scheduler_info()["workers"])[0]
            self.client.run(_exit_soon, 0.05, workers=[victim])  # while the batch is in flight
        return real(self, *a)

    monkeypatch.setattr(cl.DaskBounder, "_spread", killing)
    before = set(client.scheduler_info()["workers"])
    r = prove(problem, scheduler=client)
    assert len(calls) >= 2
    assert _body(problem, r) == _body(problem, base)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts the killed worker
    assert set(client.scheduler_info()["workers"]) != before


def test_an_unreachable_scheduler_is_an_input_error(monkeypatch):
    monkeypatch.setattr(cl, "CONNECT_TIMEOUT", 2)
    with pytest.raises(InputError) as e:
        cl.connect("tcp://127.0.0.1:9")
    assert e.value.field == "--scheduler"
