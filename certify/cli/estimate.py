"""``certify estimate``: a NON-RIGOROUS estimate of the sup error by sampling."""

from __future__ import annotations

import argparse
import sys
import time

from certify.cli.options import add_json_option, positive_int
from certify.cli.output import emit, finite_or_none, progress_printer
from certify.errors import EXIT_OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "estimate", help="NON-RIGOROUS estimate of the sup error by sampling",
        description="Estimate sup_x max_i |H_i(x) - f_i(x)| by dense sampling plus local "
                    "refinement. This is a lower estimate, NOT a certificate: a narrow bad region "
                    "between samples can be missed.",
        epilog="example:\n  certify estimate p.json --samples 50000 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("problem", metavar="PROBLEM.json")
    p.add_argument("--samples", type=positive_int, default=20000, help="sample points (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import numpy as np

    from certify.certifier.estimate import estimate_sup_error
    from certify.formats.problem import load_problem

    problem = load_problem(args.problem)
    start = time.perf_counter()
    progress = progress_printer(sys.stderr.isatty() and not args.json)
    est = estimate_sup_error(problem, samples=args.samples, seed=args.seed, progress=progress)
    elapsed = time.perf_counter() - start
    payload = {"problem": str(args.problem), "sha256": problem.sha256, "epsilon": problem.epsilon,
               **est.to_json(), "value": finite_or_none(est.value), "seconds": elapsed}
    verdict = ("below epsilon at every point tried" if est.value <= problem.epsilon
               else "ABOVE epsilon at the argmax" if est.value > problem.epsilon
               else "undefined (NaN) at the argmax")
    lines = ["NON-RIGOROUS ESTIMATE (sampling; a narrow bad region can be missed; not a certificate)",
             f"  largest error found: {est.value:.6g}  ({verdict}; epsilon {problem.epsilon:g})",
             f"  at x = {np.array2string(est.argmax, precision=6, separator=', ')}",
             f"  points used: {est.points_used} ({est.samples} samples, {est.refined} local refinements), "
             f"{elapsed:.2f} s"]
    emit(args, payload, lines)
    return EXIT_OK
