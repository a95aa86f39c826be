"""Settings, from code or from the environment variables the CDK constructs set, checked at start-up."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from ecs_discovery_client._errors import ConfigurationError

__all__ = [
    "DEFAULT_HOSTS_FILE",
    "TEST_TRAFFIC_HEADER",
    "DiscoverySettings",
    "ServiceTarget",
    "dns_name_from_env",
    "env_prefix",
    "is_dns_name",
    "is_test_traffic_header",
    "is_test_traffic_value",
]

# One DNS label: letters, digits, hyphen and underscore (SRV-style owner names such as _http._tcp).
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
_MAX_NAME_LENGTH = 253
# What a value looks like in an error message: short, printable.
_SHOWN_CHARS = 40
# A path a process can open (PATH_MAX on Linux).
_MAX_PATH_LENGTH = 4096
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

#: Where the C library finds the hosts file, and where ECS writes a task's (Service Connect aliases).
DEFAULT_HOSTS_FILE = "/etc/hosts"

#: The request header that sends a call to the green revision during an ECS blue/green (linear,
#: canary) deployment of a Service Connect service: ECS's default ("By default, Service Connect
#: recognizes the x-amzn-ecs-blue-green-test header for HTTP-based protocols", ECS developer guide).
#: The same value as the CDK library's ``TEST_TRAFFIC_HEADER`` (tests/client/test_test_traffic.py
#: checks that they agree), written out here because the client must not depend on the library.
TEST_TRAFFIC_HEADER = "x-amzn-ecs-blue-green-test"
# The library's rules for the header's name and value (deployment.py), which the test compares.
_MAX_HEADER_LENGTH = 256
_HEADER_NAME = re.compile(rf"[a-z0-9!#$%&'*+.^_`|~-]{{1,{_MAX_HEADER_LENGTH}}}")
_HEADER_VALUE = re.compile(rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{_MAX_HEADER_LENGTH - 2}}}[\x21-\x7e])?")
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"})

# Environment variable of each field that can be set from the environment (DiscoverySettings.from_environ).
_ENV_NAMES: dict[str, str] = {
    "nameservers": "DNS_NAMESERVERS",
    "dns_timeout": "DNS_TIMEOUT",
    "dns_lifetime": "DNS_LIFETIME",
    "max_ttl": "DNS_MAX_TTL",
    "connect_timeout": "UPSTREAM_CONNECT_TIMEOUT",
    "first_byte_timeout": "UPSTREAM_FIRST_BYTE_TIMEOUT",
    "read_timeout": "UPSTREAM_READ_TIMEOUT",
    "max_attempts": "UPSTREAM_MAX_ATTEMPTS",
    "deadline": "UPSTREAM_DEADLINE",
    "pool_max_age": "UPSTREAM_POOL_MAX_AGE",
    "max_body_bytes": "UPSTREAM_MAX_BODY_BYTES",
    "allow_loopback": "UPSTREAM_ALLOW_LOOPBACK",
    "hosts_file": "DNS_HOSTS_FILE",
    "test_traffic_header": "TEST_TRAFFIC_HEADER",
    "test_traffic_value": "TEST_TRAFFIC_HEADER_VALUE",
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _parse_nameserver(text: str, variable: str) -> tuple[str, int]:
    """``10.0.0.2``, ``127.0.0.1:5353``, ``[::1]:5353`` or ``::1``: an IP address and a port (default 53)."""
    item = text.strip()
    host, port_text = item, ""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ConfigurationError(variable, f"{_shown(item)} is not IP[:port] or [IPv6]:port")
        port_text = rest.removeprefix(":")
    elif item.count(":") == 1:
        host, port_text = item.split(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        raise ConfigurationError(
            variable, f"{_shown(item)} is not an IP address: nameservers are given as IP[:port], comma-separated"
        ) from None
    port = 53
    if port_text or item.endswith(":"):
        if not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
            raise ConfigurationError(variable, f"bad port in {_shown(item)}: expected 1-65535")
        port = int(port_text)
    return address, port


def is_dns_name(name: str) -> bool:
    """Whether ``name`` is a DNS name of letters, digits, ``-`` and ``_`` labels (at most 63 characters
    each, 253 in all; a trailing dot allowed), as a full-string match."""
    return len(name) <= _MAX_NAME_LENGTH and _DNS_NAME.fullmatch(name) is not None


def is_test_traffic_header(name: str) -> bool:
    """Whether ``name`` can be the test traffic header: a lower-case HTTP field name of 1-256
    characters that proxies pass on (not hop-by-hop), as the CDK library accepts it."""
    return _HEADER_NAME.fullmatch(name) is not None and name not in _HOP_BY_HOP


def is_test_traffic_value(value: str) -> bool:
    """Whether ``value`` can be sent as the test traffic header's value: 1-256 visible ASCII
    characters, spaces only inside, as the CDK library accepts it."""
    return _HEADER_VALUE.fullmatch(value) is not None


def _check_dns_name(value: str, variable: str) -> str:
    name = value.strip()
    if not is_dns_name(name):
        raise ConfigurationError(
            variable, f"{_shown(value)} is not a DNS name (labels of letters, digits, - and _, at most 63 each)"
        )
    return name.rstrip(".").lower()


def _check_port(text: str, variable: str) -> int:
    value = text.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 5 or not 0 < int(value) < 65536:
        raise ConfigurationError(variable, f"{_shown(text)} is not a TCP port: expected 1-65535")
    return int(value)


def env_prefix(service: str) -> str:
    """``user-service`` -> ``USER_SERVICE``: the prefix ``connect_to`` gives a peer's variables.

    The same rule as the CDK library's ``env_prefix`` (tests/client/test_config.py checks that they
    agree), written out here because the client must not depend on the library."""
    return service.upper().replace("-", "_")


@dataclass(frozen=True)
class DiscoverySettings:
    """How to look names up and how patiently to call what they point to. Times are in seconds.

    The defaults fit service-to-service calls inside a VPC, where a connect takes well under a
    millisecond: 0.5 s without a connection, or without the first byte of an answer on a new
    connection, already means the task is gone or stopping. Every combination is checked when the
    settings are made (:class:`ConfigurationError` names the variable): nothing may be longer than
    the call's ``deadline`` can hold.
    """

    #: Nameservers as ``(IP, port)``; empty: the system resolver (``/etc/resolv.conf``, the VPC resolver).
    nameservers: tuple[tuple[str, int], ...] = ()
    #: One query to one nameserver.
    dns_timeout: float = 1.0
    #: One lookup, retries and SRV target lookups included. Must leave the deadline room to connect.
    dns_lifetime: float = 2.0
    #: An answer is cached for its TTL but never longer than this (a TTL of 2^31-1 must not pin addresses).
    max_ttl: float = 60.0
    #: Connecting to one address.
    connect_timeout: float = 0.5
    #: Waiting for the first byte of the answer on a NEW connection; None: the connect timeout.
    #: A task whose server is stopping may complete connections it never answers (gunicorn's gthread
    #: worker keeps its socket open for up to 2 s after SIGTERM), so a short wait here moves the call to
    #: the next address quickly. After one such timeout the rest of the call waits ``read_timeout``, so a
    #: service that is slow everywhere is still reached. Set it to ``read_timeout`` to turn it off.
    first_byte_timeout: float | None = None
    #: Between two bytes of one answer (and for the first byte on a reused connection).
    read_timeout: float = 3.0
    #: HTTP attempts per call, across the addresses of the answer.
    max_attempts: int = 3
    #: The whole call, from the moment it starts: waiting for a shared lookup, the lookup, every
    #: connect, send and the whole body.
    deadline: float = 5.0
    #: A pooled keep-alive connection older than this is closed instead of reused.
    pool_max_age: float = 30.0
    #: Idle keep-alive connections kept per address.
    pool_size: int = 10
    #: A larger answer fails the attempt instead of filling memory.
    max_body_bytes: int = 1024 * 1024
    #: An address that just failed is tried after the others for this long, so a dead task costs
    #: one call a failed attempt rather than a share of all calls.
    failure_penalty: float = 10.0
    #: Full-jitter backoff before trying an address a second time in one call: a random wait in
    #: [0, min(backoff_max, backoff_base * 2**n)] (none before the first try of each address).
    backoff_base: float = 0.05
    backoff_max: float = 0.5
    #: When every cached address has failed, the name is looked up again before its TTL runs out,
    #: but not sooner than this after the answer arrived (so a dead service does not flood DNS).
    relookup_interval: float = 1.0
    #: Whether an answer may point at a loopback address (127.0.0.0/8, ::1). None: only when every
    #: nameserver in ``nameservers`` is itself a loopback address (the local run and the tests, which
    #: serve DNS and the tasks on loopback); with the system resolver (a task's VPC resolver) never.
    #: Addresses no service can have (unspecified, link-local such as the instance metadata and ECS
    #: credentials endpoints, multicast, reserved, broadcast) are refused whatever this says.
    allow_loopback: bool | None = None
    #: The hosts file, consulted before DNS as the C library does with ``hosts: files dns``: ECS
    #: Service Connect maps each client alias to the task's own proxy there (on a loopback address).
    #: Its addresses are trusted configuration, so loopback is allowed from it whatever
    #: ``allow_loopback`` says; the other addresses no service can have are still refused. An
    #: absolute path; None: DNS only.
    hosts_file: str | None = DEFAULT_HOSTS_FILE
    #: The header a call with ``test_traffic`` carries, which an ECS blue/green (linear, canary)
    #: deployment of a Service Connect service routes to the green revision. A lower-case HTTP field
    #: name, not hop-by-hop; ECS's default unless the service's deployment names another.
    test_traffic_header: str = TEST_TRAFFIC_HEADER
    #: The value ``test_traffic=True`` sends: 1-256 visible ASCII characters (spaces only inside).
    #: ECS matches any value unless the deployment names one (then set this to it).
    test_traffic_value: str = "1"
    #: Names of the variables these settings came from, for error messages.
    source: Mapping[str, str] = field(default_factory=dict[str, str], compare=False, repr=False)

    def __post_init__(self) -> None:
        self._check()

    @property
    def loopback_allowed(self) -> bool:
        """``allow_loopback``, with None decided by the nameservers."""
        if self.allow_loopback is not None:
            return self.allow_loopback
        return bool(self.nameservers) and all(
            ipaddress.ip_address(address).is_loopback for address, _ in self.nameservers
        )

    @property
    def effective_first_byte_timeout(self) -> float:
        first_byte = self.connect_timeout if self.first_byte_timeout is None else self.first_byte_timeout
        return min(first_byte, self.read_timeout)

    def _name(self, field_name: str) -> str:
        return self.source.get(field_name, field_name)

    def _positive(self, field_name: str) -> float:
        value: object = getattr(self, field_name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ConfigurationError(self._name(field_name), f"{_shown(value)} is not a number > 0 (seconds)")
        return float(value)

    def _count(self, field_name: str) -> int:
        value: object = getattr(self, field_name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(self._name(field_name), f"{_shown(value)} is not a whole number >= 1")
        return value

    def _check(self) -> None:
        for name in ("dns_timeout", "dns_lifetime", "max_ttl", "connect_timeout", "read_timeout", "deadline"):
            self._positive(name)
        for name in ("pool_max_age", "failure_penalty", "backoff_base", "backoff_max", "relookup_interval"):
            self._positive(name)
        if self.first_byte_timeout is not None:
            self._positive("first_byte_timeout")
        for name in ("max_attempts", "pool_size", "max_body_bytes"):
            self._count(name)
        if self.allow_loopback is not None and not isinstance(cast(object, self.allow_loopback), bool):
            raise ConfigurationError(
                self._name("allow_loopback"), f"{_shown(self.allow_loopback)} is not true, false or None"
            )
        self._check_hosts_file()
        header = cast(object, self.test_traffic_header)
        if not isinstance(header, str) or not is_test_traffic_header(header):
            raise ConfigurationError(
                self._name("test_traffic_header"),
                f"{_shown(header)} is not a lower-case HTTP header name of 1-{_MAX_HEADER_LENGTH} characters from "
                f"a-z, 0-9 and !#$%&'*+.^_`|~- that proxies pass on (for example {TEST_TRAFFIC_HEADER!r})",
            )
        value = cast(object, self.test_traffic_value)
        if not isinstance(value, str) or not is_test_traffic_value(value):
            raise ConfigurationError(
                self._name("test_traffic_value"),
                f"{_shown(value)} is not 1-{_MAX_HEADER_LENGTH} visible ASCII characters (spaces only inside)",
            )
        for item in cast(tuple[object, ...], self.nameservers):
            pair = cast(tuple[object, ...], item) if isinstance(item, tuple) else None
            if pair is None or len(pair) != 2:
                shown = _shown(cast(object, pair if pair is not None else item))
                raise ConfigurationError(self._name("nameservers"), f"{shown} is not an (IP, port) pair")
            address, port = pair
            _parse_nameserver(f"[{address}]:{port}", self._name("nameservers"))

        deadline = f"{self._name('deadline')} ({self.deadline:g} s)"
        if self.dns_timeout > self.dns_lifetime:
            raise ConfigurationError(
                self._name("dns_timeout"),
                f"{self.dns_timeout:g} s is longer than {self._name('dns_lifetime')} ({self.dns_lifetime:g} s), "
                "the time for a whole lookup",
            )
        if self.dns_lifetime + self.connect_timeout > self.deadline:
            raise ConfigurationError(
                self._name("dns_lifetime"),
                f"{self.dns_lifetime:g} s plus {self._name('connect_timeout')} ({self.connect_timeout:g} s) "
                f"is longer than {deadline}: a lookup that takes its whole lifetime would leave no time to "
                "connect, and the call could not end by its deadline",
            )
        if self.read_timeout > self.deadline:
            raise ConfigurationError(
                self._name("read_timeout"),
                f"{self.read_timeout:g} s is longer than {deadline}: one silent address would use the "
                "whole deadline and no other address would be tried",
            )

    def _check_hosts_file(self) -> None:
        path = cast(object, self.hosts_file)
        if path is None:
            return
        if (
            not isinstance(path, str)
            or not path.startswith("/")
            or len(path) > _MAX_PATH_LENGTH
            or _CONTROL_CHARACTER.search(path)
        ):
            raise ConfigurationError(
                self._name("hosts_file"),
                f"{_shown(path)} is not an absolute path of at most {_MAX_PATH_LENGTH} characters without control "
                f"characters (default {DEFAULT_HOSTS_FILE})",
            )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], **overrides: object) -> DiscoverySettings:
        """Settings from ``DNS_*`` and ``UPSTREAM_*`` variables (see the docs' table); unset means the default.

        Raises :class:`ConfigurationError` naming the variable when a value is malformed or the
        values together cannot meet ``UPSTREAM_DEADLINE``.
        """
        values: dict[str, object] = {}
        for field_name, variable in _ENV_NAMES.items():
            raw = environ.get(variable, "").strip()
            if not raw:
                continue
            if field_name == "nameservers":
                items = [item for item in raw.split(",") if item.strip()]
                values[field_name] = tuple(_parse_nameserver(item, variable) for item in items)
            elif field_name == "allow_loopback":
                word = raw.lower()
                if word not in _TRUE and word not in _FALSE:
                    raise ConfigurationError(variable, f"{_shown(raw)} is not true or false (1/0, yes/no, on/off)")
                values[field_name] = word in _TRUE
            elif field_name in ("hosts_file", "test_traffic_value"):
                values[field_name] = raw
            elif field_name == "test_traffic_header":
                values[field_name] = raw.lower()  # field names are case-insensitive; proxies match lower case
            elif field_name in ("max_attempts", "max_body_bytes"):
                if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
                    raise ConfigurationError(variable, f"{_shown(raw)} is not a whole number >= 1")
                values[field_name] = int(raw)
            else:
                try:
                    values[field_name] = float(raw)
                except ValueError:
                    raise ConfigurationError(variable, f"{_shown(raw)} is not a number (seconds)") from None
        values.update(overrides)
        source = {name: _ENV_NAMES.get(name, name) for name in (field.name for field in dataclasses.fields(cls))}
        return cls(**values, source=source)  # pyright: ignore[reportArgumentType]

    def replace(self, **changes: object) -> DiscoverySettings:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)  # pyright: ignore[reportArgumentType]


@dataclass(frozen=True)
class ServiceTarget:
    """A peer service: its DNS name and, if the caller knows it, its port (None: ask SRV)."""

    dns_name: str
    port: int | None = None

    @classmethod
    def from_environ(cls, service: str, environ: Mapping[str, str]) -> ServiceTarget:
        """The peer ``service`` (``worker`` or its prefix ``WORKER``) from the variables ``connect_to`` sets.

        ``<PREFIX>_HOST`` (``worker.corp``) wins; otherwise ``<PREFIX>_SERVICE`` (default: the service
        name in lower case) joined to ``NAMESPACE``. ``<PREFIX>_PORT`` unset means: the port from the
        SRV records. A malformed value is a :class:`ConfigurationError` naming the variable.
        """
        prefix = env_prefix(service.strip())
        if not prefix or not re.fullmatch(r"[A-Z0-9_]+", prefix):
            raise ConfigurationError("service", f"{_shown(service)} is not a service name or variable prefix")
        host_variable = f"{prefix}_HOST"
        host = environ.get(host_variable, "").strip()
        if host:
            dns_name = _check_dns_name(host, host_variable)
        else:
            service_variable = f"{prefix}_SERVICE"
            raw_service = environ.get(service_variable, "").strip()
            service_label = _check_dns_name(raw_service or prefix.lower().replace("_", "-"), service_variable)
            raw_namespace = environ.get("NAMESPACE", "").strip()
            if not raw_namespace:
                raise ConfigurationError(
                    host_variable, f"not set, and neither is NAMESPACE: cannot name the {service_label} service"
                )
            dns_name = f"{service_label}.{_check_dns_name(raw_namespace, 'NAMESPACE')}"
            if len(dns_name) > _MAX_NAME_LENGTH:
                raise ConfigurationError("NAMESPACE", f"{_shown(dns_name)} is longer than 253 characters")
        port_variable = f"{prefix}_PORT"
        port_text = environ.get(port_variable, "")
        port = _check_port(port_text, port_variable) if port_text.strip() else None
        return cls(dns_name, port)


def dns_name_from_env(prefix: str, environ: Mapping[str, str]) -> tuple[str, int | None]:
    """``(dns_name, port)`` of a peer, as :meth:`ServiceTarget.from_environ` finds them."""
    target = ServiceTarget.from_environ(prefix, environ)
    return target.dns_name, target.port
