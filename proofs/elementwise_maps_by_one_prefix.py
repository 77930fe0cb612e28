"""Element-wise maps [paper, Corollary 2; THEORY 4.1]: for continuous g: S^m -> R^o, eps > 0 and a
maximal length n_max, a prefix of the head of Lemma 3 maps every sequence (x_1..x_n), n <= n_max,
to (y_1..y_n) with |y_i - g(x_i)| <= eps for every i. The quantifier order matters: for each
n_max a prefix, not one prefix for every n.

* Other-token term [derived]: by Lemma 3 (its own entry), y_i = Z/(n+Z) H(x_i) with
  Z = sum_k e^{lambda <x_i, p_k^a>}, so |y_i - H(x_i)| <= n/(n+Z) max_k |p_k^b|; the nearest
  key (within delta, <x, p> = 1 - |x - p|^2/2) gives Z >= e^{lambda(1 - delta^2/2)}, hence
  |y_i - H(x_i)| <= n max_k |p_k^b| / (n + e^{lambda(1 - delta^2/2)}). Checked by z3.
* Token counts [derived]: y = num/(den + c) for a query that sees c inert tokens; |num t - g| is
  convex in t = 1/(den + c), which is monotone in c, so the ends c = 1 and c = n_max bound every
  count (z3). This is what makes ``certify prove`` exact on sequence problems.
* The corollary: CONSISTENT. For two instances, the sequence problem (every position of every
  sequence of length 1..n_max, the head of Lemma 3 in matrix form) is CERTIFIED by ``certify
  prove`` and its certificate re-checked; a float run of the reference head is a sanity check.
* Decay [derived]: a fixed prefix has |y_i| <= Z/(n + Z) max_k |p_k^b| <= B M/(n + B) with
  B = N e^{max score} >= Z and M = max_k |p_k^b|, which tends to 0 as n grows (z3).
* The all-n reading [trap] ("one prefix for every n") is false: for g with sup |g| > eps the
  decay bound makes every prefix fail at some n. Shown on an instance: a prefix CERTIFIED for
  n <= n_max is REFUTED (certify prove, a rigorous witness) at a length past the decay bound's.
"""


import numpy as np
import z3

from certify.certifier.pipeline import decide as prove_and_check
from certify.constructions.elementwise import elementwise_problem, sequence_outputs

from certify.formats.problem import make_problem

from ._instances import INSTANCE_MAX_CELLS, Instance, decide
from ._z3 import negation_unsat, zabs
from .registry import CONSISTENT, NOT_CHECKED, PROVED, REFUTED, Result, Verdict


def _check_term():
    n, Z, E, lam, d2, s = z3.Reals("n Z E lam delta2 s")  # s: the nearest key's inner product
    mono = negation_unsat([n >= 1, E > 0, Z >= E], n / (n + Z) <= n / (n + E),
                          "n/(n+Z) <= n/(n+E) for Z >= E > 0")
    expo = negation_unsat([lam > 0, d2 >= 0, s == 1 - d2 / 2, d2 <= z3.Real("delta") ** 2],
                          lam * s >= lam * (1 - z3.Real("delta") ** 2 / 2),
                          "lambda <x, p_nearest> >= lambda (1 - delta^2/2)")
    if mono.kind == PROVED and expo.kind == PROVED:
        return Verdict(PROVED, mono.evidence + "; " + expo.evidence + " (Z >= e^{that} by monotonicity of exp)")
    return Verdict(NOT_CHECKED, mono.evidence + "; " + expo.evidence)


def _check_counts():
    a, t, t1, t2, g, c, c1, c2, D = z3.Reals("a t t1 t2 g c c1 c2 den")
    absv = lambda e: z3.If(e >= 0, e, -e)
    conv = negation_unsat([t1 <= t, t <= t2], z3.Or(absv(a * t - g) <= absv(a * t1 - g), absv(a * t - g) <= absv(a * t2 - g)),
                          "|a t - g| <= max(|a t1 - g|, |a t2 - g|) for t in [t1, t2]")
    mono = negation_unsat([D > 0, 0 <= c1, c1 <= c, c <= c2], z3.And(1 / (D + c2) <= 1 / (D + c), 1 / (D + c) <= 1 / (D + c1)),
                          "1/(den + c) is monotone in c for den > 0")
    if conv.kind == PROVED and mono.kind == PROVED:
        return Verdict(PROVED, conv.evidence + "; " + mono.evidence +
                       " (so with y_c = num/(den + c), every count c in [c_lo, c_hi] has error <= the larger end's)")
    return Verdict(NOT_CHECKED, conv.evidence + "; " + mono.evidence)


#: The corollary's instances, each with its n_max: the net prefix (lambda in the thousands, so
#: the other tokens' weight is negligible up to 10^9 tokens) and a vMF prefix with lambda = 10,
#: whose n_max is limited by Z ~ N I_0(10) ~ 5.6e5 (the decay row's instance).
INSTANCES = ((Instance(1, "x0*x1", 1.0, 0.1, "net"), 1000),
             (Instance(1, "x0*x1", 1.0, 0.15, "vmf", lam=10.0, prefix_length=200), 10_000))
#: The length at which the vMF instance's prefix is shown to fail (past the decay bound's).
FAIL_LENGTH = 10_000_000


def _sequence_certified(o, max_length):
    """(evidence, None) or (None, reason): the sequence problem of ``o``'s prefix for n <= max_length."""
    seq = elementwise_problem(o.construction.problem, max_length)
    # a sequence problem costs what the single head costs (two extreme token counts of one head)
    d = prove_and_check(seq, max_cells=INSTANCE_MAX_CELLS)
    r, report = d.result, d.report
    if r.verdict != "CERTIFIED":
        return None, f"the sequence problem (n <= {max_length}) of {o.instance.describe()} was {r.verdict}"
    # the float reference head of Lemma 3 on random sequences stays under the certified bound
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in (1, 2, 5, 40):
        for _ in range(SEQUENCES):
            theta = rng.uniform(0, 2 * np.pi, n)
            x = np.stack([np.cos(theta), np.sin(theta)], axis=1)
            err = np.abs(sequence_outputs(seq, x)[:, 0] - x[:, 0] * x[:, 1])
            worst = max(worst, float(err.max()))
            if np.any(err > r.upper + 1e-12):
                return None, f"a sequence of length {n} exceeded the certified bound: {err.max():.3g}"
    return (f"{o.instance.describe()}: the head of Lemma 3 with that prefix is CERTIFIED (certify prove, "
            f"sequence problem) for every position of every sequence of length 1..{max_length}, sup error in "
            f"[{r.lower:.3g}, {r.upper:.3g}], {report.leaves} leaves, re-checked by certify check; the float "
            f"reference head on {4 * SEQUENCES} random sequences of lengths 1, 2, 5 and 40: worst error {worst:.3g}"), None


def _certified_instance(inst, n_max):
    """(outcome, note, None) or (None, None, reason): the single head and its sequence problem."""
    o = decide(inst)
    if not o.certified:
        return None, None, "the single-head prefix was not certified: " + o.describe()
    note, why = _sequence_certified(o, n_max)
    return (None, None, why) if why else (o, note, None)


def _check_corollary():
    notes = []
    for inst, n_max in INSTANCES:
        _, note, why = _certified_instance(inst, n_max)
        if why:
            return Verdict(NOT_CHECKED, why)
        notes.append(note)
    return Verdict(CONSISTENT, "; ".join(notes) + ". Instances only: the statement is about every g, eps and n_max")


def _check_decay():
    Z, B, H, M, n, e = z3.Reals("Z B H M n e")
    bound = negation_unsat([Z > 0, Z <= B, zabs(H) <= M, n >= 0],
                           zabs(Z * H / (n + Z)) <= B * M / (n + B),
                           "|y| = Z |H|/(n + Z) <= B M/(n + B) for 0 < Z <= B, |H| <= M, n >= 0")
    limit = negation_unsat([B > 0, M >= 0, e > 0, n > B * M / e], B * M / (n + B) < e,
                           "B M/(n + B) < e' once n > B M/e', for every e' > 0")
    if bound.kind == PROVED and limit.kind == PROVED:
        return Verdict(PROVED, bound.evidence + "; " + limit.evidence +
                       " (Z <= B = N e^(max score) term by term, so y -> 0 as n grows)")
    return Verdict(NOT_CHECKED, bound.evidence + "; " + limit.evidence)


def decay_length(problem, sup_target: float, epsilon: float) -> float:
    """The length past which the decay bound makes ``problem``'s reduced softmax prefix fail at
    a point where |g| = sup_target > epsilon: n > B (M/(sup_target - epsilon) - 1), float
    estimate (the failure itself is shown by ``certify prove``)."""
    ch = problem.canonical["head"]
    keys, values = np.array(ch["keys"]), np.array(ch["values"])
    scores = np.linalg.norm(keys, axis=1) + np.array(ch["biases"])
    log_b = float(np.log(np.sum(np.exp(scores - scores.max()))) + scores.max())
    M = float(np.abs(values).max())
    return float(np.exp(log_b) * (M / (sup_target - epsilon) - 1))


def _check_all_n():
    inst, n_max = INSTANCES[1]
    o, note, why = _certified_instance(inst, n_max)
    if why:
        return Verdict(NOT_CHECKED, why)
    # sup |x0 x1| = 1/2 on S^1, at x = (1, 1)/sqrt 2
    predicted = decay_length(o.construction.problem, 0.5, inst.epsilon)
    if not predicted < FAIL_LENGTH:
        return Verdict(NOT_CHECKED, f"the decay bound predicts failure only past n = {predicted:.3g}")
    ch = o.construction.problem.canonical["head"]
    # the query sees FAIL_LENGTH inert tokens (its own included): the reduced head's context count
    long = make_problem(1, "softmax", ch["keys"], ch["values"], [inst.target], inst.epsilon, biases=ch["biases"],
                        context_tokens=FAIL_LENGTH)
    r = prove_and_check(long, max_cells=INSTANCE_MAX_CELLS).result
    if r.verdict != "REFUTED":
        return Verdict(NOT_CHECKED, f"the same prefix at n = {FAIL_LENGTH:.0e} was {r.verdict}")
    w = ", ".join(f"{float(v):.6g}" for v in r.witness.point / np.linalg.norm(r.witness.point))
    return Verdict(REFUTED, f"counterexample g = {inst.target}, eps = {inst.epsilon:g}: every prefix fails at some n "
                            f"(the negation PROVED by the decay row, since sup |g| = 1/2 > eps); instance: {note}; the same prefix at "
                            f"n = {FAIL_LENGTH:.0e} tokens (the decay bound, a float estimate: fails past n ~ {predicted:.3g}) is REFUTED by "
                            f"certify prove: sup error >= {r.lower:.3g} > eps, witness x ~ ({w})")


SEQUENCES = 50


RESULTS = [
    Result("corollary2_other_tokens", "Corollary 2 (other-token term, ours)", "error from the other tokens",
           "derived", "forall n >= 1, lambda > 0, delta-net keys, x_i: |y_i - H(x_i)| <= "
           "n max_k |p_k^b| / (n + e^(lambda (1 - delta^2/2)))", _check_term),
    Result("corollary2_counts", "Corollary 2 (token counts, ours)", "the two extreme counts decide every count",
           "derived", "forall num, den > 0, c in [c_lo, c_hi]: |num/(den + c) - g| <= max over c in {c_lo, c_hi}",
           _check_counts),
    Result("corollary2", "Corollary 2", "element-wise sequence maps by one prefixed head",
           "paper, statement reconstructed",
           "forall continuous g: S^m -> R^o, eps > 0, n_max >= 1: exists prefix: forall n <= n_max, (x_1..x_n): "
           "max_i |y_i - g(x_i)| <= eps", _check_corollary),
    Result("corollary2_decay", "Corollary 2 (decay of a fixed prefix, ours)", "a fixed prefix fades as n grows",
           "derived", "forall prefix, n >= 0, x_i: |y_i| <= Z/(n + Z) max_k |p_k^b| <= N e^(max score) max_k |p_k^b| / "
           "(n + N e^(max score)) -> 0 as n -> infinity", _check_decay),
    Result("corollary2_all_n", "Corollary 2, one prefix for every n", "the all-n reading of Corollary 2", "trap",
           "forall continuous g: S^m -> R^o, eps > 0: exists prefix: forall n, (x_1..x_n): max_i |y_i - g(x_i)| <= eps",
           _check_all_n),
]
