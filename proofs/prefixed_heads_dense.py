"""The density theorem [paper, main theorem; THEORY 3.1]: for every continuous f: S^m -> R^o and
eps > 0 some lambda, N and prefix give sup_x |H(x) - f(x)| <= eps.

A statement about every continuous f cannot be checked by instances; what is checked is that
the constructions produce prefixes that ``certify prove`` CERTIFIES over the whole sphere for
several targets on S^1 and S^2 (rigorous per instance: CONSISTENT as evidence for the
theorem). The proof's ingredients have their own entries: smoothing (coefficient bound),
quadrature (lemmas (a), (b)), the net rate of THEORY 3.3.
"""

from ._instances import Instance, decide
from .registry import CONSISTENT, NOT_CHECKED, Result, Verdict

INSTANCES = (
    Instance(1, "x0**2", 2.0, 0.2, "net"),
    Instance(1, "sin(3*x0)", 3.0, 0.3, "net"),
    Instance(1, "x0*x1", 1.0, 0.1, "vmf", lam=10.0, prefix_length=200),
    Instance(2, "x0*x1", 1.0, 0.1, "vmf", lam=30.0, prefix_length=200),
    Instance(2, "x0*x1", 1.0, 0.25, "net"),
)


def _check():
    notes = []
    for inst in INSTANCES:
        o = decide(inst)
        notes.append(o.describe())
        if not o.certified:
            return Verdict(NOT_CHECKED, "an instance was not certified: " + notes[-1])
    return Verdict(CONSISTENT, f"{len(notes)} prefixes CERTIFIED by certify prove: " + "; ".join(notes))


RESULTS = [Result("density_theorem", "main theorem (density)", "prefixed heads are universal approximators", "paper",
                  "forall continuous f: S^m -> R^o, forall eps > 0, exists lambda, N, prefix: "
                  "sup_{x in S^m} |H(x) - f(x)| <= eps", _check)]
