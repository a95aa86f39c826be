"""Run a stack's services on this machine, with no AWS account and no Docker: ``make demo``.

    python -m ecs_discovery_tools.local.demo [--stack ServiceDiscovery] [--workers 3]

The CDK app is synthesized (as ``cdk synth`` would) and the stack's template read: every
discoverable ECS service (Cloud Map DNS, Service Connect or both) runs ``DesiredCount``
tasks, real gunicorn processes of its image's folder, each on its own loopback address
(127.0.0.x) and its container port, with the container environment the template gives it.
The ECS service scheduler is played by :mod:`ecs_discovery_tools.local.scheduler`: the task
definition's health check decides when a task enters Cloud Map (moto's API on loopback)
and so the loopback DNS server, dead or unhealthy tasks are replaced, and while the run is
up ``ecs-discovery local deploy|scale|stop-task|events|status`` (:mod:`.control`) rolls out
new revisions and scales within the service's deployment configuration. The apps are
pointed at the local registry and DNS by ``DNS_NAMESERVERS`` and
``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` (with dummy credentials), so they run the code paths
they run in AWS. Reference: docs/local-run.md.

Ctrl-C (SIGINT) or SIGTERM stops every process it started. Exit codes: 0 stopped by a
signal or after ``--duration``, 1 the stack cannot run locally or did not start, 2 usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_discovery_tools.local import control
from ecs_discovery_tools.local.assembly import AssemblyError, ServiceSpec, StackSpec, read_stack, synthesize
from ecs_discovery_tools.local.scheduler import EventLog, LocalTask, Revision, ServiceScheduler, Timings

__all__ = ["DemoError", "LocalDeployment", "main"]

REGION = "us-east-1"
# How long start() waits for every service to be healthy: the seed's health check passes at
# its first run, one Interval (10 s) after start; a loaded machine needs more.
_READY_TIMEOUT_S = 120.0
_STOP_GRACE_S = 8.0
_SCHEDULER_TICK_S = 0.2


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


# -- the deployment -------------------------------------------------------------------


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
    """One stack's services, registry and DNS on this machine. ``start()``, then ``stop()``.

    Each service runs under a :class:`ServiceScheduler` (ECS's service scheduler on loopback);
    this class plays the rest of ECS (registering tasks in Cloud Map with the attributes ECS
    writes) and Cloud Map itself (moto, and a DNS server fed from it).
    """

    stack: StackSpec
    log_dir: Path
    task_counts: Mapping[str, int] = field(default_factory=dict[str, int])
    gunicorn_workers: int = 1
    region: str = REGION
    timings: Timings = field(default_factory=Timings)
    state_file: Path | None = None
    # Where a deploy that re-reads the template finds it: a cloud assembly, re-synthesized
    # from project_dir first when the run synthesized it itself.
    assembly_dir: Path | None = None
    project_dir: Path | None = None
    app: str | None = None
    # Container variables every task gets on top of the template's (--task-env), e.g. a short
    # STOP_DRAIN_SECONDS for tests.
    extra_environment: Mapping[str, str] = field(default_factory=dict[str, str])

    def __post_init__(self) -> None:
        from ecs_discovery_tools.local.cloud_map import LocalCloudMap
        from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

        self.cloud_map = LocalCloudMap(region=self.region)
        self.dns_server = LoopbackDnsServer(default_ttl=10, max_answers=8)
        self.events = EventLog(self.log_dir / "events.jsonl")
        self.publisher: Any = None
        self.namespace: Any = None
        self.services: dict[str, Any] = {}  # Cloud Map services by name
        self.schedulers: dict[str, ServiceScheduler] = {}
        self.control_url: str | None = None
        self._taken: set[str] = set()
        self._lock = threading.Lock()  # the address pool and the registry client
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._started = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._synth_count = 0

    # -- start ---------------------------------------------------------------------

    def start(self) -> LocalDeployment:
        from ecs_discovery_tools.local.cloud_map import AliasTarget, RegistryDnsPublisher

        for name in self.task_counts:
            if not any(service.name == name for service in self.stack.services):
                known = ", ".join(service.name for service in self.stack.services)
                raise DemoError(f"--tasks names service {name!r}, which stack {self.stack.stack_name} lacks ({known})")
        self.cloud_map.start()
        self.namespace = self.cloud_map.create_namespace(self.stack.namespace_name)
        aliases: dict[str, AliasTarget] = {}
        for service in self.stack.services:
            ttl = self.timings.dns_ttl if self.timings.dns_ttl is not None else service.ttl
            if service.dns_config is not None:
                dns_config = dict(service.dns_config)
                if self.timings.dns_ttl is not None:
                    dns_config["DnsRecords"] = [
                        {**record, "TTL": self.timings.dns_ttl} for record in dns_config.get("DnsRecords", [])
                    ]
                self.services[service.name] = self.cloud_map.create_service(
                    service.name, self.namespace.id, dns_config, service.health_check_custom_config
                )
            for entry in service.service_connect:
                # Service Connect's own Cloud Map service: API-only, found by DiscoverInstances.
                if entry.discovery_name not in self.services:
                    self.services[entry.discovery_name] = self.cloud_map.create_service(
                        entry.discovery_name, self.namespace.id, None, {"FailureThreshold": 1}
                    )
                for alias in entry.client_aliases:
                    aliases[alias.dns_name.lower().rstrip(".")] = AliasTarget(entry.discovery_name, ttl)
        # An alias equal to a Cloud Map DNS name ("both" modes): the same tasks answer, the
        # registry's DNS records stay as published.
        dns_names = {
            f"{service.name}.{self.stack.namespace_name}"
            for service in self.stack.services
            if service.dns_config is not None
        }
        aliases = {name: target for name, target in aliases.items() if name not in dns_names}
        self.dns_server.start()
        self.publisher = RegistryDnsPublisher(
            self.cloud_map,
            self.namespace,
            self.dns_server,
            aliases=aliases,
            on_problem=self._registry_problem,
        ).start()
        for service in self.stack.services:
            self.schedulers[service.name] = ServiceScheduler(
                service,
                desired_count=self.task_counts.get(service.name, service.desired_count),
                registry=self,
                events=self.events,
                timings=self.timings,
                log_dir=self.log_dir,
                on_change=self._changed.set,
            )
        # Tasks are started by this thread only: they die with it (PR_SET_PDEATHSIG).
        self._loop_thread = threading.Thread(target=self._loop, name="ecs-scheduler", daemon=True)
        self._loop_thread.start()
        self._wait_steady(_READY_TIMEOUT_S)
        self.publisher.publish_once()
        self.write_state()
        self._started.set()
        return self

    def _registry_problem(self, message: str) -> None:
        self.events.add("registry_problem", "-", message)

    def _wait_steady(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(scheduler.describe()["steady"] for scheduler in self.schedulers.values()):
                return
            time.sleep(0.1)
        for name, scheduler in self.schedulers.items():
            state = scheduler.describe()
            if not state["steady"]:
                logs = [Path(task.log_path) for task in scheduler.tasks] or [
                    task.log_path for task in scheduler.stopped
                ]
                tail = logs[-1].read_text(errors="replace")[-1500:] if logs else ""
                raise DemoError(
                    f"service {name} did not become healthy within {timeout:g} s "
                    f"({state['healthy_count']}/{state['desired_count']} healthy)\n{tail}"
                )

    def _loop(self) -> None:
        while not self._stop.wait(_SCHEDULER_TICK_S):
            for scheduler in self.schedulers.values():
                try:
                    scheduler.reconcile()
                except Exception as error:  # one pass failed; the next one tries again
                    self.events.add("scheduler_error", scheduler.name, f"scheduler pass failed: {error}")
            # The state file appears once every service is healthy (start()), then follows every change.
            if self._changed.is_set() and self._started.is_set():
                self._changed.clear()
                with contextlib.suppress(OSError):
                    self.write_state()

    # -- the Registry the schedulers use (ECS's calls to Cloud Map, the address pool) -----

    def _registrations(self, task: LocalTask) -> list[tuple[str, int | None]]:
        """(Cloud Map service ID, port or None) of every registration ECS makes for ``task``."""
        spec = task.revision.spec
        registrations: list[tuple[str, int | None]] = []
        if spec.dns_config is not None:
            registrations.append((self.services[spec.name].id, spec.container_port if spec.has_srv else None))
        for entry in spec.service_connect:
            service_id = self.services[entry.discovery_name].id
            if all(existing != service_id for existing, _ in registrations):
                registrations.append((service_id, entry.container_port))
        return registrations

    def register(self, task: LocalTask) -> None:
        spec = task.revision.spec
        attributes = {
            "AVAILABILITY_ZONE": f"{self.region}{'ab'[int(task.host.rsplit('.', 1)[1]) % 2]}",
            "AWS_INIT_HEALTH_STATUS": "HEALTHY",
            "ECS_CLUSTER_NAME": "local",
            "ECS_SERVICE_NAME": spec.ecs_logical_id,
            "ECS_TASK_DEFINITION_FAMILY": spec.family,
            "REGION": self.region,
        }
        with self._lock:
            for service_id, port in self._registrations(task):
                self.cloud_map.register_task(
                    service_id, instance_id=task.task_id, ipv4=task.host, port=port, attributes=attributes
                )

    def set_health(self, task: LocalTask, healthy: bool) -> None:
        with self._lock:
            for service_id, _ in self._registrations(task):
                self.cloud_map.set_health(service_id, task.task_id, healthy=healthy)

    def deregister(self, task: LocalTask) -> None:
        with self._lock:
            for service_id, _ in self._registrations(task):
                self.cloud_map.deregister_task(service_id, task.task_id)
        # Route 53 sees the change within the publisher's interval; here it is published now.
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                self.publisher.publish_once()

    def allocate_address(self, port: int) -> str:
        with self._lock:
            return allocate_address(port, self._taken)

    def release_address(self, host: str) -> None:
        with self._lock:
            self._taken.discard(host)

    def task_environment(self, revision: Revision) -> dict[str, str]:
        from ecs_discovery_tools.local.cloud_map import DUMMY_CREDENTIALS

        service = revision.spec
        refs, pseudo = self._refs(), self._pseudo()
        environment = {
            name: resolve_value(value, refs, pseudo, f"environment variable {name} of {service.container_name}")
            for name, value in service.environment.items()
        }
        environment["GUNICORN_WORKERS"] = str(self.gunicorn_workers)
        environment.update(self.extra_environment)
        environment.update(revision.environment_overrides)
        # What the local run adds, standing in for the VPC resolver, the AWS endpoint and the task role.
        environment.update(
            {
                "DNS_NAMESERVERS": f"{self.dns_server.host}:{self.dns_server.port}",
                "AWS_ENDPOINT_URL_SERVICEDISCOVERY": self.cloud_map.endpoint_url,
                "AWS_REGION": environment.get("AWS_REGION", self.region),
                "AWS_DEFAULT_REGION": environment.get("AWS_REGION", self.region),
                "AWS_EC2_METADATA_DISABLED": "true",
                **DUMMY_CREDENTIALS,
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return environment

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
            if service.cloud_map_logical_id is None:
                continue
            registered = self.services[service.name]
            refs[service.cloud_map_logical_id] = {
                "Ref": registered.id,
                "Id": registered.id,
                "Arn": registered.arn,
                "Name": registered.name,
            }
        return refs

    # -- operations (the control channel calls these) ------------------------------------

    def scheduler(self, name: str) -> ServiceScheduler:
        scheduler = self.schedulers.get(name)
        if scheduler is None:
            raise control.Refused(f"no service {name!r} in this local run (services: {', '.join(self.schedulers)})")
        return scheduler

    def scale(self, counts: Mapping[str, int]) -> None:
        schedulers = {name: self.scheduler(name) for name in counts}
        for name, count in counts.items():
            schedulers[name].scale(count)

    def deploy(self, name: str, environment: Mapping[str, str] | None = None, *, reread: bool = False) -> str:
        """Roll out a new revision of ``name``: the app's code as it is now, plus ``environment``;
        with ``reread``, the task definition as the (re-synthesized) template now defines it."""
        scheduler = self.scheduler(name)
        spec = None
        if reread:
            spec = self._reread(name)
        return scheduler.deploy(spec, environment).label()

    def _reread(self, name: str) -> ServiceSpec:
        assembly_dir = self.assembly_dir
        if self.project_dir is not None:
            self._synth_count += 1
            assembly_dir = synthesize(self.project_dir, self.log_dir / f"cdk.out.{self._synth_count}", app=self.app)
        if assembly_dir is None:
            raise control.Refused("this local run has no assembly to re-read")
        try:
            spec = read_stack(assembly_dir, self.stack.stack_name).service(name)
        except KeyError:
            raise control.Refused(f"service {name!r} is no longer in stack {self.stack.stack_name}") from None
        current = self.scheduler(name).primary.spec
        if spec.container_port != current.container_port or spec.dns_config != current.dns_config:
            raise control.Refused(
                f"service {name!r} changed its port or DNS records: restart the local run to apply that"
            )
        return spec

    def stop_task(self, task_id: str) -> bool:
        return any(scheduler.stop_task(task_id) for scheduler in self.schedulers.values())

    # -- what to show ------------------------------------------------------------------

    def page_urls(self) -> list[str]:
        """The discovery page of every task whose service may read the registry (namespace.grant_discover_read)."""
        return [
            f"{task.url}/services"
            for scheduler in self.schedulers.values()
            for task in list(scheduler.tasks)
            if "NAMESPACE_ID" in task.revision.spec.environment and task.serving
        ]

    def describe(self) -> dict[str, Any]:
        schedulers = {name: scheduler.describe() for name, scheduler in self.schedulers.items()}
        return {
            "stack": self.stack.stack_name,
            "namespace": {"name": self.namespace.name, "id": self.namespace.id},
            "region": self.region,
            "cloud_map_endpoint": self.cloud_map.endpoint_url,
            "dns_server": f"{self.dns_server.host}:{self.dns_server.port}",
            "control_url": self.control_url,
            "page_urls": self.page_urls(),
            "log_dir": str(self.log_dir),
            "events_file": str(self.events.path),
            "services": {
                name: [task for task in state["tasks"] if task["desired_status"] == "RUNNING"]
                for name, state in schedulers.items()
            },
            "schedulers": {
                name: {key: value for key, value in state.items() if key != "tasks"}
                for name, state in schedulers.items()
            },
        }

    def write_state(self) -> None:
        if self.state_file is None:
            return
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.describe(), indent=2))
        temporary.replace(self.state_file)  # readers never see half a file

    def summary(self) -> str:
        lines = [
            f"Stack {self.stack.stack_name} running locally (namespace {self.namespace.name}, no AWS account):",
            f"  Cloud Map API (moto)  {self.cloud_map.endpoint_url}",
            f"  DNS server            {self.dns_server.host}:{self.dns_server.port}",
        ]
        for name, scheduler in self.schedulers.items():
            urls = "  ".join(task.url for task in list(scheduler.tasks))
            dns_name = f"{name}.{self.namespace.name}"
            lines.append(f"  {dns_name:<21} {scheduler.desired_count} task(s)  {urls}")
        lines.append(f"  logs                  {self.log_dir}")
        lines.append(f"  events (JSON Lines)   {self.events.path}")
        lines.append("")
        for url in self.page_urls()[:1]:
            lines.append(f"Discovery page: {url}")
        lines.append(
            "Try: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing ecs-discovery services "
            f"-n {self.namespace.name} --region {self.region} --endpoint-url {self.cloud_map.endpoint_url}"
        )
        names = list(self.schedulers)
        # The seed's worker when there is one, else the first service of the stack.
        example = "worker" if "worker" in names else names[0]
        lines.append(
            f"     ecs-discovery resolve {example}.{self.namespace.name} "
            f"--nameserver {self.dns_server.host}:{self.dns_server.port}"
        )
        if self.control_url is not None:
            lines.append(
                f"     ecs-discovery local scale {example}=5      ecs-discovery local deploy {example} --env MESSAGE=v2"
            )
            lines.append("     ecs-discovery local events --follow      ecs-discovery local status")
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)

    # -- stop ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every task (SIGTERM, then SIGKILL to its process group), the DNS server and the API."""
        self._stop.set()
        try:
            if self._loop_thread is not None:
                self._loop_thread.join(timeout=10)
            for scheduler in self.schedulers.values():
                scheduler.shutdown(_STOP_GRACE_S)
        finally:
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


def _task_environment(pairs: Sequence[str]) -> dict[str, str]:
    from ecs_discovery_tools.local.control import check_environment

    environment: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise DemoError(f"--task-env {pair[:60]!r} is not NAME=VALUE")
        environment[name] = value
    try:
        return check_environment(environment)
    except ValueError as error:
        raise DemoError(f"--task-env: {error}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0-3600 seconds, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    value = _seconds(text)
    if value < 0.05:
        raise argparse.ArgumentTypeError(f"expected at least 0.05 seconds, got {text!r}")
    return value


def _small_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) <= 100:
        raise argparse.ArgumentTypeError(f"expected 1-100, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ecs_discovery_tools.local.demo",
        description="Run a CDK stack's discoverable services on this machine, as ECS would: no AWS account, no Docker.",
        epilog="While it runs: ecs-discovery local status|events|deploy|scale|stop-task (docs/local-run.md).",
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
    parser.add_argument("--state-file", type=Path, help="keep URLs, addresses, PIDs and task states here as JSON")
    parser.add_argument(
        "--control-file",
        type=Path,
        help=f"where the control channel's address and token go (default: {control.default_control_file()})",
    )
    parser.add_argument("--no-control", action="store_true", help="no control channel (no ecs-discovery local ...)")
    parser.add_argument(
        "--task-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a container variable for every task, over the template's (repeatable)",
    )
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until Ctrl-C)")
    parser.add_argument(
        "--drain",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="after deregistering a task, wait the DNS TTL plus this long before SIGTERM (default: 2)",
    )
    parser.add_argument(
        "--ecs-stop-order",
        action="store_true",
        help="SIGTERM right after deregistration, as ECS does today (no TTL wait): rehearse the failure mode",
    )
    knobs = parser.add_argument_group(
        "timing overrides (test-only: tests and benchmarks shorten the template's values; a real run keeps them)"
    )
    knobs.add_argument("--health-interval", type=_positive_seconds, metavar="S", help="HealthCheck.Interval")
    knobs.add_argument("--health-timeout", type=_positive_seconds, metavar="S", help="HealthCheck.Timeout")
    knobs.add_argument("--health-start-period", type=_seconds, metavar="S", help="HealthCheck.StartPeriod")
    knobs.add_argument("--health-retries", type=_small_int, metavar="N", help="HealthCheck.Retries")
    knobs.add_argument("--grace-period", type=_seconds, metavar="S", help="HealthCheckGracePeriodSeconds")
    knobs.add_argument("--dns-ttl", type=_small_int, metavar="S", help="the Cloud Map services' DNS TTL")
    knobs.add_argument("--stop-timeout", type=_positive_seconds, metavar="S", help="the containers' StopTimeout")
    knobs.add_argument(
        "--restart-backoff-max", type=_positive_seconds, metavar="S", help="longest restart backoff (default: 60)"
    )
    return parser


def _timings(args: argparse.Namespace) -> Timings:
    return Timings(
        health_interval=args.health_interval,
        health_timeout=args.health_timeout,
        health_start_period=args.health_start_period,
        health_retries=args.health_retries,
        grace_period=args.grace_period,
        dns_ttl=args.dns_ttl,
        stop_timeout=args.stop_timeout,
        drain_seconds=None if args.ecs_stop_order else args.drain,
        restart_backoff_max=args.restart_backoff_max or 60.0,
    )


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
    server: control.ControlServer | None = None
    try:
        counts = _task_counts(args.tasks, args.workers)
        log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="ecs-discovery-demo-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        project_dir: Path | None = None
        if args.assembly is not None:
            assembly_dir = args.assembly
        else:
            project_dir = Path(args.project_dir).resolve()
            print(f"Synthesizing the CDK app in {project_dir} ...", flush=True)
            assembly_dir = synthesize(project_dir, log_dir / "cdk.out", app=args.app)
        stack = read_stack(assembly_dir, args.stack)
        deployment = LocalDeployment(
            stack,
            log_dir,
            counts,
            gunicorn_workers=args.gunicorn_workers,
            timings=_timings(args),
            state_file=args.state_file,
            assembly_dir=assembly_dir,
            project_dir=project_dir,
            app=args.app,
            extra_environment=_task_environment(args.task_env),
        )
        if not args.no_control:
            server = control.ControlServer(deployment, args.control_file or control.default_control_file())
            deployment.control_url = server.start()
        total = sum(counts.get(service.name, service.desired_count) for service in stack.services)
        print(f"Starting {total} tasks; each joins Cloud Map and DNS once its health check passes ...", flush=True)
        deployment.start()
        print(deployment.summary(), flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.5 if deadline is None else min(0.5, max(deadline - time.monotonic(), 0)))
        return 0
    except _Stopped:
        return 0
    except (AssemblyError, DemoError, control.ControlError) as error:
        print(f"local run: error: {error}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if server is not None:
            server.stop()
        if deployment is not None:
            print("Stopping ...", flush=True)
            deployment.stop()
            print("Stopped: every task, the DNS server and the Cloud Map API.", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
