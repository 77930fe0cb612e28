"""One walk of a sympy expression tree, with a table of rules per backend (trusted).

:func:`compile_tree` turns a sympy expression into a closure tree: it dispatches each node
by kind (variable, constant, sum, product, power, function) to the backend's rule, which
returns the node's evaluator ``f(env) -> value``; the rule compiles its children through the
``build`` it is given. The backends are the kernel's intervals
(:mod:`certify.kernel.interval_expressions`), Arb balls (:mod:`certify.kernel.arb_expressions`)
and float64 numpy (:mod:`certify.heads.numeric`, not trusted). No code is generated and
nothing is evaluated as Python source.
"""

from __future__ import annotations

from typing import Callable, Sequence

import sympy as sp


class Rules:
    """A backend: one method per node kind, each returning an evaluator. ``wrap`` sees every
    evaluator built (the interval backend records non-finite intermediates there). A rule
    with no answer for a node raises ValueError naming it."""

    def variable(self, i: int) -> Callable:
        return lambda env: env[i]

    def is_constant(self, e: sp.Basic) -> bool:
        return bool(e.is_Number or e.is_NumberSymbol)

    def constant(self, e: sp.Basic, build) -> Callable:
        raise ValueError(f"no rule for the constant {e}")

    def add(self, e: sp.Basic, build) -> Callable:
        raise ValueError(f"no rule for the sum {e}")

    def mul(self, e: sp.Basic, build) -> Callable:
        raise ValueError(f"no rule for the product {e}")

    def power(self, e: sp.Basic, build) -> Callable:
        raise ValueError(f"no rule for the power {e}")

    def function(self, e: sp.Basic, build) -> Callable:
        raise ValueError(f"no rule for {e.func}")

    def wrap(self, fn: Callable) -> Callable:
        return fn


def fold(parts: Sequence[Callable], combine: Callable) -> Callable:
    """``combine(...combine(combine(p0, p1), p2)..., pk)`` of the parts' values, left to right."""
    def folded(env):
        total = parts[0](env)
        for p in parts[1:]:
            total = combine(total, p(env))
        return total
    return folded


def compile_tree(expr: sp.Basic, variables: Sequence[sp.Symbol], rules: Rules) -> Callable:
    """The evaluator of ``expr`` by ``rules``: ``f(env)``, where ``env[i]`` holds the value of
    ``variables[i]`` (or whatever the backend's ``variable`` rule reads)."""
    index = {v: i for i, v in enumerate(variables)}

    def build(e: sp.Basic) -> Callable:
        if e in index:
            return rules.variable(index[e])
        if rules.is_constant(e):
            fn = rules.constant(e, build)
        elif e.is_Add:
            fn = rules.add(e, build)
        elif e.is_Mul:
            fn = rules.mul(e, build)
        elif e.is_Pow:
            fn = rules.power(e, build)
        else:
            fn = rules.function(e, build)
        return rules.wrap(fn)

    return build(expr)
