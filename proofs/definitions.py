"""Definitions 2.1-2.8 [paper]: density, Jackson-type rates, prefixed heads and
transformers, functions on the sphere, sequence-to-sequence and element-wise maps.

Definitions have no truth value. They are encoded where they are used: density (2.1) as
the sup-norm predicate that ``certify prove`` decides, prefixed heads (2.3) as the problem
format, rates (2.2) by ``certify bound``-style calculators."""

from .registry import NOT_CHECKED, Result, Verdict


def _check():
    return Verdict(NOT_CHECKED, "definitions carry no truth value; they are encoded as the "
                                "problem format and the sup-norm predicate decided by certify prove")


RESULTS = [Result("definitions", "Definitions 2.1-2.8", "density, rates, prefixed heads, function classes",
                  "paper, statement reconstructed", "A is dense in C on compact D iff for all f in C, eps > 0 there is g in A "
                  "with sup_D |f - g| <= eps; and the related classes", _check)]
