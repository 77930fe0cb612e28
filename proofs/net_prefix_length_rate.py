"""The net rate [THEORY 3.3; derived, NOT the paper's]: for a chordal delta-net p_1..p_N of S^m,
values f(p_k), softmax head H with keys lambda p_k, and every r > delta:

    sup_x |H(x) - f(x)| <= w_ch(f, r) + osc(f) N exp(-lambda (r^2 - delta^2)/2);

with r = eps/(2L), delta <= r/sqrt 2, lambda = 2 ln(2 N osc/eps)/(r^2 - delta^2) this is <= eps,
and N = O((L/eps)^m).

Checks:
1. sympy: <x, p> = 1 - |x - p|^2/2 for unit x, p in R^{m+1}, m = 1..4;
2. z3: a key with |x - p_k| > r scores at least lambda (r^2 - delta^2)/2 below the nearest key
   (|x - p_n| <= delta), so its softmax weight is at most exp(-lambda (r^2 - delta^2)/2)
   (monotonicity of exp: the one step not given to z3);
3. z3: H - f = sum_k pi_k (f(p_k) - f(x)) split into near keys (|.| <= w, total weight
   1 - W) and far keys (|.| <= osc, weight W <= N q) gives |H - f| <= w + osc N q;
4. sympy: with the parameter choice, L r + osc N exp(-lambda (r^2 - delta^2)/2) = eps exactly,
   and log N / log(1/eps) -> m for N = (2 sqrt 2 L/eps)^m (a net of that radius has O(delta^-m)
   points: cited).
"""

import sympy as sp
import z3

from ._z3 import negation_unsat, zabs
from .registry import NOT_CHECKED, PROVED, Result, Verdict


def _inner_product_identity() -> bool:
    for m in range(1, 5):
        x = sp.Matrix(sp.symbols(f"x0:{m + 1}", real=True))
        p = sp.Matrix(sp.symbols(f"p0:{m + 1}", real=True))
        diff = (x.dot(p) - (1 - (x - p).dot(x - p) / 2)).expand()
        # on the sphere |x|^2 = |p|^2 = 1
        reduced = diff.subs(x[0] ** 2, 1 - sum(t**2 for t in x[1:])).subs(
            p[0] ** 2, 1 - sum(t**2 for t in p[1:]))
        if sp.expand(reduced) != 0:
            return False
    return True


def _far_key_gap() -> Verdict:
    lam, r, d, dk, dn = z3.Reals("lam r delta dk dn")  # dk = |x - p_k|^2, dn = |x - p_n|^2
    # score difference lam(<x,p_k> - <x,p_n>) = lam(dn - dk)/2 by the identity above
    return negation_unsat([lam > 0, 0 <= d, d < r, dk > r * r, 0 <= dn, dn <= d * d],
                          lam * (dn - dk) / 2 <= -lam * (r * r - d * d) / 2,
                          "far keys score >= lambda (r^2 - delta^2)/2 below the nearest key")


def _split_error() -> Verdict:
    W, near, far, w, osc, N, q = z3.Reals("W near far w osc N q")
    # near, far: the weighted average of f(p_k) - f(x) over near / far keys
    hyp = [0 <= W, W <= 1, W <= N * q, 0 <= q, N >= 1, zabs(near) <= w, zabs(far) <= osc, 0 <= w, 0 <= osc]
    return negation_unsat(hyp, zabs((1 - W) * near + W * far) <= w + osc * N * q,
                          "|H - f| <= (1 - W) w + W osc <= w + osc N q")


def parameters_exact(factor=2) -> bool:
    """sympy: lambda = factor ln(2 N osc/eps)/(r^2 - delta^2) makes the bound exactly eps."""
    eps, L, N, osc, r, d = sp.symbols("epsilon L N osc r delta", positive=True)
    r_ = eps / (2 * L)
    lam = factor * sp.log(2 * N * osc / eps) / (r**2 - d**2)
    total = L * r_ + osc * N * sp.exp(-lam * (r**2 - d**2) / 2)
    m = sp.Symbol("m", positive=True, integer=True)
    count = (2 * sp.sqrt(2) * L / eps) ** m
    return sp.simplify(total - eps) == 0 and sp.limit(sp.log(count) / sp.log(1 / eps), eps, 0) == m


def _check():
    ident = _inner_product_identity()
    gap, split = _far_key_gap(), _split_error()
    params = parameters_exact()
    if ident and gap.kind == PROVED and split.kind == PROVED and params:
        return Verdict(PROVED, "sympy: <x,p> = 1 - |x-p|^2/2 on S^m (m = 1..4); " + gap.evidence + "; " +
                       split.evidence + "; sympy: the parameter choice gives L r + osc N e^(-lambda(r^2 - "
                       "delta^2)/2) = eps and N = O(eps^-m) (net size O(delta^-m), cited)")
    return Verdict(NOT_CHECKED, f"identity {ident}, gap {gap.kind}, split {split.kind}, parameters {params}")


RESULTS = [Result("net_rate", "net rate (ours)", "tighter Jackson rate by a delta-net", "derived",
                  "forall chordal delta-net {p_k} of S^m, r > delta, lambda > 0, x in S^m: |H(x) - f(x)| <= "
                  "w_ch(f, r) + osc(f) N e^(-lambda (r^2 - delta^2)/2); the stated parameters give <= eps with "
                  "N = O((L/eps)^m)", _check)]
