"""Claims over boxes (:mod:`certify.claims.grammar`), decided by Arb branch-and-bound
(``certify claim``).

SOUNDNESS CONTRACT
------------------
* Every evaluation is python-flint Arb ball arithmetic at :data:`PRECISION` bits: each
  operation returns a ball containing the exact result for every point of its argument
  balls. Variables become balls containing their (sub)box, with one end exact
  (:func:`certify.kernel.arb_balls.interval_ball`: the lower end, or the upper end on a box
  reaching the stated box's upper end), so that ``sqrt(t)`` on [0, a] and ``sqrt(1 - x)``
  on [a, 1] are defined.
* The sides are evaluated in sympy's simplified form, which can be defined where the
  claim as written is not (``x/x`` is 1, ``exp(log(x))`` is x). The domain conditions of
  the sides as written (:class:`certify.formats.expressions.DomainCondition`: denominators != 0, log
  arguments > 0, sqrt arguments >= 0, ...) are therefore evaluated in Arb on every box and
  at every witness: a box counts only where every condition certainly holds (there the
  simplified margin and its derivatives are the claim's), and a witness only where every
  condition certainly holds at the exact point. A claim with a condition certainly false at
  an exact point of its box (a corner, the centre, a sample, a midpoint) is bad input
  (:class:`InputError` naming the point), never REFUTED; one whose domain cannot be shown
  near some point stays UNDECIDED and says so.
* ``sqrt``, ``log`` and real powers with fractional exponents are applied only where the
  argument ball is certainly inside the domain; otherwise the result is NaN, which never
  verifies anything.
* Box ends are exact; |end| <= 2**1000 (so box widths and float samples stay finite).
* VERIFIED ON RANGE: every box of a partition of the stated box (the initial box is the
  exact box, rounded outwards if an end is irrational) has ``RHS - LHS`` certainly >= 0
  (> 0 for strict claims; sides swapped for >= and >). python-flint comparisons are True
  only when certain.
* REFUTED: an exact rational point of the box (checked to lie in it) where the claim is
  certainly false, with the enclosure of ``RHS - LHS`` there. Candidate points come from
  a float search (untrusted), the exact corners of the box (ends such as 1e-12 are exact
  rationals no float sample equals), box midpoints, and the corners of boxes too thin to
  split.
* Anything else (box budget spent, domain not shown, boxes too thin to split) is UNDECIDED.
  The budget is a number of boxes (:data:`DEFAULT_MAX_BOXES`), so the verdict does not
  depend on the machine's speed or load; a wall-clock limit is optional (default none).

How a box is decided (each step only uses enclosures, so each is sound on its own):

1. the margin's ball on the box, then at higher precisions when the ball is tight;
2. the mean-value form g(mid) + sum_j g_j(box) [-r_j, r_j];
3. monotone corners: when every partial derivative is signed on the box, the minimum is
   at one exact corner. A partial derivative whose enclosure is not signed is retried
   (on boxes touching the stated box's ends, where claims are usually tight) through the
   next derivatives up to :data:`MAX_DERIVATIVE`: if d^(k+1) g / dx_j^(k+1) is signed, the
   k-th derivative is monotone in x_j and its extreme lies on an exact face. This
   decides claims tight at an end, such as ``sin(x) <= x`` on [0, 1].

Products of wide balls are intersected with the hull of the endpoint products (a ball
product loses signs), and I_{nu+1}(x)/I_nu(x) (constant nu >= 0) is evaluated as one
increasing function of x from the ball's exact ends (Amos 1974), not as a quotient of two
wide Bessel balls.
"""

from __future__ import annotations

import heapq
import math
import time
from fractions import Fraction

import numpy as np
import sympy as sp

from certify.budgets import DEFAULT_MAX_BOXES
from certify.errors import InputError
from certify.heads.numeric import compile_numpy
from certify.claims.result import REFUTED, UNDECIDED, VERIFIED, ClaimResult
from certify.claims.grammar import PRECISION, Claim, corners, end_bounds, flint_module, undefined_message
from certify.kernel.arb_balls import interval_ball
from certify.kernel.arb_expressions import arb_precision, compile_arb, compile_domain, with_bessel_ratios

#: Boxes narrower than this fraction of the initial width are not split further.
MIN_RELATIVE_WIDTH = 2.0 ** -60
#: Highest derivative order the monotone-corner test may use.
MAX_DERIVATIVE = 6
#: Higher precisions tried on a box whose margin ball is already tight but not decided
#: (a margin like coth(lam) - 1 ~ e^(-2 lam) needs more bits, not more splitting).
PRECISION_LADDER = (512, 2048, 8192)
#: Random float samples used to look for a counterexample before the box search.
SAMPLES = 4000

# ------------------------------------------------------------------------- Arb evaluation


def _ball(lo: Fraction, hi: Fraction, clip: bool = True, high: bool = False):
    """A ball containing [lo, hi] whose lower end is exactly lo, or with ``high`` whose upper
    end is exactly hi (:func:`certify.kernel.arb_balls.interval_ball`): a variable whose box
    starts at 0 stays non-negative, and one whose box ends where the claim's domain ends
    (sqrt(1 - x) at x = 1) stays inside it. ``clip`` is kept for callers; the anchored end
    makes it always so."""
    return interval_ball(lo, hi, high)


def abs_halves(margin: sp.Expr):
    """``(rest - e, rest + e)`` when ``margin`` is ``rest - |e|`` (one term -Abs(e) of a sum,
    as in ``|f - p| <= b``), else None: rest - |e| >= 0 holds exactly where both halves do
    (|e| is max(e, -e)), and each half is smooth where e changes sign."""
    if not margin.is_Add:
        return None
    terms = [t for t in margin.args if t.is_Mul and len(t.args) == 2 and t.args[0] == -1
             and isinstance(t.args[1], sp.Abs)]
    if len(terms) != 1:
        return None
    e = terms[0].args[1].args[0]
    rest = margin - terms[0]
    return rest - e, rest + e


def check_claim(claim: Claim, max_boxes: int = DEFAULT_MAX_BOXES, time_limit: float | None = None,
                progress=None) -> ClaimResult:
    """Decide ``claim`` on its box (see module docstring). ``max_boxes`` is the work budget
    (the same claim gets the same verdict on any machine); ``time_limit`` (seconds, None for
    none) is an optional extra cap. A claim found undefined at a point of its box (a domain
    condition certainly fails there) is refused with an :class:`InputError`.

    A margin ``rest - |e|`` is decided as its two halves ``rest - e`` and ``rest + e``
    (:func:`abs_halves`), one after the other within the one box budget: VERIFIED when both
    are, REFUTED when one is (a point where rest - e < 0 has rest - |e| <= rest - e < 0)."""
    halves = abs_halves(claim.margin)
    if halves is None:
        return _check(claim, claim.margin, max_boxes, time_limit, progress)
    t0 = time.monotonic()
    used, depths, out = 0, None, None
    for k, half in enumerate(halves):
        limit = None if time_limit is None else max(time_limit - (time.monotonic() - t0), 1e-3)
        r = _check(claim, half, max(max_boxes - used, 1), limit, progress)
        used += r.boxes
        if r.verdict == REFUTED:
            r.boxes, r.seconds = used, time.monotonic() - t0
            r.reason = (r.reason + "; " if r.reason else "") + f"on the half {sp.sstr(half)} >= 0 of the claim"
            r.witness_margin = _margin_at(claim, r.witness) or r.witness_margin
            return r
        if r.verdict != VERIFIED:
            out = out or r
        else:
            depths = r.depths if depths is None else tuple(max(a, b) for a, b in zip(depths, r.depths))
    if out is not None:
        out.boxes, out.seconds = used, time.monotonic() - t0
        return out
    return ClaimResult(claim, VERIFIED, used, time.monotonic() - t0, depths=depths)


def _margin_at(claim: Claim, witness: dict) -> tuple | None:
    """The claim's own margin enclosed at an exact witness (floats), when Arb gives a
    finite ball there (at most that of the half that refuted it)."""
    flint = flint_module()
    pt = [Fraction(witness[n]) for n in claim.names]
    with arb_precision(PRECISION):
        v = compile_arb(claim.margin, claim.symbols)([flint.arb(flint.fmpq(q.numerator, q.denominator)) for q in pt])
    return (float(v.lower()), float(v.upper())) if v.is_finite() else None


def _check(claim: Claim, margin: sp.Expr, max_boxes: int, time_limit: float | None, progress) -> ClaimResult:
    """The search of :func:`check_claim` for one margin expression (claim.margin or a half)."""
    t0 = time.monotonic()
    float_margin, margin = margin, with_bessel_ratios(margin)

    def compile_derivative(*wrt):
        """The compiled derivative of the margin. With Bessel ratios, both forms are
        evaluated and their enclosures intersected: the closed form R' = 1 - R^2 - (2nu+1)R/x
        is tight for x away from 0, the derivative of the quotient of Bessel functions is
        finite at x = 0."""
        ratio_form = compile_arb(sp.diff(margin, *wrt), claim.symbols)
        if margin == float_margin:
            return ratio_form
        try:
            raw = compile_arb(sp.diff(float_margin, *wrt), claim.symbols)
        except (ValueError, TypeError):
            return ratio_form

        def both(balls):
            a, b = ratio_form(balls), raw(balls)
            if not a.is_finite():
                return b
            if not b.is_finite() or not a.overlaps(b):
                return a
            return a.intersection(b)
        return both

    with arb_precision(PRECISION):
        g = compile_arb(margin, claim.symbols)
        domain = compile_domain(claim.domain, claim.symbols)
        try:
            grads = [compile_derivative(v) for v in claim.symbols]
            higher = [[None] * (MAX_DERIVATIVE + 1) for _ in claim.symbols]
        except (ValueError, TypeError):
            grads = None  # no monotonicity test (e.g. min/max/abs)

        def derivative(j, k):
            """The compiled k-th derivative of the margin in variable j (None: not compilable)."""
            if k == 1:
                return grads[j]
            if higher[j][k] is None:
                try:
                    higher[j][k] = compile_derivative(claim.symbols[j], k)
                except (ValueError, TypeError):
                    higher[j][k] = False
            return higher[j][k] or None

        def signed(j, k, b, balls, sign):
            """True when sign * d^k g / dx_j^k >= 0 certainly on the box ``balls``. An unsigned
            enclosure is retried through the next derivative: when that one is signed, the k-th
            derivative is monotone in x_j and its minimum lies on one face x_j = end (an exact
            point, where tight claims such as 1 - exp(-s) <= s at s = 0 are decided exactly)."""
            d = derivative(j, k)
            if d is None:
                return False
            v = d(balls)
            if v.is_finite() and (v >= 0 if sign > 0 else v <= 0):
                return True
            if k >= MAX_DERIVATIVE:
                return False
            # try the sign the next derivative has at the box's centre (one chain, not 2^k)
            d_next = derivative(j, k + 1)
            if d_next is None:
                return False
            c = d_next([_ball(q, q, False) for q in ((lo + hi) / 2 for lo, hi in b)])
            if not c.is_finite():
                return False
            up = 1 if c.mid() >= 0 else -1
            if not signed(j, k + 1, b, balls, up):
                return False
            face = list(balls)
            end = b[j][0] if sign * up > 0 else b[j][1]
            face[j] = _ball(end, end, False)
            w = d(face)
            return bool(w.is_finite() and (w >= 0 if sign > 0 else w <= 0))

        def slope_sign(j, b, balls, s_):
            """+1 / -1 when the margin is certainly non-decreasing / non-increasing in
            variable j on box b, else 0."""
            if s_ >= 0:
                return 1
            if s_ <= 0:
                return -1
            if b[j][0] != box[j][0] and b[j][1] != box[j][1]:
                # the higher-derivative route pays off where a claim is tight, which in
                # practice is at an end of the stated box; elsewhere it only costs time
                return 0
            if signed(j, 1, b, balls, 1):
                return 1
            if signed(j, 1, b, balls, -1):
                return -1
            return 0

        def decide(b):
            """True when the margin is certainly >= 0 (> 0) on box b (and the claim is
            certainly defined on b: only there does the simplified margin, with its
            derivatives, stand for the claim as written)."""
            balls = box_balls(b)
            v = g(balls)
            if claim.domain:
                defined, cond = domain(balls)
                if defined is False:
                    pt = [(lo + hi) / 2 for lo, hi in b]
                    if in_box(pt):
                        undefined(pt, cond)
                if defined is not True:
                    doubt[:] = [b, cond]
                    return False, v
            if v.is_finite() and ok(v):
                return True, v
            if v.is_finite() and v.rad() <= abs(v.mid()) * 2.0 ** -64 + 2.0 ** -100:
                for bits in PRECISION_LADDER:
                    with arb_precision(bits):
                        w = g(box_balls(b))
                    if w.is_finite() and ok(w):
                        return True, w
            if grads is not None:
                # mean-value form: g(box) in g(mid) + sum_j g_j'(box) [-r_j, r_j]
                flint = flint_module()
                mids = [(lo + hi) / 2 for lo, hi in b]
                slopes = [dg(balls) for dg in grads]
                mv = g([_ball(q, q, False) for q in mids])
                for sl, (lo, hi), q in zip(slopes, b, mids):
                    r = (hi - lo) / 2
                    mv = mv + sl * flint.arb(0, flint.fmpq(r.numerator, r.denominator))
                if mv.is_finite() and ok(mv):
                    return True, mv
                # an exact point c of the box where the margin is >= 0 with zero gradient and
                # around which it is convex: the minimum on the box is at c
                for c in tight_points():
                    if all(lo <= q <= hi for q, (lo, hi) in zip(c, b)) and convex_about(c, balls):
                        return True, mv
                # monotone in every variable on the box: the minimum is at one corner
                corner = []
                for j, s_ in enumerate(slopes):
                    if not s_.is_finite():
                        return False, v
                    sign = slope_sign(j, b, balls, s_)
                    corner.append(b[j][0] if sign > 0 else b[j][1] if sign < 0 else None)
                if None in corner:
                    # monotone in some variables, towards a face on the stated box's boundary:
                    # the minimum on b is on that face, where the margin has fewer variables
                    # (and sympy may simplify it: exp(lam*t) - exp(lam) at t = 1 is 0)
                    face = tuple((j, q) for j, q in enumerate(corner)
                                 if q is not None and q in (box[j][0], box[j][1]))
                    if face and on_face(face, b, balls):
                        return True, v
                    return False, v
                for bits in (PRECISION,) + PRECISION_LADDER:
                    with arb_precision(bits):
                        w = g([_ball(q, q, False) for q in corner])
                    if w.is_finite() and ok(w):
                        return True, v
                    if not w.is_finite() or w.rad() > abs(w.mid()) * 2.0 ** -64 + 2.0 ** -100:
                        break
                # the corner's ball straddles 0: where the corner lies on the stated box's
                # boundary, sympy may show the margin there exactly (exp(x) - exp(3) at x = 3)
                face = tuple((j, q) for j, q in enumerate(corner) if q in (box[j][0], box[j][1]))
                if face and on_face(face, b, balls):
                    return True, v
            return False, v
        ends = [(end_bounds(lo), end_bounds(hi)) for lo, hi in claim.box]
        box = [(a[0], b[1]) for a, b in ends]     # covers the stated box
        inner = [(a[1], b[0]) for a, b in ends]   # inside the stated box (witnesses)
        widths = [(b - a) or Fraction(1) for a, b in box]

        def ok(v):
            return (v > 0) if claim.strict else (v >= 0)

        def box_balls(b):
            """The variables' balls on box b: anchored at the stated box's upper end where b
            reaches it (and not its lower end), else at b's lower end."""
            return [_ball(lo, hi, True, hi == box[j][1] and lo != box[j][0]) for j, (lo, hi) in enumerate(b)]

        def bad(v):
            return (v <= 0) if claim.strict else (v < 0)

        def at_point(pt):
            return g([_ball(q, q, False) for q in pt])

        doubt = []  # the last box whose domain Arb could not show, and the condition

        def undefined(pt, cond):
            raise InputError(claim.field, undefined_message(claim.names, pt, cond))

        def refuting(pt, ladder=False):
            """The margin's ball at the exact point pt when it certainly refutes the claim
            there (the claim being certainly defined at pt), else None."""
            if claim.domain:
                defined, cond = domain([_ball(q, q, False) for q in pt])
                if defined is False:
                    undefined(pt, cond)
                if defined is not True:
                    return None
            for bits in (PRECISION,) + (PRECISION_LADDER if ladder else ()):
                with arb_precision(bits):
                    v = at_point(pt)
                if bad(v):
                    return v
                if ok(v) or not v.is_finite() or v.rad() > abs(v.mid()) * 2.0 ** -64 + 2.0 ** -100:
                    return None
            if ladder and claim.strict and v.contains(0):
                # a strict claim whose margin sympy shows to be exactly 0 at pt is false there
                # (exp(x) < exp(3) at x = 3): the exact value, not a ball around it
                exact = margin.subs({s_: sp.Rational(q.numerator, q.denominator) for s_, q in zip(claim.symbols, pt)})
                if exact == 0:
                    return flint_module().arb(0)
            return None

        def witness_result(pt, v, boxes, reason=""):
            return ClaimResult(claim, REFUTED, boxes, time.monotonic() - t0, reason,
                               {n: str(q) for n, q in zip(claim.names, pt)},
                               (float(v.lower()), float(v.upper())))

        def in_box(pt):
            return all(a <= q <= b for q, (a, b) in zip(pt, inner))

        # untrusted float search for a counterexample; every candidate is re-checked in Arb
        hessian = {}

        def second(i, j):
            """The compiled d^2 g / dx_i dx_j (None: not compilable)."""
            if (i, j) not in hessian:
                try:
                    hessian[i, j] = compile_derivative(claim.symbols[i], claim.symbols[j])
                except (ValueError, TypeError):
                    hessian[i, j] = None
            return hessian[i, j]

        def convex_about(c, balls):
            """True when g >= 0 on the box of ``balls`` follows from the exact point c of the
            box: g(c) >= 0, every first derivative at c exactly 0, and g convex on the box
            (then g(x) >= g(c) + grad g(c).(x - c) = g(c)). Convexity: in one variable,
            g'' >= 0 on the box, or recursively g^(k)(c) >= 0, g^(k+1)(c) = 0 and g^(k+2) >= 0
            on the box (the same argument for g^(k)); in several, the interval Hessian is
            diagonally dominant with a non-negative diagonal (Gershgorin: every matrix in it
            is positive semi-definite)."""
            at = [_ball(q, q, False) for q in c]
            v = g(at)
            if not (v.is_finite() and v >= 0) or not all(dg(at).is_zero() for dg in grads):
                return False
            n = len(c)
            if n == 1:
                k = 2
                while k <= MAX_DERIVATIVE:
                    d = derivative(0, k)
                    if d is None:
                        return False
                    w = d(balls)
                    if w.is_finite() and w >= 0:
                        return True
                    nxt = derivative(0, k + 1) if k + 1 <= MAX_DERIVATIVE else None
                    if nxt is None or not (d(at) >= 0 and nxt(at).is_zero()):
                        return False
                    k += 2
                return False
            entries = [[None] * n for _ in range(n)]
            for i in range(n):
                for j in range(i, n):
                    h = second(i, j)
                    if h is None:
                        return False
                    entries[i][j] = entries[j][i] = h(balls)
                    if not entries[i][j].is_finite():
                        return False
            for i in range(n):
                off = sum((abs(entries[i][j]).upper() for j in range(n) if j != i), flint_module().arb(0))
                if not entries[i][i].lower() - off >= 0:
                    return False
            return True

        cand = _float_candidates(claim, float_margin, inner)
        tight = []

        faces = {}

        def on_face(face, b, balls):
            """True when the margin restricted to ``face`` (variable j fixed at the exact end
            q, for each (j, q)) is certainly >= 0 (> 0) on the rest of box b: its ball, or its
            mean-value form."""
            if face not in faces:
                try:
                    sub = margin.subs({claim.symbols[j]: sp.Rational(q.numerator, q.denominator) for j, q in face})
                    free = [j for j in range(len(b)) if j not in dict(face)]
                    faces[face] = (compile_arb(sub, claim.symbols),
                                   [(j, compile_arb(sp.diff(sub, claim.symbols[j]), claim.symbols)) for j in free])
                except (ValueError, TypeError):
                    faces[face] = None
            if faces[face] is None:
                return False
            fn, grads_ = faces[face]
            fixed = dict(face)
            at = [_ball(fixed[j], fixed[j], False) if j in fixed else x for j, x in enumerate(balls)]
            w = fn(at)
            if w.is_finite() and ok(w):
                return True
            flint = flint_module()
            mids = [(lo + hi) / 2 for lo, hi in b]
            centre = [_ball(fixed[j], fixed[j], False) if j in fixed else _ball(q, q, False) for j, q in enumerate(mids)]
            mv = fn(centre)
            for j, dg in grads_:
                r = (b[j][1] - b[j][0]) / 2
                mv = mv + dg(at) * flint.arb(0, flint.fmpq(r.numerator, r.denominator))
            return bool(mv.is_finite() and ok(mv))

        def tight_points():
            """The candidate tight points, computed the first time a box needs them (most
            claims never do; the minimisation imports scipy)."""
            if not tight:
                found = [] if claim.strict or grads is None else _tight_candidates(claim, float_margin, inner)
                tight.append(found)
            return tight[0]
        for pt in cand:
            if in_box(pt):
                v = refuting(pt)
                if v is not None:
                    return witness_result(pt, v, 0, "counterexample found by sampling, confirmed in Arb")
        # the exact corners of the box (float samples only come near an end such as 1e-12,
        # which no double equals; claims are often tightest, or false, right at an end)
        for pt in corners(inner):
            if not in_box(pt):
                continue   # an irrational box narrower than its ends' enclosures: no exact corner inside
            v = refuting(pt, ladder=True)
            if v is not None:
                return witness_result(pt, v, 0, "counterexample at an exact corner of the box")
        heap = [(0.0, 0, box, (0,) * len(box))]
        deepest = [0] * len(box)   # most splits of each variable along any path (Coq hints)
        counter = 1
        boxes = 0
        worst = math.inf
        last = t0
        reason = ""
        while heap:
            if boxes >= max_boxes:
                reason = f"box budget of {max_boxes} spent"
                break
            if time_limit is not None and time.monotonic() - t0 >= time_limit:
                reason = f"time limit of {time_limit:g} s reached"
                break
            _, _, b, depth = heapq.heappop(heap)
            boxes += 1
            deepest[:] = [max(a, d) for a, d in zip(deepest, depth)]
            done, v = decide(b)
            if done:
                continue
            mid = [(lo + hi) / 2 for lo, hi in b]
            if in_box(mid):
                pv = refuting(mid)
                if pv is not None:
                    return witness_result(mid, pv, boxes)
            rel = [float((hi - lo) / w) for (lo, hi), w in zip(b, widths)]
            j = int(np.argmax(rel))
            if rel[j] < MIN_RELATIVE_WIDTH:
                for pt in corners(b):
                    if in_box(pt):
                        pv = refuting(pt, ladder=True)
                        if pv is not None:
                            return witness_result(pt, pv, boxes, "counterexample at a corner of a smallest box")
                reason = "a box reached the smallest width without a decision"
                if doubt and doubt[0] is b:
                    near = ", ".join(f"{n} = {float((lo + hi) / 2):.17g}" for n, (lo, hi) in zip(claim.names, b))
                    reason += (f"; near {near} Arb cannot show that {doubt[1].explain()} "
                               "(the claim may be undefined there)")
                heapq.heappush(heap, (0.0, counter, b, depth))
                break
            lower = float(v.lower()) if v.is_finite() else -math.inf
            for half in ((b[j][0], mid[j]), (mid[j], b[j][1])):
                nb = list(b)
                nb[j] = half
                heapq.heappush(heap, (lower, counter, nb, depth[:j] + (depth[j] + 1,) + depth[j + 1:]))
                counter += 1
            now = time.monotonic()
            if progress and now - last >= 0.5:
                last = now
                progress({"boxes": boxes, "open": len(heap), "seconds": now - t0})
        if not heap:
            return ClaimResult(claim, VERIFIED, boxes, time.monotonic() - t0, depths=tuple(deepest))
        worst = min(entry[0] for entry in heap)
        return ClaimResult(claim, UNDECIDED, boxes, time.monotonic() - t0, reason,
                           worst_lower=None if not math.isfinite(worst) else worst)


def _float_candidates(claim: Claim, margin: sp.Expr, box, n: int = SAMPLES):
    """Points (exact Fractions of floats) ordered by how badly the float margin fails."""
    lo = np.array([float(a) for a, _ in box])
    hi = np.array([float(b) for _, b in box])
    rng = np.random.default_rng(0)
    pts = lo + (hi - lo) * rng.random((n, lo.size))
    corners = np.array([[hi[i] if (k >> i) & 1 else lo[i] for i in range(lo.size)]
                        for k in range(min(1 << lo.size, 256))])
    pts = np.vstack([corners, pts, (lo + hi)[None, :] / 2])
    try:
        fn = compile_numpy(margin, claim.symbols)
        vals = fn(*[pts[:, i] for i in range(lo.size)])
    except (ValueError, TypeError):
        return []
    vals = np.where(np.isfinite(vals), vals, np.inf)
    order = np.argsort(vals)[:8]
    out = []
    for k in order:
        if vals[k] < 0 or (claim.strict and vals[k] <= 0):
            out.append([Fraction(float(x)) for x in pts[k]])
    return out


#: Denominators tried when an approximate minimizer is rounded to an exact candidate point.
TIGHT_DENOMINATORS = (1, 2, 3, 4, 6, 8, 10, 12, 16, 32, 64, 100, 128, 1000, 1024)


def _tight_candidates(claim: Claim, margin: sp.Expr, box, n: int = SAMPLES, keep: int = 3) -> list[list[Fraction]]:
    """Exact points of the box where the margin may have a tight minimum (untrusted guesses:
    :func:`check_claim`'s convexity test checks each exactly): the float samples with the
    smallest margins, refined by a bounded minimisation (scipy), each rounded to the
    simplest fractions with the denominators of :data:`TIGHT_DENOMINATORS`."""
    from scipy.optimize import minimize

    lo = np.array([float(a) for a, _ in box])
    hi = np.array([float(b) for _, b in box])
    rng = np.random.default_rng(1)
    pts = lo + (hi - lo) * rng.random((n, lo.size))
    try:
        fn = compile_numpy(margin, claim.symbols)
        vals = np.asarray(fn(*[pts[:, i] for i in range(lo.size)]), dtype=float)
    except (ValueError, TypeError):
        return []
    vals = np.where(np.isfinite(vals), vals, np.inf)
    out = []
    for k in np.argsort(vals)[:keep]:
        def f(x):
            with np.errstate(all="ignore"):
                y = float(np.asarray(fn(*[np.array([t]) for t in x]), dtype=float)[0])
            return y if math.isfinite(y) else 1e300
        try:
            x = minimize(f, pts[k], method="L-BFGS-B", bounds=list(zip(lo, hi)),
                         options={"maxiter": 200}).x
        except (ValueError, FloatingPointError, OverflowError):
            x = pts[k]
        for d in TIGHT_DENOMINATORS:
            c = [Fraction(float(t)).limit_denominator(d) for t in x]
            if all(Fraction(a) <= q <= Fraction(b) for q, (a, b) in zip(c, box)) and c not in out:
                out.append(c)
    return out
