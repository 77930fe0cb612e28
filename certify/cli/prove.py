"""``certify prove``: decide rigorously whether a problem's head meets its epsilon on S^m."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from certify.budgets import DEFAULT_MAX_CELLS
from certify.cli.options import (add_budget_options, add_json_option, add_workers_option, default_workers,
                                 output_file, positive_number)
from certify.cli.output import emit, finite_or_none, fmt, write
from certify.errors import EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "prove", help="decide (rigorously) whether a problem's head meets its epsilon on all of S^m",
        description="Decide sup_{x in S^m} max_i |H_i(x) - f_i(x)| <= epsilon by adaptive "
                    "branch-and-bound over the cubed sphere with outward-rounded interval bounds. "
                    "CERTIFIED (exit 0) writes a certificate with -o; REFUTED (exit 1) gives a witness "
                    "point whose error is rigorously above epsilon; UNDECIDED (exit 3) when the budget "
                    "runs out; exit 4 is an internal error, never a verdict. Every answer carries a rigorous enclosure [lower, upper] of the sup error.",
        epilog="examples:\n  certify prove p.json -o p.cert.json\n"
               "  certify prove p.json --accuracy 0.01 --json     # compute the sup to 1%\n"
               "  certify prove p.json --max-cells 200000\n"
               "  certify prove p.json --scheduler tcp://10.0.0.5:8786 -o p.cert.json\n\n"
               "The verdict, enclosure and certificate depend only on the problem and the budget\n"
               "(--max-cells, --accuracy, --method), whatever the machine's load. --time-limit is\n"
               "an extra cap; a verdict it cuts short depends on the host's speed and load.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("-o", "--output", type=output_file, metavar="CERT.json",
                   help="write the certificate here (CERTIFIED or REFUTED)")
    add_budget_options(p, DEFAULT_MAX_CELLS)
    p.add_argument("--accuracy", type=positive_number, default=None, metavar="A",
                   help="refine until upper/lower - 1 < A: compute the sup error, not only decide")
    p.add_argument("--method", choices=["taylor3", "lipschitz"], default=None,
                   help="cell bound (default: taylor3, or lipschitz for heads whose query attends to itself)")
    add_workers_option(p, "search and of the check")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the search on the Dask cluster whose scheduler is at ADDRESS "
                        "(tcp://HOST:8786; start it with `dask scheduler` and `dask worker ADDRESS "
                        "--nthreads 1` per core); same verdict and certificate; the check then runs "
                        "here with --workers; needs pip install 'certify[cluster]'")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import numpy as np

    from certify.certifier.pipeline import CERTIFIED, REFUTED, decide, partition_nodes
    from certify.formats import certificate
    from certify.formats.jsonio import write_json_atomic
    from certify.formats.problem import load_problem

    output = Path(args.output) if args.output is not None else None
    problem = load_problem(args.problem)
    show = sys.stderr.isatty() and not args.json

    def progress(info):
        if show:
            print(f"\r  cells {info['cells']:>9}  open {info['frontier']:>8}  "
                  f"sup error in [{fmt(info['lower'])}, {fmt(info['upper'])}]  {info['seconds']:.1f} s",
                  end="", file=sys.stderr, flush=True)

    d = decide(problem, max_cells=args.max_cells, time_limit=args.time_limit, accuracy=args.accuracy,
               method=args.method, progress=progress, workers=args.workers or default_workers(),
               scheduler=args.scheduler)
    r = d.result
    if show:
        print(file=sys.stderr)
    written = None
    if output is not None and d.certificate is not None:
        write(write_json_atomic, output, d.certificate, "-o")
        written = str(output)
    payload = {"problem": str(args.problem), "sha256": problem.sha256, "epsilon": problem.epsilon,
               "verdict": r.verdict, "lower": r.lower, "upper": finite_or_none(r.upper),
               "witness": None if r.witness is None else {"point": r.witness.point.tolist(),
                                                          "lower": r.witness.lower,
                                                          "upper": finite_or_none(r.witness.upper)},
               "method": r.method, "cells": r.cells, "leaves": r.leaf_count, "seconds": r.seconds,
               "accuracy": args.accuracy, "reason": r.reason or None, "certificate": written,
               "checked": d.report is not None and d.report.valid}
    lines = [f"{r.verdict}: sup_x max_i |H_i(x) - f_i(x)| <= {problem.epsilon:g}"
             + (" holds" if r.verdict == CERTIFIED else " is false" if r.verdict == REFUTED else " is undecided"),
             f"  rigorous enclosure of the sup error: [{fmt(r.lower)}, {fmt(r.upper)}]"]
    if r.witness is not None:
        lines.append(f"  witness x = y/|y|, y = {np.array2string(r.witness.point, precision=17, separator=', ')}"
                     f" (error in [{fmt(r.witness.lower)}, {fmt(r.witness.upper)}])")
    lines.append(f"  {r.cells} cells bounded ({r.method}), {r.leaf_count} leaves, {r.seconds:.2f} s"
                 + (f"; certificate re-checked by the independent checker in {d.report.seconds:.2f} s"
                    if d.report is not None else ""))
    if r.reason:
        lines.append(f"  stopped: {r.reason}")
    if written:
        nodes = partition_nodes(d.certificate)
        limit = f" --max-nodes {nodes}" if nodes > certificate.MAX_NODES else ""
        lines.append(f"  certificate: {written} (check it with: certify check {written}{limit})")
    elif output is not None:
        lines.append("  no certificate written: an UNDECIDED answer has none")
    emit(args, payload, lines)
    return {CERTIFIED: EXIT_OK, REFUTED: EXIT_REFUTED}.get(r.verdict, EXIT_UNDECIDED)
