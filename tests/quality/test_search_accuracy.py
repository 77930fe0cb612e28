"""Quality: how close the certified upper bound comes to the witnessed lower bound, and how
many cells that takes. Soundness tests pass for a search that always answers UNDECIDED or
bounds a million cells; these fail on it. The cell counts are those measured when the
bound was last changed (the search is deterministic and counted in cells, not seconds),
with 50% headroom: a change beyond it is a regression of the bound or of the search."""

from __future__ import annotations

import pytest

from certify.certifier.search import CERTIFIED, prove
from tests.conftest import circle_problem, sphere_problem

#: (name, problem, cells measured with accuracy 0.05)
CASES = [
    ("x0^2 on S^1, softmax", lambda: circle_problem(eps=1.0), 132),
    ("x0^2 on S^1, core", lambda: circle_problem(kind="core", eps=1.0), 252),
    ("x0 x1 on S^2, softmax", lambda: sphere_problem(eps=1.0), 12278),
    ("(x0 x1, e^x2 - 1) on S^2", lambda: sphere_problem(target=("x0*x1", "exp(x2) - 1"), eps=1.0), 8950),
]


@pytest.mark.parametrize("name,make,cells", CASES, ids=[c[0] for c in CASES])
def test_accuracy_mode_meets_its_contract_within_the_measured_cells(name, make, cells):
    r = prove(make(), accuracy=0.05)
    assert r.verdict == CERTIFIED, (name, r.reason)
    assert r.lower > 0 and r.upper / r.lower - 1 < 0.05, (name, r.upper, r.lower)
    assert r.cells <= 1.5 * cells, f"{name}: {r.cells} cells, {cells} when last measured"


def test_the_default_search_stops_at_epsilon_not_at_the_accuracy():
    """Without ``accuracy`` the search stops as soon as the bound is below epsilon: far fewer
    cells than a tight enclosure (the two modes answer different questions)."""
    loose = prove(sphere_problem(eps=0.1))
    tight = prove(sphere_problem(eps=0.1), accuracy=0.05)
    assert loose.verdict == tight.verdict == CERTIFIED
    assert loose.upper <= 0.1 and tight.upper / tight.lower - 1 < 0.05
    assert loose.cells < tight.cells
