"""Leopardi's recursive zonal equal-area partition of S^m (EQSP), in float64.

P. Leopardi, "A partition of the unit sphere into regions of equal area and small
diameter", ETNA 25 (2006). S^m is cut into a north cap, collars and a south cap; the caps
hold one region each, collar i is split into n_i regions by partitioning S^(m-1)
recursively. Every region has area exactly |S^m|/N (up to float rounding in the cap
colatitudes) and diameter O(N^(-1/m)).

A region of S^m is a box in spherical polar coordinates (phi, theta_2, ..., theta_m)
(phi in [0, 2 pi], colatitudes in [0, pi]; the last coordinate is the colatitude from the
north pole e_m), the convention of Leopardi's toolbox, without its optional rotations.

For each region we return a centre inside it, defined recursively (caps: their pole; a
collar region: the centre of its sub-region of S^(m-1) at the collar's middle colatitude;
an arc: its midpoint) and an upper bound on its covering radius about that centre,
  R(collar region) <= (theta_bot - theta_top)/2 + max sin(theta) * R(sub-region),
  R(cap of colatitude c) <= c,   R(arc) <= length/2     (geodesic),
since the centre reaches any point of the region by a meridian segment followed by an arc of
a parallel. Chordal radius = 2 sin(R/2). This float bound serves constructions (choosing N
for a wanted delta); it certifies nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import special

from certify.constructions.vmf import sphere_area


def cap_area(dim: int, colatitude: float) -> float:
    """Area of the spherical cap of S^dim with the given angular radius."""
    if dim == 1:
        return 2 * colatitude
    return sphere_area(dim) * special.betainc(dim / 2, dim / 2, math.sin(colatitude / 2) ** 2)


def cap_colatitude(dim: int, area: float) -> float:
    """Angular radius of the cap of S^dim with the given area (inverse of :func:`cap_area`)."""
    if dim == 1:
        return area / 2
    frac = min(1.0, max(0.0, area / sphere_area(dim)))
    return 2 * math.asin(math.sqrt(special.betaincinv(dim / 2, dim / 2, frac)))


def _caps(dim: int, N: int) -> tuple[list[float], list[int]]:
    """Colatitudes of the zone boundaries and the number of regions in each zone."""
    if N == 1:
        return [math.pi], [1]
    region_area = sphere_area(dim) / N
    polar = math.pi / 2 if N == 2 else cap_colatitude(dim, region_area)
    ideal_angle = region_area ** (1 / dim)
    collars = 0 if N <= 2 else max(1, round((math.pi - 2 * polar) / ideal_angle))
    ideal = [1.0]
    if collars:
        fitting = (math.pi - 2 * polar) / collars
        for i in range(1, collars + 1):
            top, bot = polar + (i - 1) * fitting, polar + i * fitting
            ideal.append((cap_area(dim, bot) - cap_area(dim, top)) / region_area)
    ideal.append(1.0)
    counts, discrepancy = [], 0.0
    for r in ideal:
        n = int(round(r + discrepancy))
        discrepancy += r - n
        counts.append(n)
    caps, subtotal = [polar], 1
    for i in range(1, collars + 1):
        subtotal += counts[i]
        caps.append(cap_colatitude(dim, subtotal * region_area))
    caps.append(math.pi)
    return caps, counts


@dataclass(frozen=True)
class _Regions:
    lower: np.ndarray   # N x dim polar lower corners
    upper: np.ndarray   # N x dim polar upper corners
    centre: np.ndarray  # N x dim polar centres (inside their regions)
    radius: np.ndarray  # N geodesic covering-radius bounds about the centres


def _whole_sphere(dim: int) -> _Regions:
    upper = np.full(dim, math.pi)
    upper[0] = 2 * math.pi
    return _Regions(np.zeros((1, dim)), upper[None, :], np.zeros((1, dim)), np.array([math.pi]))


@lru_cache(maxsize=256)
def _regions(dim: int, N: int) -> _Regions:
    if N == 1:
        return _whole_sphere(dim)
    if dim == 1:
        edges = 2 * math.pi * np.arange(N + 1) / N
        mids = (edges[:-1] + edges[1:]) / 2
        return _Regions(edges[:-1, None], edges[1:, None], mids[:, None], np.full(N, math.pi / N))
    caps, counts = _caps(dim, N)
    full = _whole_sphere(dim)
    # north cap: the polar box of the whole sphere cut at colatitude caps[0]; centre: the pole
    north_up = full.upper.copy()
    north_up[0, -1] = caps[0]
    lowers, uppers = [full.lower], [north_up]
    centres, radii = [np.zeros((1, dim))], [np.array([caps[0]])]
    for i in range(1, len(counts) - 1):
        top, bot = caps[i - 1], caps[i]
        sub = _regions(dim - 1, counts[i])
        n = counts[i]
        smax = 1.0 if top <= math.pi / 2 <= bot else max(math.sin(top), math.sin(bot))
        lowers.append(np.column_stack([sub.lower, np.full(n, top)]))
        uppers.append(np.column_stack([sub.upper, np.full(n, bot)]))
        centres.append(np.column_stack([sub.centre, np.full(n, (top + bot) / 2)]))
        # meridian from the centre's colatitude, then the parallel within the sub-region
        radii.append(np.minimum((bot - top) / 2 + smax * sub.radius, math.pi))
    south_low = np.zeros((1, dim))
    south_low[0, -1] = caps[-2]
    south_centre = np.zeros((1, dim))
    south_centre[0, -1] = math.pi
    lowers.append(south_low)
    uppers.append(full.upper)
    centres.append(south_centre)
    radii.append(np.array([math.pi - caps[-2]]))
    return _Regions(np.concatenate(lowers), np.concatenate(uppers), np.concatenate(centres),
                    np.concatenate(radii))


def polar_to_cartesian(s: np.ndarray) -> np.ndarray:
    """Leopardi's polar2cart for rows s = (phi, theta_2, ..., theta_dim) -> R^(dim+1)."""
    s = np.atleast_2d(np.asarray(s, dtype=np.float64))
    n, dim = s.shape
    x = np.zeros((n, dim + 1))
    sinprod = np.ones(n)
    for k in range(dim - 1, 0, -1):
        x[:, k + 1] = sinprod * np.cos(s[:, k])
        sinprod = sinprod * np.sin(s[:, k])
    x[:, 1] = sinprod * np.sin(s[:, 0])
    x[:, 0] = sinprod * np.cos(s[:, 0])
    return x


@dataclass(frozen=True)
class EqualAreaPartition:
    """N regions of S^m of equal area, each with a centre inside it and a covering radius."""

    sphere_dim: int
    lower: np.ndarray    # N x m polar boxes
    upper: np.ndarray
    centres: np.ndarray  # N x (m+1) unit vectors
    radii: np.ndarray    # N chordal bounds on |y - centre| for y in the region (float)

    @property
    def size(self) -> int:
        return self.centres.shape[0]

    @property
    def delta(self) -> float:
        """Largest chordal covering radius: every x in S^m is within delta of the centre of
        its region (what the net and the vMF quadrature bounds use)."""
        return float(self.radii.max())

    @property
    def cell_area(self) -> float:
        return sphere_area(self.sphere_dim) / self.size


def equal_area_partition(sphere_dim: int, N: int) -> EqualAreaPartition:
    """Leopardi's EQ partition of S^m into N >= 1 regions."""
    if sphere_dim < 1 or N < 1:
        raise ValueError("need sphere_dim >= 1 and N >= 1")
    reg = _regions(sphere_dim, N)
    centres = polar_to_cartesian(reg.centre)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    chord = 2 * np.sin(np.minimum(reg.radius, math.pi) / 2)
    return EqualAreaPartition(sphere_dim, reg.lower, reg.upper, centres, chord)


def partition_for_delta(sphere_dim: int, delta: float, max_size: int) -> EqualAreaPartition | None:
    """The smallest EQ partition (found by doubling then bisection on N) whose chordal
    covering radius bound is <= delta, or None if it would need more than ``max_size`` regions.

    The radius bound is not monotone in N in every case, so the result is the smallest N
    found by the search, not necessarily the smallest overall.
    """
    lo, hi = 1, 2
    while True:
        part = equal_area_partition(sphere_dim, hi)
        if part.delta <= delta:
            break
        lo = hi
        if hi >= max_size:
            return None
        hi = min(2 * hi, max_size)
    best = part
    while hi - lo > 1:
        mid = (lo + hi) // 2
        part = equal_area_partition(sphere_dim, mid)
        if part.delta <= delta:
            hi, best = mid, part
        else:
            lo = mid
    return best
