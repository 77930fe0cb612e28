"""The torus branch-and-bound for sequence maps of length 2 (not trusted: it uses the search's
ordering; its bound is reported beside the certificate's, and a VALID answer does not cover it).

:func:`torus_bound` bounds |F - f| over (S^1)^2 cell pair by cell pair from a
``certify.seqmap-certificate/1`` document (see the function's docstring for the argument).
"""

from __future__ import annotations

import time

import numpy as np
import sympy as sp

from certify.budgets import DEFAULT_MAX_PAIRS
from certify.checker.sequence_map import rounding_slack
from certify.errors import InputError
from certify.formats.expressions import coordinate_symbols
from certify.formats.seqmap import (U_SYM, SeqMap, inner_problem, mean_range, outer_line, outer_line_at,
                                    unpack_breakpoints)
from certify.kernel import interval as iv
from certify.kernel.interval_expressions import compile_interval
from certify.kernel.linebound import bound_segments

#: Pairs split per round (the worst first): large enough to amortise the vectorised bound,
#: small enough that the budget is spent where the bound is.
PAIRS_PER_ROUND = 2048
#: Deepest cell level split (cells of width 2^-40 of a facet: far below any useful bound,
#: and below :data:`certify.kernel.sphere.MAX_LEVEL`, where cell boxes stop being exact).
TORUS_MAX_LEVEL = 40


def _range_max_table(U: np.ndarray) -> list[np.ndarray]:
    table = [U]
    while 2 ** len(table) <= U.size:
        prev, k = table[-1], 2 ** (len(table) - 1)
        table.append(np.maximum(prev[:-k], prev[k:]))
    return table


def _range_max(table, i0: np.ndarray, i1: np.ndarray) -> np.ndarray:
    """max U[i0..i1] (inclusive) per query, from the sparse table."""
    length = i1 - i0 + 1
    k = np.frexp(length.astype(np.float64))[1] - 1  # floor(log2 length), exact
    out = np.empty(i0.size)
    for level in np.unique(k):
        sel = k == level
        T = table[level]
        out[sel] = np.maximum(T[i0[sel]], T[i1[sel] - 2 ** level + 1])
    return out


def _leaf_table(model, cert: dict, slack: float):
    """The inner certificate's leaves on the circle as sorted intervals of t = facet + position
    in [0, 4), with their rigorous bounds (recomputed) and a range-max table."""
    from certify.formats.certificate import decode_tree
    from certify.kernel.cellbound import bound_cells

    F, L, C = decode_tree(1, cert["partition"]["trees"])
    U = np.empty(F.size)
    for s0 in range(0, F.size, 4096):
        sl = slice(s0, s0 + 4096)
        # the leaves the inner search kept with more keys get them here too (see bound_cells)
        U[sl] = bound_cells(model, 1, F[sl], L[sl], C[sl], exhaustive=True,
                            target=min(float(model.epsilon), float(cert["enclosure"]["upper"])))[0]
    U = iv.up(U + slack)
    width = np.ldexp(1.0, -L.astype(np.int64))  # 2^-level, exact
    starts = F + C[:, 0] * width
    order = np.argsort(starts)
    return starts[order], _range_max_table(np.where(np.isfinite(U[order]), U[order], np.inf))


def torus_bound(spec: SeqMap, doc: dict, max_pairs: int = DEFAULT_MAX_PAIRS, time_limit: float | None = None,
                start_level: int = 6, progress=None) -> dict:
    """Branch-and-bound of |F - f| over the torus S^1 x S^1 (n = 2), cell pair by cell pair
    (for a sequence-to-sequence map, the largest over the two output positions).

    For cells C_1, C_2 of the cubed circle, U_p(C_p) is the largest bound of the inner
    certificate's leaves that meet C_p (they tile the circle; bounds recomputed, plus the bias
    rounding) and B_p a box around C_p: u_q lies in (1/2) sum_p psi_{p,q}(B_p), MEAN_q in that
    widened by e = (1/2) sum_p U_p, and
        |F - f| <= sum_q ( max of the outer head's segment bounds over the reachable means
                          + sup |g_q'| over the reachable means * e ).
    Every ingredient is rigorous, so the largest pair bound is a rigorous sup bound; pairs are
    split (both cells) worst first until ``max_pairs`` pairs are bounded (a work budget: the
    bound does not depend on the machine's load; ``time_limit``, default None, is an extra cap
    that makes it host-dependent).
    """
    from certify.certifier.frontier import worst_first as _worst_first

    from certify.kernel.cellbound import prepare
    from certify.kernel.sphere import cell_caps, root_cells, split_cells

    if spec.length != 2:
        raise InputError("--torus", "the torus branch-and-bound is for n = 2")
    t0 = time.monotonic()
    Q = spec.terms
    inner = doc["inner"]
    values = np.asarray(inner["values"], dtype=np.float64)
    leaves = []
    for p in range(2):
        cert = inner["positions"][p]["certificate"]
        prob, eta = inner_problem(spec, inner, p, cert["problem"]["epsilon"])
        leaves.append(_leaf_table(prepare(prob), cert, rounding_slack(values, eta)))
    xs = coordinate_symbols(1)
    psi = [[compile_interval(spec.inner[q][p], xs) for p in range(2)] for q in range(Q)]
    ranges = [mean_range(spec, q) for q in range(Q)]
    # per output position (one for a map that is the same at every position): each outer head
    # as the line head it is there, with its segments' bounds (plus the offsets' rounding)
    outputs = []
    for i in range(2 if spec.per_position else 1):
        outer = []
        for q, o in enumerate(doc["outer"]):
            if spec.per_position:
                head, target, eta = outer_line_at(spec, o, q, i)
                part = o["positions"][i]
                slack = rounding_slack(np.asarray(o["values"], dtype=np.float64)[:, None], eta)
            else:
                (head, target), part, slack = outer_line(spec, o, q), o, 0.0
            bp = unpack_breakpoints(part["breakpoints"])
            U, _ = bound_segments(head, target, bp[:-1], bp[1:])
            outer.append((bp, _range_max_table(iv.up(U + slack)),
                          compile_interval(sp.diff(target.expr, U_SYM), [U_SYM])))
        outputs.append(outer)

    def cell_info(p, F, L, C):
        starts, table = leaves[p]
        width = np.ldexp(1.0, -L.astype(np.int64))  # 2^-level, exact
        lo = F + C[:, 0] * width
        hi = lo + width
        i0 = np.clip(np.searchsorted(starts, lo, side="right") - 1, 0, starts.size - 1)
        i1 = np.clip(np.searchsorted(starts, hi, side="left") - 1, 0, starts.size - 1)
        Ub = _range_max(table, i0, np.maximum(i1, i0))
        c, rho = cell_caps(1, F, L, C)
        box = [(iv.down(c[:, j] - rho), iv.up(c[:, j] + rho)) for j in range(2)]
        return Ub, [psi[q][p](*box) for q in range(Q)]

    def pair_bounds(cells1, cells2):
        U1, P1 = cell_info(0, *cells1)
        U2, P2 = cell_info(1, *cells2)
        e = iv.up(iv.up(U1 + U2) / 2)
        means = []
        for q in range(Q):
            u = iv.add(P1[q], P2[q])
            u = (iv.down(u[0] / 2), iv.up(u[1] / 2))
            # both enclose u_q: intersect the box image with the global range
            u = (np.maximum(u[0], ranges[q][0]), np.minimum(u[1], ranges[q][1]))
            means.append((iv.down(u[0] - e), iv.up(u[1] + e)))
        worst = np.zeros(U1.size)
        for outer in outputs:
            total = np.zeros(U1.size)
            for q, m in enumerate(means):
                bp, table, dg = outer[q]
                inside = (m[0] >= bp[0]) & (m[1] <= bp[-1])
                i0 = np.clip(np.searchsorted(bp, m[0], side="right") - 1, 0, bp.size - 2)
                i1 = np.clip(np.searchsorted(bp, m[1], side="left") - 1, 0, bp.size - 2)
                i1 = np.maximum(i1, i0)
                c = np.where(inside, _range_max(table, i0, i1), np.inf)
                L = iv.mag(dg(m))
                total = iv.up(total + iv.up(c + iv.up(L * e)))
            worst = np.maximum(worst, np.where(np.isfinite(total), total, np.inf))
        return worst

    F, L, C = root_cells(1)
    for _ in range(start_level):
        F, L, C = split_cells(1, F, L, C)
    k = F.size
    i, j = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    a = (F[i.ravel()], L[i.ravel()], C[i.ravel()])
    b = (F[j.ravel()], L[j.ravel()], C[j.ravel()])
    B = pair_bounds(a, b)
    pairs, rounds = B.size, 0
    while True:
        if pairs >= max_pairs or (time_limit is not None and time.monotonic() - t0 > time_limit):
            break
        take = min(PAIRS_PER_ROUND, B.size, (max_pairs - pairs) // 4)
        if take < 1:
            break
        worst = _worst_first(B, take)  # ties broken by position: the same pairs on every build
        if np.any(np.concatenate([a[1][worst], b[1][worst]]) >= TORUS_MAX_LEVEL):
            break
        keep = np.ones(B.size, dtype=bool)
        keep[worst] = False
        ca = split_cells(1, a[0][worst], a[1][worst], a[2][worst])
        cb = split_cells(1, b[0][worst], b[1][worst], b[2][worst])
        # children pairs: each of a's two children with each of b's two children
        ia = np.repeat(np.arange(2 * take), 2)
        ib = (np.arange(2 * take).reshape(take, 2)[np.repeat(np.arange(take), 2)]).ravel()
        na = tuple(x[ia] for x in ca)
        nb = tuple(x[ib] for x in cb)
        nB = pair_bounds(na, nb)
        a = tuple(np.concatenate([x[keep], y]) for x, y in zip(a, na))
        b = tuple(np.concatenate([x[keep], y]) for x, y in zip(b, nb))
        B = np.concatenate([B[keep], nB])
        pairs += nB.size
        rounds += 1
        if progress and rounds % 20 == 0:
            progress(f"torus: {pairs} pairs bounded, bound {float(np.max(B)):.4g}")
    return {"bound": float(np.max(B)), "pairs": int(B.size), "pairs_bounded": int(pairs),
            "seconds": round(time.monotonic() - t0, 3)}
