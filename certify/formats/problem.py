"""Problem files (``certify.problem/1``): load, validate, canonical form and hash.

A problem is a prefixed attention head on S^m, a target f: S^m -> R^o and epsilon; the
claim is sup_{x in S^m} max_i |H_i(x) - f_i(x)| <= epsilon. The JSON Schema is
``certify/formats/schemas/problem.schema.json``; this loader applies it and then the checks a
schema cannot express (shapes that depend on m, N and o, finiteness, the target grammar).

Every violation raises :class:`~certify.errors.InputError` whose field is a JSON path
such as ``head.keys[3][1]``. Numbers are read as float64; NaN, Infinity and numbers that
overflow float64 (integers such as 10**400 included) are refused, and so are duplicate keys
in an object. Integer fields (``sphere_dim`` <= :data:`MAX_SPHERE_DIM`, ``context_tokens``,
``sequence.max_length``) must be JSON integers within their stated bounds (1.0 and true are
refused).

A ``sequence`` field {"max_length": n, "causal": bool} makes it the element-wise claim of
Corollary 2: every position of every sequence of length 1..n is within epsilon. It needs a
softmax head whose input tokens are inert (score 0, value 0, as in the head of Lemma 3); the
claim then reduces exactly to the head at the fewest and at the most inert tokens
(:attr:`Problem.zero_token_counts`).

The canonical form fills every default (biases 0, context_tokens 0, norm "max",
self_attention true, context []), turns every matrix entry into a float and leaves out
``meta``; its SHA-256 over sorted-key compact JSON identifies the problem.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from certify.errors import InputError
from certify.formats.jsonio import check_finite, json_path, read_json, short_int, short_json
from certify.formats.expressions import Target, parse_target
from certify.formats.heads import CoreHead, SoftmaxHead, reduce_full_head

FORMAT = "certify.problem/1"
#: Largest sphere dimension m accepted. The cell bounds evaluate the 2^m corners of every
#: cell of the cubed sphere: at m = 8 a search of 60 000 cells peaks near 1.6 GB, at m = 10
#: 10 000 cells already need 9 GB, and m = 12 runs out of memory; so m <= 8 is what the
#: kernel can really do on an ordinary machine.
MAX_SPHERE_DIM = 8
#: Largest ``context_tokens`` (a sanity limit, like :data:`MAX_SEQUENCE_LENGTH`).
MAX_CONTEXT_TOKENS = 10**9


@lru_cache(maxsize=1)
def problem_schema() -> dict:
    """The JSON Schema of problem files."""
    text = resources.files("certify.formats").joinpath("schemas/problem.schema.json").read_text()
    return json.loads(text)


def _integer(value: Any, field: str, lo: int, hi: int) -> int:
    """An integer field in lo..hi; JSON 1.0 and true are refused (the schema's ``integer``
    admits 1.0)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(field, f"expected an integer, got {short_json(value)}")
    if not lo <= value <= hi:
        raise InputError(field, f"must be in {lo}..{hi}, got {short_int(value)}")
    return value


def _schema_error_message(err) -> str:
    kind = err.validator
    if kind == "required":
        return err.message.replace("is a required property", "is required (missing field)")
    if kind == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown field(s) {', '.join(map(repr, extra))}"
    if kind == "type":
        return f"expected {err.validator_value}, got {short_json(err.instance)}"
    if kind in ("const", "enum"):
        allowed = err.validator_value if kind == "enum" else [err.validator_value]
        return f"expected one of {', '.join(map(repr, allowed))}, got {short_json(err.instance)}"
    if kind in ("minimum", "exclusiveMinimum"):
        op = ">=" if kind == "minimum" else ">"
        return f"must be {op} {err.validator_value}, got {short_json(err.instance)}"
    if kind in ("maximum", "exclusiveMaximum"):
        op = "<=" if kind == "maximum" else "<"
        return f"must be {op} {err.validator_value}, got {short_json(err.instance)}"
    if kind == "minItems":
        return f"expected at least {err.validator_value} item(s), got {len(err.instance)}"
    if kind in ("minLength", "maxLength"):
        return f"string length must satisfy {kind} {err.validator_value}"
    return err.message if len(err.message) < 200 else err.message[:197] + "..."


_VECTOR_FIELDS = ("biases",)
_MATRIX_FIELDS = ("keys", "values", "embedding", "W_Q", "W_K", "W_V", "prefix", "context")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_numbers(value: Any, path: list, depth: int) -> None:
    """Type-check a vector (depth 1) or matrix (depth 2) of numbers in one fast pass."""
    if not isinstance(value, list):
        kind = "an array of numbers" if depth == 1 else "an array of arrays of numbers"
        raise InputError(json_path(path), f"expected {kind}, got {short_json(value)}")
    for i, item in enumerate(value):
        if depth == 2:
            _check_numbers(item, path + [i], 1)
        elif not _is_number(item):
            raise InputError(json_path(path + [i]), f"expected a number, got {short_json(item)}")


def _skeleton(doc: Any) -> Any:
    """The document with every numeric head array checked and cut to its first row.

    JSON Schema validation walks every number of a 10^5-row matrix slowly; the arrays are
    type-checked here in one pass, and the schema sees the rest of the structure.
    """
    if not (isinstance(doc, dict) and isinstance(doc.get("head"), dict)):
        return doc
    head = dict(doc["head"])
    for name, depth in [(f, 1) for f in _VECTOR_FIELDS] + [(f, 2) for f in _MATRIX_FIELDS]:
        if name in head:
            _check_numbers(head[name], ["head", name], depth)
            head[name] = head[name][:1]
    return {**doc, "head": head}


def validate_schema(doc: Any) -> None:
    """Apply the JSON Schema; the first error (deepest, most relevant) becomes an InputError."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(problem_schema())
    errors = list(validator.iter_errors(_skeleton(doc)))
    if not errors:
        return
    err = jsonschema.exceptions.best_match(errors)
    # best_match prefers shallow errors; a deeper one names the field more precisely
    deepest = max(errors, key=lambda e: len(e.absolute_path))
    if len(deepest.absolute_path) > len(err.absolute_path):
        err = deepest
    raise InputError(json_path(err.absolute_path), _schema_error_message(err))


def _matrix(doc: dict, name: str, rows: int | None, cols: int | None, prefix: str,
            allow_empty: bool = False) -> np.ndarray:
    path = f"{prefix}.{name}"
    value = doc[name]
    if len(value) == 0:
        if allow_empty:
            return np.zeros((0, cols or 0))
        raise InputError(path, "must not be empty")
    widths = {len(r) for r in value}
    if len(widths) != 1:
        bad = next(i for i, r in enumerate(value) if len(r) != len(value[0]))
        raise InputError(f"{path}[{bad}]", f"rows of different lengths ({len(value[bad])} vs {len(value[0])})")
    arr = np.array(value, dtype=np.float64)
    if rows is not None and arr.shape[0] != rows:
        raise InputError(path, f"expected {rows} rows, got {arr.shape[0]}")
    if cols is not None and arr.shape[1] != cols:
        raise InputError(path, f"expected {cols} columns, got {arr.shape[1]}")
    if arr.shape[1] == 0:
        raise InputError(path, "rows must not be empty")
    return arr


@dataclass
class Problem:
    """A validated problem: the head as an evaluator, the target, epsilon, canonical data."""

    sphere_dim: int
    head: CoreHead | SoftmaxHead
    target: Target
    epsilon: float
    canonical: dict = field(repr=False)
    meta: dict = field(default_factory=dict, repr=False)
    #: Sequence problems: the head at the other extreme token count (``head`` is the
    #: one at the smallest count); empty otherwise.
    other_heads: list = field(default_factory=list, repr=False)

    @property
    def sequence(self) -> dict | None:
        """{"max_length", "causal"} of a sequence problem (Corollary 2), else None."""
        return self.canonical.get("sequence")

    @property
    def heads(self) -> list:
        """The heads whose errors bound every case of the claim: the head alone, or for a
        sequence problem the head at the fewest and at the most inert tokens (the error
        at any count in between is at most the larger of the two: see ``zero_token_counts``)."""
        return [self.head] + list(self.other_heads)

    @property
    def zero_token_counts(self) -> tuple[int, ...]:
        """Extra tokens of score 0 and value 0 the query sees, at each extreme.

        For a sequence problem of max_length n: a reduced head sees its sequence's n' tokens
        (its own included), n' in [1, n]; a full-matrix head sees the n' - 1 others besides
        its own (already in the reduction). The output is num/(den + c) with num, den
        independent of the count c, so each |H_i - f_i| is a convex function of
        t = 1/(den + c), monotone in c: over c in [c_lo, c_hi] it is largest at an end.
        """
        seq = self.sequence
        if seq is None:
            return (0,)
        n = seq["max_length"]
        lo, hi = (0, n - 1) if "embedding" in self.canonical["head"] else (1, n)
        return (lo,) if lo == hi else (lo, hi)

    @property
    def kind(self) -> str:
        return self.canonical["head"]["kind"]

    @property
    def out_dim(self) -> int:
        return self.target.out_dim

    @property
    def prefix_length(self) -> int:
        head = self.canonical["head"]
        return len(head["prefix"] if "prefix" in head else head["keys"])

    @property
    def sha256(self) -> str:
        return canonical_hash(self.canonical)

    def head_for_tokens(self, tokens: int, field: str = "tokens") -> CoreHead | SoftmaxHead:
        """The head a query of a sequence problem sees in a sequence of ``tokens`` tokens (its
        own included): the other ``tokens - 1`` inert tokens join the context count."""
        if self.sequence is None:
            raise InputError(field, "only sequence problems have input tokens")
        n = self.sequence["max_length"]
        if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= n:
            raise InputError(field, f"must be in 1..{n} (the problem's max_length), got {tokens}")
        return dataclasses.replace(self.head, context_count=self.head.context_count + tokens - 1)

    def to_json(self) -> dict:
        doc = dict(self.canonical)
        if self.meta:
            doc["meta"] = self.meta
        return doc


def canonical_hash(canonical: dict) -> str:
    data = json.dumps(canonical, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def problem_from_dict(doc: Any) -> Problem:
    """Validate a parsed JSON document and build the :class:`Problem`."""
    if not isinstance(doc, dict):
        raise InputError("(top level)", f"expected a JSON object, got {type(doc).__name__}")
    check_finite(doc, [])
    validate_schema(doc)
    m = _integer(doc["sphere_dim"], "sphere_dim", 1, MAX_SPHERE_DIM)
    o = len(doc["target"])
    target = parse_target(doc["target"], m, fieldname="target")
    h = doc["head"]
    kind = h["kind"]
    if "embedding" in h:
        E = _matrix(h, "embedding", None, m + 1, "head")
        d = E.shape[0]
        W_Q = _matrix(h, "W_Q", None, d, "head")
        W_K = _matrix(h, "W_K", W_Q.shape[0], d, "head")
        W_V = _matrix(h, "W_V", o, d, "head")
        prefix = _matrix(h, "prefix", None, d, "head")
        context = _matrix(h, "context", None, d, "head", allow_empty=True) if "context" in h else np.zeros((0, d))
        self_attention = bool(h.get("self_attention", True))
        head = reduce_full_head(E, W_Q, W_K, W_V, prefix, self_attention, context)
        chead = {"kind": kind, "embedding": E.tolist(), "W_Q": W_Q.tolist(), "W_K": W_K.tolist(),
                 "W_V": W_V.tolist(), "prefix": prefix.tolist(), "self_attention": self_attention,
                 "context": context.tolist()}
    else:
        keys = _matrix(h, "keys", None, m + 1, "head")
        N = keys.shape[0]
        values = _matrix(h, "values", N, None, "head")
        if values.shape[1] != o:
            raise InputError("head.values", f"expected {o} columns (one per target expression), "
                                            f"got {values.shape[1]}")
        biases = np.zeros(N)
        if "biases" in h:
            biases = np.array(h["biases"], dtype=np.float64)
            if biases.shape != (N,):
                raise InputError("head.biases", f"expected {N} numbers (one per key), got {len(h['biases'])}")
        chead = {"kind": kind, "keys": keys.tolist(), "values": values.tolist(), "biases": biases.tolist()}
        if kind == "core":
            if "context_tokens" in h:
                raise InputError("head.context_tokens", "only softmax heads have context tokens")
            head = CoreHead(keys, values, biases)
        else:
            n = _integer(h.get("context_tokens", 0), "head.context_tokens", 0, MAX_CONTEXT_TOKENS)
            head = SoftmaxHead(keys, values, biases, context_count=n)
            chead["context_tokens"] = n
    canonical = {"format": FORMAT, "sphere_dim": m, "head": chead, "target": list(doc["target"]),
                 "epsilon": float(doc["epsilon"]), "norm": doc.get("norm", "max")}
    if "sequence" in doc:
        canonical["sequence"] = _sequence(doc["sequence"], h)
    problem = Problem(m, head, target, float(doc["epsilon"]), canonical, dict(doc.get("meta", {})))
    if problem.sequence is not None:
        base = head.context_count
        variants = [dataclasses.replace(head, context_count=base + c) for c in problem.zero_token_counts]
        problem.head, problem.other_heads = variants[0], variants[1:]
    return problem


#: Longest sequence a sequence problem may name (a sanity limit only).
MAX_SEQUENCE_LENGTH = 10**9


def _sequence(seq: dict, h: dict) -> dict:
    """Canonical sequence field; refuses heads whose input tokens are not inert."""
    if h["kind"] != "softmax":
        raise InputError("sequence", "needs a softmax head (a core head does not normalise over tokens)")
    n = _integer(seq["max_length"], "sequence.max_length", 1, MAX_SEQUENCE_LENGTH)
    if "embedding" in h:
        E = np.array(h["embedding"], dtype=np.float64)
        for name in ("W_K", "W_V"):
            W = np.array(h[name], dtype=np.float64)
            # entry by entry: every product W[a, j] E[j, b] has a zero factor, so W E = 0 exactly
            if np.any((W != 0).astype(np.int64) @ (E != 0).astype(np.int64)):
                raise InputError(f"head.{name}", "a sequence problem needs inert input tokens: "
                                 f"{name} E must vanish entry by entry (every product {name}[a, j] E[j, b] "
                                 "has a zero factor), as in the head of Lemma 3, so that every input token "
                                 "has score 0 and value 0")
    return {"max_length": int(n), "causal": bool(seq.get("causal", False))}


def load_problem(path: str | os.PathLike) -> Problem:
    """Read and validate a problem file (InputError naming the field on any violation)."""
    return problem_from_dict(read_json(path, "problem file"))


def make_problem(sphere_dim: int, kind: str, keys, values, target, epsilon: float,
                 biases=None, context_tokens: int | None = None, meta: dict | None = None,
                 sequence: dict | None = None) -> Problem:
    """Build and validate a reduced-form problem from arrays (what the constructions write)."""
    head: dict = {"kind": kind, "keys": np.asarray(keys, dtype=float).tolist(),
                  "values": np.asarray(values, dtype=float).reshape(len(keys), -1).tolist()}
    if biases is not None:
        head["biases"] = np.asarray(biases, dtype=float).tolist()
    if context_tokens is not None:
        head["context_tokens"] = int(context_tokens)
    doc = {"format": FORMAT, "sphere_dim": sphere_dim, "head": head,
           "target": [target] if isinstance(target, str) else list(target),
           "epsilon": float(epsilon), "norm": "max"}
    if meta:
        doc["meta"] = meta
    if sequence:
        doc["sequence"] = dict(sequence)
    return problem_from_dict(doc)
