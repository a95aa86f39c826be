"""The local run's control channel, server side: HTTP on 127.0.0.1 with a token.

The server listens on an ephemeral port of 127.0.0.1 and writes its URL and a random token to
the control file (mode 0600 whatever was on disk, in a directory only the user can enter). The
client is :mod:`.control` (``ecs-discovery local ...``); docs/local-run.md lists the endpoints.

Every connection carries one request and gets one HTTP answer, in this order:

1. the request line and headers as HTTP/1.0 or 1.1 (400, 414, 431 otherwise);
2. exactly one ``Authorization: Bearer <token>`` (401 otherwise, whatever else is wrong);
3. a known endpoint (404) and method (405); its query or JSON body, checked field by field
   (400, 411, 413);
4. a run that is up (503 ``starting`` until it is; the event log answers from the first moment)
   and a free slot (503 ``busy``).

Bounds: one request (request line, headers and body) must arrive within ``request_time_limit``
seconds of the connection, in total (408 after, however slowly the bytes come); 16 KiB of
headers and 16 KiB of body; 32 connections (503 at once beyond) and 8 requests being answered
at a time; 10 s to send an answer. A caller that goes away is let go quietly: the run's
terminal never shows a traceback for it.
"""

from __future__ import annotations

import contextlib
import hmac
import io
import json
import math
import os
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol

from ecs_discovery_tools.local.assembly import AssemblyError
from ecs_discovery_tools.local.capped_server import CappedThreadingServer
from ecs_discovery_tools.local.control_api import (
    MAX_BODY_BYTES,
    MAX_LONG_POLL_S,
    Refused,
    check_counts,
    check_service,
    check_task_id,
    private_directory,
    short,
)
from ecs_discovery_tools.local.events import EventLog
from ecs_discovery_tools.local.task_environment import check_environment

__all__ = ["REQUEST_TIME_LIMIT_S", "ControlServer", "Controlled"]

#: How long one request may take to arrive, in total, by default.
REQUEST_TIME_LIMIT_S = 10.0
_MAX_CONCURRENT = 8
_MAX_CONNECTIONS = 32
_WRITE_TIMEOUT_S = 10.0
_MAX_REQUEST_LINE = 8 * 1024
_MAX_HEAD_BYTES = 16 * 1024
_READ_BUFFER = 8 * 1024
# After the answer, what the caller still sends is read (and dropped) for this long, so that
# closing with unread bytes does not reset the connection before the caller has read the answer.
_LINGER_S = 1.0
_LINGER_BYTES = 64 * 1024
_BEARER = re.compile(r"Bearer ([A-Za-z0-9_-]{1,200})")
_DIGITS = re.compile(r"[0-9]+")
_ENDPOINTS = {
    "/status": "GET",
    "/events": "GET",
    "/deploy": "POST",
    "/scale": "POST",
    "/stop-task": "POST",
    "/rollback": "POST",
}
_EVENTS_QUERY = ("since", "wait", "service")
_BODY_FIELDS = {
    "/deploy": {"service", "environment", "reread"},
    "/scale": {"counts"},
    "/stop-task": {"task_id"},
    "/rollback": {"service"},
}
_STARTING = "starting: the local run is not up yet"


class Controlled(Protocol):
    """What the control channel changes and reads: a local run (LocalDeployment)."""

    @property
    def events(self) -> EventLog: ...
    @property
    def ready(self) -> bool: ...
    @property
    def stack_name(self) -> str: ...
    def describe(self) -> dict[str, Any]: ...
    def deploy(self, name: str, environment: Mapping[str, str] | None = None, *, reread: bool = False) -> str: ...
    def scale(self, counts: Mapping[str, int]) -> None: ...
    def stop_task(self, task_id: str) -> bool: ...
    def rollback(self, name: str) -> str: ...


class _Answer(Exception):
    """Ends a request early with ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def _printable(text: str, limit: int = 200) -> str:
    text = "".join(char if char.isprintable() else "?" for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _DeadlineReader(io.RawIOBase):
    """The connection's bytes, for at most ``limit`` bytes and until ``deadline`` in total: a
    per-recv timeout alone lets a caller that sends a byte now and then hold a connection forever."""

    def __init__(self, sock: socket.socket, deadline: float, limit: int) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = deadline
        self.limit = limit
        self.limit_answer: tuple[int, str] = (431, f"request line and headers over {_MAX_HEAD_BYTES // 1024} KiB")
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _Answer(408, "the request did not arrive within the time limit")
        if self.consumed >= self.limit:
            raise _Answer(*self.limit_answer)
        self.sock.settimeout(remaining)
        try:
            received = self.sock.recv_into(buffer, min(len(buffer), self.limit - self.consumed))
        except TimeoutError:
            raise _Answer(408, "the request did not arrive within the time limit") from None
        self.consumed += received
        return received


class _Server(CappedThreadingServer):
    error_label = "control channel: a request failed"
    allow_reuse_address = False
    # Pending connections are accepted (and those over the cap answered) at once, not left to retry.
    request_queue_size = 64
    deployment: Controlled
    token: str
    time_limit: float
    slots: threading.BoundedSemaphore  # requests being answered
    in_action = 0  # requests past every check, being answered (a long poll counts)
    counter_lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # pyright: ignore[reportIncompatibleVariableOverride]
    protocol_version = "HTTP/1.1"
    # A request line too garbled to name its version is still answered with a status line.
    default_request_version = "HTTP/1.0"
    server_version = "ecs-discovery-local"
    sys_version = ""
    timeout = None  # the deadline reader sets each receive's timeout

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.reader = _DeadlineReader(self.connection, time.monotonic() + self.server.time_limit, _MAX_HEAD_BYTES)
        self.rfile = io.BufferedReader(self.reader, _READ_BUFFER)
        self.request_version = self.default_request_version
        self.requestline = ""
        self.command = ""
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # the event log says what happened; requests are not logged

    def handle(self) -> None:
        # One request a connection: the time limit is the connection's.
        try:
            self._handle_request()
        except _Answer as answer:
            self._reply(answer.status, {"error": answer.message}, answer.headers)
        except OSError:
            pass  # the caller went away or stopped reading: nobody to answer

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        _linger(self.connection)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Called by parse_request for a malformed request line or headers: a JSON answer like every
        # other, 4xx (HTTP/2.0 and later is an HTTP/1 server's 505; here a malformed request).
        status = code if 400 <= code < 500 else 400
        self._reply(status, {"error": _printable(message or "malformed request")})

    def _reply(self, status: int, document: Any, headers: Mapping[str, str] | None = None) -> None:
        body = (json.dumps(document, allow_nan=False) + "\n").encode()
        try:
            self.connection.settimeout(_WRITE_TIMEOUT_S)  # sendall: for the whole answer
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the caller went away before the answer: nothing else to do

    # -- one request, step by step ---------------------------------------------------------

    def _handle_request(self) -> None:
        line = self.rfile.readline(_MAX_REQUEST_LINE + 1)
        if not line:
            return  # connected and closed without a request
        if len(line) > _MAX_REQUEST_LINE:
            raise _Answer(414, f"request line over {_MAX_REQUEST_LINE // 1024} KiB")
        if not line.endswith(b"\n"):
            raise _Answer(400, "the request line ends before its line break")
        self.raw_requestline = line
        if not self.parse_request():
            return  # answered by send_error
        if len(self.requestline.split()) != 3:
            raise _Answer(400, "an HTTP/0.9 request: send HTTP/1.1")
        self._check_token()
        # The head is read: the body may add its own bytes, and no more.
        self.reader.limit = self.reader.consumed + MAX_BODY_BYTES + _READ_BUFFER
        self.reader.limit_answer = (413, f"body over {MAX_BODY_BYTES // 1024} KiB")
        path, query = self._target()
        try:
            action, needs_ready = self._action(path, query)
        except ValueError as error:  # a field of the body that fails its check
            raise _Answer(400, _printable(str(error), 2000)) from None
        deployment = self.server.deployment
        if needs_ready and not deployment.ready:
            raise _Answer(503, _STARTING)
        if not self.server.slots.acquire(blocking=False):
            raise _Answer(503, "busy: too many requests at once")
        with self.server.counter_lock:
            self.server.in_action += 1
        try:
            status, document = action()
        except (Refused, AssemblyError) as error:
            status, document = 409, {"error": _printable(str(error), 2000)}
        except ValueError as error:
            status, document = 400, {"error": _printable(str(error), 2000)}
        except Exception as error:  # the run goes on; the caller gets one line
            status, document = 500, {"error": _printable(f"{type(error).__name__}: {error}", 2000)}
        finally:
            with self.server.counter_lock:
                self.server.in_action -= 1
            self.server.slots.release()
        self._reply(status, document)

    def _check_token(self) -> None:
        values = self.headers.get_all("Authorization") or []
        match = _BEARER.fullmatch(values[0].strip()) if len(values) == 1 else None
        if match is None or not hmac.compare_digest(match.group(1).encode(), self.server.token.encode()):
            raise _Answer(401, "missing or wrong token (see the control file)")

    def _target(self) -> tuple[str, str]:
        target = self.path
        if "#" in target:
            raise _Answer(400, "the request target has a fragment (#...)")
        if not target.startswith("/"):
            raise _Answer(400, f"request target {short(_printable(target, 60))} is not a path")
        path, _, query = target.partition("?")
        method = _ENDPOINTS.get(path)
        if method is None:
            raise _Answer(404, f"no such endpoint: {self.command} {_printable(path, 60)}")
        if self.command != method:
            raise _Answer(405, f"{path} answers {method} only", {"Allow": method})
        has_body = bool(self.headers.get_all("Transfer-Encoding")) or any(
            value.strip() != "0" for value in self.headers.get_all("Content-Length") or []
        )
        if method == "GET" and has_body:
            raise _Answer(400, f"GET {path} takes no body")
        if query and path != "/events":
            raise _Answer(400, f"{path} takes no query parameters")
        return path, query

    def _action(self, path: str, query: str) -> tuple[Callable[[], tuple[int, Any]], bool]:
        """What ``path`` does, its input checked now; and whether it needs the run to be up."""
        deployment = self.server.deployment
        if path == "/status":
            return (lambda: (200, deployment.describe())), True
        if path == "/events":
            since, wait, service = _events_query(query)

            def events() -> tuple[int, Any]:
                if wait:
                    deployment.events.wait(since, wait)
                return 200, {"events": deployment.events.since(since, service=service)}

            return events, False
        document = self._read_json(path)
        if path == "/deploy":
            service = check_service(document.get("service"))
            environment = check_environment(document.get("environment", {}))
            reread = document.get("reread", False)
            if not isinstance(reread, bool):
                raise _Answer(400, "reread must be true or false")

            def deploy() -> tuple[int, Any]:
                revision = deployment.deploy(service, environment, reread=reread)
                return 202, {"service": service, "revision": revision}

            return deploy, True
        if path == "/scale":
            counts = check_counts(document.get("counts"))

            def scale() -> tuple[int, Any]:
                deployment.scale(counts)
                return 202, {"counts": counts}

            return scale, True
        if path == "/rollback":
            service = check_service(document.get("service"))

            def rollback() -> tuple[int, Any]:
                revision = deployment.rollback(service)
                return 202, {"service": service, "rolled_back_to": revision}

            return rollback, True
        task_id = check_task_id(document.get("task_id"))

        def stop_task() -> tuple[int, Any]:
            if not deployment.stop_task(task_id):
                return 404, {"error": f"no running task {task_id}"}
            return 202, {"task_id": task_id}

        return stop_task, True

    def _read_json(self, path: str) -> dict[str, Any]:
        if self.headers.get_all("Transfer-Encoding"):
            raise _Answer(411, "send the body with a Content-Length (no Transfer-Encoding)")
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            raise _Answer(411, "a JSON body with a Content-Length is required")
        if len(lengths) > 1:
            raise _Answer(400, "Content-Length is given more than once")
        text = lengths[0].strip()
        if not _DIGITS.fullmatch(text):
            raise _Answer(400, f"Content-Length {short(_printable(text, 40))} is not a number of bytes")
        if len(text) > 9 or int(text) > MAX_BODY_BYTES:
            raise _Answer(413, f"body of {_printable(text, 30)} bytes; at most {MAX_BODY_BYTES} are accepted")
        length = int(text)
        data = self.rfile.read(length)
        if len(data) < length:
            raise _Answer(400, f"the body ended after {len(data)} of its {length} bytes")
        try:
            document = json.loads(
                data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                parse_float=_finite,
            )  # fmt: skip
        except (ValueError, RecursionError) as error:
            raise _Answer(400, f"the body is not JSON: {_printable(str(error), 120)}") from None
        if not isinstance(document, dict):
            raise _Answer(400, "the body is not a JSON object")
        fields: dict[str, Any] = document  # pyright: ignore[reportUnknownVariableType]
        unknown = sorted(set(fields) - _BODY_FIELDS[path])
        if unknown:
            allowed = ", ".join(sorted(_BODY_FIELDS[path]))
            raise _Answer(400, f"unknown field {short(unknown[0])} in the body of {path}: {allowed}")
        return fields


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise ValueError(f"key {short(key)} given twice")
        document[key] = value
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{short(text)} is not a finite number")
    return value


def _events_query(query: str) -> tuple[int, int, str | None]:
    """``since``, ``wait`` and ``service`` of ``GET /events?...``, each at most once, checked."""
    fields = query.split("&") if query else []
    if len(fields) > len(_EVENTS_QUERY):
        raise _Answer(
            400,
            f"at most {len(_EVENTS_QUERY)} query parameters ({', '.join(_EVENTS_QUERY)}); got {len(fields)}",
        )
    values: dict[str, str] = {}
    for field in fields:
        name, _, raw = field.partition("=")
        if name not in _EVENTS_QUERY:
            raise _Answer(400, f"unknown query parameter {short(_printable(name, 40))}: {', '.join(_EVENTS_QUERY)}")
        if name in values:
            raise _Answer(400, f"query parameter {name} is given twice")
        try:
            values[name] = urllib.parse.unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise _Answer(400, f"{name}= is not UTF-8 once percent-decoded") from None
    since = _query_int(values, "since", 2**62)
    wait = _query_int(values, "wait", MAX_LONG_POLL_S)
    service = values.get("service")
    if service is not None:
        try:
            check_service(service)
        except ValueError:
            raise _Answer(400, f"service={short(service)} is not a service name") from None
    return since, wait, service


def _query_int(values: Mapping[str, str], name: str, high: int) -> int:
    text = values.get(name)
    if text is None:
        return 0
    if not _DIGITS.fullmatch(text) or len(text) > 20 or int(text) > high:
        raise _Answer(400, f"{name}={short(text)} is not an integer 0-{high}")
    return int(text)


def _linger(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)  # the answer is complete: the caller reads to its end
        deadline = time.monotonic() + _LINGER_S
        received = 0
        while received < _LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            chunk = sock.recv(16 * 1024)
            if not chunk:
                return
            received += len(chunk)


def write_private(path: Path, text: str) -> None:
    """Write ``path`` atomically with mode 0600, whatever is on disk: a fresh file under a random name
    (O_EXCL: never an existing file or a symlink's target), then renamed over ``path``."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as output:
            descriptor = -1  # closed with the file object
            output.write(text)
        os.replace(temporary, path)
    except BaseException:
        if descriptor >= 0:
            os.close(descriptor)
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


class ControlServer:
    """HTTP on 127.0.0.1 with a token, for ``ecs-discovery local``; the control file says where.

    ``request_time_limit``: seconds one request (line, headers and body) may take to arrive, in
    total; the default is ``REQUEST_TIME_LIMIT_S`` (10).
    """

    def __init__(
        self, deployment: Controlled, control_file: Path, *, request_time_limit: float = REQUEST_TIME_LIMIT_S
    ) -> None:
        if not isinstance(request_time_limit, (int, float)) or not 0.05 <= request_time_limit <= 600:
            raise ValueError(f"request_time_limit {short(request_time_limit)} is not valid: 0.05-600 seconds")
        self.deployment = deployment
        self.control_file = control_file
        self.request_time_limit = float(request_time_limit)
        self.token = secrets.token_urlsafe(32)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        private_directory(self.control_file.parent)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.deployment = self.deployment
        server.token = self.token
        server.time_limit = self.request_time_limit
        server.slots = threading.BoundedSemaphore(_MAX_CONCURRENT)
        server.connections = threading.BoundedSemaphore(_MAX_CONNECTIONS)
        server.counter_lock = threading.Lock()
        self._server = server
        host, port = server.server_address[:2]
        url = f"http://{host!s}:{port}"
        document = {"url": url, "token": self.token, "pid": os.getpid(), "stack": self.deployment.stack_name}
        try:
            write_private(self.control_file, json.dumps(document))
        except BaseException:
            server.server_close()
            self._server = None
            raise
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return url

    def busy_slots(self) -> int:
        """Requests being answered now (a long poll counts while it waits)."""
        return 0 if self._server is None else self._server.in_action

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        # Only our own file: another run may have replaced it since.
        with contextlib.suppress(OSError, ValueError):
            if json.loads(self.control_file.read_text()).get("token") == self.token:
                self.control_file.unlink()
