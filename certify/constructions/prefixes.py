"""Prefix constructions for a target f: S^m -> R^o (THEORY 3.1 and 3.3).

Both start from Leopardi's equal-area partition (``certify.constructions.partitions``) with centres b_k and a
chordal covering radius delta: every x in S^m lies within delta of its region's centre.

* ``vmf`` (the paper's route, THEORY 3.1): f * K_lambda is discretised on the partition.
  Core head: keys lambda b_k, biases log(c_{m+1}(lambda) |S^m| / N), values f(b_k);
  softmax head: the same keys and values with biases 0 (the weights are equal and cancel).
  Derived parameters: lambda from the smoothing bound L sqrt(m/lam + (m+2)^2/(4 lam^2)) <=
  eps/2, then the largest delta whose quadrature bound (``vmf.quadrature_error_bound``,
  [derived]) is <= eps/2, then the smallest partition with that delta.
* ``net`` (ours, THEORY 3.3): softmax head with keys lambda b_k and values f(b_k);
  r = eps/(2L), delta <= r/sqrt 2 and lambda = 2 ln(2 N osc(f)/eps)/(r^2 - delta^2), so that
  L r + osc(f) N exp(-lambda (r^2 - delta^2)/2) <= eps.

The parameters come from stated bounds that hold when L really is a chordal Lipschitz
constant of every component; when L is not given it is *estimated* by sampling the
tangential gradient (recorded as such in the problem's ``meta``). Whatever the route,
the constructed prefix is a claim to be checked by ``certify estimate`` or ``certify prove``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from certify.constructions.partitions import EqualAreaPartition, equal_area_partition, partition_for_delta
from certify.errors import InputError
from certify.certifier.estimate import random_sphere_points
from certify.formats.expressions import Target
from certify.heads.numeric import compile_numpy, target_values
from certify.formats.problem import MAX_SPHERE_DIM, Problem, make_problem
from certify.constructions.vmf import (lambda_for_smoothing, largest_quadrature_delta, log_vmf_constant,
                  quadrature_error_bound, smoothing_error_bound, sphere_area)

#: Default largest prefix length the derived routes may ask for.
DEFAULT_MAX_PREFIX = 200_000
#: Partition size used to bound |f|_inf and osc(f) from samples plus L * delta.
_PROBE_SIZE = 4000
#: Safety factor on a sampled Lipschitz estimate (sampling under-estimates a supremum).
_LIPSCHITZ_SAFETY = 1.1
#: Memory a construction may use, in bytes (4 GiB): one the tools can still write, read back
#: and prove. A construction is refused before anything is allocated when its estimate
#: (:func:`construction_bytes`) is larger.
MAX_CONSTRUCTION_BYTES = 4 * 2**30
#: Bytes per number of the written head, at their peak: the float64 array (8), the Python
#: float and its list slot in the problem's canonical form (24 + 8) and its JSON text (about
#: 24), the values of the partition's own arrays included in the same count.
_BYTES_PER_NUMBER = 64


def construction_bytes(sphere_dim: int, prefix_length: int, out_dim: int) -> int:
    """Estimated peak memory of a construction with N prefix tokens: N (m + 1) key entries,
    N o values and N biases, each :data:`_BYTES_PER_NUMBER` bytes, plus the partition's N
    centres and per-region radii (m + 2 numbers per region)."""
    numbers = prefix_length * ((sphere_dim + 1) + out_dim + 1) + prefix_length * (sphere_dim + 2)
    return numbers * _BYTES_PER_NUMBER


def _check_memory(sphere_dim: int, prefix_length: int, out_dim: int, field: str) -> None:
    need = construction_bytes(sphere_dim, prefix_length, out_dim)
    if need > MAX_CONSTRUCTION_BYTES:
        raise InputError(field, f"N = {prefix_length} prefix tokens on S^{sphere_dim} would need about "
                                f"{need / 2**30:.3g} GiB, more than the construction budget of "
                                f"{MAX_CONSTRUCTION_BYTES / 2**30:.3g} GiB (MAX_CONSTRUCTION_BYTES); "
                                "choose a smaller N")


def estimate_lipschitz(target: Target, samples: int = 20000, seed: int = 0) -> float:
    """Sampled max of the tangential gradient norm over components, times a safety factor.

    NOT a bound: sampling can miss the supremum. Used only when the user gives no L.
    """
    m = target.sphere_dim
    pts = np.concatenate([equal_area_partition(m, samples).centres,
                          random_sphere_points(m, samples, np.random.default_rng(seed))])
    cols = [pts[:, j] for j in range(m + 1)]
    best = 0.0
    for grads in target.gradient_exprs():
        g = np.stack([compile_numpy(e, target.symbols)(*cols) for e in grads], axis=1)
        tangential = g - np.sum(g * pts, axis=1, keepdims=True) * pts
        norms = np.linalg.norm(tangential, axis=1)
        if not np.all(np.isfinite(norms)):
            raise InputError("target", "the target's gradient is not finite everywhere on the sphere; "
                                       "give --lipschitz explicitly")
        best = max(best, float(norms.max()))
    return max(best * _LIPSCHITZ_SAFETY, 1e-12)


def _range_bounds(target: Target, lipschitz: float) -> tuple[float, float]:
    """(|f|_inf bound, osc(f) bound) over components: sampled extremes plus L * delta."""
    probe = equal_area_partition(target.sphere_dim, _PROBE_SIZE)
    vals = target_values(target, probe.centres)
    if not np.all(np.isfinite(vals)):
        raise InputError("target", "the target is not finite everywhere on the sphere")
    pad = lipschitz * probe.delta
    sup_f = float(np.abs(vals).max()) + pad
    osc = float((vals.max(axis=0) - vals.min(axis=0)).max()) + 2 * pad
    return sup_f, osc


@dataclass
class Construction:
    problem: Problem
    partition: EqualAreaPartition
    lam: float
    predicted_bound: float  # the derived a-priori bound (inf if the parameters give none)


def _finite_or_none(x: float) -> float | None:
    """JSON has no infinity: an a-priori bound that does not exist is recorded as null."""
    return x if math.isfinite(x) else None


def _values(target: Target, centres: np.ndarray) -> np.ndarray:
    vals = target_values(target, centres)
    if not np.all(np.isfinite(vals)):
        raise InputError("target", "the target is not finite at some prefix centre")
    return vals


#: Supported ranges of the constructions' and the calculator's real parameters. Below the
#: lower ends no prefix could be built (the derived prefix lengths exceed 10^9 tokens even on
#: S^1) and the derived constants underflow; above the upper ends they overflow binary64.
EPSILON_RANGE = (1e-9, 1e6)
LIPSCHITZ_RANGE = (1e-9, 1e9)
LAMBDA_RANGE = (1e-6, 1e9)


def check_in_range(name: str, value, bounds: tuple[float, float]) -> None:
    """Refuse a value outside [lo, hi] (or not a finite number) as bad input naming it."""
    lo, hi = bounds
    if not (isinstance(value, (int, float)) and math.isfinite(value) and lo <= value <= hi):
        raise InputError(name, f"must be a finite number in [{lo:g}, {hi:g}], got {value}")


def _check_common(sphere_dim: int, epsilon: float, lipschitz: float | None, lam: float | None,
                  prefix_length: int | None, out_dim: int = 1, max_prefix: int = DEFAULT_MAX_PREFIX) -> None:
    if sphere_dim < 1:
        raise InputError("--sphere-dim", f"must be >= 1, got {sphere_dim}")
    if sphere_dim > MAX_SPHERE_DIM:
        raise InputError("--sphere-dim", f"must be <= {MAX_SPHERE_DIM} (the largest m a problem file may "
                                         f"have), got {sphere_dim}")
    check_in_range("--epsilon", epsilon, EPSILON_RANGE)
    if lipschitz is not None:
        check_in_range("--lipschitz", lipschitz, LIPSCHITZ_RANGE)
    if lam is not None:
        check_in_range("--lam", lam, LAMBDA_RANGE)
    if prefix_length is not None and prefix_length < 1:
        raise InputError("--prefix-length", f"must be >= 1, got {prefix_length}")
    if prefix_length is not None:
        _check_memory(sphere_dim, prefix_length, out_dim, "--prefix-length")
    elif max_prefix < 1:
        raise InputError("--max-prefix-length", f"must be >= 1, got {max_prefix}")


def _derived_partition(m: int, delta: float, max_prefix: int, out_dim: int, route: str):
    """The smallest partition of covering radius <= delta, searched up to max_prefix regions
    and never beyond the memory budget."""
    per_token = construction_bytes(m, 1, out_dim)
    cap = min(max_prefix, max(MAX_CONSTRUCTION_BYTES // per_token, 1))
    part = partition_for_delta(m, delta, cap)
    if part is None:
        if cap < max_prefix:
            raise InputError("--max-prefix-length",
                             f"the {route} route's derived constants need cells of covering radius <= "
                             f"{delta:.3g}, more than {cap} prefix tokens, the most that fit the construction "
                             f"budget of {MAX_CONSTRUCTION_BYTES / 2**30:.3g} GiB (MAX_CONSTRUCTION_BYTES); "
                             "choose --lam and --prefix-length yourself")
        raise _too_long(m, delta, max_prefix, route)
    return part


def _too_long(sphere_dim: int, delta: float, max_prefix: int, route: str) -> InputError:
    at_max = equal_area_partition(sphere_dim, max_prefix)
    needed = max_prefix * (at_max.delta / delta) ** sphere_dim
    return InputError("--max-prefix-length",
                      f"the {route} route's derived constants need cells of covering radius <= {delta:.3g}, "
                      f"about N = {needed:.3g} prefix tokens, more than --max-prefix-length "
                      f"{max_prefix}; choose --lam and --prefix-length yourself or raise the limit")


def construct_net(target: Target, epsilon: float, lipschitz: float | None = None,
                  lam: float | None = None, prefix_length: int | None = None,
                  max_prefix: int = DEFAULT_MAX_PREFIX) -> Construction:
    """The delta-net construction of THEORY 3.3 (softmax head, ours)."""
    m = target.sphere_dim
    _check_common(m, epsilon, lipschitz, lam, prefix_length, target.out_dim, max_prefix)
    estimated = lipschitz is None
    L = estimate_lipschitz(target) if estimated else lipschitz
    r = epsilon / (2 * L)
    if prefix_length is not None:
        part = equal_area_partition(m, prefix_length)
    else:
        part = _derived_partition(m, r / math.sqrt(2), max_prefix, target.out_dim, "net")
    delta = part.delta
    _, osc = _range_bounds(target, L)
    N = part.size
    gap = r * r - delta * delta
    if lam is None:
        if gap <= 0:
            raise InputError("--prefix-length", f"N = {N} gives cells of covering radius {delta:.3g} >= "
                                                f"r = eps/(2L) = {r:.3g}; use more prefix tokens")
        lam = max(2 * math.log(max(2 * N * osc / epsilon, 1.0)) / gap, 1.0)
    bound = L * r + osc * N * math.exp(-lam * gap / 2) if gap > 0 else math.inf
    values = _values(target, part.centres)
    meta = {"method": "net", "lambda": lam, "prefix_length": N, "delta": delta, "lipschitz": L,
            "lipschitz_estimated": estimated, "r": r, "osc_bound": osc,
            "predicted_bound": _finite_or_none(bound),
            "provenance": "THEORY 3.3 [derived, not the paper's]"}
    problem = make_problem(m, "softmax", lam * part.centres, values, list(target.texts), epsilon, meta=meta)
    return Construction(problem, part, lam, bound)


def construct_vmf(target: Target, epsilon: float, lipschitz: float | None = None,
                  lam: float | None = None, prefix_length: int | None = None,
                  kind: str = "core", max_prefix: int = DEFAULT_MAX_PREFIX) -> Construction:
    """The paper's vMF-quadrature construction (THEORY 3.1), as a core or softmax head."""
    m = target.sphere_dim
    _check_common(m, epsilon, lipschitz, lam, prefix_length, target.out_dim, max_prefix)
    if kind not in ("core", "softmax"):
        raise InputError("--head", f"expected 'core' or 'softmax', got {kind!r}")
    estimated = lipschitz is None
    L = estimate_lipschitz(target) if estimated else lipschitz
    sup_f, _ = _range_bounds(target, L)
    normalised = kind == "softmax"
    if lam is None:
        lam = lambda_for_smoothing(m, L, epsilon / 2)
    if prefix_length is not None:
        part = equal_area_partition(m, prefix_length)
    else:
        lo = largest_quadrature_delta(lam, sup_f, L, epsilon / 2, normalised)
        if lo <= 0:
            raise InputError("--epsilon", "no cell radius meets the quadrature bound")
        part = _derived_partition(m, lo, max_prefix, target.out_dim, "vmf")
    N = part.size
    smoothing = smoothing_error_bound(m, lam, L)
    quadrature = quadrature_error_bound(lam, part.delta, sup_f, L, normalised)
    bound = smoothing + quadrature
    values = _values(target, part.centres)
    biases = None
    if kind == "core":
        biases = np.full(N, log_vmf_constant(m, lam) + math.log(sphere_area(m) / N))
    meta = {"method": "vmf", "head": kind, "lambda": lam, "prefix_length": N, "delta": part.delta,
            "lipschitz": L, "lipschitz_estimated": estimated, "sup_f_bound": sup_f,
            "smoothing_bound": _finite_or_none(smoothing), "quadrature_bound": _finite_or_none(quadrature),
            "predicted_bound": _finite_or_none(bound),
            "provenance": "THEORY 3.1 route [paper]; quadrature constants [derived]"}
    problem = make_problem(m, kind, lam * part.centres, values, list(target.texts), epsilon,
                           biases=biases, meta=meta)
    return Construction(problem, part, lam, bound)


#: The constructions by name, as ``certify construct --method`` names them.
METHODS = ("net", "vmf")


def construct(method: str, target: Target, epsilon: float, lipschitz: float | None = None,
              lam: float | None = None, prefix_length: int | None = None, kind: str | None = None,
              max_prefix: int = DEFAULT_MAX_PREFIX) -> Construction:
    """The ``net`` or ``vmf`` construction. ``kind`` is the head: the net construction builds
    softmax heads only; the vMF one builds a core head unless told ``softmax``."""
    if method == "net":
        if kind not in (None, "softmax"):
            raise InputError("--head", "the net construction builds softmax heads only")
        return construct_net(target, epsilon, lipschitz, lam, prefix_length, max_prefix)
    if method == "vmf":
        return construct_vmf(target, epsilon, lipschitz, lam, prefix_length, kind or "core", max_prefix)
    raise InputError("--method", f"unknown construction {method!r} (expected one of {', '.join(METHODS)})")
