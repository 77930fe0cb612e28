"""The Funk-Hecke coefficients a_k^m = I_{k+(m-1)/2}/I_{(m-1)/2} and their m = 2 closed forms
[formulas standard; the paper's Figure 5]:
a_1^2 = coth l - 1/l, a_2^2 = 1 + 3/l^2 - 3 coth(l)/l, a_3^2 = coth(l)(1 + 15/l^2) - 6/l - 15/l^3.

Check: sympy expands I_{k+1/2} by the recurrence into I_{1/2} = sqrt(2/(pi l)) sinh l and
I_{-1/2} = sqrt(2/(pi l)) cosh l; the difference to each closed form cancels to 0."""

import sympy as sp

from .registry import CONSISTENT, NOT_CHECKED, PROVED, Result, Verdict

CLOSED = {
    1: lambda l: sp.coth(l) - 1 / l,
    2: lambda l: 1 + 3 / l**2 - 3 * sp.coth(l) / l,
    3: lambda l: sp.coth(l) * (1 + 15 / l**2) - 6 / l - 15 / l**3,
}


def closed_form_difference(k: int, closed=None) -> sp.Expr:
    """a_k^2 - closed form, reduced to a rational function of y = e^l (0 when they agree)."""
    l = sp.Symbol("l", positive=True)
    y = sp.Symbol("y", positive=True)
    half = sp.Rational(1, 2)
    elementary = {sp.besseli(half, l): sp.sqrt(2 / (sp.pi * l)) * sp.sinh(l),
                  sp.besseli(-half, l): sp.sqrt(2 / (sp.pi * l)) * sp.cosh(l)}
    ratio = sp.expand_func(sp.besseli(k + half, l)) / sp.besseli(half, l)
    diff = (ratio.subs(elementary) - (closed or CLOSED[k])(l)).rewrite(sp.exp)
    return sp.cancel(sp.together(diff.subs(sp.exp(l), y)))


def _check():
    bad = [k for k in CLOSED if closed_form_difference(k) != 0]
    if not bad:
        return Verdict(PROVED, "sympy: a_k^2 - closed form cancels to 0 for k = 1, 2, 3 (Bessel recurrence, "
                               "half-integer orders elementary)")
    return Verdict(NOT_CHECKED, f"no cancellation for k = {bad}")


RESULTS = [Result("bessel_ratio_closed_forms", "a_k^m, m = 2 closed forms", "Funk-Hecke coefficients on S^2",
                  "paper", "forall l > 0: I_{k+1/2}(l)/I_{1/2}(l) = closed form_k(l), k = 1, 2, 3", _check)]


def funk_hecke_gap(m: int, k: int, lam: float, dps: int = 30):
    """|I_{k+nu}/I_nu - c_{m+1} |S^{m-1}| int e^{lam t} C_k(t)/C_k(1) (1-t^2)^{(m-2)/2} dt|, nu = (m-1)/2,
    by mpmath quadrature (Chebyshev T_k for m = 1), with t = cos(theta)."""
    import mpmath

    with mpmath.workdps(dps):
        nu = mpmath.mpf(m - 1) / 2
        area = 2 * mpmath.pi ** (mpmath.mpf(m) / 2) / mpmath.gamma(mpmath.mpf(m) / 2)
        c = mpmath.mpf(lam) ** nu / ((2 * mpmath.pi) ** (mpmath.mpf(m + 1) / 2) * mpmath.besseli(nu, lam))

        def poly(t):
            if m == 1:
                return mpmath.chebyt(k, t)
            return mpmath.gegenbauer(k, nu, t) / mpmath.gegenbauer(k, nu, 1)
        integral = mpmath.quad(lambda th: mpmath.exp(lam * mpmath.cos(th)) * poly(mpmath.cos(th))
                               * mpmath.sin(th) ** (m - 1), [0, mpmath.pi])
        return abs(mpmath.besseli(k + nu, lam) / mpmath.besseli(nu, lam) - c * area * integral)


def _check_funk_hecke():
    worst = max(funk_hecke_gap(m, k, lam) for m in (1, 2, 3) for k in (1, 2, 3) for lam in (0.5, 3, 20))
    if worst < 1e-20:
        return Verdict(CONSISTENT, f"mpmath quadrature (30 digits), m = 1, 2, 3, k = 1, 2, 3, lambda in "
                                   f"{{0.5, 3, 20}}: max gap {float(worst):.1e}")
    return Verdict(NOT_CHECKED, f"quadrature gap {float(worst):.1e}")


RESULTS.insert(0, Result("funk_hecke_identity", "a_k^m (Funk-Hecke)", "coefficients of the vMF kernel", "paper",
                         "forall m >= 1, k >= 0, lambda > 0: I_{k+(m-1)/2}(lambda)/I_{(m-1)/2}(lambda) = "
                         "c_{m+1} |S^{m-1}| int_{-1}^{1} e^{lambda t} C_k(t)/C_k(1) (1-t^2)^{(m-2)/2} dt",
                         _check_funk_hecke))


#: The grid of the property check (THEORY 2.1) and the reference values it states.
PROPERTY_GRID = {"m": (1, 2, 3), "k": range(0, 7), "lam": (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 300)}
REFERENCES = ((2, 1, 10, "0.9", 1e-8), (2, 2, 10, "0.73", 1e-8), (2, 3, 10, "0.535", 1e-8),
              (2, 1, 1, "0.31303529", 1e-8))


def arb_coefficient(m: int, k: int, lam):
    """a_k^m(lam) = I_{k+(m-1)/2}(lam) / I_{(m-1)/2}(lam) as an Arb ball (256 bits)."""
    import flint

    with flint.ctx.workprec(256):
        x = flint.arb(flint.fmpq(*lam)) if isinstance(lam, tuple) else flint.arb(lam)
        nu = flint.arb(m - 1) / 2
        return x.bessel_i(nu + k) / x.bessel_i(nu)


def _check_properties():
    import flint

    grid = PROPERTY_GRID
    for m in grid["m"]:
        for lam in grid["lam"]:
            a = [arb_coefficient(m, k, lam) for k in grid["k"]]
            if not (abs(a[0] - 1) < flint.arb(2) ** -200 and all(0 < x < 1 for x in a[1:])
                    and all(x > y for x, y in zip(a, a[1:]))):
                return Verdict(NOT_CHECKED, f"m = {m}, lambda = {lam}: a_k not in (0, 1) decreasing in k (Arb)")
        for k in grid["k"][1:]:
            a = [arb_coefficient(m, k, lam) for lam in grid["lam"]]
            if not all(x < y for x, y in zip(a, a[1:])):
                return Verdict(NOT_CHECKED, f"m = {m}, k = {k}: a_k not increasing in lambda on the grid (Arb)")
    for m, k, lam, value, tol in REFERENCES:
        if not abs(arb_coefficient(m, k, lam) - flint.arb(value)) < tol:
            return Verdict(NOT_CHECKED, f"a_{k}^{m}({lam}) is not {value} to {tol:g} (Arb)")
    c3 = flint.arb(1) / (4 * flint.arb.pi() * flint.arb(1).sinh())
    if not abs(c3 - flint.arb("0.067713913")) < 1e-9:
        return Verdict(NOT_CHECKED, "c_3(1) is not 0.067713913 (Arb)")
    return Verdict(CONSISTENT, f"Arb (256 bits, comparisons certain): a_0 = 1, 0 < a_k < 1 and a_k decreasing in k for "
                               f"m = 1, 2, 3, k = 0..6 at lambda in {list(grid['lam'])}, and increasing in lambda along "
                               "that grid; reference values a_1^2(10) = 0.9, a_2^2(10) = 0.73, a_3^2(10) = 0.535, "
                               "a_1^2(1) = 0.31303529 (to 1e-8) and c_3(1) = 0.067713913 (to 1e-9). A grid only: the "
                               "properties for every lambda are standard (Amos 1974), not machine-checked here")


RESULTS.append(Result("bessel_ratio_properties", "a_k^m properties (THEORY 2.1)", "range, monotonicity, reference values",
                      "derived", "forall m >= 1, k >= 1, lambda > 0: a_0^m = 1, 0 < a_k^m(lambda) < 1, a_k^m decreasing "
                      "in k and increasing in lambda; the reference values of THEORY 2.1", _check_properties))
