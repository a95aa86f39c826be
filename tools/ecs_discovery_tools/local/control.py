"""``ecs-discovery local``: change a running local run through its control channel.

    ecs-discovery local status                      # services, tasks, health, revisions
    ecs-discovery local events [--follow] [--json]  # ECS-like service events
    ecs-discovery local deploy worker [--env MESSAGE=v2] [--reread]
    ecs-discovery local scale worker=5 [backend=1]
    ecs-discovery local stop-task TASK_ID
    ecs-discovery local rollback worker             # a blue/green, linear or canary deployment

The local run serves HTTP on 127.0.0.1 (:mod:`.control_server`) and writes its address and a
random token to a control file (mode 0600, in a directory only the user can enter:
``$XDG_RUNTIME_DIR/ecs-discovery`` or ``~/.cache/ecs-discovery``). This client reads the file,
checks every value before it sends a request (:mod:`.control_api`) and prints the answer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from ecs_discovery_tools.local.control_api import (
    TASK_ID,
    ControlError,
    Refused,
    check_counts,
    check_service,
    default_control_file,
    short,
)
from ecs_discovery_tools.local.limits import MAX_TASKS_PER_SERVICE
from ecs_discovery_tools.local.task_environment import check_environment

__all__ = [
    "ControlClient",
    "ControlError",
    "Refused",
    "add_parser",
    "cmd_local",
    "default_control_file",
    "run_command",
]


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
        help="change a running local run (make demo): deploy, roll back, scale, stop a task, events, status",
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
    rollback = actions.add_parser(
        "rollback",
        parents=[output],
        help="roll back a blue/green, linear or canary deployment in progress: all traffic to blue, green stops",
    )
    rollback.add_argument("service")
    return local


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"{what} {short(item)} is not NAME=VALUE")
        pairs[name] = value
    return pairs


def run_command(args: argparse.Namespace, out: TextIO) -> None:
    """``ecs-discovery local ...``; raises ValueError (usage, checked before any request) or ControlError."""
    json_output = bool(getattr(args, "json", False))
    action = args.local_command
    body: dict[str, Any] = {}
    if action == "deploy":
        environment = check_environment(_pairs(args.env, "--env"))
        body = {"service": check_service(args.service), "environment": environment, "reread": args.reread}
    elif action == "scale":
        counts: dict[str, int] = {}
        for name, text in _pairs(args.counts, "count").items():
            if not text.isascii() or not text.isdigit() or len(text) > 3:
                raise ValueError(f"count {short(text)} of {name} is not a whole number 0-{MAX_TASKS_PER_SERVICE}")
            counts[name] = int(text)
        body = {"counts": check_counts(counts)}
    elif action == "stop-task":
        if not TASK_ID.fullmatch(args.task_id):
            raise ValueError(f"task ID {short(args.task_id)} is not 32 hex digits (see ecs-discovery local status)")
        body = {"task_id": args.task_id}
    elif action == "rollback":
        body = {"service": check_service(args.service)}
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
    elif action == "rollback":
        answer = client.request("POST", "/rollback", body)
        _emit(answer, out, json_output, f"{answer['service']} rolled back to {answer['rolled_back_to']}")


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
        shift = service.get("deployment")
        if shift:
            print(
                _printable(
                    f"  deployment {shift['green']} ({shift['strategy']}) {shift['phase']}: production traffic "
                    f"{shift['blue']} {shift['blue_percent']:g}% / {shift['green']} {shift['green_percent']:g}%, "
                    f"test traffic -> {shift['green'] if shift['test_traffic_to_green'] else shift['blue']}"
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
        # No run (0), no such task (404), a run not up yet (503): exit 1, as for a name not found.
        code = ExitCode.NOT_FOUND if error.status in (0, 404, 503) else ExitCode.USAGE
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
