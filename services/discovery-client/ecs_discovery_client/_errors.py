"""What can go wrong: bad configuration, a name DNS cannot resolve, addresses that do not answer."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AttemptFailure",
    "ConfigurationError",
    "DiscoveryError",
    "ResolutionError",
    "UnreachableError",
]


class ConfigurationError(ValueError):
    """A setting is invalid or cannot meet the deadline. ``variable`` names it (an environment variable
    when the settings came from the environment, else the field of :class:`DiscoverySettings`)."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable


@dataclass(frozen=True)
class AttemptFailure:
    """One address that did not answer, and why (short: ``connection refused``, ``read timeout``, ...)."""

    address: str
    port: int
    error: str

    def as_dict(self) -> dict[str, str | int]:
        return {"address": self.address, "port": self.port, "error": self.error}


class DiscoveryError(Exception):
    """The service could not be found or reached. ``failure`` is a short machine-readable code."""

    failure = "error"

    def __init__(self, dns_name: str, detail: str, failures: tuple[AttemptFailure, ...] = ()) -> None:
        super().__init__(f"{dns_name}: {detail}")
        self.dns_name = dns_name
        self.detail = detail
        self.failures = failures


class ResolutionError(DiscoveryError):
    """DNS gave no usable answer. ``failure``: ``nxdomain``, ``no_records``, ``dns_timeout`` or ``dns_error``."""

    def __init__(self, dns_name: str, failure: str, detail: str) -> None:
        super().__init__(dns_name, detail)
        self.failure = failure


class UnreachableError(DiscoveryError):
    """Every attempted address refused, reset or timed out, or the deadline ran out first."""

    failure = "unreachable"
