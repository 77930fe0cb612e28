"""Shortest certified prefixes: tuned (``certify tune --search-length``) against the net route
and the paper's route, for several targets on S^1 and S^2 and several epsilons.

For each (target, epsilon):

* tuned: the smallest N whose tuned prefix is CERTIFIED by ``certify prove`` (doubling, then
  bisection; seed 0), its certified enclosure, and the verdict of the N below it;
* net route: the smallest N whose net construction is CERTIFIED (bisection from the derived N,
  as ``certify bound --certify-target`` does);
* paper's route: the N its derived constants ask for (a-priori; not certified: far too long).

The fitted slope of log N against log(1/eps) is the exponent of N(eps) over the measured range
(instances, not a theorem). Every tuned prefix that was certified is written to
``reports/tuned/`` as a problem file, so that ``certify audit`` re-certifies it.

Run:  python benchmarks/bench_tune.py [--out benchmarks/TUNE.md] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (name, sphere dim, targets, chordal Lipschitz constant of every component, |f| bound, epsilons)
CASES = (
    ("x0*x1", 1, ("x0*x1",), 1.0, 0.5, (0.1, 0.01, 0.001)),
    ("x0**2", 1, ("x0**2",), 2.0, 1.0, (0.1, 0.01, 0.001)),
    ("sin(3*x0)", 1, ("sin(3*x0)",), 3.0, 1.0, (0.1, 0.01, 0.001)),
    ("x0*x1 on S^2", 2, ("x0*x1",), 1.0, 0.5, (0.2, 0.1, 0.05)),
    ("(x0, x1*x2) on S^2", 2, ("x0", "x1*x2"), 1.0, 1.0, (0.2, 0.1)),
)
QUICK = (CASES[0][:5] + ((0.2, 0.1),),)
#: Cells per certify prove (a work budget).
MAX_CELLS = 200_000


def slope(eps, ns) -> float | None:
    pts = [(math.log(1 / e), math.log(n)) for e, n in zip(eps, ns) if n]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def run_case(name, m, targets, L, F, eps_list, out_dir: Path, log):
    from certify.constructions.prefix_length import route_bound, smallest_certified
    from certify.constructions.tune import search_length
    from certify.formats.expressions import parse_target
    from certify.formats.jsonio import write_json_atomic

    target = parse_target(list(targets), m)
    rows = []
    for eps in eps_list:
        t0 = time.monotonic()
        tuned = search_length(target, eps, max_cells=MAX_CELLS)
        t_tuned = time.monotonic() - t0
        best = tuned["best"]
        file = None
        if best is not None:
            file = out_dir / f"{_slug(name)}-eps{eps:g}.json"
            write_json_atomic(file, best[0].problem.to_json())
        net = route_bound("net", m, eps, L, F)
        paper = route_bound("paper", m, eps, L, F)
        t1 = time.monotonic()
        found = smallest_certified("net", target, eps, L, int(net.prefix_length), max_cells=MAX_CELLS) \
            if net.prefix_length_exact else {"smallest_certified": None}
        t_net = time.monotonic() - t1
        r = best[1].result if best else None
        row = {"target": name, "sphere_dim": m, "epsilon": eps, "tuned": tuned["smallest_certified"],
               "tuned_below": tuned["not_certified_below"], "tuned_below_verdict": tuned.get("below_verdict"),
               "tuned_enclosure": [r.lower, r.upper] if r else None, "tuned_seconds": round(t_tuned, 1),
               "tuned_file": (str(file.relative_to(ROOT)) if file.is_relative_to(ROOT) else str(file)) if file else None,
               "net_certified": found["smallest_certified"], "net_derived": net.prefix_length,
               "net_seconds": round(t_net, 1), "paper_route": paper.prefix_length,
               "paper_route_exact": paper.prefix_length_exact}
        rows.append(row)
        log(f"{name} eps {eps:g}: tuned N = {row['tuned']} ({t_tuned:.1f} s), net certified N = "
            f"{row['net_certified']} ({t_net:.1f} s), paper's route N = {paper.prefix_length:.3g}")
    return rows


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")


def figure(rows, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["target"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        rs = [r for r in rows if r["target"] == name]
        eps = [r["epsilon"] for r in rs]
        for key, label, style in (("paper_route", "paper's route (a-priori)", "C0o-"),
                                  ("net_certified", "net route, smallest certified", "C1s--"),
                                  ("tuned", "tuned, smallest certified", "C2D-")):
            ax.plot(eps, [r[key] or float("nan") for r in rs], style, label=label, mfc="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.invert_xaxis()
        ax.set_xlabel("epsilon")
        ax.set_ylabel("prefix length N")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Smallest certified prefix length: tuned prefixes, the net route and the paper's route")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "TUNE.md"))
    ap.add_argument("--tuned-dir", default=str(ROOT / "reports" / "tuned"))
    ap.add_argument("--quick", action="store_true", help="one target, two epsilons (a smoke run)")
    args = ap.parse_args(argv)
    out_dir = Path(args.tuned_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    rows = []
    for case in (QUICK if args.quick else CASES):
        rows += run_case(*case, out_dir, lambda msg: print(msg, flush=True))
    import numpy as np

    slopes = {}
    for name in dict.fromkeys(r["target"] for r in rows):
        rs = [r for r in rows if r["target"] == name]
        eps = [r["epsilon"] for r in rs]
        slopes[name] = {k: slope(eps, [r[k] for r in rs]) for k in ("tuned", "net_certified", "paper_route")}
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": f"{platform.processor() or platform.machine()}, {platform.system()} {platform.release()}, "
                      f"numpy {np.__version__}", "max_cells": MAX_CELLS, "rows": rows, "slopes": slopes,
           "seconds": round(time.monotonic() - t0, 1)}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    figure(rows, out.with_name("fig-tune.png"))
    lines = [f"# Shortest certified prefixes: tuned, net route, paper's route ({doc['date']})", "",
             f"Machine: {doc['machine']}. `python benchmarks/bench_tune.py` ({doc['seconds']:.0f} s). Each "
             f"certify prove bounds at most {MAX_CELLS} cells. Tuned: `certify tune --search-length` (seed 0; "
             "doubling then bisection; the verdict of the N just below is given). Net: bisection on the net "
             "construction's N. Paper's route: the N its derived constants ask for (a-priori, not certified).", "",
             "| target | S^m | epsilon | tuned N (certified) | below it (not certified) | tuned enclosure | net route N (certified) "
             "| ratio net / tuned | paper's route N | times (tuned, net) s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        enc = "[{:.3g}, {:.3g}]".format(*r["tuned_enclosure"]) if r["tuned_enclosure"] else "-"
        ratio = f"{r['net_certified'] / r['tuned']:.1f}" if r["tuned"] and r["net_certified"] else "-"
        below = f"{r['tuned_below']}: {r['tuned_below_verdict']}" if r["tuned_below"] else "-"
        lines.append(f"| {r['target']} | {r['sphere_dim']} | {r['epsilon']:g} | {r['tuned']} | {below} | {enc} | "
                     f"{r['net_certified']} | {ratio} | {r['paper_route']:.3g} | {r['tuned_seconds']}, {r['net_seconds']} |")
    lines += ["", "Fitted slopes of log N against log(1/eps) (the exponent of N(eps) on the measured range; "
              "instances, not a theorem):", "", "| target | tuned | net route | paper's route |", "|---|---|---|---|"]
    for name, s in slopes.items():
        fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {name} | {fmt(s['tuned'])} | {fmt(s['net_certified'])} | {fmt(s['paper_route'])} |")
    lines += ["", "![smallest certified prefix length](fig-tune.png)", ""]
    out.write_text("\n".join(lines))
    print(f"wrote {out}, {out.with_suffix('.json')} and {out.with_name('fig-tune.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
