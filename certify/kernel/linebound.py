"""Rigorous error bounds of a softmax head on a line segment (trusted base).

SOUNDNESS CONTRACT
------------------
A line head reads a scalar u through the query (u, 1): prefix token k has score
s_k(u) = a_k u + b_k and value v_k, and ``inert`` further tokens have score 0 and value 0:

    H(u) = sum_k e^{s_k(u)} v_k / (sum_k e^{s_k(u)} + inert).

For a segment [l, h] and a target g (a whitelisted sympy expression in u, with derivative
g'), :func:`bound_segments` returns U >= sup_{u in [l, h]} |H(u) - g(u)| by the mean-value
form |E(u)| <= |E(c)| + r sup |E'| (c the float midpoint, r >= max(h - c, c - l) rounded up):

* E(c) is enclosed by interval arithmetic (:mod:`certify.kernel.interval`): scores, their
  exponentials after a common shift, the sums (a-priori error bounds) and the quotient.
* H'(u) = Cov_pi(a, v), the covariance of the slopes and values under the softmax weights
  (the inert tokens having slope 0 and value 0). For any constants a0, v0,
  |Cov(a, v)| <= E|a - a0||v - v0| + E|a - a0| E|v - v0|, and every weight pi_k(u) on the
  segment is at most w_k^+ / Z^-: adding a0 (u - c) to every score changes no weight, after
  which s_k(u) lies in s_k(c) +- |a_k - a0| r (slope 0 tokens: +- |a0| r), enclosed.
* g' is enclosed over the box [l, h] by :func:`certify.kernel.interval_expressions.compile_interval`.

NaN or infinity anywhere gives U = inf ("not certified"). The assumptions are those of the
interval module. :func:`enclose_at` gives rigorous enclosures of |H(u) - g(u)| at points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from certify.kernel import elementary as el
from certify.kernel import interval as iv
from certify.kernel.interval_expressions import compile_interval

def _exp_mid(x):
    """A float approximation of e^x (the midpoint of the kernel's enclosure)."""
    lo, hi = el.exp_bounds(x)
    return 0.5 * lo + 0.5 * hi


#: Segments x keys processed at once (memory, not soundness).
BLOCK_ENTRIES = 2_000_000


@dataclass
class LineHead:
    slopes: np.ndarray    # a_k
    offsets: np.ndarray   # b_k
    values: np.ndarray    # v_k
    inert: int            # tokens of score 0 and value 0

    def __call__(self, u: np.ndarray) -> np.ndarray:
        """Float evaluation (not rigorous)."""
        u = np.asarray(u, dtype=np.float64)
        s = u[:, None] * self.slopes[None, :] + self.offsets[None, :]
        top = np.maximum(s.max(axis=1), 0.0 if self.inert else -np.inf)
        w = _exp_mid(s - top[:, None])
        return (w @ self.values) / (w.sum(axis=1) + self.inert * _exp_mid(-top))


@dataclass
class LineTarget:
    expr: sp.Expr
    symbol: sp.Symbol

    def __post_init__(self):
        self.f = compile_interval(self.expr, [self.symbol])
        self.df = compile_interval(sp.diff(self.expr, self.symbol), [self.symbol])


def _chunks(count: int, keys: int):
    step = max(1, BLOCK_ENTRIES // max(1, keys))
    for s in range(0, count, step):
        yield slice(s, min(count, s + step))


def _centre_terms(head: LineHead, c: np.ndarray):
    """Enclosures of the shifted scores at c (B x K), the inert tokens' shifted score
    (B), and the shift-independent quotient H(c)."""
    a, b = head.slopes, head.offsets
    s = iv.add(iv.mul(iv.point(c[:, None]), iv.point(a[None, :])), iv.point(np.broadcast_to(b, (c.size, b.size))))
    shift = np.maximum(s[1].max(axis=1), 0.0)
    s = (iv.down(s[0] - shift[:, None]), iv.up(s[1] - shift[:, None]))
    return s, -shift


def _quotient(head, w, w0):
    Z = iv.add(iv.sum_enclosure(*w, axis=1), w0)
    num = iv.sum_enclosure(*iv.scale(w, head.values[None, :]), axis=1)
    return iv.mul(num, iv.recip(Z))


def _at_centres(head, target, c):
    """Shifted scores, the inert score, and enclosures of H(c) and |H(c) - g(c)|."""
    s, s0 = _centre_terms(head, c)
    w = iv.exp(s)
    w0 = iv.scale(iv.exp(iv.point(s0)), float(head.inert))
    H = _quotient(head, w, w0)
    return s, s0, H, iv.absval(iv.sub(H, target.f(iv.point(c))))


def enclose_at(head: LineHead, target: LineTarget, u: np.ndarray):
    """Rigorous enclosure (lo, hi) of |H(u) - g(u)| at the float points u."""
    u = np.asarray(u, dtype=np.float64)
    lo, hi = np.empty(u.size), np.empty(u.size)
    for blk in _chunks(u.size, head.slopes.size):
        c = u[blk]
        with np.errstate(all="ignore"):
            _, _, _, E = _at_centres(head, target, c)
        bad = ~(np.isfinite(E[0]) & np.isfinite(E[1]))
        lo[blk] = np.where(bad, -np.inf, E[0])
        hi[blk] = np.where(bad, np.inf, E[1])
    return lo, hi


def bound_segments(head: LineHead, target: LineTarget, left: np.ndarray, right: np.ndarray):
    """(U, centre error lower bounds) for the segments [left_i, right_i] (see the contract)."""
    left, right = np.asarray(left, dtype=np.float64), np.asarray(right, dtype=np.float64)
    U = np.empty(left.size)
    low = np.empty(left.size)
    a, v = head.slopes, head.values
    for blk in _chunks(left.size, a.size):
        l, h = left[blk], right[blk]
        c = (l + h) / 2
        r = iv.up(np.maximum(h - c, c - l))
        with np.errstate(all="ignore"):
            s, s0, H, E = _at_centres(head, target, c)
            # constants a0 (slope of the best key at c) and v0 (the centre value)
            best = np.argmax(s[1], axis=1)
            a0 = a[best]
            v0 = (H[0] + H[1]) / 2
            da = np.abs(a[None, :] - a0[:, None])           # exact-ish: bounded up below
            da = iv.up(da)
            spread = iv.up(da * r[:, None])
            w_hi = iv.exp((s[1], iv.up(s[1] + spread)))[1]
            w_lo = iv.exp((iv.down(s[0] - spread), s[0]))[0]
            da0 = iv.up(np.abs(a0) * r)
            w0_hi = iv.up(iv.exp((s0, iv.up(s0 + da0)))[1] * head.inert)
            w0_lo = iv.down(iv.exp((iv.down(s0 - da0), s0))[0] * head.inert)
            Z_lo = iv.sum_enclosure(w_lo, w_lo, axis=1)[0]
            Z_lo = iv.down(Z_lo + w0_lo)
            dv = iv.up(np.abs(v[None, :] - v0[:, None]))
            dv0 = iv.up(np.abs(v0))
            a0abs = iv.up(np.abs(a0))
            # sums of w_hi * |a - a0| |v - v0| etc., upper bounds
            s_av = iv.sum_enclosure(iv.up(iv.up(w_hi * da) * dv), iv.up(iv.up(w_hi * da) * dv), axis=1)[1]
            s_a = iv.sum_enclosure(iv.up(w_hi * da), iv.up(w_hi * da), axis=1)[1]
            s_v = iv.sum_enclosure(iv.up(w_hi * dv), iv.up(w_hi * dv), axis=1)[1]
            s_av = iv.up(s_av + iv.up(iv.up(w0_hi * a0abs) * dv0))
            s_a = iv.up(s_a + iv.up(w0_hi * a0abs))
            s_v = iv.up(s_v + iv.up(w0_hi * dv0))
            inv = iv.recip((Z_lo, Z_lo))[1]
            dH = iv.up(iv.up(s_av * inv) + iv.up(iv.up(s_a * inv) * iv.up(s_v * inv)))
            dg = iv.mag(target.df((iv.down(l), iv.up(h))))
            bound = iv.up(E[1] + iv.up(r * iv.up(dH + dg)))
        bad = ~np.isfinite(bound) | ~(Z_lo > 0)
        U[blk] = np.where(bad, np.inf, bound)
        low[blk] = np.where(np.isfinite(E[0]), E[0], -np.inf)
    return U, low


def check_line(head: LineHead, target: LineTarget, lo: float, hi: float, breakpoints: np.ndarray,
               claimed: float) -> tuple[bool, str, float]:
    """Re-bound every segment of ``breakpoints``: (valid, reason, recomputed upper). Valid
    when the segments are increasing, cover [lo, hi] and every bound is <= ``claimed``."""
    bp = np.asarray(breakpoints, dtype=np.float64)
    if bp.ndim != 1 or bp.size < 2 or not np.all(np.isfinite(bp)):
        return False, "breakpoints must be at least two finite numbers", np.inf
    if not np.all(bp[1:] > bp[:-1]):
        return False, "breakpoints are not strictly increasing", np.inf
    if not (bp[0] <= lo and bp[-1] >= hi):
        return False, f"segments cover [{bp[0]!r}, {bp[-1]!r}], not [{lo!r}, {hi!r}]", np.inf
    U, _ = bound_segments(head, target, bp[:-1], bp[1:])
    worst = float(np.max(U))
    if not worst <= claimed:
        j = int(np.argmax(~(U <= claimed)))
        return False, f"segment {j} [{bp[j]!r}, {bp[j + 1]!r}] has bound {float(U[j])!r} > {claimed!r}", worst
    return True, "", worst
