"""Rigorous per-cell upper bounds of the sup error (trusted base).

SOUNDNESS CONTRACT
------------------
For a cell contained in {x in S^m : |x - c| <= rho} (c a float vector, |c| close to 1 and
enclosed), every bound below is U >= sup over the cell of max_i |H_i(x) - f_i(x)|, where H
is the head *exactly* as the problem file describes it (a full-matrix head's reduction to
keys and values is enclosed, not trusted). All arithmetic is the outward-rounded interval
arithmetic of :mod:`certify.kernel.interval`, under the assumptions written there. NaN or
infinity anywhere gives U = inf ("not certified").

Notation: E = H - f (extended to R^(m+1) by the same formulas), d = x - c, z_t = c + t d
for t in [0, 1], g(t) = E_i(z_t). Scores s_k(z) = <z, A_k> + b_k (keys; a softmax head's n
context tokens are one key A = 0 of multiplicity n) and, for a head whose query attends to
itself, s_0(z) = z^T S z with value B z.

* Radial split: <d, c> = (1 - |c|^2 - |d|^2)/2 lies in [-(rho^2 + delta)/2, delta/2] with
  delta >= |1 - |c|^2|, so for any vector G and real beta, |<d, G>| <= |beta| max|q| +
  rho |G - beta c| (radial derivatives cost second order only). For the keys, beta_k =
  <G_k, c>/|c|^2 exactly (enclosed), and |G_k - beta_k c|^2 = |G_k|^2 - <G_k, c>^2/|c|^2
  is bounded from enclosed dot products.
* Chord weights: with a'_k = <d, A_k - w> in [e_lo_k, e_hi_k] (w any float vector), the
  softmax weight pi_k(z_t) is at most pi_hat_k = pi_k(c) e^{e_hi_k + delta_J} with delta_J
  >= |<d, abar(c) - w>| (Jensen, so no denominator to bound; see ``_jensen_slack``).
* ``taylor3`` (heads with linear scores): |g(1)| <= |g(0)| + |g'(0)| + |g''(0)|/2 +
  |int_0^1 (1 - t)^2/2 g'''(t) dt|, with g'(0) = <d, grad E(c)> and g''(0) = d^T Hess E(c) d
  evaluated at the centre (Hess split into the tangent part, rho^2 |P M P|, and O(rho^3)
  radial parts; |P M P| by Samuelson's bound from its trace and Frobenius norm, see
  ``_tangent_top``). The softmax head's centre value, gradient (a covariance) and Hessian
  (a third joint cumulant) are formed from raw moments about float centres (w, beta);
  each raw moment sum_k pi_k f_k is a float sum with an a-priori error bound
  (``_raw_moments``). g''' is the fourth joint cumulant kappa(a, a, a, v) = E[a~^3 v~] -
  3 E[a~^2] E[a~ v~] under pi_t for the softmax head, bounded on each of THIRD_NODES
  sub-intervals [t_(i-1), t_i] of the chord (an upper Riemann sum of the remainder
  integral) with weight caps pi_hat_k(t_i) = pi_k(c) e^{t_i (e_hi_k + delta_J)}: |a~_k| <=
  D_k + m_i, where m_i = min(delta_J + sum_(j <= i) S20_j / n, S10_i, sqrt(S20_i)) bounds the
  moving mean because its t-derivative is a variance; |v~_k| <= Y_k + S01; sums S_pq =
  sum_k pi_hat_k D_k^p Y_k^q, and second moments in a~ for one direction d at a time,
  sup_d d^T (sum_k w_k G_k G_k^T) d (see ``_chord_nodes``, ``_third_softmax``),
  or sum_k W_k(z_t) a_k^3 v_k for the core head (its sup); the target's third derivatives
  are enclosed over the box [c - rho, c + rho] (which holds every z_t) and bounded in
  Frobenius norm.
* ``lipschitz`` (every head, including the query's own token): |g(1)| <= |g(0)| +
  sup_t |g'(t)|, with |<d, grad H_i>| <= sum_k pi_hat_k (Y_k + S01)(D_k + S10) + pi_hat_0
  |<d, B_i>| (the self term's score gradient 2 S z varies along the chord by at most
  2 rho |S|_F), and the target gradient enclosed over the box.
* Convex hull (softmax heads with linear scores, both methods, where their own bound
  misses epsilon): H_i(x) = sum_k pi_k(x) v_ki with sum_k pi_k = 1 and pi_k <= om_k =
  min(1, pi_hat_k), so |H_i - f_i| <= sum_k pi_k D_ki, D_ki = max(v_ki - f_lo, f_hi - v_ki)
  with f_i enclosed over the box, and that is at most the greedy optimum over all such pi
  (``greedy_bound``). With the pruning below it bounds the kept keys' normalised head, which
  is the one the remainder is measured from.
* Key pruning (a cost, not a soundness, matter): for a group cap (centre g, radius r)
  containing the cell, keys whose score upper bound s_k^+ lies far below M^- are dropped,
  where M^- <= log sum_k mult_k e^{s_k(x)} at every x of the cap (the larger of one key's
  lower score, multiplicities being >= 1, and :func:`_log_weight_floor`, a rounded-down
  log-sum of the candidates' lower scores), first whole blocks of nearby keys
  from block bounds (``_block_scores``), tested down a tree of blocks (:class:`KeyTree`:
  the children of a block not dropped are tested next), then single keys (scores on the
  cap by the radial split, evaluated in round-to-nearest floats with one a-priori error
  term per bound: ``_key_scores``). Every key lies in exactly one dropped block or is tested
  alone, at any depth of the tree. Softmax:
  H = (1 - theta) H_kept + theta H_dropped with theta <= sum_dropped mult_k e^{s_k^+ - M^-}
  (a dropped block counts its summed multiplicity times e^{its score bound - M^-}), so
  |H - H_kept| <= theta span_i; single keys are dropped lightest first while the sum stays
  within the share, which ones being a float choice (any set is sound: theta is the
  rounded-up sum over the set chosen). Core: the dropped part is at most
  sum_dropped mult_k e^{s_k^+} |v_ki|. Both are added to U. Softmax, again per cell
  (``refine_keys``): the group's kept keys are scored on the cell's own cap and the lightest
  dropped, theta_cell <= sum_dropped mult_k e^{s_k^+ - M_c^-} with M_c^- the log weight floor
  of the group's kept keys on the cell's cap (<= log of the kept keys' weight sum there,
  which is the sum H_kept is normalised by); for x in the cell (inside both caps) theta
  bounds the group's dropped weight relative to the whole weight sum and theta_cell the
  cell's relative to the group's kept keys' sum, so |H - H_cell| <= |H - H_kept| + |H_kept -
  H_cell| <= (theta + theta_cell) span_i, added to U. The share is PRUNE_SHARE of epsilon,
  and PRUNE_SHARE_TIGHT for cells bounded again (:func:`bound_cells`): any share is sound.
* Sequence problems (Corollary 2): with inert input tokens the output at a position whose
  query sees c inert tokens is H_c = num/(den + c), num and den independent of c, den > 0.
  Each |H_c,i - f_i| = |num_i t - f_i| is convex in t = 1/(den + c), and t is monotone in c,
  so over c in [c_lo, c_hi] it is at most max(|H_c_lo,i - f_i|, |H_c_hi,i - f_i|): bounds
  and enclosures are the larger of the two extreme models' (:class:`ModelSet`). A matrix
  head's own token is then inert too (W_K E = W_V E = 0 entry by entry, checked by the
  loader) and is counted as one more such token.
* Full-matrix heads: the keys, values, S and B used are float midpoints of rigorous
  enclosures of the exact reduction; with score errors <= eta and value errors <= nu_i,
  |H_exact - H_model| <= (e^{2 eta} - 1) span_i + nu_i is added to every bound.
* Points (:func:`error_enclosure_at`, the witnesses): for boxes holding exact points x, an
  enclosure [lo, hi] of max_i |H_i(x) - f_i(x)|: the scores from one midpoint-radius product
  (``ball_matmul``: the box's midpoint and radius, a-priori error gamma_d), the weights
  e^{s_k - shift} from :func:`certify.kernel.interval.exp_narrow`, the weighted sums
  enclosed with their a-priori error, and a softmax head's output as (sum_k W_k v_k + the
  self term) times an enclosure of 1 / sum_k W_k. NaN or infinity gives [-inf, inf].
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from certify.kernel import compiled
from certify.kernel import elementary as el
from certify.kernel import interval as iv
from certify.kernel.interval_expressions import compile_interval
from certify.kernel.sphere import cell_caps

def _squared(x):
    """x * x by one correctly rounded product (``** 2`` may call a library pow)."""
    return x * x


#: Largest cells x kept-keys x dimension block processed at once (memory, not soundness):
#: a chunk of 1024 cells with up to 130 kept keys on S^2 in one block.
BLOCK = 400_000
#: Cell-bound methods; the certificate records one per leaf.
METHODS = ("taylor3", "lipschitz")
#: A cell's keys are pruned on the cap of its ancestor this many levels up.
GROUP_UP = 2
#: Pruning is skipped for heads with at most this many keys.
PRUNE_MIN_KEYS = 48
#: Fraction of epsilon the dropped keys may cost, at most, in a cell's first bound ...
PRUNE_SHARE = 3e-2
#: ... and in its second one, for a cell whose first bound misses its target (and, less what
#: its dropped keys cost, is at most RETRY_REACH x the target; :func:`bound_cells`): most
#: cells are bounded with a quarter fewer keys and only those near the target twice. Any
#: share is sound; which cells are bounded again is a float choice, and each keeps the
#: smaller of its rigorous bounds.
PRUNE_SHARE_TIGHT = 1e-3
RETRY_REACH = 1.05
#: A first bound above (1 - RETRY_MISS) x the target counts as missing it (cells within the
#: float noise of a batch of the target are bounded again, in the search and in the checker).
RETRY_MISS = 1e-6
#: Cells are pruned again on their own caps when their group kept more than this many keys
#: (below, the second pass costs more than the keys it drops save).
REFINE_MIN_KEYS = 96


def usum(x, axis=-1):
    """Upper bound of the exact sum of non-negative float terms."""
    n = np.shape(x)[axis]
    return iv.up_nonneg(np.sum(x, axis=axis) * (1.0 + 2.0 * iv.gamma(max(n - 1, 1))))


def usum_rows(x, terms):
    """Per row (axis 1) an upper bound of the exact sum of the non-negative float entries
    where ``terms`` holds (the others are ignored): their float sum in index order
    (np.bincount: the same bits on every host, and for a row whatever rows or padding are
    batched with it) times 1 + 2 gamma of the row's own term count (contract 3 of
    :mod:`certify.kernel.interval`), rounded up. NaN or inf terms give NaN or inf."""
    rows = x.shape[0]
    row = np.broadcast_to(np.arange(rows)[:, None], x.shape)[terms]
    total = np.bincount(row, weights=x[terms], minlength=rows)
    count, where = np.unique(np.maximum(terms.sum(axis=1) - 1, 1), return_inverse=True)
    grow = 1.0 + 2.0 * np.array([iv.gamma(int(n)) for n in count])[where.reshape(-1)]
    return iv.up_nonneg(total * grow)


def norm_up(mags, axis=-1):
    """Upper bound of the Euclidean norm of vectors with entries bounded by ``mags``."""
    return iv.up_nonneg(np.sqrt(usum(iv.up_nonneg(mags * mags), axis=axis)))


def ball_matmul(am, ar, bm, br):
    """Midpoint-radius product: for exact X, Y with |X - am| <= ar, |Y - bm| <= br
    (entrywise), returns (mid, rad) with |X @ Y - mid| <= rad entrywise."""
    n = am.shape[1]
    mid = am @ bm
    aam, abm = np.abs(am), np.abs(bm)
    err = (aam @ abm) * iv.gamma(n) + aam @ br + ar @ (abm + br)
    tiny = n * math.ldexp(1.0, -1070)  # underflow in the products
    return mid, iv.up(iv.up(err * (1.0 + 2.0 * iv.gamma(n + 2))) + tiny)


def _ball_scale(m, r, s):
    """(m +- r) * s for an interval scalar s: back to (mid, rad)."""
    lo, hi = iv.mul((iv.down(m - r), iv.up(m + r)), s)
    mid = (lo + hi) / 2
    return mid, iv.up(np.maximum(iv.up(hi - mid), iv.up(mid - lo)))


@dataclass
class CellModel:
    """A problem prepared for rigorous cell bounds."""

    kind: str              # "softmax" or "core"
    keys: np.ndarray       # N x d (floats used exactly)
    biases: np.ndarray     # N
    values: np.ndarray     # N x o
    mult: np.ndarray       # N multiplicities (1, or n for the context tokens' pseudo-key)
    keep: np.ndarray       # N: never pruned
    self_q: np.ndarray | None  # d x d symmetric: the self score z^T S z
    self_v: np.ndarray | None  # o x d: the self value B z
    slack: np.ndarray      # o: |H_exact - H_model| on S^m
    span: np.ndarray       # o: bounds |v - v'| over all (model) values, self values included
    epsilon: float
    f: list                # o interval evaluators
    grad: list             # o x d
    hess: list             # o x d x d
    third: list = field(default_factory=list)  # o lists of (multiplicity, evaluator)
    _key_sq: tuple | None = field(default=None, repr=False)
    _blocks: object = field(default=None, repr=False)
    _key_norm: np.ndarray | None = field(default=None, repr=False)
    _score_table: np.ndarray | None = field(default=None, repr=False)
    #: False for targets that are only Lipschitz (abs, sign): taylor3 is then refused
    smooth: bool = True

    @property
    def key_tree(self) -> "KeyTree":
        """The keys in a tree of blocks of nearby keys, with rigorous bounds per block (for
        pruning)."""
        if self._blocks is None:
            self._blocks = KeyTree.of(self)
        return self._blocks

    @property
    def blocks(self) -> "KeyBlocks":
        """The smallest blocks of :attr:`key_tree` (the leaves)."""
        return self.key_tree.levels[-1]

    @property
    def key_sq(self):
        """Enclosures (lo, hi) of the keys' squared norms |A_k|^2."""
        if self._key_sq is None:
            self._key_sq = iv.sum_enclosure(*iv.square(iv.point(self.keys)), axis=-1)
        return self._key_sq

    @property
    def unit_mult(self) -> bool:
        """Every key has multiplicity 1."""
        return bool(np.all(self.mult == 1.0))

    @property
    def key_norm(self):
        """Upper bounds of the keys' norms |A_k|."""
        if self._key_norm is None:
            self._key_norm = iv.up(np.sqrt(self.key_sq[1]))
        return self._key_norm

    @property
    def score_table(self):
        """Per key, the floats :func:`_key_scores` reads: the key's coordinates, its bias, the
        upper bounds of its norm and of its squared norm (N x (d + 3), one row per key: one
        gather per key instead of one per column)."""
        if self._score_table is None:
            self._score_table = np.ascontiguousarray(np.column_stack(
                [self.keys, self.biases, self.key_norm, self.key_sq[1]]))
        return self._score_table

    @property
    def dim(self) -> int:
        return self.keys.shape[1]

    @property
    def out_dim(self) -> int:
        return self.values.shape[1]

    @property
    def linear(self) -> bool:
        return self.self_q is None

    @property
    def default_method(self) -> str:
        return "taylor3" if self.linear and self.smooth else "lipschitz"


def _reduce_matrix_head(h: dict, o: int):
    """Rigorous reduction of a full-matrix head (THEORY 1.1): float midpoints and error
    bounds (keys, key score errors eta_k, values, value errors, S, its error, B, errors)."""
    E = np.array(h["embedding"], dtype=np.float64)
    WQ = np.array(h["W_Q"], dtype=np.float64)
    WK = np.array(h["W_K"], dtype=np.float64)
    WV = np.array(h["W_V"], dtype=np.float64)
    fixed = np.array(h["prefix"], dtype=np.float64).reshape(-1, E.shape[0])
    context = np.array(h.get("context", []), dtype=np.float64).reshape(-1, E.shape[0])
    fixed = np.vstack([fixed, context])
    z = lambda a: np.zeros_like(a)
    scale = iv.recip(iv.sqrt(iv.point(float(WQ.shape[0]))))
    QE = ball_matmul(WQ, z(WQ), E, z(E))
    FK = ball_matmul(fixed, z(fixed), WK.T, z(WK.T))
    keys = _ball_scale(*ball_matmul(FK[0], FK[1], QE[0], QE[1]), scale)
    values = ball_matmul(fixed, z(fixed), WV.T, z(WV.T))
    eta = norm_up(keys[1], axis=1)
    nu = np.max(values[1], axis=0)
    span_extra = np.zeros(o)
    self_q = self_v = None
    eta0 = 0.0
    if h.get("self_attention", True):
        KE = ball_matmul(WK, z(WK), E, z(E))
        S = _ball_scale(*ball_matmul(QE[0].T, QE[1].T, KE[0], KE[1]), scale)
        sym = (S[0] + S[0].T) / 2
        sym_r = iv.up(iv.up((S[1] + S[1].T) / 2) + iv.up(np.abs(sym) * 2 * iv.U))
        eta0 = float(norm_up(sym_r.ravel()))
        B = ball_matmul(WV, z(WV), E, z(E))
        self_q, self_v = sym, B[0]
        nu = np.maximum(nu, norm_up(B[1], axis=1))
        span_extra = norm_up(np.abs(B[0]), axis=1)
    eta_max = max(float(np.max(eta)) if eta.size else 0.0, eta0)
    return keys[0], values[0], self_q, self_v, eta_max, nu, span_extra


class ModelSet:
    """The models of a sequence problem at its extreme inert-token counts: every bound
    is the largest of theirs (see the soundness contract, "Sequence problems")."""

    def __init__(self, models: list[CellModel]):
        self.models = models

    @property
    def default_method(self) -> str:
        methods = {m.default_method for m in self.models}
        return methods.pop() if len(methods) == 1 else "lipschitz"

    def __getattr__(self, name):
        # shared, count-independent attributes (target, epsilon, dimensions)
        if name in ("f", "grad", "hess", "third", "epsilon", "dim", "out_dim", "kind", "smooth"):
            return getattr(self.models[0], name)
        raise AttributeError(name)


def prepare(problem, third: bool = True) -> CellModel | ModelSet:
    """Build the :class:`CellModel` of a validated :class:`certify.formats.problem.Problem` (a
    :class:`ModelSet` for a sequence problem with two extreme token counts)."""
    counts = problem.zero_token_counts
    f, grad, hess, thirds = _target_part(problem, third)
    models = [_head_part(problem, c, f, grad, hess, thirds) for c in counts]
    if hess is None:
        for m in models:
            m.smooth = False
    return models[0] if len(models) == 1 else ModelSet(models)


def _head_part(problem, extra: int, f, grad, hess, thirds) -> CellModel:
    """The head with ``extra`` more inert tokens (score 0, value 0)."""
    ch = problem.canonical["head"]
    kind = ch["kind"]
    o = problem.out_dim
    self_q = self_v = None
    eta, nu, span_extra = 0.0, np.zeros(o), np.zeros(o)
    n_ctx = int(ch.get("context_tokens", 0)) + extra
    if "embedding" in ch:
        # a sequence problem's matrix head has W_K E = 0 and W_V E = 0 entry by entry (the
        # loader checks it), so its own token has score 0 and value 0 exactly: an inert token
        inert_self = problem.sequence is not None and ch.get("self_attention", True)
        keys, values, self_q, self_v, eta, nu, span_extra = _reduce_matrix_head(
            dict(ch, self_attention=False) if inert_self else ch, o)
        n_ctx += int(inert_self)
        biases = np.zeros(keys.shape[0])
    else:
        keys = np.array(ch["keys"], dtype=np.float64)
        values = np.array(ch["values"], dtype=np.float64)
        biases = np.array(ch["biases"], dtype=np.float64)
    N, d = keys.shape
    mult = np.ones(N)
    keep = np.zeros(N, dtype=bool)
    if kind == "softmax" and n_ctx:
        keys = np.vstack([keys, np.zeros((1, d))])
        biases = np.append(biases, 0.0)
        values = np.vstack([values, np.zeros((1, o))])
        mult = np.append(mult, float(n_ctx))
        keep = np.append(keep, True)
    vmax = np.maximum(np.max(values, axis=0), span_extra)
    vmin = np.minimum(np.min(values, axis=0), -span_extra)
    span = iv.up(vmax - vmin)
    slack = np.zeros(o)
    if eta > 0 or np.any(nu > 0):
        grow = iv.up(iv.exp(iv.point(iv.up(2 * eta)))[1] - 1.0)
        slack = iv.up(iv.up(grow * span) + nu)
    return CellModel(kind, keys, biases, values, mult, keep, self_q, self_v, slack, span,
                     float(problem.epsilon), f, grad, hess, thirds)


#: Functions whose derivatives are not functions (sign' = 2 DiracDelta): a target with them
#: is Lipschitz, not smooth, and gets the first-order (``lipschitz``) bound only, which needs
#: nothing but a bound of the gradient where it exists (the target is absolutely continuous
#: along every chord, so |g(1) - g(0)| <= sup |g'|; sign is enclosed by [-1, 1] at 0).
NON_SMOOTH = (sp.Abs, sp.sign, sp.Heaviside, sp.DiracDelta, sp.Piecewise, sp.Min, sp.Max)


def _target_part(problem, third: bool):
    """Interval evaluators of the target, its gradient, Hessian and third derivatives (the
    last two None for a non-smooth target)."""
    t = problem.target
    xs = t.symbols
    d = problem.sphere_dim + 1
    f = [compile_interval(e, xs) for e in t.exprs]
    grads = t.gradient_exprs()
    grad = [[compile_interval(g, xs) for g in row] for row in grads]
    if any(e.has(*NON_SMOOTH) for e in t.exprs):
        return f, grad, None, None
    hess, thirds = [], []
    for row in grads:
        H = [[None] * d for _ in range(d)]
        second = {}
        for j in range(d):
            for l in range(j, d):
                second[j, l] = sp.diff(row[j], xs[l])
                H[j][l] = H[l][j] = compile_interval(second[j, l], xs)
        hess.append(H)
        if third:
            T = []
            for j, l, r in itertools.combinations_with_replacement(range(d), 3):
                e = sp.diff(second[j, l], xs[r])
                if e != 0:
                    T.append((len(set(itertools.permutations((j, l, r)))), compile_interval(e, xs)))
            thirds.append(T)
    return f, grad, hess, thirds


# ------------------------------------------------------------------------- helpers

def _dot3(c, A, anorm=None):
    """Enclosure of <c_b, A_bk> for float c (B x d) and A (B x K x d); ``anorm`` (B x K), when
    given, bounds the norms |A_bk| from above."""
    d = c.shape[-1]
    val = np.matmul(A, c[:, :, None])[:, :, 0]
    # |fl - exact| <= gamma_d sum |A||c| (any order), and sum |A||c| <= |A| |c| (Cauchy-Schwarz)
    # or, without the norms, the float absolute sum, itself within gamma_d of the exact one
    factor = iv.gamma(d) * (1 + 2 * iv.gamma(d + 2))
    if anorm is None:
        absdot = np.matmul(np.abs(A), np.abs(c)[:, :, None])[:, :, 0]
    else:
        cnorm = iv.up(np.sqrt(usum(iv.up(c * c), axis=1)))
        absdot = iv.up_nonneg(anorm * cnorm[:, None])
    err = iv.up_nonneg(absdot * factor + d * math.ldexp(1.0, -1073))
    return iv.down(val - err), iv.up(val + err)


def _quad(c, S):
    """Enclosure of c^T S c (c float B x d, S float d x d)."""
    Sc = iv.dot_enclosure(c, S)  # B x d: (S c)_i = sum_j S_ij c_j
    prod = iv.mul(Sc, iv.point(c))
    return iv.sum_enclosure(*prod, axis=-1)


def _isum(a, axis):
    return iv.sum_enclosure(a[0], a[1], axis=axis)


def _col(a):
    return a[0][:, None], a[1][:, None]


def _radial_bound(Glo, Ghi, c, qmag, rho):
    """Upper bound of |<d, G>| over admissible d for interval vectors G (... x d)."""
    beta = np.sum((Glo + Ghi) / 2 * c, axis=-1)
    bc = iv.scale(iv.point(beta[..., None]), c)
    perp = norm_up(iv.mag(iv.sub((Glo, Ghi), bc)))
    return iv.up(iv.up(np.abs(beta) * qmag) + iv.up(rho * perp)), beta, perp


def _chord_range(P, w, c, c2, A, key_sq, q_lo, q_hi, rho, anorm=None):
    """Enclosure [e_lo, e_hi] of <d, G_k> over admissible d for G_k = A_k - w (B x K; A_k
    exact keys, w a float vector per cell), and D = max(|e_lo|, |e_hi|).

    With beta_k = <G_k, c> / |c|^2 (exact, enclosed): <d, G_k> = beta_k <d, c> + <d, G_k -
    beta_k c> and |G_k - beta_k c|^2 = |G_k|^2 - <G_k, c>^2 / |c|^2, where |G_k|^2 =
    |A_k|^2 - 2 <A_k, w> + |w|^2 and <G_k, c> = <A_k, c> - <w, c>: only the dot products
    P = <A_k, c> (given, enclosed), <A_k, w> and the keys' squared norms key_sq are needed,
    so no B x K x d interval work. (The squared form loses about sqrt(u) |G_k| to
    cancellation, which only widens the range.) [q_lo, q_hi] encloses <d, c> and holds 0
    (as :func:`_geometry` gives it)."""
    cw = iv.sum_enclosure(*iv.mul(iv.point(c), iv.point(w)), axis=-1)
    w2 = iv.sum_enclosure(*iv.square(iv.point(w)), axis=-1)
    if anorm is not None and compiled.enabled() and A.dtype == np.float64:
        # the same operations per key, compiled (<A_k, w> summed in coordinate order)
        return _chord_range_compiled(P, w, c2, A, key_sq, q_lo, q_hi, rho, anorm, cw, w2)
    if np.any(w):
        aw = _dot3(w, A, anorm)
        g2 = iv.add(iv.sub(key_sq, iv.scale(aw, 2.0)), _col(w2))
    else:
        g2 = key_sq
    gc = iv.sub(P, _col(cw))
    # gc^2 from below: 0 where gc may be 0, else the smaller end's square
    low = np.where((gc[0] <= 0) & (gc[1] >= 0), 0.0, np.minimum(np.abs(gc[0]), np.abs(gc[1])))
    along = iv.down(np.maximum(iv.down(low * low), 0.0) / c2[1][:, None])
    perp = iv.up_nonneg(np.sqrt(np.maximum(iv.up(g2[1] - along), 0.0)))
    # beta_k <d, c> = gc_k * (<d, c> / |c|^2), and <d, c> / |c|^2 lies in Q = [r q_lo, r q_hi]
    # with r >= 1/|c|^2 > 0 because q_lo <= 0 <= q_hi; a product with an interval holding 0
    # has its ends at gc_lo Q_hi or gc_hi Q_lo (low) and gc_hi Q_hi or gc_lo Q_lo (high)
    r = iv.recip(c2)[1]
    Q_lo, Q_hi = iv.down(r * q_lo)[:, None], iv.up(r * q_hi)[:, None]
    bq_lo = np.minimum(gc[0] * Q_hi, gc[1] * Q_lo)
    bq_hi = np.maximum(gc[1] * Q_hi, gc[0] * Q_lo)
    rp = iv.up_nonneg(rho[:, None] * perp)
    e_lo, e_hi = iv.down(iv.down(bq_lo) - rp), iv.up(iv.up(bq_hi) + rp)
    return e_lo, e_hi, np.maximum(-e_lo, e_hi)


def _chord_range_compiled(P, w, c2, A, key_sq, q_lo, q_hi, rho, anorm, cw, w2):
    """:func:`_chord_range` by :func:`compiled.chord_range` (the same per-key operations)."""
    Bc, K, d = A.shape
    r = iv.recip(c2)[1]
    Q_lo, Q_hi = iv.down(r * q_lo), iv.up(r * q_hi)
    wnorm = iv.up(np.sqrt(usum(iv.up(w * w), axis=1)))
    factor = iv.gamma(d) * (1 + 2 * iv.gamma(d + 2))
    out = [np.empty((Bc, K)) for _ in range(3)]
    f64 = lambda x: np.ascontiguousarray(np.broadcast_to(x, (Bc,) + np.shape(x)[1:]), dtype=np.float64)
    compiled.chord_range(np.ascontiguousarray(A), f64(P[0]), f64(P[1]), f64(key_sq[1]), f64(anorm), f64(w),
                         f64(wnorm), bool(np.any(w)), f64(cw[0]), f64(cw[1]), f64(w2[1]), f64(c2[1]),
                         f64(Q_lo), f64(Q_hi), f64(rho), factor, d * math.ldexp(1.0, -1073), *out)
    return tuple(out)


def _jensen_slack(gbar, w, rho):
    """delta >= |<d, gbar - w>| for the exact centre mean score gradient gbar (enclosed).

    Jensen: sum_j pi_j(c) e^{phi_j(t)} >= exp(sum_j pi_j(c) phi_j(t)), and with phi_j(t) =
    s_j(z_t) - s_j(c) - t <d, w> the mean is t <d, gbar - w> (plus the self score's
    curvature), so pi_k(z_t) <= pi_k(c) e^{phi_k(t) + delta}: no denominator to bound."""
    dev = np.stack([iv.mag((iv.down(g[0] - w[:, j]), iv.up(g[1] - w[:, j]))) for j, g in enumerate(gbar)], axis=1)
    return iv.up(rho * norm_up(dev, axis=1))


def _box(c, rho):
    """Boxes holding every z_t = c + t (x - c), x in S^m: [c - rho, c + rho] cut to
    [-1, 1] (widened to c itself where c pokes out by rounding)."""
    return [(np.maximum(iv.down(c[:, j] - rho), np.minimum(c[:, j], -1.0)),
             np.minimum(iv.up(c[:, j] + rho), np.maximum(c[:, j], 1.0))) for j in range(c.shape[1])]


def _geometry(c, rho):
    Bc = c.shape[0]
    c2 = iv.sum_enclosure(*iv.square(iv.point(c)), axis=-1)
    delta = iv.mag(iv.sub((np.ones(Bc), np.ones(Bc)), c2))
    rho2 = iv.up(rho * rho)
    q_lo = iv.down(-iv.up(rho2 + delta) / 2)
    q_hi = iv.up(delta / 2)
    qmag = np.maximum(-q_lo, q_hi)
    return c2, q_lo, q_hi, qmag, rho2


# ------------------------------------------------------------------------- bounds

def bound_caps(model: CellModel, c: np.ndarray, rho: np.ndarray, method: str | None = None,
               keys_idx: np.ndarray | None = None, remainder: np.ndarray | None = None):
    """U (B,) with U >= sup over each cap {x in S^m : |x - c| <= rho} of max_i |H_i - f_i|,
    and a float estimate of the centre error (B,) for choosing witnesses.

    ``keys_idx`` (B x K, -1 = none) restricts each cap to some keys; ``remainder`` (B x o)
    must then bound the dropped keys' effect (see :func:`bound_cells`)."""
    method = method or model.default_method
    if method not in METHODS:
        raise ValueError(f"unknown cell method {method!r}")
    if method == "taylor3" and not (model.linear and model.smooth):
        return np.full(c.shape[0], np.inf), np.full(c.shape[0], np.nan)
    B = c.shape[0]
    N = model.keys.shape[0]
    U = np.empty(B)
    est = np.empty(B)
    for blk, width in _blocks(B, model.dim, N if keys_idx is None else keys_idx):
        if keys_idx is None:
            idx = np.broadcast_to(np.arange(N), (blk.stop - blk.start, N))
            mult = np.broadcast_to(model.mult, idx.shape)
            rem = np.zeros((idx.shape[0], model.out_dim))
            A, b, V = model.keys[idx], model.biases[idx], model.values[idx]
            ksq = (model.key_sq[0][idx], model.key_sq[1][idx])
        else:
            A, b, V, mult, ksq = _gather(model, keys_idx[blk, :width])
            rem = remainder[blk]
        fn = _taylor3_block if method == "taylor3" else _lipschitz_block
        with np.errstate(all="ignore"):
            u, e = fn(model, c[blk], rho[blk], A, b, V, mult, ksq)
            u = iv.up(u + np.max(iv.up(rem + model.slack[None, :]), axis=1))
        U[blk] = np.where(np.isfinite(u), u, np.inf)
        est[blk] = e
    return U, est


def _blocks(B, dim, keys):
    """The blocks of :func:`bound_caps`: (rows, width) with about BLOCK / dim (row, key)
    places each. ``keys`` is N (every row has all N keys: slices of rows) or the kept keys
    (B x K, -1 padding): then rows of like counts go together (an index array, rows sorted by
    the place after their last key, stable) and each block is cut to its own widest row, so
    that few padding places are bounded. (A float choice: a bound holds for any padding; which
    block a row is in changes its bits only.)"""
    if np.ndim(keys) == 0:
        step = max(1, BLOCK // max(1, int(keys) * dim))
        return [(slice(s, min(B, s + step)), keys) for s in range(0, B, step)]
    K = keys.shape[1]
    real = keys >= 0
    ends = np.where(real.any(axis=1), K - np.argmax(real[:, ::-1], axis=1), 0) if K else np.zeros(B, dtype=np.int64)
    order = np.argsort(ends, kind="stable")
    width = np.maximum(ends[order], 1)
    out = []
    s = 0
    while s < B:
        # the most rows from s whose count times the widest of them stays within BLOCK
        span = min(B - s, max(1, BLOCK // max(1, dim)))
        fits = (np.arange(1, span + 1) * width[s:s + span]) * dim <= BLOCK
        e = s + max(1, span if fits.all() else int(np.argmin(fits)))
        out.append((order[s:e], int(width[e - 1])))
        s = e
    return out


def _gather(model, raw):
    """The keys, biases, values, multiplicities and squared-norm enclosures of the kept keys
    ``raw`` (rows of indices, -1 padding). Padding takes a kept key of the same row with
    multiplicity 0: per-key factors such as e^{rho |A_k - c|} then stay those of a near key,
    never 0 * inf from a far one."""
    if (compiled.enabled() and model.keys.dtype == np.float64 and model.values.dtype == np.float64
            and raw.shape[1] > 0 and int(raw.max(initial=-1)) < model.keys.shape[0]):
        # (the compiled loop does not check its indices: numpy raises on a bad one)
        raw = np.ascontiguousarray(raw, dtype=np.int64)
        G, K = raw.shape
        A, V = np.empty((G, K, model.dim)), np.empty((G, K, model.out_dim))
        b, mult, k_lo, k_hi = (np.empty((G, K)) for _ in range(4))
        # the same copies as below, compiled
        compiled.gather_keys(raw, model.keys, model.biases, model.values, model.key_sq[0], model.key_sq[1],
                             model.mult, A, b, V, k_lo, k_hi, mult)
        return A, b, V, mult, (k_lo, k_hi)
    first = raw[:, :1]
    idx = np.where(raw >= 0, raw, np.where(first >= 0, first, 0))
    mult = np.where(raw >= 0, model.mult[idx], 0.0)
    return model.keys[idx], model.biases[idx], model.values[idx], mult, (model.key_sq[0][idx], model.key_sq[1][idx])


def _centre_weights(model, c, A, b, mult, anorm=None):
    P = _dot3(c, A, anorm)
    S = (iv.down(P[0] + b), iv.up(P[1] + b))
    shift = np.max(S[1], axis=1)
    s0 = None
    if model.self_q is not None:
        s0 = _quad(c, model.self_q)
        shift = np.maximum(shift, s0[1])
    W = iv.exp_narrow((iv.down(S[0] - shift[:, None]), iv.up(S[1] - shift[:, None])))
    # multiplicities are 1 (0 for padding) unless a pseudo-key stands for context tokens:
    # products by 0 and 1 are exact
    W = (W[0] * mult, W[1] * mult) if model.unit_mult else iv.scale(W, mult)
    W0 = None if s0 is None else iv.exp_narrow((iv.down(s0[0] - shift), iv.up(s0[1] - shift)))
    return W, W0, shift, P


def _centre_softmax_compiled(model, c, A, b, V, mult, ksq):
    """The softmax centre weights of :func:`_taylor3_block` (without a self score) by
    :func:`compiled.centre_softmax`: :func:`_centre_weights`, their sum's enclosure and pi as
    there, the dot products and sums in their own order (any order is sound). Returns pi,
    P, the norm bounds of the keys and the float centres w, beta."""
    Bc, K, d = A.shape
    o = V.shape[2]
    cnorm = iv.up(np.sqrt(usum(iv.up(c * c), axis=1)))
    factor = iv.gamma(d) * (1 + 2 * iv.gamma(d + 2))
    gz = iv.gamma(max(K - 1, 0)) * (1 + 4 * el.U)
    f64 = lambda x: np.ascontiguousarray(np.broadcast_to(x, (Bc, K)), dtype=np.float64)
    anorm, P_lo, P_hi, pi_lo, pi_hi = (np.empty((Bc, K)) for _ in range(5))
    w, beta = np.empty((Bc, d)), np.empty((Bc, o))
    compiled.centre_softmax(np.ascontiguousarray(A), np.ascontiguousarray(V), f64(b), f64(mult), f64(ksq[1]),
                            np.ascontiguousarray(c, dtype=np.float64), cnorm, factor, d * math.ldexp(1.0, -1073),
                            bool(model.unit_mult), gz, compiled.EXP_TABLE, compiled.POW2,
                            anorm, P_lo, P_hi, pi_lo, pi_hi, w, beta)
    return (pi_lo, pi_hi), (P_lo, P_hi), anorm, w, beta


def _target_third(model, i, box, rho):
    T = model.third[i] if model.third else None
    if T is None:
        return np.full(box[0][0].shape, np.inf)
    if not T:
        return np.zeros(box[0][0].shape)
    sq = [iv.up(k * iv.up(_squared(iv.mag(ev(*box))))) for k, ev in T]
    fro = iv.up(np.sqrt(usum(np.stack(sq, axis=1), axis=1)))
    return iv.up(fro * iv.up(iv.up(rho * rho) * rho))


def _raw_moments(pi, A, w, V, beta):
    """Enclosures of the weighted raw moments sum_k pi_k f_k (B each) for the exact
    features X = A_k - w, X_j X_l, Y_i = v_ki - beta_i, Y_i X_j, Y_i X_j X_l (A, V exact
    floats; w, beta float vectors per cell; pi an enclosure of non-negative weights).

    A-priori error bound instead of interval work: with pm, pr the midpoint and radius of
    pi and f~ the float features (each within gamma_6 |f~| + eta_k of the exact f: at most
    two roundings of the inputs and two of the products; eta_k for underflow: a product
    that underflows is off by at most 2^-1075, and Y_i fl(X_j X_l) carries that error times
    |Y_i|, so eta_k <= 2^-1074 (1 + |Y_k|), Y_k the largest exact |Y_ik|),
    |sum pi f - fl(sum pm f~)| <= (1 + 2 g) sum pr |f~| + 2 g sum pm |f~| + T
    with g = gamma_(K+8) (any summation order; the absolute sums are float sums, so they
    are inflated by 1 + 2 g as well) and T = (K + 1) 2^-1060 (1 + m_w (1 + m_Y)) >= sum_k
    pi_k eta_k plus the K products' own underflow (2^-1075 each), with m_w >= the largest
    pm + pr and m_Y the largest float |Y~| (>= |Y| / (1 + u): the factor 2^14 between
    2^-1060 and 2^-1074 covers that and the roundings of T). Also returns the float pair
    features X_j X_l (P x K per cell, in np.triu_indices(d)'s order) for :func:`_feature_sums`."""
    Bc, K, d = A.shape
    o = V.shape[2]
    J, L = np.triu_indices(d)
    P = J.size
    nf = d + P + o * (1 + d + P)
    pm = (pi[0] + pi[1]) / 2
    pr = iv.up(np.maximum(pi[1] - pm, pm - pi[0]))
    if compiled.enabled() and A.dtype == np.float64 and V.dtype == np.float64:
        # the same features and sums, compiled (sums in compiled._dot4's order)
        Yf, XXs = np.empty((Bc, K, o)), np.empty((Bc, P, K))
        mid, am, ar = np.empty((Bc, nf)), np.empty((Bc, nf)), np.empty((Bc, nf))
        compiled.moment_sums(np.ascontiguousarray(A), np.ascontiguousarray(V), np.ascontiguousarray(w),
                             np.ascontiguousarray(beta), J.astype(np.int64), L.astype(np.int64),
                             np.ascontiguousarray(pm), np.ascontiguousarray(pr), mid, am, ar, Yf, XXs)
    else:
        F = np.empty((Bc, nf, K))  # features along the contiguous last axis (batched GEMV)
        X = F[:, :d]
        np.subtract(A.transpose(0, 2, 1), w[:, :, None], out=X)
        XX = F[:, d:d + P]
        for n in range(P):
            np.multiply(X[:, J[n]], X[:, L[n]], out=XX[:, n])
        Y = F[:, d + P:d + P + o]
        np.subtract(V.transpose(0, 2, 1), beta[:, :, None], out=Y)
        base = d + P + o
        for i in range(o):
            np.multiply(Y[:, i, None], X, out=F[:, base + i * d:base + (i + 1) * d])
        base += o * d
        for i in range(o):
            np.multiply(Y[:, i, None], XX, out=F[:, base + i * P:base + (i + 1) * P])
        Yf = Y.transpose(0, 2, 1).copy()
        XXs = XX.copy()
        mid = np.matmul(F, pm[:, :, None])[:, :, 0]
        sums = np.matmul(np.abs(F, out=F), np.stack([pm, pr], axis=2))
        am, ar = sums[:, :, 0], sums[:, :, 1]
    g = iv.gamma(K + 8)
    m_w = np.max(iv.up(pm + pr), axis=1)                      # NaN if any is NaN
    m_Y = np.max(np.abs(Yf).reshape(Bc, -1), axis=1)
    tiny = _underflow_term(K, iv.up(m_w * iv.up(1.0 + m_Y)))
    err = iv.up(iv.up(iv.up(ar * (1 + 2 * g)) + iv.up(am * (2 * g))) + tiny[:, None])
    lo, hi = iv.down(mid - err), iv.up(mid + err)
    cut = np.cumsum([0, d, P, o, o * d, o * P])
    part = lambda k, shape: (lo[:, cut[k]:cut[k + 1]].reshape((Bc,) + shape), hi[:, cut[k]:cut[k + 1]].reshape((Bc,) + shape))
    return part(0, (d,)), part(1, (P,)), part(2, (o,)), part(3, (o, d)), part(4, (o, P)), Yf, XXs


def _underflow_term(K, m):
    """(K + 1) 2^-1060 (1 + m), rounded up: the underflow allowance of K weighted features
    (m bounds the weights times the features' factor, see :func:`_raw_moments`)."""
    return iv.up(iv.up(1.0 + m) * ((K + 1) * math.ldexp(1.0, -1060)))


def _feature_sums(XX, wts):
    """Enclosure (B x r x P) of sum_k wts_rk f_k for the exact pair features X_j X_l of
    :func:`_raw_moments` (XX, their floats, B x P x K in np.triu_indices' order) and float
    weights wts >= 0 (B x r x K): the error bound there with a zero radius (no Y factor)."""
    wt = wts.transpose(0, 2, 1)
    mid = np.matmul(XX, wt).transpose(0, 2, 1)
    wmax = np.max(wts, axis=2)
    return _feature_enclosure(mid, _pair_absum(mid, XX.shape[2], wmax), XX.shape[2], wmax)


def _pair_absum(mid, K, wmax):
    """For the float sums mid (B x r x P, any order) of w_k f_k over K keys, f the float pair
    features fl(X_j X_l) of :func:`_raw_moments` (pairs in np.triu_indices' order) and
    weights 0 <= w_k <= wmax: an upper bound of every float sum, in any order, of w_k |f_k|
    (what :func:`_feature_enclosure` takes as absum), without summing |f|.

    A diagonal pair's features fl(X_j^2) are >= 0, so its mid is such a sum itself. For j <
    l, with u = 2^-53 and a, b the floats X_j, X_l: |fl(ab)| <= (1 + u)|ab| + 2^-1075 <= (1 +
    u)(a^2 + b^2)/2 + 2^-1075 and a^2 <= (fl(a^2) + 2^-1075)/(1 - u), so |f_jl| <= c (f_jj
    + f_ll) + 2^-1073 with c = (1 + u)/(2 (1 - u)); any float sum of K non-negative products
    lies within a factor 1 +- gamma_K of the exact sum, plus K 2^-1075 for underflow. So a
    float sum of w |f_jl| is at most c (1 + gamma_K)/(1 - gamma_K) (mid_jj + mid_ll) plus
    less than 4 K (1 + wmax) 2^-1074; the first factor is below 1 (K < 2^50), and the second
    term below _underflow_term(K, wmax). NaN stays NaN."""
    P = mid.shape[-1]
    d = int(round((math.sqrt(8 * P + 1) - 1) / 2))
    J, L = np.triu_indices(d)
    diag = np.empty(d, dtype=np.int64)
    diag[J[J == L]] = np.flatnonzero(J == L)
    off = iv.up(iv.up(mid[..., diag[J]] + mid[..., diag[L]]) + _underflow_term(K, wmax)[..., None])
    return np.where(J == L, mid, off)


def _feature_enclosure(mid, absum, K, wmax):
    """:func:`_feature_sums`' enclosure from the float sums of wts f (mid) and an upper bound
    of the float sums of wts |f| (absum) over K keys, in any order, and the largest weight per
    row (wmax, B x r: the underflow term grows with the weights, which may exceed 1)."""
    g = iv.gamma(K + 8)
    err = iv.up(iv.up(absum * (2 * g)) + _underflow_term(K, wmax)[:, :, None])
    return iv.down(mid - err), iv.up(mid + err)


def _columns(parts, B):
    """Interval values (each of B cells, or one for all) as the columns of one B x n interval."""
    return tuple(np.stack([np.broadcast_to(p[e], (B,)) for p in parts], 1) for e in (0, 1))


def _pick(a, *index):
    return a[0][(slice(None),) + index], a[1][(slice(None),) + index]


def _tangent(Mp, pair, c, c2):
    """For exact symmetric M (B x d x d) enclosed entrywise by Mp (B x pairs, entries j <= l):
    enclosures of M c, c^T M c, and of the trace t and squared Frobenius norm F2 of P M P
    (P = I - c c^T / |c|^2, the exact projection on the complement of c). As P^2 = P,
    t = tr(M P) = tr M - c^T M c / |c|^2 and F2 = tr(M P M P) = |M|_F^2 - 2 |M c|^2 / |c|^2
    + (c^T M c)^2 / |c|^4: no d x d interval work beyond M c."""
    d = c.shape[1]
    diag = np.diagonal(pair)
    # M c from the midpoints and radii of the entries: |M c - fl(Mm c)| <= Mr |c| + gamma_d
    # |Mm| |c| (float sums of non-negative terms, within gamma_d of the exact ones)
    Mm = (Mp[0] + Mp[1]) / 2
    Mr = iv.up_nonneg(np.maximum(Mp[1] - Mm, Mm - Mp[0]))
    ac = np.abs(c)[:, :, None]
    mid = np.matmul(Mm[:, pair], c[:, :, None])[:, :, 0]
    err = iv.up_nonneg(np.matmul(Mr[:, pair], ac)[:, :, 0] + iv.up_nonneg(np.matmul(np.abs(Mm)[:, pair], ac)[:, :, 0] * iv.gamma(d)))
    err = iv.up_nonneg(err * (1 + 2 * iv.gamma(d + 2))) + d * math.ldexp(1.0, -1070)
    Mc = (iv.down(mid - err), iv.up(mid + err))                                          # B x d
    cMc = iv.sum_enclosure(*iv.mul(iv.point(c), Mc), axis=1)
    inv_c2 = iv.recip(c2)
    tr = iv.sum_enclosure(Mp[0][:, diag], Mp[1][:, diag], axis=1)
    t = iv.sub(tr, iv.mul(cMc, inv_c2))
    # |M|_F^2 from the entries j <= l: off-diagonal ones twice (an exact doubling)
    sq = iv.square(Mp)
    twice = np.full(Mp[0].shape[1], 2.0)
    twice[diag] = 1.0
    normM = iv.sum_enclosure(sq[0] * twice, sq[1] * twice, axis=1)
    Mc2 = iv.sum_enclosure(*iv.square(Mc), axis=1)
    F2 = iv.add(iv.sub(normM, iv.scale(iv.mul(Mc2, inv_c2), 2.0)), iv.mul(iv.square(cMc), iv.square(inv_c2)))
    return Mc, cMc, t, np.maximum(F2[1], 0.0)


def _samuelson(t, F2, n):
    """Upper bound of the largest of n reals of sum t and sum of squares at most F2 (n >= 2;
    Samuelson): t/n + sqrt((n - 1)/n (F2 - t^2/n)), for float t with t^2 <= n F2."""
    k = float(iv.up(np.float64((n - 1) / n)))
    rest = np.maximum(iv.up(F2 - iv.down(iv.down(t * t) / n)), 0.0)
    return iv.up(iv.up(t / n) + iv.up_nonneg(np.sqrt(iv.up_nonneg(k * rest))))


def _tangent_top(t, F2, n, spectral=False):
    """Upper bound (B,) of the largest eigenvalue of exact P M P on the complement of c
    (dimension n; P M P c = 0, so t and F2 of :func:`_tangent` are those of these n
    eigenvalues), or with ``spectral`` of the largest |eigenvalue|. Each eigenvalue is at most
    h(t) = t/n + sqrt((n - 1)/n (F2 - t^2/n)) and at least -h(-t) (Samuelson), so the
    largest |eigenvalue| is at most h(|t|). On t^2 <= n F2, h grows up to t = sqrt(F2), where
    it is sqrt(F2), and decreases after it, so over t (|t|) in [lo, hi] its largest value is
    h(lo) where lo >= sqrt(F2), h(hi) where hi <= sqrt(F2), else sqrt(F2) (the comparisons
    with sqrt(F2) rounded outward); F2 by its upper end, as h grows with F2. Exact for n = 2;
    for n = 1 the one eigenvalue is t itself."""
    lo, hi = t
    if n == 1:
        return np.maximum(np.abs(lo), np.abs(hi)) if spectral else hi
    if spectral:
        lo, hi = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi))), iv.mag(t)
    root = np.sqrt(F2)
    F = iv.up_nonneg(root)
    return np.where(lo >= F, _samuelson(lo, F2, n), np.where(hi <= iv.down(root), _samuelson(hi, F2, n), F))


def _form_sup(Mp, pair, c, c2, rho, rho2, uabs, spectral=False):
    """Upper bound (B,) of d^T M d (``spectral``: of |d^T M d|) over admissible d for exact
    symmetric M given by the enclosures of its entries j <= l (Mp, B x pairs): with d = d_T +
    u c, d_T orthogonal to c, |d_T| <= rho, |u| <= uabs, it is at most rho^2 max(lam, 0) +
    2 uabs rho |M c| + uabs^2 |c^T M c|, lam the largest eigenvalue (|eigenvalue|) of M on
    the complement of c."""
    Mc, cMc, t, F2 = _tangent(Mp, pair, c, c2)
    lam = np.maximum(_tangent_top(t, F2, c.shape[1] - 1, spectral), 0.0)
    Mc_n = norm_up(iv.mag(Mc), axis=1)
    return iv.up(iv.up(rho2 * lam) + iv.up(iv.up(2 * iv.up(uabs * iv.up(rho * Mc_n)))
                                             + iv.up(iv.up(uabs * uabs) * iv.mag(cMc))))


#: Sub-intervals of the chord for the third-order remainder (a cost matter, any number is
#: sound; a power of 2 keeps the weights (n - i + 1)^3 - (n - i)^3 over n^3 exact).
THIRD_NODES = 4


def _chord_nodes(pi_c, E, jensen, D, D2, form):
    """Per sub-interval [t_(i-1), t_i] of the chord (t_i = i/n, n = THIRD_NODES), bounds that
    hold at every t <= t_i (B x n x K, B x n, B x n): pi_hat_ik >= pi_k(t), S20_i >=
    E_t[(X - <d, w>)^2] and delta_i >= |E_t[X] - <d, w>| (X_k = <d, A_k>), given pi_c >=
    pi_k(0), E_k >= <d, A_k - abar(c)> (>= 0) and jensen >= |<d, abar(c) - w>|.

    Jensen: the denominator sum_j pi_j(0) e^{t X_j} is at least e^{t E_0[X]}, so pi_k(t) <=
    pi_k(0) e^{t E_k}, and e^{t_i E} is taken as the i-th power of e^{E/n} (rounded up).
    d/dt E_t[X] = Var_t(X), so |E_t[X] - <d, w>| <= jensen + sum_(j <= i) S20_j / n; it is also
    at most S10_i = sum pi_hat_i D and (Cauchy-Schwarz, the weights sum to 1) sqrt(S20_i).
    S20_i is the smaller of sum pi_hat_i D^2 and form(pi_hat_i)."""
    n = THIRD_NODES
    B, K = E.shape
    raised = el.up_nonneg_inplace                  # up_nonneg in place (B x n x K buffers)
    step = np.maximum(E, 0.0)
    step /= n
    step = iv.exp_upper(raised(step))
    grow = np.empty((B, n, K))
    grow[:, 0] = step
    for i in range(1, n):
        raised(np.multiply(grow[:, i - 1], step, out=grow[:, i]))
    ph = raised(np.multiply(pi_c[:, None, :], grow, out=grow))
    tmp = raised(np.multiply(ph, D[:, None]))
    S10 = usum(tmp, 2)
    S20 = np.minimum(usum(raised(np.multiply(ph, D2[:, None], out=tmp)), 2), form(ph))
    return ph, S20, _moving_mean(jensen, S10, S20)


def _moving_mean(jensen, S10, S20):
    """delta_i of :func:`_chord_nodes` from its sums."""
    B, n = S20.shape
    acc = np.empty((B, n))
    run = jensen
    for i in range(n):
        run = iv.up(run + iv.up_nonneg(S20[:, i] / n))
        acc[:, i] = run
    return np.minimum(np.minimum(acc, S10), iv.up_nonneg(np.sqrt(S20)))


def _usum_factor(K):
    """usum's factor for sums of K terms."""
    return 1.0 + 2.0 * iv.gamma(max(K - 1, 1))


def _chord_nodes_compiled(pi_c, E, jensen, D, D2, pairs, form_of):
    """:func:`_chord_nodes` with its per-key work compiled (:func:`compiled.chord_node_sums`:
    the same float operations per key, the sums in its own fixed order, which usum's and the
    feature sums' bounds allow); ``form_of`` takes the pair features' sums enclosure."""
    n = THIRD_NODES
    B, K = E.shape
    XX = np.ascontiguousarray(pairs)
    P = XX.shape[1]
    ph = np.empty((B, n, K))
    S10, S20, ptop = np.empty((B, n)), np.empty((B, n)), np.empty((B, n))
    Mm = np.empty((B, n, P))
    compiled.chord_node_sums(np.ascontiguousarray(pi_c), np.ascontiguousarray(E), np.ascontiguousarray(D),
                             np.ascontiguousarray(D2), XX, n, compiled.EXP_TABLE, compiled.POW2,
                             ph, S10, S20, Mm, ptop)
    g1 = _usum_factor(K)
    S10 = iv.up_nonneg(S10 * g1)
    ptop = np.maximum(ptop, 0.0)                   # no keys: -inf; NaN stays NaN
    S20 = np.minimum(iv.up_nonneg(S20 * g1), form_of(_feature_enclosure(Mm, _pair_absum(Mm, K, ptop), K, ptop)))
    return ph, S20, _moving_mean(jensen, S10, S20)


def _third_softmax(ph, S20, delta, D, D2, Y, form):
    """R3 (B,) with R3/6 >= |int_0^1 (1 - t)^2/2 H'''(t) dt| (the Taylor remainder) for one
    output of a softmax head on the chord, from the bounds of :func:`_chord_nodes` (with
    ``ph``, ``S20``, ``delta`` holding on the i-th sub-interval), D_k >= |<d, G_k>| (G_k =
    A_k - w; D2 >= D^2), Y_k >= |v_k - beta| and form(wts) >= sup_d sum_k wts_k <d, G_k>^2
    (wts B x r x K >= 0, result B x r).

    At each t of the i-th sub-interval, H''' = E_t[Y~ X~^3] - 3 Var_t(X) Cov_t(X, Y) (X~ =
    X - E_t X, Y~ = Y - E_t Y), and with delta = delta_i: |Y~_k| <= Y_k + S01 (S01 = sum
    pi_hat Y >= |E_t Y - beta|), |X~_k| <= D_k + delta and X~_k = <d, G_k> - m, |m| <=
    delta, so the first term is at most sum_k w_k (<d, G_k> - m)^2 <= q + 2 delta l +
    delta^2 s with w_k = pi_hat_k (Y_k + S01)(D_k + delta), q >= sum w <d, G>^2 (termwise
    with D2, or form(w)), l >= sum w |<d, G>| (termwise, or Cauchy-Schwarz: sqrt(q s)) and
    s = sum w; |Cov_t(X, Y)| = |E_t[(X - <d, w>)(Y -
    beta)] - m (E_t[Y] - beta)| <= S11 + delta S01, and also <= sqrt(Var_t(X) Var_t(Y)) with
    Var_t(Y) <= S02 = sum pi_hat Y^2. That bound B_i holds on the sub-interval, so the
    remainder is at most sum_i B_i int_(t_(i-1))^(t_i) (1 - t)^2/2 dt: R3 = sum_i ((1 -
    t_(i-1))^3 - (1 - t_i)^3) B_i, weights summing to 1 (with one node, the sup bound)."""
    n = ph.shape[1]
    Dn, D2n, Yn = D[:, None], D2[:, None], Y[:, None]
    raised = el.up_nonneg_inplace                  # up_nonneg in place (B x n x K buffers)
    py = raised(np.multiply(ph, Yn))
    S01 = usum(py, 2)
    tmp = raised(np.multiply(py, Dn))
    S11 = usum(tmp, 2)
    S02 = usum(raised(np.multiply(py, Yn, out=tmp)), 2)
    dl = delta
    # w = up(up(ph up(Y + S01)) up(D + delta))
    w = raised(np.add(Yn, S01[:, :, None], out=py))
    raised(np.multiply(ph, w, out=w))
    w *= raised(np.add(Dn, dl[:, :, None], out=tmp))
    raised(w)
    s = usum(w, 2)
    q = np.minimum(usum(raised(np.multiply(w, D2n, out=tmp)), 2), form(w))
    l = np.minimum(usum(raised(np.multiply(w, Dn, out=tmp)), 2), iv.up_nonneg(np.sqrt(iv.up_nonneg(q * s))))
    return _third_tail(S20, dl, S01, S11, S02, s, q, l)


def _third_tail(S20, dl, S01, S11, S02, s, q, l):
    """R3 of :func:`_third_softmax` from its sums."""
    n = S20.shape[1]
    P31 = iv.up(q + iv.up(iv.up(2 * iv.up(dl * l)) + iv.up(iv.up(dl * dl) * s)))
    cov = np.minimum(iv.up(S11 + iv.up(dl * S01)), iv.up_nonneg(np.sqrt(iv.up_nonneg(S20 * S02))))
    Bn = iv.up(P31 + iv.up(3 * iv.up(S20 * cov)))
    weights = np.array([((n - i + 1) ** 3 - (n - i) ** 3) / n ** 3 for i in range(1, n + 1)])
    return usum(iv.up_nonneg(Bn * weights), 1)


def _third_softmax_compiled(ph, S20, delta, D, D2, Y, pairs, form_of):
    """:func:`_third_softmax` with its per-key work compiled (:func:`compiled.third_sums`:
    the same float operations per key, the sums in its own fixed order)."""
    B, n, K = ph.shape
    XX = np.ascontiguousarray(pairs)
    P = XX.shape[1]
    S01, S11, S02, s, qt, lt, wtop = (np.empty((B, n)) for _ in range(7))
    Mm = np.empty((B, n, P))
    g1 = _usum_factor(K)
    compiled.third_sums(ph, np.ascontiguousarray(D), np.ascontiguousarray(D2), np.ascontiguousarray(Y),
                        np.ascontiguousarray(delta), XX, g1, S01, S11, S02, s, qt, lt, wtop, Mm)
    up = lambda x: iv.up_nonneg(x * g1)
    S11, S02, s = up(S11), up(S02), up(s)
    wtop = np.maximum(wtop, 0.0)                   # no keys: -inf; NaN stays NaN
    q = np.minimum(up(qt), form_of(_feature_enclosure(Mm, _pair_absum(Mm, K, wtop), K, wtop)))
    l = np.minimum(up(lt), iv.up_nonneg(np.sqrt(iv.up_nonneg(q * s))))
    return _third_tail(S20, delta, S01, S11, S02, s, q, l)


def _taylor3_block(model, c, rho, A, b, V, mult, ksq):
    Bc, d = c.shape
    o = V.shape[2]
    c2, q_lo, q_hi, qmag, rho2 = _geometry(c, rho)
    softmax = model.kind == "softmax"
    if (softmax and model.self_q is None and compiled.enabled() and iv.backend() == "kernel"
            and A.dtype == np.float64 and V.dtype == np.float64):
        pi, P, anorm, w, beta = _centre_softmax_compiled(model, c, A, b, V, mult, ksq)
    else:
        anorm = iv.up_nonneg(np.sqrt(ksq[1]))                 # >= |A_k|
        W, _, shift, P = _centre_weights(model, c, A, b, mult, anorm)
        if softmax:
            Z = _isum(W, 1)
            pi = iv.mul_nonneg(W, iv.recip(_col(Z)))
            pm = (pi[0] + pi[1]) / 2
            w = np.einsum("bk,bkd->bd", pm, A)        # float centres: any choice is sound
            beta = np.einsum("bk,bko->bo", pm, V)
        else:
            pi = W
            w = np.zeros_like(c)
            beta = np.zeros((Bc, o))
    EX, EXX, EY, EYX, EYXX, Yf, XXf = _raw_moments(pi, A, w, V, beta)
    J, L = np.triu_indices(d)                      # the pairs (j <= l) of the Hessian
    pair = np.empty((d, d), dtype=np.int64)
    pair[J, L] = pair[L, J] = np.arange(J.size)
    e_lo, e_hi, D = _chord_range(P, w, c, c2, A, ksq, q_lo, q_hi, rho, anorm)
    uabs = iv.up(qmag / c2[0])
    if softmax:
        # the exact centre mean is abar = w + E[X]
        jensen = iv.up(rho * norm_up(iv.mag(EX), axis=1))
        # products of non-negative quantities (pi, D, Y, e^.) are rounded up in two operations
        D2 = iv.up_nonneg(D * D)
        # sum_k pi_k(t) <d, G_k>^2 with G_k = A_k - w for one direction d at a time: at most
        # d^T (sum_k pi_hat_k G_k G_k^T) d, about the largest eigenvalue instead of the
        # trace that sum_k pi_hat_k D_k^2 (each key at its own worst d) amounts to; all
        # sub-intervals' matrices in one batch
        n = THIRD_NODES
        geo = [np.repeat(a, n, axis=0) for a in (c, c2[0], c2[1], rho, rho2, uabs)]

        def form_of(Mp):
            flat = (Mp[0].reshape(Bc * n, -1), Mp[1].reshape(Bc * n, -1))
            return _form_sup(flat, pair, geo[0], (geo[1], geo[2]), *geo[3:]).reshape(Bc, n)

        def form(wts):
            return form_of(_feature_sums(XXf, wts))

        fast = compiled.enabled() and iv.backend() == "kernel"
        E = iv.up(e_hi + jensen[:, None])
        if fast:
            ph, S20, delta = _chord_nodes_compiled(pi[1], E, jensen, D, D2, XXf, form_of)
        else:
            ph, S20, delta = _chord_nodes(pi[1], E, jensen, D, D2, form)
        pi_hat = ph[:, -1]                         # >= pi_k(t) for every t in [0, 1]
    else:
        escale = iv.exp((shift, shift))
        What = iv.up(W[1] * iv.exp_upper(e_hi))
        D3 = iv.up(iv.up(D * D) * D)
    cols = [iv.point(c[:, j]) for j in range(d)]
    box = _box(c, rho)
    total = np.zeros(Bc)
    est = np.zeros(Bc)
    at = lambda a, k: (a[0][:, k], a[1][:, k])     # columns of an interval array
    for i in range(o):
        muy = _pick(EY, i)
        eyx = _pick(EYX, i)                        # B x d
        eyxx = _pick(EYXX, i)                      # B x pairs
        # all entries j (gradient) and pairs (j, l) (Hessian) at once, entry by entry the
        # same operations as written out for one entry
        if softmax:
            # centre value, gradient (covariance) and Hessian (third joint cumulant)
            # from raw moments about (w, beta)
            Hc = iv.add(iv.point(beta[:, i]), muy)
            gH = iv.sub(eyx, iv.mul(_col(muy), EX))
            h = iv.sub(eyxx, iv.mul(_col(muy), EXX))
            h = iv.sub(h, iv.add(iv.mul(at(EX, J), at(eyx, L)), iv.mul(at(EX, L), at(eyx, J))))
            hH = iv.add(h, iv.scale(iv.mul(_col(muy), iv.mul(at(EX, J), at(EX, L))), 2.0))
        else:
            Hc = iv.mul(muy, escale)
            gH = iv.mul(eyx, _col(escale))
            hH = iv.mul(eyxx, _col(escale))
        E = iv.sub(Hc, model.f[i](*cols))
        G = iv.sub(gH, _columns([model.grad[i][j](*cols) for j in range(d)], Bc))
        M = iv.sub(hH, _columns([model.hess[i][j][l](*cols) for j, l in zip(J, L)], Bc))
        first, _, _ = _radial_bound(G[0], G[1], c, qmag, rho)
        # |d^T M d| <= rho^2 |M on the complement of c| + 2 uabs rho |M c| + uabs^2 |c^T M c|
        second = _form_sup(M, pair, c, c2, rho, rho2, uabs, spectral=True)
        if softmax:
            Yabs = iv.up_nonneg(np.abs(Yf[:, :, i]))
            if fast:
                R3 = _third_softmax_compiled(ph, S20, delta, D, D2, Yabs, XXf, form_of)
            else:
                R3 = _third_softmax(ph, S20, delta, D, D2, Yabs, form)
        else:
            R3 = iv.up(usum(iv.up(iv.up(What * D3) * np.abs(V[:, :, i])), 1) * escale[1])
        third = iv.up(iv.up(R3 + _target_third(model, i, box, rho)) / 6)
        U = iv.up(iv.up(iv.mag(E) + first) + iv.up(iv.up(second / 2) + third))
        total = np.maximum(total, np.where(np.isnan(U), np.inf, U))
        est = np.maximum(est, np.abs((E[0] + E[1]) / 2))
    if softmax:
        total = _with_hull(model, total, pi_hat, V, c, rho)
    return total, est


def _lipschitz_block(model, c, rho, A, b, V, mult, ksq):
    Bc, d = c.shape
    o = V.shape[2]
    c2, q_lo, q_hi, qmag, rho2 = _geometry(c, rho)
    W, W0, shift, P = _centre_weights(model, c, A, b, mult)
    cols = [iv.point(c[:, j]) for j in range(d)]
    box = _box(c, rho)
    softmax = model.kind == "softmax"
    if softmax:
        Z = _isum(W, 1)
        if W0 is not None:
            Z = iv.add(Z, W0)
        invZ = iv.recip(Z)
        pi = iv.mul(W, _col(invZ))
        gbar = [_isum(iv.scale(pi, A[:, :, j]), 1) for j in range(d)]
        if W0 is not None:
            pi0 = iv.mul(W0, invZ)
            Sq = model.self_q
            Sc = iv.dot_enclosure(c, Sq)  # B x d
            g0 = [iv.scale((Sc[0][:, j], Sc[1][:, j]), 2.0) for j in range(d)]
            gbar = [iv.add(gbar[j], iv.mul(pi0, g0[j])) for j in range(d)]
        w = np.stack([(g[0] + g[1]) / 2 for g in gbar], axis=1)
        e_lo, e_hi, D = _chord_range(P, w, c, c2, A, ksq, q_lo, q_hi, rho)
        jensen = _jensen_slack(gbar, w, rho)
        if W0 is not None:
            S_norm = float(norm_up(np.abs(Sq).ravel()))
            g0w = (iv.down(np.stack([g[0] for g in g0], 1) - w), iv.up(np.stack([g[1] for g in g0], 1) - w))
            lin0, _, _ = _radial_bound(g0w[0], g0w[1], c, qmag, rho)
            D0 = iv.up(lin0 + iv.up(2 * iv.up(rho2 * S_norm)))
            # the self score's curvature term t^2 d^T S d enters the Jensen mean with weight pi_0
            jensen = iv.up(jensen + iv.up(pi0[1] * iv.up(rho2 * S_norm)))
            pi0_hat = iv.up(pi0[1] * iv.exp_upper(iv.up(D0 + jensen)))
        pi_hat = iv.up(pi[1] * iv.exp_upper(iv.up(e_hi + jensen[:, None])))
        S10 = usum(iv.up(pi_hat * D), 1)
        if W0 is not None:
            S10 = iv.up(S10 + iv.up(pi0_hat * D0))
    else:
        escale = iv.exp((shift, shift))
        e_lo, e_hi, D = _chord_range(P, np.zeros_like(c), c, c2, A, ksq, q_lo, q_hi, rho)
        What = iv.up(W[1] * iv.exp_upper(e_hi))
    total = np.zeros(Bc)
    est = np.zeros(Bc)
    for i in range(o):
        Vi = V[:, :, i]
        if softmax:
            Hc = _isum(iv.scale(pi, Vi), 1)
            if W0 is not None:
                Bi = model.self_v[i]
                v0 = iv.dot_enclosure(c, Bi[None, :])
                v0 = (v0[0][:, 0], v0[1][:, 0])
                Hc = iv.add(Hc, iv.mul(pi0, v0))
            beta = (Hc[0] + Hc[1]) / 2
            Y = iv.up(np.abs(Vi - beta[:, None]))
            S01 = usum(iv.up(pi_hat * Y), 1)
            if W0 is not None:
                Bn = float(norm_up(np.abs(Bi)))
                Y0 = iv.up(iv.mag(iv.sub(v0, iv.point(beta))) + iv.up(rho * Bn))
                S01 = iv.up(S01 + iv.up(pi0_hat * Y0))
            GH = usum(iv.up(iv.up(pi_hat * iv.up(Y + S01[:, None])) * iv.up(D + S10[:, None])), 1)
            if W0 is not None:
                Bb = np.broadcast_to(Bi, c.shape)
                lin_b, _, _ = _radial_bound(Bb, Bb, c, qmag, rho)
                GH = iv.up(GH + iv.up(iv.up(pi0_hat * iv.up(iv.up(Y0 + S01) * iv.up(D0 + S10)))
                                      + iv.up(pi0_hat * lin_b)))
        else:
            Hc = iv.mul(_isum(iv.scale(W, Vi), 1), escale)
            GH = iv.up(usum(iv.up(iv.up(What * D) * np.abs(Vi)), 1) * escale[1])
        E = iv.sub(Hc, model.f[i](*cols))
        Gf = [model.grad[i][j](*box) for j in range(d)]
        Gf_bound, _, _ = _radial_bound(np.stack([g[0] for g in Gf], 1), np.stack([g[1] for g in Gf], 1), c, qmag, rho)
        U = iv.up(iv.up(iv.mag(E) + GH) + Gf_bound)
        total = np.maximum(total, np.where(np.isnan(U), np.inf, U))
        est = np.maximum(est, np.abs((E[0] + E[1]) / 2))
    if softmax and W0 is None:
        total = _with_hull(model, total, pi_hat, V, c, rho)
    return total, est


def greedy_bound(om, D):
    """Upper bound (B,) of max sum_k pi_k D_k over pi in the simplex with pi <= om
    (entrywise; om, D >= 0, B x K): the greedy optimum, largest D_k filled first, with
    weights min(om_k, 1 - sum of the om before it) rounded up, which bound it termwise
    (a float partial sum of non-negative terms is within gamma_K of the exact one)."""
    order = np.argsort(-D, axis=1, kind="stable")
    Ds = np.take_along_axis(D, order, axis=1)
    ws = np.take_along_axis(om, order, axis=1)
    before = np.zeros_like(ws)
    np.cumsum(ws[:, :-1], axis=1, out=before[:, 1:])
    g = 2 * iv.gamma(max(om.shape[1], 2))
    cap = np.maximum(iv.up(1.0 - np.maximum(iv.down(before * (1 - g)), 0.0)), 0.0)
    return usum(iv.up(np.minimum(ws, cap) * Ds), 1)


def _with_hull(model, total, pi_hat, V, c, rho):
    """``total`` replaced by the convex-hull bound where that one meets epsilon and
    ``total`` does not (softmax heads without a self token): H(x) = sum_k pi_k v_k with pi
    in the simplex and pi_k <= min(1, pi_hat_k) along the chord, so |H_i - f_i| <=
    sum_k pi_k D_ki with D_ki >= |v_ki - f_i| over the box (:func:`greedy_bound`). It needs
    cells of about the key spacing, not of 1/lambda: it is what certifies sharp heads."""
    miss = ~(total <= model.epsilon)
    if not np.any(miss):
        return total
    om = np.minimum(1.0, pi_hat[miss])   # NaN stays NaN
    V = V[miss]
    box = _box(c[miss], rho[miss])
    hull = np.zeros(om.shape[0])
    for i in range(V.shape[2]):
        flo, fhi = model.f[i](*box)
        D = np.maximum(iv.up(V[:, :, i] - flo[:, None]), iv.up(fhi[:, None] - V[:, :, i]))
        h = greedy_bound(om, D)
        hull = np.maximum(hull, np.where(np.isnan(h), np.inf, h))
    total = total.copy()
    total[miss] = np.where(hull <= model.epsilon, hull, total[miss])
    return total


# ------------------------------------------------------------------------- pruning

#: Keys per block of the pruning's smallest blocks (a cost matter: any grouping is sound).
BLOCK_KEYS = 8


def _split_keys(keys: np.ndarray, order: np.ndarray, size: int) -> list[np.ndarray]:
    """Nearby keys together: halve along the coordinate of largest spread, at the median,
    until a part has at most ``size`` keys (deterministic: stable sorts)."""
    if order.size <= size:
        return [order]
    pts = keys[order]
    axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
    o = order[np.argsort(pts[:, axis], kind="stable")]
    half = o.size // 2
    return _split_keys(keys, o[:half], size) + _split_keys(keys, o[half:], size)


@dataclass
class KeyBlocks:
    """Blocks of keys and, per block, rigorous bounds: every key A_k of block B lies within
    ``radius[B]`` of ``centre[B]``, its direction A_k/|A_k| within ``spread[B]`` of
    ``direction[B]`` (inf where a key may be 0), |A_k| in [``norm_min[B]``, ``norm_max[B]``];
    its bias is <= ``bias_max[B]``; ``mult_sum[B]`` >= the sum of its multiplicities,
    ``weighted[B, i]`` >= sum_k mult_k |v_k,i|, ``top[B]`` >= max_k mult_k max_i |v_k,i|;
    ``has_keep[B]`` when a key is never pruned."""

    index: np.ndarray      # B x S key indices, -1 padding
    centre: np.ndarray     # B x d
    radius: np.ndarray     # B
    direction: np.ndarray  # B x d
    spread: np.ndarray     # B
    norm_min: np.ndarray   # B
    norm_max: np.ndarray   # B
    bias_max: np.ndarray   # B
    mult_sum: np.ndarray   # B
    weighted: np.ndarray   # B x o
    top: np.ndarray        # B
    has_keep: np.ndarray   # B

    @classmethod
    def of(cls, model: CellModel, parts: list[np.ndarray]) -> "KeyBlocks":
        """The blocks ``parts`` (arrays of key indices) with their bounds."""
        keys = model.keys
        S = max(p.size for p in parts)
        index = np.full((len(parts), S), -1, dtype=np.int64)
        for b, part in enumerate(parts):
            index[b, :part.size] = part
        real = index >= 0
        safe = np.where(real, index, 0)
        members = keys[safe]                                  # B x S x d
        centre = np.mean(np.where(real[:, :, None], members, 0.0), axis=1) * (S / np.maximum(real.sum(1), 1))[:, None]
        dlo, dhi = iv.sub(iv.point(members), iv.point(centre[:, None, :]))
        dist = norm_up(np.maximum(np.abs(dlo), np.abs(dhi)), axis=2)   # B x S, >= |A_k - c_B|
        radius = np.max(np.where(real, dist, 0.0), axis=1)
        # directions: |A/|A| - u|^2 = 1 - 2 <A, u>/|A| + |u|^2 for the exact unit A/|A|
        u = centre / np.maximum(np.linalg.norm(centre, axis=1, keepdims=True), 1e-300)
        nrm = iv.sqrt((model.key_sq[0][safe], model.key_sq[1][safe]))
        au = iv.sum_enclosure(*iv.mul(iv.point(members), iv.point(np.broadcast_to(u[:, None, :], members.shape))), axis=2)
        u2 = iv.sum_enclosure(*iv.square(iv.point(u)), axis=1)
        cosu = iv.div(au, nrm)                                # NaN or infinite where |A| may be 0
        gap2 = iv.up(iv.up(1.0 - 2 * cosu[0]) + u2[1][:, None])
        sdist = np.where(np.isfinite(gap2), iv.up(np.sqrt(np.maximum(gap2, 0.0))), np.inf)
        spread = np.max(np.where(real, sdist, 0.0), axis=1)
        bias_max = np.max(np.where(real, model.biases[safe], -np.inf), axis=1)
        mult = np.where(real, model.mult[safe], 0.0)
        vmag = np.abs(model.values)[safe]                     # B x S x o
        weighted = np.stack([usum(iv.up(mult * vmag[:, :, i]), 1) for i in range(model.out_dim)], axis=1)
        top = np.max(iv.up(mult * np.max(vmag, axis=2)), axis=1)
        return cls(index, centre, radius, u, spread, np.min(np.where(real, nrm[0], np.inf), axis=1),
                   np.max(np.where(real, nrm[1], 0.0), axis=1), bias_max, usum(mult, 1), weighted, top,
                   np.any(np.where(real, model.keep[safe], False), axis=1))


#: Each block of a :class:`KeyTree` level splits into at most this many blocks below it (a
#: power of 2: :func:`_split_keys` halves a block of at most TREE_FANOUT x size keys at most
#: log2(TREE_FANOUT) times on the way to blocks of at most size).
TREE_FANOUT = 8
#: The tree's top level has at most about this many blocks.
TREE_TOP = 64


@dataclass
class KeyTree:
    """Blocks of nearby keys at several sizes, each block the union of its children below:
    ``levels[0]`` the largest, ``levels[-1]`` blocks of at most ``BLOCK_KEYS`` keys;
    ``children[j]`` (blocks of level j x TREE_FANOUT, -1 padding) indexes level j + 1.
    Pruning tests the blocks from the top and descends into those it cannot drop, so its
    cost follows the keys near a cap, not N. (Any tree is sound: every block carries its
    own rigorous bounds.)"""

    levels: list
    children: list

    @classmethod
    def of(cls, model: CellModel) -> "KeyTree":
        keys = model.keys
        sizes = [BLOCK_KEYS]
        while keys.shape[0] > sizes[0] * TREE_TOP:
            sizes.insert(0, sizes[0] * TREE_FANOUT)
        parts = _split_keys(keys, np.arange(keys.shape[0]), sizes[0])
        levels, children = [KeyBlocks.of(model, parts)], []
        for size in sizes[1:]:
            below, links = [], np.full((len(parts), TREE_FANOUT), -1, dtype=np.int64)
            for b, part in enumerate(parts):
                sub = _split_keys(keys, part, size)   # at most TREE_FANOUT blocks
                links[b, :len(sub)] = np.arange(len(below), len(below) + len(sub))
                below += sub
            parts = below
            levels.append(KeyBlocks.of(model, parts))
            children.append(links)
        return cls(levels, children)


def _cap_scores(g, r, dot, sq, b):
    """Rigorous (s_lo, s_hi) of <x, A> + b over {x in S^m : |x - g| <= r} for vectors A
    with <g, A> in ``dot`` and |A|^2 in ``sq`` (G x K each): <x - g, A> by the radial split
    (the chord range with w = 0), so a key's score moves by about r |A| sin(angle) only."""
    c2, q_lo, q_hi, _, _ = _geometry(g, r)
    e_lo, e_hi, _ = _chord_range(dot, np.zeros_like(g), g, c2, None, sq, q_lo, q_hi, r)
    return iv.down(iv.down(dot[0] + b) + e_lo), iv.up(iv.up(dot[1] + b) + e_hi)


def _key_scores(model: CellModel, g, r, keys_idx):
    """Rigorous (s_lo, s_hi) of the scores of keys ``keys_idx`` (G x K, -1 padding gives NaN)
    over the caps (g, r): the bounds of :func:`_cap_scores` (the radial split), evaluated in
    round-to-nearest floats with one a-priori error term per bound instead of an outward step
    per operation.

    With D = <g, A> (exact), its float value t (products and sums in a fixed order:
    |t - D| <= e_D = gamma_d |g| |A| + d 2^-1073), Q_lo <= 0 <= Q_hi enclosing <x - g, g> /
    |g|^2 and p = |A - (D / |g|^2) g| = sqrt(|A|^2 - D^2 / |g|^2):
      s(x) = D + b + D <x - g, g> / |g|^2 + <x - g, A - (D / |g|^2) g>, so
      s(x) <= D + b + max(D Q_hi, D Q_lo) + r p  and  s(x) >= D + b + min(D Q_hi, D Q_lo) - r p.
    p^2 <= sq - D^2 / c2 (sq >= |A|^2, c2 >= |g|^2) <= sq - t^2 / c2 + 2 |t| e_D / c2, and
    with X = max(fl(sq - fl(fl(t t) / c2)), 0): sq - t^2 / c2 <= X + 3.2 u a^2 (two roundings
    of t^2 / c2, one of the difference, each within u of a value below 1.01 a^2; a is the
    keys' norm bound, a >= sqrt(sq) >= |A|, which this step needs),
    so p <= fl(sqrt(X)) (1 + 2u) + a sqrt(3.2 u + 2.02 gamma |g|^2 / c2) (sqrt(x + y) <=
    sqrt(x) + sqrt(y)). The float S = ((t + b) + M) +- R with M = fl(max or min of fl(t Q)),
    R = fl(r fl(sqrt X)) is within 3.01 u (|t| (1 + Qm) + |b| + R) of the exact sum of its
    floats (Qm = max(Q_hi, -Q_lo)), M within 1.01 u |t| Qm of the exact max (min) at t,
    which moves by at most Qm e_D with D, and R within 1.01 u of r fl(sqrt X). So both
    bounds hold with
      err = 9u (|t| (1 + Qm) + |b| + R) + a (e_D / a) (1 + Qm) + r a sqrt(...) + 2^-499
    (the last, times (1 + Qm)(1 + r), for underflow, whose square roots reach 2^-537), and the final
    addition's rounding is within the 9u as well. Every coefficient is rounded up and raised by 1% to
    cover the float evaluation of err itself (non-negative terms, a few roundings each)."""
    coef = _score_coefficients(g, r)
    if compiled.enabled() and int(np.max(keys_idx, initial=-1)) < model.keys.shape[0]:
        s_lo = np.empty(keys_idx.shape)
        s_hi = np.empty(keys_idx.shape)
        compiled.key_scores(model.score_table, np.ascontiguousarray(keys_idx, dtype=np.int64),
                            np.ascontiguousarray(g, dtype=np.float64), np.ascontiguousarray(r, dtype=np.float64),
                            *coef, _K_9, _R_UP, s_lo, s_hi)
        return s_lo, s_hi
    return _key_scores_numpy(model, g, r, keys_idx, *coef)


_K_9 = 1.01 * 9 * el.U
_R_UP = 1.0 + 2.1 * el.U


def _score_coefficients(g, r):
    """Per cap, the floats of :func:`_key_scores`'s bounds: the upper end of the enclosure of
    |g|^2, the enclosure (Q_lo, Q_hi) of <x - g, g> / |g|^2, and the error coefficients of |t|,
    of the keys' norm bound a and the absolute one (k_t, k_a, k_0)."""
    d = g.shape[1]
    c2, q_lo, q_hi, _, _ = _geometry(g, r)
    inv = iv.recip(c2)[1]
    Q_lo, Q_hi = iv.down(inv * q_lo), iv.up(inv * q_hi)
    Qm1 = iv.up(1.0 + np.maximum(Q_hi, -Q_lo))
    gnorm = iv.up(np.sqrt(usum(iv.up(g * g), axis=1)))
    kappa = iv.gamma(d) * (1 + 2 * iv.gamma(d + 2))
    root = iv.up(np.sqrt(iv.up(3.2 * el.U + iv.up(iv.up(2.02 * kappa * iv.up(gnorm * gnorm)) / c2[0]))))
    k_t = iv.up(1.01 * 9 * el.U * Qm1)                                    # of |t|
    k_a = iv.up(1.01 * iv.up(iv.up(kappa * iv.up(gnorm * Qm1)) + iv.up(r * root)))   # of a
    k_0 = iv.up(1.01 * (d * math.ldexp(1.0, -1072) + math.ldexp(1.0, -499)) * iv.up(Qm1 * iv.up(1.0 + r)))
    return (np.ascontiguousarray(c2[1], dtype=np.float64), Q_lo, Q_hi, k_t, k_a, k_0)


def _key_scores_numpy(model: CellModel, g, r, keys_idx, c2_hi, Q_lo, Q_hi, k_t, k_a, k_0):
    """:func:`_key_scores` in numpy (the reference of :func:`compiled.key_scores`)."""
    # evaluated in place (a handful of G x K buffers instead of a score of temporaries: the
    # cell pass is bound by memory traffic); each operation is the one the formulas name
    pad = keys_idx < 0
    safe = np.where(pad, 0, keys_idx)
    G, d = g.shape
    rows = np.take(model.score_table, safe, axis=0)       # G x K x (d + 3)
    t = np.multiply(rows[:, :, 0], g[:, None, 0])
    tmp = np.empty_like(t)
    for j in range(1, d):
        np.multiply(rows[:, :, j], g[:, None, j], out=tmp)
        t += tmp
    b = rows[:, :, d].copy()
    a = rows[:, :, d + 1].copy()
    sq = rows[:, :, d + 2].copy()
    del rows
    k_9 = _K_9
    v = np.multiply(t, t)
    v /= c2_hi[:, None]                    # v = t^2 / c2
    sq -= v
    v *= 0.0                               # an overflowed t^2 gives NaN here, and in X: not 0
    R = np.maximum(sq, v, out=sq)          # X
    np.sqrt(R, out=R)
    R *= r[:, None]
    R *= _R_UP                             # R = r sqrt(X) (1 + 2.1 u)
    err = np.abs(b)
    err += R
    err *= k_9                             # k_9 (|b| + R)
    P = np.abs(t)
    P *= k_t[:, None]
    err += P                               # + k_t |t|
    a *= k_a[:, None]
    err += a                               # + k_a a
    err += k_0[:, None]
    b += t                                 # base = t + b
    np.multiply(t, Q_hi[:, None], out=v)
    np.multiply(t, Q_lo[:, None], out=tmp)
    s_hi = np.maximum(v, tmp, out=P)
    s_hi += b
    s_hi += R
    s_hi += err
    s_lo = np.minimum(v, tmp, out=v)
    s_lo += b
    s_lo -= R
    s_lo -= err
    np.copyto(s_lo, np.nan, where=pad)
    np.copyto(s_hi, np.nan, where=pad)
    return s_lo, s_hi


def _block_scores(kb: KeyBlocks, g, r, sel: np.ndarray | None = None):
    """Upper bounds (G x B) of every score of each block over the caps: the smaller of
    <x, c_B> + radius_B + bias_max (|x| = 1) and the directions' bound: with |x - g| <= r
    and t <= |g - u_B| - r - spread_B, |x - p_k| >= t for every key direction p_k, so
    <x, p_k> = 1 - |x - p_k|^2 / 2 <= 1 - t^2 / 2 (where t > 0) and <x, A_k> <= that times
    norm_max (norm_min where it is negative). With ``sel`` (G x W block indices, -1
    padding) only those blocks, per cap (G x W; padding gives NaN)."""
    if sel is None:
        sel = np.broadcast_to(np.arange(kb.centre.shape[0]), (g.shape[0], kb.centre.shape[0]))
    safe = np.where(sel >= 0, sel, 0)
    dot = _dot3(g, kb.centre[safe])
    csq = iv.sum_enclosure(*iv.square(iv.point(kb.centre[safe])), axis=2)
    gu = _dot3(g, kb.direction[safe])
    u2 = iv.sum_enclosure(*iv.square(iv.point(kb.direction[safe])), axis=2)[0]
    pick = lambda a: a[safe]
    _, ball = _cap_scores(g, r, dot, csq, 0.0)
    ball = iv.up(iv.up(ball + pick(kb.radius)) + pick(kb.bias_max))
    g2 = iv.sum_enclosure(*iv.square(iv.point(g)), axis=1)
    dist2 = iv.down(iv.down(g2[0][:, None] - 2 * gu[1]) + u2)
    t = iv.down(iv.down(iv.down(np.sqrt(np.maximum(dist2, 0.0))) - r[:, None]) - pick(kb.spread))
    cos_hi = np.where(t > 0, iv.up(1.0 - iv.down(iv.down(t * t) / 2)), 1.0)
    ang = iv.up(np.where(cos_hi >= 0, iv.up(cos_hi * pick(kb.norm_max)), iv.up(cos_hi * pick(kb.norm_min)))
                + pick(kb.bias_max))
    out = np.fmin(ball, ang)   # one NaN side falls back to the other; both NaN stays NaN
    return np.where(sel >= 0, out, np.nan)


def prune_keys(model: CellModel, g: np.ndarray, r: np.ndarray, share: float = PRUNE_SHARE):
    """For group caps (centres g: G x d, radii r: G), the kept keys (G x K index array,
    -1 = none) and the remainder (G x o) bounding the dropped keys' effect: the blocks of
    :attr:`CellModel.key_tree` are tested from the top, a block whose every key is certainly
    negligible on a cap is dropped whole from its bounds, the others' children are tested
    in turn, and the keys of the smallest blocks left are tested one by one. The dropped
    keys cost at most ``share`` x epsilon."""
    return _pruned(model, g, r, share)[:2]


def _pruned(model: CellModel, g: np.ndarray, r: np.ndarray, share: float = PRUNE_SHARE):
    """:func:`prune_keys`, and the relative weight each cap's cells may still drop on their
    own caps (G,; None when nothing was pruned)."""
    G, N, o = g.shape[0], model.keys.shape[0], model.out_dim
    if N <= PRUNE_MIN_KEYS or not np.all(np.isfinite(r)):
        return np.broadcast_to(np.arange(N), (G, N)), np.zeros((G, o)), None
    with np.errstate(all="ignore"):
        # a group keeps up to about N / 10 keys of its candidates: chunks of groups by that
        return _by_rows(lambda s: _prune(model, g[s], r[s], share), G, max(1, N // 10))


def refine_keys(model: CellModel, c: np.ndarray, rho: np.ndarray, keys_idx: np.ndarray,
                remainder: np.ndarray, left: np.ndarray, rows: np.ndarray | None = None):
    """For cells with caps (c, rho) and their group's kept keys (B x K, -1 = none) and
    remainder (B x o): the keys kept on each cell's own cap and the remainder grown by what
    the newly dropped ones cost (softmax heads with more than REFINE_MIN_KEYS keys kept;
    others are returned as they are). With M_c^- <= log sum_k mult_k e^{s_k(x)} for every x
    in the cap (:func:`_log_weight_floor` of the kept keys' lower scores), a dropped key's
    weight relative to the whole weight sum is at most mult_k e^{s_k^+ - M_c^-}, and theta is
    the rounded-up sum of these over the dropped keys, whichever they are (a float choice):
    the lightest, while their float sum stays within ``left`` (B,), the relative weight a
    cell may still drop; the key with the largest lower score stays. With ``rows`` (B,),
    cell i's keys and remainder are row rows[i] of ``keys_idx`` and ``remainder`` (its
    group's: gathered a chunk at a time)."""
    if rows is None:
        rows = np.arange(c.shape[0])
    if model.kind != "softmax":
        return keys_idx[rows], remainder[rows]
    # which rows are refined is each row's own matter (its count of kept keys), never the
    # padded width of the batch it came in
    busy = np.flatnonzero((keys_idx >= 0).sum(axis=1)[rows] > REFINE_MIN_KEYS)
    if busy.size == 0:
        return keys_idx[rows], remainder[rows]
    with np.errstate(all="ignore"):
        idx, rem = _by_rows(lambda s: _refine_rows(model, c[busy[s]], rho[busy[s]], keys_idx[rows[busy[s]]],
                                                   remainder[rows[busy[s]]], left[busy[s]]),
                            busy.size, keys_idx.shape[1])
    if busy.size == rows.size:
        return idx, rem
    out, rem_out = keys_idx[rows], remainder[rows]          # copies
    out[busy] = -1
    out[busy, :idx.shape[1]] = idx
    rem_out[busy] = rem
    return _compact(out >= 0, out), rem_out


def _refine_rows(model, c, rho, keys_idx, remainder, left):
    """:func:`refine_keys` for one chunk of rows."""
    s_lo, s_hi = _key_scores(model, c, rho, keys_idx)
    if compiled.enabled() and iv.backend() == "kernel":
        out = _refine_rows_compiled(model, keys_idx, remainder, left, s_lo, s_hi)
        if out is not None:
            return out
    real = keys_idx >= 0
    safe = np.where(real, keys_idx, 0)
    ref = _log_weight_floor(s_lo, model.mult[safe], real)
    gap = iv.up(s_hi - ref[:, None])
    # which keys are weighed is a float choice: those whose e^gap (<= their weight bound,
    # multiplicities being >= 1) may be within the share; the others are kept
    lim = el.log_bounds(np.where(left > 0, left, np.nan))[1]
    cand = real & ~model.keep[safe] & (gap <= lim[:, None])       # NaN: kept
    w_up = np.full(gap.shape, np.inf)
    w_up[cand] = iv.up(iv.exp_upper(gap[cand]) * model.mult[safe][cand])
    movable = cand & (w_up <= left[:, None])
    movable[np.arange(len(ref)), np.argmax(np.where(real, s_lo, -np.inf), axis=1)] = False
    if not np.any(movable):
        return keys_idx, remainder
    drop = _lightest(w_up, movable, left)
    if not np.any(drop):
        return keys_idx, remainder
    theta = usum_rows(w_up, drop)
    rem = iv.up(remainder + iv.up(theta[:, None] * model.span[None, :]))
    rem = np.where(np.isfinite(rem), rem, np.inf)
    return _compact(real & ~drop, keys_idx), rem


def _refine_rows_compiled(model, keys_idx, remainder, left, s_lo, s_hi):
    """:func:`_refine_rows` after the scores, its per-key loops compiled
    (:mod:`certify.kernel.compiled`: the same operations, the same bits); None where a kept
    key's score bound is not finite (the numpy code decides those chunks)."""
    idx = np.ascontiguousarray(keys_idx, dtype=np.int64)
    if not compiled.finite_kept(idx, s_lo, s_hi):
        return None
    rows = idx.shape[0]
    m, total, count = np.empty(rows), np.empty(rows), np.empty(rows, dtype=np.int64)
    compiled.floor_sums(s_lo, idx, model.mult, FLOOR_SPAN, compiled.EXP_TABLE, compiled.POW2, m, total, count)
    ref = _floor_from_sum(m, total, count)
    with np.errstate(invalid="ignore"):
        lim = el.log_bounds(np.where(left > 0, left, np.nan))[1]
    drop = np.empty(idx.shape, dtype=np.bool_)
    theta = np.empty(rows)
    w_up = np.empty(idx.shape)
    movable, dropped = compiled.refine_drops(s_lo, s_hi, idx, model.mult, model.keep, ref, lim,
                                             np.ascontiguousarray(left, dtype=np.float64), BINS,
                                             compiled.EXP_TABLE, compiled.POW2, drop, theta, w_up)
    if not (movable and dropped):
        return keys_idx, remainder
    rem = iv.up(remainder + iv.up(theta[:, None] * model.span[None, :]))
    rem = np.where(np.isfinite(rem), rem, np.inf)
    # _compact(real & ~drop, keys_idx), compiled
    out = np.empty((idx.shape[0], compiled.kept_width(idx, drop)), dtype=np.int64)
    compiled.compact_kept(idx, drop, out)
    return out.astype(keys_idx.dtype, copy=False), rem


#: Rows of the cell and group pruning passes are processed in chunks of about this many
#: (row, key) entries (memory traffic, not soundness: every row's result is its own, the
#: same bits in any chunk).
ROW_CHUNK = 1 << 19


def _by_rows(fn, rows: int, width: int):
    """fn(slice) over chunks of rows (about ROW_CHUNK // width rows each), its outputs joined:
    index arrays (the first output) padded with -1 to the widest, the others stacked."""
    step = max(1, ROW_CHUNK // max(1, width))
    if rows <= step:
        return fn(slice(0, rows))
    parts = [fn(slice(s, min(rows, s + step))) for s in range(0, rows, step)]
    width = max(p[0].shape[1] for p in parts)
    idx = np.concatenate([np.pad(p[0], ((0, 0), (0, width - p[0].shape[1])), constant_values=-1) for p in parts])
    rest = [None if parts[0][j] is None else np.concatenate([p[j] for p in parts]) for j in range(1, len(parts[0]))]
    return (idx, *rest)


#: The log weight floor sums the keys whose lower score is within this much of the largest
#: (fewer terms only lower the floor; the others add at most about e^-8 each).
FLOOR_SPAN = 8.0


def _log_weight_floor(s_lo: np.ndarray, mult: np.ndarray, real: np.ndarray) -> np.ndarray:
    """A lower bound (rows,) of log sum_k mult_k e^{s_k} over each row's real keys, for any
    scores s_k >= s_lo (rows x K): with m the largest lower score, the terms mult_k
    e^{s_lo_k - m} rounded down of the keys with s_lo_k >= m - FLOOR_SPAN (leaving terms out
    only lowers the sum), their float sum in index order (np.bincount: the same bits on every
    host) lowered by its a-priori error (contract 3 of :mod:`certify.kernel.interval`: the
    exact sum of non-negative terms is at least fl / (1 + gamma)), the kernel's log rounded
    down. NaN where a real key's lower score is NaN or a row has no real key."""
    rows, K = s_lo.shape
    lo = np.where(real, s_lo, -np.inf)
    m = np.max(lo, axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        gap = iv.down(lo - m[:, None])
    near = real & ~(gap < -FLOOR_SPAN)                  # NaN gaps are summed: NaN floor
    e_lo = iv.fbounds("exp", gap[near])[0]
    terms = np.maximum(iv.down(e_lo * mult[near]), 0.0)
    row = np.broadcast_to(np.arange(rows)[:, None], (rows, K))[near]
    total = np.bincount(row, weights=terms, minlength=rows)
    return _floor_from_sum(m, total, near.sum(axis=1))


def _floor_from_sum(m, total, terms):
    """The end of :func:`_log_weight_floor` from each row's largest lower score m, its float
    sum of terms and their count."""
    # each row's own term count (not the padded width: a row's floor does not depend on the
    # rows bounded with it)
    count, where = np.unique(np.maximum(terms - 1, 1), return_inverse=True)
    shrink = 1.0 - 2.0 * np.array([iv.gamma(int(n)) for n in count])[where.reshape(-1)]
    total = iv.down(total * shrink)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lo = iv.fbounds("log", np.maximum(total, 0.0))[0]
    return iv.down(m + log_lo)


#: Weight classes of :func:`_lightest`: [2^(e-1), 2^e) for e > -BINS + 2, and one below.
BINS = 64


def _lightest(w: np.ndarray, movable: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Per row, the movable entries of least ``w`` (finite, >= 0), whole binary weight classes
    from the lightest up while the float sum of the classes taken stays within ``budget`` (a
    float choice: callers charge the rounded-up sum of what is taken). Classes: frexp's
    exponent e (w in [2^(e-1), 2^e)), clipped to [-(BINS - 2), 1] (w = 0 has e = 0; callers'
    weights are positive and below 1)."""
    rows = w.shape[0]
    movable = movable & np.isfinite(w)
    _, ex = np.frexp(np.where(movable, w, 0.0))        # exact: w in [2^(ex-1), 2^ex)
    cls = np.clip(ex + (BINS - 2), 0, BINS - 1)
    flat = (np.arange(rows)[:, None] * BINS + cls)[movable]
    sums = np.bincount(flat, weights=w[movable], minlength=rows * BINS).reshape(rows, BINS)
    taken = np.sum(np.cumsum(sums, axis=1) <= budget[:, None], axis=1)
    return movable & (cls < taken[:, None])


def _compact(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the entries of ``values`` where ``mask`` holds, in order, padded with -1 to
    the largest count of the rows (at least 1)."""
    count = mask.sum(axis=1)
    width = max(1, int(count.max())) if count.size else 1
    out = np.full((mask.shape[0], width), -1, dtype=values.dtype)
    # boolean indexing runs row by row, in order: row i's kept values fill its first count_i places
    out[np.arange(width)[None, :] < count[:, None]] = values[mask]
    return out


def _expand(sel: np.ndarray, table: np.ndarray) -> np.ndarray:
    """The rows of ``table`` (indices, -1 padding) named by ``sel`` (G x W, -1 padding),
    concatenated per row: G x (W * table.shape[1])."""
    return np.where(sel[:, :, None] >= 0, table[np.maximum(sel, 0)], -1).reshape(sel.shape[0], -1)


def _reference_score(model: CellModel, top: KeyBlocks, g, r, t_hi):
    """A lower bound (G,) of the largest key score on each cap: the rigorous lower score of
    one key, the float-best key of the top block with the largest bound (which key is a
    float choice: any key's lower score is such a bound)."""
    best = np.argmax(np.where(np.isnan(t_hi), -np.inf, t_hi), axis=1)
    idx = top.index[best]                                     # G x S
    safe = np.where(idx >= 0, idx, 0)
    # element by element in a fixed order (correctly rounded operations): the same choice on
    # every host and in every batch, so a leaf's bound does not move with its company
    keys = model.keys[safe]
    approx = model.biases[safe] + g[:, None, 0] * keys[:, :, 0]
    for j in range(1, g.shape[1]):
        approx = approx + g[:, None, j] * keys[:, :, j]
    pick = np.take_along_axis(idx, np.argmax(np.where(idx >= 0, approx, -np.inf), axis=1)[:, None], axis=1)
    return _key_scores(model, g, r, pick)[0][:, 0]


def _prune(model: CellModel, g: np.ndarray, r: np.ndarray, fraction: float):
    tree = model.key_tree
    G, N, o = g.shape[0], model.keys.shape[0], model.out_dim
    share = fraction * model.epsilon
    softmax = model.kind == "softmax"
    levels = tree.levels
    if softmax:
        big = float(np.max(model.span)) if model.span.size else 0.0
        # any cut is sound (the dropped keys' weight is bounded below); this one makes
        # the dropped part about share / N per key
        cut = float(el.log_bounds(np.array([max(N * max(big, 1e-300) / share, 1.0)]))[1][0])
    # from the top: per level the blocks tested (sel), their bounds, and which are dropped
    sel = np.broadcast_to(np.arange(levels[0].centre.shape[0]), (G, levels[0].centre.shape[0]))
    dropped = []                                              # (level, sel, bounds, dead)
    ref0 = None
    for j, kb in enumerate(levels):
        b_hi = _block_scores(kb, g, r, sel)
        real = sel >= 0
        keep = kb.has_keep[np.maximum(sel, 0)] & real
        if softmax:
            if ref0 is None:
                ref0 = _reference_score(model, kb, g, r, b_hi)   # <= the best key's score
            alive = real & (~(b_hi < iv.down(ref0 - cut)[:, None]) | keep)
        else:
            contrib = iv.up(iv.exp_upper(b_hi) * kb.top[np.maximum(sel, 0)])
            alive = real & (~(contrib < share / N) | keep)
        dropped.append((kb, sel, b_hi, real & ~alive))
        kept_blocks = _compact(alive, np.broadcast_to(sel, alive.shape))
        sel = _expand(kept_blocks, tree.children[j]) if j + 1 < len(levels) else kept_blocks
    cand = _expand(sel, levels[-1].index)                     # the keys of the blocks left
    s_lo, s_hi = _key_scores(model, g, r, cand)
    real = cand >= 0
    safe = np.where(real, cand, 0)
    keepk = model.keep[safe] & real
    if softmax:
        # the dropped keys' weight relative to the whole weight sum: a key's is at most
        # mult_k e^{s_k^+ - M^-} and a dropped block's at most its summed multiplicity times
        # e^{(its score bound) - M^-}, where M^- = ref is below log sum_k mult_k e^{s_k(x)} at
        # every x of the cap: the larger of one key's lower score and the log weight floor of
        # the keys left (np.fmax: either alone is such a bound; both NaN gives NaN bounds, and
        # keys with a NaN or infinite bound are never dropped)
        ref = np.fmax(ref0, _log_weight_floor(s_lo, model.mult[safe], real))
        theta = np.zeros(G)
        for kb, bsel, b_hi, dead in dropped:
            w_blk = iv.up(iv.exp_upper(iv.up(b_hi - ref[:, None])) * kb.mult_sum[np.maximum(bsel, 0)])
            theta = iv.up(theta + usum_rows(w_blk, dead))
        w_up = iv.up(iv.exp_upper(iv.up(s_hi - ref[:, None])) * model.mult[safe])
        # the rest of the share goes to the keys of least weight, lightest first (which ones
        # is a float estimate: any choice is sound, the rounded-up sum of the chosen is added);
        # a key whose bound is NaN or infinite is kept, never dropped
        spare = share / max(big, 1e-300) - theta
        movable = ~keepk & real & np.isfinite(w_up)
        # the key whose lower score is the reference stays (with none kept the bound is NaN)
        best = np.argmax(np.where(real, s_lo, -np.inf), axis=1)
        movable[np.arange(G), best] = False
        drop = _lightest(w_up, movable, 0.5 * spare)
        keepm = real & ~drop
        theta = iv.up(theta + usum_rows(w_up, drop))
        rem = iv.up(theta[:, None] * model.span[None, :])
        left = share / max(big, 1e-300) - theta
    else:
        ew = iv.up(iv.exp_upper(s_hi) * model.mult[safe])
        vmag = np.abs(model.values)[safe]
        contrib_k = iv.up(ew * np.max(vmag, axis=2))
        keepm = (~(contrib_k < share / N) | keepk) & real  # a NaN bound is kept
        rem = np.stack([usum_rows(iv.up(ew * vmag[:, :, i]), real & ~keepm) for i in range(o)], axis=1)
        for kb, bsel, b_hi, dead in dropped:
            eb = iv.exp_upper(b_hi)
            weighted = kb.weighted[np.maximum(bsel, 0)]
            rem = np.stack([iv.up(rem[:, i] + usum_rows(iv.up(eb * weighted[:, :, i]), dead))
                            for i in range(o)], axis=1)
        left = np.zeros(G)
    rem = np.where(np.isfinite(rem), rem, np.inf)
    return _compact(keepm, cand), rem, left


def bound_cells(model: CellModel | ModelSet, sphere_dim: int, facets, levels, coords, method: str | None = None,
                exhaustive: bool = False, target: float | None = None):
    """Bounds of cubed-sphere cells: (U, centre error estimates, centres, radii).

    Each cell is bounded with keys pruned within PRUNE_SHARE of epsilon; a cell whose bound
    then misses ``target`` (default epsilon; above (1 - RETRY_MISS) target) is bounded again
    with keys pruned within PRUNE_SHARE_TIGHT and keeps the smaller bound (both are
    rigorous), when its dropped keys cost anything and, unless ``exhaustive``, when its bound
    less that cost is at most RETRY_REACH target (else more keys cannot save it). The search
    passes its threshold (below epsilon when it looks for the sup); the checker passes
    ``exhaustive`` and the certificate's upper bound (at most epsilon, at least the bound of
    every leaf the search kept): every leaf whose first bound there misses epsilon is bounded
    again, whatever the bits of its first bound in the checker's batch, and so is every leaf
    whose first bound is above that upper bound (the checker's upper bound is then the
    search's, not one loosened by the larger share)."""
    if isinstance(model, ModelSet):
        parts = [bound_cells(mm, sphere_dim, facets, levels, coords, method, exhaustive, target)
                 for mm in model.models]
        U = parts[0][0]
        est = parts[0][1]
        for p in parts[1:]:
            U = np.maximum(U, p[0])  # NaN stays NaN: not certified
            est = np.fmax(est, p[1])
        return U, est, parts[0][2], parts[0][3]

    c, rho = cell_caps(sphere_dim, facets, levels, coords)
    U, est, rem = _bound_pruned(model, sphere_dim, facets, levels, coords, c, rho, method, PRUNE_SHARE)
    target = model.epsilon if target is None else float(target)
    with np.errstate(invalid="ignore", over="ignore"):
        lost = np.max(rem, axis=1) if rem.shape[1] else np.zeros(U.shape)
        # float choices from here
        again = ~(U <= target * (1.0 - RETRY_MISS)) & (lost > 0)
        if not exhaustive:
            again &= U - lost <= RETRY_REACH * target
    if np.any(again):
        sel = np.flatnonzero(again)
        U2, est2, _ = _bound_pruned(model, sphere_dim, facets[sel], levels[sel], coords[sel], c[sel], rho[sel], method,
                                    PRUNE_SHARE_TIGHT)
        U = U.copy()
        U[sel] = np.fmin(U[sel], U2)
        est = est.copy()
        est[sel] = est2
    return U, est, c, rho


def _bound_pruned(model: CellModel, sphere_dim: int, facets, levels, coords, c, rho, method, share: float):
    """:func:`bound_caps` of the cells (caps c, rho) with keys pruned within ``share`` x
    epsilon on their groups' caps, then on their own; also the remainders (B x o)."""
    up_levels = np.minimum(levels, GROUP_UP)
    glev = levels - up_levels
    gco = coords >> up_levels[:, None]
    keys = np.concatenate([facets[:, None], glev[:, None], gco], axis=1)
    uniq, gid = np.unique(keys, axis=0, return_inverse=True)
    gid = gid.reshape(-1)
    gc, gr = cell_caps(sphere_dim, uniq[:, 0], uniq[:, 1], uniq[:, 2:])
    idx, rem, left = _pruned(model, gc, gr, share)
    if left is not None:
        idx, rem = refine_keys(model, c, rho, np.asarray(idx), rem, left[gid], rows=gid)
    else:
        idx, rem = np.asarray(idx)[gid], rem[gid]
    U, est = bound_caps(model, c, rho, method, idx, rem)
    return U, est, rem


# ------------------------------------------------------------------------- points

def error_enclosure_at(model: CellModel, x_lo: np.ndarray, x_hi: np.ndarray):
    """Enclosure of max_i |H_i(x) - f_i(x)| at the exact points x in the boxes [x_lo, x_hi]
    (B x d), H the problem's exact head: (lower, upper), used to certify witnesses. For a
    :class:`ModelSet` it is the enclosure of the largest error over its models."""
    if isinstance(model, ModelSet):
        parts = [error_enclosure_at(mm, x_lo, x_hi) for mm in model.models]
        return np.max([p[0] for p in parts], axis=0), np.max([p[1] for p in parts], axis=0)
    # points in chunks of about ROW_CHUNK (point, key) entries (memory traffic: each point's
    # enclosure is its own)
    step = max(1, ROW_CHUNK // max(1, model.keys.shape[0]))
    if x_lo.shape[0] > step:
        parts = [_error_enclosure_at(model, x_lo[s:s + step], x_hi[s:s + step]) for s in range(0, x_lo.shape[0], step)]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    return _error_enclosure_at(model, x_lo, x_hi)


def _error_enclosure_at(model: CellModel, x_lo: np.ndarray, x_hi: np.ndarray):
    A, b, V, mult = model.keys, model.biases, model.values, model.mult
    n = x_lo.shape[0]
    with np.errstate(all="ignore"):
        # the scores: one midpoint-radius product for the boxes (x = xm +- xr exactly)
        xm = (x_lo + x_hi) / 2
        xr = np.maximum(iv.up(x_hi - xm), iv.up(xm - x_lo))
        mid, rad = ball_matmul(xm, xr, A.T, np.zeros(A.T.shape))
        S = (iv.down(iv.down(mid - rad) + b), iv.up(iv.up(mid + rad) + b))
        shift = np.max(S[1], axis=1)
        s0 = None
        if model.self_q is not None:
            Sx = [iv.sum_enclosure(*iv.mul((x_lo, x_hi), iv.point(np.broadcast_to(model.self_q[j], x_lo.shape))), axis=1)
                  for j in range(A.shape[1])]
            s0 = iv.sum_enclosure(*[np.stack(t, 1) for t in zip(*[iv.mul(Sx[j], (x_lo[:, j], x_hi[:, j]))
                                                                  for j in range(A.shape[1])])], axis=1)
            shift = np.maximum(shift, s0[1])
        W = iv.scale(iv.exp_narrow((iv.down(S[0] - shift[:, None]), iv.up(S[1] - shift[:, None]))), mult[None, :])
        lo = np.zeros(n)
        hi = np.zeros(n)
        cols = [(x_lo[:, j], x_hi[:, j]) for j in range(A.shape[1])]
        if model.kind == "softmax":
            Z = iv.sum_enclosure(*W, axis=1)
            if s0 is not None:
                W0 = iv.exp((iv.down(s0[0] - shift), iv.up(s0[1] - shift)))
                Z = iv.add(Z, W0)
            invZ = iv.recip(Z)
        for i in range(V.shape[1]):
            # sum_j W_j v_j, then one division (softmax) or the shift back (unnormalised)
            H = iv.sum_enclosure(*iv.scale(W, V[None, :, i]), axis=1)
            if model.kind == "softmax":
                if s0 is not None:
                    v0 = iv.sum_enclosure(*iv.mul((x_lo, x_hi), iv.point(np.broadcast_to(model.self_v[i], x_lo.shape))), axis=1)
                    H = iv.add(H, iv.mul(W0, v0))
                H = iv.mul(H, invZ)
            else:
                H = iv.mul(H, iv.exp((shift, shift)))
            H = (iv.down(H[0] - model.slack[i]), iv.up(H[1] + model.slack[i]))
            E = iv.absval(iv.sub(H, model.f[i](*cols)))
            lo, hi = np.maximum(lo, E[0]), np.maximum(hi, E[1])
        bad = ~(np.isfinite(lo) & np.isfinite(hi))
        return np.where(bad, -np.inf, lo), np.where(bad, np.inf, hi)


def unit_point_enclosure(y: np.ndarray):
    """Boxes enclosing the exact unit vectors y / |y| for float rows y (B x d)."""
    n2 = iv.sum_enclosure(*iv.square(iv.point(y)), axis=-1)
    n = iv.sqrt(n2)
    return iv.div(iv.point(y), (n[0][:, None], n[1][:, None]))
