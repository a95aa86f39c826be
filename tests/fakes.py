"""Loopback network fakes shared by the tests: a real HTTP server whose answers a test decides,
a server that accepts connections and never answers, and a GET that goes straight to loopback.

Both bind to 127.0.0.0/8 only. All of it is loopback on Linux, so a fake can stand at a task's own
address (127.0.0.x) on the port the real tasks use.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import requests

# A request body larger than this is refused with 413 (a fake never reads an unbounded body).
MAX_BODY_BYTES = 16 * 1024 * 1024
# How long close() waits for the serving thread before it fails the test.
SHUTDOWN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Request:
    """One request as the fake received it. ``target`` is the request target byte for byte as sent
    (path and query, not decoded)."""

    method: str
    target: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"
    headers: Mapping[str, str] = field(default_factory=dict[str, str])


Responder = Callable[[Request], Response]


def _check_loopback(host: str) -> None:
    if not ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).version != 4:
        raise ValueError(f"host={host!r}: a fake binds to 127.0.0.0/8 only")


class LoopbackHttpServer:
    """A threaded HTTP/1.0 server on ``host:port`` (port 0: any free one) that answers every request
    with ``responder(request)`` and records the requests it was sent.

    Use as a context manager (``with LoopbackHttpServer(responder) as server:``) or call ``start()``
    and ``close()``. A responder that raises gives a 500 and is re-raised by ``close()``, so a broken
    fake fails its test instead of passing it.
    """

    def __init__(self, responder: Responder, host: str = "127.0.0.1", port: int = 0) -> None:
        _check_loopback(host)
        self._responder = responder
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._errors: list[BaseException] = []
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                fake._answer(self)

            # http.server's naming; any other method gets http.server's own 501
            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = answer

            def log_message(self, format: str, *args: object) -> None:
                pass  # a test shows what it needs; access lines would only bury it

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        try:
            length = int(handler.headers.get("Content-Length", "0"))
        except ValueError:
            handler.send_error(400, "bad Content-Length")
            return
        if not 0 <= length <= MAX_BODY_BYTES:
            handler.send_error(413)
            return
        request = Request(handler.command, handler.path, dict(handler.headers.items()), handler.rfile.read(length))
        with self._lock:
            self._requests.append(request)
        try:
            response = self._responder(request)
        except Exception as error:
            with self._lock:
                self._errors.append(error)
            handler.send_error(500, "the fake's responder raised")
            return
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if request.method != "HEAD":
            handler.wfile.write(response.body)

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[Request]:
        """The requests received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def paths(self) -> list[str]:
        """The request targets received so far, oldest first."""
        return [request.target for request in self.requests]

    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError(f"{self.url} already started")
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=f"fake {self.url}", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, within SHUTDOWN_TIMEOUT_S; raise the first error a responder raised."""
        thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._server.shutdown()  # serve_forever notices within its poll interval (0.1 s)
        self._server.server_close()
        if thread is not None:
            thread.join(timeout=SHUTDOWN_TIMEOUT_S)
            if thread.is_alive():
                raise RuntimeError(f"fake {self.url} still serving after {SHUTDOWN_TIMEOUT_S} s")
        with self._lock:
            errors = list(self._errors)
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class HangingServer:
    """A server whose app is stuck: the kernel completes connections into the listen backlog and
    nobody ever accepts or answers them (what a caller sees of a hung or stopping task)."""

    def __init__(self, host: str, port: int, backlog: int = 128) -> None:
        _check_loopback(host)
        self.sock = socket.socket()
        try:
            self.sock.bind((host, port))
            self.sock.listen(backlog)  # never accept(): requests sit in the backlog unanswered
        except OSError:
            self.sock.close()
            raise

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def loopback_get(url: str, *, timeout: float, **kwargs: Any) -> requests.Response:
    """GET straight to a loopback server, whatever HTTP(S)_PROXY the machine has set."""
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, timeout=timeout, **kwargs)
