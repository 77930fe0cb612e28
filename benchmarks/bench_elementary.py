"""The kernel's own elementary functions against numpy's, side by side.

1. Per-element time of each function on 10^6 arguments (kernel enclosure vs numpy's value).
2. W1 (m = 2, N = 1000 Fibonacci keys, lambda = 300, eps = 1e-2; see bench_prove.py) proven
   with the kernel's functions and, as a baseline, with numpy's exp/log/... widened by 2 ulps
   (the former, host-dependent backend), runs alternated so machine load hits both alike;
   and the checker's time on the certificate.

Run:  python benchmarks/bench_elementary.py [--repeats 3] [--out benchmarks/ELEMENTARY.md]
Writes medians and ratios (appended, with date and machine).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from bench_prove import w1  # noqa: E402

from certify.kernel import elementary as el  # noqa: E402
from certify.certifier.pipeline import decide  # noqa: E402
from _report import append_section  # noqa: E402

NUMPY = {"exp": np.exp, "log": np.log, "sin": np.sin, "cos": np.cos, "tan": np.tan, "sinh": np.sinh,
         "cosh": np.cosh, "tanh": np.tanh, "arctan": np.arctan}


def _numpy_bounds(fn):
    """numpy's value widened by two ulps each side: the old backend (NOT sound on every host)."""
    def bounds(x):
        with np.errstate(all="ignore"):
            y = fn(x)
        lo, hi = y, y
        for _ in range(2):
            lo, hi = el.down(lo), el.up(hi)
        return lo, hi
    return bounds


class numpy_backend:
    def __enter__(self):
        self.saved = dict(el.BOUNDS)
        for k, f in NUMPY.items():
            el.BOUNDS[k] = _numpy_bounds(f)

    def __exit__(self, *exc):
        el.BOUNDS.clear()
        el.BOUNDS.update(self.saved)


def micro(repeats):
    rng = np.random.default_rng(0)
    args = {"exp": rng.uniform(-700, 0, 10**6), "log": rng.uniform(1e-3, 1e3, 10**6),
            "arctan": rng.uniform(-50, 50, 10**6)}
    rows = []
    for name in NUMPY:
        x = args.get(name, rng.uniform(-10, 10, 10**6))
        own, ref = [], []
        for _ in range(repeats):
            t = time.perf_counter(); el.BOUNDS[name](x); own.append(time.perf_counter() - t)
            t = time.perf_counter(); NUMPY[name](x); ref.append(time.perf_counter() - t)
        rows.append((name, statistics.median(own) * 1e3, statistics.median(ref) * 1e3))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "ELEMENTARY.md"))
    args = ap.parse_args()

    rows = micro(max(args.repeats, 5))
    p = w1()
    own, ref, check = [], [], []
    for _ in range(args.repeats):
        d = decide(p, max_cells=50_000_000)  # prove -> write -> check
        own.append(d.result)
        check.append(d.report.seconds)
        with numpy_backend():
            ref.append(decide(p, max_cells=50_000_000).result)
    m_own = statistics.median(x.seconds for x in own)
    m_ref = statistics.median(x.seconds for x in ref)
    m_chk = statistics.median(check)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [f"\n## {stamp} on {platform.node()} ({platform.machine()}, {platform.processor() or 'cpu'}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__})\n",
             "Per-element time, 10^6 arguments (median of runs):\n",
             "| function | kernel enclosure ms | numpy value ms | ratio |", "|---|---|---|---|"]
    lines += [f"| {n} | {a:.1f} | {b:.1f} | {a / b:.1f}x |" for n, a, b in rows]
    lines += ["", f"W1 certify, median of {args.repeats} alternated runs:\n",
              "| backend | verdict | cells | upper | median s |", "|---|---|---|---|---|",
              f"| kernel's own functions | {own[0].verdict} | {own[0].cells} | {own[0].upper:.6g} | {m_own:.2f} |",
              f"| numpy's (+-2 ulps, host-dependent) | {ref[0].verdict} | {ref[0].cells} | {ref[0].upper:.6g} | {m_ref:.2f} |",
              "", f"ratio own / numpy: {m_own / m_ref:.2f}x (goal <= 1.5x); checker on the certificate: "
              f"{m_chk:.2f} s ({m_chk / m_own:.2f}x the search)\n"]
    append_section(args.out, lines)


if __name__ == "__main__":
    main()
