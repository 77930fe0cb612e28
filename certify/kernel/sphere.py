"""Cubed-sphere cells of S^m with exact dyadic descriptions (trusted base).

The 2(m+1) facets of [-1, 1]^(m+1) (facet f: axis a = f // 2, sign s = +1 for even f and
-1 for odd f), projected by y -> y / |y|, cover S^m: every unit x lies on the image of the
facet of its largest |coordinate|. A cell is a dyadic box of a facet: level L and integer
coordinates i in [0, 2^L)^m give the free coordinates [-1 + 2 i / 2^L, -1 + 2 (i+1) / 2^L],
all exact binary64 numbers for L <= 50. A cell's tree encoding (see certificate) is checked
by counting: a complete 2^m-ary split of each facet tiles it.

SOUNDNESS CONTRACT (``cell_caps``): for each cell it returns a float centre c and a radius
rho with |x - c| <= rho for every x in the cell's image on S^m. rho is computed with
outward-rounded intervals from the 2^m corners: the image lies in the cap around c of
angular radius max_corner angle(corner, c) because that cap is a convex cone when the
angle is below pi/2 (checked; otherwise rho = inf). The chordal distance to each exactly
normalised corner is enclosed and rounded up.
"""

from __future__ import annotations

import itertools

import numpy as np

from certify.kernel import interval as iv

#: Deepest dyadic level: coordinates -1 + 2 i / 2^L stay exact in binary64.
MAX_LEVEL = 50


def facet_count(sphere_dim: int) -> int:
    return 2 * (sphere_dim + 1)


def cell_boxes(sphere_dim: int, facets: np.ndarray, levels: np.ndarray, coords: np.ndarray):
    """Lower and upper free coordinates (B x m) of dyadic cells (exact floats)."""
    width = np.ldexp(2.0, -levels.astype(np.int64))  # 2 / 2^level, exact
    lower = -1.0 + coords.astype(np.float64) * width[:, None]
    return lower, lower + width[:, None]


def embed_points(sphere_dim: int, facets: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Vectorised: free (B x K x m) coordinates of facet points -> (B x K x (m+1))."""
    B, K, m = free.shape
    axis = facets // 2
    sign = np.where(facets % 2 == 0, 1.0, -1.0)
    out = np.empty((B, K, m + 1))
    # the free axes of axis a are 0..m without a, in order: position j >= a maps to j + 1
    cols = np.arange(m)[None, :] + (np.arange(m)[None, :] >= axis[:, None])
    rows = np.arange(B)[:, None, None]
    ks = np.arange(K)[None, :, None]
    out[rows, ks, cols[:, None, :]] = free
    out[np.arange(B), :, axis] = sign[:, None]
    return out


def cell_caps(sphere_dim: int, facets: np.ndarray, levels: np.ndarray, coords: np.ndarray):
    """(centres c: B x (m+1) float, rho: B rigorous radius upper bounds)."""
    m = sphere_dim
    lower, upper = cell_boxes(m, facets, levels, coords)
    mid = (lower + upper) / 2  # exact: dyadic
    yc = embed_points(m, facets, mid[:, None, :])[:, 0, :]
    c = yc / np.linalg.norm(yc, axis=1, keepdims=True)
    corners = np.array(list(itertools.product((0, 1), repeat=m)), dtype=bool)  # 2^m x m
    free = np.where(corners[None, :, :], upper[:, None, :], lower[:, None, :])  # B x 2^m x m
    y = embed_points(m, facets, free)  # exact floats
    # |y/|y| - c|^2 = 1 - 2 <y, c>/|y| + |c|^2, enclosed
    n2 = iv.sum_enclosure(*iv.square(iv.point(y)), axis=-1)
    ny = iv.sqrt(n2)
    dot = iv.sum_enclosure(*iv.mul(iv.point(y), iv.point(np.broadcast_to(c[:, None, :], y.shape))), axis=-1)
    c2 = iv.sum_enclosure(*iv.square(iv.point(c)), axis=-1)
    cos_angle = iv.div(dot, iv.mul(ny, iv.sqrt((c2[0][:, None], c2[1][:, None]))))
    d2 = iv.add(iv.sub((np.ones_like(dot[0]), np.ones_like(dot[0])), iv.scale(iv.div(dot, ny), 2.0)),
                (np.broadcast_to(c2[0][:, None], dot[0].shape), np.broadcast_to(c2[1][:, None], dot[0].shape)))
    rho2 = np.max(d2[1], axis=1)
    rho = iv.up(np.sqrt(np.maximum(rho2, 0.0)))
    # the cap argument needs every corner within an angle < pi/2 of c
    convex = np.all(cos_angle[0] > 0, axis=1)
    return c, np.where(convex & np.isfinite(rho), rho, np.inf)


def root_cells(sphere_dim: int):
    f = np.arange(facet_count(sphere_dim))
    return f, np.zeros_like(f), np.zeros((f.size, sphere_dim), dtype=np.int64)


def split_cells(sphere_dim: int, facets, levels, coords):
    """Children of each cell in a fixed order (the binary digits of 0..2^m-1, first axis
    most significant): returns arrays of length B * 2^m, children of cell b contiguous."""
    m = sphere_dim
    kids = np.array(list(itertools.product((0, 1), repeat=m)), dtype=np.int64)  # 2^m x m
    B = facets.shape[0]
    cf = np.repeat(facets, kids.shape[0])
    cl = np.repeat(levels + 1, kids.shape[0])
    cc = (2 * coords[:, None, :] + kids[None, :, :]).reshape(B * kids.shape[0], m)
    return cf, cl, cc
