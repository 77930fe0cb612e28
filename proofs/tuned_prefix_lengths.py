"""The paper's open question, on instances [derived]: how short can a certified prefix be?

The paper asks whether the prefix length needed for precision eps can be far shorter than its
Jackson-type rate. ``benchmarks/bench_tune.py`` tunes prefixes (``certify tune
--search-length``) for several targets on S^1 and S^2 and writes the shortest tuned prefix it
certified for each epsilon to ``reports/tuned/``, beside the net route's smallest certified N
and the paper's route's a-priori N (``benchmarks/TUNE.json``). This row re-certifies every one
of those tuned prefix files with ``certify prove`` (prove -> write -> check; a work budget, so
the verdicts do not depend on the host) and reports the lengths and fitted exponents. Instances
only: CONSISTENT, evidence on the open question, not a theorem.
"""

from __future__ import annotations

import json
from pathlib import Path

from certify.certifier.pipeline import CERTIFIED, decide
from certify.formats.problem import load_problem

from ._instances import INSTANCE_MAX_CELLS
from .registry import CONSISTENT, NOT_CHECKED, Result, Verdict

ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = ROOT / "benchmarks" / "TUNE.json"


def benchmark_rows() -> tuple[list, dict]:
    doc = json.loads(RESULTS_FILE.read_text())
    return doc["rows"], doc.get("slopes", {})


def _check():
    if not RESULTS_FILE.is_file():
        return Verdict(NOT_CHECKED, f"no {RESULTS_FILE.relative_to(ROOT)}: run python benchmarks/bench_tune.py")
    rows, slopes = benchmark_rows()
    notes, ratios = [], []
    for r in rows:
        if not r.get("tuned_file"):
            notes.append(f"{r['target']} at eps = {r['epsilon']:g}: no tuned prefix certified by the benchmark")
            continue
        p = load_problem(ROOT / r["tuned_file"])
        if p.prefix_length != r["tuned"] or p.epsilon != r["epsilon"]:
            return Verdict(NOT_CHECKED, f"{r['tuned_file']} does not hold N = {r['tuned']} at eps = {r['epsilon']:g}")
        d = decide(p, max_cells=INSTANCE_MAX_CELLS).result
        if d.verdict != CERTIFIED:
            return Verdict(NOT_CHECKED, f"{r['tuned_file']}: {d.verdict}")
        ratio = r["net_certified"] / r["tuned"] if r.get("net_certified") else None
        if ratio:
            ratios.append(ratio)
        notes.append(f"{r['target']} at eps = {r['epsilon']:g}: tuned N = {r['tuned']} CERTIFIED (sup error in "
                     f"[{d.lower:.3g}, {d.upper:.3g}])" + (f", net route {r['net_certified']} ({ratio:.1f}x)" if ratio else ""))
    fit = "; ".join(f"{name}: tuned {s['tuned']:.2f}, net {s['net_certified']:.2f}" for name, s in slopes.items()
                    if s.get("tuned") is not None and s.get("net_certified") is not None)
    return Verdict(CONSISTENT, "certify prove re-certifies each tuned prefix of reports/tuned/: " + "; ".join(notes) +
                   (f". Fitted exponents of N(eps) on the measured range: {fit}" if fit else "") +
                   ". Instances only: evidence on the open question, not a rate")


RESULTS = [Result("tuned_prefix_lengths", "open question: shortest certified prefixes (ours)",
                  "tuned prefixes against the Jackson-type routes", "derived",
                  "for the targets and epsilons of benchmarks/TUNE.json, the tuned prefixes of reports/tuned/ are "
                  "CERTIFIED (sup error <= eps over the whole sphere) at the lengths listed, far below the net "
                  "route's and the paper's route's", _check)]
