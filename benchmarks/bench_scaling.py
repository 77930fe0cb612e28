"""How the certifier's cost grows with the number of keys N and with 1/epsilon.

Workload: W1's family (m = 2, N Fibonacci-sphere keys scaled by lambda = 300, softmax head,
target x0*x1, values f(keys)), decided through the prove -> write -> check pipeline with one
worker. Rows: N in NS at epsilon = 1e-2, and epsilon in EPSILONS at N = 1000. Each point is the
median of ``--repeats`` runs of the search (the check's time beside it). Fitted log-log slopes
say how the cost grows; a figure is written beside the table.

Run:  python benchmarks/bench_scaling.py [--repeats 3] [--ns 1000,2000,4000,10000,100000]
                                        [--out benchmarks/SCALING.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics

import numpy as np

from bench_prove import w1
from certify.certifier.pipeline import decide
from _report import append_section

NS = (1000, 2000, 4000, 10_000)
EPSILONS = (4e-2, 2e-2, 1e-2, 7e-3)


def measure(problem, repeats):
    runs = [decide(problem, max_cells=50_000_000, workers=1) for _ in range(repeats)]
    r = runs[0].result
    check = [d.report.seconds for d in runs if d.report is not None]
    return (r.verdict, r.cells, statistics.median(d.result.seconds for d in runs),
            statistics.median(check) if check else float("nan"))


def slope(xs, ys):
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def figure(path, by_n, by_eps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, rows, label in ((axes[0], by_n, "keys N (eps = 1e-2)"), (axes[1], by_eps, "1 / epsilon (N = 1000)")):
        x = np.array([r[0] for r in rows], dtype=float)
        ax.loglog(x, [r[3] for r in rows], "o-", label="search s")
        ax.loglog(x, [r[2] / 1e5 for r in rows], "s--", label="cells / 1e5")
        ax.set_xlabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("certify prove on W1's family (m = 2, lambda = 300, x0*x1), one worker")
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ns", default=",".join(map(str, NS)), help="the key counts N of the first rows")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "SCALING.md"))
    args = ap.parse_args()
    by_n = []
    for n in (int(x) for x in args.ns.split(",")):
        verdict, cells, sec, check = measure(w1(n=n), args.repeats)
        by_n.append((n, verdict, cells, sec, check))
        print(f"N = {n}: {verdict}, {cells} cells, {sec:.2f} s (x{sec / by_n[0][3]:.1f} the first row)", flush=True)
    by_eps = []
    for eps in EPSILONS:
        verdict, cells, sec, check = measure(w1(eps=eps), args.repeats)
        by_eps.append((1 / eps, verdict, cells, sec, check))
        print(f"eps = {eps:g}: {verdict}, {cells} cells, {sec:.2f} s", flush=True)
    fig = os.path.join(os.path.dirname(args.out), "scaling.png")
    figure(fig, by_n, by_eps)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"\n## {stamp} on {platform.node()} ({platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, numpy {np.__version__})\n",
             f"Medians of {args.repeats} runs, one worker; figure: `{os.path.basename(fig)}`.\n",
             "| N | epsilon | verdict | cells | search s | search / first row | check s |",
             "|---|---|---|---|---|---|---|"]
    first = by_n[0][3]
    lines += [f"| {n} | 0.01 | {v} | {c} | {s:.2f} | {s / first:.1f}x | {k:.2f} |" for n, v, c, s, k in by_n]
    lines += [f"| 1000 | {1 / inv:g} | {v} | {c} | {s:.2f} | {s / first:.1f}x | {k:.2f} |"
              for inv, v, c, s, k in by_eps]
    lines += ["", f"log-log slopes: search time ~ N^{slope([r[0] for r in by_n], [r[3] for r in by_n]):.2f}, "
                  f"cells ~ N^{slope([r[0] for r in by_n], [r[2] for r in by_n]):.2f}; "
                  f"search time ~ (1/eps)^{slope([r[0] for r in by_eps], [r[3] for r in by_eps]):.2f}, "
                  f"cells ~ (1/eps)^{slope([r[0] for r in by_eps], [r[2] for r in by_eps]):.2f}\n"]
    append_section(args.out, lines)


if __name__ == "__main__":
    main()
