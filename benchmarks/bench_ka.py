"""The shipped Kolmogorov-Arnold examples (examples/seqmaps/*.json), n = 2, 3, 4: verdict,
rigorous end-to-end bound, the torus bound for n = 2, a float estimate of the true error on
random sequences, architecture and wall time.

Run:  python benchmarks/bench_ka.py [--only NAME] [--out benchmarks/KA_EXAMPLES.md]
Writes the table (markdown) and benchmarks/ka_examples.json. Slow: about 10 minutes on the
2-core reference machine (the n = 4 products take about 2 minutes each).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time
from pathlib import Path

import numpy as np

from certify.constructions.kolmogorov_arnold import construct
from certify.formats.seqmap import parse_seqmap
from certify.certifier.torus import torus_bound
from certify.heads.numeric import seqmap_values

ROOT = Path(__file__).resolve().parent.parent


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=None, help="run the spec files whose name contains this")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "KA_EXAMPLES.md"))
    args = ap.parse_args()
    rows = []
    for path in sorted((ROOT / "examples" / "seqmaps").glob("*.json")):
        if args.only and args.only not in path.name:
            continue
        spec = parse_seqmap(json.loads(path.read_text()))
        t = time.perf_counter()
        r = construct(spec)
        row = {"spec": path.name, "n": spec.length, "terms": spec.terms, "epsilon": spec.epsilon,
               "verdict": r.verdict, "bound": r.bound, "inner_error_mean": r.doc["inner_error_mean"],
               "outer_max": max(o["upper"] or float("inf") for o in r.doc["outer"]),
               **{k: r.doc["architecture"][k] for k in ("layers", "heads", "width")},
               "prefix_tokens": len(r.doc["inner"]["keys"]) + sum(o["nodes"] for o in r.doc["outer"])}
        if spec.length == 2:
            row["torus_bound"] = torus_bound(spec, r.doc)["bound"]
        th = np.random.default_rng(0).uniform(0, 2 * np.pi, (300, spec.length))
        X = np.stack([np.cos(th), np.sin(th)], axis=2)
        F = np.array([r.network(x)[0, 0] for x in X])
        row["float_estimate"] = float(np.max(np.abs(F - seqmap_values(spec, X))))
        row["seconds"] = round(time.perf_counter() - t, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    (ROOT / "benchmarks" / "ka_examples.json").write_text(json.dumps(rows, indent=1) + "\n")
    head = ("| example | n | terms | layers | heads | width | prefix tokens | epsilon | verdict | "
            "end-to-end bound | torus bound | float estimate | seconds |\n|" + "---|" * 13)
    lines = [f"# Kolmogorov-Arnold examples, {datetime.date.today()} ({os.cpu_count()} cores)\n",
             "Bounds are rigorous (the torus bound: n = 2 only); the float estimate is the largest "
             "error of the reference network on 300 random sequences (not rigorous, a lower estimate).\n",
             head]
    for r in rows:
        tb = f"{r['torus_bound']:.4g}" if "torus_bound" in r else "-"
        lines.append(f"| {r['spec']} | {r['n']} | {r['terms']} | {r['layers']} | {r['heads']} | {r['width']} | "
                     f"{r['prefix_tokens']} | {r['epsilon']:g} | {r['verdict']} | {r['bound']:.4g} | {tb} | "
                     f"{r['float_estimate']:.3g} | {r['seconds']} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
