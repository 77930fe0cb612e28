"""The branch-and-bound over a segment for heads on a line (not trusted: the checker re-bounds
the segments it returns with :func:`certify.kernel.linebound.check_line`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from certify.kernel.linebound import LineHead, LineTarget, bound_segments


@dataclass
class LineResult:
    verdict: str             # CERTIFIED (every segment <= threshold) or UNDECIDED
    upper: float             # rigorous: sup over [lo, hi] of |H - g| <= upper
    lower: float             # rigorous: the error at some float point is >= lower
    breakpoints: np.ndarray  # l_0 = lo < l_1 < ... < l_S = hi: the certified segments
    segments: int            # segments bounded


def prove_line(head: LineHead, target: LineTarget, lo: float, hi: float, epsilon: float,
               accuracy: float | None = None, max_segments: int = 2_000_000,
               start: int = 64) -> LineResult:
    """Branch-and-bound over [lo, hi] until every segment bound is <= epsilon (or, with
    ``accuracy`` A, <= max(lower (1 + A), ...) while that is below epsilon). Not trusted by
    itself: :func:`check_line` re-bounds the returned segments."""
    edges = np.linspace(lo, hi, start + 1)
    edges[0], edges[-1] = lo, hi
    L, R = edges[:-1], edges[1:]
    done_l, done_r, done_u = [], [], []
    lower, count = 0.0, 0
    while L.size:
        U, low = bound_segments(head, target, L, R)
        count += L.size
        lower = max(lower, float(np.max(low)))
        thr = epsilon if accuracy is None else min(epsilon, max(lower * (1 + accuracy), epsilon * 1e-3))
        ok = U <= thr
        done_l.append(L[ok]); done_r.append(R[ok]); done_u.append(U[ok])
        L, R = L[~ok], R[~ok]
        if count + 2 * L.size > max_segments or lower > epsilon:
            break
        mid = (L + R) / 2
        stuck = (mid <= L) | (mid >= R)
        if np.any(stuck):
            break
        L, R = np.concatenate([L, mid]), np.concatenate([mid, R])
    if L.size:
        upper = float(np.inf)
        return LineResult("UNDECIDED", upper, lower, np.array([lo, hi]), count)
    left = np.concatenate(done_l)
    order = np.argsort(left)
    right = np.concatenate(done_r)[order]
    bps = np.concatenate([left[order], right[-1:]])
    return LineResult("CERTIFIED", float(np.max(np.concatenate(done_u))), lower, bps, count)
