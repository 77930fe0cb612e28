"""``certify audit``: run every check of the paper's claims in proofs/ and write the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from certify.cli.options import add_json_option, output_folder
from certify.cli.output import emit, json_default, progress_printer
from certify.errors import EXIT_OK, EXIT_REFUTED


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "audit", help="audit the paper's claims: run every check in proofs/ and write the report",
        description="Run every result registered in proofs/ (definitions, lemmas, theorems, the derived "
                    "constants) and write DIR/paper-audit.md, .html and .json with five figures: a table of "
                    "each claim with its label, statement, provenance (paper, paper with the statement "
                    "reconstructed, derived, trap), verdict (PROVED, VERIFIED ON RANGE, REFUTED, IMPLIED, "
                    "CONSISTENT, NOT CHECKED), evidence and time, and the run's date, commit, CPU, numpy "
                    "build and OS kernel. Takes a few minutes (about 4 on a 2-core machine). Every search behind a verdict stops on a work budget (cells, Arb boxes, cell "
                    "pairs), never on the clock, so the verdicts, statements and tables do not depend on the "
                    "machine's load; only the times differ. With --check, rerun into a temporary folder and "
                    "compare with DIR/paper-audit.json: exit 0 if it is up to date, 1 if a verdict, statement "
                    "or table changed, each change printed as old -> new (evidence that differs with the "
                    "same verdict is listed, not counted as a change).",
        epilog="With CLAIMS (a .toml claims file), audit that file's inequalities instead: each claim is decided "
               "as by certify claim and OUT/<stem>-audit.md, .html and .json list its verdict, evidence and time, "
               "with the findings (every verdict other than the file expects, every REFUTED claim); exit 0 when "
               "every verdict is the expected one, 1 when one is not. The format: title, authors, source, notes, "
               "max_boxes, and per [[claim]] label, statement, provenance, expected (VERIFIED ON RANGE, REFUTED or "
               "UNDECIDED), notes, key, max_boxes (see README.md, 'Auditing another paper').\n\n"
               "examples:\n  certify audit\n  certify audit --out /tmp/audit\n  certify audit --check\n"
               "  certify audit reports/claims/bessel-ratios.toml --out reports/claims\n"
               "  certify audit reports/claims/bessel-ratios.toml --out reports/claims --check",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("claims", nargs="?", metavar="CLAIMS.toml",
                   help="a claims file to audit instead of the paper (see below)")
    p.add_argument("--out", type=output_folder, default="reports", metavar="DIR",
                   help="output folder (default reports)")
    p.add_argument("--check", action="store_true", help="compare a fresh run with DIR/paper-audit.json")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from certify.report.audit import REPORT, print_summary, run_audit

    out = Path(args.out)
    show = progress_printer(not args.json)
    if args.claims is not None:
        return _claims(args, out, show)
    if args.check:
        return _check(args, out, show)
    doc = run_audit(out, show)
    if args.json:
        print(json.dumps(doc, indent=1, allow_nan=False, default=json_default))
    else:
        print(f"certify audit: wrote {out / (REPORT + '.md')}, {out / (REPORT + '.html')}, "
              f"{out / (REPORT + '.json')} and 5 figures")
        print_summary(doc)
    return EXIT_OK


def _check(args, out: Path, show) -> int:
    """--check: a fresh run compared with DIR/paper-audit.json (:func:`certify.report.audit.check_report`)."""
    from certify.report.audit import check_report

    return _report_check(args, check_report(out, show), "every verdict, statement and table reproduced")


def _report_check(args, r: dict, same: str) -> int:
    """Print a --check comparison (old -> new per change) and return its exit code."""
    changed = r["changed"]
    payload = {"up_to_date": not changed, "changed": changed, "differences": r["differences"],
               "evidence_differences": r["evidence"], "seconds": r["seconds"]}
    lines = [f"{r['committed']}: " + (f"up to date ({same})" if not changed else "OUT OF DATE: " + ", ".join(changed))]
    lines += [f"  {line}" for line in r["differences"]]
    if r["evidence"]:
        lines.append("  evidence that differs with the same verdict (not a change of verdict):")
        lines += [f"    {line}" for line in r["evidence"]]
    emit(args, payload, lines)
    return EXIT_OK if not changed else EXIT_REFUTED


def _claims(args, out: Path, show) -> int:
    """certify audit CLAIMS.toml [--check] (:mod:`certify.report.claims_audit`)."""
    from certify.report.claims_audit import (check_claims_report, load_claims_file, report_name,
                                             run_claims_audit, unexpected)

    spec = load_claims_file(args.claims)
    name = report_name(spec["file"])
    if args.check:
        return _report_check(args, check_claims_report(spec, out, show), "every verdict and statement reproduced")
    doc = run_claims_audit(spec, out, show)
    bad = unexpected(doc)
    lines = [f"certify audit: wrote {out / (name + '.md')}, {out / (name + '.html')}, {out / (name + '.json')}"]
    width = max(len(r["label"]) for r in doc["results"])
    for r in doc["results"]:
        mark = "" if not r["expected"] or r["expected"] == r["verdict"] else f"   (expected {r['expected']})"
        lines.append(f"  {r['label']:<{width}}  {r['verdict']}{mark}")
    lines.append(f"  ({len(doc['results'])} claims, {len(bad)} with an unexpected verdict, {doc['seconds']:.1f} s)")
    emit(args, doc, lines)
    return EXIT_OK if not bad else EXIT_REFUTED
