"""Lower bounds on a_k^m [THEORY 2.2]. The paper has such a lemma; its exact form is unknown,
so the derived bound is checked instead, and the tempting false bound is audited.

* [derived] a_1^m(l) >= l / (m/2 + sqrt(l^2 + ((m+2)/2)^2)) (Amos 1974, k = 1), checked for
  m = 1, 2 on l in [0.1, 50] by Arb branch-and-bound; the product bound
  a_k^2(l) >= prod_{j<k} l / (1 + j + sqrt(l^2 + (2 + j)^2)) for k = 2, 3 on [0.5, 50] (the
  closed forms of a_2^2 and a_3^2 cancel badly near 0, where the Arb search needs more boxes
  than its budget).
* The tempting bound a_k^m >= 1 - k(k+m-1)/(2 l): for (m, k) = (1, 1) it is FALSE (REFUTED
  with an Arb witness). For (m, k) = (2, 1) it reads coth l - 1/l >= 1 - 1/l, i.e. coth l >= 1,
  which is TRUE for every l > 0: PROVED (sympy: the margin is 2/(e^{2l} - 1) identically; z3:
  E > 1 gives 2/(E - 1) > 0), with the range check on [0.5, 1000] by Arb as extra evidence.
  A float evaluation rounds the margin to 0 for large l (THEORY 2.2: from l ~ 36), which is
  the trap."""

import sympy as sp
import z3

from ._claims import claim_verdict
from ._z3 import negation_unsat
from .bessel_ratio_closed_forms import closed_form_difference
from .registry import NOT_CHECKED, PROVED, Result, Verdict

AMOS = "forall lam in [0.1, 50]: {a} >= lam/({m}/2 + sqrt(lam**2 + (({m}+2)/2)**2))"
A1 = {1: "besseli(1, lam)/besseli(0, lam)", 2: "coth(lam) - 1/lam"}
TEMPTING = "forall lam in [0.5, 1000]: {a} >= 1 - {k}*({k}+{m}-1)/(2*lam)"
#: a_k^2 for k = 2, 3 (closed forms, THEORY 2.1) and the product bound of THEORY 2.2 for m = 2.
A_M2 = {2: "(1 + 3/lam**2 - 3*coth(lam)/lam)", 3: "(coth(lam)*(1 + 15/lam**2) - 6/lam - 15/lam**3)"}
PRODUCT = "forall lam in [0.5, 50]: {a} >= {bound}"


def product_claim(k: int) -> str:
    bound = "*".join(f"(lam/({1 + j} + sqrt(lam**2 + ({2 + j})**2)))" for j in range(k))
    return PRODUCT.format(a=A_M2[k], bound=bound)


def check_tempting_m2(margin=None) -> Verdict:
    """a_1^2(l) >= 1 - 1/l for every l > 0. ``margin`` (for tests) replaces the claimed
    margin 2/(e^{2l} - 1) of a_1^2 - (1 - 1/l)."""
    lam = sp.Symbol("lam", positive=True)
    a1 = sp.coth(lam) - 1 / lam
    if closed_form_difference(1) != 0:
        return Verdict(NOT_CHECKED, "sympy did not confirm a_1^2 = coth(lam) - 1/lam")
    claimed = 2 / (sp.exp(2 * lam) - 1) if margin is None else margin
    gap = sp.simplify((a1 - (1 - 1 / lam) - claimed).rewrite(sp.exp))
    if gap != 0:
        return Verdict(NOT_CHECKED, f"sympy: a_1^2 - (1 - 1/lam) - margin = {gap}, not 0")
    E = z3.Real("E")
    z = negation_unsat([E > 1], 2 / (E - 1) > 0, "E = e^(2 lam) > 1 (exp is increasing, e^0 = 1) gives 2/(E - 1) > 0")
    if z.kind != PROVED:
        return z
    arb = claim_verdict(TEMPTING.format(a=A1[2], k=1, m=2))
    return Verdict(PROVED, "sympy: a_1^2 = coth(lam) - 1/lam (Bessel recurrence) and a_1^2 - (1 - 1/lam) = "
                           f"2/(e^(2 lam) - 1) identically; {z.evidence}; so the bound holds for every lam > 0 "
                           f"(Arb on [1/2, 1000], extra evidence: {arb.kind}, {arb.evidence})")

RESULTS = [
    Result("amos_lower_bound_m1", "a_k^m lower bound (m = 1, k = 1)", "Amos-type lower bound", "derived",
           AMOS.format(a=A1[1], m=1), lambda: claim_verdict(AMOS.format(a=A1[1], m=1))),
    Result("amos_lower_bound_m2", "a_k^m lower bound (m = 2, k = 1)", "Amos-type lower bound", "derived",
           AMOS.format(a=A1[2], m=2), lambda: claim_verdict(AMOS.format(a=A1[2], m=2))),
    Result("amos_lower_bound_m2_k2", "a_k^m lower bound (m = 2, k = 2)", "product lower bound", "derived",
           product_claim(2), lambda: claim_verdict(product_claim(2))),
    Result("amos_lower_bound_m2_k3", "a_k^m lower bound (m = 2, k = 3)", "product lower bound", "derived",
           product_claim(3), lambda: claim_verdict(product_claim(3))),
    Result("tempting_bound_m1_k1", "false bound (m, k) = (1, 1)", "a_1^1 >= 1 - 1/(2 lambda)", "trap",
           TEMPTING.format(a=A1[1], k=1, m=1), lambda: claim_verdict(TEMPTING.format(a=A1[1], k=1, m=1))),
    Result("tempting_bound_m2_k1", "tempting bound (m, k) = (2, 1)", "a_1^2 >= 1 - 1/lambda", "trap",
           "forall lam > 0: coth(lam) - 1/lam >= 1 - 1*(1+2-1)/(2*lam)", check_tempting_m2),
]
