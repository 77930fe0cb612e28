"""Float64 evaluation of whitelisted sympy expressions with numpy (not rigorous).

:func:`compile_numpy` turns a sympy form into ``f(*columns) -> ndarray`` through the one tree
walk (:func:`certify.kernel.expression_tree.compile_tree`) with numpy's rules;
:func:`target_values` evaluates a :class:`~certify.formats.expressions.Target` at points of
S^m. Estimates, constructions and the float reference use these values; no verdict does.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import sympy as sp

from certify.kernel.expression_tree import Rules, compile_tree, fold


def _coth(x):
    return 1.0 / np.tanh(x)


def _cot(x):
    return 1.0 / np.tan(x)


def _heaviside(x, h0=0.5):
    return np.heaviside(x, h0)


def _dirac(x, k=0):
    # only derivatives of abs/min/max produce it; off its support it is exactly 0
    return np.where(x == 0, np.nan, 0.0)


def _polygamma(n, x):
    import scipy.special as sc

    return sc.polygamma(np.asarray(n).astype(int), x)


def _besseli(nu, x):
    import scipy.special as sc

    return sc.iv(nu, x)


def _gamma(x):
    import scipy.special as sc

    return sc.gamma(x)


#: numpy's function for each sympy function of the grammars (targets and claims) and for
#: those that sympy's derivatives and rewrites of them produce (abs -> sign -> DiracDelta,
#: min/max -> Heaviside, gamma -> polygamma, tan(pi/2 - x) -> cot).
NUMPY_FUNCTIONS: dict = {
    sp.exp: np.exp, sp.log: np.log, sp.sin: np.sin, sp.cos: np.cos, sp.tan: np.tan,
    sp.sinh: np.sinh, sp.cosh: np.cosh, sp.tanh: np.tanh, sp.atan: np.arctan, sp.Abs: np.abs,
    sp.besseli: _besseli, sp.coth: _coth, sp.cot: _cot, sp.gamma: _gamma,
    sp.Min: lambda *a: np.minimum.reduce(np.broadcast_arrays(*a)),
    sp.Max: lambda *a: np.maximum.reduce(np.broadcast_arrays(*a)),
    sp.sign: np.sign, sp.Heaviside: _heaviside, sp.DiracDelta: _dirac, sp.polygamma: _polygamma,
}


class NumpyRules(Rules):
    def constant(self, e, build):
        c = float(e)
        return lambda args: np.float64(c)

    def add(self, e, build):
        return fold([build(a) for a in e.args], np.add)

    def mul(self, e, build):
        return fold([build(a) for a in e.args], np.multiply)

    def power(self, e, build):
        base = build(e.base)
        if e.exp == sp.Rational(1, 2):
            return lambda args: np.sqrt(base(args))
        if e.exp == -1:
            return lambda args: 1.0 / base(args)
        if e.exp.is_Integer:
            k = float(int(e.exp))
            return lambda args: np.power(base(args), k)
        expo = build(e.exp)
        return lambda args: np.power(base(args), expo(args))

    def function(self, e, build):
        fn = NUMPY_FUNCTIONS.get(e.func)
        if fn is None:
            raise ValueError(f"no numpy evaluator for {e.func}")
        parts = [build(a) for a in e.args]
        return lambda args: fn(*[p(args) for p in parts])


def compile_numpy(expr: sp.Expr, variables: Sequence[sp.Symbol]) -> Callable[..., np.ndarray]:
    """Compile ``expr`` into ``f(*columns) -> ndarray`` evaluated in float64 with numpy.

    The result broadcasts against the argument arrays (a constant expression returns
    an array of the broadcast shape too).
    """
    root = compile_tree(expr, variables, NumpyRules())

    def evaluate(*columns):
        arrays = [np.asarray(c, dtype=np.float64) for c in columns]
        shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        with np.errstate(all="ignore"):
            out = root(arrays)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy()

    return evaluate


_COMPILED: dict = {}


def target_values(target, points: np.ndarray) -> np.ndarray:
    """The target's values at points (B x (m+1)) as a B x o float64 array."""
    key = (target.exprs, target.symbols)
    fns = _COMPILED.get(key)
    if fns is None:
        if len(_COMPILED) >= 256:
            _COMPILED.clear()  # a memo of recently evaluated targets, kept small
        fns = _COMPILED[key] = [compile_numpy(e, target.symbols) for e in target.exprs]
    pts = np.asarray(points, dtype=np.float64)
    cols = [pts[:, i] for i in range(target.sphere_dim + 1)]
    return np.stack([fn(*cols) for fn in fns], axis=1)


def seqmap_outputs(spec, X: np.ndarray) -> np.ndarray:
    """A sequence map's outputs f_i at B sequences X (B x n x 2): B x n, one column per output
    position (:class:`~certify.formats.seqmap.SeqMap`; the columns agree when the map is the
    same at every position)."""
    from certify.formats.expressions import coordinate_symbols
    from certify.formats.seqmap import S

    X = np.asarray(X, dtype=np.float64)
    xs = coordinate_symbols(1)
    total = np.zeros((X.shape[0], spec.length))
    for q in range(spec.terms):
        s = sum(compile_numpy(spec.inner[q][p], xs)(X[:, p, 0], X[:, p, 1]) * np.ones(X.shape[0])
                for p in range(spec.length))
        for i in range(spec.length):
            total[:, i] += compile_numpy(spec.outer_at(q, i), [S])(s) * np.ones(X.shape[0])
    return total


def seqmap_values(spec, X: np.ndarray) -> np.ndarray:
    """A sequence map's f at B sequences X (B x n x 2), for a map that is the same at every position."""
    if spec.per_position:
        raise ValueError("a sequence-to-sequence map has one output per position: use seqmap_outputs")
    return seqmap_outputs(spec, X)[:, 0]
