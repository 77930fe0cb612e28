"""Per-cell cost of the rigorous cell bounds, this tree against a baseline tree, side by side.

Workload: the cells that `certify prove` and its check bound for W1 (m = 2, N Fibonacci keys
scaled by lambda = 300, target x0*x1, eps = 1e-2; N = 1000 and 10^4), recorded once (every
``--stride``-th chunk of the pipeline's calls, with their exact chunking), then bounded again
by ``bound_cells`` in a fresh process per run, alternating this tree and the baseline tree.
The time is the process's CPU time for the bounds alone (no search, no start-up), so the
comparison counts work, not the host's load; medians of ``--repeats`` paired runs. Each run
also reports how many of the cells the bounds decide (U <= eps), which must not drop.

Run:  git worktree add /tmp/base <commit>
      python benchmarks/bench_cellbound.py --baseline /tmp/base [--repeats 5] [--out benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import pickle
import platform
import statistics
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def record(n: int, stride: int, path: str) -> int:
    """Run W1 with N keys through prove -> check and keep every stride-th bound_cells call."""
    sys.path.insert(0, HERE)
    import certify.checker.pool as pool
    from bench_prove import w1
    from certify.certifier.pipeline import decide

    calls = []
    orig = pool.bound_cells

    def spy(model, sd, F, L, C, method=None):
        calls.append((sd, F.copy(), L.copy(), C.copy(), method))
        return orig(model, sd, F, L, C, method)

    pool.bound_cells = spy
    try:
        decide(w1(n), max_cells=50_000_000, workers=1)
    finally:
        pool.bound_cells = orig
    kept = calls[::stride]
    with open(path, "wb") as fh:
        pickle.dump(kept, fh)
    return sum(c[1].shape[0] for c in kept)


_RUN = r"""
import json, pickle, sys, time
sys.path.insert(0, {bench!r})
import numpy as np
from bench_prove import w1
from certify.kernel import cellbound as cb
calls = pickle.load(open({cells!r}, "rb"))
model = cb.prepare(w1({n}))
sd, F, L, C, m = calls[0]
cb.bound_cells(model, sd, F[:8], L[:8], C[:8], m)   # lazy tables built outside the timing
t = time.process_time()
U = np.concatenate([cb.bound_cells(model, sd, F, L, C, m)[0] for sd, F, L, C, m in calls])
cpu = time.process_time() - t
import certify
print(json.dumps({{"cpu": cpu, "cells": int(U.size), "decided": int(np.sum(U <= 1e-2)), "module": certify.__file__}}))
"""


def run_tree(tree: str, n: int, cells: str) -> dict:
    from _report import run_in_tree

    return run_in_tree(tree, _RUN.format(bench=HERE, cells=cells, n=n))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="a checkout of the baseline commit (git worktree add)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stride", type=int, default=4, help="keep every stride-th recorded chunk")
    ap.add_argument("--ns", default="1000,10000")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    from _report import append_section

    base_rev = subprocess.run(["git", "-C", args.baseline, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or args.baseline
    this_rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.ns.split(",")):
            cells = os.path.join(tmp, f"cells{n}.pkl")
            count = record(n, args.stride, cells)
            ours, base = [], []
            for _ in range(args.repeats):
                base.append(run_tree(os.path.abspath(args.baseline), n, cells))
                ours.append(run_tree(ROOT, n, cells))
                print(f"N={n}: baseline {base[-1]['cpu']:.2f} s, this tree {ours[-1]['cpu']:.2f} s", flush=True)
            mb = statistics.median(r["cpu"] for r in base)
            mo = statistics.median(r["cpu"] for r in ours)
            rows.append((n, count, mb, mo, base[0]["decided"], ours[0]["decided"]))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"\n## Cell bounds, {stamp} on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, numpy {np.__version__})\n",
             f"`bench_cellbound.py`: the same recorded W1 cells bounded by baseline {base_rev} and by {this_rev}, "
             f"CPU seconds of the bounds alone, median of {args.repeats} alternated runs, one thread each\n",
             "| N | cells | baseline s | this tree s | baseline / this | decided (U <= eps), baseline | decided, this |",
             "|---|---|---|---|---|---|---|"]
    for n, count, mb, mo, db, do in rows:
        lines.append(f"| {n} | {count} | {mb:.2f} | {mo:.2f} | {mb / mo:.2f}x | {db} | {do} |")
    append_section(args.out, lines)


if __name__ == "__main__":
    main()
