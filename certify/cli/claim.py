"""``certify claim``: check an inequality over a box (VERIFIED ON RANGE, REFUTED, UNDECIDED)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from certify.budgets import DEFAULT_MAX_BOXES
from certify.cli.options import add_json_option, positive_float, positive_int
from certify.cli.output import emit, write
from certify.errors import EXIT_OK, EXIT_REFUTED, EXIT_UNDECIDED, InputError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "claim", help="check an inequality over a box: VERIFIED ON RANGE, REFUTED, or UNDECIDED",
        description="Check 'forall v in [a, b], ...: LHS op RHS' (op one of <=, >=, <, >) by Arb ball "
                    "branch-and-bound over the box (python-flint). Sides use numbers, the quantified "
                    "variables, pi, + - * / **, and exp log sqrt sin cos tan sinh cosh tanh atan abs "
                    "coth gamma besseli(nu, x) min max. VERIFIED ON RANGE (exit 0): every sub-box was "
                    "certainly fine; REFUTED (exit 1): an exact rational witness where the claim is "
                    "certainly false; UNDECIDED (exit 3): the budget ran out, or the claim is tight "
                    "(equality somewhere) in a way intervals cannot settle. With --file, one claim per "
                    "line ('#' starts a comment); the exit code is the worst verdict.",
        epilog="examples:\n"
               "  certify claim \"forall lam in [0.1, 50]: besseli(1, lam)/besseli(0, lam) >= "
               "lam/(1/2 + sqrt(lam**2 + 9/4))\"\n"
               "  certify claim \"forall lam in [0.5, 1000]: besseli(1, lam)/besseli(0, lam) >= 1 - 1/(2*lam)\"\n"
               "  certify claim --file claims.txt --json\n"
               "  certify claim \"forall x in [0, 1]: sin(x) <= x\" --coq sin.v --coq-check",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("claim", nargs="?", metavar="CLAIM", help="the claim, quoted")
    p.add_argument("--file", metavar="FILE", help="read claims from FILE, one per line")
    p.add_argument("--max-boxes", type=positive_int, default=DEFAULT_MAX_BOXES, metavar="K",
                   help=f"boxes per claim at most before UNDECIDED (default {DEFAULT_MAX_BOXES})")
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="S",
                   help="seconds per claim: an extra wall-clock cap (default none); the verdict "
                        "depends only on the claim and --max-boxes unless this cuts it short")
    p.add_argument("--coq", metavar="FILE.v",
                   help="write a Coq file (Reals + Interval) stating each VERIFIED claim as written "
                        "and proving it with the interval tactic, with settings chosen from this "
                        "search; REFUTED and UNDECIDED claims, and claims with besseli or gamma, are "
                        "not exported (one line says why)")
    p.add_argument("--coq-check", action="store_true",
                   help="run coqc on each exported claim and report Coq's answer: a claim Coq "
                        "accepts is 'VERIFIED ON RANGE, checked by Coq' (needs coqc with the "
                        "Interval library: Debian packages coq and libcoq-interval)")
    p.add_argument("--coq-timeout", type=positive_float, default=None, metavar="S",
                   help="seconds coqc may run on one claim (default 600; 'inf': no limit)")
    p.add_argument("--no-fast-path", action="store_true",
                   help="skip the fast path (Arb ball bisection of the claim as written, at most 64 "
                        "boxes, without importing sympy) and decide every claim with the full engine")
    add_json_option(p)
    p.set_defaults(func=run, light=True)
    return p


def claim_lines(text: str, fieldname: str) -> list[tuple[str, str]]:
    """(field, claim text) per claim of a claims file: one per line, blank lines and lines
    starting with '#' skipped."""
    out = [(f"{fieldname} line {n}", line) for n, line in enumerate(text.splitlines(), 1)
           if line.strip() and not line.lstrip().startswith("#")]
    if not out:
        raise InputError(fieldname, "no claim found")
    return out


def run(args) -> int:
    from certify.claims.decide import decide_claim
    from certify.claims.light import split_claim
    from certify.claims.result import REFUTED, VERIFIED

    if (args.claim is None) == (args.file is None):
        raise InputError("CLAIM", "give one claim string or --file FILE (not both)")
    if args.coq_check or args.coq_timeout is not None:
        from certify.claims.coq import coqc_path

        if coqc_path() is None:
            raise InputError("--coq-check", "coqc not found: install coq and libcoq-interval "
                                            "(Debian packages) or leave out --coq-check")
        args.coq_check = True
    if args.coq is not None and (not args.coq.endswith(".v") or Path(args.coq).is_dir()):
        raise InputError("--coq", f"{args.coq!r} must be a file name ending in .v")
    if args.file is not None:
        try:
            text = Path(args.file).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("--file", f"cannot read {args.file}: {exc}") from None
        items = claim_lines(text, f"--file {args.file}")
    else:
        items = [("CLAIM", args.claim)]
    # every claim's structure first: a malformed line is refused before any work
    parsed = [(fieldname, line, split_claim(line, fieldname)) for fieldname, line in items]
    show = sys.stderr.isatty() and not args.json
    results, lines, theorems = [], [], []
    for index, (fieldname, line, parts) in enumerate(parsed, 1):
        def progress(info):
            if show:
                print(f"\r  {info['boxes']:>8} boxes, {info['open']:>7} open, {info['seconds']:.1f} s",
                      end="", file=sys.stderr, flush=True)
        r = decide_claim(line, fieldname, parts=parts, max_boxes=args.max_boxes,
                         time_limit=args.time_limit, progress=progress, fast=not args.no_fast_path)
        c = r.claim
        if show:
            print("\r" + " " * 50 + "\r", end="", file=sys.stderr)
        results.append(r)
        coq = export(args, r, line, fieldname, parts, index, len(parsed), theorems)
        checked = r.verdict == VERIFIED and coq.get("checked") is True
        lines.append(f"{r.verdict}{', checked by Coq' if checked else ''}: {c.text}")
        if r.verdict == VERIFIED:
            lines.append(f"  on the box {c.box_text()} ({r.boxes} boxes, {r.seconds:.2f} s)")
        elif r.verdict == REFUTED:
            where = ", ".join(f"{n} = {q}" for n, q in r.witness.items())
            lines.append(f"  witness {where}: the margin (the side that should be larger minus the "
                         f"other) lies in [{r.witness_margin[0]:.6g}, {r.witness_margin[1]:.6g}]")
        else:
            lines.append(f"  {r.reason} ({r.boxes} boxes, {r.seconds:.2f} s)")
        if coq:
            lines.append(f"  Coq: {coq['message']}")
            r.coq = coq
    verdicts = [r.verdict for r in results]
    if args.coq is not None:
        if theorems:
            from certify.claims.coq import coq_file

            write(lambda path, text: Path(path).write_text(text), Path(args.coq), coq_file(theorems), "--coq")
            lines.append(f"Coq file {args.coq}: {len(theorems)} theorem(s)")
        else:
            lines.append(f"Coq file {args.coq}: not written (no claim exported)")
    payload = {"claims": [r.to_json() for r in results],
               "coq_file": args.coq if theorems else None}
    emit(args, payload, lines)
    if REFUTED in verdicts:
        return EXIT_REFUTED
    return EXIT_OK if all(v == VERIFIED for v in verdicts) else EXIT_UNDECIDED


def export(args, r, line, fieldname, parts, index, count, theorems) -> dict:
    """The Coq export of one decided claim (``--coq``): appends its theorem to ``theorems``
    and returns what to report ({} without --coq)."""
    if args.coq is None and not args.coq_check:
        return {}
    from certify.claims.coq import DEFAULT_COQ_TIMEOUT, NotExpressible, coq_check, coq_file, theorem
    from certify.claims.light import LightClaim, light_claim
    from certify.claims.result import VERIFIED

    if r.verdict != VERIFIED:
        return {"exported": False, "checked": None,
                "message": f"not exported: the claim is {r.verdict}, not VERIFIED ON RANGE"}
    light = r.claim if isinstance(r.claim, LightClaim) else light_claim(line, fieldname, parts)
    name = "certify_claim" if count == 1 else f"claim_{index}"
    try:
        if light is None:
            raise NotExpressible("the claim uses a form the Coq export does not read (such as a power "
                                 "of a power)")
        th = theorem(light, r.depths, name)
    except NotExpressible as exc:
        return {"exported": False, "checked": None, "message": f"not exported: {exc}"}
    theorems.append(th)
    out = {"exported": True, "theorem": name, "checked": None,
           "message": f"theorem {name} written" if args.coq else f"theorem {name} (not written: no --coq)"}
    if args.coq_check:
        timeout = args.coq_timeout or DEFAULT_COQ_TIMEOUT
        timeout = None if math.isinf(timeout) else timeout
        ok, why = coq_check(coq_file([th]), timeout)
        out["checked"] = ok
        out["message"] += ("; coqc accepts it" if ok else f"; coqc does not accept it: {why}" if ok is False
                           else f"; not checked: {why}")
    return out
