"""Jackson-type rates [THEORY 3.2 (paper, Theorem 4) and the vMF route's own rate (ours)].

* Theorem 4 [paper]: prefix length N = O(eps^{-(10 + 14m + 4m^2)}) suffices for precision eps
  (constants unknown). Checked: sympy, the exponent equals 2(m+1)(2m+5) (28 for m = 1, 54
  for m = 2). The rate itself is IMPLIED by the derived route below (its own row, PROVED
  citing Leopardi's partition bound), whose exponent 3m is smaller for every m >= 1 (z3): the
  verdict is exactly as strong as that row. What the paper's own proof of the exponent is,
  is not known here.
* vMF route rate [derived]: with lambda the smallest value whose smoothing bound
  L sqrt(m/lambda + (m+2)^2/(4 lambda^2)) is eps/2 and delta = eps/(24 (lambda F + L))
  (F >= |f|_inf, eps <= 4F), the quadrature error is <= eps/2 (z3: with E = e^{lambda delta}
  <= e < 3, since lambda delta <= eps/(24 F) <= 1); and delta ~ eps^3 (sympy limit), so an
  equal-area partition with covering radius delta has N = O(delta^{-m}) = O(eps^{-3m}) cells
  (Leopardi's diameter bound, cited, not checked).
"""

import sympy as sp
import z3

from ._z3 import negation_unsat
from .registry import IMPLIED, NOT_CHECKED, PROVED, Result, Verdict

PAPER_EXPONENT = lambda m: 10 + 14 * m + 4 * m**2  # noqa: E731  (THEORY 3.2)
VMF_ROUTE_EXPONENT = lambda m: 3 * m  # noqa: E731
NET_ROUTE_EXPONENT = lambda m: m  # noqa: E731  (up to the logarithm in lambda; THEORY 3.3)


def _exponent_identity() -> bool:
    m = sp.Symbol("m", integer=True, positive=True)
    e = PAPER_EXPONENT(m)
    return (sp.expand(e - 2 * (m + 1) * (2 * m + 5)) == 0 and e.subs(m, 1) == 28 and e.subs(m, 2) == 54)


def _exponents_compare() -> Verdict:
    m = z3.Int("m")
    return negation_unsat([m >= 1], z3.And(NET_ROUTE_EXPONENT(m) <= VMF_ROUTE_EXPONENT(m),
                                            VMF_ROUTE_EXPONENT(m) < PAPER_EXPONENT(m)),
                          "m <= 3m < 10 + 14m + 4m^2 for every integer m >= 1")


def vmf_route_delta(eps, L, F, m):
    """The covering radius the vMF route's rate uses (symbolic or numeric)."""
    b = eps / 2
    lam = (L**2 * m + sp.sqrt((L**2 * m) ** 2 + b**2 * L**2 * (m + 2) ** 2)) / (2 * b**2)
    return lam, eps / (24 * (lam * F + L))


def check_vmf_rate(denominator=24):
    """z3 + sympy on the vMF route's rate with delta = eps/(denominator (lambda F + L))."""
    lam, delta, F, L, eps, E = z3.Reals("lam delta F L eps E")
    eta, eta2 = lam * delta * E, (lam * F + L) * delta * E
    hyp = [lam > 0, F > 0, L > 0, eps > 0, eps <= 4 * F, 1 <= E, E <= 3, delta * denominator * (lam * F + L) == eps]
    z = negation_unsat(hyp, z3.And(lam * delta <= 1, eta <= z3.RealVal(1) / 2,
                                   (eta2 + F * eta) <= eps / 2 * (1 - eta)),
                       "delta = eps/(24(lam F + L)), E = e^(lam delta) <= 3 give lam delta <= 1 and "
                       "(eta' + F eta)/(1 - eta) <= eps/2")
    e_, L_, F_, m_ = sp.symbols("epsilon L F m", positive=True)
    lam_s, delta_s = vmf_route_delta(e_, L_, F_, m_)
    order = sp.limit(sp.log(delta_s) / sp.log(e_), e_, 0)
    lam_order = sp.limit(sp.log(lam_s) / sp.log(e_), e_, 0)
    if z.kind == PROVED and order == 3 and lam_order == -2:
        return Verdict(PROVED, z.evidence + "; sympy: log delta / log eps -> 3 and log lambda / log eps -> -2 "
                       "as eps -> 0, so N = O(delta^-m) = O(eps^-3m) (Leopardi's partition bound, cited)")
    return Verdict(NOT_CHECKED, f"{z.evidence}; sympy limits {order}, {lam_order}")


def _check_theorem4():
    if not _exponent_identity():
        return Verdict(NOT_CHECKED, "sympy did not confirm the exponent arithmetic")
    cmp_ = _exponents_compare()
    if cmp_.kind != PROVED:
        return Verdict(NOT_CHECKED, cmp_.evidence)
    route = check_vmf_rate()
    if route.kind != PROVED:
        return Verdict(NOT_CHECKED, "the vMF route's rate was not proved: " + route.evidence)
    return Verdict(IMPLIED, "sympy: 10 + 14m + 4m^2 = 2(m+1)(2m+5) (28, 54 for m = 1, 2); " + cmp_.evidence +
                   "; so the vMF route's N = O(eps^-3m) implies the stated rate for eps <= 1. That route rests on "
                   "the rows 'Theorem 4 (vMF route, our constants)' (PROVED given the derived quadrature bound; "
                   "Leopardi's partition bound cited), 'quadrature lemma (a)' (VERIFIED ON RANGE |v| <= 50), "
                   "'quadrature lemma (b)' (PROVED) and 'smoothing bound (m = 1, 2)' (VERIFIED ON RANGE for "
                   "lambda <= 1000 and m = 1, 2 only), and on cited steps: the integration over cells behind eta, "
                   "eta' and the Funk-Hecke/Jensen step of the smoothing bound. As strong as those, for every m "
                   "only where they are; the paper's own constants and proof are not checked")


RESULTS = [
    Result("theorem4_rate", "Theorem 4", "Jackson-type rate of the paper", "paper",
           "forall m >= 1, L-Lipschitz f: S^m -> R^o: N(eps) = O(eps^-(10 + 14m + 4m^2)) prefix tokens suffice",
           _check_theorem4),
    Result("vmf_route_rate", "Theorem 4 (vMF route, our constants)", "explicit rate of the vMF route", "derived",
           "forall m >= 1, L, F >= |f|, eps <= 4F: lambda(eps) from the smoothing bound, "
           "delta = eps/(24(lambda F + L)) make the derived quadrature bound (eta' + F eta)/(1 - eta), "
           "eta = lambda delta e^(lambda delta), eta' = (lambda F + L) delta e^(lambda delta), <= eps/2; "
           "delta ~ eps^3, N = O(eps^-3m)",
           check_vmf_rate),
]
