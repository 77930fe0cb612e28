"""Leopardi's equal-area partition: counts, equal areas, a tiling, diameter bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from certify.constructions.partitions import cap_area, cap_colatitude, equal_area_partition, partition_for_delta, polar_to_cartesian
from certify.constructions.vmf import sphere_area
from tests.conftest import unit_points


def cartesian_to_polar(x):
    """Inverse of Leopardi's polar2cart: (phi, theta_2, ..., theta_dim)."""
    n, d1 = x.shape
    dim = d1 - 1
    s = np.zeros((n, dim))
    for k in range(dim, 1, -1):
        s[:, k - 1] = np.arctan2(np.linalg.norm(x[:, :k], axis=1), x[:, k])
    s[:, 0] = np.mod(np.arctan2(x[:, 1], x[:, 0]), 2 * math.pi)
    return s


def box_area(lower, upper):
    """Area of a polar box: dphi * prod_k int sin^(k-1)(theta) dtheta."""
    area = upper[0] - lower[0]
    for k in range(1, len(lower)):
        area *= integrate.quad(lambda t: math.sin(t) ** k, lower[k], upper[k], epsabs=1e-14, epsrel=1e-13)[0]
    return area


@pytest.mark.parametrize("m", [1, 2, 3, 4])
@pytest.mark.parametrize("N", [1, 2, 3, 5, 17, 100, 333])
def test_counts_and_equal_areas(m, N):
    part = equal_area_partition(m, N)
    assert part.size == N and part.centres.shape == (N, m + 1)
    areas = np.array([box_area(lo, up) for lo, up in zip(part.lower, part.upper)])
    assert np.allclose(areas, sphere_area(m) / N, rtol=1e-9), (m, N, areas.min(), areas.max())


@pytest.mark.parametrize("m,N", [(1, 7), (2, 50), (3, 120), (4, 200)])
def test_regions_tile_the_sphere_and_contain_their_centres(m, N):
    part = equal_area_partition(m, N)
    s = cartesian_to_polar(unit_points(m, 3000, seed=m))
    inside = np.all((s[:, None, :] >= part.lower[None]) & (s[:, None, :] <= part.upper[None]), axis=2)
    assert np.all(inside.sum(axis=1) == 1), "every point lies in exactly one region"
    cs = cartesian_to_polar(part.centres)
    eps = 1e-12
    own = np.all((cs >= part.lower - eps) & (cs <= part.upper + eps), axis=1)
    assert own.all()


@pytest.mark.parametrize("m,N", [(1, 9), (2, 40), (2, 400), (3, 150), (4, 300)])
def test_covering_radius_bounds_hold_for_sampled_points(m, N):
    part = equal_area_partition(m, N)
    s = cartesian_to_polar(unit_points(m, 40000, seed=N))
    region = np.argmax(np.all((s[:, None, :] >= part.lower[None]) & (s[:, None, :] <= part.upper[None]), axis=2), axis=1)
    x = polar_to_cartesian(s)
    dist = np.linalg.norm(x - part.centres[region], axis=1)
    worst = np.argmax(dist - part.radii[region])
    assert np.all(dist <= part.radii[region] * (1 + 1e-12)), (m, N, region[worst], dist[worst])
    # the radius is a covering radius of the whole sphere by the centres
    nearest = np.min(np.linalg.norm(x[:2000, None, :] - part.centres[None], axis=2), axis=1)
    assert nearest.max() <= part.delta


def test_radii_shrink_like_n_to_the_minus_one_over_m():
    for m in (1, 2, 3):
        d1 = equal_area_partition(m, 1000).delta
        d2 = equal_area_partition(m, 8000).delta
        assert d2 < d1 * 8 ** (-1 / m) * 1.6


def test_cap_area_inverse():
    for dim in (1, 2, 3, 4):
        for c in (0.1, 1.0, 2.5):
            assert math.isclose(cap_colatitude(dim, cap_area(dim, c)), c, rel_tol=1e-10)
    assert math.isclose(cap_area(2, 1.0), 2 * math.pi * (1 - math.cos(1.0)), rel_tol=1e-13)


def test_partition_for_delta():
    part = partition_for_delta(2, 0.2, 100000)
    assert part.delta <= 0.2
    assert equal_area_partition(2, part.size - 1).delta > 0.2
    assert partition_for_delta(2, 1e-4, 1000) is None
