"""Call a service by its Cloud Map name: failover across its addresses within one deadline per call."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from typing import Any

import urllib3
import urllib3.exceptions
import urllib3.response

from ecs_discovery_client._clock import SYSTEM_CLOCK, Clock
from ecs_discovery_client._config import DiscoverySettings, ServiceTarget, is_test_traffic_value
from ecs_discovery_client._errors import AttemptFailure, FailureKind, ResolutionError, UnreachableError
from ecs_discovery_client._pool import AttemptState, ConnectionPools, attempt_state
from ecs_discovery_client._resolver import Deadline, Endpoint, Resolver
from ecs_discovery_client._watchdog import WATCHDOG

__all__ = ["AttemptEvent", "CallResult", "DiscoveryClient", "DiscoveryClients", "attempt_timeout"]

logger = logging.getLogger("ecs_discovery_client")

# RFC 9110 section 9.2.2: a request with one of these methods may be sent again after a failure
# that might have happened after the server received it. Others are only retried when the
# connection could not be made (nothing was sent). urllib3's own set (GET, HEAD, OPTIONS, TRACE,
# PUT, DELETE), so the client retries exactly what urllib3's Retry would.
IDEMPOTENT_METHODS: frozenset[str] = urllib3.Retry.DEFAULT_ALLOWED_METHODS
_READ_CHUNK = 64 * 1024
_METHOD = re.compile(r"[A-Z]{1,20}")
# Spaces and control characters in a path would split the request line.
_UNSAFE_PATH_CHARACTER = re.compile(r"[\x00-\x20\x7f]")


@dataclass(frozen=True)
class AttemptEvent:
    """One attempt of a call, for the ``on_attempt`` hook: where it went, how it ended, how long it took."""

    dns_name: str
    address: str
    port: int
    attempt: int  # 1-based, within the call
    outcome: str  # "ok" (an HTTP answer, whatever its status) or the failure's text: "connection refused", ...
    status: int | None  # the HTTP status when outcome is "ok"
    elapsed: float  # seconds, this attempt only
    fresh_connection: bool  # the attempt opened a new connection (False: a pooled keep-alive one)
    kind: FailureKind | None = None  # the failure's kind; None when outcome is "ok"


@dataclass(frozen=True)
class CallResult:
    """An HTTP answer from one of the service's addresses (any status: a 500 is an answer too)."""

    dns_name: str
    address: str
    port: int
    status: int
    body: bytes
    content_type: str
    attempts: int
    failures: tuple[AttemptFailure, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    reason: str = ""
    elapsed: float = 0.0  # seconds, the whole call including DNS

    def json(self) -> Any:
        return json.loads(self.body)


class _AttemptError(Exception):
    def __init__(self, kind: FailureKind, text: str | None = None) -> None:
        super().__init__(text or kind.value)
        self.kind = kind
        self.text = text or kind.value


@dataclass
class _Raw:
    status: int
    reason: str
    headers: urllib3.HTTPHeaderDict
    body: bytes


class DiscoveryClient:
    """Calls one service, ``<service>.<namespace>``, on one of its current addresses.

    Thread-safe: make one per service and process, and share it between request threads. Each
    call has one deadline (``settings.deadline``) from the moment it starts, covering the wait for a
    shared DNS lookup, the lookup, and every attempt's connect, send and whole body. Attempts go to
    the answer's addresses from a random start, recently failed ones last; an address is tried a
    second time in a call only after a jittered backoff. When every cached address has failed the
    name is looked up again before its TTL runs out.

    Every attempt's connect and wait for the first byte are bounded by what is left of the
    deadline through urllib3's ``Timeout(total=...)``; a peer that trickles the status line, the
    headers or the body a byte at a time is cut off at the deadline by shutting its socket down
    (:mod:`ecs_discovery_client._watchdog`).

    ``on_attempt`` is called after every attempt with an :class:`AttemptEvent` (exceptions it raises
    are logged and ignored); the ``ecs_discovery_client`` logger has the same at DEBUG level.
    ``clock`` (default: the resolver's) times the deadline, the failed-address memory, the pooled
    connections' age and the backoff; for tests.
    """

    def __init__(
        self,
        dns_name: str,
        port: int | None = None,
        settings: DiscoverySettings | None = None,
        resolver: Resolver | None = None,
        *,
        on_attempt: Callable[[AttemptEvent], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings or (resolver.settings if resolver is not None else DiscoverySettings())
        self.clock: Clock = clock or (resolver.clock if resolver is not None else SYSTEM_CLOCK)
        self.dns_name = dns_name.strip().rstrip(".").lower()
        if port is not None and (type(port) is not int or not 0 < port < 65536):  # a bool is not a port
            raise ValueError(f"port must be 1-65535 or None (SRV), got {port!r}")
        self.port = port
        # The Host header's name: an IPv6 address in brackets (RFC 9110 section 7.2, RFC 3986).
        self._host_name = f"[{self.dns_name}]" if ":" in self.dns_name else self.dns_name
        self.resolver = resolver or Resolver(self.settings, clock=self.clock)
        self.on_attempt = on_attempt
        self._pools = ConnectionPools(
            max_age=self.settings.pool_max_age, maxsize=self.settings.pool_size, clock=self.clock
        )
        self._lock = threading.Lock()
        self._failed_until: dict[Endpoint, float] = {}
        self._known: tuple[Endpoint, ...] = ()

    @classmethod
    def from_environ(
        cls,
        service: str,
        environ: Mapping[str, str] | None = None,
        *,
        resolver: Resolver | None = None,
        on_attempt: Callable[[AttemptEvent], None] | None = None,
    ) -> DiscoveryClient:
        """The client for peer ``service`` (``worker``), configured as :class:`ServiceTarget` and
        :meth:`DiscoverySettings.from_environ` read ``environ`` (default: ``os.environ``)."""
        environ = os.environ if environ is None else environ
        target = ServiceTarget.from_environ(service, environ)
        settings = resolver.settings if resolver is not None else DiscoverySettings.from_environ(environ)
        return cls(target.dns_name, target.port, settings, resolver, on_attempt=on_attempt)

    # -- addresses ----------------------------------------------------------------

    def endpoints(self, deadline: Deadline | None = None) -> tuple[Endpoint, ...]:
        """The service's current addresses (cached for the answer's TTL, capped)."""
        endpoints = self.resolver.resolve(self.dns_name, self.port, deadline=deadline)
        self._note_answer(endpoints)
        return endpoints

    def _note_answer(self, endpoints: tuple[Endpoint, ...]) -> None:
        if endpoints == self._known:
            return
        with self._lock:
            self._known = endpoints
        # Keep-alive connections to tasks that have left DNS are closed, not reused.
        closed = self._pools.keep_only(endpoints)
        if closed:
            logger.debug("%s: closed the connections of %d address(es) no longer in DNS", self.dns_name, closed)

    def _relookup_if_all_failed(
        self, endpoints: tuple[Endpoint, ...], failed: set[Endpoint], deadline: Deadline
    ) -> tuple[Endpoint, ...] | None:
        """A new answer when every address of ``endpoints`` failed (in this call or recently), else None."""
        if not failed and not self._failed_until:
            return None  # the common case, without the lock
        now = self.clock.monotonic()
        with self._lock:
            penalized = {endpoint for endpoint, until in self._failed_until.items() if until > now}
        if not all(endpoint in failed or endpoint in penalized for endpoint in endpoints):
            return None
        try:
            fresh = self.resolver.refresh(
                self.dns_name, self.port, deadline=deadline, older_than=self.settings.relookup_interval
            )
        except ResolutionError as error:
            # The cached answer stays usable; the call goes on with it.
            logger.debug("%s: looking the name up again after every address failed: %s", self.dns_name, error)
            return None
        self._note_answer(fresh)
        return fresh

    def _attempt_order(self, endpoints: tuple[Endpoint, ...], exclude: set[Endpoint]) -> list[Endpoint]:
        # Recently failed addresses go last (still tried: when every task looks bad, one may be back).
        # Each group is rotated from its own random start so calls spread evenly over healthy tasks,
        # not onto whichever follows a dead one in the answer.
        penalized: list[Endpoint] = []
        if self._failed_until:
            now = self.clock.monotonic()
            with self._lock:
                for endpoint in [endpoint for endpoint, until in self._failed_until.items() if until <= now]:
                    del self._failed_until[endpoint]
                penalized = [endpoint for endpoint in endpoints if endpoint in self._failed_until]
        if not penalized and not exclude:
            return _rotated_randomly(list(endpoints))
        healthy = [endpoint for endpoint in endpoints if endpoint not in penalized and endpoint not in exclude]
        return _rotated_randomly(healthy) + _rotated_randomly([e for e in penalized if e not in exclude])

    def _mark(self, endpoint: Endpoint, failed: bool) -> None:
        if failed:
            with self._lock:
                self._failed_until[endpoint] = self.clock.monotonic() + self.settings.failure_penalty
        elif self._failed_until and endpoint in self._failed_until:
            with self._lock:
                self._failed_until.pop(endpoint, None)

    # -- calls --------------------------------------------------------------------

    def call(
        self, path: str = "/", headers: Mapping[str, str] | None = None, *, test_traffic: bool | str = False
    ) -> CallResult:
        """GET ``path``; see :meth:`request`."""
        return self.request("GET", path, headers=headers, test_traffic=test_traffic)

    def request(
        self,
        method: str,
        path: str = "/",
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: Deadline | None = None,
        decode_content: bool = True,
        test_traffic: bool | str = False,
    ) -> CallResult:
        """Send one request to the service, failing over between its addresses on network errors.

        Returns the first HTTP answer, whatever its status. Raises :class:`ResolutionError` when DNS
        gives no address, :class:`UnreachableError` (with every failed attempt) when no address
        answered within ``settings.max_attempts`` attempts and the deadline. Requests with a method
        that is not idempotent (POST, PATCH) are sent again only when the connection failed.

        ``test_traffic``: ``True`` sends ``settings.test_traffic_header`` (ECS's
        ``x-amzn-ecs-blue-green-test``) with ``settings.test_traffic_value``, so that during a
        Service Connect blue/green, linear or canary deployment the call reaches the green
        revision; a string sends that value instead (the value an incoming request carried, passed
        on), checked like the setting (:class:`ValueError` otherwise). A header of that name in
        ``headers`` wins. Default ``False``: nothing is added.
        """
        deadline = deadline or Deadline(self.settings.deadline, clock=self.clock)
        started = self.clock.monotonic()
        method = method.upper()
        if method not in IDEMPOTENT_METHODS and not _METHOD.fullmatch(method):
            raise ValueError(f"method must be an HTTP method such as GET, got {method[:20]!r}")
        if _UNSAFE_PATH_CHARACTER.search(path):
            # Spaces and control characters would split the request line (request smuggling).
            raise ValueError(f"path must not contain spaces or control characters, got {path[:60]!r}")
        if not path.startswith("/"):
            path = "/" + path
        if test_traffic is not False:
            headers = self._with_test_traffic(headers, test_traffic)
        resend_allowed = method in IDEMPOTENT_METHODS
        endpoints = self.endpoints(deadline)
        failures: list[AttemptFailure] = []
        failed_in_call: set[Endpoint] = set()
        tried: set[Endpoint] = set()
        relooked = False
        first_byte_timeout: float | None = self.settings.effective_first_byte_timeout if resend_allowed else None
        order = self._attempt_order(endpoints, exclude=set())
        position = 0
        repeats = 0
        for attempt in range(1, self.settings.max_attempts + 1):
            if deadline.expired:
                break
            if not relooked and (failed_in_call or self._failed_until):
                fresh = self._relookup_if_all_failed(endpoints, failed_in_call, deadline)
                if fresh is not None:
                    relooked = True
                    endpoints = fresh
                    # Addresses new in the answer first, then the rest as usual.
                    order = self._attempt_order(fresh, exclude=tried) + self._attempt_order(fresh, exclude=set())
                    order = list(dict.fromkeys(order))
                    position = 0
            if position >= len(order):
                position = 0  # every address tried in this call: go round again (after a backoff)
            endpoint = order[position]
            position += 1
            if endpoint in tried:
                # Full jitter (Brooker, "Exponential Backoff And Jitter", AWS Architecture Blog, 2015).
                cap = min(self.settings.backoff_max, self.settings.backoff_base * 2**repeats)
                repeats += 1
                self.clock.sleep(min(random.uniform(0, cap), deadline.remaining()))
                if deadline.expired:
                    break
            tried.add(endpoint)
            if headers is None:
                request_headers = {"Host": f"{self._host_name}:{endpoint.port}"}
            else:
                request_headers = dict(headers)
                if not any(name.lower() == "host" for name in request_headers):
                    request_headers["Host"] = f"{self._host_name}:{endpoint.port}"
            attempt_started = self.clock.monotonic()
            state = AttemptState(first_byte_timeout=first_byte_timeout)
            try:
                raw = self._attempt(endpoint, method, path, request_headers, body, deadline, state, decode_content)
            except _AttemptError as error:
                self._report(endpoint, attempt, error.text, None, attempt_started, state.fresh, error.kind)
                failures.append(AttemptFailure(endpoint.address, endpoint.port, error.text, error.kind))
                failed_in_call.add(endpoint)
                self._mark(endpoint, failed=True)
                if state.first_byte_applied and error.kind is FailureKind.READ_TIMEOUT:
                    # A service slow everywhere is still reached: the rest of the call waits longer.
                    first_byte_timeout = None
                if not error.kind.before_sending and not resend_allowed:
                    break
                continue
            self._report(endpoint, attempt, "ok", raw.status, attempt_started, state.fresh)
            self._mark(endpoint, failed=False)
            return CallResult(
                dns_name=self.dns_name,
                address=endpoint.address,
                port=endpoint.port,
                status=raw.status,
                body=raw.body,
                content_type=raw.headers.get("Content-Type", ""),
                attempts=attempt,
                failures=tuple(failures),
                headers=raw.headers,
                reason=raw.reason,
                elapsed=self.clock.monotonic() - started,
            )
        tried_text = ", ".join(f"{failure.address}:{failure.port} {failure.error}" for failure in failures)
        expired = deadline.expired
        if expired:
            what = f"deadline of {deadline.seconds:g} s reached"
            detail = f"no address of {self.dns_name} answered ({what}; tried {tried_text or 'none'})"
        else:
            detail = f"no address of {self.dns_name} answered (tried {tried_text})"
        raise UnreachableError(self.dns_name, detail, tuple(failures), deadline_reached=expired)

    def _with_test_traffic(self, headers: Mapping[str, str] | None, test_traffic: object) -> dict[str, str]:
        if test_traffic is True:
            value = self.settings.test_traffic_value
        elif isinstance(test_traffic, str) and is_test_traffic_value(test_traffic):
            value = test_traffic
        else:
            raise ValueError(
                f"test_traffic must be True, False or a header value of 1-256 visible ASCII characters "
                f"(spaces only inside), got {repr(test_traffic)[:60]}"
            )
        name = self.settings.test_traffic_header
        merged = dict(headers or {})
        if not any(given.lower() == name for given in merged):
            merged[name] = value
        return merged

    def _report(
        self,
        endpoint: Endpoint,
        attempt: int,
        outcome: str,
        status: int | None,
        started: float,
        fresh: bool,
        kind: FailureKind | None = None,
    ) -> None:
        if self.on_attempt is None and not logger.isEnabledFor(logging.DEBUG):
            return
        elapsed = self.clock.monotonic() - started
        event = AttemptEvent(
            self.dns_name, endpoint.address, endpoint.port, attempt, outcome, status, elapsed, fresh, kind
        )
        logger.debug(
            "%s attempt %d to %s: %s%s in %.3f s",
            event.dns_name,
            event.attempt,
            endpoint.netloc,
            outcome,
            f" {status}" if status is not None else "",
            event.elapsed,
        )
        if self.on_attempt is not None:
            try:
                self.on_attempt(event)
            except Exception:
                logger.exception("%s: the on_attempt hook raised; ignored", self.dns_name)

    def _attempt(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        deadline: Deadline,
        state: AttemptState,
        decode_content: bool,
    ) -> _Raw:
        remaining = deadline.remaining()
        if remaining <= 0:
            raise _AttemptError(FailureKind.CONNECT_TIMEOUT, "deadline reached before connecting")
        timeout = attempt_timeout(self.settings, deadline)
        state.watch = watch = WATCHDOG.watch(remaining)
        try:
            token = attempt_state.set(state)
            try:
                response = self._urlopen(endpoint, method, path, headers, body, timeout, decode_content)
            finally:
                attempt_state.reset(token)
        except _AttemptError:
            WATCHDOG.cancel(watch)
            raise
        except urllib3.exceptions.NewConnectionError as error:  # refused, unreachable, ...
            WATCHDOG.cancel(watch)
            raise _attempt_error(error, FailureKind.CONNECTION_FAILED) from None
        except urllib3.exceptions.ConnectTimeoutError:
            # Also when the deadline (urllib3's total) was the shorter limit: UnreachableError's
            # deadline_reached tells the two apart for the whole call.
            WATCHDOG.cancel(watch)
            raise _AttemptError(FailureKind.CONNECT_TIMEOUT) from None
        except urllib3.exceptions.ReadTimeoutError:
            WATCHDOG.cancel(watch)
            raise _AttemptError(FailureKind.READ_TIMEOUT) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            if not WATCHDOG.cancel(watch):
                # The deadline shut the socket down: the status line or headers came too slowly (a
                # byte within every read timeout), or it raced urllib3's own read timeout.
                raise _AttemptError(FailureKind.READ_TIMEOUT) from None
            raise _attempt_error(error, FailureKind.CONNECTION_BROKEN) from None
        fired = False
        try:
            try:
                content = self._read_body(response, deadline, decode_content)
            finally:
                fired = not WATCHDOG.cancel(watch)
            if fired:
                # The socket was shut down: whatever was read may be cut short (a body without a
                # length ends at the shutdown as if complete).
                raise _AttemptError(FailureKind.READ_TIMEOUT, "deadline reached while reading the body")
        except _AttemptError:
            response.close()  # half-read: the connection cannot be reused
            raise
        except (urllib3.exceptions.HTTPError, OSError) as error:
            response.close()
            if fired or deadline.expired:
                raise _AttemptError(FailureKind.READ_TIMEOUT, "deadline reached while reading the body") from None
            if isinstance(error, urllib3.exceptions.ReadTimeoutError):
                raise _AttemptError(FailureKind.READ_TIMEOUT) from None
            raise _attempt_error(error, FailureKind.CONNECTION_BROKEN) from None
        finally:
            response.release_conn()
        return _Raw(response.status, response.reason or "", response.headers, content)

    def _urlopen(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: urllib3.Timeout,
        decode_content: bool,
    ) -> urllib3.response.BaseHTTPResponse:
        for _ in range(2):
            pool = self._pools.get(endpoint)
            try:
                return pool.urlopen(
                    method,
                    path,
                    body=body,
                    headers=headers,
                    retries=False,
                    redirect=False,
                    assert_same_host=False,
                    timeout=timeout,
                    preload_content=False,
                    decode_content=decode_content,
                    release_conn=False,
                )
            except urllib3.exceptions.ClosedPoolError:
                continue  # closed by another thread as the address left DNS and came back: a new pool
        raise _AttemptError(FailureKind.CONNECTION_FAILED, "connection pool closed")

    def _read_body(self, response: urllib3.response.BaseHTTPResponse, deadline: Deadline, decode: bool) -> bytes:
        """The whole body, at most ``max_body_bytes``. Each read waits at most the read timeout
        (capped by the deadline when urllib3 set it); the watchdog ends a read still blocked at the
        deadline, and the deadline is checked between reads."""
        limit = self.settings.max_body_bytes
        # Nothing to decode: urllib3's decoding buffer would only cost time.
        decode = decode and bool(response.headers.get("Content-Encoding"))
        chunks: list[bytes] = []
        size = 0
        while True:
            if deadline.expired:
                raise _AttemptError(FailureKind.READ_TIMEOUT, "deadline reached while reading the body")
            chunk = response.read1(_READ_CHUNK, decode_content=decode)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise _AttemptError(FailureKind.RESPONSE_TOO_LARGE, f"response larger than {limit} bytes")
            chunks.append(chunk)

    def close(self) -> None:
        """Close every pooled connection (the client stays usable: new calls connect again)."""
        self._pools.close()
        with self._lock:
            self._known = ()


class DiscoveryClients:
    """One shared :class:`DiscoveryClient` per host and port, all with the same settings, resolver
    (so one DNS cache) and hook: what the ``requests`` adapter and the ``httpx`` transports keep."""

    def __init__(
        self,
        settings: DiscoverySettings | None = None,
        resolver: Resolver | None = None,
        *,
        on_attempt: Callable[[AttemptEvent], None] | None = None,
    ) -> None:
        if settings is None:
            settings = resolver.settings if resolver is not None else DiscoverySettings.from_environ(os.environ)
        self.settings = settings
        self.resolver = resolver or Resolver(settings)
        self.on_attempt = on_attempt
        self._clients: dict[tuple[str, int | None], DiscoveryClient] = {}
        self._lock = threading.Lock()

    def client_for(self, host: str, port: int | None) -> DiscoveryClient:
        """The (shared) client for one host and port; port None: from SRV."""
        key = (host.lower(), port)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = DiscoveryClient(host, port, self.settings, self.resolver, on_attempt=self.on_attempt)
                    self._clients[key] = client
        return client

    def close(self) -> None:
        """Close every client's pooled connections; clients made later start afresh."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()


def _rotated_randomly(endpoints: list[Endpoint]) -> list[Endpoint]:
    if len(endpoints) < 2:
        return endpoints
    start = int(random.random() * len(endpoints))  # uniform over the indexes, cheaper than randrange
    return endpoints[start:] + endpoints[:start]


def attempt_timeout(settings: DiscoverySettings, deadline: Deadline) -> urllib3.Timeout:
    """What urllib3 is given for one attempt: the connect and read timeouts, and as ``total`` what is
    left of the call's deadline, so that connect plus the wait for the first byte fit in it."""
    return urllib3.Timeout(total=deadline.remaining(), connect=settings.connect_timeout, read=settings.read_timeout)


def _attempt_error(error: BaseException, fallback: FailureKind) -> _AttemptError:
    """The OS-level cause buried in urllib3's wrappers, as a failure kind (and its text)."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return _AttemptError(FailureKind.CONNECTION_REFUSED)
        if isinstance(current, ConnectionResetError):
            return _AttemptError(FailureKind.CONNECTION_RESET)
        if isinstance(current, RemoteDisconnected):
            return _AttemptError(FailureKind.CONNECTION_CLOSED)
        pending.extend([current.__cause__, current.__context__])
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    if fallback is FailureKind.CONNECTION_BROKEN and isinstance(error, urllib3.exceptions.ProtocolError):
        # "Response ended prematurely", an incomplete chunk, ...: the task went away mid-answer.
        text = str(error.args[0]) if error.args else ""
        return _AttemptError(fallback, f"connection broken ({text[:60]})" if text else None)
    return _AttemptError(fallback)
