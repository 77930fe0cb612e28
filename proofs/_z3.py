"""Shared: PROVED when z3 finds the negation of a statement unsat ("unknown" gives no verdict).

z3 runs under a resource limit (``rlimit``: z3's count of its own work, the same on every
host and load for one z3 version), not a timeout, so a verdict does not depend on the machine's
speed or load.
"""

import z3

from .registry import NOT_CHECKED, PROVED, Verdict

#: z3 resource units per check ("unknown" beyond, which is not a proof). The audit's checks use
#: at most 3.4e4 units (the lambda -> infinity bound, about 10 ms); 5e6 is a 150x margin, about
#: 2 s of z3 work.
RLIMIT = 5_000_000


def negation_unsat(assumptions, conclusion, evidence: str) -> Verdict:
    s = z3.Solver()
    s.set("rlimit", RLIMIT)
    s.add(*assumptions)
    s.add(z3.Not(conclusion))
    res = s.check()
    if res == z3.unsat:
        return Verdict(PROVED, f"z3: {evidence}; negation unsat")
    return Verdict(NOT_CHECKED, f"z3 answered {res} for: {evidence}")


def zabs(x):
    return z3.If(x >= 0, x, -x)
