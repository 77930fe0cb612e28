"""Strict JSON reading and atomic writing (trusted: every file the checker reads passes here).

* :func:`read_json` / :func:`parse_json_text`: NaN/Infinity literals are kept as floats so
  that :func:`check_finite` can refuse them with a JSON path; duplicate keys are refused;
  every failure is an :class:`~certify.errors.InputError` naming the file or the field.
* :func:`json_path` writes a field's location as ``head.keys[3][1]``.
* :func:`write_json_atomic` / :func:`write_npy_atomic`: through a temporary file and a rename,
  so no reader ever sees partial output.
* :func:`pack_array` / :func:`unpack_array`: arrays inside JSON as base64 of zlib data;
  decoding is bounded before it starts (a few kilobytes of zlib can carry gigabytes).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from certify.errors import InputError

#: Largest magnitude of a JSON number: beyond it a number does not fit float64.
MAX_NUMBER = sys.float_info.max


def json_path(parts) -> str:
    """('head', 'keys', 3, 1) -> 'head.keys[3][1]'."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def short_json(value: Any) -> str:
    text = json.dumps(value, allow_nan=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def short_int(value: int) -> str:
    digits = len(str(abs(value)))
    return f"{'-' if value < 0 else ''}{str(abs(value))[:3]}...({digits} digits)" if digits > 20 else str(value)


def _reject_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise InputError(key, "duplicate key in a JSON object")
        seen[key] = value
    return seen


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """Read a JSON file strictly: NaN/Infinity literals are kept as floats for the finiteness
    walk to reject with a path; duplicate keys are refused."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(what, f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(what, f"cannot read {path}: {exc}") from None
    return parse_json_text(text, what)


def parse_json_text(text: str, what: str = "file") -> Any:
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates,
                          parse_constant=lambda name: float(name.replace("Infinity", "inf")))
    except json.JSONDecodeError as exc:
        raise InputError(what, f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise InputError(what, "JSON nested too deeply") from None


def check_finite(value: Any, path: list, error=InputError) -> None:
    """Refuse, as ``error(json path, message)``, the first NaN, infinite or beyond-float64
    number anywhere in a JSON value."""
    if isinstance(value, float) and not math.isfinite(value):
        raise error(json_path(path), f"{value} is not a finite number (NaN, Infinity and "
                                     "numbers beyond float64 are refused)")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        # compared exactly (int against float): 10**400 would overflow float() later
        raise error(json_path(path), f"the integer {short_int(value)} is beyond float64 (numbers "
                                     f"larger than {MAX_NUMBER:.6g} in magnitude are refused)")
    if isinstance(value, dict):
        for k, v in value.items():
            check_finite(v, path + [k], error)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_finite(v, path + [i], error)


def _write_atomic(path: str | os.PathLike, suffix: str, mode: str, write) -> None:
    """``write(fh)`` into a temporary file beside ``path``, then rename it over ``path``: a
    reader never sees partial output, and a failure leaves no temporary file behind."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_json_atomic(path: str | os.PathLike, doc: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it: no partial output."""
    text = json.dumps(doc, indent=1, allow_nan=False) + "\n"  # serialised before anything is created
    _write_atomic(path, ".tmp", "w", lambda fh: fh.write(text))


def write_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """np.save through a temporary file and a rename."""
    _write_atomic(path, ".tmp.npy", "wb", lambda fh: np.save(fh, array, allow_pickle=False))


def pack_array(data: np.ndarray, dtype: str) -> str:
    """``data`` as ``dtype`` (``"u1"`` bytes or ``"<f8"`` float64), zlib-compressed and base64-encoded."""
    return base64.b64encode(zlib.compress(np.asarray(data, dtype=dtype).tobytes(), 9)).decode("ascii")


def unpack_array(text: Any, dtype: str, limit: int, field: str, error=InputError) -> np.ndarray:
    """The array of :func:`pack_array`. Any decoding failure (not a string, not base64, not
    zlib, truncated, more than ``limit`` elements, a partial element) raises ``error(field,
    message)`` before more than ``limit`` elements are decompressed."""
    size = np.dtype(dtype).itemsize
    if not isinstance(text, str):
        raise error(field, f"expected a base64 string, got {type(text).__name__}")
    try:
        d = zlib.decompressobj()
        raw = d.decompress(base64.b64decode(text.encode("ascii"), validate=True), size * limit + 1)
    except (binascii.Error, zlib.error, UnicodeError, ValueError) as exc:
        raise error(field, f"not base64 zlib data ({exc})") from None
    if len(raw) > size * limit or d.unconsumed_tail:
        raise error(field, f"decompresses to more than {limit} {'bytes' if size == 1 else 'numbers'}")
    if not d.eof:
        raise error(field, "truncated compressed data")
    if len(raw) % size:
        raise error(field, f"{len(raw)} bytes is not a whole number of {np.dtype(dtype).name} values")
    return np.frombuffer(raw, dtype=dtype).copy()
