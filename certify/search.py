"""Adaptive branch-and-bound over cubed-sphere cells: decide (or compute) the sup error.

``prove`` starts from the 2(m+1) facets of the cubed sphere and refines, worst bound
first, every cell whose rigorous bound U (:mod:`certify.kernel.cellbound`) is above the
current threshold. Cells at or below it become leaves of the certificate's partition.

* Decision (default): threshold = epsilon. All leaves <= epsilon: CERTIFIED. A point
  whose error is rigorously > epsilon (the centres of the worst cells are evaluated with
  intervals, the best one polished by a local search first): REFUTED.
* ``accuracy=A``: the threshold is min(epsilon, lower (1 + A)) while lower <= epsilon and
  lower (1 + A) after, where lower is the best rigorous witness so far (it only grows,
  so earlier leaves stay valid). The search ends when upper / lower - 1 < A, which then
  also decides epsilon (Sollya's supnorm contract).
* A cell budget or time limit that runs out gives UNDECIDED with the bounds so far.

Nothing in this module is trusted: the certificate it writes is re-checked from scratch
by :mod:`certify.checker`, which never imports it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .kernel import interval as iv
from .kernel.cellbound import (bound_cells, error_enclosure_at, prepare,
                               unit_point_enclosure)
from .sphere import MAX_LEVEL, root_cells, split_cells

CERTIFIED, REFUTED, UNDECIDED = "CERTIFIED", "REFUTED", "UNDECIDED"
#: Cells evaluated together (vectorisation width; not a soundness matter).
BATCH = 4096
#: Centres per batch evaluated rigorously as witness candidates.
WITNESS_CANDIDATES = 6
#: A cell whose bound exceeds the threshold this many times is split two levels at once
#: (its children would be split anyway: bounds shrink at most 8x per level at third
#: order). Saves bounding the hopeless middle level; not a soundness matter.
JUMP_RATIO = 16.0

_SELF_TESTED = False


def ensure_self_test() -> None:
    """Run the interval module's start-up self-test once per process."""
    global _SELF_TESTED
    if not _SELF_TESTED:
        iv.self_test()
        _SELF_TESTED = True


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

    @property
    def leaf_count(self) -> int:
        return 0 if not self.leaves else int(self.leaves[0].shape[0])


def prove(problem, max_cells: int = 2_000_000, time_limit: float | None = None,
          accuracy: float | None = None, method: str | None = None, progress=None,
          batch: int = BATCH) -> SearchResult:
    """Decide sup_x max_i |H_i(x) - f_i(x)| <= epsilon for a :class:`Problem` (see module)."""
    ensure_self_test()
    t0 = time.monotonic()
    m = problem.sphere_dim
    eps = float(problem.epsilon)
    model = prepare(problem, third=True)
    method = method or model.default_method

    F, L, C = root_cells(m)
    P = np.full(F.shape[0], np.inf)  # priority: the parent's bound
    leaves = ([], [], [], [])
    stuck_upper = 0.0
    best = Witness(np.zeros(m + 1), 0.0, np.inf)
    cells = 0
    last_report = t0
    reason = ""

    def threshold():
        lo = best.lower
        if accuracy is None:
            return eps
        target = iv.down(lo * (1.0 + accuracy))
        return min(eps, target) if lo <= eps else target

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
        parts = [stuck_upper] + [float(np.max(u)) for u in leaves[3] if u.size]
        if P.size:
            parts.append(float(np.max(P)))
        return max(parts)

    while True:
        if F.size == 0:
            break
        elapsed = time.monotonic() - t0
        if cells >= max_cells:
            reason = f"cell budget of {max_cells} spent"
            break
        if time_limit is not None and elapsed >= time_limit:
            reason = f"time limit of {time_limit:g} s reached"
            break
        take = min(batch, F.size, max(1, max_cells - cells))
        if take < F.size:
            sel = np.argpartition(-P, take - 1)[:take]
            rest = np.ones(F.size, dtype=bool)
            rest[sel] = False
        else:
            sel = np.arange(F.size)
            rest = np.zeros(F.size, dtype=bool)
        f, l, c = F[sel], L[sel], C[sel]
        F, L, C, P = F[rest], L[rest], C[rest], P[rest]
        U, est, centres, _ = bound_cells(model, m, f, l, c, method)
        cells += f.size
        # witness candidates: the worst centres, the best one polished
        top = np.argsort(-np.nan_to_num(est, nan=-1.0))[:WITNESS_CANDIDATES]
        if consider(centres[top]):
            from .estimate import polish

            scale = float(2.0 ** -(int(l[top[0]]) + 2))
            _, y = polish(problem, best.point, scale, maxfev=200)
            consider(y[None, :])
        thr = threshold()
        done = U <= thr
        for arr, src in zip(leaves, (f[done], l[done], c[done], U[done])):
            arr.append(src)
        split = ~done
        deep = split & (l >= MAX_LEVEL)
        if np.any(deep):
            stuck_upper = max(stuck_upper, float(np.max(U[deep])))
            split &= ~deep
        if np.any(split):
            far = split & (U > JUMP_RATIO * thr) & (l + 2 <= MAX_LEVEL)
            for sel_split, times in ((split & ~far, 1), (far, 2)):
                if not np.any(sel_split):
                    continue
                cf, cl, cc = f[sel_split], l[sel_split], c[sel_split]
                for _ in range(times):
                    cf, cl, cc = split_cells(m, cf, cl, cc)
                F = np.concatenate([F, cf])
                L = np.concatenate([L, cl])
                C = np.concatenate([C, cc])
                P = np.concatenate([P, np.repeat(U[sel_split], 1 << (m * times))])
        if accuracy is None and best.lower > eps:
            break
        now = time.monotonic()
        if progress and now - last_report >= 0.5:
            last_report = now
            progress({"cells": cells, "frontier": int(F.size), "lower": best.lower,
                      "upper": upper_now(), "seconds": now - t0})

    upper = upper_now() if (F.size or stuck_upper) else max([0.0] + [float(np.max(u)) for u in leaves[3] if u.size])
    lower = best.lower
    if accuracy is not None and F.size == 0 and not stuck_upper:
        reason = ""
    if best.lower > eps and (accuracy is None or not F.size):
        verdict = REFUTED
    elif not F.size and not stuck_upper and upper <= eps:
        verdict = CERTIFIED
    elif best.lower > eps:
        verdict = REFUTED  # accuracy not reached, but the decision is made
    else:
        verdict = UNDECIDED
        if not reason:
            reason = f"cells at the deepest level ({MAX_LEVEL}) still have bounds above the threshold"
    result_leaves = ()
    if verdict == CERTIFIED:
        result_leaves = tuple(np.concatenate(a) for a in leaves)
    return SearchResult(verdict, lower, upper, best if best.lower > 0 else None, method, cells,
                        time.monotonic() - t0, reason, result_leaves, accuracy)
