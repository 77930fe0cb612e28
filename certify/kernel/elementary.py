"""Elementary functions with proven error bounds, from correctly rounded operations only
(trusted base).

SOUNDNESS CONTRACT
------------------
Every ``*_bounds(x)`` function maps a float64 array x to float64 arrays (lo, hi) with
lo <= f(x) <= hi for the exact real f(x), at every element, under these assumptions and no
others:

1. IEEE 754 binary64 arithmetic, round-to-nearest-even (numpy's default; nothing here
   changes it), no FMA contraction of separate operations (numpy evaluates one ufunc at a
   time and never fuses them), no flush-to-zero of subnormals.
2. Then +, -, *, / and sqrt are correctly rounded: |fl(a op b) - a op b| <= u |a op b|
   with u = 2^-53 when the result is normal, and <= 2^-1075 absolutely when it is
   subnormal (a subnormal sum or difference is exact). ``ldexp`` (IEEE scaleB) and
   ``frexp`` are exact away from overflow and underflow; ``rint``, ``floor``, negation,
   ``abs``, comparisons, ``minimum``/``maximum`` and float<->int conversions of integers
   below 2^53 are exact.

Nothing rests on numpy's, glibc's or the CPU's transcendental functions (exp, log, sin,
...): those differ between hosts, SIMD paths and library versions. How each function is
computed:

* exp: k = rint(x 256 / ln 2), x = k ln2/256 + r with |r| <= ln2/512 (Cody-Waite: ln2/256 =
  L1 + L2 + L3 where L1 has 34 significant bits so k L1 is exact for |k| < 2^19), e^x =
  2^(k >> 8) T[k & 255] e^r with T[i] = 2^(i/256) computed by exact integer square roots
  (8 nested ``math.isqrt``) and rounded once, e^r by its degree-5 Taylor polynomial.
* log: x = m 2^e with m in [1/sqrt 2, sqrt 2) (frexp, exact), log m = 2 atanh(s), s =
  (m - 1)/(m + 1), |s| <= 0.1716, by its odd series to s^23; ln 2 split as for exp.
* sin, cos, tan: x = k pi/2 + r (pi/2 split in three parts; |x| <= 10^6 so |k| < 2^20),
  sin r and cos r by Taylor polynomials in r^2 on |r| <= pi/4, tan = sin/cos as an
  interval quotient. |x| > 10^6: Arb (python-flint, 128 bits), one element at a time.
* atan: |x| > 1 through pi/2 - atan(1/x); then two half-angle steps w -> w/(1 + sqrt(1 +
  w^2)) to |w| <= tan(pi/16), and the alternating series to w^23.
* sinh, cosh, tanh: from the exp enclosure (|x| >= 1/2) or their Taylor series (|x| < 1/2).

Arrays of COMPILED_MIN elements or more go through the same steps compiled
(:func:`certify.kernel.compiled.exp_bounds`: one loop per element, the same operations in
the same order, so the same floats; the power of two is applied by products with exact
powers of two, which round as ldexp does).

Each error bound is a-priori: the truncation error of the polynomial on its reduced range
(Lagrange or alternating-series remainder), the error of the float coefficients, the
rounding error of Horner's rule (a running bound, below), the reduction error and the final
products are bounded in exact rational arithmetic (``fractions.Fraction``) when this module
is imported, and the total is rounded up to a float. Horner's rule q_i = fl(c_i +
fl(r q_{i+1})) on |r| <= R has |q_i - P_i(r)| <= e_i with e_i = R e_{i+1} + R M_{i+1} u +
S_i u + 2^-1075, S_i = |c_i| + R M_{i+1}(1 + u), M_i = S_i (1 + u) >= |q_i|.

Refusal: a NaN argument gives (NaN, NaN); the functions are total otherwise (log of x <= 0
gives NaN: undefined). Results that overflow give hi = inf and a finite lo (the largest
float, or half of it for sinh and cosh) where the true value is finite but huge; callers
treat any non-finite end as "not certified". Arguments are converted to float64 first
(every narrower float converts exactly).
"""

from __future__ import annotations

import math
from fractions import Fraction as Fr

import numpy as np

#: Unit roundoff of binary64 (round to nearest).
U = math.ldexp(1.0, -53)
_UQ = Fr(1, 2 ** 53)
#: The smallest subnormal, and an absolute allowance for a few subnormal roundings.
TINY = math.ldexp(1.0, -1074)
_ABS = Fr(1, 2 ** 1070)
_ABS_F = math.ldexp(1.0, -1070)
MAXF = float(np.finfo(np.float64).max)
_STEP = math.ldexp(1.0, -52)


def down(x):
    """A float strictly below x (at least one ulp): x - (|x| 2^-52 + 2^-1074), rounded to
    nearest. |x| 2^-52 >= ulp(x) and rounding is monotone, so the result is <= the
    predecessor of x; inf and NaN inputs give NaN or inf, never a wrong finite bound."""
    return x - (np.abs(x) * _STEP + TINY)


def up(x):
    """A float strictly above x (at least one ulp); see :func:`down`."""
    return x + (np.abs(x) * _STEP + TINY)


_ONE_UP = 1.0 + _STEP


def up_nonneg(x):
    """:func:`up` for x >= 0 (or +inf, NaN) in two operations: for a normal x in [2^e, 2^(e+1)),
    x (1 + 2^-52) >= x + 2^(e-52) = x + ulp(x), a float, so the product rounds to at least the
    successor of x (overflow gives inf); for a subnormal x or 0 the product rounds to at least
    x and adding 2^-1074 (exact there) reaches the successor. Negative x is not allowed."""
    return x * _ONE_UP + TINY


def up_nonneg_inplace(x: np.ndarray) -> np.ndarray:
    """:func:`up_nonneg` on the float array x's own buffer (the same two operations); x."""
    x *= _ONE_UP
    x += TINY
    return x


# ------------------------------------------------------------------ exact constants

def _float_up(q: Fr) -> float:
    """The smallest float >= q (Fraction -> float is correctly rounded in CPython)."""
    f = float(q)
    return f if Fr(f) >= q else math.nextafter(f, math.inf)


def _float_down(q: Fr) -> float:
    f = float(q)
    return f if Fr(f) <= q else math.nextafter(f, -math.inf)


def _ln2_enclosure(terms: int = 140) -> tuple[Fr, Fr]:
    """ln 2 = sum_{k>=1} 1/(k 2^k); the tail after n terms is in (0, 1/((n+1) 2^n))."""
    s = sum(Fr(1, k * 2 ** k) for k in range(1, terms + 1))
    return s, s + Fr(1, (terms + 1) * 2 ** terms)


def _atan_inv_enclosure(n: int, terms: int) -> tuple[Fr, Fr]:
    """atan(1/n) = sum (-1)^j / ((2j+1) n^(2j+1)): an alternating series with decreasing
    terms, so consecutive partial sums bracket it."""
    s = Fr(0)
    for j in range(terms):
        s += Fr((-1) ** j, (2 * j + 1) * n ** (2 * j + 1))
    nxt = s + Fr((-1) ** terms, (2 * terms + 1) * n ** (2 * terms + 1))
    return min(s, nxt), max(s, nxt)


def _pi_enclosure() -> tuple[Fr, Fr]:
    """Machin: pi = 16 atan(1/5) - 4 atan(1/239)."""
    a_lo, a_hi = _atan_inv_enclosure(5, 60)
    b_lo, b_hi = _atan_inv_enclosure(239, 20)
    return 16 * a_lo - 4 * b_hi, 16 * a_hi - 4 * b_lo


def _truncate(q: Fr, bits: int) -> float:
    """q (positive, < 2) rounded toward zero to ``bits`` significant bits: an exact float."""
    e = q.numerator.bit_length() - q.denominator.bit_length()  # 2^(e-1) < q < 2^(e+1)
    if q < Fr(2) ** e:
        e -= 1                                                  # now 2^e <= q < 2^(e+1)
    scale = Fr(2) ** (bits - 1 - e)
    return float(Fr(math.floor(q * scale)) / scale)


def _split(c_lo: Fr, c_hi: Fr, bits: tuple[int, ...]) -> tuple[list[float], Fr]:
    """Split a constant c (enclosed by [c_lo, c_hi]) as sum of floats with the given numbers
    of significant bits (the last rounded to nearest, 53 bits); returns the parts and a
    bound on |c - sum(parts)|."""
    parts = []
    rest = c_lo
    for b in bits:
        p = _truncate(rest, b)
        parts.append(p)
        rest -= Fr(p)
    last = float(rest)
    parts.append(last)
    s = sum(Fr(p) for p in parts)
    return parts, max(abs(c_lo - s), abs(c_hi - s))


def _horner_error(coeffs: list[float], R: Fr) -> tuple[Fr, Fr]:
    """(M, e): Horner's rule with these float coefficients (c_0 first) at any float r with
    |r| <= R gives a float q with |q| <= M and |q - sum c_j r^j| <= e (see the module)."""
    M = abs(Fr(coeffs[-1]))
    e = Fr(0)
    for c in reversed(coeffs[:-1]):
        S = abs(Fr(c)) + R * M * (1 + _UQ)
        e = R * e + R * M * _UQ + S * _UQ + Fr(1, 2 ** 1075)
        M = S * (1 + _UQ)
    return M, e


def _coefficient_error(coeffs: list[float], exact: list[Fr], R: Fr) -> Fr:
    return sum(abs(Fr(c) - x) * R ** j for j, (c, x) in enumerate(zip(coeffs, exact)))


def _horner(coeffs: list[float], r):
    q = np.full(np.shape(r), coeffs[-1])
    for c in reversed(coeffs[:-1]):
        q *= r
        q += c
    return q


def _exp_upper(x: Fr) -> Fr:
    """An upper bound of e^x for 0 <= x <= 1 (Taylor with the remainder e^x x^n/n! <= 3 x^n/n!)."""
    s, t = Fr(0), Fr(1)
    for n in range(1, 20):
        s += t
        t = t * x / n
    return s + 3 * t


LN2_LO, LN2_HI = _ln2_enclosure()
PI_LO, PI_HI = _pi_enclosure()
#: Enclosures of ln 2 and pi as floats (one rounding outward each).
LN2_INTERVAL = (_float_down(LN2_LO), _float_up(LN2_HI))
PI_INTERVAL = (_float_down(PI_LO), _float_up(PI_HI))
PI_2_INTERVAL = (_float_down(PI_LO / 2), _float_up(PI_HI / 2))

# ------------------------------------------------------------------------------ exp

_EXP_TABLE_BITS = 8
_EXP_N = 2 ** _EXP_TABLE_BITS
#: Arguments are clipped to this range first: e^x < 2^-1074 below it, e^x > max float above.
_EXP_X_MIN, _EXP_X_MAX = -746.0, 710.0
_EXP_K_MAX = 2 ** 19  # > 746 * 256 / ln 2 + 1: k L1 exact for L1 of 34 bits


def _exp_table() -> tuple[np.ndarray, Fr]:
    """T[i] = 2^(i/256) rounded to nearest from floor(2^(i/256) 2^62) (exact integer
    arithmetic: floor(sqrt(floor(y))) = floor(sqrt(y)), applied 8 times); returns the
    table and a bound of |T_f/T - 1|."""
    bits = 62
    table = []
    for i in range(_EXP_N):
        n = 2 ** (i + bits * _EXP_N)
        for _ in range(_EXP_TABLE_BITS):
            n = math.isqrt(n)
        table.append(float(Fr(n, 2 ** bits)))
    return np.array(table), _UQ + Fr(1, 2 ** bits)


_EXP_T, _EXP_T_REL = _exp_table()
_EXP_INV = float(Fr(_EXP_N) / LN2_LO)  # any float near 256/ln 2: only the range of r uses it
(_EXP_L1, _EXP_L2), _EXP_L3 = _split(LN2_LO / _EXP_N, LN2_HI / _EXP_N, (34,))
_EXP_DEGREE = 5
_EXP_C = [float(Fr(1, math.factorial(j))) for j in range(_EXP_DEGREE + 1)]


def _exp_constants() -> tuple[float, float]:
    """Factors (c_lo, c_hi) such that e^x lies in [fl(y c_lo), fl(y c_hi)] 2^q, y = T P(r)."""
    # |k/(x 256/ln2) - 1|: the float product x * _EXP_INV has error <= u |.| and _EXP_INV
    # is within 2^-40 relative of 256/ln 2 (checked below), so |x 256/ln2 - k| <= 1/2 + slack
    inv_err = abs(Fr(_EXP_INV) * LN2_LO / _EXP_N - 1) + abs(Fr(_EXP_INV) * LN2_HI / _EXP_N - 1)
    assert inv_err < Fr(1, 2 ** 40)
    slack = Fr(_EXP_K_MAX) * (2 * _UQ + inv_err)
    r_exact = (Fr(1, 2) + slack) * LN2_HI / _EXP_N
    kmax = Fr(_EXP_K_MAX)
    kl2 = kmax * abs(Fr(_EXP_L2))
    # t = fl(x - k L1) (k L1 exact), r = fl(t - fl(k L2)): three roundings, and the tail k L3
    dr = _UQ * (2 * (r_exact + 2 * kl2) + kl2) * (1 + 4 * _UQ) + kmax * _EXP_L3
    R = r_exact + dr
    M, e_h = _horner_error(_EXP_C, R)
    exact = [Fr(1, math.factorial(j)) for j in range(_EXP_DEGREE + 1)]
    trunc = R ** (_EXP_DEGREE + 1) / math.factorial(_EXP_DEGREE + 1) * _exp_upper(R)
    E = e_h + _coefficient_error(_EXP_C, exact, R) + trunc  # |P_f - e^{r_f}|
    a1, a2, a3 = _EXP_T_REL, E * _exp_upper(R), _UQ     # table, polynomial, product T P
    lo = (1 - dr) / ((1 + a1) * (1 + a2) * (1 + a3))
    hi = (1 + 2 * dr) / ((1 - a1) * (1 - a2) * (1 - a3))
    # the final product y * c rounds once more (relative u; y * c is normal)
    return _float_down(lo / (1 + _UQ)), _float_up(hi / (1 - _UQ))


_EXP_CLO, _EXP_CHI = _exp_constants()


#: Arrays of at least this many elements take the compiled exp (:mod:`certify.kernel.compiled`).
COMPILED_MIN = 64


def exp_bounds(x):
    """Enclosure (lo, hi) of e^x at float arguments x (see the module's contract). Evaluated
    in place (a few buffers; each operation the one the derivation names)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        lo, hi = exp_bounds(x.reshape(1))
        return lo[0], hi[0]
    if x.size >= COMPILED_MIN:
        from certify.kernel import compiled   # the same operations, compiled (same numbers)
        if compiled.enabled():
            return compiled.exp_bounds(x)
    nan = np.isnan(x)
    xc = np.where(nan, 0.0, x)
    np.clip(xc, _EXP_X_MIN, _EXP_X_MAX, out=xc)
    kf = np.multiply(xc, _EXP_INV)
    np.rint(kf, out=kf)
    k = kf.astype(np.int64)
    r = np.multiply(kf, _EXP_L1)
    np.subtract(xc, r, out=r)             # r = x - k L1
    kf *= _EXP_L2
    r -= kf                               # ... - k L2
    y = _horner(_EXP_C, r)
    y *= _EXP_T[k & (_EXP_N - 1)]
    k >>= _EXP_TABLE_BITS                 # q
    with np.errstate(over="ignore"):
        lo = np.ldexp(np.multiply(y, _EXP_CLO, out=xc), k, out=xc)
        y *= _EXP_CHI
        hi = np.ldexp(y, k, out=y)
    # a subnormal result of ldexp is rounded (error <= 2^-1075); an overflowing lo is
    # replaced by the largest float, which e^x then exceeds
    lo -= TINY
    np.maximum(lo, 0.0, out=lo)
    np.minimum(lo, MAXF, out=lo)
    hi += TINY
    if nan.any():
        lo[nan] = np.nan
        hi[nan] = np.nan
    return lo, hi


# ------------------------------------------------------------------------------ log

_LOG_DEGREE = 11  # terms z^0 .. z^11 of atanh(s)/s = sum z^j/(2j+1), z = s^2
_LOG_C = [float(Fr(1, 2 * j + 1)) for j in range(_LOG_DEGREE + 1)]
(_LN2_A, _LN2_B), _LN2_C = _split(LN2_LO, LN2_HI, (42,))  # e * _LN2_A exact for |e| < 2^11
_SQRT_HALF = 0.7071067811865476  # any float near 1/sqrt 2: only the range of s depends on it


def _log_constants() -> tuple[float, float, float]:
    """(a, c_ln2, Z): |log m computed - log m| <= a |log m computed|; |ln2 - A - B| <= c."""
    m_lo, m_hi = Fr(_SQRT_HALF), 2 * Fr(_SQRT_HALF)
    s_max = max((1 - m_lo) / (1 + m_lo), (m_hi - 1) / (m_hi + 1))
    theta = 2 * _UQ / (1 - _UQ)                    # s_f = s (1 + theta'), |theta'| <= theta
    s_f_max = s_max * (1 + theta)
    Z = s_f_max ** 2 * (1 + _UQ)                   # z_f = fl(s_f^2)
    M, e_h = _horner_error(_LOG_C, Z)
    exact = [Fr(1, 2 * j + 1) for j in range(_LOG_DEGREE + 1)]
    n = _LOG_DEGREE + 1
    trunc = Z ** n / (2 * n + 1) / (1 - Z)
    dq = Fr(1, 3) / (1 - Z) ** 2 * Z * _UQ         # |Q(z_f) - Q(s_f^2)| <= sup Q' |z_f - s_f^2|
    EQ = e_h + _coefficient_error(_LOG_C, exact, Z) + trunc + dq  # Q >= 1
    # atanh(s_f) = atanh(s) (1 + rel), |rel| <= theta / (1 - s_max^2) (mean value, atanh s >= s)
    rel_s = theta * (1 + theta) / (1 - s_f_max ** 2)
    total = (1 + rel_s) * (1 + EQ) * (1 + _UQ) - 1  # and fl(s_f * Q_f), then 2x exactly
    a = total / (1 - total)                         # relative to the computed value
    return _float_up(a * (1 + Fr(1, 2 ** 30))), _float_up(_LN2_C), float(Z)


_LOG_A, _LOG_LN2_TAIL, _LOG_Z = _log_constants()
_ERR_SAFETY = 1.0 + math.ldexp(1.0, -30)  # covers the rounding of the error bound's own evaluation


def log_bounds(x):
    """Enclosure of log x at float arguments x > 0; NaN where x <= 0 or x is NaN."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~(x > 0)
    inf = x == np.inf
    xs = np.where(bad | inf, 1.0, x)
    m, e = np.frexp(xs)
    small = m < _SQRT_HALF
    m = np.where(small, m * 2.0, m)
    ef = (e - small).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    lm = s * _horner(_LOG_C, z)
    lm *= 2.0
    s1 = ef * _LN2_A                     # exact
    s2 = ef * _LN2_B
    w = s1 + lm
    res = w + s2
    err = (_LOG_A * np.abs(lm) + U * (np.abs(s2) + np.abs(w) + np.abs(res))
           + np.abs(ef) * _LOG_LN2_TAIL + _ABS_F) * _ERR_SAFETY
    lo, hi = down(res - err), up(res + err)
    lo = np.where(inf, 709.0, lo)
    hi = np.where(inf, np.inf, hi)
    return np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)


# ------------------------------------------------------------------------ sin, cos

#: Beyond this |x| the reduction below is not used: Arb, one element at a time.
TRIG_FAST_LIMIT = 1.0e6
_TRIG_K_MAX = 2 ** 20
(_P1, _P2, _P3), _P_TAIL = _split(PI_LO / 2, PI_HI / 2, (33, 33))
_TWO_OVER_PI = float(2 / PI_LO)
_SIN_DEGREE = 9   # terms z^0 .. z^9 of sin(r)/r = sum (-1)^j z^j/(2j+1)!
_COS_DEGREE = 9


def _trig_constants():
    inv_err = abs(Fr(_TWO_OVER_PI) * PI_LO / 2 - 1) + abs(Fr(_TWO_OVER_PI) * PI_HI / 2 - 1)
    assert inv_err < Fr(1, 2 ** 40)
    kmax = Fr(_TRIG_K_MAX)
    slack = kmax * (2 * _UQ + inv_err)
    r_exact = (Fr(1, 2) + slack) * PI_HI / 2
    kp = kmax * (abs(Fr(_P2)) + abs(Fr(_P3)))
    # t1 = fl(x - k P1), t2 = fl(t1 - k P2) (k P1, k P2 exact: 33 + 20 bits), r = fl(t2 - fl(k P3))
    dr = _UQ * (3 * (r_exact + kp) + kmax * abs(Fr(_P3))) * (1 + 4 * _UQ) + kmax * _P_TAIL
    R = r_exact + dr
    Z = R * R * (1 + _UQ)
    sin_exact = [Fr((-1) ** j, math.factorial(2 * j + 1)) for j in range(_SIN_DEGREE + 1)]
    cos_exact = [Fr((-1) ** j, math.factorial(2 * j)) for j in range(_COS_DEGREE + 1)]
    sin_c = [float(c) for c in sin_exact]
    cos_c = [float(c) for c in cos_exact]
    _, e_s = _horner_error(sin_c, Z)
    _, e_c = _horner_error(cos_c, Z)
    # alternating Taylor series with decreasing terms (Z < 1): the tail is below the next term
    n = _SIN_DEGREE + 1
    trunc_s = Z ** n / math.factorial(2 * n + 1)
    trunc_c = Z ** (_COS_DEGREE + 1) / math.factorial(2 * _COS_DEGREE + 2)
    # z_f = r^2 (1 + delta): |S(z_f) - S(r^2)| <= sup|S'| u Z with |S'| <= 1/6, |C'| <= 1/2
    ES = e_s + _coefficient_error(sin_c, sin_exact, Z) + trunc_s + Fr(1, 6) * Z * _UQ
    EC = e_c + _coefficient_error(cos_c, cos_exact, Z) + trunc_c + Fr(1, 2) * Z * _UQ
    KS = ES + _UQ * (1 + ES)   # |fl(r S_f) - sin r| <= |r| KS  (|S| <= 1)
    return (sin_c, cos_c, _float_up(KS * (1 + Fr(1, 2 ** 30))),
            _float_up(EC * (1 + Fr(1, 2 ** 30))))


_SIN_C, _COS_C, _SIN_K, _COS_E = _trig_constants()
#: Per-element reduction error factors: u (with slack for evaluating the bound itself) and
#: the tail |pi/2 - P1 - P2 - P3| rounded up.
_TRIG_U = U * (1 + math.ldexp(1.0, -30))
_TRIG_TAIL = _float_up(_P_TAIL)


def arb_point_bounds(method: str, values) -> tuple[list[float], list[float]]:
    """Arb (python-flint, 128 bits) enclosures of f at float points, rounded outward."""
    import flint

    lo, hi = [], []
    with flint.ctx.workprec(128):
        for v in values:
            ball = getattr(flint.arb(v), method)()
            if not ball.is_finite():
                lo.append(-math.inf)
                hi.append(math.inf)
                continue
            lo.append(float(down(float(ball.lower()))))
            hi.append(float(up(float(ball.upper()))))
    return lo, hi


def _sin_cos_reduced(x):
    """(sin value, sin error, cos value, cos error) at |x| <= TRIG_FAST_LIMIT."""
    kf = np.rint(x * _TWO_OVER_PI)
    t1 = x - kf * _P1            # k P1 and k P2 are exact (33 + 20 bits)
    t2 = t1 - kf * _P2
    kp3 = kf * _P3
    r = t2 - kp3
    z = r * r
    sr = r * _horner(_SIN_C, z)
    cr = _horner(_COS_C, z)
    # |r - (x - k pi/2)| <= u (|t1| + |t2| + |k P3| + |r|) + |k| |pi/2 - P1 - P2 - P3|;
    # k = 0: r = x exactly
    dr = ((np.abs(t1) + np.abs(t2) + np.abs(kp3) + np.abs(r)) * _TRIG_U
          + np.abs(kf) * _TRIG_TAIL)
    dr = np.where(kf == 0.0, 0.0, dr)
    es = np.abs(r) * _SIN_K + (dr + _ABS_F)
    ec = _COS_E + dr
    quad = kf.astype(np.int64) & 3       # k mod 4 (two's complement: also for k < 0)
    odd = (quad & 1) == 1
    # sin x: s, c, -s, -c and cos x: c, -s, -c, s for k = 0, 1, 2, 3 (mod 4)
    sin_v = np.where(odd, cr, sr)
    sin_e = np.where(odd, ec, es)
    cos_v = np.where(odd, sr, cr)
    cos_e = np.where(odd, es, ec)
    sin_v = np.where(quad >= 2, -sin_v, sin_v)
    cos_v = np.where((quad == 1) | (quad == 2), -cos_v, cos_v)
    return sin_v, sin_e, cos_v, cos_e


def _trig(x, which: str):
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    x = x.reshape(-1)  # 1-d, so that the far elements can be indexed (also for a scalar)
    finite = np.isfinite(x)
    far = finite & (np.abs(x) > TRIG_FAST_LIMIT)
    xs = np.where(finite & ~far, x, 0.0)
    sv, se, cv, ce = _sin_cos_reduced(xs)
    out = []
    for v, e, method in ((sv, se, "sin"), (cv, ce, "cos")):
        if which not in (method, "both"):
            continue
        lo = np.maximum(down(v - e), -1.0)
        hi = np.minimum(up(v + e), 1.0)
        if far.any():
            alo, ahi = arb_point_bounds(method, x[far].tolist())
            lo[far], hi[far] = alo, ahi
        lo = np.where(finite, lo, np.nan)
        hi = np.where(finite, hi, np.nan)
        out.append((lo.reshape(shape), hi.reshape(shape)))
    return out


def sin_bounds(x):
    """Enclosure of sin x at float arguments (NaN at +-inf and NaN)."""
    return _trig(x, "sin")[0]


def cos_bounds(x):
    """Enclosure of cos x at float arguments (NaN at +-inf and NaN)."""
    return _trig(x, "cos")[0]


def tan_bounds(x):
    """Enclosure of tan x = sin x / cos x at float arguments: (-inf, inf) where the cos
    enclosure contains 0."""
    (slo, shi), (clo, chi) = _trig(x, "both")
    pole = (clo <= 0) & (chi >= 0)
    safe_lo = np.where(pole, 1.0, clo)
    safe_hi = np.where(pole, 1.0, chi)
    # quotient of [slo, shi] by a positive or negative [clo, chi]: four corner quotients
    with np.errstate(all="ignore"):
        q = [slo / safe_lo, slo / safe_hi, shi / safe_lo, shi / safe_hi]
    lo = down(np.minimum(np.minimum(q[0], q[1]), np.minimum(q[2], q[3])))
    hi = up(np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3])))
    lo = np.where(pole, -np.inf, lo)
    hi = np.where(pole, np.inf, hi)
    nan = np.isnan(slo) | np.isnan(clo)
    return np.where(nan, np.nan, lo), np.where(nan, np.nan, hi)


# ----------------------------------------------------------------------------- atan

_ATAN_DEGREE = 11  # terms z^0 .. z^11 of atan(w)/w = sum (-1)^j z^j/(2j+1)


def _atan_constants():
    # after two half-angle steps, |w| <= tan(pi/16) (1 + rel) <= 0.19892
    W = Fr(19892, 100000)
    theta_h = Fr(33, 10) * _UQ            # one step: h_f = h (1 + theta), |theta| <= 3.3 u
    Z = W * W * (1 + _UQ)
    exact = [Fr((-1) ** j, 2 * j + 1) for j in range(_ATAN_DEGREE + 1)]
    coeffs = [float(c) for c in exact]
    _, e_h = _horner_error(coeffs, Z)
    n = _ATAN_DEGREE + 1
    trunc = Z ** n / (2 * n + 1)
    A_min = 1 - Z / 3
    EA = (e_h + _coefficient_error(coeffs, exact, Z) + trunc + Fr(1, 3) * Z * _UQ) / A_min
    # atan(h (1 + theta)) = atan(h) (1 + rel) with |rel| <= |theta| (|h| <= 1); the series
    # relative error EA, the product fl(w A_f), and the two exact doublings
    total = (1 + theta_h) ** 2 * (1 + EA) * (1 + _UQ) - 1
    return coeffs, _float_up(total / (1 - total) * (1 + Fr(1, 2 ** 30)))


_ATAN_C, _ATAN_REL = _atan_constants()


def _half_angle(w):
    """w / (1 + sqrt(1 + w^2)) = tan(atan(w)/2) for 0 <= w <= 1: relative error <= 3.3 u
    (w^2, 1 + w^2, sqrt, 1 + sqrt, /; the sqrt term is <= 0.59 of the denominator)."""
    return w / (1.0 + np.sqrt(1.0 + w * w))


def atan_bounds(x):
    """Enclosure of atan x at float arguments (x = +-inf gives the enclosure of +-pi/2)."""
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    a = np.abs(np.where(nan, 0.0, x))
    big = a > 1.0
    with np.errstate(divide="ignore"):
        w = np.where(big, 1.0 / np.where(big, a, 1.0), a)   # 1/a: relative error u
    w = _half_angle(_half_angle(w))
    v = w * _horner(_ATAN_C, w * w)
    v *= 4.0
    rel = _ATAN_REL + np.where(big, 2 * U, 0.0)              # 1/a perturbs atan(w) by <= u
    err = np.abs(v) * rel + _ABS_F
    lo, hi = down(v - err), up(v + err)
    # atan(a) = pi/2 - atan(1/a) for a > 1
    blo, bhi = down(PI_2_INTERVAL[0] - hi), up(PI_2_INTERVAL[1] - lo)
    lo, hi = np.where(big, blo, lo), np.where(big, bhi, hi)
    lo = np.maximum(lo, 0.0)
    neg = np.signbit(x)
    lo, hi = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
    return np.where(nan, np.nan, lo), np.where(nan, np.nan, hi)


# ------------------------------------------------------------------ sinh, cosh, tanh

_HYP_SMALL = 0.5
_HYP_DEGREE = 9


def _hyp_constants():
    Z = Fr(1, 4) * (1 + _UQ)
    sh_exact = [Fr(1, math.factorial(2 * j + 1)) for j in range(_HYP_DEGREE + 1)]
    ch_exact = [Fr(1, math.factorial(2 * j)) for j in range(_HYP_DEGREE + 1)]
    sh_c = [float(c) for c in sh_exact]
    ch_c = [float(c) for c in ch_exact]
    _, e_s = _horner_error(sh_c, Z)
    _, e_c = _horner_error(ch_c, Z)
    n = _HYP_DEGREE + 1
    # positive series: the tail is at most the next term times 1/(1 - Z)
    trunc_s = Z ** n / math.factorial(2 * n + 1) / (1 - Z)
    trunc_c = Z ** n / math.factorial(2 * n) / (1 - Z)
    # |Sh'| <= 1/6 * 1.1, |Ch'| <= 1/2 * 1.1 on z <= 1/4 (Sh, Ch >= 1)
    ES = e_s + _coefficient_error(sh_c, sh_exact, Z) + trunc_s + Fr(11, 60) * Z * _UQ
    EC = e_c + _coefficient_error(ch_c, ch_exact, Z) + trunc_c + Fr(11, 20) * Z * _UQ
    rel_s = (1 + ES) * (1 + _UQ) - 1      # fl(a Sh_f), relative to the computed value's size
    return sh_c, ch_c, _float_up(rel_s / (1 - rel_s) * (1 + Fr(1, 2 ** 30))), \
        _float_up(EC / (1 - EC) * (1 + Fr(1, 2 ** 30)))


_SH_C, _CH_C, _SH_REL, _CH_REL = _hyp_constants()


def _hyp_small(a):
    """Enclosures of sinh a and cosh a for 0 <= a < 1/2 by their series."""
    z = a * a
    s = a * _horner(_SH_C, z)
    c = _horner(_CH_C, z)
    es = np.abs(s) * _SH_REL + _ABS_F
    ec = c * _CH_REL
    return (down(s - es), up(s + es)), (down(c - ec), up(c + ec))


def _hyp_large(a):
    """Enclosures of e^a and e^-a = 1/e^a (directed quotients) for a >= 0."""
    elo, ehi = exp_bounds(a)
    with np.errstate(divide="ignore", over="ignore"):
        ilo, ihi = down(1.0 / ehi), up(1.0 / elo)
    return (elo, ehi), (np.maximum(ilo, 0.0), ihi)


def sinh_bounds(x):
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    a = np.abs(np.where(nan, 0.0, x))
    small = a < _HYP_SMALL
    (slo, shi), _ = _hyp_small(np.where(small, a, 0.0))
    (elo, ehi), (ilo, ihi) = _hyp_large(np.where(small, 1.0, a))
    with np.errstate(invalid="ignore", over="ignore"):
        llo, lhi = down(elo - ihi) * 0.5, up(ehi - ilo) * 0.5
    lo, hi = np.where(small, slo, llo), np.where(small, shi, lhi)
    neg = np.signbit(x)
    lo, hi = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
    return np.where(nan, np.nan, lo), np.where(nan, np.nan, hi)


def cosh_bounds(x):
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    a = np.abs(np.where(nan, 0.0, x))
    small = a < _HYP_SMALL
    _, (slo, shi) = _hyp_small(np.where(small, a, 0.0))
    (elo, ehi), (ilo, ihi) = _hyp_large(np.where(small, 1.0, a))
    with np.errstate(over="ignore"):
        llo, lhi = down(elo + ilo) * 0.5, up(ehi + ihi) * 0.5
    lo = np.maximum(np.where(small, slo, llo), 1.0)
    hi = np.where(small, shi, lhi)
    return np.where(nan, np.nan, lo), np.where(nan, np.nan, hi)


def tanh_bounds(x):
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    a = np.abs(np.where(nan, 0.0, x))
    small = a < _HYP_SMALL
    (slo, shi), (clo, chi) = _hyp_small(np.where(small, a, 0.0))
    # sinh / cosh, both positive (a >= 0; slo may dip just below 0 near a = 0)
    with np.errstate(all="ignore"):
        tlo_s = down(slo / np.where(slo >= 0, chi, clo))
        thi_s = up(shi / clo)
    # a >= 1/2: tanh a = 1 - 2/(e^{2a} + 1), decreasing in the enclosure's ends
    with np.errstate(over="ignore"):
        a2 = np.where(small, 1.0, 2.0 * a)   # exact, or inf (then e^{2a} = [max, inf])
    tlo_l, thi_l = exp_bounds(a2)
    with np.errstate(all="ignore"):
        llo = down(1.0 - up(2.0 / down(tlo_l + 1.0)))
        lhi = up(1.0 - down(2.0 / up(thi_l + 1.0)))
    lo = np.where(small, tlo_s, llo)
    hi = np.minimum(np.where(small, thi_s, lhi), 1.0)
    neg = np.signbit(x)
    lo, hi = np.where(neg, -hi, lo), np.where(neg, -lo, hi)
    return np.where(nan, np.nan, lo), np.where(nan, np.nan, hi)


#: Elements per slice of a long argument: the temporaries of one slice stay in the CPU's
#: cache (a speed matter only: every element is computed by the same operations).
CHUNK = 16384


def _chunked(fn):
    def run(x):
        x = np.asarray(x, dtype=np.float64)
        if x.size <= CHUNK:
            return fn(x)
        flat = x.reshape(-1)
        lo, hi = np.empty(flat.shape), np.empty(flat.shape)
        for s in range(0, flat.size, CHUNK):
            lo[s:s + CHUNK], hi[s:s + CHUNK] = fn(flat[s:s + CHUNK])
        return lo.reshape(x.shape), hi.reshape(x.shape)
    run.__name__, run.__doc__ = fn.__name__, fn.__doc__
    return run


#: Function name -> pointwise enclosure, as used by :mod:`certify.kernel.interval`.
BOUNDS = {name: _chunked(fn) for name, fn in (
    ("exp", exp_bounds), ("log", log_bounds), ("sin", sin_bounds), ("cos", cos_bounds),
    ("tan", tan_bounds), ("sinh", sinh_bounds), ("cosh", cosh_bounds), ("tanh", tanh_bounds),
    ("arctan", atan_bounds))}
