"""Service Connect's proxy, played on loopback for a service whose deployments shift traffic.

On ECS, every task of a Service Connect service runs an Envoy proxy; the task's ``/etc/hosts``
maps each client alias of the namespace to it, and ECS tells it where each alias's tasks are and,
during a blue/green, linear or canary deployment, which revision gets a request: one carrying the
test header goes to green, the others by the production weights. Headers are HTTP, so DNS cannot
do this; the local run runs one :class:`ServiceConnectProxy` per client alias of such a service, on
its own 127.0.0.x and the alias port, and writes a hosts file that maps the alias to it (the
discovery client reads it first, ``DNS_HOSTS_FILE``). The proxy asks its ``routes`` callable (the
service's scheduler) for the endpoints and weights on every request.

It answers or drops whatever arrives and never stops serving because of one request:

* a malformed request line or headers get 400 (431 for too many or too long), a body without a
  ``Content-Length`` (chunked) 411, one over ``max_body_bytes`` 413; each then closes;
* one deadline per request (``request_deadline``, Service Connect's default per-request timeout of
  15 s): the head and body must arrive, the upstream answer, and every byte of it within it (a
  socket that checks the time before each receive, so bytes trickled one at a time do not extend
  it); 504 when it passes, 502 when the upstream resets or answers garbage or too much, 503 when no
  task is healthy;
* at most ``max_connections`` connections (the next gets 503 at once), each closed after
  ``idle_timeout`` without a request; a caller that goes away mid-answer is let go quietly.

Upstream, a connect that fails moves to the next task of the same revision (at most three tries),
as Envoy retries connection failures; each upstream call is a new connection on loopback.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from ecs_discovery_tools.local.capped_server import CappedThreadingServer

__all__ = ["REQUEST_DEADLINE_S", "Routes", "ServiceConnectProxy", "WeightedChoice"]

#: Service Connect's default per-request timeout for HTTP (ECS API reference, TimeoutConfiguration).
REQUEST_DEADLINE_S = 15.0
_IDLE_TIMEOUT_S = 30.0
_WRITE_TIMEOUT_S = 10.0
_MAX_CONNECTIONS = 256
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 1024 * 1024
_MAX_ANSWER_BYTES = 8 * 1024 * 1024
_MAX_TRIES = 3
_CHUNK = 64 * 1024
# RFC 9110 7.6.1: fields for one connection only, never forwarded.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
     "proxy-authenticate", "proxy-authorization"}
)  # fmt: skip
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")
Endpoint = tuple[str, int]


@dataclass(frozen=True)
class Routes:
    """Where a service's requests go now: blue's and green's healthy tasks and green's share."""

    blue: tuple[Endpoint, ...]
    green: tuple[Endpoint, ...] = ()
    green_percent: float = 0.0
    test_to_green: bool = False


class WeightedChoice:
    """Whether the next request goes to green, for a share in percent: exactly that share of every
    run of requests (10 % is the 10th, 20th, ... request), not a random draw, so that counts can be
    checked. A new share starts a new run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._percent = 0.0
        self._count = 0

    def green(self, percent: float) -> bool:
        if percent <= 0:
            return False
        if percent >= 100:
            return True
        with self._lock:
            if percent != self._percent:
                self._percent, self._count = percent, 0
            self._count += 1
            # In tenths of a percent, as ECS's weights are: exact for every multiple of 0.1.
            tenths = round(percent * 10)
            return (self._count * tenths) // 1000 > ((self._count - 1) * tenths) // 1000


class _DeadlineSocket(socket.socket):
    """A socket that checks one deadline before each receive and send: a per-receive timeout alone
    lets a peer that sends a byte now and then hold a request for as long as it likes."""

    deadline = math.inf
    write_timeout = _WRITE_TIMEOUT_S
    # Bytes this socket may still receive (a caller's request: its head and body, and no more).
    budget = math.inf

    def _remaining(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request's deadline passed")
        return remaining

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self._remaining())
        if self.budget <= 0:
            raise ConnectionAbortedError("the request is over its size limit")
        wanted = nbytes or len(buffer)
        if self.budget < wanted:
            wanted = int(self.budget)
        received = super().recv_into(buffer, wanted, flags)
        self.budget -= received
        return received

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        self.settimeout(self._remaining())
        return super().recv(bufsize, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        # Its own bound: an answer (a 504 included) is still sent once the deadline has passed.
        self.settimeout(self.write_timeout)
        super().sendall(data, flags)


def _upstream_connection(host: str, port: int, deadline: float) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection(host, port, timeout=max(deadline - time.monotonic(), 0.001))

    def connect() -> None:
        sock = _DeadlineSocket(socket.AF_INET, socket.SOCK_STREAM)
        sock.deadline = deadline
        try:
            sock.settimeout(sock._remaining())  # pyright: ignore[reportPrivateUsage]
            sock.connect((host, port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except BaseException:
            sock.close()
            raise
        connection.sock = sock

    connection.connect = connect  # type: ignore[method-assign]
    return connection


class _Server(CappedThreadingServer):
    allow_reuse_address = True
    request_queue_size = 128
    proxy: ServiceConnectProxy

    def get_request(self) -> tuple[socket.socket, Any]:
        plain, address = self.socket.accept()
        sock = _DeadlineSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
        sock.settimeout(None)
        return sock, address

    def refused(self) -> None:
        self.proxy.count("refused_busy")

    def errored(self) -> None:
        self.proxy.count("errors")

    @property
    def error_label(self) -> str:  # pyright: ignore[reportIncompatibleVariableOverride]
        return f"service connect proxy {self.proxy.name}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # pyright: ignore[reportIncompatibleVariableOverride]
    connection: _DeadlineSocket  # pyright: ignore[reportIncompatibleVariableOverride]
    protocol_version = "HTTP/1.1"
    # A request line too garbled to name its version is still answered with a status line.
    default_request_version = "HTTP/1.0"
    server_version = "envoy-local"
    sys_version = ""
    timeout = None  # the deadline socket bounds each receive

    def log_message(self, format: str, *args: Any) -> None:
        return  # the proxy counts what it does; requests are not logged

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # a caller that went away, a deadline that passed: nothing to answer
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        proxy = self.server.proxy
        # Between requests a kept-alive connection may wait idle_timeout; once the first byte of a
        # request is there, the request has request_deadline for everything.
        self.connection.deadline = time.monotonic() + proxy.idle_timeout
        try:
            first = self.rfile.peek(1)  # type: ignore[attr-defined]
        except TimeoutError:
            self.close_connection = True
            return
        if not first:
            self.close_connection = True
            return
        self.connection.deadline = time.monotonic() + proxy.request_deadline
        # What is buffered already counts against the previous request; a request gets its head,
        # its body and one read buffer of slack.
        self.connection.budget = _MAX_HEAD_BYTES + proxy.max_body_bytes + _CHUNK
        super().handle_one_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # parse_request's answers (a malformed request line or headers): short JSON like every other.
        self.close_connection = True
        self._answer(code if 400 <= code < 500 else 400, {"error": (message or "malformed request")[:200]})

    def _answer(self, status: int, document: Any, extra: Sequence[tuple[str, str]] = ()) -> None:
        body = (json.dumps(document) + "\n").encode()
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes | None:
        """The request's body (b"" when none), or None when it was refused (answered)."""
        if self.headers.get_all("Transfer-Encoding"):
            self.close_connection = True
            self._answer(411, {"error": "send the body with a Content-Length (no Transfer-Encoding)"})
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return b""
        text = lengths[0].strip()
        if len(lengths) > 1 or not text.isascii() or not text.isdigit() or len(text) > 12:
            self.close_connection = True
            self._answer(400, {"error": "Content-Length is not one number of bytes"})
            return None
        length = int(text)
        if length > self.server.proxy.max_body_bytes:
            self.close_connection = True
            self._answer(413, {"error": f"body over {self.server.proxy.max_body_bytes} bytes"})
            return None
        data = self.rfile.read(length)
        if len(data) < length:
            self.close_connection = True
            return None  # the caller went away mid-body: nobody to answer
        return data

    def _proxy(self) -> None:
        proxy = self.server.proxy
        body = self._body()
        if body is None:
            return
        values = self.headers.get_all(proxy.test_header) or []
        test = len(values) == 1 and (proxy.test_header_value is None or values[0].strip() == proxy.test_header_value)
        routes = proxy.routes()
        revision, endpoints = proxy.choose(routes, test)
        if not endpoints:
            proxy.count("no_healthy_upstream")
            self._answer(503, {"error": "no healthy upstream", "alias": proxy.name})
            return
        headers = [
            (name, value)
            for name, value in self.headers.items()
            if _forwarded(name, self.headers) and name.lower() != "content-length"
        ]
        try:
            status, reason, answer_headers, data = proxy.forward(
                endpoints, self.command, self.path, headers, body, self.connection.deadline
            )
        except TimeoutError:
            proxy.count("upstream_timeout")
            self.close_connection = True
            self._answer(504, {"error": "upstream request timeout", "alias": proxy.name})
            return
        except _TooLarge:
            proxy.count("upstream_error")
            self.close_connection = True
            self._answer(502, {"error": "upstream answer too large", "alias": proxy.name})
            return
        except (OSError, http.client.HTTPException) as error:
            proxy.count("upstream_error")
            self._answer(502, {"error": f"upstream connect error or disconnect/reset: {type(error).__name__}"})
            return
        proxy.count(f"answered_{revision}" + ("_test" if test else ""))
        self.send_response_only(status, reason)
        for name, value in answer_headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _proxy


def _forwarded(name: str, headers: Any) -> bool:
    lowered = name.lower()
    if lowered in _HOP_BY_HOP:
        return False
    named = {item.strip().lower() for value in headers.get_all("Connection") or [] for item in value.split(",")}
    return lowered not in named


class _TooLarge(Exception):
    pass


class ServiceConnectProxy:
    """Service Connect's proxy for one client alias, on ``host``:``port`` (loopback only).

    ``routes``: where requests go now (called on every request). ``test_header`` (lower case) and
    ``test_header_value`` (None: any value): the alias's test traffic rule. The other options bound
    the proxy (see the module's docstring) and exist for tests.
    """

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        routes: Callable[[], Routes],
        *,
        test_header: str,
        test_header_value: str | None = None,
        request_deadline: float = REQUEST_DEADLINE_S,
        idle_timeout: float = _IDLE_TIMEOUT_S,
        max_connections: int = _MAX_CONNECTIONS,
        max_body_bytes: int = _MAX_BODY_BYTES,
        max_answer_bytes: int = _MAX_ANSWER_BYTES,
    ) -> None:
        if not host.startswith("127.") or not all(part.isdigit() for part in host.split(".")):
            raise ValueError(f"host {host!r} is not valid: the proxy binds 127.0.0.0/8 only")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port {port!r} is not valid: expected 0-65535")
        for option, value in (("request_deadline", request_deadline), ("idle_timeout", idle_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.05 <= value <= 3600:
                raise ValueError(f"{option} {value!r} is not valid: expected 0.05-3600 seconds")
        self.name = name
        self.host = host
        self.port = port
        self.routes = routes
        self.test_header = test_header.lower()
        self.test_header_value = test_header_value
        self.request_deadline = float(request_deadline)
        self.idle_timeout = float(idle_timeout)
        self.max_connections = max_connections
        self.max_body_bytes = max_body_bytes
        self.max_answer_bytes = max_answer_bytes
        self.counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._weights = WeightedChoice()
        self._turns = itertools.count()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def count(self, what: str) -> None:
        with self._counts_lock:
            self.counts[what] += 1

    def choose(self, routes: Routes, test: bool) -> tuple[str, tuple[Endpoint, ...]]:
        """The revision ("blue" or "green") and its endpoints for one request; a revision with no
        healthy task gives its share to the other, as Envoy does with an empty cluster."""
        if test and routes.test_to_green and routes.green:
            return "green", routes.green
        green = self._weights.green(routes.green_percent)
        if (green and routes.green) or not routes.blue:
            return "green", routes.green
        return "blue", routes.blue

    def forward(
        self,
        endpoints: tuple[Endpoint, ...],
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        deadline: float,
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request to one of ``endpoints`` (the next in turn; on a failed connect, the next),
        read in full by ``deadline``."""
        start = next(self._turns)
        tries = min(len(endpoints), _MAX_TRIES)
        for attempt in range(tries):
            host, port = endpoints[(start + attempt) % len(endpoints)]
            connection = _upstream_connection(host, port, deadline)
            sent = False
            try:
                connection.connect()
                connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    connection.putheader(name, value)
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body or None)
                sent = True
                response = connection.getresponse()
                data = self._read(response, deadline)
                answer_headers = [(n, v) for n, v in response.getheaders() if _forwarded(n, response.msg)]
                answer_headers = [(n, v) for n, v in answer_headers if n.lower() != "content-length"]
                return response.status, response.reason, answer_headers, data
            except TimeoutError:
                raise
            except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
                # Nothing reached the app (refused), or the connection broke before any answer:
                # another task may answer, if the request may be sent twice.
                if attempt + 1 >= tries or (sent and method not in _IDEMPOTENT):
                    raise
            finally:
                connection.close()
        raise ConnectionRefusedError("no endpoint")  # not reached: the loop returns or raises

    def _read(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError("the request's deadline passed")
            chunk = response.read1(_CHUNK)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_answer_bytes:
                raise _TooLarge
            chunks.append(chunk)

    def start(self) -> ServiceConnectProxy:
        server = _Server((self.host, self.port), _Handler, bind_and_activate=False)
        server.proxy = self
        server.connections = threading.BoundedSemaphore(self.max_connections)
        try:
            server.server_bind()
            server.server_activate()
        except BaseException:
            server.server_close()
            raise
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=f"proxy-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def describe(self) -> dict[str, Any]:
        with self._counts_lock:
            counts = dict(self.counts)
        return {"alias": self.name, "address": self.address, "test_header": self.test_header, "counts": counts}

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ServiceConnectProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
