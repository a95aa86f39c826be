"""Exit codes of ``ecs-discovery`` and the one exception that carries them.

The codes are part of the CLI's interface: scripts may branch on them.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: The namespace, service or DNS name does not exist.
    NOT_FOUND = 1
    #: Bad arguments, an ambiguous name, or a missing optional dependency.
    USAGE = 2
    #: AWS refused or could not be reached: no credentials or region, access denied,
    #: throttled after the retries, endpoint unreachable.
    AWS = 3
    #: DNS gave no answer: timeout, no nameserver reachable, server failure.
    DNS = 4
    #: Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    INTERRUPTED = 130


class CliError(Exception):
    """A failure to report as one line on stderr, ending the command with ``exit_code``."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
