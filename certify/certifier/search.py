"""Adaptive branch-and-bound over cubed-sphere cells: decide (or compute) the sup error.

``prove`` starts from the 2(m+1) facets of the cubed sphere and refines, worst bound
first, every cell whose rigorous bound U (:mod:`certify.kernel.cellbound`) is above the
current threshold. Cells at or below it become leaves of the certificate's partition.

* Decision (default): threshold = epsilon (1 - MARGIN). All leaves below it: CERTIFIED. A point
  whose error is rigorously > epsilon (the centres of the worst cells are evaluated with
  intervals, the best one polished by a local search first): REFUTED.
* ``accuracy=A``: the threshold is min(epsilon, lower (1 + A)) while lower <= epsilon and
  lower (1 + A) after, where lower is the best rigorous witness so far (it only grows,
  so earlier leaves stay valid). The search ends when upper / lower - 1 < A, which then
  also decides epsilon (Sollya's supnorm contract).
* A cell budget that runs out gives UNDECIDED with the bounds so far.

One batch is bounded (by the worker processes or the cluster) while the previous batch's
results are used; the next batch is taken before the previous one's children are pushed,
whatever the number of workers, so the order of the search is a function of the problem.

Determinism: the answer (verdict, enclosure, witness, partition, cell count) is a function of
the problem, ``max_cells``, ``accuracy``, ``method`` and ``batch`` only (not of ``workers``: the
chunks each process bounds are fixed, see :mod:`certify.checker.pool`). The search never
branches on the clock: cells are taken worst bound first with ties broken by position in the
frontier (not by the sorting algorithm, which may differ between numpy builds), and progress
is reported by time without changing what is computed. ``time_limit`` (default None) is an
optional extra cap; when it is given and ends the search, the answer depends on the host's
speed and load, and the reason says so.

Nothing in this module is trusted: the certificate it writes is re-checked from scratch
by :mod:`certify.checker.head`, which never imports it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from certify.budgets import DEFAULT_MAX_CELLS
from certify.kernel import interval as iv
from certify.checker.pool import CellBounder
from certify.certifier.frontier import DEFAULT_MEMORY_CELLS, Frontier
from certify.kernel.cellbound import error_enclosure_at, prepare, unit_point_enclosure
from certify.kernel.sphere import MAX_LEVEL, root_cells, split_cells

CERTIFIED, REFUTED, UNDECIDED = "CERTIFIED", "REFUTED", "UNDECIDED"
#: Cells taken from the frontier together, worst first (not a soundness matter).
BATCH = 4096
#: Cells bounded together: a batch is cut into chunks of this size, bounded in this process or
#: spread over worker processes; the chunks, and so the answer, are the same for every number
#: of workers.
CHUNK = 1024
#: Centres per batch evaluated rigorously as witness candidates.
WITNESS_CANDIDATES = 6
#: A cell whose bound exceeds the threshold this many times is split two levels at once
#: (its children would be split anyway: bounds shrink at most 8x per level at third
#: order). Saves bounding the hopeless middle level; not a soundness matter.
JUMP_RATIO = 16.0
#: ... and one more level per further factor JUMP_RATIO^3, up to this many levels at once
#: (the coarse cells of a head with many keys in reach are the costliest to bound, and
#: hopeless; a smaller factor splits cells that a level less would have decided on S^3) ...
MAX_JUMP = 3
#: ... where that makes at most 2^this many children (S^1 to S^3; on S^4 three levels are
#: 4,096 children per cell, and cells that one level less would have decided are split).
MAX_JUMP_CHILDREN_LOG2 = 9
#: A leaf is kept when its bound is at most epsilon (1 - MARGIN): the checker bounds leaves in
#: other chunks, and a cell's bound moves with its chunk's company (BLAS summation order, and
#: the error factors of the cell bound's sums, taken from the padded width of their block: up
#: to 3.4e-9 relative measured, N = 3 x 10^4 keys at level 7), so a leaf at epsilon to the
#: last bits could be rejected there.
MARGIN = 1e-6
#: A batch takes at least this fraction (1 / FRONTIER_SHARE) of the frontier (so that a cluster
#: of many workers gets many chunks per batch when there is much to do) ...
FRONTIER_SHARE = 8
#: ... and at most this many cells (so that a batch ends, and ``time_limit`` and progress are
#: looked at, every few seconds per worker).
MAX_BATCH = 1 << 16



@dataclass
class Witness:
    point: np.ndarray     # float vector y; the witness is x = y / |y| exactly
    lower: float
    upper: float


@dataclass
class SearchResult:
    verdict: str
    lower: float                  # rigorous: sup error >= lower (0 without a witness)
    upper: float                  # rigorous: sup error <= upper (inf when unknown)
    witness: Witness | None
    method: str
    cells: int                    # cells bounded
    seconds: float
    reason: str = ""
    leaves: tuple = field(default=(), repr=False)  # (facets, levels, coords, U) of the partition
    accuracy: float | None = None
    peak_frontier: int = 0        # most open cells held in memory at once
    spilled: int = 0              # open cells written to disk (see certify.certifier.frontier)

    @property
    def leaf_count(self) -> int:
        return 0 if not self.leaves else int(self.leaves[0].shape[0])


def prove(problem, max_cells: int = DEFAULT_MAX_CELLS, time_limit: float | None = None,
          accuracy: float | None = None, method: str | None = None, progress=None,
          batch: int = BATCH, workers: int = 1, scheduler=None,
          frontier_memory: int = DEFAULT_MEMORY_CELLS) -> SearchResult:
    """Decide sup_x max_i |H_i(x) - f_i(x)| <= epsilon for a :class:`Problem` (see module).

    ``max_cells`` is the work budget that makes the answer reproducible whatever the load;
    ``time_limit`` (seconds, default None) is an extra cap that makes it host-dependent;
    ``workers`` processes bound the cells of each batch (the answer is the same for every
    number: :class:`certify.checker.pool.CellBounder`); ``scheduler`` (an address, or a
    ``distributed.Client``) bounds them on a Dask cluster instead, with the same answer
    (:mod:`certify.certifier.cluster`). At most ``frontier_memory`` open cells are held in
    memory, the rest wait on disk (same answer: :mod:`certify.certifier.frontier`)."""
    model = prepare(problem, third=True)
    if scheduler is not None:
        from certify.certifier.cluster import DaskBounder

        client = None if isinstance(scheduler, str) else scheduler
        bounder = DaskBounder(problem, model, scheduler if client is None else "", CHUNK, client=client)
    else:
        bounder = CellBounder(problem, model, workers, CHUNK)
    with bounder:
        with Frontier(problem.sphere_dim, frontier_memory) as frontier:
            return _prove(problem, bounder, frontier, max_cells, time_limit, accuracy, method, progress, batch)


def _prove(problem, bounder, frontier, max_cells, time_limit, accuracy, method, progress, batch) -> SearchResult:
    t0 = time.monotonic()
    m = problem.sphere_dim
    eps = float(problem.epsilon)
    keep_eps = iv.down(eps * (1.0 - MARGIN))
    model = bounder.model
    method = method or model.default_method

    F, L, C = root_cells(m)
    frontier.push(F, L, C, np.full(F.shape[0], np.inf))  # priority: the parent's bound
    leaves = ([], [], [], [])
    leaf_max = 0.0                 # the largest bound among the leaves so far
    stuck_upper = 0.0
    inflight_upper = 0.0           # cells taken but not bounded when a refutation ended the search
    best = Witness(np.zeros(m + 1), 0.0, np.inf)
    cells = 0
    last_report = t0
    reason = ""

    def threshold():
        lo = best.lower
        if accuracy is None:
            return keep_eps
        target = iv.down(lo * (1.0 + accuracy))
        return min(keep_eps, target) if lo <= eps else target

    def consider(points):
        nonlocal best
        xlo, xhi = unit_point_enclosure(points)
        lo, hi = error_enclosure_at(model, xlo, xhi)
        k = int(np.argmax(lo))
        if lo[k] > best.lower:
            best = Witness(points[k].copy(), float(lo[k]), float(hi[k]))
            return True
        return False

    def upper_now():
        parts = [stuck_upper, leaf_max, inflight_upper]
        if frontier.size:
            parts.append(frontier.max_priority())
        return max(parts)

    taken = 0                      # cells taken from the frontier (bounded or in flight)

    def launch():
        """Take the next batch and start bounding it: (cells, pending result, the largest
        priority they can have), or None when the search takes no more (``reason`` says why
        when a budget ended it)."""
        nonlocal taken, reason
        if frontier.size == 0:
            return None
        if taken >= max_cells:
            reason = f"cell budget of {max_cells} spent"
            return None
        if time_limit is not None and time.monotonic() - t0 >= time_limit:
            reason = (f"time limit of {time_limit:g} s reached (a wall-clock cap: this answer "
                      "depends on the host's speed and load; use --max-cells alone to reproduce it)")
            return None
        # batches grow with the frontier (up to MAX_BATCH); taking one costs O(batch)
        take = min(max(batch, frontier.size // FRONTIER_SHARE), max(batch, MAX_BATCH),
                   max(1, max_cells - taken))
        pmax = frontier.max_priority()
        f, l, c = frontier.take(take)
        taken += f.size
        # the threshold now: cells whose first bound misses it are bounded again with more
        # keys (see bound_cells); it only grows, and the order of the search fixes it
        return (f, l, c), bounder.submit(m, f, l, c, method, threshold()), pmax

    # One batch is in flight while the previous one's results are used (witnesses, leaves,
    # splitting): the workers never wait for this process. The next batch is taken before
    # the previous batch's children are pushed, for every number of workers alike, so the
    # order of the search, and the answer, do not depend on ``workers``.
    def witnesses(est, centres, l):
        """Witness candidates: the worst centres, the best one polished."""
        top = np.argsort(-np.nan_to_num(est, nan=-1.0), kind="stable")[:WITNESS_CANDIDATES]
        if consider(centres[top]):
            from certify.certifier.estimate import polish

            scale = float(2.0 ** -(int(l[top[0]]) + 2))
            _, y = polish(problem, best.point, scale, maxfev=200)
            consider(y[None, :])

    pending = launch()
    while pending is not None:
        ahead = launch()
        (f, l, c), wait, _ = pending
        U, est, centres, _ = wait()
        cells += f.size
        if accuracy is not None:
            witnesses(est, centres, l)   # the threshold depends on the witness
        thr = threshold()
        done = U <= thr
        # facets and levels as int16 while the search runs (levels <= MAX_LEVEL = 50)
        for arr, src in zip(leaves, (f[done].astype(np.int16), l[done].astype(np.int16), c[done], U[done])):
            arr.append(src)
        if np.any(done):
            leaf_max = max(leaf_max, float(np.max(U[done])))
        split = ~done
        deep = split & (l >= MAX_LEVEL)
        if np.any(deep):
            stuck_upper = max(stuck_upper, float(np.max(U[deep])))
            split &= ~deep
        if np.any(split):
            # levels split at once: 2 where the bound is above JUMP_RATIO x the threshold, one
            # more per further factor JUMP_RATIO^3 (an infinite bound: MAX_JUMP levels), down to
            # MAX_LEVEL at most; else 1
            jump = np.ones(f.size, dtype=np.int64)
            for k in range(1, MAX_JUMP if m * MAX_JUMP <= MAX_JUMP_CHILDREN_LOG2 else 2):
                jump += (U > JUMP_RATIO ** (3 * k - 2) * thr) & (l + k + 1 <= MAX_LEVEL)
            for times in range(1, MAX_JUMP + 1):
                sel_split = split & (jump == times)
                if not np.any(sel_split):
                    continue
                cf, cl, cc = f[sel_split], l[sel_split], c[sel_split]
                for _ in range(times):
                    cf, cl, cc = split_cells(m, cf, cl, cc)
                frontier.push(cf, cl, cc, np.repeat(U[sel_split], 1 << (m * times)))
        if ahead is None:
            # the children start now (the batch the loop would take next), while this
            # process looks for witnesses
            ahead = launch()
        if accuracy is None:
            witnesses(est, centres, l)
        if accuracy is None and best.lower > eps:
            if ahead is not None:
                # decided: the batch in flight is not needed; its cells' priorities (at most
                # the frontier's largest when it was taken) stay in the upper bound
                inflight_upper = float(ahead[2])
            break
        now = time.monotonic()
        if progress and now - last_report >= 0.5:
            last_report = now
            # the batch in flight was taken from the top of the frontier: its priorities count
            upper = max(upper_now(), float(ahead[2])) if ahead is not None else upper_now()
            progress({"cells": cells, "frontier": int(frontier.size), "lower": best.lower,
                      "upper": upper, "seconds": now - t0})
        pending = ahead

    upper = upper_now()
    lower = best.lower
    if accuracy is not None and frontier.size == 0 and not stuck_upper:
        reason = ""
    if best.lower > eps and (accuracy is None or not frontier.size):
        verdict = REFUTED
    elif not frontier.size and not stuck_upper and upper <= eps:
        verdict = CERTIFIED
    elif best.lower > eps:
        verdict = REFUTED  # accuracy not reached, but the decision is made
    else:
        verdict = UNDECIDED
        if not reason:
            reason = f"cells at the deepest level ({MAX_LEVEL}) still have bounds above the threshold"
    result_leaves = ()
    if verdict == CERTIFIED:
        result_leaves = tuple(np.concatenate(a).astype(t) for a, t in zip(leaves, (np.int64, np.int64, np.int64, np.float64)))
    return SearchResult(verdict, lower, upper, best if best.lower > 0 else None, method, cells,
                        time.monotonic() - t0, reason, result_leaves, accuracy,
                        frontier.peak_memory, frontier.spilled)
