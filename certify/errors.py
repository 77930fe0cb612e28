"""Errors and the documented exit codes of the ``certify`` command.

Every refusal of user input is an :class:`InputError` that names the offending field
(a JSON path such as ``head.keys[3][1]`` or a command-line option such as ``--epsilon``).
The CLI turns it into one line on stderr and exit code :data:`EXIT_BAD_INPUT`. Any other
exception is a fault of the tool or of the host, never an answer: the CLI reports it on one
line as :data:`EXIT_INTERNAL`, so that the codes 0, 1 and 3 come only from a decided verdict.
"""

from __future__ import annotations

#: The question was answered positively (e.g. a construction was written, a claim holds).
EXIT_OK = 0
#: A claim was refuted (reserved for ``prove`` / ``check``).
EXIT_REFUTED = 1
#: Bad input or usage: malformed JSON, wrong shapes, NaN, hostile expressions, unknown fields.
EXIT_BAD_INPUT = 2
#: Undecided within the budget (reserved for ``prove``).
EXIT_UNDECIDED = 3
#: Internal error: an unexpected exception (a bug, or a fault of the host such as memory).
#: Never a verdict; ``certify --debug ...`` shows the traceback.
EXIT_INTERNAL = 4


class InputError(ValueError):
    """A user-supplied value is unacceptable.

    ``field`` names where the value came from, ``message`` says what was expected.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")
