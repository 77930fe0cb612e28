"""The search's cells bounded on a Dask distributed cluster (``certify prove --scheduler``).

:class:`DaskBounder` has the interface of :class:`certify.checker.pool.CellBounder` and cuts
every batch into the same chunks, so the bounds, the verdict and the certificate are those of
a run on one process. Each chunk is one task: the worker builds the model from the problem's
canonical form (as a spawned worker of the pool does: ``prepare(problem_from_dict(...))``),
keeps it for the next tasks of the same problem, and bounds the chunk with one BLAS thread.
Results come back as tasks finish and are put in chunk order. A worker that dies takes its
tasks with it and the scheduler runs them again elsewhere (``distributed``'s own resilience;
a task is given up after the scheduler's ``allowed-failures``, which is an internal error
here, never a bound). Nothing here is trusted: the checker re-bounds every leaf locally.

Start a cluster with ``dask scheduler`` (it prints its address, ``tcp://HOST:8786``) and one
``dask worker tcp://HOST:8786 --nthreads 1`` per core on each machine, then run
``certify prove PROBLEM.json --scheduler tcp://HOST:8786``.
"""

from __future__ import annotations

from certify.checker.pool import _joined, chunk_cuts
from certify.errors import InputError

#: Seconds to wait for the scheduler before giving up (exit 2 naming --scheduler).
CONNECT_TIMEOUT = 20

_MODELS: dict = {}


def _bound_chunk(canonical: dict, key: str, third: bool, strict: bool, sphere_dim, facets, levels,
                 coords, method, target=None):
    """One task, run on a worker."""
    from threadpoolctl import threadpool_limits

    from certify.formats.problem import problem_from_dict
    from certify.kernel import interval as iv
    from certify.kernel.cellbound import bound_cells, prepare

    with threadpool_limits(1):
        model = _MODELS.get((key, third))
        if model is None:
            _MODELS.clear()  # one problem at a time per worker
            model = _MODELS[key, third] = prepare(problem_from_dict(canonical), third)
        with iv.strict_backend(strict):
            return bound_cells(model, sphere_dim, facets, levels, coords, method, target=target)


def _the_problem(canonical: dict) -> dict:
    return canonical


def connect(address: str):
    """A ``distributed.Client`` for the scheduler at ``address``; InputError (exit 2) naming
    --scheduler when dask.distributed is missing or the scheduler cannot be reached."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler", "needs dask.distributed: pip install 'certify[cluster]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError("--scheduler", f"cannot reach a Dask scheduler at {address!r} "
                                        f"({type(exc).__name__}: {exc})") from None


#: Cells below which a call stays in this process: a task's round trip to the cluster costs
#: milliseconds (the chunks, and so the bounds, are the same either way).
MIN_CLUSTER_CELLS = 1024


class DaskBounder:
    """``bound_cells`` over fixed chunks, each chunk a task on the cluster at ``address``
    (small calls stay in this process, as :class:`CellBounder`'s do)."""

    def __init__(self, problem, model, address: str, chunk: int = 1024, third: bool = True,
                 strict: bool = False, client=None):

        self.problem, self.model, self.chunk, self.third, self.strict = problem, model, int(chunk), third, strict
        self.min_cells = MIN_CLUSTER_CELLS
        self._own = client is None
        self.client = connect(address) if client is None else client
        # a task that returns the problem, not scattered data: the scheduler keeps its spec and
        # computes it again if every worker holding it dies
        self._doc = self.client.submit(_the_problem, problem.canonical, pure=False)
        self.tasks = 0

    def _here(self, sphere_dim, facets, levels, coords, method, target=None):
        from certify.kernel import interval as iv
        from certify.kernel.cellbound import bound_cells

        with iv.strict_backend(self.strict):
            return bound_cells(self.model, sphere_dim, facets, levels, coords, method, target=target)

    def __call__(self, sphere_dim: int, facets, levels, coords, method: str | None = None,
                 target: float | None = None):
        return self.submit(sphere_dim, facets, levels, coords, method, target)()

    def submit(self, sphere_dim: int, facets, levels, coords, method: str | None = None,
               target: float | None = None):
        """Start bounding the cells on the cluster; returns a function that waits for the
        tasks and returns the result in chunk order (as :meth:`CellBounder.submit`)."""
        n = int(facets.shape[0])
        cuts = chunk_cuts(n, self.chunk)
        if n < self.min_cells or len(cuts) < 2:
            parts = [self._here(sphere_dim, facets[s], levels[s], coords[s], method, target) for s in cuts] or \
                [self._here(sphere_dim, facets, levels, coords, method, target)]
            out = _joined(parts)
            return lambda: out
        return self._spread(sphere_dim, facets, levels, coords, method, target, cuts)

    def _spread(self, sphere_dim, facets, levels, coords, method, target, cuts):
        """Every chunk a task; returns the function that waits for them."""
        key = self.problem.sha256
        futures = [self.client.submit(_bound_chunk, self._doc, key, self.third, self.strict, sphere_dim,
                                      facets[s], levels[s], coords[s], method, target, pure=False)
                   for s in cuts]
        self.tasks += len(futures)

        def wait():
            from distributed import as_completed

            where = {f.key: k for k, f in enumerate(futures)}
            parts = [None] * len(futures)
            for fut in as_completed(futures, loop=self.client.loop):
                parts[where[fut.key]] = fut.result()  # a task given up raises: an internal error
            return _joined(parts)
        return wait

    def close(self) -> None:
        if self._own and self.client is not None:
            self.client.close()
        self.client = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
