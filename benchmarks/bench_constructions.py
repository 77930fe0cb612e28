"""What `certify construct` builds with derived constants, decided by `certify prove`'s path.

For the net and vmf routes (softmax and core heads), S^1 and S^2, a scalar and a vector target,
at epsilon = 0.5, 0.25 and 0.1 (Lipschitz constant 3, as in the README's first example), the
construction with its derived constants (lambda and N from the route; refused beyond the
default --max-prefix-length) is decided within the default cell budget through prove -> write
-> check, with the machine's cores. Each row: N, lambda, the verdict, the cells, the search's
and the check's seconds (one run per case: these are minutes, not micro-benchmarks).

Run:  python benchmarks/bench_constructions.py [--quick] [--workers K] [--out benchmarks/CONSTRUCTIONS.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform

from certify.budgets import DEFAULT_MAX_CELLS
from certify.certifier.pipeline import decide
from certify.constructions.prefixes import construct
from certify.errors import InputError
from certify.formats.expressions import parse_target
from _report import append_section

TARGETS = {1: (["x0*x1"], ["x0*x1", "exp(x1) - 1"]), 2: (["x0*x1"], ["x0*x1", "exp(x2) - 1"])}
ROUTES = (("net", "softmax"), ("vmf", "softmax"), ("vmf", "core"))


def cases(quick: bool):
    for eps in ((0.5,) if quick else (0.5, 0.25, 0.1)):
        for m in (1, 2):
            for texts in TARGETS[m]:
                for method, kind in ROUTES:
                    yield eps, m, texts, method, kind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="epsilon = 0.5 only")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "CONSTRUCTIONS.md"))
    args = ap.parse_args()
    rows = []
    for eps, m, texts, method, kind in cases(args.quick):
        name = f"{method} {kind}, S^{m}, {' ; '.join(texts)}, eps {eps}"
        try:
            c = construct(method, parse_target(texts, m), eps, lipschitz=3.0, kind=kind)
        except InputError as e:
            rows.append(f"| {name} | refused: {e.message[:70]} | | | | | |")
            print(rows[-1], flush=True)
            continue
        meta = c.problem.meta
        d = decide(c.problem, max_cells=DEFAULT_MAX_CELLS, workers=args.workers)
        r = d.result
        check = f"{d.report.seconds:.1f}" if d.report is not None else "-"
        rows.append(f"| {name} | {meta['prefix_length']} | {meta['lambda']:.4g} | {r.verdict} "
                    f"[{r.lower:.3g}, {r.upper:.3g}] | {r.cells} | {r.seconds:.1f} | {check} |")
        print(rows[-1], flush=True)
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    append_section(args.out, [
        f"## Constructions with derived constants, {when}",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{args.workers} workers; default budget of {DEFAULT_MAX_CELLS:,} cells; Lipschitz constant 3.",
        "",
        "| construction | N | lambda | verdict [enclosure] | cells | search s | check s |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ])


if __name__ == "__main__":
    main()
