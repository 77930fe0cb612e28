"""General sequence maps by a prefixed transformer of depth linear in n (THEORY 4.2).

A *sequence map* (``certify.seqmap/1``) is f(x_1..x_n) = sum_q chi_q( sum_p psi_{p,q}(x_p) )
for tokens x_p on S^1, given by whitelisted expressions: the inner maps psi_{p,q} over
x0, x1 and the outer maps chi_q over s (the Kolmogorov-Arnold form; any number Q of terms,
2n + 1 in the theorem).

The pretrained transformer (:func:`pretrained`) depends only on (n, Q): residual-stream slots

    X (2: the token)  P (2: position e_p = (cos 2 pi p/n, sin 2 pi p/n))  ONE (1)
    PSI (Q)  MEAN (Q)  ACC (1)  KEY (4: prefix keys)  VAL (Q: prefix values)

and one head per block:

1. the inner head: query 2 (x, e_p) (d_k = 4, so the scale 1/sqrt(d_k) = 1/2 is exact), keys
   and values in the KEY and VAL slots, which every input token holds at 0: input tokens are
   inert (score 0, value 0), as in Lemma 3. Its prefix has, for each position p and node t_j,
   the key (lambda t_j, mu e_p) and the value (psi_{p,q}(t_j))_q: at position p the head is a
   single head on S^1 with biases mu <e_p, e_p'> that favour position p's tokens.
2. the summing head: W_Q = W_K = 0, no prefix: every score is exactly 0, so the weights are
   exactly 1/n (no approximation) and MEAN_q = (1/n) sum_p PSI_q.
3. Q outer heads: query 2 (MEAN_q, 1), prefix keys (a_k, b_k), values chi-values: a head on
   the line u -> (u, 1), written into ACC. The read-out is ACC.

Depth 2 + Q blocks of one head each: 2n + 3 for Q = 2n + 1, linear in n. Only the prefixes
depend on f.

Error (rigorous, :func:`end_to_end_bound`): with e_p the certified sup error of the inner head
at position p (the certifier's per-position problem, plus the rounding of its float biases),
e = (1/n) sum_p e_p bounds |MEAN_q - u_q|, u_q = (1/n) sum_p psi_{p,q}(x_p), whose range R_q is
enclosed by interval arithmetic. The outer head q is certified on I_q = R_q widened by e
(:mod:`certify.kernel.linebound`) against g_q(u) = chi_q(n u), with error c_q, and L_q >=
sup_{I_q} |g_q'| is enclosed. Then |F - f| <= sum_q (c_q + L_q e) over the whole torus (S^1)^n.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from certify.budgets import DEFAULT_MAX_CELLS
from certify.errors import InputError
from certify.formats.expressions import parse_target
from certify.kernel import interval as iv
from certify.kernel.interval_expressions import compile_interval
from certify.certifier.line_search import prove_line
from certify.kernel.linebound import check_line
from certify.checker.sequence_map import end_to_end_bound, iv_add_up, rounding_slack
from certify.formats.seqmap import (CERT_FORMAT, MAX_LENGTH, S, SPEC_FORMAT, U_SYM, Layout, SeqMap, architecture,
                                    inner_problem, lipschitz_bound, mean_range, outer_line, outer_line_at,
                                    pack_breakpoints, sum_up)
from certify.heads.transformer import Block, Head, Transformer


#: The inner heads are designed for this multiple of their share of epsilon (the design
#: bound is pessimistic; only the certified errors enter the end-to-end bound).
INNER_DESIGN_FACTOR = 2.0
#: The outer heads are built on the means' ranges widened on each side by this share of
#: the range's width (at least :data:`MIN_RANGE_WIDTH`): room for the inner heads' error
#: before it is known, which also caps the inner heads' design error.
RANGE_PAD = 0.05
#: Width assumed for a range that is a single point (a constant inner map), so the pad is
#: never 0.
MIN_RANGE_WIDTH = 1e-3
#: Floor of a Lipschitz constant used as a divisor in the design (a constant outer map has
#: L = 0); the certified bound uses the constants as they are.
MIN_LIPSCHITZ = 1e-9
#: Floor of an oscillation used in a logarithm of the design (constant values).
MIN_OSCILLATION = 1e-12
#: The heads' proofs stop refining once the certified upper bound is within this relative
#: distance of the witnessed lower bound (a design choice: tighter costs cells, not soundness).
PROOF_ACCURACY = 0.25
#: Design margin of the biases: the tokens of other positions (and the inert ones) together
#: get at most 1/MARGIN of epsilon.
BIAS_MARGIN = 10


# ------------------------------------------------------------------------- the map


def _polarisation(n: int) -> list[dict]:
    """prod_p a_p = 1/(2^n n!) sum over signs e (prod e) (sum_p e_p a_p)^n, e_1 = +1 (half the
    sign vectors: the other half repeats them, hence 2^(n-1) n! below)."""
    terms = []
    c = Fraction(1, 2 ** (n - 1) * math.factorial(n))
    for bits in range(2 ** (n - 1)):
        signs = [1] + [(-1 if (bits >> j) & 1 else 1) for j in range(n - 1)]
        sign = math.prod(signs)
        coef = c * sign
        terms.append({"inner": ["x0" if e > 0 else "-x0" for e in signs],
                      "outer": f"({coef.numerator}/{coef.denominator})*s**{n}"})
    return terms


#: Shipped examples: name -> (description, builder(n) -> terms). a_p is x0 of token p.
EXAMPLES = {
    "product": ("a_1 a_2 ... a_n by polarisation; n = 2: ((a_1 + a_2)^2 - (a_1 - a_2)^2)/4",
                _polarisation),
    "power-sum": ("sum_p a_p^2 + (sum_p a_p)^2 / n",
                  lambda n: [{"inner": ["x0**2"] * n, "outer": "s"},
                             {"inner": ["x0"] * n, "outer": f"s**2/{n}"}]),
    "smooth-max": ("log(sum_p exp(a_p)), the log-sum-exp smooth maximum",
                   lambda n: [{"inner": ["exp(x0)"] * n, "outer": "log(s)"}]),
    "moments": ("sequence to sequence: position 1 the mean of the a_p, position 2 their variance, "
                "position i >= 3 the mean to the power i",
                lambda n: _moments(n)),
}


def _moments(n: int) -> list[dict]:
    mean = f"(s/{n})"
    first = [mean, f"-{mean}**2"] + [f"{mean}**{i}" for i in range(3, n + 1)]
    second = ["0", mean] + ["0"] * (n - 2)
    return [{"inner": ["x0"] * n, "outer": first[:n]}, {"inner": ["x0**2"] * n, "outer": second[:n]}]


def example(name: str, n: int, epsilon: float) -> dict:
    if name not in EXAMPLES:
        raise InputError("--example", f"unknown example {name!r}; choose from {', '.join(EXAMPLES)}")
    if not (isinstance(n, int) and 1 <= n <= MAX_LENGTH):
        raise InputError("--length", f"must be an integer in 1..{MAX_LENGTH}, got {n!r}")
    if name == "moments" and n < 2:
        raise InputError("--length", "the moments example needs n >= 2 (two output positions)")
    return {"format": SPEC_FORMAT, "length": n, "terms": EXAMPLES[name][1](n), "epsilon": epsilon,
            "meta": {"example": name, "description": EXAMPLES[name][0]}}


# ------------------------------------------------------------------------- the network


def _select(rows: int, d: int, cols, scale: float = 1.0) -> np.ndarray:
    W = np.zeros((rows, d))
    for i, c in enumerate(cols):
        W[i, c] = scale
    return W


def pretrained(n: int, Q: int) -> Transformer:
    """The target-independent transformer for length-n sequences and Q terms (no prefixes)."""
    lay = Layout(n, Q)
    s, d = lay.slot, lay.d
    E = _select(d, 2, []).reshape(d, 2)
    E[s["X"][0], 0] = E[s["X"][1], 1] = 1.0
    P = np.zeros((n, d))
    P[:, s["P"]] = lay.positions()
    P[:, s["ONE"][0]] = 1.0
    inner = Head(W_Q=_select(4, d, list(s["X"]) + list(s["P"]), 2.0), W_K=_select(4, d, s["KEY"]),
                 W_V=_select(Q, d, s["VAL"]), W_O=_select(Q, d, s["PSI"]).T)
    summing = Head(W_Q=np.zeros((1, d)), W_K=np.zeros((1, d)), W_V=_select(Q, d, s["PSI"]),
                   W_O=_select(Q, d, s["MEAN"]).T)
    blocks = [Block([inner]), Block([summing])]
    for q in range(Q):
        # query 2 (MEAN_q, 1, e_p): the positional part meets the outer prefix's position keys
        # (zero for a map that is the same at every position)
        blocks.append(Block([Head(W_Q=_select(4, d, [s["MEAN"][q], s["ONE"][0]] + list(s["P"]), 2.0),
                                  W_K=_select(4, d, s["KEY"]), W_V=_select(1, d, s["VAL"][:1]),
                                  W_O=_select(1, d, s["ACC"]).T)]))
    readout = _select(1, d, s["ACC"])
    return Transformer(E, P, blocks, readout)


def with_prefixes(net: Transformer, n: int, Q: int, inner: dict, outer: list[dict]) -> Transformer:
    """Place the prefixes (compact form, as in the certificate) into the network's slots."""
    lay = Layout(n, Q)
    s, d = lay.slot, lay.d
    keys = np.asarray(inner["keys"])        # (n N) x 2
    pos = np.asarray(inner["position_keys"])  # (n N) x 2
    vals = np.asarray(inner["values"])      # (n N) x Q
    pre = np.zeros((keys.shape[0], d))
    pre[:, s["KEY"][:2]] = keys
    pre[:, s["KEY"][2:]] = pos
    pre[:, s["VAL"]] = vals
    net.blocks[0].heads[0].prefix = pre
    for q, o in enumerate(outer):
        a, b, v = (np.asarray(o[k]) for k in ("slopes", "offsets", "values"))
        pq = np.zeros((a.size, d))
        pq[:, s["KEY"][0]] = a
        pq[:, s["KEY"][1]] = b
        pq[:, s["VAL"][0]] = v
        if "position_keys" in o:
            pq[:, s["KEY"][2:]] = np.asarray(o["position_keys"])
        net.blocks[2 + q].heads[0].prefix = pq
    return net


# ------------------------------------------------------------------------- per-head problems


# ------------------------------------------------------------------------- construction


def _build_outer(g, lo: float, hi: float, eps: float, inert: int) -> dict:
    """Prefix of a line head for g on [lo, hi]: nodes spaced h = eps/L, scores
    -lambda (u - t)^2/2 + lambda u^2/2 + B = lambda t u + (B - lambda t^2/2)."""
    L = max(lipschitz_bound(g, lo, hi), MIN_LIPSCHITZ)
    if not math.isfinite(L):
        raise InputError("terms", f"the outer map is not Lipschitz on [{lo:.4g}, {hi:.4g}]")
    h = eps / L
    width = hi - lo
    count = max(2, int(math.ceil(width / h)) + 5)
    t = lo - 2 * h + h * np.arange(count)
    fn = compile_interval(g, [U_SYM])
    vlo, vhi = fn(iv.point(t))
    v = (vlo + vhi) / 2
    osc = float(np.max(v) - np.min(v)) + MIN_OSCILLATION
    r, delta = h, h / 2
    lam = 2 * math.log(max(2 * count * osc / eps, 2.0)) / (r * r - delta * delta)
    B = lam * h * h / 8 + math.log(max(BIAS_MARGIN * inert * (np.max(np.abs(v)) + 1) / eps, 2.0))
    return {"slopes": (lam * t).tolist(), "offsets": (B - lam * t * t / 2).tolist(), "values": v.tolist(),
            "lambda": lam, "nodes": int(count)}


def _build_outer_positions(gs: list, lo: float, hi: float, eps: float, n: int) -> dict:
    """Prefix of outer head q of a sequence-to-sequence map: for each output position i the
    nodes of :func:`_build_outer` on one common grid (one lambda and offset for all, so only
    the values chi_{i,q} differ), with position keys mu e_i; mu makes the nodes of the other
    positions negligible at position i (their scores are at least mu (1 - cos(2 pi/n)) lower)."""
    Ls = [max(lipschitz_bound(g, lo, hi), MIN_LIPSCHITZ) for g in gs]
    if not all(math.isfinite(x) for x in Ls):
        raise InputError("terms", f"an outer map is not Lipschitz on [{lo:.4g}, {hi:.4g}]")
    h = eps / max(Ls)
    count = max(2, int(math.ceil((hi - lo) / h)) + 5)
    t = lo - 2 * h + h * np.arange(count)
    vals = []
    for g in gs:
        vlo, vhi = compile_interval(g, [U_SYM])(iv.point(t))
        vals.append((vlo + vhi) / 2)
    V = np.array(vals)
    osc = float(np.ptp(V)) + MIN_OSCILLATION
    r, delta = h, h / 2
    lam = 2 * math.log(max(2 * count * osc / eps, 2.0)) / (r * r - delta * delta)
    B = lam * h * h / 8 + math.log(max(BIAS_MARGIN * n * (np.max(np.abs(V)) + 1) / eps, 2.0))
    span = osc + float(np.max(np.abs(V)))
    mu = 0.0  # one output position: no other position's nodes to suppress
    if n > 1:
        mu = (lam * h * h / 8 + math.log(max(BIAS_MARGIN * (n - 1) * count * span / eps, 2.0))) \
            / (1 - math.cos(2 * math.pi / n))
    E = Layout(n, 1).positions()
    return {"slopes": np.tile(lam * t, n).tolist(), "offsets": np.tile(B - lam * t * t / 2, n).tolist(),
            "values": V.reshape(-1).tolist(), "position_keys": np.repeat(mu * E, count, axis=0).tolist(),
            "lambda": lam, "mu": mu, "nodes": int(count), "nodes_per_position": int(count)}


def _prove_outer(head, target, lo, hi, eps, L, slack=0.0) -> dict:
    """Certify one line head on [lo, hi]; the bound recorded is the checker's recomputation."""
    t1 = time.monotonic()
    res = prove_line(head, target, lo, hi, eps, accuracy=PROOF_ACCURACY)
    if res.verdict == "CERTIFIED":  # the recomputed bound, as the checker will see it
        _, _, worst = check_line(head, target, lo, hi, res.breakpoints, res.upper)
        res.upper = worst
    return {"verdict": res.verdict, "upper": res.upper if math.isfinite(res.upper) else None, "lower": res.lower,
            "lipschitz": L, "segments": int(res.breakpoints.size - 1), "breakpoints": pack_breakpoints(res.breakpoints),
            "seconds": round(time.monotonic() - t1, 3)}


@dataclass
class KAResult:
    spec: SeqMap
    doc: dict                      # the certificate document (certify.seqmap-certificate/1)
    network: Transformer
    bound: float                   # rigorous end-to-end bound (inf when a step was not certified)
    verdict: str                   # CERTIFIED (bound <= epsilon) or UNDECIDED
    seconds: float


def construct(spec: SeqMap, progress=None, time_limit: float | None = None,
              max_cells: int = DEFAULT_MAX_CELLS) -> KAResult:
    """Build the prefixes for ``spec``, certify every head, and bound the end-to-end error.

    Each inner-head proof bounds at most ``max_cells`` cells (a work budget: the result does
    not depend on the machine's load); ``time_limit`` (seconds per proof, default None) is an extra
    cap that makes it host-dependent."""
    from certify.constructions.prefixes import construct_net
    from certify.certifier.pipeline import decide

    t0 = time.monotonic()
    n, Q, eps = spec.length, spec.terms, spec.epsilon
    say = progress or (lambda msg: None)
    # ranges of the inner maps and of the means u_q (rigorous)
    mean_rng = [mean_range(spec, q) for q in range(Q)]
    outputs = n if spec.per_position else 1
    g = [[spec.outer_at(q, i).subs(S, n * U_SYM) for i in range(outputs)] for q in range(Q)]
    pad = [RANGE_PAD * max(hi - lo, MIN_RANGE_WIDTH) for lo, hi in mean_rng]
    Ls = [max(lipschitz_bound(gi, mean_rng[q][0] - pad[q], mean_rng[q][1] + pad[q]) for gi in g[q]) for q in range(Q)]
    if not all(math.isfinite(x) for x in Ls):
        raise InputError("terms", "an outer map is not Lipschitz on the reachable range")
    # error budget: half for the outer heads, half through the Lipschitz constants; the net
    # construction's certified error is typically a third of its design value, hence the 2
    # the pads of terms whose inner sums are constant (a zero term that fills Q up to 2n + 1)
    # do not cap the design: their outer heads only need the constant widened by the error
    live = [pad[q] for q in range(Q) if mean_rng[q][1] - mean_rng[q][0] > MIN_RANGE_WIDTH]
    cap = min(live) if live and min(live) > 0 else eps
    e_inner = min(INNER_DESIGN_FACTOR * eps / (2 * max(sum(Ls), MIN_LIPSCHITZ)), cap)
    e_outer = eps / (2 * Q)
    # inner head: one net construction for all n Q inner maps, copied per position with mu e_p
    texts = [spec.inner_text(q, p) for p in range(n) for q in range(Q)]
    say(f"inner head: net construction for {n * Q} inner maps at eps {e_inner:.3g}")
    c = construct_net(parse_target(texts, 1), e_inner)
    keys = np.asarray(c.problem.head.keys)
    vals = np.asarray(c.problem.head.values).reshape(keys.shape[0], n, Q)
    N = keys.shape[0]
    lay = Layout(n, Q)
    E = lay.positions()
    mu = 0.0
    if n > 1:
        osc = float(np.ptp(vals)) + MIN_OSCILLATION
        mu = (c.lam * c.partition.delta ** 2 / 2 + math.log(max(BIAS_MARGIN * (n - 1) * N * osc / e_inner, 2.0))) \
            / (1 - math.cos(2 * math.pi / n))
    inner = {"keys": np.tile(keys, (n, 1)).tolist(),
             "position_keys": np.repeat(mu * E, N, axis=0).tolist(),
             "values": np.concatenate([vals[:, p, :] for p in range(n)], axis=0).tolist(),
             "lambda": c.lam, "mu": mu, "nodes_per_position": N}
    # certify the inner head at every position
    positions, e_p = [], []
    for p in range(n):
        prob, eta = inner_problem(spec, inner, p, e_inner)
        say(f"inner head, position {p + 1}/{n}: proving ({prob.prefix_length} prefix tokens)")
        d = decide(prob, accuracy=PROOF_ACCURACY, max_cells=max_cells, time_limit=time_limit)
        if d.verdict != "CERTIFIED" and math.isfinite(d.result.upper):
            # the design epsilon was missed, but the sup error is bounded: certify that bound
            prob, eta = inner_problem(spec, inner, p, float(iv.up(d.result.upper)))
            d = decide(prob, max_cells=max_cells, time_limit=time_limit)
        res = d.result
        slack = rounding_slack(np.asarray(inner["values"]), eta)
        cert = d.certificate if res.verdict == "CERTIFIED" else None
        # the bound the checker recomputed from the certificate is the one that counts
        err = float(iv.up(d.report.upper + slack)) if cert is not None else math.inf
        positions.append({"position": p + 1, "verdict": res.verdict, "upper": res.upper if math.isfinite(res.upper) else None,
                          "lower": res.lower, "bias_rounding": eta, "rounding_slack": slack,
                          "error": err if math.isfinite(err) else None, "cells": res.cells,
                          "seconds": round(res.seconds, 3), "certificate": cert})
        e_p.append(err if res.verdict == "CERTIFIED" else math.inf)
    e_bar = float(iv.up(sum_up(e_p) / n)) if all(math.isfinite(x) for x in e_p) else math.inf
    # outer heads on the reachable intervals
    outer, outer_docs = [], []
    for q in range(Q):
        lo = float(iv.down(mean_rng[q][0] - (e_bar if math.isfinite(e_bar) else pad[q])))
        hi = float(iv.up(mean_rng[q][1] + (e_bar if math.isfinite(e_bar) else pad[q])))
        if not spec.per_position:
            o = _build_outer(g[q][0], lo, hi, e_outer, n)
            head, target = outer_line(spec, o, q)
            say(f"outer head {q + 1}/{Q}: proving on [{lo:.4g}, {hi:.4g}] ({o['nodes']} prefix tokens)")
            outer.append(o)
            outer_docs.append({"term": q + 1, "interval": [lo, hi],
                               **_prove_outer(head, target, lo, hi, e_outer, lipschitz_bound(g[q][0], lo, hi))})
            continue
        o = _build_outer_positions(g[q], lo, hi, e_outer, n)
        per = []
        for i in range(n):
            head, target, eta = outer_line_at(spec, o, q, i)
            slack = rounding_slack(np.asarray(o["values"])[:, None], eta)
            say(f"outer head {q + 1}/{Q}, output position {i + 1}/{n}: proving on [{lo:.4g}, {hi:.4g}] "
                f"({len(o['slopes'])} prefix tokens)")
            d = _prove_outer(head, target, lo, hi, e_outer, lipschitz_bound(g[q][i], lo, hi))
            per.append({"position": i + 1, "bias_rounding": eta, "rounding_slack": slack, **d})
        worst = [d["upper"] for d in per]
        outer.append(o)
        outer_docs.append({"term": q + 1, "interval": [lo, hi], "positions": per,
                           "verdict": "CERTIFIED" if all(d["verdict"] == "CERTIFIED" for d in per) else "UNDECIDED",
                           "upper": max(worst) if all(w is not None for w in worst) else None})
    if spec.per_position:
        position_bounds = [end_to_end_bound(e_bar, [iv_add_up(d["positions"][i]["upper"], d["positions"][i]["rounding_slack"])
                                                    for d in outer_docs],
                                            [d["positions"][i]["lipschitz"] for d in outer_docs]) for i in range(n)]
        bound = max(position_bounds)
    else:
        position_bounds = None
        bound = end_to_end_bound(e_bar, [d["upper"] for d in outer_docs], [d["lipschitz"] for d in outer_docs])
    verdict = "CERTIFIED" if bound <= eps else "UNDECIDED"
    net = with_prefixes(pretrained(n, Q), n, Q, inner, outer)
    doc = {"format": CERT_FORMAT, "spec": {"format": SPEC_FORMAT, "length": n, "epsilon": eps,
                                           "terms": spec.texts["terms"]},
           "architecture": architecture(n, Q), "verdict": verdict,
           "bound": bound if math.isfinite(bound) else None, "inner_error_mean": e_bar if math.isfinite(e_bar) else None,
           "inner": {**inner, "positions": positions},
           "outer": [{**o, **d} for o, d in zip(outer, outer_docs)]}
    if position_bounds is not None:
        doc["position_bounds"] = [b if math.isfinite(b) else None for b in position_bounds]
    return KAResult(spec, doc, net, bound, verdict, time.monotonic() - t0)


def depth_table(ns=range(1, 9)) -> list[dict]:
    """Layers and heads for Q = 2n + 1 terms (the theorem's count)."""
    return [dict(n=n, **architecture(n, 2 * n + 1)) for n in ns]
