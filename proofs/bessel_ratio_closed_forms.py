"""The Funk-Hecke coefficients a_k^m = I_{k+(m-1)/2}/I_{(m-1)/2} and their m = 2 closed forms
[formulas standard; the paper's Figure 5]:
a_1^2 = coth l - 1/l, a_2^2 = 1 + 3/l^2 - 3 coth(l)/l, a_3^2 = coth(l)(1 + 15/l^2) - 6/l - 15/l^3.

Check: sympy expands I_{k+1/2} by the recurrence into I_{1/2} = sqrt(2/(pi l)) sinh l and
I_{-1/2} = sqrt(2/(pi l)) cosh l; the difference to each closed form cancels to 0."""

import sympy as sp

from .registry import NOT_CHECKED, PROVED, Result, Verdict

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
