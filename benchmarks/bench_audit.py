"""Audit benchmark: wall time of ``certify audit`` (every proofs/ check, the figures and the
report files), which must stay within 2 minutes on the 2-core reference machine.

Run:  python benchmarks/bench_audit.py [--repeats 3] [--out benchmarks/RESULTS.md]
Appends the median and the slowest results (median seconds per result) to the output file,
and whether every run reproduced the first one's verdicts, statements and tables (they stop on
work budgets, not on the clock, so they must: a run on a loaded machine is slower, not different).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import tempfile
import time

from certify.report.audit import compare_reports, run_audit
from _report import append_section

LIMIT_S = 120.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "RESULTS.md"))
    args = ap.parse_args()
    walls, per, docs = [], {}, []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            doc = run_audit(tmp)
            walls.append(time.perf_counter() - t)
        docs.append(doc)
        for r in doc["results"]:
            per.setdefault(r["label"], []).append(r["seconds"])
        print(f"run {i + 1}: {walls[-1]:.1f} s")
    med = statistics.median(walls)
    slow = sorted(((statistics.median(v), k) for k, v in per.items()), reverse=True)[:5]
    lines = [f"\n## certify audit, {datetime.date.today()} ({platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} cores)\n",
             "| quantity | value |", "|---|---|",
             f"| audit wall time, median of {args.repeats} | {med:.1f} s (limit {LIMIT_S:.0f} s; "
             f"ratio {med / LIMIT_S:.2f}) |",
             f"| fastest / slowest run | {min(walls):.1f} s / {max(walls):.1f} s |"]
    lines += [f"| slowest result: {k} | {s:.2f} s |" for s, k in slow]
    changes = [line for d in docs[1:] for line in compare_reports(docs[0], d)["differences"]]
    lines.append(f"| verdicts, statements and tables reproduced in every run | "
                 f"{'yes' if not changes else 'NO: ' + '; '.join(changes)} |")
    append_section(args.out, lines, echo=False)
    print("\n".join(lines))
    return 0 if med <= LIMIT_S and not changes else 1


if __name__ == "__main__":
    raise SystemExit(main())
