"""Process start-up: the wall time from process start to the answer of small commands, and
where the import time goes (``python -X importtime``).

Cases: ``certify --help``, ``certify claim --help``, ``certify claim "forall x in [0, 1]: x <= 2"``
(a trivial claim, VERIFIED in one box by the sympy-free fast path), the same claim with
``--no-fast-path`` (the baseline: the full engine, which imports sympy and numpy), a claim the
fast path leaves to the full engine (tight at 0), ``certify bound`` (no certifier), each run in
a fresh process ``--repeats`` times (median reported, and the ratio to the baseline for the
trivial claim), and the ten slowest imports of the trivial claim.

Run:  python benchmarks/bench_startup.py [--repeats 5] [--out benchmarks/STARTUP.md]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (("certify --help", ["--help"]),
         ("certify claim --help", ["claim", "--help"]),
         ("certify claim (trivial)", ["claim", "forall x in [0, 1]: x <= 2"]),
         ("certify claim (trivial), full engine", ["claim", "--no-fast-path", "forall x in [0, 1]: x <= 2"]),
         ("certify claim sin(x) <= x (full engine needed)", ["claim", "forall x in [0, 1]: sin(x) <= x"]),
         ("certify bound", ["bound", "--sphere-dim", "1", "--epsilon", "0.1", "--lipschitz", "1"]))


def wall(argv) -> float:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "certify.cli", *argv], cwd=ROOT, capture_output=True, check=False)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"certify {' '.join(argv)} exited {r.returncode}: {r.stderr.decode()[-300:]}")
    return elapsed


def slowest_imports(argv, count=10) -> list[tuple[str, float]]:
    code = "import sys; from certify.cli.main import main; sys.exit(main(sys.argv[1:]))"
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *argv], cwd=ROOT, capture_output=True,
                       text=True, check=False)
    rows = []
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top-level imports only
                rows.append((name.strip(), int(cumulative) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:count]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "STARTUP.md"))
    args = ap.parse_args(argv)
    bare = statistics.median(
        (lambda t: (subprocess.run([sys.executable, "-c", "pass"], check=False), time.perf_counter() - t)[1])(
            time.perf_counter()) for _ in range(args.repeats))
    rows = [(name, statistics.median(wall(a) for _ in range(args.repeats))) for name, a in CASES]
    imports = slowest_imports(CASES[2][1])
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# Start-up time ({date})", "",
             f"Machine: {platform.processor() or platform.machine()}, {platform.system()} {platform.release()}, "
             f"Python {platform.python_version()}. `python benchmarks/bench_startup.py --repeats {args.repeats}`: "
             "medians of fresh processes (`python -m certify.cli ...`).", "",
             "| command | median wall time (s) |", "|---|---|", f"| python -c pass | {bare:.3f} |"]
    lines += [f"| {name} | {t:.3f} |" for name, t in rows]
    fast, full = rows[2][1], rows[3][1]
    lines += ["", f"Trivial claim, fast path / full engine: {fast / full:.2f} ({fast:.3f} s against {full:.3f} s)."]
    lines += ["", "Slowest top-level imports of the trivial claim (`python -X importtime`, cumulative):", "",
              "| module | seconds |", "|---|---|"] + [f"| {n} | {s:.3f} |" for n, s in imports] + [""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
