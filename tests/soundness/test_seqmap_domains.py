"""Sequence-map specs keep the domains of their maps as written: an inner map undefined
somewhere on S^1, or an outer map undefined somewhere on the reachable range of the inner
sums, is bad input (sympy's simplification of log(s)/log(s) to 1 must not hide it)."""

from __future__ import annotations

import pytest

from certify.errors import InputError
from certify.kolmogorov import example, parse_seqmap


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
    # inner sums of exp(x0) lie in [1/e, e]: log(s) is defined there
    parse_seqmap(_spec(["exp(x0)", "exp(x1)"], "log(s)"))
    parse_seqmap(_spec(["x0", "x0"], "sqrt(s + 2)"))
