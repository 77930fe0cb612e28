"""``certify construct``: build a prefix for a target and write a problem file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from certify.cli.options import add_json_option, output_file, positive_int
from certify.cli.output import emit, write
from certify.errors import EXIT_OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "construct", help="build a prefix for a target and write a problem file",
        description="Build a prefix whose head approximates the target on S^m and write it as a "
                    "problem file (certify.problem/1). 'net' (ours, THEORY 3.3): softmax head on a "
                    "delta-net; 'vmf' (the paper's route, THEORY 3.1): von Mises-Fisher quadrature on "
                    "Leopardi's equal-area partition. Parameters come from the derived constants "
                    "unless --lam / --prefix-length are given.",
        epilog='example:\n  certify construct --target "x0*x1" --target "exp(x2) - 1" --sphere-dim 2 '
               '--epsilon 0.3 --method net -o p.json',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", action="append", required=True, metavar="EXPR",
                   help="target component over x0..xm (repeat for vector targets)")
    p.add_argument("--sphere-dim", type=positive_int, required=True, metavar="M", help="m: inputs lie on S^m")
    # --epsilon, --lipschitz, --lam, --prefix-length, --max-prefix-length: checked by the construction
    p.add_argument("--epsilon", type=float, required=True, metavar="EPS", help="wanted sup-norm error")
    p.add_argument("--method", choices=["net", "vmf"], default="net")
    p.add_argument("--head", choices=["core", "softmax"], default=None,
                   help="vmf only: core (un-normalised, default) or softmax head")
    p.add_argument("--lipschitz", type=float, metavar="L",
                   help="chordal Lipschitz constant of every component (estimated by sampling if absent)")
    p.add_argument("--lam", type=float, metavar="LAMBDA", help="inverse temperature lambda (default: derived)")
    p.add_argument("--prefix-length", type=int, metavar="N", help="number of prefix tokens (default: derived)")
    p.add_argument("--max-prefix-length", type=int, default=200_000, metavar="N",
                   help="refuse derived constants needing more prefix tokens (default 200000)")
    p.add_argument("-o", "--output", type=output_file, required=True, metavar="PROBLEM.json")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from certify.constructions.prefixes import construct
    from certify.formats.expressions import parse_target
    from certify.formats.jsonio import write_json_atomic

    target = parse_target(args.target, args.sphere_dim, fieldname="--target")
    start = time.perf_counter()
    c = construct(args.method, target, args.epsilon, args.lipschitz, args.lam, args.prefix_length,
                  args.head, args.max_prefix_length)
    elapsed = time.perf_counter() - start
    write(write_json_atomic, Path(args.output), c.problem.to_json(), "-o")
    meta = c.problem.meta
    payload = {"output": str(args.output), "sha256": c.problem.sha256, "seconds": elapsed, **meta}
    lines = [f"wrote {args.output}: {args.method} construction, {c.problem.kind} head",
             f"  prefix length N = {c.problem.prefix_length}, lambda = {c.lam:.6g}, "
             f"covering radius delta = {c.partition.delta:.4g}",
             f"  Lipschitz L = {meta['lipschitz']:.4g}"
             + (" (ESTIMATED by sampling; pass --lipschitz for a stated constant)" if meta["lipschitz_estimated"] else ""),
             f"  a-priori bound from the derived constants: {c.predicted_bound:.4g} (epsilon {args.epsilon:g})",
             f"  sha256 {c.problem.sha256}",
             "  next: certify estimate " + str(args.output)]
    emit(args, payload, lines)
    return EXIT_OK
