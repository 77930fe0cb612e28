"""Certificate format ``certify.certificate/1`` (shared by the search and the checker).

A certificate is a JSON object (schema: ``certify/schemas/certificate.schema.json``):

* ``format``, ``checker_version``, ``tool`` (name, version, python, numpy, sympy, flint);
* ``problem``: the problem's canonical form, embedded exactly, and ``problem_sha256``,
  the SHA-256 of that canonical form (sorted keys, no spaces);
* ``epsilon`` (equal to the problem's), ``verdict`` (CERTIFIED or REFUTED), ``enclosure``
  {lower, upper} of the true sup error;
* ``partition`` (CERTIFIED): the cubed sphere of S^m; for each of the 2(m+1) facets the
  preorder bits of its dyadic 2^m-ary tree (1 = split into 2^m children in binary-digit
  order, 0 = leaf), packed with ``numpy.packbits``, zlib-compressed and base64-encoded,
  with the bit count; ``methods`` names the cell bounds used and ``leaf_methods`` holds one
  byte per leaf (an index into ``methods``, same packing);
* ``witness`` {point, lower, upper}: x = point / |point| exactly, with a rigorous
  enclosure of the error there (REFUTED: lower > epsilon).

Decoding refuses trees that are incomplete, too deep or too large before any bound is
computed.
"""

from __future__ import annotations

import base64
import binascii
import platform
import zlib

import numpy as np

from . import __version__
from .budgets import DEFAULT_MAX_CELLS
from .kernel.sphere import MAX_LEVEL, facet_count

FORMAT = "certify.certificate/1"
CHECKER_VERSION = "1"
#: Largest number of tree nodes (bits) a certificate may hold: five times the default cell
#: budget of ``certify prove`` (each bounded cell is one node of the tree), so every
#: certificate the search writes by default fits with room to spare. The bit counts are
#: checked against it before anything is decompressed or decoded: a few kilobytes of zlib
#: data can otherwise carry a tree that takes minutes to walk.
MAX_NODES = 5 * DEFAULT_MAX_CELLS


class CertificateError(ValueError):
    """A certificate that is not valid: ``field`` names where, ``message`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def tool_versions() -> dict:
    import flint
    import sympy

    return {"name": "certify-prefix", "version": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "sympy": sympy.__version__, "flint": flint.__version__}


def pack_bytes(data: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(np.asarray(data, dtype=np.uint8).tobytes(), 9)).decode("ascii")


def unpack_bytes(text: str, limit: int, field: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        d = zlib.decompressobj()
        out = d.decompress(raw, limit + 1)
        if len(out) > limit or d.unconsumed_tail:
            raise CertificateError(field, f"decompresses to more than {limit} bytes")
        if not d.eof:
            raise CertificateError(field, "truncated compressed data")
    except CertificateError:
        raise
    except (binascii.Error, zlib.error, UnicodeError, ValueError) as exc:
        raise CertificateError(field, f"not base64 zlib data ({exc})") from None
    return np.frombuffer(out, dtype=np.uint8)


def _morton_digits(sphere_dim, levels, coords, depth):
    """Child index at each depth 1..depth (0 past a leaf's level): n x depth."""
    n = levels.shape[0]
    out = np.zeros((n, depth), dtype=np.int64)
    for j in range(1, depth + 1):
        shift = levels - j
        ok = shift >= 0
        digit = np.zeros(n, dtype=np.int64)
        for a in range(sphere_dim):
            bit = (coords[:, a] >> np.where(ok, shift, 0)) & 1
            digit = digit * 2 + bit
        out[:, j - 1] = np.where(ok, digit, 0)
    return out


def encode_tree(sphere_dim: int, facets, levels, coords):
    """Preorder bits of each facet's tree from its leaves. Returns (list of (bit count,
    packed text) per facet, the permutation putting leaves in preorder)."""
    facets, levels, coords = np.asarray(facets), np.asarray(levels), np.asarray(coords)
    depth = int(levels.max()) if levels.size else 0
    digits = _morton_digits(sphere_dim, levels, coords, depth)
    order = np.lexsort([digits[:, j] for j in range(depth - 1, -1, -1)] + [facets])
    f, L, dg = facets[order], levels[order], digits[order]
    trees = []
    for face in range(facet_count(sphere_dim)):
        sel = np.nonzero(f == face)[0]
        if sel.size == 0:
            raise ValueError(f"no leaves on facet {face}")
        lv, dd = L[sel], dg[sel]
        ones = lv.copy()
        if sel.size > 1:
            same = dd[1:] == dd[:-1]
            # common prefix length, capped by both levels
            lcp = np.argmin(np.concatenate([same, np.zeros((same.shape[0], 1), bool)], axis=1), axis=1)
            lcp = np.minimum(lcp, np.minimum(lv[1:], lv[:-1]))
            ones[1:] = lv[1:] - 1 - lcp
        total = int(ones.sum() + sel.size)
        bits = np.zeros(total, dtype=np.uint8)
        ends = np.cumsum(ones + 1) - 1  # position of each leaf's 0
        starts = ends - ones
        mask = np.zeros(total + 1, dtype=np.int64)
        np.add.at(mask, starts, 1)
        np.add.at(mask, ends, -1)
        bits[:] = (np.cumsum(mask)[:total] > 0)
        trees.append({"bits": total, "data": pack_bytes(np.packbits(bits))})
    return trees, order


def decode_tree(sphere_dim: int, trees: list, max_nodes: int = MAX_NODES):
    """Leaves (facets, levels, coords) in preorder from the per-facet encodings; raises
    CertificateError for anything but complete 2^m-ary trees of depth <= MAX_LEVEL."""
    m = sphere_dim
    k = 1 << m
    nfacets = facet_count(m)
    if len(trees) != nfacets:
        raise CertificateError("partition.trees", f"expected {nfacets} facet trees, got {len(trees)}")
    F, Ls, Cs = [], [], []
    budget = max_nodes
    for face, tree in enumerate(trees):
        nbits = tree["bits"] if isinstance(tree, dict) else None
        if isinstance(nbits, bool) or not isinstance(nbits, int) or nbits < 1:
            raise CertificateError(f"partition.trees[{face}].bits", f"bit count {nbits!r} out of range")
        if nbits > budget:
            # every bit count is checked before any tree is decompressed or walked
            raise CertificateError(f"partition.trees[{face}].bits",
                                   f"the trees hold more than {max_nodes} nodes in all (the certificate "
                                   f"budget MAX_NODES, five times certify prove's default cell budget)")
        budget -= nbits
    for face, tree in enumerate(trees):
        field = f"partition.trees[{face}]"
        nbits = tree["bits"]
        packed = unpack_bytes(tree["data"], (nbits + 7) // 8, field + ".data")
        if packed.size != (nbits + 7) // 8:
            raise CertificateError(field + ".data", f"holds {packed.size * 8} bits, not {nbits}")
        bits = np.unpackbits(packed)
        if np.any(bits[nbits:]):
            raise CertificateError(field + ".data", "non-zero padding after the last bit")
        bits = bits[:nbits].tolist()
        # preorder walk: a stack of (level, coords, next child)
        kids = [tuple((c >> (m - 1 - a)) & 1 for a in range(m)) for c in range(k)]
        levels, coords = [], []
        stack = []
        node = (0, (0,) * m)
        pos = 0
        while True:
            if pos >= nbits:
                raise CertificateError(field, "tree ends before every split has its children")
            b = bits[pos]
            pos += 1
            if b:
                lvl, co = node
                if lvl >= MAX_LEVEL:
                    raise CertificateError(field, f"a split below level {MAX_LEVEL}")
                stack.append([lvl, co, 0])
                node = (lvl + 1, tuple(2 * x + y for x, y in zip(co, kids[0])))
                continue
            levels.append(node[0])
            coords.append(node[1])
            while stack and stack[-1][2] == k - 1:
                stack.pop()
            if not stack:
                break
            top = stack[-1]
            top[2] += 1
            node = (top[0] + 1, tuple(2 * x + y for x, y in zip(top[1], kids[top[2]])))
        if pos != nbits:
            raise CertificateError(field, f"{nbits - pos} bits left after the tree is complete")
        # the tiling by counting: the leaves' measures 2^(-m L) add up to the facet's
        top = max(levels)
        if sum(1 << (m * (top - L)) for L in levels) != 1 << (m * top):
            raise CertificateError(field, "leaves do not tile the facet")
        F.append(np.full(len(levels), face, dtype=np.int64))
        Ls.append(np.array(levels, dtype=np.int64))
        Cs.append(np.array(coords, dtype=np.int64).reshape(len(levels), m))
    return np.concatenate(F), np.concatenate(Ls), np.concatenate(Cs)


def build_certificate(problem, result) -> dict:
    """The certificate document of a CERTIFIED or REFUTED :class:`SearchResult`."""
    if result.verdict not in ("CERTIFIED", "REFUTED"):
        raise ValueError("only CERTIFIED and REFUTED answers have certificates")
    doc = {
        "format": FORMAT,
        "checker_version": CHECKER_VERSION,
        "tool": tool_versions(),
        "problem": problem.canonical,
        "problem_sha256": problem.sha256,
        "epsilon": float(problem.epsilon),
        "verdict": result.verdict,
        "enclosure": {"lower": float(result.lower),
                      "upper": float(result.upper) if np.isfinite(result.upper) else None},
    }
    if result.witness is not None:
        w = result.witness
        doc["witness"] = {"point": [float(v) for v in w.point], "lower": float(w.lower),
                          "upper": float(w.upper) if np.isfinite(w.upper) else None}
    if result.verdict == "CERTIFIED":
        f, l, c, _ = result.leaves
        trees, _ = encode_tree(problem.sphere_dim, f, l, c)
        doc["partition"] = {
            "kind": "cubed-sphere",
            "trees": trees,
            "leaves": int(f.shape[0]),
            "methods": [result.method],
            "leaf_methods": pack_bytes(np.zeros(f.shape[0], dtype=np.uint8)),
        }
    return doc
