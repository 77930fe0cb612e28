"""Certificate format ``certify.certificate/1`` and its reader (trusted; the writer is
:mod:`certify.certifier.writer`).

A certificate is a JSON object (schema: ``certify/formats/schemas/certificate.schema.json``):

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


import numpy as np

from certify.budgets import MAX_CERTIFICATE_NODES
from certify.formats.jsonio import unpack_array
from certify.kernel.sphere import MAX_LEVEL, facet_count

FORMAT = "certify.certificate/1"
CHECKER_VERSION = "1"
#: Largest number of tree nodes (bits) a certificate may hold unless the caller says more
#: (``decode_tree(max_nodes=)``, ``certify check --max-nodes``): five times the default cell
#: budget of ``certify prove`` (each bounded cell is one node of the tree), so every
#: certificate the search writes by default fits with room to spare. The bit counts are
#: checked against it before anything is decompressed or decoded: a few kilobytes of zlib
#: data can otherwise carry a tree that takes minutes to walk.
MAX_NODES = MAX_CERTIFICATE_NODES


class CertificateError(ValueError):
    """A certificate that is not valid: ``field`` names where, ``message`` says why."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def unpack_bytes(text: str, limit: int, field: str) -> np.ndarray:
    """Packed bytes of a certificate (CertificateError naming ``field`` on any failure)."""
    return unpack_array(text, "u1", limit, field, error=CertificateError)


def decode_tree(sphere_dim: int, trees: list, max_nodes: int | None = None):
    """Leaves (facets, levels, coords) in preorder from the per-facet encodings; raises
    CertificateError for anything but complete 2^m-ary trees of depth <= MAX_LEVEL or of more
    than ``max_nodes`` nodes (default MAX_NODES)."""
    max_nodes = MAX_NODES if max_nodes is None else max_nodes
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
                                   f"the trees hold more than {max_nodes} nodes in all (the largest "
                                   f"partition accepted: certify check --max-nodes; default "
                                   f"{MAX_NODES}, five times certify prove's default cell budget)")
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


