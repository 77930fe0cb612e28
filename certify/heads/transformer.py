"""A reference prefixed transformer in numpy float64 (no torch), THEORY 4.

    h^0_i = E x_i + P_i                                   (token embedding + positional encoding)
    h^l   = h^{l-1} + sum_heads W_O head(h^{l-1}; prefix)  (attention, residual)
    h^l   = h^l + W_2 relu(W_1 h^l + b_1) + b_2            (optional ReLU MLP, residual)
    y_i   = R h^L_i + r                                   (read-out)

Each head is :func:`certify.heads.attention.classical_head` with its own prefix: every token attends to
the head's prefix tokens and to the input tokens (j <= i when causal), itself included. Only the
prefixes are meant to change between targets; every matrix is the pretrained part.

Fast float64 reference code: nothing here is rigorous.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from certify.heads.attention import classical_head


@dataclass
class Head:
    W_Q: np.ndarray                 # d_k x d
    W_K: np.ndarray                 # d_k x d
    W_V: np.ndarray                 # d_v x d
    W_O: np.ndarray                 # d x d_v (writes the head's output into the residual stream)
    prefix: np.ndarray | None = None  # N x d

    def __call__(self, h: np.ndarray, causal: bool) -> np.ndarray:
        return classical_head(h, self.W_Q, self.W_K, self.W_V, self.prefix, causal) @ np.asarray(self.W_O).T


@dataclass
class MLP:
    W_1: np.ndarray   # hidden x d
    b_1: np.ndarray   # hidden
    W_2: np.ndarray   # d x hidden
    b_2: np.ndarray   # d

    def __call__(self, h: np.ndarray) -> np.ndarray:
        return np.maximum(h @ self.W_1.T + self.b_1, 0.0) @ self.W_2.T + self.b_2


@dataclass
class Block:
    heads: list[Head]
    mlp: MLP | None = None


@dataclass
class Transformer:
    embedding: np.ndarray            # d x d_in
    positions: np.ndarray            # n_max x d (row i is added to token i)
    blocks: list[Block]
    readout: np.ndarray              # o x d
    readout_bias: np.ndarray | None = None
    causal: bool = False
    trace: list = field(default_factory=list, repr=False)

    @property
    def depth(self) -> int:
        return len(self.blocks)

    @property
    def head_count(self) -> int:
        return sum(len(b.heads) for b in self.blocks)

    def __call__(self, x: np.ndarray, keep_trace: bool = False) -> np.ndarray:
        """Outputs (n x o) for one sequence x (n x d_in), n <= n_max."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        n = x.shape[0]
        if n > self.positions.shape[0]:
            raise ValueError(f"sequence of length {n} is longer than the {self.positions.shape[0]} positions")
        h = x @ self.embedding.T + self.positions[:n]
        self.trace = [h] if keep_trace else []
        for block in self.blocks:
            h = h + sum((head(h, self.causal) for head in block.heads), np.zeros_like(h))
            if block.mlp is not None:
                h = h + block.mlp(h)
            if keep_trace:
                self.trace.append(h)
        y = h @ self.readout.T
        return y if self.readout_bias is None else y + self.readout_bias
