"""Certifying on S^3 and S^4: vMF softmax heads decided through prove -> check, with peak memory.

Cases (target x0*x1, keys and values from ``construct_vmf(..., kind="softmax")``):

* m = 3: lambda = 100, N = 2000 keys, epsilon = 1.1 x the estimated sup error;
* m = 4: lambda = 30,  N = 1000 keys, epsilon = 1.2 x the estimated sup error.

The sup error is estimated by dense sampling and local refinement (not rigorous; a wrong
estimate can only make the case REFUTED or slower, never a wrong verdict). Each case runs in
its own process so that its peak resident memory (``ru_maxrss`` of the process and of its
workers) is its own; the frontier's in-memory peak and the cells spilled to disk are reported.

Run:  python benchmarks/bench_highdim.py [--cases m3,m4] [--workers 2] [--max-cells 20000000]
      [--time-limit S] [--out benchmarks/HIGHDIM.md]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys

CASES = {
    "m3": dict(m=3, lam=100.0, n=2000, factor=1.1, goal_s=600),
    "m4": dict(m=4, lam=30.0, n=1000, factor=1.2, goal_s=3600),
}


def problem_for(case: dict, epsilon: float):
    from certify.constructions.prefixes import construct_vmf
    from certify.formats.expressions import parse_target

    target = parse_target(["x0*x1"], case["m"])
    return construct_vmf(target, epsilon, lam=case["lam"], prefix_length=case["n"], kind="softmax").problem


def one(name: str, workers: int, max_cells: int, time_limit: float | None) -> dict:
    """Run one case here; returns its row (called in a child process)."""
    from certify.certifier.estimate import estimate_sup_error
    from certify.certifier.pipeline import decide

    case = CASES[name]
    sup = estimate_sup_error(problem_for(case, 1.0)).value
    problem = problem_for(case, case["factor"] * sup)
    d = decide(problem, max_cells=max_cells, time_limit=time_limit, workers=workers)
    r = d.result
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB on Linux
    return {"case": name, "m": case["m"], "lambda": case["lam"], "N": case["n"], "factor": case["factor"],
            "sup_estimate": sup, "epsilon": problem.epsilon, "verdict": r.verdict, "lower": r.lower,
            "upper": r.upper, "cells": r.cells, "search_s": r.seconds,
            "check_s": d.report.seconds if d.report is not None else None, "goal_s": case["goal_s"],
            "peak_frontier": r.peak_frontier, "spilled": r.spilled, "peak_rss_mib": rss / 1024,
            "reason": r.reason, "workers": workers}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="m3,m4")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-cells", type=int, default=20_000_000)
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "HIGHDIM.md"))
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.workers, args.max_cells, args.time_limit)))
        return
    rows = []
    for name in args.cases.split(","):
        cmd = [sys.executable, __file__, "--one", name, "--workers", str(args.workers),
               "--max-cells", str(args.max_cells)]
        if args.time_limit is not None:
            cmd += ["--time-limit", str(args.time_limit)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        rows.append(row)
        print(f"{name}: {row['verdict']}, {row['cells']} cells, {row['search_s']:.0f} s search, "
              f"peak {row['peak_rss_mib']:.0f} MiB", flush=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"\n## {stamp} on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}), {args.workers} workers, --max-cells {args.max_cells}"
             + (f", --time-limit {args.time_limit:g}" if args.time_limit else ""), "",
             "| case | lambda | N | epsilon (x est. sup) | verdict | enclosure | cells | search s | check s "
             "| goal s | frontier peak (cells in memory) | spilled | peak RSS MiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        check = f"{r['check_s']:.0f}" if r["check_s"] is not None else "-"
        lines.append(f"| S^{r['m']} | {r['lambda']:g} | {r['N']} | {r['epsilon']:.6g} ({r['factor']}) | "
                     f"{r['verdict']} | [{r['lower']:.4g}, {r['upper']:.4g}] | {r['cells']} | "
                     f"{r['search_s']:.0f} | {check} | {r['goal_s']} | {r['peak_frontier']} | "
                     f"{r['spilled']} | {r['peak_rss_mib']:.0f} |")
        if r["reason"]:
            lines.append(f"\n{r['case']} stopped: {r['reason']}")
    new = not os.path.exists(args.out)
    with open(args.out, "a") as fh:
        if new:
            fh.write("# Certifying on S^3 and S^4\n\nWritten by `python benchmarks/bench_highdim.py` "
                     "(appends one section per run).\n")
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
