"""The registry of results and their verdicts.

Verdict kinds (never overstated):

* PROVED: a symbolic identity sympy confirms, or z3 finds the negation unsat (polynomial
  side conditions only; z3 runs under a resource limit, not a timeout, and "unknown" gives no
  verdict);
* VERIFIED ON RANGE: Arb branch-and-bound over a stated parameter box (``certify claim``);
  the box is part of the verdict;
* REFUTED: a witness evaluated in ball arithmetic, or the statement's negation PROVED (the
  evidence says which);
* IMPLIED: follows from other rows of the audit, named in the evidence, by a step sympy or z3
  confirms; exactly as strong as those rows (and what they cite);
* CONSISTENT: numerical evidence only;
* NOT CHECKED: with the reason.

Every check stops on a work budget (z3 resource units, Arb boxes, cells, cell pairs), never on
the clock, so a verdict does not depend on the machine's load.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field

PROVED, VERIFIED, REFUTED, IMPLIED, CONSISTENT, NOT_CHECKED = (
    "PROVED", "VERIFIED ON RANGE", "REFUTED", "IMPLIED", "CONSISTENT", "NOT CHECKED")
KINDS = (PROVED, VERIFIED, REFUTED, IMPLIED, CONSISTENT, NOT_CHECKED)
#: Who states a result (see :class:`Result`).
PROVENANCES = ("paper", "paper, statement reconstructed", "derived", "trap")

#: The result modules, in the order of the paper (THEORY.md sections in brackets).
MODULES = (
    "definitions",                          # Definitions 2.1-2.8 [5]
    "density_is_transitive",                # Lemma 2.1 [5]
    "jackson_rates_compose",                # Lemma 2.2 [5]
    "prefix_scores_linear_of_embedding",    # Eq. (1) and the core head [1.1-1.2]
    "pretrained_head_scales_core_head",     # Lemma 3 [1.4]
    "vmf_kernel_integrates_to_one",         # vMF normalising constant [2]
    "bessel_ratio_closed_forms",            # a_k^m identity, m = 2 closed forms [2.1]
    "bessel_ratio_lower_bounds",            # lower bounds on a_k^m and the false one [2.2]
    "smoothing_error_bounded",              # smoothing bound [3.1 step 1]
    "quadrature_error_bounded",             # quadrature bound [3.1 step 2]
    "prefixed_heads_dense",                 # the density theorem [3.1]
    "core_head_density",                    # the core head and the step to the classical head [1.2, 3.1]
    "prefix_length_jackson_rates",          # Theorem 4 and the vMF route's rate [3.2]
    "net_prefix_length_rate",               # the net rate (ours) [3.3]
    "tuned_prefix_lengths",                 # the open question on instances: tuned prefixes (ours) [3.2]
    "head_tends_to_nearest_key_average",    # lambda -> infinity (ours) [3.4]
    "elementwise_maps_by_one_prefix",       # element-wise maps [4.1]
    "sequence_maps_depth_linear",           # depth-linear sequence maps [4.2]
    "certifier_facts",                      # the softmax form and the certifier's facts [1.3, 6]
)


@dataclass
class Verdict:
    kind: str
    evidence: str
    box: str = ""
    seconds: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown verdict kind {self.kind!r}")


@dataclass
class Result:
    """A result: its label in the paper, who states it, the statement, how it is checked."""

    key: str
    label: str
    title: str
    #: "paper" (as the paper's abstract, captions or source state it), "paper, statement
    #: reconstructed" (the paper's result in our wording: its text is not available here),
    #: "derived" (ours), or "trap" (a tempting statement, neither's)
    provenance: str
    statement: str             # human-readable, with hypotheses and quantifier order
    check: callable = field(repr=False)

    def __post_init__(self):
        if self.provenance not in PROVENANCES:
            raise ValueError(f"unknown provenance {self.provenance!r}")

    def run(self) -> Verdict:
        t = time.monotonic()
        v = self.check()
        v.seconds = time.monotonic() - t
        return v


def results() -> list[Result]:
    out = []
    for name in MODULES:
        mod = importlib.import_module(f"proofs.{name}")
        out.extend(mod.RESULTS)
    return out


def run_all(progress=None) -> list[tuple[Result, Verdict]]:
    rows = []
    for r in results():
        v = r.run()
        rows.append((r, v))
        if progress:
            progress(r, v)
    return rows
