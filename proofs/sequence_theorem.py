"""General sequence-to-sequence maps with depth linear in n [paper; THEORY 4.2].

* The theorem [paper]: every continuous map on length-n sequences (compact domain) is
  approximated to any eps by prefixing a transformer of depth O(n) whose weights do not depend
  on the target. NOT CHECKED: the construction of THEORY 4.2 (Kolmogorov-Arnold with
  element-wise prefixed heads and a fixed uniform-attention head) is not built in this toolkit
  yet, so no instance has been certified.
* Depth count of that construction [derived]: 2n + 1 Kolmogorov-Arnold terms, each one block of
  three attention layers (inner maps psi_{p,q} by an element-wise head, the fixed summing head,
  the outer map chi_q by an element-wise head), residual sums: 3(2n + 1) = 6n + 3 layers, a
  polynomial of degree 1 in n (sympy). This is arithmetic about the planned construction only.
* Kolmogorov-Arnold representation theorem: cited, NOT CHECKED.
"""

import sympy as sp

from .registry import NOT_CHECKED, PROVED, Result, Verdict

LAYERS_PER_TERM = 3


def depth(n):
    return LAYERS_PER_TERM * (2 * n + 1)


def _check_depth():
    n = sp.Symbol("n", integer=True, positive=True)
    d = sp.expand(depth(n))
    if sp.Poly(d, n).degree() == 1 and d == 6 * n + 3:
        return Verdict(PROVED, "sympy: 3 (2n + 1) = 6n + 3, degree 1 in n")
    return Verdict(NOT_CHECKED, f"depth {d}")


RESULTS = [
    Result("kolmogorov_arnold", "Kolmogorov-Arnold theorem (used by the paper)", "the representation the construction uses", "paper",
           "forall continuous f on [0,1]^n: f = sum_{q=0}^{2n} chi_q(sum_{p=1}^n psi_{p,q}(x_p))",
           lambda: Verdict(NOT_CHECKED, "a classical theorem, cited; not machine-checked here")),
    Result("sequence_depth_count", "sequence theorem (depth count, ours)", "depth of the construction", "derived",
           "the construction of THEORY 4.2 for length-n sequences has 3(2n + 1) attention layers", _check_depth),
    Result("sequence_theorem", "Theorem (sequence-to-sequence)", "depth-linear universal approximation", "paper",
           "forall n, continuous f on length-n sequences, eps > 0: a prefixed transformer of depth O(n) with "
           "target-independent weights approximates f within eps",
           lambda: Verdict(NOT_CHECKED, "the depth-linear construction is not built yet; no instance certified")),
]
