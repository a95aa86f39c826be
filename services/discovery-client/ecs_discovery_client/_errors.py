"""What can go wrong: bad configuration, a name DNS cannot resolve, addresses that do not answer.

Failures are typed: :class:`ResolutionFailure` and :class:`FailureKind` are string enums, so code
branches on ``error.failure is ResolutionFailure.NXDOMAIN`` and the JSON a service writes still
shows the plain string (``"nxdomain"``, ``"read timeout"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AttemptFailure",
    "ConfigurationError",
    "DiscoveryError",
    "ErrorCategory",
    "FailureKind",
    "ResolutionError",
    "ResolutionFailure",
    "UnreachableError",
]


class ConfigurationError(ValueError):
    """A setting is invalid or cannot meet the deadline. ``variable`` names it (an environment variable
    when the settings came from the environment, else the field of :class:`DiscoverySettings`)."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


class ResolutionFailure(StrEnum):
    """Why DNS gave no address to call."""

    #: The name does not exist.
    NXDOMAIN = "nxdomain"
    #: The name exists but has no records of the type asked.
    NO_RECORDS = "no_records"
    #: Records came back, but none can be called: SRV target ``.`` (RFC 2782: "decidedly not
    #: available"), SRV port 0, or only addresses the client refuses (see the docs). Never falls
    #: back to A records: the answer said where the service is, and it is nowhere usable.
    NO_USABLE_ADDRESS = "no_usable_address"
    #: No answer within the DNS lifetime or the call's deadline.
    DNS_TIMEOUT = "dns_timeout"
    #: Any other DNS failure (SERVFAIL, no nameserver answered, a malformed answer).
    DNS_ERROR = "dns_error"
    #: The name cannot be carried by DNS.
    BAD_NAME = "bad_name"


class FailureKind(StrEnum):
    """How one attempt at one address failed."""

    CONNECTION_REFUSED = "connection refused"
    #: Any other failure to connect (no route, network unreachable, the pool closed meanwhile).
    CONNECTION_FAILED = "connection failed"
    CONNECT_TIMEOUT = "connect timeout"
    CONNECTION_RESET = "connection reset"
    #: The server closed the connection before the status line (a stale keep-alive connection).
    CONNECTION_CLOSED = "connection closed"
    #: The answer ended early or was malformed (a short body, a bad chunk, a bad status line).
    CONNECTION_BROKEN = "connection broken"
    #: No byte within the read timeout, or the call's deadline ran out after the request was sent.
    READ_TIMEOUT = "read timeout"
    RESPONSE_TOO_LARGE = "response too large"

    @property
    def before_sending(self) -> bool:
        """The request cannot have reached the server (a POST may be sent to another address)."""
        return self in _BEFORE_SENDING


_BEFORE_SENDING = frozenset(
    {FailureKind.CONNECTION_REFUSED, FailureKind.CONNECTION_FAILED, FailureKind.CONNECT_TIMEOUT}
)


class ErrorCategory(StrEnum):
    """Where a whole call failed, as HTTP libraries sort their errors; the requests adapter and the
    httpx transports raise their library's exception of this category (see the docs' table)."""

    #: No connection could be made: refused, unreachable, or DNS gave no address.
    CONNECT = "connect"
    #: DNS or the connect ran out of time (the read had not started).
    CONNECT_TIMEOUT = "connect_timeout"
    #: The request was sent and the answer did not come (or finish) in time.
    READ_TIMEOUT = "read_timeout"
    #: The request was sent and the connection failed during the answer (reset, closed, broken, too large).
    READ = "read"


@dataclass(frozen=True)
class AttemptFailure:
    """One address that did not answer: ``kind`` for code, ``error`` for people (``read timeout``,
    ``deadline reached while waiting for the answer``, ``response larger than 1048576 bytes``)."""

    address: str
    port: int
    error: str
    kind: FailureKind

    def as_dict(self) -> dict[str, str | int]:
        return {"address": self.address, "port": self.port, "error": self.error}


class DiscoveryError(Exception):
    """The service could not be found or reached. ``failure`` is a short machine-readable code."""

    def __init__(self, dns_name: str, detail: str, failures: tuple[AttemptFailure, ...] = ()) -> None:
        super().__init__(f"{dns_name}: {detail}")
        self.dns_name = dns_name
        self.detail = detail
        self.failures = failures

    @property
    def failure(self) -> str:
        return "error"

    @property
    def category(self) -> ErrorCategory:
        """Where the call failed, for code that maps it onto an HTTP library's exceptions."""
        return ErrorCategory.CONNECT


class ResolutionError(DiscoveryError):
    """DNS gave no usable answer; ``failure`` is a :class:`ResolutionFailure`."""

    def __init__(self, dns_name: str, failure: ResolutionFailure, detail: str) -> None:
        super().__init__(dns_name, detail)
        self._failure = failure

    @property
    def failure(self) -> ResolutionFailure:
        return self._failure

    @property
    def category(self) -> ErrorCategory:
        if self.failure is ResolutionFailure.DNS_TIMEOUT:
            return ErrorCategory.CONNECT_TIMEOUT
        return ErrorCategory.CONNECT


class UnreachableError(DiscoveryError):
    """Every attempted address refused, reset or timed out, or the deadline ran out first.
    ``deadline_reached``: the call ran out of time (else it ran out of attempts or, for a request
    that may not be sent twice, stopped after the one that may have arrived)."""

    def __init__(
        self, dns_name: str, detail: str, failures: tuple[AttemptFailure, ...] = (), *, deadline_reached: bool = False
    ) -> None:
        super().__init__(dns_name, detail, failures)
        self.deadline_reached = deadline_reached

    @property
    def failure(self) -> str:
        return "unreachable"

    @property
    def category(self) -> ErrorCategory:
        """Decided by the last attempt, the one that ended the call."""
        if not self.failures:
            return ErrorCategory.CONNECT_TIMEOUT  # the deadline ran out before any attempt
        last = self.failures[-1].kind
        if self.deadline_reached:
            return ErrorCategory.CONNECT_TIMEOUT if last.before_sending else ErrorCategory.READ_TIMEOUT
        if last is FailureKind.CONNECT_TIMEOUT:
            return ErrorCategory.CONNECT_TIMEOUT
        if last is FailureKind.READ_TIMEOUT:
            return ErrorCategory.READ_TIMEOUT
        return ErrorCategory.CONNECT if last.before_sending else ErrorCategory.READ
