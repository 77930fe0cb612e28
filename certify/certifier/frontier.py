"""The search's frontier: open cells in buckets of similar bound, spilled to disk past a cap.

A cell waits with a priority P, its parent's bound. Cells are kept in buckets by the binary
exponent of P (``numpy.frexp``: exact, the same on every host), highest bucket first, and in
the order they arrived inside a bucket. So taking a batch costs O(batch), never a selection
over the whole frontier, and the order is a function of the pushes alone.

Memory stays bounded: when more than ``memory_cells`` cells are held after a push, cells are
written to a temporary directory (files of at most SPILL_FILE_CELLS cells), whole buckets from
the lowest up, until half the cap is left; the front of the top bucket (the next cells to be
taken) stays. A file is read back when its turn comes.
Spilling changes where cells wait, never the order in which they are taken, so a search gives
the same answer with any cap. (Between two spills the memory held is at most the cap plus one
batch's children.)

Nothing here is trusted (the certificate is re-checked from scratch); the frontier only
decides the order in which cells are bounded.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

#: Bucket of a NaN or infinite priority (taken first) and of a priority <= 0 (taken last).
TOP, BOTTOM = 1 << 20, -(1 << 20)
#: A bucket's last chunk in memory absorbs new cells while it holds fewer than this many.
MERGE_BELOW = 1 << 14
#: Cells held in memory at most before buckets are spilled (about 40-60 bytes per cell).
DEFAULT_MEMORY_CELLS = 1 << 22
#: Cells per spill file at most (a file is read back whole when its turn comes).
SPILL_FILE_CELLS = 1 << 18


def bucket_of(P: np.ndarray) -> np.ndarray:
    """Bucket index of each priority: its binary exponent (exact; NaN and +inf on top, a
    priority <= 0 or -inf at the bottom)."""
    with np.errstate(all="ignore"):
        _, e = np.frexp(np.where(np.isfinite(P), P, 0.0))
    e = e.astype(np.int64)
    e = np.where(P > 0, e, BOTTOM)
    return np.where(np.isnan(P) | (P == np.inf), TOP, e)


class _Chunk:
    """Cells of one bucket in arrival order: in memory (``arrays``) or in a file (``path``)."""

    __slots__ = ("arrays", "path", "size", "pmax")

    def __init__(self, arrays, path=None, size=None, pmax=None):
        self.arrays = arrays
        self.path = path
        self.size = int(arrays[0].shape[0]) if size is None else size
        self.pmax = _nanmax(arrays[3]) if pmax is None else pmax


def worst_first(P: np.ndarray, take: int) -> np.ndarray:
    """Indices of the ``take`` largest priorities, ties broken by index (lowest first).

    ``np.argpartition`` alone picks an unspecified subset among equal values (siblings share
    their parent's bound), and which one may differ between numpy builds and SIMD paths; the
    k-th largest value itself is unique, so selecting around it is deterministic. NaN counts
    as the largest priority."""
    key = np.where(np.isnan(P), np.inf, P)
    kth = np.partition(key, key.size - take)[key.size - take]
    above = np.flatnonzero(key > kth)
    tied = np.flatnonzero(key == kth)[: take - above.size]
    return np.concatenate([above, tied])


def _nanmax(P: np.ndarray) -> float:
    """Largest priority, NaN counting as infinite."""
    return float(np.max(np.where(np.isnan(P), np.inf, P))) if P.size else -np.inf


class Frontier:
    """Open cells (facets, levels, coords, priorities); see the module."""

    def __init__(self, sphere_dim: int, memory_cells: int = DEFAULT_MEMORY_CELLS):
        self.m = sphere_dim
        self.memory_cells = max(1, int(memory_cells))
        self.buckets: dict[int, list[_Chunk]] = {}
        self.size = 0          # cells held, in memory and on disk
        self.in_memory = 0
        self.peak_memory = 0   # most cells held in memory at once
        self.spilled = 0       # cells written to disk, counted each time
        self._dir = None
        self._files = 0

    # ------------------------------------------------------------------ pushing

    def push(self, F, L, C, P) -> None:
        F = np.asarray(F)
        if F.size == 0:
            return
        arrays = (F.astype(np.int16), np.asarray(L).astype(np.int16),
                  np.asarray(C, dtype=np.int64).reshape(F.size, self.m), np.asarray(P, dtype=np.float64))
        b = bucket_of(arrays[3])
        order = np.argsort(-b, kind="stable")          # by bucket, arrival order inside
        bs = b[order]
        cuts = np.flatnonzero(np.diff(bs)) + 1
        for part in np.split(order, cuts):
            key = int(b[part[0]])
            self._append(key, tuple(a[part] for a in arrays))
        self.size += F.size
        self.in_memory += F.size
        self.peak_memory = max(self.peak_memory, self.in_memory)
        if self.in_memory > self.memory_cells:
            self._spill()

    def _append(self, key, arrays) -> None:
        chunks = self.buckets.setdefault(key, [])
        last = chunks[-1] if chunks else None
        if last is not None and last.path is None and last.size < MERGE_BELOW:
            chunks[-1] = _Chunk(tuple(np.concatenate([x, y]) for x, y in zip(last.arrays, arrays)))
        else:
            chunks.append(_Chunk(arrays))

    # ----------------------------------------------------------------- spilling

    def _spill(self) -> None:
        """Write the cells of whole buckets to disk, lowest bucket first, until at most half the
        cap is in memory; of the top bucket, the front (the cells taken next, up to a tenth of
        the cap) stays."""
        keys = sorted(self.buckets)
        for key in keys:
            if self.in_memory <= self.memory_cells // 2:
                break
            stay = self.memory_cells // 10 if key == keys[-1] else 0
            chunks, out, run, kept = self.buckets[key], [], [], 0
            for ch in chunks + [None]:
                if ch is not None and ch.path is None and kept < stay:
                    # the front of the top bucket is taken next: it stays (cut at ``stay``)
                    n = min(ch.size, stay - kept)
                    kept += n
                    if n == ch.size:
                        out.append(ch)
                        continue
                    out.append(_Chunk(tuple(a[:n].copy() for a in ch.arrays)))  # frees the rest
                    ch = _Chunk(tuple(a[n:] for a in ch.arrays))
                if ch is not None and ch.path is None:
                    run.append(ch)
                    continue
                if run:
                    out.extend(self._write(run))
                    run = []
                if ch is not None:
                    out.append(ch)
            self.buckets[key] = out

    def _write(self, run: list[_Chunk]) -> list[_Chunk]:
        """The cells of consecutive in-memory chunks, in order, as files of at most
        SPILL_FILE_CELLS cells."""
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="certify-frontier-")
        arrays = tuple(np.concatenate([ch.arrays[i] for ch in run]) for i in range(4))
        total = int(arrays[0].shape[0])
        out = []
        for s in range(0, total, SPILL_FILE_CELLS):
            part = tuple(a[s:s + SPILL_FILE_CELLS] for a in arrays)
            path = os.path.join(self._dir.name, f"{self._files}.npz")
            self._files += 1
            np.savez(path, F=part[0], L=part[1], C=part[2], P=part[3])
            out.append(_Chunk(None, path, int(part[0].shape[0]), _nanmax(part[3])))
        self.in_memory -= total
        self.spilled += total
        return out

    def _load(self, ch: _Chunk) -> _Chunk:
        with np.load(ch.path) as z:
            arrays = (z["F"], z["L"], z["C"], z["P"])
        os.remove(ch.path)
        self.in_memory += ch.size
        self.peak_memory = max(self.peak_memory, self.in_memory)
        return _Chunk(arrays, None, ch.size, ch.pmax)

    # ------------------------------------------------------------------- taking

    def take(self, n: int):
        """The first ``n`` cells (highest bucket first, arrival order inside), removed:
        (facets, levels, coords) as int64 arrays."""
        parts = []
        want = min(int(n), self.size)
        while want > 0:
            key = max(self.buckets)
            chunks = self.buckets[key]
            ch = chunks[0]
            if ch.path is not None:
                ch = chunks[0] = self._load(ch)
            if ch.size <= want:
                chunks.pop(0)
                parts.append(ch.arrays)
                got = ch.size
            else:
                parts.append(tuple(a[:want] for a in ch.arrays))
                chunks[0] = _Chunk(tuple(a[want:] for a in ch.arrays))
                got = want
            if not chunks:
                del self.buckets[key]
            want -= got
            self.size -= got
            self.in_memory -= got
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return z, z, np.zeros((0, self.m), dtype=np.int64)
        F = np.concatenate([p[0] for p in parts]).astype(np.int64)
        L = np.concatenate([p[1] for p in parts]).astype(np.int64)
        C = np.concatenate([p[2] for p in parts])
        return F, L, C

    def max_priority(self) -> float:
        """The largest priority held (NaN counts as infinite; -inf when empty)."""
        if not self.buckets:
            return -np.inf
        return max(ch.pmax for ch in self.buckets[max(self.buckets)])

    def close(self) -> None:
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
