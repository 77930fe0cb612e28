"""Rigorous per-cell upper bounds of the sup error (trusted base).

SOUNDNESS CONTRACT
------------------
For a cell contained in {x in S^m : |x - c| <= rho} (c a float vector with
|1 - |c|^2| <= delta, enclosed), :func:`bound_cells` returns U >= sup over the cell of
max_i |H_i(x) - f_i(x)|, computed with the outward-rounded intervals of
:mod:`certify.kernel.interval` (assumptions listed there). NaN or infinity anywhere gives
U = inf ("not certified").

The bound is a second-order centred Taylor bound along the chord z_t = c + t d,
d = x - c, t in [0, 1]:

  |E_i(x)| <= |E_i(c)| + |<d, grad E_i(c)>| + 1/2 sup_t |d^T Hess E_i(z_t) d|.

* <d, c> = (1 - |c|^2 - |d|^2)/2 lies in [q_lo, q_hi] = [-(rho^2 + delta)/2, delta/2], so for
  any vector B and any float beta, |<d, B>| <= |beta| max|q| + rho |B - beta c| (the radial
  part of d is second order: this keeps radial derivatives from costing first order).
* Softmax heads (linear scores s_k = <z, A_k> + b_k, context tokens as a key A = 0 of
  multiplicity n): d^T Hess H_i d is the third cumulant E_pi[(a - a_bar)^2 (v_i - v_bar_i)]
  with a_k = <d, A_k>, bounded by 2 S21 + 2 S20 S01 + 4 S10^2 S01 where
  S_pq = sum_k pi_hat_k D_k^p |v_ki - beta_i|^q, D_k >= |<d, A_k - w>| and pi_hat_k >=
  pi_k(z_t) for all t: pi_k(z) = W_k(c) e^{<z-c, A_k-w>} / sum_j W_j(c) e^{<z-c, A_j-w>}.
* Core heads: d^T Hess H_i d = sum_k W_k(z) <d, A_k>^2 v_ki, bounded termwise.
* Targets: f_i(c) and grad f_i(c) by interval evaluation at c; the Hessian of f_i over the
  box [c - rho, c + rho] (which holds every z_t), in Frobenius norm.

Heads with the query's own (quadratic-score) token are not covered by these formulas: their
cells get U = inf, so such problems end UNDECIDED rather than with a wrong answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import interval as iv
from .iexpr import compile_interval

#: Largest (cells x keys x dims) block processed at once (memory, not soundness).
BLOCK = 3_000_000


def usum(x, axis=-1):
    """Upper bound of the exact sum of non-negative float terms."""
    n = np.shape(x)[axis]
    return iv.up(np.sum(x, axis=axis) * (1.0 + 2.0 * iv.gamma(max(n - 1, 1))))


def _norm_up(mags, axis=-1):
    return iv.up(np.sqrt(usum(iv.up(mags * mags), axis=axis)))


@dataclass
class CellModel:
    """A problem prepared for rigorous cell bounds."""

    kind: str            # "softmax" or "core"
    keys: np.ndarray     # N x d
    biases: np.ndarray   # N
    values: np.ndarray   # N x o
    mult: np.ndarray     # N multiplicities (1, or n for the context tokens' pseudo-key)
    f: list              # o interval evaluators
    grad: list           # o x d
    hess: list           # o x d x d (symmetric, upper triangle shared)
    supported: bool = True
    reason: str = ""

    @property
    def dim(self) -> int:
        return self.keys.shape[1]


def prepare(problem) -> CellModel:
    """Build the :class:`CellModel` of a validated :class:`certify.problem.Problem`."""
    head = problem.head
    kind = problem.kind
    keys = np.asarray(head.keys, dtype=np.float64)
    biases = np.asarray(head.biases, dtype=np.float64)
    values = np.asarray(head.values, dtype=np.float64)
    mult = np.ones(keys.shape[0])
    supported, reason = True, ""
    if kind == "softmax":
        if head.context_count:
            keys = np.vstack([keys, np.zeros((1, keys.shape[1]))])
            biases = np.append(biases, 0.0)
            values = np.vstack([values, np.zeros((1, values.shape[1]))])
            mult = np.append(mult, float(head.context_count))
        if head.self_quadratic is not None:
            supported, reason = False, "the query's own token (quadratic score) is not covered by the cell bound"
    t = problem.target
    f = [compile_interval(e, t.symbols) for e in t.exprs]
    grads = t.gradient_exprs()
    grad = [[compile_interval(g, t.symbols) for g in row] for row in grads]
    hess = []
    for row in grads:
        H = [[None] * len(t.symbols) for _ in t.symbols]
        for j, gj in enumerate(row):
            for l in range(j, len(t.symbols)):
                H[j][l] = H[l][j] = compile_interval(sp.diff(gj, t.symbols[l]), t.symbols)
        hess.append(H)
    return CellModel(kind, keys, biases, values, mult, f, grad, hess, supported, reason)


def _radial_split_norm(Blo, Bhi, c):
    """For interval vectors B (... x d) and float c (... x d): (beta, n_perp) with beta a
    float and n_perp >= |B - beta c| for every B in the box."""
    beta = np.sum((Blo + Bhi) / 2 * c, axis=-1)
    bc = iv.mul(iv.point(beta[..., None]), iv.point(c))
    perp = iv.sub((Blo, Bhi), bc)
    return beta, _norm_up(iv.mag(perp))


def _linear_term(beta, nperp, qmag, rho):
    """Upper bound of |<d, B>| over admissible d."""
    return iv.up(iv.up(np.abs(beta) * qmag) + iv.up(rho * nperp))


def bound_cells(model: CellModel, c: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """U (B,) with U >= sup over each cell of max_i |H_i - f_i|; inf = not certified."""
    B = c.shape[0]
    if not model.supported:
        return np.full(B, np.inf)
    N, d = model.keys.shape
    step = max(1, BLOCK // max(1, N * d))
    out = np.empty(B)
    for s in range(0, B, step):
        blk = slice(s, min(B, s + step))
        out[blk] = _bound_block(model, c[blk], rho[blk])
    return out


def _bound_block(model: CellModel, c: np.ndarray, rho: np.ndarray) -> np.ndarray:
    A, b, V, mult = model.keys, model.biases, model.values, model.mult
    Bc, d = c.shape
    o = V.shape[1]
    with np.errstate(all="ignore"):
        c2 = iv.sum_enclosure(*iv.square(iv.point(c)), axis=-1)
        delta = iv.mag(iv.sub((np.ones(Bc), np.ones(Bc)), c2))
        rho2 = iv.up(rho * rho)
        q_lo = iv.down(-iv.up(rho2 + delta) / 2)
        q_hi = iv.up(delta / 2)
        qmag = np.maximum(-q_lo, q_hi)

        # scores and weights at the centre, shifted by the largest upper score
        dlo, dhi = iv.dot_enclosure(c, A)
        S = (iv.down(dlo + b), iv.up(dhi + b))
        shift = np.max(S[1], axis=1)
        T = (iv.down(S[0] - shift[:, None]), iv.up(S[1] - shift[:, None]))
        W = iv.scale(iv.exp(T), mult[None, :])
        Z = iv.sum_enclosure(*W, axis=1)

        if model.kind == "softmax":
            pi = iv.mul(W, iv.recip((Z[0][:, None], Z[1][:, None])))
            Hc = [iv.sum_enclosure(*iv.scale(pi, V[None, :, i]), axis=1) for i in range(o)]
            Abar = [iv.sum_enclosure(*iv.scale(pi, A[None, :, j]), axis=1) for j in range(d)]
            centred_A = [iv.sub(iv.point(np.broadcast_to(A[None, :, j], pi[0].shape)),
                                (Abar[j][0][:, None], Abar[j][1][:, None])) for j in range(d)]
            grads = []
            for i in range(o):
                dv = iv.sub(iv.point(np.broadcast_to(V[None, :, i], pi[0].shape)), (Hc[i][0][:, None], Hc[i][1][:, None]))
                pdv = iv.mul(pi, dv)
                grads.append([iv.sum_enclosure(*iv.mul(pdv, centred_A[j]), axis=1) for j in range(d)])
            # weight bounds along the chord, keys centred at w = Abar (float midpoint)
            w = np.stack([(Abar[j][0] + Abar[j][1]) / 2 for j in range(d)], axis=1)
            Blo = iv.down(A[None, :, :] - w[:, None, :])
            Bhi = iv.up(A[None, :, :] - w[:, None, :])
        else:
            escale = iv.exp((shift, shift))
            Hc = [iv.mul(iv.sum_enclosure(*iv.scale(W, V[None, :, i]), axis=1), escale) for i in range(o)]
            grads = []
            for i in range(o):
                Wv = iv.scale(W, V[None, :, i])
                grads.append([iv.mul(iv.sum_enclosure(*iv.scale(Wv, A[None, :, j]), axis=1), escale)
                              for j in range(d)])
            Blo = Bhi = np.broadcast_to(A[None, :, :], (Bc,) + A.shape)

        beta, nperp = _radial_split_norm(Blo, Bhi, c[:, None, :])
        rho_k = rho[:, None]
        bq = iv.mul(iv.point(beta), (q_lo[:, None], q_hi[:, None]))
        e_lo = iv.down(bq[0] - iv.up(rho_k * nperp))
        e_hi = iv.up(bq[1] + iv.up(rho_k * nperp))
        D = _linear_term(beta, nperp, qmag[:, None], rho_k)

        W_up = iv.up(W[1] * iv.exp((e_hi, e_hi))[1])
        if model.kind == "softmax":
            low_terms = iv.down(W[0] * iv.exp((e_lo, e_lo))[0])
            den = iv.sum_enclosure(low_terms, low_terms, axis=1)[0]
            pi_hat = iv.up(W_up / den[:, None])
            D2 = iv.up(D * D)
            S10 = usum(iv.up(pi_hat * D), axis=1)
            S20 = usum(iv.up(pi_hat * D2), axis=1)
        total = np.zeros(Bc)

        # target: value and gradient at c, Hessian over the box around c
        cols_pt = [iv.point(c[:, j]) for j in range(d)]
        box = [(np.maximum(iv.down(c[:, j] - rho), -1.0), np.minimum(iv.up(c[:, j] + rho), 1.0)) for j in range(d)]
        for i in range(o):
            F = model.f[i](*cols_pt)
            E = iv.sub(Hc[i], F)
            G = [iv.sub(grads[i][j], model.grad[i][j](*cols_pt)) for j in range(d)]
            Glo = np.stack([g[0] for g in G], axis=1)
            Ghi = np.stack([g[1] for g in G], axis=1)
            gbeta, gperp = _radial_split_norm(Glo, Ghi, c)
            lin = _linear_term(gbeta, gperp, qmag, rho)
            if model.kind == "softmax":
                beta_v = (Hc[i][0] + Hc[i][1]) / 2
                Y = iv.up(np.abs(V[None, :, i] - beta_v[:, None]))
                S01 = usum(iv.up(pi_hat * Y), axis=1)
                S21 = usum(iv.up(iv.up(pi_hat * D2) * Y), axis=1)
                RH = iv.up(iv.up(2 * S21) + iv.up(2 * iv.up(S20 * S01)) + iv.up(4 * iv.up(iv.up(S10 * S10) * S01)))
            else:
                RH = iv.up(usum(iv.up(iv.up(W_up * iv.up(D * D)) * np.abs(V[None, :, i])), axis=1) * escale[1])
            hmag = []
            for j in range(d):
                for l in range(d):
                    hmag.append(iv.mag(model.hess[i][j][l](*box)))
            MF = _norm_up(np.stack(hmag, axis=1), axis=1)
            U = iv.up(iv.up(iv.mag(E) + lin) + iv.up(iv.up(RH + iv.up(rho2 * MF)) / 2))
            total = np.maximum(total, np.where(np.isfinite(U), U, np.inf))
        return np.where(np.isnan(total), np.inf, total)


def error_enclosure_at(model: CellModel, x_lo: np.ndarray, x_hi: np.ndarray):
    """Enclosure of max_i |H_i(x) - f_i(x)| at the exact points x in the boxes [x_lo, x_hi]
    (B x d): returns (lower, upper) of the error, used to certify witnesses."""
    if not model.supported:
        n = x_lo.shape[0]
        return np.full(n, -np.inf), np.full(n, np.inf)
    A, b, V, mult = model.keys, model.biases, model.values, model.mult
    with np.errstate(all="ignore"):
        xs = (x_lo[:, None, :], x_hi[:, None, :])
        prod = iv.mul(xs, iv.point(np.broadcast_to(A[None, :, :], (x_lo.shape[0],) + A.shape)))
        dot = iv.sum_enclosure(*prod, axis=-1)
        S = (iv.down(dot[0] + b), iv.up(dot[1] + b))
        shift = np.max(S[1], axis=1)
        W = iv.scale(iv.exp((iv.down(S[0] - shift[:, None]), iv.up(S[1] - shift[:, None]))), mult[None, :])
        lo = np.full(x_lo.shape[0], 0.0)
        hi = np.full(x_lo.shape[0], 0.0)
        cols = [(x_lo[:, j], x_hi[:, j]) for j in range(A.shape[1])]
        if model.kind == "softmax":
            Z = iv.sum_enclosure(*W, axis=1)
            pi = iv.mul(W, iv.recip((Z[0][:, None], Z[1][:, None])))
        for i in range(V.shape[1]):
            if model.kind == "softmax":
                H = iv.sum_enclosure(*iv.scale(pi, V[None, :, i]), axis=1)
            else:
                H = iv.mul(iv.sum_enclosure(*iv.scale(W, V[None, :, i]), axis=1), iv.exp((shift, shift)))
            E = iv.absval(iv.sub(H, model.f[i](*cols)))
            lo, hi = np.maximum(lo, E[0]), np.maximum(hi, E[1])
        bad = ~(np.isfinite(lo) & np.isfinite(hi))
        return np.where(bad, -np.inf, lo), np.where(bad, np.inf, hi)


def unit_point_enclosure(y: np.ndarray):
    """Boxes enclosing the exact unit vectors y / |y| for float rows y (B x d)."""
    n2 = iv.sum_enclosure(*iv.square(iv.point(y)), axis=-1)
    n = iv.sqrt(n2)
    x = iv.div(iv.point(y), (n[0][:, None], n[1][:, None]))
    return x
