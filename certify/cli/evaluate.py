"""``certify eval``: evaluate a problem's head at points on the sphere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certify.cli.options import add_json_option, output_file
from certify.cli.output import emit, write
from certify.errors import EXIT_OK

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


def run(args) -> int:
    import numpy as np

    from certify.formats.jsonio import write_npy_atomic
    from certify.formats.points import read_unit_points
    from certify.formats.problem import load_problem
    from certify.heads.attention import head_values

    problem = load_problem(args.problem)
    X = read_unit_points(args.points, problem.sphere_dim, field="--points")
    head = problem.head if args.tokens is None else problem.head_for_tokens(args.tokens, field="--tokens")
    Y = head_values(head, X)
    write(write_npy_atomic, Path(args.out), Y, "--out")
    bad = int((~np.isfinite(Y)).any(axis=1).sum())
    if bad:
        print(f"warning: {bad} output row(s) are not finite (overflow in float64)", file=sys.stderr)
    emit(args, {"output": str(args.out), "shape": list(Y.shape), "non_finite_rows": bad},
         [f"wrote {args.out}: head outputs of shape {Y.shape}"])
    return EXIT_OK
