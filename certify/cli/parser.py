"""The ``certify`` argument parser: the global options and one subcommand per module.

Each command module contributes ``add_parser(sub)`` (its arguments and help) and ``run(args)``
(set as ``args.func``). This module and the command modules import no numpy, sympy or certifier
at module level, so ``certify --help`` loads none of them.
"""

from __future__ import annotations

import argparse

from certify import __version__
from certify.cli import audit, bound, check, claim, construct, construct_seq, demo, estimate, evaluate, prove, tune
from certify.cli.options import CommandParser, add_debug_option, subcommands

#: The commands in the order ``certify --help`` lists them.
COMMANDS = (construct, construct_seq, tune, evaluate, estimate, prove, check, claim, bound, demo, audit)

EPILOG = """\
exit codes:
  0  success: CERTIFIED (prove), every certificate valid (check), VERIFIED ON RANGE
     (claim), other commands done
  1  REFUTED (prove: a witness point with error rigorously > epsilon; claim: a witness
     where the inequality is certainly false), or a certificate is INVALID (check: the
     reason names the field and leaf)
  2  bad input or usage: malformed JSON, wrong shapes, NaN/inf, unknown fields,
     expressions outside the whitelist, points off the sphere (one message naming the field)
  3  UNDECIDED (prove, claim: the budget or time limit ran out; the bounds so far are shown)
  4  internal error: an unexpected exception (a bug or a fault of the host, such as
     memory); never a verdict. One line names the command and the exception; no output
     file is written; `certify --debug COMMAND ...` prints the traceback

what a verdict rests on:
  IEEE 754 binary64 arithmetic only (round to nearest, correctly rounded + - * / sqrt);
  exp, log, sin, ... are the kernel's own enclosures, never numpy's or the C library's,
  so every answer is sound on every host. Budgets count work (cells, boxes): the same
  input and budget give the same verdict on an idle or a loaded machine; across hosts an
  enclosure may differ in its last bits (BLAS summation orders), never its soundness.
  --time-limit is an optional extra cap that makes an UNDECIDED answer load-dependent.

examples:
  certify demo
  certify prove p.json -o p.cert.json
  certify check p.cert.json --problem p.json
  certify claim "forall lam in [1, 100]: coth(lam) - 1/lam >= 1 - 1/lam"
  certify bound --sphere-dim 2 --epsilon 0.1 --lipschitz 1
  certify audit --check
  certify prove p.json --accuracy 0.01 --json
  certify construct --target "x0*x1" --sphere-dim 2 --epsilon 0.2 --method net -o p.json
  certify construct --target "x0*x1" --sphere-dim 2 --epsilon 0.05 --method vmf \\
          --lam 300 --prefix-length 1000 -o vmf.json
  certify estimate p.json
  certify eval p.json --points X.npy --out Y.npy
"""


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="certify",
        description="Prefix-tuned attention heads as universal approximators on the sphere S^m: "
                    "reference heads, the paper's prefix constructions, problem files, estimates.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"certify {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error (exit 4) print the traceback (also accepted after COMMAND)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    # --debug after the command too (construct-seq elementwise and ka included), as the last option
    pending = list(subcommands(parser).values())
    while pending:
        command = pending.pop(0)
        add_debug_option(command)
        pending += subcommands(command).values()
    return parser
