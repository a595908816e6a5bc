"""The errors a run can end in, each with its exit code.

Every failure the user can cause or meet is one of these; the CLI prints the message as one line on
stderr and exits with `exit_code`. Anything else is a bug.
"""


class ReviewbotError(Exception):
    """Base class: a one-line, user-facing message and an exit code."""

    exit_code = 2


class InputError(ReviewbotError):
    """Bad input or usage: missing file, not an mbox, Message-ID not in the thread, no patches."""

    exit_code = 2


class ArchiveError(ReviewbotError):
    """The archive could not be reached, or answered wrongly."""

    exit_code = 3


EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = InputError.exit_code
EXIT_ARCHIVE = ArchiveError.exit_code
