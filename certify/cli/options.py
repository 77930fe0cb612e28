"""Option types and shared options of the ``certify`` commands.

An option type is an argparse ``type=`` callable: it converts the text and refuses a value out
of range with :class:`OptionValueError`, so that no command checks its options by hand. A text
that is not a number at all stays an argparse usage error (``invalid int value: 'x'``, with the
usage line). A value out of range is bad input: :class:`CommandParser` reports it as every other
:class:`~certify.errors.InputError`, in one line naming the option
(``certify prove: error: --max-cells: must be >= 1, got 0``), and ``certify`` exits 2.

Nothing here imports numpy, sympy or the certifier: ``certify --help`` stays fast. The ranges of
the construction parameters are read from :mod:`certify.constructions.prefixes` when a value is
checked, not when the parser is built.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

from certify.errors import InputError


class OptionValueError(argparse.ArgumentTypeError):
    """An option's value is out of its range (bad input, not a usage error)."""


class OptionError(InputError):
    """A refused option value, raised while parsing: ``prog`` is the command's name for the
    one-line message (``certify construct-seq ka``)."""

    def __init__(self, prog: str, field: str, message: str):
        super().__init__(field, message)
        self.prog = prog


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose option types refuse values as bad input.

    argparse turns an :class:`OptionValueError` from a ``type=`` callable into a usage error;
    this parser raises :class:`OptionError` instead (the field is the option's first name,
    ``-o`` for ``-o/--output``), which ``certify`` prints as one line with exit 2. Every other
    error (a missing or unknown argument, a choice, a text that is not a number) keeps
    argparse's usage message. ``parse_args`` therefore raises :class:`OptionError` for a value
    out of range, and exits through :meth:`error` as usual for the rest.
    """

    def error(self, message: str):
        failure = sys.exc_info()[1]  # error() is called while argparse handles an ArgumentError
        cause = failure.__context__ if isinstance(failure, argparse.ArgumentError) else None
        if isinstance(cause, OptionValueError) and failure.argument_name:
            raise OptionError(self.prog, failure.argument_name.split("/")[0], str(cause)) from None
        super().error(message)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parsers of ``parser``'s subcommands by name (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


# ---------------------------------------------------------------------------------- types

def _convert(kind: type, text: str):
    try:
        return kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None


def positive_int(text: str) -> int:
    """An integer >= 1 (a budget, a dimension, a length)."""
    value = _convert(int, text)
    if value < 1:
        raise OptionValueError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A float > 0 (NaN refused, inf accepted: no cap)."""
    value = _convert(float, text)
    if not value > 0:
        raise OptionValueError(f"must be > 0, got {value}")
    return value


def positive_finite_float(text: str) -> float:
    """A finite float > 0, refused as "a finite number > 0"."""
    value = _convert(float, text)
    if not (math.isfinite(value) and value > 0):
        raise OptionValueError(f"must be a finite number > 0, got {value}")
    return value


def positive_number(text: str) -> float:
    """A finite float > 0, refused as "a positive number"."""
    value = _convert(float, text)
    if not (value > 0 and math.isfinite(value)):
        raise OptionValueError(f"must be a positive number, got {value}")
    return value


def float_in_range(bounds: Callable[[], tuple[float, float]]) -> Callable[[str], float]:
    """A finite float in ``bounds()`` = [lo, hi], checked by the constructions' own
    :func:`~certify.constructions.prefixes.check_in_range` (same range, same message)."""

    def parse(text: str) -> float:
        value = _convert(float, text)
        from certify.constructions.prefixes import check_in_range

        try:
            check_in_range("", value, bounds())
        except InputError as exc:
            raise OptionValueError(exc.message) from None
        return value

    return parse


def _epsilon_range() -> tuple[float, float]:
    from certify.constructions.prefixes import EPSILON_RANGE

    return EPSILON_RANGE


def _lipschitz_range() -> tuple[float, float]:
    from certify.constructions.prefixes import LIPSCHITZ_RANGE

    return LIPSCHITZ_RANGE


#: A precision epsilon in the range the constructions accept.
epsilon_value = float_in_range(_epsilon_range)
#: A Lipschitz constant or a sup-norm bound in the range the constructions accept.
lipschitz_value = float_in_range(_lipschitz_range)


def output_file(text: str) -> str:
    """A file to write: its folder exists and it is not itself a folder (refused before any
    work is done). The text is kept as given."""
    out = Path(text)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise OptionValueError(f"folder {parent} does not exist")
    if out.is_dir():
        raise OptionValueError(f"{out} is a folder, expected a file path")
    return text


def output_folder(text: str) -> str:
    """A folder to write into: absent (it is created) or a folder, never a file."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise OptionValueError(f"{out} exists and is not a folder")
    return text


def checked(field: str, parse: Callable[[str], object], text: str):
    """``parse(text)`` for a value that is checked only in some cases (after parsing): a refusal
    is bad input naming ``field``, as it would be from the parser."""
    try:
        return parse(text)
    except argparse.ArgumentTypeError as exc:
        raise InputError(field, str(exc)) from None


# ---------------------------------------------------------------------------------- options

def add_json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_budget_options(p: argparse.ArgumentParser, cells: int, per: str = "",
                       time_limit: Callable[[str], float] = positive_float) -> None:
    """--max-cells (the work budget that decides UNDECIDED) and --time-limit (an extra cap)."""
    p.add_argument("--max-cells", type=positive_int, default=cells, metavar="K",
                   help=f"cells {per}to bound at most before answering UNDECIDED (default {cells}); "
                        "the verdict depends only on the input and this budget")
    p.add_argument("--time-limit", type=time_limit, default=None, metavar="S",
                   help=f"seconds {per}at most: an extra wall-clock cap (default none); a verdict it "
                        "cuts short depends on the host's speed and load")


def add_debug_option(p: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps a --debug given before the command from being reset by the subcommand
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="on an internal error (exit 4) print the traceback")


def default_workers() -> int:
    """The processes a search or a check uses by default: the cores this process may run on."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not every platform has affinity masks
        return max(1, os.cpu_count() or 1)


def add_workers_option(p: argparse.ArgumentParser, what: str) -> None:
    """--workers K: processes that bound cells; the answer is the same for every K."""
    p.add_argument("--workers", type=positive_int, default=None, metavar="K",
                   help=f"processes that bound the cells of the {what} (default: this machine's cores, "
                        f"{default_workers()} here); the answer and the certificate are the same for every K")
