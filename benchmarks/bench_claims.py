"""The claim suite (benchmarks/claim_suite.toml) decided by certify claim, side by side with
Coq Interval when coqc is present.

For every claim: certify's verdict, boxes and search time (in-process, the fast path
included) and the wall time of a fresh ``python -m certify.cli claim`` process (start-up
included); then, for Coq, the file ``certify claim --coq`` writes for the claim (its
statement as written, the ladder of Interval settings ordered by certify's split depths),
compiled with coqc: accepted or not, and the wall time, also with the time of compiling
an empty file with the same imports subtracted (Coq's start-up and library loading). A
REFUTED claim gets the same ladder on the false statement (Coq cannot prove it, and gives no
counterexample); a claim with besseli or gamma has no Coq statement.

Run:  python benchmarks/bench_claims.py [--coq-timeout 120] [--out benchmarks/CLAIM_SUITE.md]
Results: the markdown table and a JSON file beside it (.json), with the machine and date.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from certify.claims.coq import NotExpressible, coq_check, coq_file, coqc_path, theorem  # noqa: E402
from certify.claims.decide import decide_claim  # noqa: E402
from certify.claims.light import light_claim  # noqa: E402


def coq_time(source: str, timeout: float) -> tuple[bool | None, float, str]:
    t = time.perf_counter()
    ok, why = coq_check(source, timeout)
    return ok, time.perf_counter() - t, why


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default=str(ROOT / "benchmarks" / "claim_suite.toml"))
    ap.add_argument("--coq-timeout", type=float, default=120.0)
    ap.add_argument("--no-coq", action="store_true", help="skip the Coq side")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "CLAIM_SUITE.md"))
    args = ap.parse_args(argv)
    suite = tomllib.loads(Path(args.suite).read_text())["claim"]
    have_coq = coqc_path() is not None and not args.no_coq
    coq_version = "absent"
    baseline = None
    if have_coq:
        coq_version = subprocess.run(["coqc", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
        empty = coq_file([])
        baseline = statistics.median(coq_time(empty, 60)[1] for _ in range(3))
    rows = []
    for c in suite:
        text = c["statement"]
        expected = {"VERIFIED": "VERIFIED ON RANGE"}.get(c["expected"], c["expected"])
        r = decide_claim(text)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "certify.cli", "claim", text], cwd=ROOT, capture_output=True)
        wall = time.perf_counter() - t
        row = {"label": c["label"], "statement": text, "expected": expected, "verdict": r.verdict,
               "correct": r.verdict == expected, "boxes": r.boxes, "engine": r.engine,
               "certify_search_s": round(r.seconds, 3), "certify_process_s": round(wall, 3),
               "process_exit": proc.returncode}
        if have_coq:
            light = light_claim(text)
            try:
                if light is None:
                    raise NotExpressible("the claim uses a form the export does not read")
                th = theorem(light, r.depths if r.verdict == "VERIFIED ON RANGE" else None)
            except NotExpressible as exc:
                row.update(coq="not expressible", coq_note=str(exc))
            else:
                ok, secs, why = coq_time(coq_file([th]), args.coq_timeout)
                row.update(coq={True: "proved", False: "not proved", None: "time-out"}[ok], coq_s=round(secs, 3),
                           coq_tactic_s=round(max(secs - baseline, 0.0), 3), coq_note=why)
        rows.append(row)
        print(f"{c['label']:24} {r.verdict:18} {r.seconds:7.2f} s  "
              + (f"Coq {row.get('coq')} {row.get('coq_s', '')}" if have_coq else ""), flush=True)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.processor() or platform.machine()}, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    true_rows = [r for r in rows if r["expected"] == "VERIFIED ON RANGE"]
    both = [r for r in true_rows if r["verdict"] == "VERIFIED ON RANGE" and r.get("coq") == "proved"]
    ratios = [r["coq_tactic_s"] / max(r["certify_search_s"], 1e-3) for r in both]
    wall_ratios = [r["coq_s"] / r["certify_process_s"] for r in both]
    summary = {
        "claims": len(rows), "true": len(true_rows), "false": len(rows) - len(true_rows),
        "certify_correct": sum(r["correct"] for r in rows),
        "certify_verified": sum(r["verdict"] == "VERIFIED ON RANGE" for r in true_rows),
        "certify_refuted": sum(r["verdict"] == "REFUTED" for r in rows if r["expected"] == "REFUTED"),
        "certify_max_search_s": max(r["certify_search_s"] for r in rows),
        "certify_median_process_s": statistics.median(r["certify_process_s"] for r in rows),
    }
    if have_coq:
        summary.update({
            "coq_proved": sum(r.get("coq") == "proved" for r in true_rows),
            "coq_not_expressible": sum(r.get("coq") == "not expressible" for r in rows),
            "coq_proved_false": sum(r.get("coq") == "proved" for r in rows if r["expected"] == "REFUTED"),
            "both_decided": len(both),
            "median_ratio_coq_tactic_over_certify_search": round(statistics.median(ratios), 2) if ratios else None,
            "median_ratio_coq_process_over_certify_process": round(statistics.median(wall_ratios), 2) if wall_ratios else None,
            "coq_baseline_s": round(baseline, 3),
        })
    doc = {"date": date, "machine": machine, "coq": coq_version, "suite": str(Path(args.suite).relative_to(ROOT)),
           "summary": summary, "rows": rows}
    Path(args.out).with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [f"# Claim suite: certify claim against Coq Interval ({date})", "",
             f"Machine: {machine}. Coq: {coq_version}. `python benchmarks/bench_claims.py` "
             f"(suite `{doc['suite']}`, default budget, no time limit). Times are wall seconds of one run each.", "",
             "certify search = the verdict's own time in-process; certify process = a fresh `python -m certify.cli "
             "claim` (start-up included). Coq = coqc on the file `certify claim --coq` writes (the claim as written, a "
             "ladder of interval settings ordered by certify's split depths); Coq tactic = that minus compiling an "
             f"empty file with the same imports ({summary.get('coq_baseline_s', '-')} s).", "",
             "## Summary", ""]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in summary.items()]
    lines += ["", "## Claims", "",
              "| claim | expected | certify | boxes | certify search (s) | certify process (s) | Coq | Coq (s) | Coq tactic (s) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = "" if r["correct"] else " (wrong)"
        lines.append(f"| {r['label']} | {r['expected']} | {r['verdict']}{mark} | {r['boxes']} | {r['certify_search_s']:.3f} | "
                     f"{r['certify_process_s']:.2f} | {r.get('coq', '-')} | {r.get('coq_s', '-')} | {r.get('coq_tactic_s', '-')} |")
    notes = [r for r in rows if r.get("coq_note")]
    if notes:
        lines += ["", "Coq's messages:", ""] + [f"- {r['label']}: {r['coq_note']}" for r in notes]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(rows) - 4:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
