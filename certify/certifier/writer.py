"""The certificate writer (not trusted: whatever it writes, the checker re-derives).

:func:`build_certificate` turns a decided :class:`~certify.certifier.search.SearchResult`
into a ``certify.certificate/1`` document (:mod:`certify.formats.certificate` describes the
format and reads it); :func:`encode_tree` writes the partition's leaves as the preorder bits
of each facet's tree.
"""

from __future__ import annotations

import numpy as np

from certify import tool_versions
from certify.formats.certificate import CHECKER_VERSION, FORMAT
from certify.formats.jsonio import pack_array
from certify.kernel.sphere import facet_count


def _morton_digits(sphere_dim, levels, coords, depth):
    """Child index at each depth 1..depth (0 past a leaf's level): n x depth."""
    n = levels.shape[0]
    out = np.zeros((n, depth), dtype=np.int64)
    for j in range(1, depth + 1):
        shift = levels - j
        ok = shift >= 0
        digit = np.zeros(n, dtype=np.int64)
        for a in range(sphere_dim):
            bit = (coords[:, a] >> np.where(ok, shift, 0)) & 1
            digit = digit * 2 + bit
        out[:, j - 1] = np.where(ok, digit, 0)
    return out


def encode_tree(sphere_dim: int, facets, levels, coords):
    """Preorder bits of each facet's tree from its leaves. Returns (list of (bit count,
    packed text) per facet, the permutation putting leaves in preorder)."""
    facets, levels, coords = np.asarray(facets), np.asarray(levels), np.asarray(coords)
    depth = int(levels.max()) if levels.size else 0
    digits = _morton_digits(sphere_dim, levels, coords, depth)
    order = np.lexsort([digits[:, j] for j in range(depth - 1, -1, -1)] + [facets])
    f, L, dg = facets[order], levels[order], digits[order]
    trees = []
    for face in range(facet_count(sphere_dim)):
        sel = np.nonzero(f == face)[0]
        if sel.size == 0:
            raise ValueError(f"no leaves on facet {face}")
        lv, dd = L[sel], dg[sel]
        ones = lv.copy()
        if sel.size > 1:
            same = dd[1:] == dd[:-1]
            # common prefix length, capped by both levels
            lcp = np.argmin(np.concatenate([same, np.zeros((same.shape[0], 1), bool)], axis=1), axis=1)
            lcp = np.minimum(lcp, np.minimum(lv[1:], lv[:-1]))
            ones[1:] = lv[1:] - 1 - lcp
        total = int(ones.sum() + sel.size)
        bits = np.zeros(total, dtype=np.uint8)
        ends = np.cumsum(ones + 1) - 1  # position of each leaf's 0
        starts = ends - ones
        mask = np.zeros(total + 1, dtype=np.int64)
        np.add.at(mask, starts, 1)
        np.add.at(mask, ends, -1)
        bits[:] = (np.cumsum(mask)[:total] > 0)
        trees.append({"bits": total, "data": pack_array(np.packbits(bits), "u1")})
    return trees, order


def build_certificate(problem, result) -> dict:
    """The certificate document of a CERTIFIED or REFUTED :class:`SearchResult`."""
    if result.verdict not in ("CERTIFIED", "REFUTED"):
        raise ValueError("only CERTIFIED and REFUTED answers have certificates")
    doc = {
        "format": FORMAT,
        "checker_version": CHECKER_VERSION,
        "tool": tool_versions(),
        "problem": problem.canonical,
        "problem_sha256": problem.sha256,
        "epsilon": float(problem.epsilon),
        "verdict": result.verdict,
        "enclosure": {"lower": float(result.lower),
                      "upper": float(result.upper) if np.isfinite(result.upper) else None},
    }
    if result.witness is not None:
        w = result.witness
        doc["witness"] = {"point": [float(v) for v in w.point], "lower": float(w.lower),
                          "upper": float(w.upper) if np.isfinite(w.upper) else None}
    if result.verdict == "CERTIFIED":
        f, l, c, _ = result.leaves
        trees, _ = encode_tree(problem.sphere_dim, f, l, c)
        doc["partition"] = {
            "kind": "cubed-sphere",
            "trees": trees,
            "leaves": int(f.shape[0]),
            "methods": [result.method],
            "leaf_methods": pack_array(np.zeros(f.shape[0], dtype=np.uint8), "u1"),
        }
    return doc
