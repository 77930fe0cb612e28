"""Quality: how wide the trusted enclosures are. A sound but useless enclosure ([-inf, inf],
or one a thousand ulps wide) passes every soundness test; these tests fail on it."""

from __future__ import annotations

import numpy as np
import pytest

from certify.kernel import elementary as el

ARB_NAMES = ("arctan", "cos", "cosh", "exp", "log", "sin", "sinh", "tan", "tanh")


#: Widest enclosure allowed, in ulps of the value (relative a-priori bounds of 2-10 u, and
#: the outward steps): a regression guard, not a soundness matter.
WIDTH_ULPS = {"exp": 12, "log": 16, "sin": 32, "cos": 32, "tan": 64, "sinh": 32, "cosh": 32,
              "tanh": 40, "arctan": 40}


@pytest.mark.parametrize("name", ARB_NAMES)
def test_enclosures_are_tight(name):
    """Quality: at ordinary arguments the enclosure is a few ulps of the value wide (an
    honest but useless [-inf, inf] would pass the soundness test)."""
    rng = np.random.default_rng(7)
    x = {"log": rng.uniform(1e-3, 1e3, 5000), "exp": rng.uniform(-50, 50, 5000),
         "tan": rng.uniform(-1.4, 1.4, 5000)}.get(name, rng.uniform(-3, 3, 5000))
    x = x[np.abs(x) > 1e-3]
    lo, hi = el.BOUNDS[name](x)
    mid = np.abs(0.5 * (lo + hi))
    if name in ("log", "sin", "cos", "tan", "arctan", "sinh", "tanh"):
        keep = mid > 1e-2  # near zeros the bound is absolute, not relative
        lo, hi, mid = lo[keep], hi[keep], mid[keep]
    width_ulps = (hi - lo) / np.spacing(mid)
    limit = WIDTH_ULPS[name]
    assert np.max(width_ulps) <= limit, f"{name}: widest enclosure {np.max(width_ulps):.1f} ulps > {limit}"
