"""The whole search, this tree against a baseline tree, side by side.

Workload: W1 (m = 2, N Fibonacci keys scaled by lambda = 300, target x0*x1, eps = 1e-2) for
each N of ``--ns``, decided by `prove` with one worker in a fresh process per run,
alternating the baseline tree and this tree. The time is the process's CPU time of the
search alone (no start-up, no check), so the comparison counts work, not the host's load;
medians of ``--repeats`` paired runs, with the cells each search bounded (a change of bound
changes how many cells it needs: this is where that shows), and the median system time and
minor page faults (first touches of freshly mapped arrays: a share of the CPU time that
moves with allocation, not with arithmetic).

Run:  git worktree add /tmp/base <commit>
      python benchmarks/bench_search_ab.py --baseline /tmp/base [--repeats 3] [--ns 1000,10000]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_RUN = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
from bench_prove import w1
from certify.certifier import search
import resource
p = w1({n})
search.prove(w1(48), max_cells=10_000, workers=1)    # imports and lazy tables outside the timing
t = time.process_time()
r0 = resource.getrusage(resource.RUSAGE_SELF)
r = search.prove(p, max_cells=50_000_000, workers=1)
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu = time.process_time() - t
import certify
print(json.dumps({{"cpu": cpu, "cells": r.cells, "verdict": r.verdict, "module": certify.__file__,
                  "user": r1.ru_utime - r0.ru_utime, "sys": r1.ru_stime - r0.ru_stime,
                  "faults": r1.ru_minflt - r0.ru_minflt}}))
"""


def run_tree(tree: str, n: int) -> dict:
    from _report import run_in_tree

    return run_in_tree(tree, _RUN.format(bench=HERE, n=n))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="a checkout of the baseline commit (git worktree add)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ns", default="1000,10000")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    from _report import append_section

    rev = lambda tree: subprocess.run(["git", "-C", tree, "rev-parse", "--short", "HEAD"],
                                      capture_output=True, text=True).stdout.strip() or tree
    rows = []
    for n in (int(x) for x in args.ns.split(",")):
        ours, base = [], []
        for _ in range(args.repeats):
            base.append(run_tree(os.path.abspath(args.baseline), n))
            ours.append(run_tree(ROOT, n))
            print(f"N={n}: baseline {base[-1]['cpu']:.2f} s ({base[-1]['cells']} cells), "
                  f"this tree {ours[-1]['cpu']:.2f} s ({ours[-1]['cells']} cells)", flush=True)
        mb = statistics.median(r["cpu"] for r in base)
        mo = statistics.median(r["cpu"] for r in ours)
        side = lambda runs: (statistics.median(r["sys"] for r in runs), statistics.median(r["faults"] for r in runs))
        rows.append((n, mb, mo, base[0], ours[0], side(base), side(ours)))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"\n## Search, {stamp} on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()})\n",
             f"`bench_search_ab.py`: W1's search (eps 1e-2, one worker) by baseline {rev(args.baseline)} and by "
             f"{rev(ROOT)}, CPU seconds of the search alone, median of {args.repeats} alternated runs\n",
             "| N | baseline s | this tree s | baseline / this | cells, baseline | cells, this | verdicts "
             "| system s, baseline / this | page faults, baseline / this |",
             "|---|---|---|---|---|---|---|---|---|"]
    for n, mb, mo, b, o, sb, so in rows:
        lines.append(f"| {n} | {mb:.2f} | {mo:.2f} | {mb / mo:.2f}x | {b['cells']} | {o['cells']} | "
                     f"{b['verdict']} / {o['verdict']} | {sb[0]:.2f} / {so[0]:.2f} | {sb[1]:,.0f} / {so[1]:,.0f} |")
    append_section(args.out, lines)


if __name__ == "__main__":
    main()
