"""``certify eval``: evaluate a problem's head at points on the sphere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certify.cli.options import add_json_option, output_file
from certify.cli.output import emit, write
from certify.errors import EXIT_OK, InputError

#: Largest distance from the unit sphere accepted for evaluation points.
UNIT_TOLERANCE = 1e-9


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval", help="evaluate a problem's head at points on the sphere",
        description="Evaluate the head of PROBLEM.json at unit points X (B x (m+1), .npy) and write "
                    "the outputs (B x o, .npy). Points farther than 1e-9 from the unit sphere are refused.",
        epilog="example:\n  certify eval p.json --points X.npy --out Y.npy",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("--points", required=True, metavar="X.npy")
    p.add_argument("--out", type=output_file, required=True, metavar="Y.npy")
    p.add_argument("--tokens", type=int, default=None, metavar="N",
                   help="sequence problems: the output of a query that sees N input tokens, itself "
                        "included (a position of a length-N sequence; default 1)")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def load_points(path: str, sphere_dim: int):
    """The points of a .npy file as a float64 array (B, m + 1) on the unit sphere, or bad input
    naming --points."""
    import numpy as np

    try:
        X = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError("--points", f"no such file: {path}") from None
    except (ValueError, OSError, EOFError) as exc:
        raise InputError("--points", f"not a readable .npy array without pickles: {exc}") from None
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiu":
        raise InputError("--points", "expected a numeric .npy array")
    if X.ndim != 2 or X.shape[1] != sphere_dim + 1:
        raise InputError("--points", f"expected shape (B, {sphere_dim + 1}), got {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError("--points", f"row {bad} has a NaN or infinite coordinate")
    off = np.abs(np.linalg.norm(X, axis=1) - 1.0)
    if X.shape[0] and off.max() > UNIT_TOLERANCE:
        bad = int(np.argmax(off))
        raise InputError("--points", f"row {bad} is off the unit sphere by {off[bad]:.3g} "
                                     f"(tolerance {UNIT_TOLERANCE:g}); normalise the points")
    return X


def run(args) -> int:
    import dataclasses

    import numpy as np

    from certify.formats.jsonio import write_npy_atomic
    from certify.formats.problem import load_problem

    problem = load_problem(args.problem)
    X = load_points(args.points, problem.sphere_dim)
    head = problem.head
    if args.tokens is not None:
        # the problem's max_length bounds --tokens: checked once the problem is read
        if problem.sequence is None:
            raise InputError("--tokens", "only sequence problems have input tokens")
        n = problem.sequence["max_length"]
        if not 1 <= args.tokens <= n:
            raise InputError("--tokens", f"must be in 1..{n} (the problem's max_length), got {args.tokens}")
        head = dataclasses.replace(head, context_count=head.context_count + args.tokens - 1)
    Y = head(X)
    write(write_npy_atomic, Path(args.out), Y, "--out")
    bad = int((~np.isfinite(Y)).any(axis=1).sum())
    if bad:
        print(f"warning: {bad} output row(s) are not finite (overflow in float64)", file=sys.stderr)
    emit(args, {"output": str(args.out), "shape": list(Y.shape), "non_finite_rows": bad},
         [f"wrote {args.out}: head outputs of shape {Y.shape}"])
    return EXIT_OK
