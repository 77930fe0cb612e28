"""``certify bound``: the Jackson-type calculator (THEORY 3.1-3.3).

For a sphere dimension m, a precision eps and a chordal Lipschitz constant L (and a bound F
on |f|_inf, so osc(f) <= 2F) it gives, for each route, the parameters its explicit constants
ask for:

* ``paper``: the vMF quadrature route of the paper (THEORY 3.1) with OUR derived constants
  (:func:`certify.constructions.vmf.smoothing_error_bound`, :func:`certify.constructions.vmf.quadrature_error_bound`):
  lambda from smoothing <= eps/2, then the largest covering radius delta with quadrature
  <= eps/2, then N;
* ``stated``: the same route with the constants as THEORY 3.1 states them: eta =
  c_{m+1}(lambda) |S^m| lambda e^lambda delta and eta' = c_{m+1}(lambda) |S^m| e^lambda
  (lambda F + L) delta (:func:`stated_quadrature_delta`); both are linear in delta, so the
  largest delta with (eta' + F eta)/(1 - eta) <= eps/2 has a closed form. It builds the same
  prefix as ``paper`` for a given N and only asks for a larger one;
* ``net``: the delta-net of THEORY 3.3 (ours): r = eps/(2L), delta = r/sqrt 2, N, then
  lambda = 2 ln(2 N osc/eps)/(r^2 - delta^2);

and, for comparison, the paper's asymptotic exponent: N = O(eps^-(10 + 14m + 4m^2))
(Theorem 4; its constants are unknown, so only the exponent is reported).

N is the size of Leopardi's equal-area partition with that covering radius: computed exactly
up to ``max_exact`` regions, beyond that extrapolated from a partition of :data:`REFERENCE_SIZE`
regions by N ~ delta^-m (reported as an estimate).

With a target, :func:`smallest_certified` bisects on N for the smallest prefix length whose
construction ``certify prove`` CERTIFIES (certification need not be monotone in N: the
result is the smallest N the bisection found, with the N below it not certified).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass

from certify.budgets import BISECTION_MAX_CELLS
from certify.constructions.prefixes import DEFAULT_MAX_PREFIX, construct_net, construct_vmf
from certify.constructions.partitions import equal_area_partition, partition_for_delta
from certify.errors import InputError
from certify.formats.expressions import Target
from certify.certifier.pipeline import CERTIFIED, decide
from certify.constructions.vmf import (lambda_for_smoothing, largest_quadrature_delta, log_vmf_constant,
                                       quadrature_error_bound, smoothing_error_bound, sphere_area)

ROUTES = ("stated", "paper", "net")
#: The routes whose prefixes a bisection builds (``stated`` builds the ``paper`` route's prefix).
BUILT_ROUTES = ("paper", "net")
#: Partition size whose covering radius anchors the extrapolation N ~ delta^-m.
REFERENCE_SIZE = 4096
#: Largest sphere dimension of the calculator (it needs no certification, so it goes beyond
#: the problem files' limit; partitions of S^m for larger m take long to build and the
#: numbers leave float64 soon after).
MAX_SPHERE_DIM = 32


def paper_exponent(m: int) -> int:
    """Theorem 4's exponent 10 + 14m + 4m^2 = 2(m+1)(2m+5) (THEORY 3.2)."""
    return 10 + 14 * m + 4 * m * m


@dataclass
class RouteBound:
    route: str
    lam: float
    delta: float
    prefix_length: float
    prefix_length_exact: bool     # False: extrapolated from REFERENCE_SIZE by N ~ delta^-m
    a_priori_bound: float         # the route's bound at these parameters (<= eps)
    exponent: str                 # growth of N as eps -> 0 (THEORY 3.2-3.3)

    def to_json(self) -> dict:
        out = asdict(self)
        if not math.isfinite(self.prefix_length):  # beyond float64 (the stated route at large m)
            out["prefix_length"] = None
        return out

    @property
    def prefix_length_text(self) -> str:
        if not math.isfinite(self.prefix_length):
            return "> 1.8e308"
        return f"{self.prefix_length:.0f}" if self.prefix_length_exact else f"~{self.prefix_length:.3g}"


def _prefix_length(m: int, delta: float, max_exact: int) -> tuple[float, bool]:
    part = partition_for_delta(m, delta, max_exact)
    if part is not None:
        return float(part.size), True
    ref = equal_area_partition(m, REFERENCE_SIZE)
    # in logarithms: at large m the power overflows float64 before the product is formed
    log_n = math.log(REFERENCE_SIZE) + m * math.log(ref.delta / delta)
    if log_n > math.log(sys.float_info.max):
        raise InputError("--sphere-dim", f"the prefix length for m = {m} is about 10^{log_n / math.log(10):.0f}, "
                                         "beyond float64; choose a smaller --sphere-dim")
    return math.exp(log_n), False


def stated_quadrature_delta(m: int, lam: float, F: float, L: float, budget: float) -> tuple[float, float]:
    """(delta, bound): the largest delta whose quadrature error with THEORY 3.1's constants,
    (eta' + F eta)/(1 - eta) with eta = C lam delta, eta' = C (lam F + L) delta and
    C = c_{m+1}(lam) |S^m| e^lam, is <= budget: delta = budget/(C (lam F + L + F lam + budget lam))."""
    C = math.exp(log_vmf_constant(m, lam) + math.log(sphere_area(m)) + lam)
    delta = budget / (C * (lam * F + L + F * lam + budget * lam))
    eta, eta2 = C * lam * delta, C * (lam * F + L) * delta
    return delta, (eta2 + F * eta) / (1 - eta)


def _check(m: int, eps: float, L: float, F: float) -> None:
    if m < 1:
        raise InputError("--sphere-dim", f"must be >= 1, got {m}")
    if m > MAX_SPHERE_DIM:
        raise InputError("--sphere-dim", f"must be <= {MAX_SPHERE_DIM} (the calculator's range), got {m}")
    for name, v in (("--epsilon", eps), ("--lipschitz", L), ("--sup-norm", F)):
        if not (math.isfinite(v) and v > 0):
            raise InputError(name, f"must be a finite number > 0, got {v}")


def route_bound(route: str, m: int, eps: float, L: float, F: float = 1.0,
                max_exact: int = DEFAULT_MAX_PREFIX) -> RouteBound:
    """The parameters ``route`` asks for (see the module docstring)."""
    _check(m, eps, L, F)
    if route == "stated":
        lam = lambda_for_smoothing(m, L, eps / 2)
        delta, quad = stated_quadrature_delta(m, lam, F, L, eps / 2)
        try:
            N, exact = _prefix_length(m, delta, max_exact)
        except InputError:  # beyond float64: reported as such (the other routes may still be finite)
            N, exact = math.inf, False
        bound = smoothing_error_bound(m, lam, L) + quad
        return RouteBound(route, lam, delta, N, exact, bound, f"eps^-{m * (m + 3)} (THEORY 3.1's constants)")
    if route == "paper":
        lam = lambda_for_smoothing(m, L, eps / 2)
        delta = largest_quadrature_delta(lam, F, L, eps / 2, normalised=True)
        if delta <= 0:
            raise InputError("--epsilon", "no covering radius meets the quadrature bound")
        N, exact = _prefix_length(m, delta, max_exact)
        bound = smoothing_error_bound(m, lam, L) + quadrature_error_bound(lam, delta, F, L, True)
        return RouteBound(route, lam, delta, N, exact, bound, f"eps^-{3 * m} (derived constants)")
    if route == "net":
        r = eps / (2 * L)
        delta = r / math.sqrt(2)
        N, exact = _prefix_length(m, delta, max_exact)
        osc = 2 * F
        gap = r * r - delta * delta
        lam = max(2 * math.log(max(2 * N * osc / eps, 1.0)) / gap, 1.0)
        bound = L * r + osc * N * math.exp(-lam * gap / 2)
        return RouteBound(route, lam, delta, N, exact, bound, f"eps^-{m} (lambda ~ eps^-2 log)")
    raise InputError("--route", f"expected one of {', '.join(ROUTES)}, got {route!r}")


def _construct(route: str, target: Target, eps: float, L: float, N: int):
    if route == "net":
        return construct_net(target, eps, L, prefix_length=N)
    return construct_vmf(target, eps, L, prefix_length=N, kind="softmax")


def smallest_certified(route: str, target: Target, eps: float, L: float, start: int,
                       max_cells: int = BISECTION_MAX_CELLS, time_limit: float | None = None,
                       progress=None) -> dict:
    """Bisection on N in [1, start] for the smallest N whose construction is CERTIFIED.

    Each trial builds the route's prefix with N tokens (lambda from the route's rule) and runs
    ``certify prove`` with at most ``max_cells`` cells (and, if given, ``time_limit`` seconds:
    an extra cap that makes the answer host-dependent); anything but CERTIFIED (including a
    construction the route cannot build at that N) counts as not certified.
    """
    t0 = time.monotonic()
    trials = []

    def trial(N: int) -> bool:
        try:
            c = _construct(route, target, eps, L, N)
        except InputError as exc:
            trials.append({"prefix_length": N, "verdict": "NOT BUILT", "reason": exc.message})
            if progress:
                progress(f"N = {N}: not built ({exc.message})")
            return False
        p = decide(c.problem, max_cells=max_cells, time_limit=time_limit).result
        trials.append({"prefix_length": N, "lambda": c.lam, "verdict": p.verdict, "lower": p.lower,
                       "upper": p.upper if math.isfinite(p.upper) else None, "cells": p.cells,
                       "seconds": p.seconds})
        if progress:
            progress(f"N = {N}: {p.verdict} (sup error in [{p.lower:.3g}, {p.upper:.3g}], {p.seconds:.1f} s)")
        return p.verdict == CERTIFIED

    hi = int(start)
    if not trial(hi):
        # the derived N itself was not certified within the budget: try a few larger ones
        for _ in range(3):
            hi *= 2
            if trial(hi):
                break
        else:
            return {"route": route, "smallest_certified": None, "trials": trials,
                    "seconds": time.monotonic() - t0}
    lo = 0  # invariant: hi certified, lo not (0: nothing tried below)
    while hi - lo > 1:
        mid = (lo + hi) // 2 if lo else max(1, hi // 2)
        if trial(mid):
            hi = mid
        else:
            lo = mid
    return {"route": route, "smallest_certified": hi, "not_certified_below": lo or None,
            "trials": trials, "seconds": time.monotonic() - t0}
