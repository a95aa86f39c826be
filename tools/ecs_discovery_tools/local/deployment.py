"""One stack's services, registry and DNS on this machine: :class:`LocalDeployment`.

Each ECS service runs under a :class:`~ecs_discovery_tools.local.scheduler.ServiceScheduler`
(ECS's service scheduler on loopback); the deployment plays the rest of ECS (registering tasks in
Cloud Map with the attributes ECS writes, handing each task its container environment) and Cloud
Map itself (moto's API, and a DNS server fed from it). The command line that runs it is
:mod:`ecs_discovery_tools.local.demo`; the control channel (:mod:`.control_server`) calls its
operations.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecs_discovery_tools.local.accounts import arn_parts
from ecs_discovery_tools.local.assembly import ServiceSpec, StackSpec, read_stack, resolve_value, synthesize
from ecs_discovery_tools.local.control_api import Refused
from ecs_discovery_tools.local.events import EventLog
from ecs_discovery_tools.local.scheduler import LocalTask, Revision, ServiceScheduler, Timings

__all__ = ["REGION", "AddressLeases", "DemoError", "LocalDeployment", "allocate_address"]

REGION = "us-east-1"
# How long start() waits for every service to be healthy: the seed's health check passes at
# its first run, one Interval (10 s) after start; a loaded machine needs more.
_READY_TIMEOUT_S = 120.0
_STOP_GRACE_S = 8.0
_SCHEDULER_TICK_S = 0.2


class DemoError(Exception):
    """The local run could not start."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # As gunicorn binds: a connection in TIME_WAIT from an earlier run does not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class AddressLeases:
    """Machine-wide leases on task addresses, so that two local runs (two shells, two test workers)
    never give one address:port to two tasks.

    A free port is not enough: a run checks 127.0.0.x:port, and its gunicorn binds it only later, so
    another run could take it in between and answer (and pass health checks) in the task's place. A
    lease is an exclusive ``flock`` on a file named after the address, held open for the task's life;
    the kernel drops it when the holder exits, however it exits (SIGKILL included).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.gettempdir()) / f"ecs-discovery-local-{os.getuid()}" / "leases"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._held: dict[str, int] = {}

    def take(self, host: str, port: int) -> bool:
        """Lease ``host:port`` for this run; False when another run holds it."""
        path = self.directory / f"{host}_{port}"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError:  # a planted link (O_NOFOLLOW) or a file of another user: not ours to lease
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._held[host] = fd
        return True

    def release(self, host: str) -> None:
        fd = self._held.pop(host, None)
        if fd is not None:
            os.close(fd)  # closing the last descriptor drops the lock

    def release_all(self) -> None:
        for host in list(self._held):
            self.release(host)


def allocate_address(port: int, taken: set[str], first: int = 2, leases: AddressLeases | None = None) -> str:
    """A loopback address 127.0.0.x (x >= first) not used by this run where ``port`` is free: a task's IP.
    With ``leases``, also one no other local run on this machine has leased."""
    for last in range(first, 255):
        host = f"127.0.0.{last}"
        if host in taken or (leases is not None and not leases.take(host, port)):
            continue
        if _port_free(host, port):
            taken.add(host)
            return host
        if leases is not None:
            leases.release(host)
    raise DemoError(
        f"port {port} is in use on every address 127.0.0.{first}-254 (does something listen on 0.0.0.0:{port}?)"
    )


@dataclass
class LocalDeployment:
    """One stack's services, registry and DNS on this machine. ``start()``, then ``stop()``.

    Each service runs under a :class:`ServiceScheduler` (ECS's service scheduler on loopback);
    this class plays the rest of ECS (registering tasks in Cloud Map with the attributes ECS
    writes) and Cloud Map itself (moto, and a DNS server fed from it).

    ``stack`` creates the namespace; ``joining_stacks`` name it by its ARN, as stacks of accounts
    it is shared with through AWS RAM do (``SharedNamespace.from_namespace_arn``). Each stack plays
    its own account (its environment's; an environment-agnostic one, the run's default account):
    its services are created, and its tasks registered, by that account's requests, and its tasks
    sign with that account's credentials. One registry and one DNS server serve them all, as one
    namespace and its hosted zone serve every account it is shared with.
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
    # Stacks whose services join ``stack``'s namespace, naming it by its ARN (a namespace shared
    # through AWS RAM); each plays its own account.
    joining_stacks: tuple[StackSpec, ...] = ()

    def __post_init__(self) -> None:
        from ecs_discovery_tools.local.cloud_map import ACCOUNT_ID, LocalCloudMap
        from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

        #: The namespace owner's account: the account of the stack that creates the namespace.
        self.account = self.stack.account or ACCOUNT_ID
        self.stacks = (self.stack, *self.joining_stacks)
        self.namespace_name = self._check_stacks()
        # Which stack each service (and Service Connect discovery name) is in: its account, its template.
        self._stack_of = {name: stack for stack in self.stacks for name in _names_in_namespace(stack)}
        self.cloud_map = LocalCloudMap(region=self.region, account=self.account)
        self._clients: dict[str, Any] = {}  # another account's registry client, by account
        self.dns_server = LoopbackDnsServer(default_ttl=10, max_answers=8)
        self.events = EventLog(self.log_dir / "events.jsonl")
        self.publisher: Any = None
        self.namespace: Any = None
        self.services: dict[str, Any] = {}  # Cloud Map services by name
        self.schedulers: dict[str, ServiceScheduler] = {}
        self.control_url: str | None = None
        self._taken: set[str] = set()
        self._leases = AddressLeases()
        self._lock = threading.Lock()  # the address pool and the registry client
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._started = threading.Event()
        self._loop_thread: threading.Thread | None = None
        self._synth_count = 0
        # Service Connect's proxies (services that deploy by a traffic shift) and the hosts file
        # that maps their client aliases to them, as ECS writes each task's /etc/hosts.
        self.proxies: list[Any] = []
        self.hosts_file: Path | None = None

    @property
    def ready(self) -> bool:
        """True once every service is healthy (start() has returned), until stop()."""
        return self._started.is_set() and not self._stop.is_set()

    @property
    def stack_name(self) -> str:
        return self.stack.stack_name

    def _check_stacks(self) -> str:
        """The namespace's name, once every stack can join it: the owner's stack creates it; every
        other stack names it by an ARN of the owner's account and the run's Region; no service
        name is in two stacks."""
        owner = self.stack
        if owner.namespace_name is None:
            raise DemoError(
                f"stack {owner.stack_name} creates no namespace: it registers in {owner.namespace_arn}, "
                "which another stack creates"
            )
        for stack in self.joining_stacks:
            if stack.namespace_arn is None:
                raise DemoError(
                    f"stacks {owner.stack_name} and {stack.stack_name} each create a namespace "
                    f"({owner.namespace_name}, {stack.namespace_name}); a local run plays one namespace: run one of "
                    "them, with the stacks that name its namespace by ARN"
                )
            parts = arn_parts(stack.namespace_arn, "namespace")
            region, account = parts[:2] if parts is not None else ("", "")
            where = f"stack {stack.stack_name} registers in a namespace of"
            if account != self.account:
                raise DemoError(
                    f"{where} account {account} ({stack.namespace_arn}); this run's namespace "
                    f"{owner.namespace_name} is account {self.account}'s (stack {owner.stack_name})"
                )
            if region != self.region:
                raise DemoError(
                    f"{where} Region {region} ({stack.namespace_arn}); this run's namespace "
                    f"{owner.namespace_name} is in {self.region}"
                )
        seen: dict[str, str] = {}
        for stack in self.stacks:
            for name in sorted(_names_in_namespace(stack)):
                if name in seen:
                    raise DemoError(
                        f"service {name} is in stacks {seen[name]} and {stack.stack_name}; a namespace holds one "
                        "service of a name (Cloud Map: ServiceAlreadyExists)"
                    )
                seen[name] = stack.stack_name
        return owner.namespace_name

    def account_of(self, stack: StackSpec) -> str:
        """The account ``stack`` plays: its environment's, else the namespace owner's."""
        return stack.account or self.account

    def _all_services(self) -> list[ServiceSpec]:
        return [service for stack in self.stacks for service in stack.services]

    def _client(self, account: str) -> Any:
        """The registry client that signs as ``account`` (ECS's calls in that account)."""
        if account == self.account:
            return self.cloud_map.client
        if account not in self._clients:
            self._clients[account] = self.cloud_map.new_client(account)
        return self._clients[account]

    # -- start ---------------------------------------------------------------------

    def start(self) -> LocalDeployment:
        from ecs_discovery_tools.local.cloud_map import AliasTarget, RegistryDnsPublisher

        services = self._all_services()
        for name in self.task_counts:
            if not any(service.name == name for service in services):
                known = ", ".join(service.name for service in services)
                stacks = " and ".join(stack.stack_name for stack in self.stacks)
                raise DemoError(f"--tasks names service {name!r}, which stack {stacks} lacks ({known})")
        self.cloud_map.start()
        self.namespace = self.cloud_map.create_namespace(self.namespace_name)
        aliases: dict[str, AliasTarget] = {}
        for stack in self.stacks:
            # Another account names the shared namespace by its ARN (Cloud Map finds no other account's ID).
            namespace_ref = self.namespace.id if stack is self.stack else self.namespace.arn
            client = self._client(self.account_of(stack))
            for service in stack.services:
                self._create_services(service, namespace_ref, client, aliases)
        # An alias equal to a Cloud Map DNS name ("both" modes): the same tasks answer, the
        # registry's DNS records stay as published.
        dns_names = {f"{service.name}.{self.namespace_name}" for service in services if service.dns_config is not None}
        aliases = {name: target for name, target in aliases.items() if name not in dns_names}
        # A service that shifts traffic is reached through its proxy (the hosts file), as on ECS
        # where Service Connect names are not in DNS; the others keep their alias in DNS.
        proxied = {
            alias.dns_name.lower().rstrip(".")
            for service in services
            if service.deployment.shifts_traffic
            for entry in service.service_connect
            for alias in entry.client_aliases
        }
        aliases = {name: target for name, target in aliases.items() if name not in proxied}
        self.dns_server.start()
        self.publisher = RegistryDnsPublisher(
            self.cloud_map,
            self.namespace,
            self.dns_server,
            aliases=aliases,
            on_problem=self._registry_problem,
        ).start()
        for service in services:
            self.schedulers[service.name] = ServiceScheduler(
                service,
                desired_count=self.task_counts.get(service.name, service.desired_count),
                registry=self,
                events=self.events,
                timings=self.timings,
                log_dir=self.log_dir,
                on_change=self._changed.set,
            )
        self._start_proxies()
        # Tasks are started by this thread only: they die with it (PR_SET_PDEATHSIG).
        self._loop_thread = threading.Thread(target=self._loop, name="ecs-scheduler", daemon=True)
        self._loop_thread.start()
        self._wait_steady(_READY_TIMEOUT_S)
        self.publisher.publish_once()
        self.write_state()
        self._started.set()
        return self

    def _create_services(self, service: ServiceSpec, namespace_ref: str, client: Any, aliases: dict[str, Any]) -> None:
        """CreateService for ``service``'s Cloud Map service and its Service Connect discovery
        names, by its stack's account; ``aliases`` gets its Service Connect client aliases."""
        from ecs_discovery_tools.local.cloud_map import AliasTarget

        ttl = self.timings.dns_ttl if self.timings.dns_ttl is not None else service.ttl
        if service.dns_config is not None:
            dns_config = dict(service.dns_config)
            if self.timings.dns_ttl is not None:
                dns_config["DnsRecords"] = [
                    {**record, "TTL": self.timings.dns_ttl} for record in dns_config.get("DnsRecords", [])
                ]
            self.services[service.name] = self.cloud_map.create_service(
                service.name, namespace_ref, dns_config, service.health_check_custom_config, client=client
            )
        for entry in service.service_connect:
            # Service Connect's own Cloud Map service: API-only, found by DiscoverInstances.
            if entry.discovery_name not in self.services:
                self.services[entry.discovery_name] = self.cloud_map.create_service(
                    entry.discovery_name, namespace_ref, None, {"FailureThreshold": 1}, client=client
                )
            for alias in entry.client_aliases:
                aliases[alias.dns_name.lower().rstrip(".")] = AliasTarget(entry.discovery_name, ttl)

    def _start_proxies(self) -> None:
        from ecs_discovery_tools.local.control_server import write_private
        from ecs_discovery_tools.local.proxy import ServiceConnectProxy

        lines = []
        for service in self._all_services():
            if not service.deployment.shifts_traffic:
                continue
            scheduler = self.schedulers[service.name]
            for entry in service.service_connect:
                for alias in entry.client_aliases:
                    host = self.allocate_address(alias.port)
                    proxy = ServiceConnectProxy(
                        alias.dns_name.lower().rstrip("."),
                        host,
                        alias.port,
                        lambda scheduler=scheduler, port=entry.container_port: scheduler.routes(port),
                        test_header=alias.test_header,
                        test_header_value=alias.test_header_value,
                    )
                    self.proxies.append(proxy.start())
                    lines.append(f"{host}\t{proxy.name}\n")
        if lines:
            self.hosts_file = self.log_dir / "service-connect-hosts"
            write_private(
                self.hosts_file, "# Service Connect client aliases -> the local run's proxies\n" + "".join(lines)
            )

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

    def _registrations(self, task: LocalTask) -> tuple[Any, list[tuple[str, int | None]]]:
        """The registry client of ``task``'s account, and (Cloud Map service ID or ARN, port or None) of
        every registration ECS makes for ``task``: in another account's namespace, by the service's ARN."""
        spec = task.revision.spec
        account = self.account_of(self._stack_of[spec.name])

        def ref(name: str) -> str:
            registered = self.services[name]
            return registered.id if account == self.account else registered.arn

        registrations: list[tuple[str, int | None]] = []
        if spec.dns_config is not None:
            registrations.append((ref(spec.name), spec.container_port if spec.has_srv else None))
        for entry in spec.service_connect:
            service_id = ref(entry.discovery_name)
            if all(existing != service_id for existing, _ in registrations):
                registrations.append((service_id, entry.container_port))
        return self._client(account), registrations

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
            client, registrations = self._registrations(task)
            for service_id, port in registrations:
                self.cloud_map.register_task(
                    service_id,
                    instance_id=task.task_id,
                    ipv4=task.host,
                    port=port,
                    attributes=attributes,
                    client=client,
                )

    def set_health(self, task: LocalTask, healthy: bool) -> None:
        with self._lock:
            client, registrations = self._registrations(task)
            for service_id, _ in registrations:
                self.cloud_map.set_health(service_id, task.task_id, healthy=healthy, client=client)

    def deregister(self, task: LocalTask) -> None:
        with self._lock:
            client, registrations = self._registrations(task)
            for service_id, _ in registrations:
                self.cloud_map.deregister_task(service_id, task.task_id, client=client)
        # Route 53 sees the change within the publisher's interval; here it is published now.
        if self.publisher is not None:
            with contextlib.suppress(Exception):
                self.publisher.publish_once()

    def allocate_address(self, port: int) -> str:
        with self._lock:
            return allocate_address(port, self._taken, leases=self._leases)

    def release_address(self, host: str) -> None:
        with self._lock:
            self._taken.discard(host)
            self._leases.release(host)

    def task_environment(self, revision: Revision) -> dict[str, str]:
        service = revision.spec
        stack = self._stack_of[service.name]
        refs, pseudo = self._refs(stack), self._pseudo(stack)
        environment = {
            name: resolve_value(value, refs, pseudo, f"environment variable {name} of {service.container_name}")
            for name, value in service.environment.items()
        }
        if stack.namespace_arn is not None:
            # The template names the shared namespace by the ARN its deployer passed in (the owner
            # stack's output); here the namespace has the ID the local registry gave it.
            environment = {
                name: value.replace(stack.namespace_arn, self.namespace.arn) for name, value in environment.items()
            }
        environment["GUNICORN_WORKERS"] = str(self.gunicorn_workers)
        environment.update(self.extra_environment)
        environment.update(revision.environment_overrides)
        if self.hosts_file is not None and (service.service_connect_client or service.service_connect):
            # ECS writes the client aliases into a Service Connect task's /etc/hosts.
            environment["DNS_HOSTS_FILE"] = str(self.hosts_file)
        # What the local run adds, standing in for the VPC resolver, the AWS endpoint and the task role.
        environment.update(
            {
                "DNS_NAMESERVERS": f"{self.dns_server.host}:{self.dns_server.port}",
                "AWS_ENDPOINT_URL_SERVICEDISCOVERY": self.cloud_map.endpoint_url,
                "AWS_REGION": environment.get("AWS_REGION", self.region),
                "AWS_DEFAULT_REGION": environment.get("AWS_REGION", self.region),
                "AWS_EC2_METADATA_DISABLED": "true",
                # The task role's credentials: the stack's account's, which the local registry tells apart.
                **self.cloud_map.credentials_for(self.account_of(stack)),
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
            }
        )
        return environment

    def _pseudo(self, stack: StackSpec) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_of(stack),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack.stack_name,
        }

    def _refs(self, stack: StackSpec) -> dict[str, dict[str, str]]:
        """What ``stack``'s Ref and Fn::GetAtt of its namespace and Cloud Map services resolve to."""
        refs: dict[str, dict[str, str]] = {}
        if stack.namespace_logical_id is not None:
            refs[stack.namespace_logical_id] = {
                "Ref": self.namespace.id,
                "Id": self.namespace.id,
                "Arn": self.namespace.arn,
                "Name": self.namespace.name,
            }
        for service in stack.services:
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
            raise Refused(f"no service {name!r} in this local run (services: {', '.join(self.schedulers)})")
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
            raise Refused("this local run has no assembly to re-read")
        stack_name = self._stack_of[name].stack_name
        try:
            spec = read_stack(assembly_dir, stack_name).service(name)
        except KeyError:
            raise Refused(f"service {name!r} is no longer in stack {stack_name}") from None
        current = self.scheduler(name).primary.spec
        if spec.container_port != current.container_port or spec.dns_config != current.dns_config:
            raise Refused(f"service {name!r} changed its port or DNS records: restart the local run to apply that")
        return spec

    def rollback(self, name: str) -> str:
        """Roll back ``name``'s blue/green, linear or canary deployment: the revision rolled back to."""
        return self.scheduler(name).rollback()

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
            "stacks": {
                stack.stack_name: {
                    "account": self.account_of(stack),
                    "services": [service.name for service in stack.services],
                }
                for stack in self.stacks
            },
            # As the discovery page shows it; the ARN is what other accounts name it by.
            "namespace": {"name": self.namespace.name, "id": self.namespace.id},
            "namespace_arn": self.namespace.arn,
            "owner_account": self.account,
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
            "proxies": [proxy.describe() for proxy in self.proxies],
        }

    def write_state(self) -> None:
        if self.state_file is None:
            return
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.describe(), indent=2))
        temporary.replace(self.state_file)  # readers never see half a file

    def summary(self) -> str:
        """What runs where: the registry, the DNS server, each service's tasks, the logs."""
        if self.joining_stacks:
            named = [f"{self.stack.stack_name} (account {self.account}, owns namespace {self.namespace.name})"]
            named += [f"{stack.stack_name} (account {self.account_of(stack)})" for stack in self.joining_stacks]
            title = f"Stacks {', '.join(named[:-1])} and {named[-1]} running locally (no AWS account):"
        else:
            title = f"Stack {self.stack.stack_name} running locally (namespace {self.namespace.name}, no AWS account):"
        lines = [
            title,
            f"  Cloud Map API (moto)  {self.cloud_map.endpoint_url}",
            f"  DNS server            {self.dns_server.host}:{self.dns_server.port}",
        ]
        for name, scheduler in self.schedulers.items():
            urls = "  ".join(task.url for task in list(scheduler.tasks))
            dns_name = f"{name}.{self.namespace.name}"
            lines.append(f"  {dns_name:<21} {scheduler.desired_count} task(s)  {urls}")
        for proxy in self.proxies:
            lines.append(f"  {proxy.name:<21} Service Connect proxy  http://{proxy.address}")
        lines.append(f"  logs                  {self.log_dir}")
        lines.append(f"  events (JSON Lines)   {self.events.path}")
        for url in self.page_urls()[:1]:
            lines.append("")
            lines.append(f"Discovery page: {url}")
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
            for proxy in self.proxies:
                proxy.stop()
            if self.publisher is not None:
                self.publisher.stop()
            self.dns_server.stop()
            self.cloud_map.stop()
            self._leases.release_all()


def _names_in_namespace(stack: StackSpec) -> set[str]:
    """The Cloud Map service names ``stack`` creates: its services' and their Service Connect discovery names."""
    return {service.name for service in stack.services} | {
        entry.discovery_name for service in stack.services for entry in service.service_connect
    }
