"""NON-RIGOROUS estimate of the sup error of a problem by sampling and local refinement.

The estimate is a *lower* estimate of sup_x max_i |H_i(x) - f_i(x)|: it is the largest
error found at the points it tried. A narrow bad region between samples can be missed
entirely, which is why nothing here may ever be reported as certified.

Points tried: the centres of an equal-area partition (quasi-uniform), the directions of
the head's keys, and seeded random points; then the best few are refined by Nelder-Mead
in tangent coordinates of the sphere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from certify.constructions.partitions import equal_area_partition
from certify.formats.problem import Problem
from certify.constructions.vmf import sphere_area
from certify.heads.attention import problem_error


@dataclass
class Estimate:
    value: float          # largest error found (a lower estimate of the sup; NaN if undefined)
    argmax: np.ndarray    # the point where it was found
    points_used: int
    samples: int
    refined: int

    def to_json(self) -> dict:
        return {"rigorous": False, "value": self.value, "argmax": self.argmax.tolist(),
                "points_used": self.points_used, "samples": self.samples, "refined_starts": self.refined}


def random_sphere_points(sphere_dim: int, count: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((count, sphere_dim + 1))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _tangent_basis(x: np.ndarray) -> np.ndarray:
    """Columns spanning the tangent space at unit x (an orthonormal basis via QR)."""
    q, _ = np.linalg.qr(np.column_stack([x, np.eye(x.size)]))
    return q[:, 1:x.size]


def estimate_sup_error(problem: Problem, samples: int = 20000, starts: int = 12,
                       seed: int = 0, progress=None) -> Estimate:
    """Largest error found by dense sampling plus local refinement (NOT rigorous)."""
    m = problem.sphere_dim
    rng = np.random.default_rng(seed)
    head = problem.canonical["head"]
    key_dirs = np.zeros((0, m + 1))
    if "keys" in head:
        k = np.asarray(head["keys"], dtype=np.float64)
        norms = np.linalg.norm(k, axis=1)
        key_dirs = k[norms > 0] / norms[norms > 0, None]
        if key_dirs.shape[0] > samples:
            key_dirs = key_dirs[rng.choice(key_dirs.shape[0], samples, replace=False)]
    grid = equal_area_partition(m, max(1, samples // 2)).centres
    pts = np.concatenate([grid, key_dirs, random_sphere_points(m, samples - samples // 2, rng)])
    err = problem_error(problem, pts)
    if progress:
        progress(f"sampled {pts.shape[0]} points")
    used = pts.shape[0]
    if np.isnan(err).any():
        i = int(np.flatnonzero(np.isnan(err))[0])
        return Estimate(float("nan"), pts[i], used, pts.shape[0], 0)
    order = np.argsort(err)[::-1][:starts]
    # typical spacing of the samples: the size of the first simplex of each local search
    scale = (sphere_area(m) / pts.shape[0]) ** (1.0 / m)
    best_val, best_x = float(err[order[0]]), pts[order[0]]
    counter = {"n": 0}
    for idx in order:
        val, x = polish(problem, pts[idx], scale, counter)
        if val > best_val:
            best_val, best_x = val, x
    if progress:
        progress(f"refined {len(order)} starts with {counter['n']} evaluations")
    return Estimate(best_val, best_x, used + counter["n"], pts.shape[0], len(order))


def polish(problem: Problem, x0: np.ndarray, scale: float, counter: dict | None = None,
           maxfev: int = 400) -> tuple[float, np.ndarray]:
    """Local maximisation of the error from x0 by Nelder-Mead in tangent coordinates
    (first simplex of size ``scale``): (largest error found, its point). NOT rigorous."""
    m = problem.sphere_dim
    x0 = np.asarray(x0, dtype=np.float64) / np.linalg.norm(x0)
    T = _tangent_basis(x0)
    counter = counter if counter is not None else {"n": 0}

    def neg_error(u):
        y = x0 + T @ u
        y = y / np.linalg.norm(y)
        counter["n"] = counter.get("n", 0) + 1
        e = problem_error(problem, y[None, :])[0]
        return -e if np.isfinite(e) else 0.0

    simplex = np.vstack([np.zeros(m), scale * np.eye(m)])
    res = optimize.minimize(neg_error, np.zeros(m), method="Nelder-Mead",
                            options={"initial_simplex": simplex, "xatol": 1e-12, "fatol": 1e-15,
                                     "maxfev": maxfev})
    y = x0 + T @ res.x
    return float(-res.fun), y / np.linalg.norm(y)
