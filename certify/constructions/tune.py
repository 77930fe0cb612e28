"""Prefix tuning: optimise a prefix to lower the sup error over S^m (``certify tune``).

NOT rigorous: a tuned prefix is a claim like any other, which ``certify prove`` decides.

The tunable parameters are the prefix's: for a reduced head (``kind`` softmax or core) its keys
A_k, values v_k and biases b_k; for a full-matrix head (frozen E, W_Q, W_K, W_V, optional self
attention and fixed context tokens, such as the pretrained head of Lemma 3) its prefix tokens
p_k, whose keys and values are linear in p_k (A_k = E^T W_Q^T W_K p_k / sqrt(d_k), v_k = W_V p_k).

Objective: a smooth maximum of the squared errors on a finite sample of the sphere,
L = (1/beta) log sum_{j,i} exp(beta (H_i(x_j) - f_i(x_j))^2), with closed-form gradients (the
softmax moments: dH/dv_k = pi_k, dH/ds_k = pi_k (v_k - H)); beta is set each round so that the
smooth maximum is within a few per cent of the true one on the sample. Each round runs
scipy's L-BFGS-B, then an exchange step adds the worst points found on a fresh seeded sample
(refined by local search, as ``certify estimate`` does). Everything is seeded: the same seed,
start and host give the same prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from certify.certifier.estimate import estimate_sup_error, polish, random_sphere_points
from certify.constructions.partitions import equal_area_partition
from certify.errors import InputError
from certify.formats.problem import FORMAT, Problem, make_problem, problem_from_dict
from certify.heads.attention import problem_error
from certify.heads.numeric import target_values

#: Rounds of L-BFGS-B followed by an exchange step.
DEFAULT_ROUNDS = 6
#: L-BFGS-B iterations per round.
DEFAULT_ITERATIONS = 1000
#: Sample points at the start (per dimension of the sphere: S^1 2000, S^2 6000, ...).
SAMPLE_PER_DIM = {1: 2000, 2: 6000}
#: Fresh points drawn per exchange step, and how many of the worst are added.
EXCHANGE_DRAW = 20000
EXCHANGE_ADD = 64
#: beta max_j r_j of each round: the smooth maximum exceeds the maximum by at most
#: log(#terms)/beta, a few per cent of it for this value.
SHARPNESS = 200.0


@dataclass
class TuneResult:
    problem: Problem
    estimate_before: float
    estimate_after: float
    rounds: int
    iterations: int
    evaluations: int
    sample_points: int
    history: list = field(default_factory=list)


class _Model:
    """The parametrisation of a problem's prefix and the smooth-max objective with its gradient."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.m = problem.sphere_dim
        self.o = problem.out_dim
        h = problem.canonical["head"]
        self.h = h
        self.full = "embedding" in h
        self.core = h["kind"] == "core"
        if self.full:
            E, WQ, WK, WV = (np.array(h[k], dtype=np.float64) for k in ("embedding", "W_Q", "W_K", "W_V"))
            scale = 1.0 / math.sqrt(WQ.shape[0])
            QE = WQ @ E
            self.key_map = (WK.T @ QE) * scale     # d x (m+1): keys = P @ key_map
            self.value_map = WV.T                  # d x o: values = P @ value_map
            ctx = np.array(h.get("context", []), dtype=np.float64).reshape(-1, E.shape[0])
            self.ctx_keys, self.ctx_values = ctx @ self.key_map, ctx @ self.value_map
            self.S = (QE.T @ (WK @ E)) * scale if h.get("self_attention", True) else None
            self.B = WV @ E if self.S is not None else None
            self.n0 = 0
            P = np.array(h["prefix"], dtype=np.float64)
            self.shape = P.shape
            self.scales = np.full(P.size, max(float(np.abs(P).max()), 1e-300))
            self.theta0 = P.ravel() / self.scales
        else:
            A, V = np.array(h["keys"], dtype=np.float64), np.array(h["values"], dtype=np.float64)
            b = np.array(h["biases"], dtype=np.float64)
            self.n0 = int(h.get("context_tokens", 0))
            self.N = A.shape[0]
            ks = max(float(np.abs(A).max()), float(np.abs(b).max()) if b.size else 0.0, 1e-300)
            vs = max(float(np.abs(V).max()), 1e-300)
            self.scales = np.concatenate([np.full(A.size, ks), np.full(V.size, vs), np.full(b.size, ks)])
            self.theta0 = np.concatenate([A.ravel(), V.ravel(), b]) / self.scales
        self.evaluations = 0
        if not (np.all(np.isfinite(self.scales)) and np.all(np.isfinite(self.theta0))
                and float(np.max(self.scales)) < 1e150):
            raise InputError("--head", "the start prefix holds numbers too large to tune (above 1e150)")

    # ---------------------------------------------------------------- parameters

    def parts(self, theta):
        """(keys, values, biases) of the prefix (full heads: from the prefix tokens)."""
        raw = theta * self.scales
        if self.full:
            P = raw.reshape(self.shape)
            return P @ self.key_map, P @ self.value_map, np.zeros(self.shape[0]), P
        N, d = self.N, self.m + 1
        A = raw[: N * d].reshape(N, d)
        V = raw[N * d: N * d + N * self.o].reshape(N, self.o)
        return A, V, raw[N * d + N * self.o:], None

    def problem_for(self, theta, meta: dict | None = None) -> Problem:
        A, V, b, P = self.parts(theta)
        doc = self.problem.to_json()
        head = dict(doc["head"])
        if self.full:
            head["prefix"] = P.tolist()
        else:
            head.update(keys=A.tolist(), values=V.tolist(), biases=b.tolist())
        doc["head"] = head
        if meta is not None:
            doc["meta"] = meta
        return problem_from_dict(doc)

    # ---------------------------------------------------------------- objective

    def loss_grad(self, theta, X, F, beta, unit=1.0):
        """The smooth maximum divided by ``unit`` (the round's starting peak, so that L-BFGS-B's
        tolerances see a loss of order 1 whatever the error's size), and its gradient."""
        loss, grad = self._loss_grad(theta, X, F, beta)
        return loss / unit, grad / unit

    def _loss_grad(self, theta, X, F, beta):
        self.evaluations += 1
        A, V, b, _ = self.parts(theta)
        if self.full and self.ctx_keys.shape[0]:
            A_all, V_all = np.concatenate([A, self.ctx_keys]), np.concatenate([V, self.ctx_values])
            b_all = np.concatenate([b, np.zeros(self.ctx_keys.shape[0])])
        else:
            A_all, V_all, b_all = A, V, b
        s = X @ A_all.T + b_all
        if self.core:
            w = np.exp(s)
            H = w @ V_all
        else:
            top = s.max(axis=1)
            q = None
            if self.full and self.S is not None:
                q = np.einsum("ji,ik,jk->j", X, self.S, X)
                top = np.maximum(top, q)
            if self.n0:
                top = np.maximum(top, 0.0)
            e = np.exp(s - top[:, None])
            Z = e.sum(axis=1)
            if q is not None:
                eq = np.exp(q - top)
                Z = Z + eq
            if self.n0:
                Z = Z + self.n0 * np.exp(-top)
            w = e / Z[:, None]
            H = w @ V_all
            if q is not None:
                H = H + (eq / Z)[:, None] * (X @ self.B.T)
        R = H - F
        r = R * R
        c = float(r.max())
        ex = np.exp(beta * (r - c))
        total = float(ex.sum())
        loss = c + math.log(total) / beta
        G = (ex / total) * 2.0 * R               # dL/dH, M x o
        gV = w.T @ G                              # dL/dv_k
        if self.core:
            g = w * (G @ V_all.T)                 # dL/ds_jk = w_jk <G_j, v_k>
        else:
            g = w * (G @ V_all.T - np.sum(G * H, axis=1)[:, None])
        gA = g.T @ X
        gb = g.sum(axis=0)
        K = A.shape[0]
        gA, gV, gb = gA[:K], gV[:K], gb[:K]
        if self.full:
            gP = gA @ self.key_map.T + gV @ self.value_map.T
            grad = gP.ravel()
        else:
            grad = np.concatenate([gA.ravel(), gV.ravel(), gb])
        grad = grad * self.scales
        if not (math.isfinite(loss) and np.all(np.isfinite(grad))):
            return math.inf, np.zeros_like(theta)
        return loss, grad


def _sample(m: int, count: int) -> np.ndarray:
    return equal_area_partition(m, count).centres


def _worst_points(problem: Problem, rng, draw: int, add: int) -> np.ndarray:
    """The ``add`` worst of ``draw`` seeded random points, the best few refined locally."""
    pts = random_sphere_points(problem.sphere_dim, draw, rng)
    err = problem_error(problem, pts)
    err = np.where(np.isfinite(err), err, np.inf)
    order = np.argsort(-err, kind="stable")[:add]
    out = pts[order]
    scale = (4 * math.pi / draw) ** (1.0 / problem.sphere_dim)
    refined = [polish(problem, out[i], scale, maxfev=200)[1] for i in range(min(8, out.shape[0]))]
    return np.concatenate([out, np.array(refined).reshape(-1, problem.sphere_dim + 1)])


def tune(problem: Problem, seed: int = 0, rounds: int = DEFAULT_ROUNDS, iterations: int = DEFAULT_ITERATIONS,
         sample: int | None = None, progress=None, meta: dict | None = None) -> TuneResult:
    """Tune ``problem``'s prefix (the start point) to lower its sup error; see the module docstring."""
    if problem.sequence is not None:
        raise InputError("--head", "tuning a sequence problem is not supported: tune the single head, then "
                                   "build the sequence problem (certify construct-seq elementwise)")
    for name, value, lo in (("--rounds", rounds, 1), ("--iterations", iterations, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < lo:
            raise InputError(name, f"must be an integer >= {lo}, got {value!r}")
    m = problem.sphere_dim
    rng = np.random.default_rng(seed)
    count = sample or SAMPLE_PER_DIM.get(m, 6000 * 3 ** (m - 2))
    X = np.concatenate([_sample(m, count), random_sphere_points(m, count // 4, rng)])
    F0 = target_values(problem.target, X)
    if not (np.all(np.isfinite(F0)) and float(np.max(np.abs(F0))) < 1e150):
        raise InputError("--target", "the target's values are too large to tune (above 1e150 on the sphere)")
    model = _Model(problem)
    before = estimate_sup_error(problem, seed=seed).value
    if not (math.isfinite(before) and before < 1e150):
        raise InputError("--target", f"the start's error is {before:.3g} on the sample: the target's or the head's "
                                     "values are too large to tune (their squares overflow float64)")
    theta = model.theta0.copy()
    best_theta, best_est = theta.copy(), before
    history, iters = [], 0
    for k in range(rounds):
        F = target_values(problem.target, X)
        current = problem_error(model.problem_for(theta), X)
        peak = float(np.max(current) ** 2) if np.all(np.isfinite(current)) else 1.0
        if not math.isfinite(peak):
            peak = 1.0
        beta = SHARPNESS / max(peak, 1e-300)
        res = optimize.minimize(model.loss_grad, theta, args=(X, F, beta, max(peak, 1e-300)), jac=True,
                                method="L-BFGS-B", options={"maxiter": iterations, "maxcor": 20, "ftol": 1e-13,
                                                            "gtol": 1e-10})
        iters += int(res.nit)
        if np.all(np.isfinite(res.x)):
            theta = res.x
        tuned = model.problem_for(theta)
        est = estimate_sup_error(tuned, samples=8000, starts=6, seed=seed + k + 1).value
        if math.isfinite(est) and est < best_est:
            best_theta, best_est = theta.copy(), est
        history.append({"round": k + 1, "points": int(X.shape[0]), "iterations": int(res.nit),
                        "estimated_sup_error": est})
        if progress:
            progress(f"round {k + 1}/{rounds}: {X.shape[0]} points, {res.nit} L-BFGS-B iterations, "
                     f"estimated sup error {est:.4g}")
        X = np.concatenate([X, _worst_points(tuned, rng, EXCHANGE_DRAW, EXCHANGE_ADD)])
    info = dict(problem.meta)
    info.update(meta or {})
    info["tuned"] = {"optimizer": "scipy.optimize.minimize L-BFGS-B on a smooth maximum of squared errors, "
                                  "with exchange steps", "seed": seed, "rounds": rounds,
                     "iterations_per_round": iterations, "iterations": iters, "sample_points": int(X.shape[0]),
                     "estimated_sup_error_start": before, "estimated_sup_error": best_est,
                     "history": history}
    final = model.problem_for(best_theta, info)
    return TuneResult(final, before, best_est, rounds, iters, model.evaluations, int(X.shape[0]), history)


def fit_prefix(head: dict, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Prefix tokens P (N x d) of a full-matrix head whose keys and values best fit the given
    reduced ones (least squares on [A_k, v_k] = p_k [key_map, value_map]): a start point."""
    E, WQ, WK, WV = (np.array(head[k], dtype=np.float64) for k in ("embedding", "W_Q", "W_K", "W_V"))
    M = np.concatenate([(WK.T @ (WQ @ E)) / math.sqrt(WQ.shape[0]), WV.T], axis=1)  # d x (m+1+o)
    rhs = np.concatenate([keys, values], axis=1)
    P, *_ = np.linalg.lstsq(M.T, rhs.T, rcond=None)
    return P.T


def start_problem(target, epsilon: float, prefix_length: int, head: dict | None = None, start: str = "net",
                  lipschitz: float | None = None) -> Problem:
    """The start point: the ``start`` construction with ``prefix_length`` tokens, as a reduced
    softmax head, or placed into ``head`` (a problem file's head object: a reduced core or
    softmax head, kept as the start when it has ``prefix_length`` keys and given the
    construction's keys, values and biases otherwise, or a full-matrix head, whose prefix is kept
    when it has ``prefix_length`` tokens and is fitted by :func:`fit_prefix` otherwise)."""
    from certify.constructions.prefixes import construct_vmf

    if start not in ("net", "vmf"):
        raise InputError("--start", f"expected 'net' or 'vmf', got {start!r}")
    core = isinstance(head, dict) and head.get("kind") == "core" and "embedding" not in head
    if not (isinstance(prefix_length, int) and not isinstance(prefix_length, bool) and prefix_length >= 1):
        raise InputError("--prefix-length", f"must be an integer >= 1, got {prefix_length!r}")
    if start == "net" and not core:
        # the net's layout (keys lambda b_k on an equal-area partition, values f(b_k)) with lambda
        # set by the partition's own covering radius, so that any N is a start
        part = equal_area_partition(target.sphere_dim, prefix_length)
        lam = 1.0 / max(part.delta, 1e-6) ** 2
        start_problem_ = make_problem(target.sphere_dim, "softmax", lam * part.centres,
                                      target_values(target, part.centres), list(target.texts), epsilon,
                                      meta={"start": f"net layout, N = {prefix_length}, lambda = {lam:.6g}"})
    else:  # a core head starts from the vMF core construction (a net prefix is not normalised for it)
        c = construct_vmf(target, epsilon, lipschitz, lam=None, prefix_length=prefix_length,
                          kind="core" if core else "softmax")
        start_problem_ = c.problem
    base = start_problem_.canonical
    if head is None:
        return start_problem_
    if not isinstance(head, dict):
        raise InputError("--head", "expected a JSON object (a problem file's head)")
    from certify.formats.jsonio import check_finite

    check_finite(head, ["head"])  # NaN, inf and numbers beyond float64 are refused, naming the entry
    if "keys" in head or "prefix" in head:
        # the given head is validated as it is (types, shapes, fields), whatever replaces it below
        problem_from_dict({"format": FORMAT, "sphere_dim": target.sphere_dim, "head": head,
                           "target": list(target.texts), "epsilon": epsilon})
    h = dict(head)
    if "embedding" in h:
        prefix = h.get("prefix")
        if not (isinstance(prefix, list) and len(prefix) == prefix_length):
            h["prefix"] = fit_prefix(h, np.array(base["head"]["keys"]), np.array(base["head"]["values"])).tolist()
    elif not (isinstance(h.get("keys"), list) and len(h["keys"]) == prefix_length):
        # a reduced head is the start as it is when it has N keys; otherwise the construction's
        for k in ("keys", "values", "biases"):
            h[k] = base["head"][k]
    doc = {"format": FORMAT, "sphere_dim": target.sphere_dim, "head": h, "target": list(target.texts),
           "epsilon": epsilon, "meta": dict(start_problem_.meta)}
    return problem_from_dict(doc)


def lemma3_head(sphere_dim: int, out_dim: int) -> dict:
    """The pretrained head of Lemma 3 (THEORY 1.4) as a problem file's full-matrix head object
    (no prefix yet: :func:`start_problem` fits one)."""
    from certify.heads.attention import universal_head

    u = universal_head(sphere_dim, out_dim)
    return {"kind": "softmax", "embedding": u.embedding.tolist(), "W_Q": u.W_Q.tolist(), "W_K": u.W_K.tolist(),
            "W_V": u.W_V.tolist(), "self_attention": True}


#: Largest prefix length the search for the smallest certified N tries.
DEFAULT_SEARCH_MAX = 1024


def tune_and_decide(target, epsilon: float, prefix_length: int, head: dict | None, start: str, seed: int,
                    rounds: int, iterations: int, max_cells: int, time_limit=None, progress=None):
    """(TuneResult, Decision): tune from the start point, then prove -> write -> check."""
    from certify.certifier.pipeline import decide

    p0 = start_problem(target, epsilon, prefix_length, head, start)
    t = tune(p0, seed=seed, rounds=rounds, iterations=iterations, progress=progress)
    return t, decide(t.problem, max_cells=max_cells, time_limit=time_limit)


def search_length(target, epsilon: float, head: dict | None = None, start: str = "net", seed: int = 0,
                  rounds: int = DEFAULT_ROUNDS, iterations: int = DEFAULT_ITERATIONS,
                  max_prefix: int = DEFAULT_SEARCH_MAX, max_cells: int = 200_000, time_limit=None,
                  progress=None) -> dict:
    """The smallest N whose tuned prefix is CERTIFIED at ``epsilon``: doubling from N = 1 to the
    first certified N, then bisection between it and the last N that was not (certification
    need not be monotone in N: the answer is the smallest the search found, with the verdict of
    the N just below it)."""
    trials, results = [], {}

    def trial(N):
        t, d = tune_and_decide(target, epsilon, N, head, start, seed, rounds, iterations, max_cells, time_limit)
        r = d.result
        results[N] = (t, d)
        trials.append({"prefix_length": N, "verdict": r.verdict, "lower": r.lower,
                       "upper": r.upper if math.isfinite(r.upper) else None, "cells": r.cells,
                       "estimated_sup_error": t.estimate_after})
        if progress:
            progress(f"N = {N}: tuned (estimated sup error {t.estimate_after:.4g}), {r.verdict} "
                     f"(sup error in [{r.lower:.4g}, {r.upper:.4g}])")
        return r.verdict == "CERTIFIED"

    lo, hi = 0, 1
    while not trial(hi):
        lo = hi
        if hi >= max_prefix:
            return {"smallest_certified": None, "not_certified_below": None, "trials": trials, "best": None}
        hi = min(2 * hi, max_prefix)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if trial(mid):
            hi = mid
        else:
            lo = mid
    return {"smallest_certified": hi, "not_certified_below": lo or None,
            "below_verdict": next((t["verdict"] for t in trials if t["prefix_length"] == lo), None),
            "trials": trials, "best": results[hi]}
