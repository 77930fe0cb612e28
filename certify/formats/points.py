"""Points of S^m in a ``.npy`` file (no pickles): shape (B, m + 1), finite, and on the unit
sphere within :data:`UNIT_TOLERANCE` (a relative rounding of normalised float64 points)."""

from __future__ import annotations

import numpy as np

from certify.errors import InputError

#: Largest distance from the unit sphere accepted for evaluation points.
UNIT_TOLERANCE = 1e-9


def read_unit_points(path: str, sphere_dim: int, field: str = "points") -> np.ndarray:
    """The points of a .npy file as a float64 array (B, m + 1) on the unit sphere, or bad input
    naming ``field``."""
    try:
        X = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(field, f"no such file: {path}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(field, f"not a readable .npy array without pickles: {exc}") from None
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiu":
        raise InputError(field, "expected a numeric .npy array")
    if X.ndim != 2 or X.shape[1] != sphere_dim + 1:
        raise InputError(field, f"expected shape (B, {sphere_dim + 1}), got {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError(field, f"row {bad} has a NaN or infinite coordinate")
    off = np.abs(np.linalg.norm(X, axis=1) - 1.0)
    if X.shape[0] and off.max() > UNIT_TOLERANCE:
        bad = int(np.argmax(off))
        raise InputError(field, f"row {bad} is off the unit sphere by {off[bad]:.3g} "
                                     f"(tolerance {UNIT_TOLERANCE:g}); normalise the points")
    return X
