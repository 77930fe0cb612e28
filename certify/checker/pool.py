"""Bounding cells in several processes (trusted: the checker bounds leaves with it and the
search bounds cells with it; each gets the same bounds for any number of processes).

SOUNDNESS CONTRACT: ``CellBounder(problem, model, workers, chunk)(sphere_dim, F, L, C, method)``
returns what :func:`certify.kernel.cellbound.bound_cells` returns for the cells (with its
``exhaustive`` flag as given to the bounder, the checker's, and the call's ``target``),
computed chunk
by chunk: the cells are cut into consecutive chunks by ``chunk_cuts(n, chunk)`` (at most
``chunk`` cells each, a function of the call's size n alone), and each chunk is bounded by ``bound_cells`` on its own, either in this process with ``model``
or in a worker process holding the same model: inherited by fork on Linux, built again from
the problem's canonical form elsewhere (``prepare(problem_from_dict(problem.canonical))``, the
construction the checker uses).
The chunks, and so every bound, are the same for every number of workers: a verdict, an
enclosure or a certificate never depends on ``workers``. Processes add nothing to what must be
trusted beyond the kernel itself. A worker that fails raises here: an internal error, never a
bound.
"""

from __future__ import annotations

import numpy as np

from certify.kernel import interval as iv
from certify.kernel.cellbound import bound_cells, prepare

#: Cells below which a call stays in this process: sending chunks to workers costs more than
#: it saves (the chunks, and so the bounds, are the same either way).
MIN_PARALLEL_CELLS = 64
#: A call is cut into at least this many chunks (of at least MIN_CHUNK cells), so that the
#: small calls at the start of a search keep several workers busy; the cut is a function of
#: the call's size alone.
SPREAD = 4
MIN_CHUNK = 32

_MODEL = None


def _one_thread() -> None:
    """Workers already use every core: their BLAS runs one thread each (no oversubscription).
    A matrix product's bits do not depend on OpenBLAS's thread count here (it splits the
    output, not the sums); other BLAS builds may differ, which tests/soundness/test_workers.py
    would show, and no bound depends on it: the error bounds hold for any summation order."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _adopt_model(model) -> None:
    """A forked worker: the parent's model itself, inherited (never pickled)."""
    global _MODEL
    _one_thread()
    _MODEL = model


def _build_model(canonical: dict, third: bool) -> None:
    """A spawned worker: the model built again from the problem's canonical form."""
    global _MODEL
    from certify.formats.problem import problem_from_dict

    _one_thread()
    _MODEL = prepare(problem_from_dict(canonical), third)


def _bound_chunk(sphere_dim, facets, levels, coords, method, strict, exhaustive, target):
    with iv.strict_backend(strict):
        return bound_cells(_MODEL, sphere_dim, facets, levels, coords, method, exhaustive, target)


def chunk_cuts(n: int, chunk: int) -> list[slice]:
    """The chunks of a call of n cells: consecutive slices of min(chunk, max(MIN_CHUNK,
    ceil(n / SPREAD))) cells, the last one shorter; a function of n and chunk only."""
    size = max(1, min(chunk, max(MIN_CHUNK, -(-n // SPREAD))))
    return [slice(s, min(n, s + size)) for s in range(0, n, size)]


def _joined(parts) -> tuple:
    """The chunks' results as one result, in chunk order."""
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


class CellBounder:
    """``bound_cells`` over fixed chunks, in this process (``workers`` = 1) or in ``workers``
    processes started on the first call large enough to use them and stopped by :meth:`close`."""

    def __init__(self, problem, model, workers: int = 1, chunk: int = 1024, third: bool = True,
                 strict: bool = False, exhaustive: bool = False):
        if workers < 1 or chunk < 1:
            raise ValueError("workers and chunk must be positive")
        self.problem, self.model, self.workers, self.chunk = problem, model, int(workers), int(chunk)
        self.third, self.strict, self.exhaustive = third, strict, exhaustive
        self._pool = None

    def _executor(self):
        if self._pool is None:
            import multiprocessing
            import sys
            from concurrent.futures import ProcessPoolExecutor

            if sys.platform.startswith("linux"):
                # fork: the workers inherit this process's model (the same bits, nothing
                # pickled, and a user's script is not run again as spawn would)
                ctx, init, args = multiprocessing.get_context("fork"), _adopt_model, (self.model,)
            else:
                ctx, init, args = (multiprocessing.get_context("spawn"), _build_model,
                                   (self.problem.canonical, self.third))
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=init, initargs=args)
        return self._pool

    def _here(self, sphere_dim, facets, levels, coords, method, target=None):
        with iv.strict_backend(self.strict):
            return bound_cells(self.model, sphere_dim, facets, levels, coords, method, self.exhaustive, target)

    def __call__(self, sphere_dim: int, facets, levels, coords, method: str | None = None,
                 target: float | None = None):
        return self.submit(sphere_dim, facets, levels, coords, method, target)()

    def submit(self, sphere_dim: int, facets, levels, coords, method: str | None = None,
               target: float | None = None):
        """Start bounding the cells; returns a function that waits for and returns what
        ``__call__`` returns. The workers bound the chunks while this process goes on; the
        chunks, and so the bounds, are those of ``__call__``. ``target``: see ``bound_cells``."""
        n = int(facets.shape[0])
        if n == 0:
            out = self._here(sphere_dim, facets, levels, coords, method, target)
            return lambda: out
        cuts = chunk_cuts(n, self.chunk)
        if self.workers > 1 and n >= MIN_PARALLEL_CELLS and len(cuts) > 1:
            pool = self._executor()
            jobs = [pool.submit(_bound_chunk, sphere_dim, facets[s], levels[s], coords[s], method, self.strict,
                                self.exhaustive, target)
                    for s in cuts]
            return lambda: _joined([j.result() for j in jobs])
        out = _joined([self._here(sphere_dim, facets[s], levels[s], coords[s], method, target) for s in cuts])
        return lambda: out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
