"""Lower bounds on a_k^m [THEORY 2.2]. The paper has such a lemma; its exact form is unknown,
so the derived bound is checked instead, and the tempting false bound is audited.

* [derived] a_1^m(l) >= l / (m/2 + sqrt(l^2 + ((m+2)/2)^2)) (Amos 1974, k = 1), checked for
  m = 1, 2 on l in [0.1, 50] by Arb branch-and-bound.
* The tempting bound a_k^m >= 1 - k(k+m-1)/(2 l): for (m, k) = (1, 1) it is FALSE (REFUTED
  with an Arb witness). For (m, k) = (2, 1) it reads coth l - 1/l >= 1 - 1/l, i.e. coth l >= 1,
  which is TRUE for every l > 0 (checked on [0.5, 1000]; the precision ladder resolves the
  e^{-2l} margin), although THEORY 2.2 lists it as false from l ~ 37: a float evaluation
  rounds coth l to 1 there, which is the trap."""

from ._claims import claim_verdict
from .registry import Result

AMOS = "forall lam in [0.1, 50]: {a} >= lam/({m}/2 + sqrt(lam**2 + (({m}+2)/2)**2))"
A1 = {1: "besseli(1, lam)/besseli(0, lam)", 2: "coth(lam) - 1/lam"}
TEMPTING = "forall lam in [0.5, 1000]: {a} >= 1 - {k}*({k}+{m}-1)/(2*lam)"

RESULTS = [
    Result("amos_lower_bound_m1", "a_k^m lower bound (m = 1, k = 1)", "Amos-type lower bound", "derived",
           AMOS.format(a=A1[1], m=1), lambda: claim_verdict(AMOS.format(a=A1[1], m=1))),
    Result("amos_lower_bound_m2", "a_k^m lower bound (m = 2, k = 1)", "Amos-type lower bound", "derived",
           AMOS.format(a=A1[2], m=2), lambda: claim_verdict(AMOS.format(a=A1[2], m=2))),
    Result("tempting_bound_m1_k1", "false bound (m, k) = (1, 1)", "a_1^1 >= 1 - 1/(2 lambda)", "trap",
           TEMPTING.format(a=A1[1], k=1, m=1), lambda: claim_verdict(TEMPTING.format(a=A1[1], k=1, m=1))),
    Result("tempting_bound_m2_k1", "tempting bound (m, k) = (2, 1)", "a_1^2 >= 1 - 1/lambda", "trap",
           TEMPTING.format(a=A1[2], k=1, m=2), lambda: claim_verdict(TEMPTING.format(a=A1[2], k=1, m=2))),
]
