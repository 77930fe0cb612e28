"""The ``certify`` command: dispatch, exit codes, and what happens when a command fails.

Exit codes: 0 success (CERTIFIED, certificate valid); 1 REFUTED or certificate invalid;
2 bad input or usage (one line on stderr naming the field); 3 UNDECIDED; 4 internal error
(any other exception: one line naming the command and the exception, no output file;
``--debug`` prints the traceback). 0, 1 and 3 come only from a decided verdict.

The parser is assembled in :mod:`certify.cli.parser` from one module per command; option
types are in :mod:`certify.cli.options`, printing and output files in :mod:`certify.cli.output`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings

from certify.cli.options import OptionError, subcommands
from certify.cli.output import WRITTEN, remove_written, silence_stdout
from certify.cli.parser import EPILOG, build_parser
from certify.errors import EXIT_BAD_INPUT, EXIT_INTERNAL, InputError

__all__ = ["EPILOG", "EXIT_BROKEN_PIPE", "build_parser", "main"]

#: Exit status when stdout was closed before the answer was printed (128 + SIGPIPE, as a
#: shell reports a program ended by a broken pipe); a complete answer keeps its own code.
EXIT_BROKEN_PIPE = 141


def _subparser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The (sub)parser of the command that was chosen, for its own usage line."""
    found = parser
    for dest in ("command", "kind"):
        choices = subcommands(found)
        name = getattr(args, dest, None)
        if name is None or name not in choices:
            break
        found = choices[name]
    return found


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # the reader of stdout went away before the answer was printed in full
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit:
        # argparse printed help, a version or a usage error: flush it here, where a
        # closed pipe can still be silenced, not in the interpreter's final flush
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()
        raise


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except OptionError as exc:  # an option's value out of range: bad input, before any work
        print(f"{exc.prog}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if extra:
        _subparser(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    name = " ".join(filter(None, [args.command, getattr(args, "kind", None)]))
    WRITTEN.clear()
    try:
        if getattr(args, "light", False):
            # a command that imports numpy only when it needs it (certify claim's fast path
            # does not): numpy's floating-point warnings are RuntimeWarnings, ignored below
            errstate = contextlib.nullcontext()
        else:
            import numpy as np  # here, not at the top: `certify --help` does not load numpy

            errstate = np.errstate(all="ignore")
        with warnings.catch_warnings(), errstate:
            # numpy's overflow/invalid/divide warnings are no message for a user: every
            # command checks finiteness itself and says what is not finite
            warnings.simplefilter("ignore", RuntimeWarning)
            code = args.func(args)
        sys.stdout.flush()
        return code
    except InputError as exc:
        remove_written()
        print(f"certify {name}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        remove_written()
        print("certify: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main() silences stdout; output files already written stay (the answer was decided)
    except Exception as exc:  # every other exception is a fault, never an answer
        remove_written()
        if args.debug:
            traceback.print_exc()
        text = " ".join(str(exc).split())
        text = text if len(text) <= 300 else text[:297] + "..."
        print(f"certify {name}: internal error: {type(exc).__name__}" + (f": {text}" if text else "")
              + " (no output written; rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
