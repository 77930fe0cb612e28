"""What the commands print and write: the answer (lines or one JSON object), progress on
stderr, output files (removed again when the command ends in an error), a closed stdout."""

from __future__ import annotations

import io
import json
import math
import os
import sys
from pathlib import Path

from certify.errors import InputError

#: Output files written by the running command: removed again when it ends in an error.
WRITTEN: list[Path] = []


def progress_printer(enabled: bool):
    """A progress callback printing ``  ... message`` on stderr, or None when disabled."""
    if not enabled:
        return None

    def show(message: str) -> None:
        print(f"  ... {message}", file=sys.stderr, flush=True)

    return show


def emit(args, payload: dict, lines: list[str]) -> None:
    """Print the answer: ``payload`` as one JSON object with ``--json``, else ``lines``."""
    text = (json.dumps(payload, indent=1, allow_nan=False, default=json_default)
            if getattr(args, "json", False) else "\n".join(lines))
    try:
        print(text, flush=True)
    except BrokenPipeError:
        # a reader such as `head` stopped early: the answer is decided, its exit code stands
        silence_stdout()


def json_default(obj):
    import numpy as np

    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def finite_or_none(x: float | None):
    return x if x is not None and math.isfinite(x) else None


def fmt(x) -> str:
    return "unknown" if x is None or not math.isfinite(x) else f"{x:.6g}"


def write(writer, path: Path, data, field: str) -> None:
    """``writer(path, data)``, an OSError refused as bad input naming ``field``; the file is
    removed again if the command then fails."""
    try:
        writer(path, data)
    except OSError as exc:
        raise InputError(field, f"cannot write {path}: {exc.strerror or exc}") from None
    WRITTEN.append(Path(path))


def remove_written() -> None:
    for path in WRITTEN:
        try:
            path.unlink()
        except OSError:
            pass


def silence_stdout() -> None:
    """After a closed pipe (``certify ... | head``): send the rest of stdout to /dev/null, as
    Python's documentation recommends, so that the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        # stdout is no file descriptor (a stream replaced in-process): replace the stream
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
