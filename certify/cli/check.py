"""``certify check``: re-check certificates independently of the search."""

from __future__ import annotations

import argparse
from pathlib import Path

from certify.budgets import MAX_CERTIFICATE_NODES
from certify.cli.options import add_json_option, add_workers_option, default_workers, positive_int
from certify.cli.output import emit, fmt
from certify.errors import EXIT_OK, EXIT_REFUTED, InputError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "check", help="re-check certificates independently of the search",
        description="Re-check a certificate (or every certificate under a folder) from scratch: the "
                    "embedded problem and its SHA-256, the partition's tiling, a rigorous bound on "
                    "every leaf, the witness. Exit 0 when all are valid, 1 when one is invalid (the "
                    "field and leaf are named), 2 when a file cannot be read or is not a certificate "
                    "(a folder is searched for *.json files whose format is certify.certificate/1 or "
                    "certify.seqmap-certificate/1; other files are skipped and counted), 4 on an "
                    "internal error (a fault of the checker or the host: never reported as INVALID). "
                    "For a sequence-map certificate VALID covers the end-to-end bound; a recorded torus "
                    "bound (construct-seq ka --torus) is NOT re-checked, and the report says so.",
        epilog="examples:\n  certify check p.cert.json --problem p.json\n  certify check certificates/ --json\n"
               "  certify check p.cert.json --strict      # transcendental functions in Arb balls",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("certificate", metavar="CERT.json|DIR")
    p.add_argument("--problem", metavar="PROBLEM.json", help="also require the certificate to be about this problem")
    p.add_argument("--strict", action="store_true",
                   help="evaluate every exp/log/sin/... as an Arb ball (python-flint) instead of the "
                        "kernel's own enclosures: a second, independent algorithm; slow")
    p.add_argument("--max-nodes", type=positive_int, default=MAX_CERTIFICATE_NODES, metavar="K",
                   help="largest partition accepted, in tree nodes (default %(default)s, what a default "
                        "certify prove budget writes with room to spare); a larger one is refused before "
                        "it is decoded")
    add_workers_option(p, "leaves")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from certify.checker import check_file, scan_certificates

    target = Path(args.certificate)
    skipped = []
    if target.is_dir():
        if args.problem:
            raise InputError("--problem", "give one certificate file, not a folder, with --problem")
        paths, skipped = scan_certificates(target)
        if not paths:
            raise InputError("CERT", f"no certificate (*.json whose format is certify.certificate/1 or "
                                     f"certify.seqmap-certificate/1) under {target}; {len(skipped)} other "
                                     "JSON file(s) skipped")
    else:
        paths = [target]
    workers = args.workers or default_workers()
    reports = []
    for path in paths:
        reports.append(check_file(path, args.problem, args.strict, workers, args.max_nodes))
    ok = all(r.valid for r in reports)
    lines = []
    for r in reports:
        if r.valid:
            detail = (f"end-to-end bound {fmt(r.upper)}" if r.kind == "seqmap"
                      else f"{r.leaves} leaves, bound {fmt(r.upper)}" if r.verdict == "CERTIFIED"
                      else f"witness error >= {fmt(r.lower)}")
            lines.append(f"VALID    {r.path}: {r.verdict} ({detail}; {r.seconds:.2f} s)")
            if "torus" in r.not_checked:
                lines.append("         the recorded torus bound is NOT re-checked: VALID covers the "
                             "end-to-end bound only")
        else:
            lines.append(f"INVALID  {r.path}: {r.where}: {r.reason}")
    if skipped:
        lines.append(f"skipped {len(skipped)} JSON file(s) under {target} that are not certificates")
    payload = {"valid": ok, "strict": args.strict, "certificates": [r.to_json() for r in reports],
               "skipped": [str(p) for p in skipped]}
    emit(args, payload, lines)
    return EXIT_OK if ok else EXIT_REFUTED
