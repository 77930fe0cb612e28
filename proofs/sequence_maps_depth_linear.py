"""General sequence-to-sequence maps with depth linear in n [paper; THEORY 4.2].

* The theorem [paper, statement reconstructed]: every continuous map on length-n sequences
  (compact domain; an output at every position) is approximated to any eps by prefixing a
  transformer of depth O(n) whose weights do not depend on the target. CONSISTENT: the
  construction of THEORY 4.2 is built (``certify.constructions.kolmogorov_arnold``: an
  element-wise inner head whose prefix tokens carry positional keys, a fixed summing head with
  exactly uniform attention, one outer head per Kolmogorov-Arnold term whose prefix carries a
  block of nodes per output position) and two genuine sequence-to-sequence maps, n = 2 and
  n = 3, with a different output at each position and padded with zero terms to the theorem's
  Q = 2n + 1 (so the network is fixed by n), are CERTIFIED end to end: every head's error
  is certified (the inner head per position by ``certify prove``, the outer heads per output
  position on the line by :mod:`certify.kernel.linebound`) and propagated through the outer
  maps' enclosed Lipschitz constants; the whole document is re-checked by
  ``check_sequence_map``; for n = 2 the torus branch-and-bound bounds the same network
  directly. Instances only: the theorem is about every f.
* Depth of that construction [derived]: PROVED from the layout's own formulas
  (``certify.formats.seqmap.layout_depth`` and ``layout_width``, which ``Layout`` and the
  built network use), evaluated by sympy for a symbolic n with the theorem's Q = 2n + 1 terms:
  depth 2n + 3, one head per layer, width 6n + 13, for every n. The built network is compared
  with the formula for n = 1..6 (a check that the code is the formula, not the proof).
* Kolmogorov-Arnold representation theorem: cited, NOT CHECKED. The construction takes the
  decomposition as input (the shipped examples use exact smooth ones).
"""

import sympy as sp

from certify.checker.sequence_map import check_sequence_map
from certify.constructions.kolmogorov_arnold import construct, example, pretrained
from certify.formats.seqmap import architecture, layout_depth, layout_width, parse_seqmap
from certify.certifier.torus import torus_bound

from ._instances import INSTANCE_MAX_CELLS
from .registry import CONSISTENT, NOT_CHECKED, PROVED, Result, Verdict

EPSILON = 0.1
#: Cell pairs of the direct torus bound. A work budget, so the reported bound does not depend
#: on the machine's load (it is the bound after exactly this many pairs: it only tightens with
#: more). 1.5e5 pairs take about 1 s here; the bound is evidence, the verdict rests on the
#: end-to-end certificate.
TORUS_MAX_PAIRS = 150_000

#: The instances: genuine sequence-to-sequence maps (a_p = x0 of token p).
#: n = 2: position 1 gets a_1 a_2, position 2 gets (a_1^2 + a_2^2)/2;
#: n = 3: the shipped ``moments`` example (mean, variance, mean cubed).
PRODUCT_AND_SQUARES = {"format": "certify.seqmap/1", "length": 2, "epsilon": EPSILON,
                       "terms": [{"inner": ["x0", "x0"], "outer": ["(1/4)*s**2", "(1/4)*s**2"]},
                                 {"inner": ["x0", "-x0"], "outer": ["(-1/4)*s**2", "(1/4)*s**2"]}]}
INSTANCES = ((PRODUCT_AND_SQUARES, "position 1: a_1 a_2, position 2: (a_1^2 + a_2^2)/2"),
             (example("moments", 3, EPSILON), "position 1: mean of a, 2: variance, 3: mean cubed"))


def padded(doc: dict) -> dict:
    """The spec with zero terms (inner 0, outer 0) up to the theorem's Q = 2n + 1, so that the
    network is the one the depth table lists, fixed by n alone."""
    n = doc["length"]
    zero = {"inner": ["0"] * n, "outer": ["0"] * n}
    return {**doc, "terms": list(doc["terms"]) + [zero] * (2 * n + 1 - len(doc["terms"]))}


def depth_formula():
    """(depth, heads, width) of the layout for Q = 2n + 1, n symbolic."""
    n = sp.Symbol("n", integer=True, positive=True)
    Q = 2 * n + 1
    return n, sp.expand(layout_depth(Q)), sp.expand(layout_depth(Q)), sp.expand(layout_width(Q))


def _check_depth():
    n, depth, heads, width = depth_formula()
    if not (depth == 2 * n + 3 and heads == 2 * n + 3 and width == 6 * n + 13):
        return Verdict(NOT_CHECKED, f"the layout's formulas give depth {depth}, width {width}")
    for k in range(1, 7):
        net, arch = pretrained(k, 2 * k + 1), architecture(k, 2 * k + 1)
        if not (net.depth == arch["layers"] == depth.subs(n, k) and net.head_count == heads.subs(n, k)
                and net.embedding.shape[0] == width.subs(n, k)):
            return Verdict(NOT_CHECKED, f"the network built for n = {k} is not the layout's formula")
    return Verdict(PROVED, "sympy on the layout's formulas (layout_depth(Q) = 2 + Q blocks of one head, "
                           "layout_width(Q) = 10 + 3Q) at Q = 2n + 1 for symbolic n: depth = heads = 2n + 3, "
                           "width 6n + 13, for every n >= 1 (the built network matches them for n = 1..6)")


def _check_theorem():
    notes = []
    for doc, what in INSTANCES:
        spec = parse_seqmap(padded(doc))
        r = construct(spec, max_cells=INSTANCE_MAX_CELLS)
        if r.verdict != "CERTIFIED":
            return Verdict(NOT_CHECKED, f"the n = {spec.length} instance was {r.verdict} (bound {r.bound:.3g})")
        c = check_sequence_map(r.doc)
        if not c.valid:
            return Verdict(NOT_CHECKED, f"the certificate did not re-check: {c.where}: {c.reason}")
        a = r.doc["architecture"]
        per = ", ".join(f"{b:.3g}" for b in r.doc["position_bounds"])
        note = (f"n = {spec.length} ({what}; {len(doc['terms'])} terms, padded with zero terms to Q = 2n + 1 = "
                f"{spec.terms}), eps = {EPSILON:g}: CERTIFIED at every position, end-to-end bounds {per} "
                f"(re-checked: {c.bound:.3g}); {a['layers']} layers of one head, the network of the depth table for "
                f"n = {spec.length}")
        if spec.length == 2:
            t = torus_bound(spec, r.doc, max_pairs=TORUS_MAX_PAIRS, time_limit=None)
            note += f"; direct torus branch-and-bound {t['bound']:.3g}"
        notes.append(note)
    return Verdict(CONSISTENT, "; ".join(notes) + ". The weights depend on n only; the targets changed only the "
                               "prefixes. Instances only: the statement is about every f")


RESULTS = [
    Result("kolmogorov_arnold", "Kolmogorov-Arnold theorem (used by the paper)", "the representation the construction uses", "paper",
           "forall continuous f on [0,1]^n: f = sum_{q=0}^{2n} chi_q(sum_{p=1}^n psi_{p,q}(x_p))",
           lambda: Verdict(NOT_CHECKED, "a classical theorem, cited; not machine-checked here")),
    Result("sequence_depth_count", "sequence theorem (depth count, ours)", "depth of the construction", "derived",
           "forall n >= 1: the construction of THEORY 4.2 as laid out here for length-n sequences with Q = 2n + 1 "
           "terms has 2n + 3 layers of one head and width 6n + 13",
           _check_depth),
    Result("sequence_theorem", "Theorem (sequence-to-sequence)", "depth-linear universal approximation", "paper, statement reconstructed",
           "forall n, continuous f = (f_1..f_n) on length-n sequences (an output at every position), eps > 0: "
           "a prefixed transformer of depth O(n) with target-independent weights has max_i sup |y_i - f_i| <= eps",
           _check_theorem),
]
