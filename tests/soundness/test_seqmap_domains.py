"""Sequence-map specs keep the domains of their maps as written: an inner map undefined
somewhere on S^1, or an outer map undefined somewhere on the reachable range of the inner
sums, is bad input (sympy's simplification of log(s)/log(s) to 1 must not hide it)."""

from __future__ import annotations

import pytest

from certify.errors import InputError
from certify.constructions.kolmogorov_arnold import example
from certify.formats.seqmap import parse_seqmap


def _spec(inner, outer, n=2):
    return {"format": "certify.seqmap/1", "length": n, "epsilon": 0.1,
            "terms": [{"inner": inner, "outer": outer}]}


@pytest.mark.parametrize("name", ["product", "power-sum", "smooth-max"])
def test_the_examples_are_defined(name):
    parse_seqmap(example(name, 2, 0.1))


@pytest.mark.parametrize("inner, outer, field", [
    (["x0", "x0"], "log(s)/log(s)", "terms[0].outer"),
    (["x0", "x0"], "s/s", "terms[0].outer"),
    (["x0", "x0"], "sqrt(s - 1/2)", "terms[0].outer"),
    (["log(x0)", "x0"], "s", "terms[0].inner[0]"),
    (["x0", "x1/x1"], "s", "terms[0].inner[1]"),
    (["x0", "sqrt(x0)**2"], "s", "terms[0].inner[1]"),
])
def test_undefined_maps_are_refused(inner, outer, field):
    with pytest.raises(InputError) as exc:
        parse_seqmap(_spec(inner, outer))
    assert exc.value.field == field


def test_an_outer_map_defined_on_the_reachable_range_is_accepted():
    # the outer map is written in s, the sum of the inner maps (not their mean):
    # exp(x0) + exp(x1) lies in [2/e, 2e], so log(s) is defined there
    parse_seqmap(_spec(["exp(x0)", "exp(x1)"], "log(s)"))
    parse_seqmap(_spec(["x0", "x0"], "sqrt(s + 3)"))      # s in [-2, 2]
    parse_seqmap(_spec(["x0 + 2", "x0 + 2"], "log(s - 3/2)"))  # s in [2, 6], mean in [1, 3]


@pytest.mark.parametrize("inner, outer", [
    (["x0", "x0"], "log(s + 3/2)"),            # s reaches -2 (the mean only -1)
    (["x0", "x0", "x0"], "sqrt(s + 2)"),       # s reaches -3
])
def test_the_domain_is_checked_on_the_range_of_the_sum(inner, outer):
    with pytest.raises(InputError) as exc:
        parse_seqmap(_spec(inner, outer, n=len(inner)))
    assert exc.value.field == "terms[0].outer"
