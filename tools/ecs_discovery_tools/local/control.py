"""The local run's control channel, and ``ecs-discovery local``: change a running local run.

    ecs-discovery local status                      # services, tasks, health, revisions
    ecs-discovery local events [--follow] [--json]  # ECS-like service events
    ecs-discovery local deploy worker [--env MESSAGE=v2] [--reread]
    ecs-discovery local scale worker=5 [backend=1]
    ecs-discovery local stop-task TASK_ID

The local run serves HTTP on 127.0.0.1 (an ephemeral port) and writes its address and a
random token to a control file (mode 0600, in a directory only the user can enter:
``$XDG_RUNTIME_DIR/ecs-discovery`` or ``~/.cache/ecs-discovery``). Every request must carry
the token (``Authorization: Bearer``); bodies are small JSON documents, checked before use.
Requests are bounded: 16 KiB a body, 8 answered at a time, 32 connections, a read timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import http.client
import json
import os
import re
import secrets
import stat
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ecs_discovery_tools.local.demo import LocalDeployment

__all__ = [
    "ControlClient",
    "ControlError",
    "ControlServer",
    "Refused",
    "add_parser",
    "cmd_local",
    "default_control_file",
    "run_command",
]

_MAX_BODY_BYTES = 16 * 1024
_MAX_CONCURRENT = 8
_MAX_CONNECTIONS = 32
_REQUEST_TIMEOUT_S = 10.0
_MAX_ENV_ENTRIES = 50
_MAX_ENV_VALUE = 4096
_MAX_LONG_POLL_S = 30.0
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
_SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,126}")
_TASK_ID = re.compile(r"[0-9a-f]{32}")
_MAX_COUNT = 50


class ControlError(Exception):
    """The control channel cannot be used: no local run, a bad token, a refused request."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Refused(Exception):
    """An operation the local run cannot do now (an unknown service, a template it cannot use): 409."""


def default_control_file() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
    base = Path(runtime) if runtime and Path(runtime).is_dir() else Path.home() / ".cache"
    return base / "ecs-discovery" / "local-control.json"


def _private_directory(path: Path) -> None:
    """Create ``path`` (0700) or accept it only if this user owns it and nobody else can enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise ControlError(f"{path} must belong to you and be closed to others (chmod 700 {path})")


# -- validation of requests (the server's input) ---------------------------------------------


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_environment(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"environment {_short(value)} is not an object of NAME: value strings")
    items: dict[object, object] = value  # pyright: ignore[reportUnknownVariableType]
    if len(items) > _MAX_ENV_ENTRIES:
        raise ValueError(f"environment has {len(items)} entries; at most {_MAX_ENV_ENTRIES} are allowed")
    checked: dict[str, str] = {}
    for name, text in items.items():
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name):
            raise ValueError(f"environment name {_short(name)} is not valid: letters, digits and _, not first a digit")
        if not isinstance(text, str) or len(text) > _MAX_ENV_VALUE or "\x00" in text:
            raise ValueError(f"environment value of {name} is not a string of at most {_MAX_ENV_VALUE} characters")
        checked[name] = text
    return checked


def check_counts(value: object) -> dict[str, int]:
    if not isinstance(value, dict) or not value:
        raise ValueError(f"counts {_short(value)} is not a non-empty object of service: count")
    items: dict[object, object] = value  # pyright: ignore[reportUnknownVariableType]
    if len(items) > 100:
        raise ValueError("counts names more than 100 services")
    checked: dict[str, int] = {}
    for name, count in items.items():
        if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
            raise ValueError(f"service name {_short(name)} is not valid")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_COUNT:
            raise ValueError(f"count of {name} is {_short(count)}; expected an integer 0-{_MAX_COUNT}")
        checked[name] = count
    return checked


def _check_service(value: object) -> str:
    if not isinstance(value, str) or not _SERVICE_NAME.fullmatch(value):
        raise ValueError(f"service {_short(value)} is not a service name")
    return value


# -- the server (in the local run) -------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    deployment: LocalDeployment
    token: str
    slots: threading.BoundedSemaphore  # requests being answered
    connections = threading.BoundedSemaphore(_MAX_CONNECTIONS)  # replaced per server in start()

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection, but never more than _MAX_CONNECTIONS: the rest are closed.
        if not self.connections.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # pyright: ignore[reportIncompatibleVariableOverride]
    timeout = _REQUEST_TIMEOUT_S
    protocol_version = "HTTP/1.1"
    server_version = "ecs-discovery-local"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        return  # the event log says what happened; requests are not logged

    def _reply(self, status: int, document: Any) -> None:
        body = json.dumps(document, allow_nan=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        supplied = header.removeprefix("Bearer ").strip()
        return hmac.compare_digest(supplied.encode(), self.server.token.encode())

    def _serve(self, action: Callable[[], tuple[int, Any]]) -> None:
        if not self.server.slots.acquire(blocking=False):
            self._reply(503, {"error": "busy: too many requests at once"})
            return
        try:
            if not self._authorized():
                self._reply(401, {"error": "missing or wrong token (see the control file)"})
                return
            status, document = action()
            self._reply(status, document)
        except ValueError as error:
            self._reply(400, {"error": str(error)})
        except Exception as error:  # the run goes on; the caller gets one line
            from ecs_discovery_tools.local.assembly import AssemblyError

            if isinstance(error, (Refused, AssemblyError)):
                self._reply(409, {"error": str(error)})
            else:
                self._reply(500, {"error": f"{type(error).__name__}: {error}"})
        finally:
            self.server.slots.release()

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, max_num_fields=5)

        def answer() -> tuple[int, Any]:
            deployment = self.server.deployment
            if url.path == "/status":
                return 200, deployment.describe()
            if url.path == "/events":
                since = _int_query(query, "since", 0, 0, 2**62)
                wait = _int_query(query, "wait", 0, 0, int(_MAX_LONG_POLL_S))
                service = query.get("service", [None])[0]
                if wait:
                    deployment.events.wait(since, wait)
                return 200, {"events": deployment.events.since(since, service=service)}
            return 404, {"error": f"no such endpoint: GET {url.path[:60]}"}

        self._serve(answer)

    def do_POST(self) -> None:
        def answer() -> tuple[int, Any]:
            document = self._read_json()
            deployment = self.server.deployment
            path = urllib.parse.urlsplit(self.path).path
            if path == "/deploy":
                service = _check_service(document.get("service"))
                environment = check_environment(document.get("environment", {}))
                reread = document.get("reread", False)
                if not isinstance(reread, bool):
                    raise ValueError("reread must be true or false")
                revision = deployment.deploy(service, environment, reread=reread)
                return 202, {"service": service, "revision": revision}
            if path == "/scale":
                counts = check_counts(document.get("counts"))
                deployment.scale(counts)
                return 202, {"counts": counts}
            if path == "/stop-task":
                task_id = document.get("task_id")
                if not isinstance(task_id, str) or not _TASK_ID.fullmatch(task_id):
                    raise ValueError(f"task_id {_short(task_id)} is not a task ID (32 hex digits)")
                if not deployment.stop_task(task_id):
                    return 404, {"error": f"no running task {task_id}"}
                return 202, {"task_id": task_id}
            return 404, {"error": f"no such endpoint: POST {path[:60]}"}

        self._serve(answer)

    def _read_json(self) -> dict[str, Any]:
        length_text = self.headers.get("Content-Length", "")
        if not length_text.isascii() or not length_text.isdigit():
            raise ValueError("a JSON body with Content-Length is required")
        length = int(length_text)
        if length > _MAX_BODY_BYTES:
            self.close_connection = True
            raise ValueError(f"body of {length} bytes; at most {_MAX_BODY_BYTES} are accepted")
        try:
            document = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):
            raise ValueError("the body is not JSON") from None
        if not isinstance(document, dict):
            raise ValueError("the body is not a JSON object")
        return document  # pyright: ignore[reportUnknownVariableType]


def _int_query(query: Mapping[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    values = query.get(name)
    if not values:
        return default
    text = values[0]
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ValueError(f"{name}={_short(text)} is not an integer {low}-{high}")
    return int(text)


class ControlServer:
    """HTTP on 127.0.0.1 with a token, for ``ecs-discovery local``; the control file says where."""

    def __init__(self, deployment: LocalDeployment, control_file: Path) -> None:
        self.deployment = deployment
        self.control_file = control_file
        self.token = secrets.token_urlsafe(32)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        _private_directory(self.control_file.parent)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.deployment = self.deployment
        server.token = self.token
        server.slots = threading.BoundedSemaphore(_MAX_CONCURRENT)
        server.connections = threading.BoundedSemaphore(_MAX_CONNECTIONS)
        self._server = server
        host, port = server.server_address[:2]
        url = f"http://{host!s}:{port}"
        document = {"url": url, "token": self.token, "pid": os.getpid(), "stack": self.deployment.stack.stack_name}
        temporary = self.control_file.with_name(self.control_file.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as output:
            json.dump(document, output)
        temporary.replace(self.control_file)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return url

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


# -- the client (ecs-discovery local ...) ---------------------------------------------------


class ControlClient:
    def __init__(self, control_file: Path | None = None) -> None:
        path = control_file or default_control_file()
        try:
            document = json.loads(path.read_text())
            url = urllib.parse.urlsplit(str(document["url"]))
            self.token = str(document["token"])
        except FileNotFoundError:
            raise ControlError(f"no local run is up (no {path}); start one with `make demo`") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ControlError(f"cannot read the control file {path}: {error}") from None
        if url.scheme != "http" or url.hostname != "127.0.0.1" or url.port is None:
            raise ControlError(f"the control file {path} does not point at 127.0.0.1")
        self.host, self.port = url.hostname, url.port

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None, timeout: float = 30.0) -> Any:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Authorization": f"Bearer {self.token}"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read(10 * 1024 * 1024)
        except ConnectionRefusedError:
            raise ControlError("the local run is not answering (stopped?); start one with `make demo`") from None
        except (OSError, http.client.HTTPException) as error:
            raise ControlError(f"the local run did not answer: {error}") from None
        finally:
            connection.close()
        try:
            document = json.loads(data)
        except ValueError:
            raise ControlError(f"the local run answered {response.status} without JSON") from None
        if response.status >= 400:
            raise ControlError(str(document.get("error", document)), response.status)
        return document


def add_parser(commands: Any, parents: list[argparse.ArgumentParser] | None = None) -> argparse.ArgumentParser:
    """Add ``local`` and its subcommands to ``ecs-discovery``'s subparsers."""
    local = commands.add_parser(
        "local",
        parents=parents or [],
        help="change a running local run (make demo): deploy, scale, stop a task, events, status",
        description="Talk to the local run started by `make demo` on this machine (docs/local-run.md).",
    )
    local.add_argument("--control-file", type=Path, help=f"default: {default_control_file()}")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print JSON")
    actions = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    actions.add_parser("status", parents=[output], help="services, desired/healthy counts, tasks and revisions")
    events = actions.add_parser(
        "events", parents=[output], help="service events (task started, healthy, registered, stopped...)"
    )
    events.add_argument("--service", help="only this service's events")
    events.add_argument("--follow", "-f", action="store_true", help="keep printing new events (Ctrl-C ends)")
    events.add_argument("--since", type=int, default=0, help="only events after this sequence number")
    deploy = actions.add_parser(
        "deploy", parents=[output], help="roll out a new revision (the app's code as it is now)"
    )
    deploy.add_argument("service")
    deploy.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="set a container variable (repeatable)"
    )
    deploy.add_argument("--reread", action="store_true", help="re-synthesize and take the template's task definition")
    scale = actions.add_parser("scale", parents=[output], help="set desired counts: scale worker=5 backend=1")
    scale.add_argument("counts", nargs="+", metavar="NAME=COUNT")
    stop = actions.add_parser(
        "stop-task", parents=[output], help="stop one task, as ECS StopTask (the service replaces it)"
    )
    stop.add_argument("task_id")
    return local


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{what} {_short(item)} is not NAME=VALUE")
        pairs[name] = value
    return pairs


def run_command(args: argparse.Namespace, out: TextIO) -> None:
    """``ecs-discovery local ...``; raises ValueError (usage, checked before any request) or ControlError."""
    json_output = bool(getattr(args, "json", False))
    action = args.local_command
    body: dict[str, Any] = {}
    if action == "deploy":
        environment = check_environment(_pairs(args.env, "--env"))
        body = {"service": _check_service(args.service), "environment": environment, "reread": args.reread}
    elif action == "scale":
        counts: dict[str, int] = {}
        for name, text in _pairs(args.counts, "count").items():
            if not text.isascii() or not text.isdigit() or len(text) > 3:
                raise ValueError(f"count {_short(text)} of {name} is not a whole number 0-{_MAX_COUNT}")
            counts[name] = int(text)
        body = {"counts": check_counts(counts)}
    elif action == "stop-task":
        if not _TASK_ID.fullmatch(args.task_id):
            raise ValueError(f"task ID {_short(args.task_id)} is not 32 hex digits (see ecs-discovery local status)")
        body = {"task_id": args.task_id}
    client = ControlClient(args.control_file)
    if action == "status":
        _print_status(client.request("GET", "/status"), out, json_output)
    elif action == "events":
        _events(client, args, out, json_output)
    elif action == "deploy":
        answer = client.request("POST", "/deploy", body, timeout=600 if args.reread else 30)
        _emit(answer, out, json_output, f"deployment of {answer['service']} started: {answer['revision']}")
    elif action == "scale":
        answer = client.request("POST", "/scale", body)
        text = ", ".join(f"{name}={count}" for name, count in answer["counts"].items())
        _emit(answer, out, json_output, f"desired counts set: {text}")
    elif action == "stop-task":
        answer = client.request("POST", "/stop-task", body)
        _emit(answer, out, json_output, f"stopping task {answer['task_id']}")


def _emit(document: Any, out: TextIO, json_output: bool, text: str) -> None:
    if json_output:
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        print(_printable(text), file=out)


def _printable(text: str) -> str:
    return "".join(char if char.isprintable() else "?" for char in text)


def _print_status(state: dict[str, Any], out: TextIO, json_output: bool) -> None:
    if json_output:
        _emit(state, out, True, "")
        return
    print(_printable(f"stack {state['stack']}, namespace {state['namespace']['name']}"), file=out)
    for name, service in state["schedulers"].items():
        print(
            _printable(
                f"{name}: desired {service['desired_count']}, running {service['running_count']}, "
                f"healthy {service['healthy_count']}, revision {service['primary_revision']}"
                + (", steady" if service["steady"] else "")
            ),
            file=out,
        )
        for task in state["services"][name]:
            print(
                _printable(
                    f"  {task['task_id']}  {task['address']}:{task['port']}  {task['last_status']:<8} "
                    f"{task['health']:<9} {'registered' if task['registered'] else '-':<10} {task['revision']}"
                ),
                file=out,
            )


def _events(client: ControlClient, args: argparse.Namespace, out: TextIO, json_output: bool) -> None:
    since = max(int(args.since), 0)
    service = args.service
    query = "" if service is None else "&service=" + urllib.parse.quote(service)
    # Bounded: --follow ends with Ctrl-C or after a day.
    deadline = time.monotonic() + (86_400 if args.follow else 0)
    while True:
        wait = 25 if args.follow else 0
        events = client.request("GET", f"/events?since={since}&wait={wait}{query}", timeout=wait + 10)["events"]
        for event in events:
            since = max(since, int(event["seq"]))
            if json_output:
                out.write(json.dumps(event) + "\n")
            else:
                print(_printable(f"{event['time']}  (service {event['service']}) {event['message']}"), file=out)
        out.flush()
        if not args.follow or time.monotonic() > deadline:
            return


def cmd_local(args: argparse.Namespace, out: TextIO) -> None:
    """``ecs-discovery local ...`` inside the CLI: failures become its one-line errors and exit codes."""
    from ecs_discovery_tools.cli.errors import CliError, ExitCode

    try:
        run_command(args, out)
    except ControlError as error:
        code = ExitCode.NOT_FOUND if error.status in (0, 404) else ExitCode.USAGE
        raise CliError(f"local run: {error}", code) from None
    except ValueError as error:
        raise CliError(str(error), ExitCode.USAGE) from None


def main(argv: list[str] | None = None) -> int:
    """``python -m ecs_discovery_tools.local.control ...``: the same as ``ecs-discovery local ...``."""
    parser = argparse.ArgumentParser(prog="ecs-discovery")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        run_command(args, sys.stdout)
    except (ControlError, ValueError) as error:
        print(f"ecs-discovery: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, ValueError) else 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
