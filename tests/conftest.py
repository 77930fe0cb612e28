"""Shared helpers for the test suite."""

from __future__ import annotations

import copy

import numpy as np
import pytest


def unit_points(m: int, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((count, m + 1))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def valid_doc():
    """A small valid reduced-form softmax problem on S^2 with a 2-component target."""
    return copy.deepcopy({
        "format": "certify.problem/1",
        "sphere_dim": 2,
        "head": {"kind": "softmax",
                 "keys": [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]],
                 "values": [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]],
                 "biases": [0.0, 0.1, -0.1],
                 "context_tokens": 2},
        "target": ["x0*x1", "exp(x2) - 1"],
        "epsilon": 0.5,
        "norm": "max",
    })


@pytest.fixture
def matrix_doc():
    """A valid full-matrix softmax problem on S^1 (d = 4, d_k = 3, o = 1)."""
    rng = np.random.default_rng(7)
    return {
        "format": "certify.problem/1",
        "sphere_dim": 1,
        "head": {"kind": "softmax",
                 "embedding": rng.standard_normal((4, 2)).tolist(),
                 "W_Q": rng.standard_normal((3, 4)).tolist(),
                 "W_K": rng.standard_normal((3, 4)).tolist(),
                 "W_V": rng.standard_normal((1, 4)).tolist(),
                 "prefix": rng.standard_normal((5, 4)).tolist(),
                 "self_attention": True,
                 "context": rng.standard_normal((2, 4)).tolist()},
        "target": ["x0"],
        "epsilon": 1.0,
    }
