"""Shared: construct a prefix for a target and decide it with ``certify prove``.

An instance's verdict is rigorous for that instance (CERTIFIED means the sup error over the
whole sphere is <= epsilon); as evidence for a statement about *all* targets it is numerical
evidence only, so results built on instances are CONSISTENT at best.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from certify.constructions.prefixes import construct_net, construct_vmf
from certify.formats.expressions import parse_target
from certify.certifier.pipeline import CERTIFIED, decide as prove_and_check

#: Cells each instance's ``certify prove`` may bound: a work budget, so the audit's verdicts do
#: not depend on the host's speed or load. The largest instance (the net prefix for x0*x1 on S^2
#: at eps = 0.25, N = 2437) uses 3.2e5 cells, about 18 s on one core; 1e6 is a 3x margin (a
#: slightly wider kernel enclosure costs a few per cent more cells) and keeps an undecided
#: instance to about a minute.
INSTANCE_MAX_CELLS = 1_000_000


@dataclass
class Instance:
    sphere_dim: int
    target: str
    lipschitz: float
    epsilon: float
    route: str                  # "net" or "vmf"
    lam: float | None = None    # None: the route's derived constants
    prefix_length: int | None = None

    def describe(self) -> str:
        params = "derived constants" if self.lam is None else f"lambda = {self.lam:g}, N = {self.prefix_length}"
        return f"{self.target} on S^{self.sphere_dim}, eps = {self.epsilon:g}, {self.route} route ({params})"


@dataclass
class Outcome:
    instance: Instance
    prefix_length: int
    lam: float
    a_priori: float             # the route's a-priori bound for the built parameters (inf: none)
    verdict: str
    lower: float
    upper: float
    seconds: float
    construction: object = None     # the certify.constructions.prefixes.Construction that was decided

    @property
    def certified(self) -> bool:
        return self.verdict == CERTIFIED

    def describe(self) -> str:
        return (f"{self.instance.describe()}: N = {self.prefix_length}, {self.verdict}, "
                f"sup error in [{self.lower:.3g}, {self.upper:.3g}]")


def decide(inst: Instance, max_cells: int = INSTANCE_MAX_CELLS) -> Outcome:
    t = time.monotonic()
    target = parse_target([inst.target], inst.sphere_dim)
    if inst.route == "net":
        c = construct_net(target, inst.epsilon, inst.lipschitz, inst.lam, inst.prefix_length)
    else:
        c = construct_vmf(target, inst.epsilon, inst.lipschitz, inst.lam, inst.prefix_length, kind="softmax")
    p = prove_and_check(c.problem, max_cells=max_cells).result
    return Outcome(inst, c.problem.prefix_length, c.lam, c.predicted_bound, p.verdict, p.lower, p.upper,
                   time.monotonic() - t, c)
