"""``certify demo``: construct prefixes for a built-in target on S^2, prove them, then audit."""

from __future__ import annotations

import argparse

from certify.cli import audit
from certify.cli.options import add_json_option, checked, output_folder
from certify.errors import EXIT_OK


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo", help="construct prefixes for a built-in target on S^2 and report",
        description="Construct prefixes for the built-in target f(x) = x0*x1 on S^2 with both "
                    "methods, decide each with certify prove and re-check its certificate, and print a "
                    "table: prefix length, lambda, a-priori bound, estimated error, verdict, rigorous "
                    "enclosure, time; then run the audit. Each proof has a cell budget (no time limit), so "
                    "the verdicts do not depend on the machine's load. Needs no arguments.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=None, metavar="DIR",
                   help="also write the constructed problem files here")
    p.add_argument("--audit-out", default="reports", metavar="DIR",
                   help="folder of the audit run at the end (default reports)")
    p.add_argument("--no-audit", action="store_true", help="skip the audit at the end")
    add_json_option(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from certify.report.demo import run_demo

    if not args.no_audit:  # refused before the demo runs, not after it
        checked("--audit-out", output_folder, args.audit_out)
    code = run_demo(json_output=args.json, out_dir=args.out_dir)
    if args.no_audit or code != EXIT_OK:
        return code
    if not args.json:
        print(f"\ncertify audit (the paper's claims; report in {args.audit_out}/):", flush=True)
    if args.json:
        from certify.report.audit import run_audit

        run_audit(args.audit_out)  # the demo's JSON stays one object; the audit goes to its files
        return EXIT_OK
    return audit.run(_audit_args(args.audit_out))


def _audit_args(out: str) -> argparse.Namespace:
    """The arguments of ``certify audit --out OUT``, parsed by audit's own parser (so that every
    option it has gets its default)."""
    parser = argparse.ArgumentParser(prog="certify")
    audit.add_parser(parser.add_subparsers())
    return parser.parse_args(["audit", "--out", str(out)])
