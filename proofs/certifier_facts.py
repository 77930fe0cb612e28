"""The facts the certifier rests on [derived; THEORY 1.3 and 6].

* Shift invariance of the softmax form (THEORY 1.3): adding one constant to every score leaves
  the head unchanged, so it may be evaluated with the largest score subtracted. PROVED (sympy,
  for a symbolic number N of keys).
* Range of a linear score over a spherical cap (THEORY 6): for a cap of centre c and angular
  radius t <= pi/2 and a key A at angle phi to c, <x, A> lies in
  [|A| cos(min(pi, phi + t)), |A| cos(max(0, phi - t))], and both ends are attained. PROVED:
  with X = <x, c> >= cos t, C = cos phi and x, a = A/|A| split along c and its orthogonal
  complement, <x, a> lies within X C -+ sqrt(1 - X^2) sqrt(1 - C^2) (Cauchy-Schwarz on the
  orthogonal parts, cited); z3 proves that these ends are bounded by cos(phi -+ t) on the cap,
  and sympy that the points of the cap's boundary in the plane of c and a attain them.
* Gradient of the softmax head (THEORY 6): |D H|_2 <= (1/4) diam{A_k} diam{v_k}, and the
  per-key weight change pi_k(y) <= pi_k(c) exp(rho (|A_k - c'| + |A_bar - c'|)) on a cap
  |y - c| <= rho (A_bar the weighted mean key at c, c' any point). CONSISTENT: random heads,
  no violation (the arguments: Cauchy-Schwarz and Popoviciu's variance bound; Jensen's
  inequality; not machine-checked here).
* Cubed-sphere cells (THEORY 6): every point of a cell's image lies within the rigorous
  radius that ``certify.kernel.sphere.cell_caps`` returns around the cell's centre. CONSISTENT:
  random points of random cells for m = 1..4 (the kernel's own tests check it adversarially).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import z3

from ._z3 import negation_unsat
from .registry import CONSISTENT, NOT_CHECKED, PROVED, Result, Verdict

#: Random heads and cells drawn by the sampled checks (a fixed seed: the same evidence everywhere).
SAMPLES = 2000
SEED = 0


def check_shift(shifted=None) -> Verdict:
    """sympy: sum_k e^(s_k + c) v_k / sum_k e^(s_k + c) = sum_k e^(s_k) v_k / sum_k e^(s_k) for
    symbolic N. ``shifted`` (for tests) replaces the shifted scores s_k + c."""
    k, N = sp.symbols("k N", integer=True, positive=True)
    c = sp.Symbol("c", real=True)
    s, v = sp.IndexedBase("s"), sp.IndexedBase("v")
    t = s[k] + c if shifted is None else shifted(s[k], c)
    num, den = sp.Sum(sp.exp(t) * v[k], (k, 1, N)), sp.Sum(sp.exp(t), (k, 1, N))
    plain = sp.Sum(sp.exp(s[k]) * v[k], (k, 1, N)) / sp.Sum(sp.exp(s[k]), (k, 1, N))
    if sp.simplify(sp.expand(num / den - plain)) == 0:
        return Verdict(PROVED, "sympy: sum_k e^(s_k + c) v_k / sum_k e^(s_k + c) - sum_k e^(s_k) v_k / sum_k e^(s_k) "
                               "simplifies to 0 for a symbolic number N of keys and every real c")
    return Verdict(NOT_CHECKED, "sympy did not simplify the shifted head to the head")


def check_cap_range(radius_limit=0) -> Verdict:
    """z3 on the two-dimensional reduction, sympy on the attaining points. ``radius_limit`` is
    the lower bound on cos t assumed (0: t <= pi/2; for tests)."""
    X, C, T, SX, SC, ST = z3.Reals("X C T SX SC ST")
    hyp = [X <= 1, T <= 1, T >= radius_limit, C >= -1, C <= 1, SX >= 0, SX * SX == 1 - X * X, SC >= 0,
           SC * SC == 1 - C * C, ST >= 0, ST * ST == 1 - T * T, X >= T]
    lemma = negation_unsat(hyp, SX <= ST, "on the cap sin(angle(x, c)) <= sin t")
    if lemma.kind != PROVED:
        return lemma
    hyp = hyp + [SX <= ST]
    upper = negation_unsat(hyp + [C <= T], X * C + SX * SC <= C * T + SC * ST,
                           "X C + sqrt(1 - X^2) sqrt(1 - C^2) <= cos(phi - t) when phi >= t")
    lower = negation_unsat(hyp + [C >= -T], X * C - SX * SC >= C * T - SC * ST,
                           "X C - sqrt(1 - X^2) sqrt(1 - C^2) >= cos(phi + t) when phi + t <= pi")
    if upper.kind != PROVED or lower.kind != PROVED:
        return Verdict(NOT_CHECKED, upper.evidence + "; " + lower.evidence)
    t, phi = sp.symbols("t phi", real=True)
    # in the plane of c = (1, 0) and a = (cos phi, sin phi): x = (cos t, +-sin t) is on the cap's boundary
    ends = [sp.simplify(sp.cos(t) * sp.cos(phi) + sg * sp.sin(t) * sp.sin(phi) - sp.cos(phi - sg * t)) for sg in (1, -1)]
    if ends != [0, 0]:
        return Verdict(NOT_CHECKED, f"sympy: the attaining points give {ends}")
    return Verdict(PROVED, f"{lemma.evidence}; {upper.evidence}; {lower.evidence} (X = <x, c> >= cos t, C = cos phi, "
                           "the reduction by Cauchy-Schwarz on the parts orthogonal to c, cited; the ends phi < t and "
                           "phi + t > pi are |A| and -|A|); sympy: x = cos t c +- sin t u (u in the plane of c and A) "
                           "attains cos(phi -+ t), so the range is exact")


def _random_heads(rng, count):
    for _ in range(count):
        N = int(rng.integers(2, 7))
        dim, o = int(rng.integers(2, 5)), int(rng.integers(1, 4))
        A = rng.normal(size=(N, dim)) * rng.uniform(0.1, 5)
        v = rng.normal(size=(N, o))
        x = rng.normal(size=dim)
        yield A, v, x


def _weights(A, x):
    s = A @ x
    w = np.exp(s - s.max())
    return w / w.sum()


def _diam(P):
    return max(np.linalg.norm(p - q) for p in P for q in P)


def check_gradient(constant=0.25) -> Verdict:
    """Sampled: |D H(x)|_2 <= constant diam{A} diam{v}, D H = sum_k pi_k (v_k - H)(A_k - A_bar)^T."""
    rng = np.random.default_rng(SEED)
    worst = 0.0
    for A, v, x in _random_heads(rng, SAMPLES):
        pi = _weights(A, x)
        H, Abar = pi @ v, pi @ A
        D = ((v - H) * pi[:, None]).T @ (A - Abar)
        ratio = np.linalg.norm(D, 2) / (_diam(A) * _diam(v))
        worst = max(worst, ratio)
        if ratio > constant * (1 + 1e-12):
            return Verdict(NOT_CHECKED, f"a random head has |D H|_2 = {ratio:.4g} diam{{A}} diam{{v}} > {constant:g}")
    return Verdict(CONSISTENT, f"{SAMPLES} random heads (N = 2..6 keys, dimensions 2..4, outputs 1..3): largest "
                               f"|D H|_2 / (diam{{A}} diam{{v}}) = {worst:.4f} <= 1/4 (argument: Cauchy-Schwarz for the "
                               "covariance and Popoviciu's bound Var <= range^2/4, not machine-checked)")


def check_weight_change(factor=1.0) -> Verdict:
    """Sampled: pi_k(y) <= pi_k(c) exp(factor rho (|A_k - c'| + |A_bar - c'|)) for |y - c| <= rho."""
    rng = np.random.default_rng(SEED + 1)
    worst = -np.inf
    for A, _, c in _random_heads(rng, SAMPLES):
        rho = rng.uniform(0.01, 1.0)
        d = rng.normal(size=c.size)
        y = c + rho * rng.uniform() * d / np.linalg.norm(d)
        cp = rng.normal(size=c.size)
        pc, py = _weights(A, c), _weights(A, y)
        bound = pc * np.exp(factor * rho * (np.linalg.norm(A - cp, axis=1) + np.linalg.norm(pc @ A - cp)))
        margin = np.max(np.log(py) - np.log(bound))
        worst = max(worst, margin)
        if margin > 1e-12:
            return Verdict(NOT_CHECKED, f"a random head breaks the weight-change bound by a factor e^{margin:.3g}")
    return Verdict(CONSISTENT, f"{SAMPLES} random heads, caps and points c': largest log(pi_k(y) / bound) = "
                               f"{worst:.3g} <= 0 (argument: Jensen's inequality, Cauchy-Schwarz and the triangle "
                               "inequality, not machine-checked)")


def check_cells(shrink=1.0) -> Verdict:
    """Sampled: points of random cubed-sphere cells lie within ``cell_caps``'s radius (times
    ``shrink``, for tests) of the cell's centre."""
    from certify.kernel.sphere import cell_boxes, cell_caps, embed_points, facet_count

    rng = np.random.default_rng(SEED + 2)
    worst = 0.0
    for m in (1, 2, 3, 4):
        B = SAMPLES // 4
        F = rng.integers(0, facet_count(m), B)
        L = rng.integers(0, 12, B)
        C = (rng.uniform(size=(B, m)) * np.ldexp(1.0, L)[:, None]).astype(np.int64)
        c, rho = cell_caps(m, F, L, C)
        lo, hi = cell_boxes(m, F, L, C)
        free = lo[:, None, :] + (hi - lo)[:, None, :] * rng.uniform(size=(B, 8, m))
        y = embed_points(m, F, free)
        x = y / np.linalg.norm(y, axis=2, keepdims=True)
        dist = np.linalg.norm(x - c[:, None, :], axis=2).max(axis=1)
        ratio = float(np.max(dist / rho))
        worst = max(worst, ratio)
        if np.any(dist > shrink * rho):
            return Verdict(NOT_CHECKED, f"a point of a cell on S^{m} lies outside its cap ({ratio:.4g} of the radius)")
    return Verdict(CONSISTENT, f"{SAMPLES} random cells on S^1..S^4 at levels 0..11, 8 random points each: largest "
                               f"distance / certified radius = {worst:.4f} <= 1 (the facets of [-1, 1]^(m+1) projected "
                               "by y -> y/|y| tile S^m; the kernel's tests check the radius adversarially)")


RESULTS = [
    Result("softmax_shift", "softmax form (THEORY 1.3)", "shift invariance of the softmax head", "derived",
           "forall N, scores s_k, values v_k, c in R: sum_k e^(s_k + c) v_k / sum_k e^(s_k + c) = "
           "sum_k e^(s_k) v_k / sum_k e^(s_k)", check_shift),
    Result("cap_score_range", "score range on a cap (THEORY 6)", "exact range of a linear score on a cap", "derived",
           "forall unit c, cap {x in S^m: angle(x, c) <= t}, t <= pi/2, key A at angle phi to c: "
           "<x, A> in [|A| cos(min(pi, phi + t)), |A| cos(max(0, phi - t))], both ends attained (the certifier's "
           "cells have t < pi/2)", check_cap_range),
    Result("head_gradient_bound", "gradient of the head (THEORY 6)", "a Lipschitz bound for the softmax head",
           "derived", "forall softmax heads, x: |D H(x)|_2 <= (1/4) diam{A_k} diam{v_k}", check_gradient),
    Result("weight_change_bound", "weight change on a cap (THEORY 6)", "how far a key's weight moves on a cap",
           "derived", "forall softmax heads, c, y with |y - c| <= rho, c': pi_k(y) <= pi_k(c) "
           "exp(rho (|A_k - c'| + |A_bar - c'|)), A_bar = sum_k pi_k(c) A_k", check_weight_change),
    Result("cubed_sphere_cells", "cubed-sphere cells (THEORY 6)", "the certifier's cells and their caps", "derived",
           "forall m, cells of the cubed sphere: every point of a cell lies within the radius cell_caps returns "
           "around the cell's centre (the 2(m+1) projected facets tile S^m: cited)", check_cells),
]
