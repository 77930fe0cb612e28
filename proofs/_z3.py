"""Shared: PROVED when z3 finds the negation of a statement unsat (timeouts give no verdict)."""

import z3

from .registry import NOT_CHECKED, PROVED, Verdict

#: z3 time limit per check (ms); "unknown" is not a proof.
TIMEOUT_MS = 10_000


def negation_unsat(assumptions, conclusion, evidence: str) -> Verdict:
    s = z3.Solver()
    s.set("timeout", TIMEOUT_MS)
    s.add(*assumptions)
    s.add(z3.Not(conclusion))
    res = s.check()
    if res == z3.unsat:
        return Verdict(PROVED, f"z3: {evidence}; negation unsat")
    return Verdict(NOT_CHECKED, f"z3 answered {res} for: {evidence}")


def zabs(x):
    return z3.If(x >= 0, x, -x)
