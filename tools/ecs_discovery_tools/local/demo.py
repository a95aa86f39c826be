"""Run a stack's services on this machine, with no AWS account and no Docker: ``make demo``.

    python -m ecs_discovery_tools.local.demo [--stack ServiceDiscovery] [--workers 3]

The CDK app is synthesized (as ``cdk synth`` would) and the stack's template read: every
ECS service registered in Cloud Map runs as ``DesiredCount`` real gunicorn processes of
its image's folder, each task on its own loopback address (127.0.0.x) and its container
port, with the container environment the template gives it. moto's Cloud Map API runs on
loopback as the registry; each task is registered as ECS registers it and its health
status follows its health check; a DNS server on loopback answers A and SRV records from
that registry. The apps are pointed there by ``DNS_NAMESERVERS`` and
``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` (with dummy credentials), so they run the code paths
they run in AWS.

Ctrl-C (SIGINT) or SIGTERM stops every process it started. Exit codes: 0 stopped by a
signal or after ``--duration``, 1 the stack cannot run locally or did not start, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_discovery_tools.local.app_process import GunicornProcess
from ecs_discovery_tools.local.assembly import AssemblyError, ServiceSpec, StackSpec, read_stack, synthesize

__all__ = ["DemoError", "LocalDeployment", "main"]

REGION = "us-east-1"
_READY_TIMEOUT_S = 60.0
_STOP_GRACE_S = 8.0
_HEALTH_INTERVAL_S = 2.0
_HEALTH_TIMEOUT_S = 1.0
# ECS marks a container unhealthy after this many failed checks in a row (HealthCheck.Retries default).
_HEALTH_RETRIES = 3
_direct_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DemoError(Exception):
    """The local run could not start."""


# -- the template's values, resolved for the local run ---------------------------------


def resolve_value(value: Any, refs: Mapping[str, Mapping[str, str]], pseudo: Mapping[str, str], where: str) -> str:
    """A CloudFormation value (string or intrinsic function) as the local run's string."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            if argument in pseudo:
                return pseudo[argument]
            if argument in refs:
                return refs[argument]["Ref"]
        if function == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
            target, attribute = argument
            if target in refs and attribute in refs[target]:
                return refs[target][attribute]
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            return separator.join(resolve_value(part, refs, pseudo, where) for part in parts)
        if function == "Fn::Sub" and isinstance(argument, str):

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                target, _, attribute = name.partition(".")
                if attribute:
                    return resolve_value({"Fn::GetAtt": [target, attribute]}, refs, pseudo, where)
                return resolve_value({"Ref": name}, refs, pseudo, where)

            return re.sub(r"\$\{([^}!]+)\}", substitute, argument)
    raise DemoError(f"{where} is {json.dumps(value)}, which the local run cannot resolve")


# -- tasks -----------------------------------------------------------------------------


@dataclass
class Task:
    service: ServiceSpec
    cloud_map_service_id: str
    host: str
    process: GunicornProcess
    log_path: Path
    task_id: str | None = None  # the Cloud Map instance ID, once registered
    healthy: bool = True
    failed_checks: int = 0
    exited: bool = False

    @property
    def url(self) -> str:
        return self.process.base_url


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # As gunicorn binds: a connection in TIME_WAIT from an earlier run does not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def allocate_address(port: int, taken: set[str], first: int = 2) -> str:
    """A loopback address 127.0.0.x (x >= first) not used by this run where ``port`` is free: a task's IP."""
    for last in range(first, 255):
        host = f"127.0.0.{last}"
        if host not in taken and _port_free(host, port):
            taken.add(host)
            return host
    raise DemoError(
        f"port {port} is in use on every address 127.0.0.{first}-254 (does something listen on 0.0.0.0:{port}?)"
    )


@dataclass
class LocalDeployment:
    """One stack's services, registry and DNS on this machine. ``start()``, then ``stop()``."""

    stack: StackSpec
    log_dir: Path
    task_counts: Mapping[str, int] = field(default_factory=dict)
    gunicorn_workers: int = 1
    region: str = REGION

    def __post_init__(self) -> None:
        from ecs_discovery_tools.local.cloud_map import LocalCloudMap
        from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

        self.cloud_map = LocalCloudMap(region=self.region)
        self.dns_server = LoopbackDnsServer(default_ttl=10, max_answers=8)
        self.publisher: Any = None
        self.namespace: Any = None
        self.tasks: list[Task] = []
        self.services: dict[str, Any] = {}
        self._stop = threading.Event()
        self._health_thread: threading.Thread | None = None
        self._events: list[str] = []

    # -- start ---------------------------------------------------------------------

    def start(self) -> LocalDeployment:
        from ecs_discovery_tools.local.cloud_map import RegistryDnsPublisher

        for name in self.task_counts:
            if not any(service.name == name for service in self.stack.services):
                known = ", ".join(service.name for service in self.stack.services)
                raise DemoError(f"--tasks names service {name!r}, which stack {self.stack.stack_name} lacks ({known})")
        self.cloud_map.start()
        self.namespace = self.cloud_map.create_namespace(self.stack.namespace_name)
        for service in self.stack.services:
            self.services[service.name] = self.cloud_map.create_service(
                service.name, self.namespace.id, service.dns_config, service.health_check_custom_config
            )
        self.dns_server.start()
        self.publisher = RegistryDnsPublisher(self.cloud_map, self.namespace, self.dns_server).start()

        taken: set[str] = set()
        for service in self.stack.services:
            for _ in range(self.task_count(service)):
                self._start_task(service, allocate_address(service.container_port, taken))
        deadline = time.monotonic() + _READY_TIMEOUT_S
        for index, task in enumerate(self.tasks):
            remaining = max(deadline - time.monotonic(), 1.0)
            try:
                task.process.wait_ready(task.service.health_check_path, timeout=remaining)
            except (RuntimeError, TimeoutError) as error:
                tail = task.log_path.read_text(errors="replace")[-1500:]
                raise DemoError(f"{task.service.name} task on {task.url} did not start: {error}\n{tail}") from None
            # ECS registers a task once it runs and its container health check passes.
            task.task_id = self.cloud_map.register_task(
                task.cloud_map_service_id,
                ipv4=task.host,
                port=task.service.container_port if task.service.has_srv else None,
                attributes={
                    "AVAILABILITY_ZONE": f"{self.region}{'ab'[index % 2]}",
                    "AWS_INIT_HEALTH_STATUS": "HEALTHY",
                    "ECS_CLUSTER_NAME": "local",
                    "ECS_SERVICE_NAME": task.service.ecs_logical_id,
                    "ECS_TASK_DEFINITION_FAMILY": task.service.task_definition_logical_id,
                    "REGION": self.region,
                },
            )
        self.publisher.publish_once()
        self._health_thread = threading.Thread(target=self._check_health, name="health-checks", daemon=True)
        self._health_thread.start()
        return self

    def task_count(self, service: ServiceSpec) -> int:
        return self.task_counts.get(service.name, service.desired_count)

    def _pseudo(self) -> dict[str, str]:
        from ecs_discovery_tools.local.cloud_map import ACCOUNT_ID

        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack.stack_name,
        }

    def _refs(self) -> dict[str, dict[str, str]]:
        refs = {
            self.stack.namespace_logical_id: {
                "Ref": self.namespace.id,
                "Id": self.namespace.id,
                "Arn": self.namespace.arn,
                "Name": self.namespace.name,
            }
        }
        for service in self.stack.services:
            registered = self.services[service.name]
            refs[service.cloud_map_logical_id] = {
                "Ref": registered.id,
                "Id": registered.id,
                "Arn": registered.arn,
                "Name": registered.name,
            }
        return refs

    def task_environment(self, service: ServiceSpec) -> dict[str, str]:
        from ecs_discovery_tools.local.cloud_map import DUMMY_CREDENTIALS

        refs, pseudo = self._refs(), self._pseudo()
        environment = {
            name: resolve_value(value, refs, pseudo, f"environment variable {name} of {service.container_name}")
            for name, value in service.environment.items()
        }
        # What the local run adds, standing in for the VPC resolver, the AWS endpoint and the task role.
        environment.update(
            {
                "DNS_NAMESERVERS": f"{self.dns_server.host}:{self.dns_server.port}",
                "AWS_ENDPOINT_URL_SERVICEDISCOVERY": self.cloud_map.endpoint_url,
                "AWS_REGION": environment.get("AWS_REGION", self.region),
                "AWS_DEFAULT_REGION": environment.get("AWS_REGION", self.region),
                "AWS_EC2_METADATA_DISABLED": "true",
                **DUMMY_CREDENTIALS,
                "GUNICORN_WORKERS": str(self.gunicorn_workers),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return environment

    def _start_task(self, service: ServiceSpec, host: str) -> Task:
        log_path = self.log_dir / f"{service.name}-{host}.log"
        with open(log_path, "ab") as output:  # the child keeps its own descriptor
            process = GunicornProcess(
                service.app_dir,
                host=host,
                port=service.container_port,
                env=self.task_environment(service),
                output=output,
            )
            task = Task(service, self.services[service.name].id, host, process, log_path)
            self.tasks.append(task)  # recorded before it starts: stopped whatever happens next
            process.start()
        return task

    # -- ECS's container health checks -----------------------------------------------

    def _check_health(self) -> None:
        client = self.cloud_map.new_client()
        while not self._stop.wait(_HEALTH_INTERVAL_S):
            for task in list(self.tasks):
                if self._stop.is_set():
                    return
                if task.task_id is None or task.exited:
                    continue
                try:
                    self._check_task(task, client)
                except Exception as error:  # the registry is in this process; log and carry on
                    self._event(f"health check of {task.service.name} {task.host}: {error}")

    def _check_task(self, task: Task, client: Any) -> None:
        assert task.task_id is not None
        if not task.process.is_running():
            task.exited = True
            self.cloud_map.deregister_task(task.cloud_map_service_id, task.task_id, client)
            self._event(f"{task.service.name} task {task.host} exited; deregistered from Cloud Map")
            return
        try:
            with _direct_opener.open(task.url + task.service.health_check_path, timeout=_HEALTH_TIMEOUT_S) as answer:
                passed = answer.status == 200
        except (urllib.error.URLError, OSError):
            passed = False
        task.failed_checks = 0 if passed else task.failed_checks + 1
        if passed and not task.healthy:
            task.healthy = True
            self.cloud_map.set_health(task.cloud_map_service_id, task.task_id, healthy=True, client=client)
            self._event(f"{task.service.name} task {task.host} is healthy again")
        elif task.healthy and task.failed_checks >= _HEALTH_RETRIES:
            task.healthy = False
            self.cloud_map.set_health(task.cloud_map_service_id, task.task_id, healthy=False, client=client)
            self._event(f"{task.service.name} task {task.host} failed {_HEALTH_RETRIES} health checks: UNHEALTHY")

    def _event(self, message: str) -> None:
        self._events.append(message)
        print(f"[local run] {message}", flush=True)

    # -- what to show ------------------------------------------------------------------

    def page_urls(self) -> list[str]:
        """The discovery page of every task whose service may read the registry (grant_discovery_read)."""
        return [f"{task.url}/services" for task in self.tasks if "NAMESPACE_ID" in task.service.environment]

    def describe(self) -> dict[str, Any]:
        return {
            "stack": self.stack.stack_name,
            "namespace": {"name": self.namespace.name, "id": self.namespace.id},
            "region": self.region,
            "cloud_map_endpoint": self.cloud_map.endpoint_url,
            "dns_server": f"{self.dns_server.host}:{self.dns_server.port}",
            "page_urls": self.page_urls(),
            "log_dir": str(self.log_dir),
            "services": {
                service.name: [
                    {
                        "task_id": task.task_id,
                        "address": task.host,
                        "port": service.container_port,
                        "url": task.url,
                        "pid": task.process.pid,
                    }
                    for task in self.tasks
                    if task.service is service
                ]
                for service in self.stack.services
            },
        }

    def summary(self) -> str:
        lines = [
            f"Stack {self.stack.stack_name} running locally (namespace {self.namespace.name}, no AWS account):",
            f"  Cloud Map API (moto)  {self.cloud_map.endpoint_url}",
            f"  DNS server            {self.dns_server.host}:{self.dns_server.port}",
        ]
        for service in self.stack.services:
            urls = "  ".join(task.url for task in self.tasks if task.service is service)
            dns_name = f"{service.name}.{self.namespace.name}"
            lines.append(f"  {dns_name:<21} {self.task_count(service)} task(s)  {urls}")
        lines.append(f"  logs                  {self.log_dir}")
        lines.append("")
        for url in self.page_urls()[:1]:
            lines.append(f"Discovery page: {url}")
        lines.append(
            "Try: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing ecs-discovery services "
            f"-n {self.namespace.name} --region {self.region} --endpoint-url {self.cloud_map.endpoint_url}"
        )
        names = [service.name for service in self.stack.services]
        # The seed's worker when there is one, else the first service of the stack.
        example = "worker" if "worker" in names else names[0]
        lines.append(
            f"     ecs-discovery resolve {example}.{self.namespace.name} "
            f"--nameserver {self.dns_server.host}:{self.dns_server.port}"
        )
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)

    # -- stop ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every task (SIGTERM, then SIGKILL to its process group), the DNS server and the API."""
        self._stop.set()
        try:
            for task in self.tasks:
                task.process.terminate()
            deadline = time.monotonic() + _STOP_GRACE_S
            for task in self.tasks:
                if task.process.process is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):  # killed below
                        task.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            for task in self.tasks:
                task.process.stop(grace=0)  # SIGKILL to the group: workers a master left behind
        finally:
            if self._health_thread is not None:
                self._health_thread.join(timeout=10)
            if self.publisher is not None:
                self.publisher.stop()
            self.dns_server.stop()
            self.cloud_map.stop()


# -- command line --------------------------------------------------------------------------


def _task_counts(pairs: Sequence[str], workers: int | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for pair in pairs:
        name, _, count = pair.partition("=")
        if not name or not count.isdigit() or not 0 < int(count) <= 50:
            raise DemoError(f"--tasks {pair!r} is not valid: expected NAME=COUNT with 1 <= COUNT <= 50")
        counts[name] = int(count)
    if workers is not None:
        if not 0 < workers <= 50:
            raise DemoError(f"--workers {workers} is not valid: expected 1-50")
        counts["worker"] = workers
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ecs_discovery_tools.local.demo",
        description="Run a CDK stack's discoverable services on this machine: no AWS account, no Docker.",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd(), help="folder with cdk.json (default: .)")
    parser.add_argument("--app", help='CDK app command (default: cdk.json\'s "app")')
    parser.add_argument("--assembly", type=Path, help="read this cloud assembly (cdk.out) instead of synthesizing")
    parser.add_argument("--stack", default="ServiceDiscovery", help="stack to run (default: ServiceDiscovery)")
    parser.add_argument("--workers", type=int, help="tasks of the 'worker' service (default: its DesiredCount)")
    parser.add_argument(
        "--tasks", action="append", default=[], metavar="NAME=COUNT", help="tasks of a service (repeatable)"
    )
    parser.add_argument("--gunicorn-workers", type=int, default=1, help="gunicorn processes per task (default: 1)")
    parser.add_argument("--log-dir", type=Path, help="where task logs go (default: a new temporary folder)")
    parser.add_argument("--state-file", type=Path, help="write URLs, addresses and PIDs here as JSON once running")
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    return parser


class _Stopped(BaseException):
    """Raised in the main thread by SIGINT/SIGTERM, so any wait in progress ends at once."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Only the local API may ever be called: no profile or key of the user's reaches the apps.
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        del os.environ[name]
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    deployment: LocalDeployment | None = None
    try:
        counts = _task_counts(args.tasks, args.workers)
        log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="ecs-discovery-demo-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        if args.assembly is not None:
            assembly_dir = args.assembly
        else:
            print(f"Synthesizing the CDK app in {args.project_dir.resolve()} ...", flush=True)
            assembly_dir = synthesize(args.project_dir.resolve(), log_dir / "cdk.out", app=args.app)
        stack = read_stack(assembly_dir, args.stack)
        deployment = LocalDeployment(stack, log_dir, counts, gunicorn_workers=args.gunicorn_workers)
        print(f"Starting {sum(deployment.task_count(s) for s in stack.services)} tasks ...", flush=True)
        deployment.start()
        if args.state_file is not None:
            temporary = args.state_file.with_suffix(".tmp")
            temporary.write_text(json.dumps(deployment.describe(), indent=2))
            temporary.replace(args.state_file)  # readers never see half a file
        print(deployment.summary(), flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5 if deadline is None else min(0.5, max(deadline - time.monotonic(), 0)))
        return 0
    except _Stopped:
        return 0
    except (AssemblyError, DemoError) as error:
        print(f"local run: error: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if deployment is not None:
            print("Stopping ...", flush=True)
            deployment.stop()
            print("Stopped: every task, the DNS server and the Cloud Map API.", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
