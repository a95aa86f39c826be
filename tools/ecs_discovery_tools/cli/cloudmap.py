"""The CLI's side of the shared Cloud Map reader (:mod:`ecs_discovery_client.cloudmap`).

The reader does the reading, as the API reference defines it; this module builds it from the
command line's options and turns its errors into :class:`CliError` with the CLI's exit codes.
The client reads the usual AWS configuration: profile, region, credentials chain,
``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` / ``AWS_ENDPOINT_URL``, ``AWS_MAX_ATTEMPTS`` (1-10; botocore's
standard retry mode, 3 attempts by default). A malformed setting is one line and exit code 3.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ecs_discovery_client.cloudmap import (
    CloudMapError,
    CloudMapReader,
    Instance,
    InstanceListing,
    Namespace,
    Service,
    make_client,
    printable,
)
from ecs_discovery_tools.cli.errors import CliError, ExitCode

__all__ = ["Instance", "InstanceListing", "Namespace", "Service", "call", "open_reader", "printable"]

_T = TypeVar("_T")

_EXIT_CODES = {
    "not_found": ExitCode.NOT_FOUND,
    "ambiguous": ExitCode.USAGE,
}


def cli_error(error: CloudMapError) -> CliError:
    return CliError(error.message, _EXIT_CODES.get(error.kind, ExitCode.AWS))


def call(function: Callable[[], _T]) -> _T:
    """``function()``, with a Cloud Map failure turned into a CliError (one line, an exit code)."""
    try:
        return function()
    except CloudMapError as error:
        raise cli_error(error) from None


def open_reader(*, region: str | None, profile: str | None, endpoint_url: str | None) -> CloudMapReader:
    """A reader over a client made from the options (``None`` falls back to the AWS configuration)."""
    client = call(
        lambda: make_client(
            region=region, profile=profile, endpoint_url=endpoint_url, user_agent_extra="ecs-discovery-cli"
        )
    )
    return CloudMapReader(client)
