"""Element-wise sequence maps by one prefixed head (Corollary 2, THEORY 4.1).

The head of Lemma 3 (:func:`certify.heads.attention.universal_head`) sees its input tokens as inert:
their keys W_K E x and values W_V E x vanish, so the output at a position whose query sees c
input tokens (itself included) is y = Z/(c + Z) H(x) with H the single-head output on the
prefix. :func:`elementwise_problem` writes the sequence problem (``certify.problem/1`` with a
``sequence`` field) of a single-head construction: that head in full-matrix form with the
construction's prefix, for every sequence of length 1..max_length. ``certify prove`` decides
it exactly, through the two extreme token counts (see ``Problem.zero_token_counts``).

:func:`sequence_outputs` runs the same head on concrete sequences with the float reference
(:func:`certify.heads.attention.classical_head`), for tests and demonstrations; it is not rigorous.
"""

from __future__ import annotations

import numpy as np

from certify.heads.attention import classical_head, universal_head, universal_prefix
from certify.errors import InputError
from certify.formats.problem import FORMAT, Problem, problem_from_dict


def elementwise_problem(problem: Problem, max_length: int, causal: bool = False,
                        meta: dict | None = None) -> Problem:
    """The Corollary 2 problem of a reduced softmax construction (keys lambda p^a, values
    p^b, biases 0): the head of Lemma 3 with the prefix (0, lambda p^a, p^b), applied
    position-wise to every sequence of length 1..max_length."""
    ch = problem.canonical["head"]
    if ch["kind"] != "softmax" or "keys" not in ch:
        raise InputError("head", "an element-wise construction needs a reduced softmax head")
    if any(b != 0 for b in ch["biases"]) or ch.get("context_tokens", 0):
        raise InputError("head", "the head of Lemma 3 has no biases and no context tokens")
    if not (isinstance(max_length, int) and max_length >= 1):
        raise InputError("--max-length", f"must be an integer >= 1, got {max_length!r}")
    head = universal_head(problem.sphere_dim, problem.out_dim)
    prefix = universal_prefix(head, np.array(ch["keys"]), np.array(ch["values"]))
    doc = {"format": FORMAT, "sphere_dim": problem.sphere_dim,
           "head": {"kind": "softmax", "embedding": head.embedding.tolist(), "W_Q": head.W_Q.tolist(),
                    "W_K": head.W_K.tolist(), "W_V": head.W_V.tolist(), "prefix": prefix.tolist(),
                    "self_attention": True},
           "target": list(problem.canonical["target"]), "epsilon": problem.epsilon, "norm": "max",
           "sequence": {"max_length": int(max_length), "causal": bool(causal)}}
    info = dict(problem.meta)
    info.update(meta or {})
    info["pretrained_head"] = "Lemma 3 (THEORY 1.4): W_Q = sqrt(m+1)[I 0 0], W_K = [0 I 0], W_V = [0 0 I]"
    doc["meta"] = info
    return problem_from_dict(doc)


def sequence_outputs(problem: Problem, x: np.ndarray) -> np.ndarray:
    """Float outputs (n x o) of a full-matrix sequence problem's head on one sequence x (n x (m+1))."""
    ch = problem.canonical["head"]
    if "embedding" not in ch:
        raise InputError("head", "sequence_outputs needs a full-matrix head")
    E = np.array(ch["embedding"])
    tokens = np.atleast_2d(x) @ E.T
    causal = bool((problem.sequence or {}).get("causal", False))
    return classical_head(tokens, np.array(ch["W_Q"]), np.array(ch["W_K"]), np.array(ch["W_V"]),
                          np.array(ch["prefix"]), causal)
