"""``certify audit``: run every check of the paper's claims in proofs/ and write the report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from certify.cli.options import add_json_option, output_folder
from certify.cli.output import emit, json_default, progress_printer
from certify.errors import EXIT_OK, EXIT_REFUTED, InputError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "audit", help="audit the paper's claims: run every check in proofs/ and write the report",
        description="Run every result registered in proofs/ (definitions, lemmas, theorems, the derived "
                    "constants) and write DIR/paper-audit.md, .html and .json with four figures: a table of "
                    "each claim with its label, statement, provenance (paper / derived), verdict (PROVED, "
                    "VERIFIED ON RANGE, REFUTED, CONSISTENT, NOT CHECKED), evidence and time. Takes about a "
                    "minute. Every search behind a verdict stops on a work budget (cells, Arb boxes, cell "
                    "pairs), never on the clock, so the verdicts, statements and tables do not depend on the "
                    "machine's load; only the times differ. With --check, rerun into a temporary folder and "
                    "compare with DIR/paper-audit.json: exit 0 if it is up to date, 1 if a verdict, statement "
                    "or table changed, each change printed as old -> new (evidence that differs with the "
                    "same verdict is listed, not counted as a change).",
        epilog="examples:\n  certify audit\n  certify audit --out /tmp/audit\n  certify audit --check",
        formatter_class=argparse.RawDescriptionHelpFormatter)
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
    if args.check:
        return _check(args, out, show)
    doc = run_audit(out, show)
    if args.json:
        print(json.dumps(doc, indent=1, allow_nan=False, default=json_default))
    else:
        print(f"certify audit: wrote {out / (REPORT + '.md')}, {out / (REPORT + '.html')}, "
              f"{out / (REPORT + '.json')} and 4 figures")
        print_summary(doc)
    return EXIT_OK


def _check(args, out: Path, show) -> int:
    """--check: rerun the audit into a temporary folder and compare with DIR/paper-audit.json."""
    import tempfile

    from certify.formats.jsonio import read_json
    from certify.report.audit import REPORT, compare_reports, run_audit

    committed = out / f"{REPORT}.json"
    if not committed.is_file():
        raise InputError("--out", f"no {committed} to check against; run certify audit first")
    old = read_json(committed, what="audit")
    if not (isinstance(old, dict) and isinstance(old.get("results"), list)
            and all(isinstance(r, dict) and {"key", "label", "verdict"} <= set(r) for r in old["results"])):
        raise InputError("--out", f"{committed} is not an audit report (no results with key, label, verdict)")
    with tempfile.TemporaryDirectory() as tmp:
        doc = run_audit(tmp, show)
    diff = compare_reports(old, doc)
    changed = diff["changed"]
    payload = {"up_to_date": not changed, "changed": changed, "differences": diff["differences"],
               "evidence_differences": diff["evidence"], "seconds": doc["seconds"]}
    lines = [f"{committed}: " + ("up to date (every verdict, statement and table reproduced)" if not changed
                                 else "OUT OF DATE: " + ", ".join(changed))]
    lines += [f"  {line}" for line in diff["differences"]]
    if diff["evidence"]:
        lines.append("  evidence that differs with the same verdict (not a change of verdict):")
        lines += [f"    {line}" for line in diff["evidence"]]
    emit(args, payload, lines)
    return EXIT_OK if not changed else EXIT_REFUTED
