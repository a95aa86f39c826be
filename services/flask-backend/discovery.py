"""Find a service by its Cloud Map DNS name and call it, surviving stale answers.

Cloud Map answers ``<service>.<namespace>`` with one A record per healthy task
(MULTIVALUE, up to 8) and one SRV record per task (``1 1 <port> <task>.<service>.<namespace>``),
with a short TTL. Tasks come and go faster than caches expire, so some addresses
are always gone; when no task is healthy Route 53 answers with unhealthy ones
instead of NXDOMAIN. A client therefore has to:

* cache the answer for at most its TTL (and reuse it until then: no lookup per request),
* start at a random address so load spreads over the tasks,
* give up on an address quickly (short connect timeout) and try the next one,
* bound the whole call (capped attempts and an overall deadline),
* turn "nothing answered" into a clear error instead of a hang.
"""

from __future__ import annotations

import ipaddress
import json
import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import requests
import requests.adapters

__all__ = [
    "AttemptFailure",
    "CallResult",
    "DiscoveryClient",
    "DiscoveryError",
    "DiscoverySettings",
    "Endpoint",
    "ResolutionError",
    "UnreachableError",
    "dns_name_from_env",
]


# -- configuration -----------------------------------------------------------------


def _parse_nameserver(text: str) -> dns.nameserver.Nameserver:
    """``10.0.0.2``, ``127.0.0.1:5353``, ``[::1]:5353`` or ``::1``."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    ipaddress.ip_address(host)  # raises ValueError: nameservers must be IP addresses
    if not 0 < port < 65536:
        raise ValueError(f"bad port in nameserver {text!r}")
    return dns.nameserver.Do53Nameserver(host, port)


def _float_env(environ: Mapping[str, str], key: str, default: float) -> float:
    raw = environ.get(key, "").strip()
    value = float(raw) if raw else default
    if value <= 0:
        raise ValueError(f"{key} must be > 0, got {raw!r}")
    return value


def _int_env(environ: Mapping[str, str], key: str, default: int) -> int:
    raw = environ.get(key, "").strip()
    value = int(raw) if raw else default
    if value <= 0:
        raise ValueError(f"{key} must be > 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class DiscoverySettings:
    """How to look names up and how patiently to call what they point to.

    The defaults fit service-to-service calls inside a VPC: a connect there takes well
    under a millisecond, so 0.5 s already means the task is gone.
    """

    nameservers: tuple[dns.nameserver.Nameserver, ...] = ()  # empty: the system resolver
    dns_timeout: float = 1.0  # per query to one nameserver
    dns_lifetime: float = 2.0  # whole lookup, retries included
    connect_timeout: float = 0.5  # per attempt
    read_timeout: float = 3.0  # per attempt, between bytes
    max_attempts: int = 3
    deadline: float = 5.0  # whole call: the DNS lookup (if the cache is stale) and all attempts
    max_body_bytes: int = 1024 * 1024
    # An address that just failed is tried after the others for this long, so that one
    # dead task costs one request a timeout rather than a share of all requests.
    failure_penalty: float = 10.0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> DiscoverySettings:
        nameservers_text = environ.get("DNS_NAMESERVERS", "").strip()
        return cls(
            nameservers=tuple(_parse_nameserver(item) for item in nameservers_text.split(",") if item.strip()),
            dns_timeout=_float_env(environ, "DNS_TIMEOUT", cls.dns_timeout),
            dns_lifetime=_float_env(environ, "DNS_LIFETIME", cls.dns_lifetime),
            connect_timeout=_float_env(environ, "UPSTREAM_CONNECT_TIMEOUT", cls.connect_timeout),
            read_timeout=_float_env(environ, "UPSTREAM_READ_TIMEOUT", cls.read_timeout),
            max_attempts=_int_env(environ, "UPSTREAM_MAX_ATTEMPTS", cls.max_attempts),
            deadline=_float_env(environ, "UPSTREAM_DEADLINE", cls.deadline),
        )

    def make_resolver(self) -> dns.resolver.Resolver:
        if self.nameservers:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = list(self.nameservers)
        else:
            resolver = dns.resolver.Resolver()  # /etc/resolv.conf: the VPC resolver in a task
        resolver.timeout = self.dns_timeout
        resolver.lifetime = self.dns_lifetime
        return resolver


def dns_name_from_env(prefix: str, environ: Mapping[str, str]) -> tuple[str, int | None]:
    """DNS name and optional port of a callee from the variables the CDK stack sets.

    ``<PREFIX>_HOST`` (set by ``connect_to``) wins; otherwise ``<PREFIX>_SERVICE`` (default:
    the prefix in lower case) joined to ``NAMESPACE``. ``<PREFIX>_PORT`` unset means "ask SRV".
    """
    host = environ.get(f"{prefix}_HOST", "").strip().rstrip(".")
    if not host:
        service = environ.get(f"{prefix}_SERVICE", "").strip() or prefix.lower()
        namespace = environ.get("NAMESPACE", "").strip().strip(".")
        if not namespace:
            raise ValueError(f"set {prefix}_HOST or NAMESPACE to find the {service} service")
        host = f"{service}.{namespace}"
    port_text = environ.get(f"{prefix}_PORT", "").strip()
    port = int(port_text) if port_text else None
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{prefix}_PORT must be a TCP port, got {port_text!r}")
    return host, port


# -- results and errors ----------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    address: str
    port: int

    @property
    def netloc(self) -> str:
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


@dataclass(frozen=True)
class AttemptFailure:
    address: str
    port: int
    error: str  # short: "connection refused", "connect timeout", "read timeout", ...

    def as_dict(self) -> dict:
        return {"address": self.address, "port": self.port, "error": self.error}


@dataclass(frozen=True)
class CallResult:
    dns_name: str
    address: str
    port: int
    status: int
    body: bytes
    content_type: str
    attempts: int
    failures: tuple[AttemptFailure, ...] = ()

    def json(self):
        return json.loads(self.body)


class DiscoveryError(Exception):
    """The service could not be found or reached. ``failure`` is a short machine-readable code."""

    failure = "error"

    def __init__(self, dns_name: str, detail: str, failures: tuple[AttemptFailure, ...] = ()) -> None:
        super().__init__(f"{dns_name}: {detail}")
        self.dns_name = dns_name
        self.detail = detail
        self.failures = failures


class ResolutionError(DiscoveryError):
    """DNS gave no usable answer. ``failure``: nxdomain, no_records, dns_timeout or dns_error."""

    def __init__(self, dns_name: str, failure: str, detail: str) -> None:
        super().__init__(dns_name, detail)
        self.failure = failure


class UnreachableError(DiscoveryError):
    """Every attempted address refused, reset or timed out."""

    failure = "unreachable"


# -- the client ------------------------------------------------------------------


@dataclass(frozen=True)
class _Resolved:
    endpoints: tuple[Endpoint, ...]
    expires_at: float  # time.monotonic()


class DiscoveryClient:
    """Resolves one service name (TTL-cached) and calls it with failover across its addresses.

    Thread-safe: one instance is meant to be shared by all request threads of a process.
    """

    def __init__(
        self,
        dns_name: str,
        port: int | None = None,
        settings: DiscoverySettings | None = None,
        resolver: dns.resolver.Resolver | None = None,
    ) -> None:
        self.dns_name = dns_name.rstrip(".")
        self.port = port
        self.settings = settings or DiscoverySettings()
        self._resolver = resolver or self.settings.make_resolver()
        # Absolute name: a search domain from resolv.conf must never be appended.
        self._qname = dns.name.from_text(self.dns_name)
        self._lock = threading.Lock()
        self._cached: _Resolved | None = None
        self._lookup_in_flight: Future | None = None
        self._failed_until: dict[Endpoint, float] = {}
        self._sessions = threading.local()

    # -- resolution ----------------------------------------------------------

    def endpoints(self) -> tuple[Endpoint, ...]:
        """Current addresses, from cache while the answer's TTL lasts.

        Concurrent callers share one lookup instead of each sending their own.
        """
        with self._lock:
            cached = self._cached
            if cached is not None and time.monotonic() < cached.expires_at:
                return cached.endpoints
            lookup = self._lookup_in_flight
            owner = lookup is None
            if owner:
                lookup = self._lookup_in_flight = Future()
        if not owner:
            # The owner's lookup is bounded by the resolver lifetime; the margin only guards
            # against an owner thread that died without completing the future.
            try:
                return lookup.result(timeout=self.settings.dns_lifetime + 5)
            except TimeoutError:
                detail = f"DNS lookup of {self.dns_name} timed out"
                raise ResolutionError(self.dns_name, "dns_timeout", detail) from None
        try:
            resolved = self._lookup()
        except BaseException as error:
            with self._lock:
                self._lookup_in_flight = None
            lookup.set_exception(error)
            raise
        with self._lock:
            self._cached = resolved
            self._lookup_in_flight = None
        lookup.set_result(resolved.endpoints)
        return resolved.endpoints

    def _lookup(self) -> _Resolved:
        deadline = time.monotonic() + self.settings.dns_lifetime
        if self.port is not None:
            answer, ttl = self._resolve(self._qname, "A", deadline)
            endpoints = tuple(Endpoint(rdata.address, self.port) for rdata in answer)
        else:
            endpoints, ttl = self._lookup_srv(deadline)
        if not endpoints:
            raise ResolutionError(self.dns_name, "no_records", f"{self.dns_name} has no usable records")
        # The TTL counts from when the answer arrived.
        return _Resolved(endpoints, time.monotonic() + ttl)

    def _lookup_srv(self, deadline: float) -> tuple[tuple[Endpoint, ...], int]:
        answer, ttl = self._resolve(self._qname, "SRV", deadline)
        # Cloud Map's SRV targets are per-task names whose A records may come along in
        # the additional section; look up the ones that did not.
        additional: dict[dns.name.Name, list[str]] = {}
        for rrset in answer.response.additional:
            if rrset.rdtype == dns.rdatatype.A:
                additional.setdefault(rrset.name, []).extend(rdata.address for rdata in rrset)
                ttl = min(ttl, rrset.ttl)
        # Priority and weight are not used: Cloud Map writes 1 and 1 for every task, and
        # calls spread evenly over all of them anyway.
        endpoints: list[Endpoint] = []
        for srv in answer:
            addresses = additional.get(srv.target)
            if addresses is None:
                try:
                    target_answer, target_ttl = self._resolve(srv.target, "A", deadline)
                except ResolutionError as error:
                    if error.failure == "dns_timeout":
                        raise
                    continue  # a target removed since the SRV answer: skip that task
                addresses = [rdata.address for rdata in target_answer]
                ttl = min(ttl, target_ttl)
            endpoints.extend(Endpoint(address, srv.port) for address in addresses)
        return tuple(dict.fromkeys(endpoints)), ttl

    def _resolve(self, qname: dns.name.Name, rdtype: str, deadline: float) -> tuple[dns.resolver.Answer, int]:
        """The answer to ``qname`` ``rdtype`` and the TTL of its records."""
        name = qname.to_text(omit_final_dot=True)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ResolutionError(self.dns_name, "dns_timeout", f"DNS lookup of {name} timed out")
        try:
            answer = self._resolver.resolve(qname, rdtype, search=False, lifetime=remaining)
        except dns.resolver.NXDOMAIN:
            raise ResolutionError(self.dns_name, "nxdomain", f"{name} does not exist (NXDOMAIN)") from None
        except dns.resolver.NoAnswer:
            raise ResolutionError(self.dns_name, "no_records", f"{name} has no {rdtype} records") from None
        except dns.exception.Timeout:
            raise ResolutionError(self.dns_name, "dns_timeout", f"DNS lookup of {name} {rdtype} timed out") from None
        except dns.resolver.NoNameservers as error:
            detail = f"no nameserver answered {name} {rdtype}: {error}"
            raise ResolutionError(self.dns_name, "dns_error", detail) from None
        except dns.exception.DNSException as error:
            detail = f"DNS lookup of {name} {rdtype} failed: {error}"
            raise ResolutionError(self.dns_name, "dns_error", detail) from None
        if answer.rrset is None:
            # resolve() raises NoAnswer before it gets here (raise_on_no_answer defaults to True);
            # Answer.rrset is Optional only for callers that turn that off.
            raise ResolutionError(self.dns_name, "no_records", f"{name} has no {rdtype} records")
        return answer, answer.rrset.ttl

    # -- calling -------------------------------------------------------------

    def call(self, path: str = "/", headers: Mapping[str, str] | None = None) -> CallResult:
        """GET ``path`` on one of the service's addresses, failing over to the next on network errors.

        Only GET: retrying after a read timeout or a reset is safe because the request is idempotent.
        """
        started = time.monotonic()
        endpoints = self.endpoints()
        order = self._attempt_order(endpoints)
        call_deadline = started + self.settings.deadline
        failures: list[AttemptFailure] = []
        request_headers = dict(headers or {})
        # Wrapping round is deliberate: with one address, a retry on a fresh connection still
        # helps when a kept-alive connection was closed by the server just as it was reused.
        for attempt in range(self.settings.max_attempts):
            remaining = call_deadline - time.monotonic()
            if remaining <= 0:
                break
            endpoint = order[attempt % len(order)]
            request_headers["Host"] = f"{self.dns_name}:{endpoint.port}"
            try:
                status, body, content_type = self._get(endpoint, path, request_headers, remaining)
            except _AttemptError as error:
                failures.append(AttemptFailure(endpoint.address, endpoint.port, error.reason))
                self._mark_failed(endpoint)
                continue
            return CallResult(
                self.dns_name, endpoint.address, endpoint.port, status, body, content_type, attempt + 1, tuple(failures)
            )
        tried = ", ".join(f"{failure.address}:{failure.port} {failure.error}" for failure in failures)
        detail = f"no address of {self.dns_name} answered ({tried or 'deadline reached before any attempt'})"
        raise UnreachableError(self.dns_name, detail, tuple(failures))

    def _attempt_order(self, endpoints: tuple[Endpoint, ...]) -> list[Endpoint]:
        # Addresses that failed recently go last (still tried: when every task looks bad, one
        # may be back). Each group is rotated from its own random start so calls spread evenly
        # over the healthy tasks, not onto whichever follows a dead one in the answer.
        now = time.monotonic()
        with self._lock:
            failed_until = self._failed_until
            for endpoint in [endpoint for endpoint, until in failed_until.items() if until <= now]:
                del failed_until[endpoint]
            penalized = [endpoint for endpoint in endpoints if endpoint in failed_until]
        healthy = [endpoint for endpoint in endpoints if endpoint not in penalized]
        return _rotated_randomly(healthy) + _rotated_randomly(penalized)

    def _mark_failed(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._failed_until[endpoint] = time.monotonic() + self.settings.failure_penalty

    def _session(self) -> requests.Session:
        # requests.Session is not documented as thread-safe: one per thread, each pooling
        # keep-alive connections to the service's addresses.
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # service-to-service calls never go through HTTP(S)_PROXY
            adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=2, max_retries=0)
            session.mount("http://", adapter)
            self._sessions.session = session
        return session

    def _get(self, endpoint: Endpoint, path: str, headers: dict, remaining: float) -> tuple[int, bytes, str]:
        url = f"http://{endpoint.netloc}{path if path.startswith('/') else '/' + path}"
        timeout = (min(self.settings.connect_timeout, remaining), min(self.settings.read_timeout, remaining))
        try:
            session = self._session()
            with session.get(url, headers=headers, timeout=timeout, stream=True, allow_redirects=False) as response:
                chunks, size = [], 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > self.settings.max_body_bytes:
                        raise _AttemptError(f"response larger than {self.settings.max_body_bytes} bytes")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks), response.headers.get("Content-Type", "")
        except requests.exceptions.ConnectTimeout:
            raise _AttemptError("connect timeout") from None
        except requests.exceptions.ReadTimeout:
            raise _AttemptError("read timeout") from None
        except requests.exceptions.RequestException as error:
            raise _AttemptError(_describe_network_error(error)) from None


def _rotated_randomly(endpoints: list[Endpoint]) -> list[Endpoint]:
    if not endpoints:
        return []
    start = random.randrange(len(endpoints))
    return endpoints[start:] + endpoints[:start]


class _AttemptError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe_network_error(error: BaseException) -> str:
    """A short name for the OS-level cause buried in requests' and urllib3's wrappers."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return "connection refused"
        if isinstance(current, ConnectionResetError):
            return "connection reset"
        if isinstance(current, TimeoutError):
            return "timeout"
        if type(current).__name__ == "RemoteDisconnected":
            return "connection closed"
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return type(error).__name__
