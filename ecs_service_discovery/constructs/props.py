# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""The props of a discoverable service: frozen dataclasses that check themselves when created.

Layered as aws-cdk-lib's ``BaseServiceOptions`` / ``BaseServiceProps``:

* :class:`ServiceOptions`: what one service is, in plain Python values (no aws-cdk-lib object), so
  a topology file's :class:`~ecs_service_discovery.constructs.topology_spec.ServiceSpec` (which
  extends it) and tools that never synthesize read the same fields under the same names.
* :class:`DiscoverableFargateServiceProps`: the options plus where the service runs (cluster,
  namespace, image) and the settings that are aws-cdk-lib objects (Durations, secrets, keys).

Each field is checked once, here, in ``__post_init__``; ``DiscoverableFargateService`` builds its
props from its keyword arguments, so the construct, the topology file and Python callers share
this one validation path. Optional fields documented with a default in words are ``None`` until
the construct applies that default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery

from ecs_service_discovery.constructs.deployment import DeploymentOptions, check_deployment, check_deployment_options
from ecs_service_discovery.constructs.health_check import check_health_check_path
from ecs_service_discovery.constructs.namespace import (
    DiscoveryNamespaceBase,
    NamespaceRef,
    check_namespace,
    namespace_ref,
)
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling
from ecs_service_discovery.constructs.service_connect import (
    Discovery,
    ServiceConnectOptions,
    check_service_connect_options,
)
from ecs_service_discovery.constructs.sharing import check_namespace_use
from ecs_service_discovery.validation import (
    APP_FINISH_SECONDS,
    DRAIN_MARGIN_SECONDS,
    MAX_DNS_TTL_SECONDS,
    MAX_DRAIN_SECONDS,
    MAX_INT32,
    MAX_STOP_TIMEOUT_SECONDS,
    MAX_TASKS_PER_SERVICE,
    check_bool,
    check_dns_label,
    check_env_name,
    check_environment,
    check_fargate_size,
    check_int_range,
    check_port,
    check_scaling,
    check_user,
    duration_seconds,
    invalid,
    require_type,
    short,
)

# ECS container health check limits (ECS API reference, HealthCheck).
HEALTH_CHECK_INTERVAL = (5, 300)
HEALTH_CHECK_TIMEOUT = (2, 120)
HEALTH_CHECK_RETRIES = (1, 10)
HEALTH_CHECK_START_PERIOD = (0, 300)
#: The documented defaults of the aws-cdk-lib-typed fields below.
DEFAULT_DNS_TTL_SECONDS = 10
DEFAULT_STOP_TIMEOUT_SECONDS = 45
#: What a stopping task needs after draining, in the default stop timeout: its in-flight requests
#: finish (the apps' 20 s) with 10 s of room.
FINISH_SECONDS = APP_FINISH_SECONDS + 10


@dataclass(frozen=True, kw_only=True)
class ServiceOptions:
    """What one discoverable service is, in plain values (no aws-cdk-lib objects).

    :param name: the service's DNS label; it answers as ``<name>.<namespace>``.
    :param container_name: name of the app container. Default: ``name``.
    :param container_port: port the app listens on (1-65535). Default: ``8080``.
    :param cpu: Fargate CPU units. Default: ``256``.
    :param memory_limit_mib: Fargate memory in MiB, a valid pair with ``cpu``. Default: ``512``.
    :param desired_count: tasks to run (0-1000). Default: ``2``.
    :param environment: extra environment variables. Names are ``[A-Za-z_][A-Za-z0-9_]*`` (at most
        255 characters) and may not be one the library or ECS sets
        (:data:`~ecs_service_discovery.validation.RESERVED_VARIABLES`: ``SERVICE_NAME``,
        ``NAMESPACE``, ``NAMESPACE_ID``, ``AWS_REGION``, ...), nor one ``connect_to`` sets for a
        callee (checked when it is called). Default: only the library's variables.
    :param health_check_path: path probed by the default container health check: a URL path
        starting with ``/`` and an optional ``?query`` (RFC 3986 characters, at most 1024).
        Default: ``"/health"``.
    :param scaling: target-tracking scaling; ``None`` keeps ``desired_count`` fixed.
        Default: ``ServiceScaling()`` (``desired_count`` to 10 tasks at 70 % CPU).
    :param dns_records: which records Cloud Map keeps per task. Default: ``DnsRecords.A_AND_SRV``.
    :param user: the user the container runs as: ``UID``, ``UID:GID``, ``name`` or ``name:group``.
        Root is refused in every spelling (``0``, ``00``, ``0:0``, ``0:10001``, ``root``,
        ``root:root``): the library promises non-root containers. A name other than ``root`` is
        resolved by the image's ``/etc/passwd`` at run time, which the library cannot see.
        Default: ``"10001"``; ``None`` uses the image's ``USER``.
    :param readonly_root_filesystem: mount the root filesystem read-only, with a task-scoped scratch
        volume on ``/tmp``. On Fargate that volume is owned by root with mode 0755 unless the image
        declares ``VOLUME ["/tmp"]`` (ECS then copies the image's ``/tmp`` with its owner and
        mode): a non-root app that writes to ``/tmp`` needs that line in its Dockerfile, as the
        apps in ``services/`` have. Default: ``True``.
    :param enable_execute_command: allow ECS Exec into the tasks. Default: ``False``.
    :param discovery: how callers find the service: ``Discovery.DNS`` (Cloud Map A and SRV
        records), ``Discovery.SERVICE_CONNECT`` (ECS Service Connect only) or ``Discovery.BOTH``
        (both at once, to migrate), or its value ``"dns"``, ``"service-connect"``, ``"both"``.
        See docs/service-connect.md. Default: ``Discovery.DNS``.
    :param service_connect: the Service Connect configuration
        (:class:`~ecs_service_discovery.constructs.service_connect.ServiceConnectOptions`); only
        with a ``discovery`` that uses Service Connect. Its ``tls`` holds aws-cdk-lib objects, so a
        topology file cannot set it. Default: ``ServiceConnectOptions()`` when ``discovery`` uses
        Service Connect (published as ``<name>.<namespace>:<container_port>``, Cloud Map name
        ``<name>-sc``), else none.
    :param deployment: how a new revision replaces the old one
        (:class:`~ecs_service_discovery.constructs.deployment.DeploymentOptions`: rolling, blue/green,
        linear or canary, bake time, test traffic header, lifecycle hooks, rollback alarms). Blue/green,
        linear and canary need a ``discovery`` with Service Connect: DNS callers cache answers and
        cannot be shifted. See docs/deployments.md. Default: ``DeploymentOptions()`` (rolling: drain,
        circuit breaker with rollback).
    """

    name: str
    container_name: str | None = None
    container_port: int = 8080
    cpu: int = 256
    memory_limit_mib: int = 512
    desired_count: int = 2
    environment: Mapping[str, str] = field(default_factory=dict[str, str])
    health_check_path: str = "/health"
    scaling: ServiceScaling | None = ServiceScaling()
    dns_records: DnsRecords = DnsRecords.A_AND_SRV
    user: str | None = "10001"
    readonly_root_filesystem: bool = True
    enable_execute_command: bool = False
    discovery: Discovery = Discovery.DNS
    service_connect: ServiceConnectOptions | None = None
    deployment: DeploymentOptions = field(default_factory=DeploymentOptions)

    def __post_init__(self) -> None:
        check_dns_label("name", self.name)
        where = self._where()
        if self.container_name is not None:
            check_dns_label(f"{where}container_name", self.container_name)
        check_port(f"{where}container_port", self.container_port)
        check_fargate_size(
            self.cpu,
            self.memory_limit_mib,
            cpu_parameter=f"{where}cpu",
            memory_parameter=f"{where}memory_limit_mib",
        )
        check_int_range(f"{where}desired_count", self.desired_count, 0, MAX_TASKS_PER_SERVICE, " (tasks per service)")
        # A plain dict copy: the caller's mapping may change after this check.
        object.__setattr__(self, "environment", check_environment(f"{where}environment", self.environment))
        check_health_check_path(f"{where}health_check_path", self.health_check_path)
        if self.scaling is not None:
            require_type(f"{where}scaling", self.scaling, ServiceScaling, "expected a ServiceScaling, or None")
            check_scaling(f"{where}scaling", self.scaling, self.desired_count)
        require_type(
            f"{where}dns_records", self.dns_records, DnsRecords, f"expected one of {[r.name for r in DnsRecords]}"
        )
        check_user(f"{where}user", self.user)
        check_bool(f"{where}readonly_root_filesystem", self.readonly_root_filesystem)
        check_bool(f"{where}enable_execute_command", self.enable_execute_command)
        object.__setattr__(self, "discovery", Discovery.parse(f"{where}discovery", self.discovery))
        if self.service_connect is not None:
            check_service_connect_options(f"{where}service_connect", self.service_connect)
            if not self.discovery.uses_service_connect:
                raise invalid(
                    f"{where}service_connect",
                    self.service_connect,
                    "expected None with discovery='dns'; set discovery to 'service-connect' or 'both' to use it",
                )
        check_deployment_options(f"{where}deployment", self.deployment)
        check_deployment(where, self.deployment, self.discovery, self.service_connect)

    def _where(self) -> str:
        """Prefix of parameter names in errors; a topology entry names its service."""
        return ""

    def options(self) -> dict[str, Any]:
        """The :class:`ServiceOptions` fields of these props, as keyword arguments."""
        return {name: getattr(self, name) for name in SERVICE_OPTION_FIELDS}


SERVICE_OPTION_FIELDS: tuple[str, ...] = tuple(ServiceOptions.__dataclass_fields__)


@dataclass(frozen=True, kw_only=True)
class DiscoverableFargateServiceProps(ServiceOptions):
    """Everything :class:`~ecs_service_discovery.constructs.fargate_service.DiscoverableFargateService`
    takes: the :class:`ServiceOptions` fields plus the following.

    :param cluster: the ECS cluster; when both VPCs are known at synth time, its VPC must be the
        namespace's.
    :param namespace: a :class:`~ecs_service_discovery.constructs.namespace.DiscoveryNamespace`
        (created or imported with ``DiscoveryNamespace.from_attributes``), or an aws-cdk-lib
        ``aws_servicediscovery.IPrivateDnsNamespace`` made elsewhere. It must belong to the same
        ``App`` as the service.
    :param image: the container image, e.g. ``ecs.ContainerImage.from_asset("services/worker")``.
    :param dns_ttl: TTL of the A and SRV records, whole seconds from 0 to 2147483647. Callers may
        hold a stopped task's address for ``dns_ttl`` + 5 s, so the task keeps serving that long
        (``STOP_DRAIN_SECONDS``, see ``stop_timeout``). A task can drain for at most 99 s: the apps
        in ``services/`` finish in-flight requests in 20 s after the drain, and both must end
        within Fargate's 120 s stop timeout. Above 94 s the drain is therefore capped at 99 s, with
        a synth warning (``ecs-service-discovery:cannotDrain``) saying for how many seconds after a
        task stops callers' requests to it may fail. Capped rather than refused: the TTL is Cloud
        Map's setting, a longer one is a valid trade (fewer lookups) for a service that stops
        rarely or whose image does not drain, and the cost is failed calls during deployments,
        not tasks that never start (the apps refuse a drain over 99 s at start-up).
        Default: 10 seconds.
    :param secrets: secrets passed as environment variables, by the same name rules as
        ``environment`` and never with the name of one of its variables. Default: none.
    :param health_check: the container health check. Default: HTTP GET ``health_check_path`` on
        ``container_port`` every 10 s, timeout 5 s, 3 retries, 15 s start period.
    :param health_check_grace_period: time after a task starts during which failed health checks
        do not stop it. Default: 60 seconds (ECS would use 0 without a load balancer).
    :param stop_timeout: time between SIGTERM and SIGKILL, 2-120 s. ECS deregisters a stopping task
        from Cloud Map before SIGTERM, and callers may hold its address for one more ``dns_ttl``:
        the container gets ``STOP_DRAIN_SECONDS`` (``dns_ttl`` + 5 s, at most 99 s) to keep serving
        (the apps in ``services/`` do), so with DNS discovery ``stop_timeout`` must be longer than
        that. Default: 45 seconds, or ``STOP_DRAIN_SECONDS`` + 30 s when that is longer (at most
        120 s, which still leaves the apps' drain and 20 s finish room before SIGKILL).
    :param log_retention: how long container logs are kept (not ``INFINITE``). Default: one month.
    :param log_encryption_key: a KMS key CloudWatch Logs may use (e.g. one ``LogEncryptionKey``
        per stack, shared by all its services). Default: no customer-managed key; CloudWatch Logs
        still encrypts log data at rest with its own keys (the log group records a checkov skip
        saying so).
    :param vpc_subnets: where tasks run. Default: the VPC's private subnets with egress.
    :param cpu_architecture: the tasks' CPU architecture. Default: ``X86_64``.
    """

    cluster: ecs.ICluster
    namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace
    image: ecs.ContainerImage
    dns_ttl: Duration | None = None
    secrets: Mapping[str, ecs.Secret] | None = None
    health_check: ecs.HealthCheck | None = None
    health_check_grace_period: Duration | None = None
    stop_timeout: Duration | None = None
    log_retention: logs.RetentionDays | None = None
    # kms.Key named too: jsii's stubs name Key.add_alias's parameter differently from IKey's,
    # so type checkers would reject a Key here although it is an IKey.
    log_encryption_key: kms.IKey | kms.Key | None = None
    vpc_subnets: ec2.SubnetSelection | None = None
    cpu_architecture: ecs.CpuArchitecture | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        require_type(
            "cluster", self.cluster, ecs.ICluster, "expected an aws_ecs.ICluster (for example aws_ecs.Cluster)"
        )
        check_namespace("namespace", self.namespace)
        namespace_ref(self.namespace)  # asked of Node.js here, once, before any construct exists
        check_namespace_use(self.namespace, uses_service_connect=self.discovery.uses_service_connect)
        require_type("image", self.image, ecs.ContainerImage, "expected an aws_ecs.ContainerImage")
        if self.dns_ttl is not None:
            duration_seconds("dns_ttl", self.dns_ttl, 0, MAX_DNS_TTL_SECONDS)
        object.__setattr__(self, "secrets", check_secrets("secrets", self.secrets, self.environment))
        if self.health_check is not None:
            check_health_check("health_check", self.health_check)
        if self.health_check_grace_period is not None:
            duration_seconds("health_check_grace_period", self.health_check_grace_period, 0, MAX_INT32)
        if self.stop_timeout is not None:
            stop_seconds = duration_seconds("stop_timeout", self.stop_timeout, 2, MAX_STOP_TIMEOUT_SECONDS)
            drain = self.drain_seconds
            if stop_seconds is not None and drain is not None and self.discovery.uses_dns and stop_seconds <= drain:
                raise invalid(
                    "stop_timeout",
                    f"{stop_seconds} seconds",
                    f"a stopping task keeps serving for dns_ttl + {DRAIN_MARGIN_SECONDS} s = {drain} s while callers' "
                    f"cached answers expire, then finishes its requests: expected more than {drain} seconds "
                    "(or a shorter dns_ttl)",
                )
        if self.log_retention is not None and (
            not isinstance(self.log_retention, logs.RetentionDays) or self.log_retention == logs.RetentionDays.INFINITE
        ):
            raise invalid("log_retention", self.log_retention, "expected an aws_logs.RetentionDays other than INFINITE")
        if self.log_encryption_key is not None:
            require_type("log_encryption_key", self.log_encryption_key, kms.IKey, "expected an aws_kms.IKey, or None")
        if self.vpc_subnets is not None:
            require_type("vpc_subnets", self.vpc_subnets, ec2.SubnetSelection, "expected an aws_ec2.SubnetSelection")
        if self.cpu_architecture is not None:
            require_type(
                "cpu_architecture", self.cpu_architecture, ecs.CpuArchitecture, "expected an aws_ecs.CpuArchitecture"
            )

    @property
    def namespace_ref(self) -> NamespaceRef:
        """``namespace`` as the library reads it, whichever object the caller gave (kept on the object)."""
        return namespace_ref(self.namespace)

    @property
    def stale_seconds(self) -> int | None:
        """How long after a task leaves DNS callers may still use its address: ``dns_ttl`` + 5 s with
        DNS discovery (Service Connect's proxy drains its own connections: 5 s); ``None`` when
        ``dns_ttl`` is a token."""
        if not self.discovery.uses_dns:
            return DRAIN_MARGIN_SECONDS
        if self.dns_ttl is None:
            return DEFAULT_DNS_TTL_SECONDS + DRAIN_MARGIN_SECONDS
        ttl = duration_seconds("dns_ttl", self.dns_ttl, 0, MAX_DNS_TTL_SECONDS)
        return None if ttl is None else ttl + DRAIN_MARGIN_SECONDS

    @property
    def drain_seconds(self) -> int | None:
        """How long a stopping task keeps serving after SIGTERM (``STOP_DRAIN_SECONDS``):
        :attr:`stale_seconds`, capped at the 99 s the apps can drain (see ``dns_ttl``); ``None``
        when ``dns_ttl`` is a token."""
        stale = self.stale_seconds
        return None if stale is None else min(stale, MAX_DRAIN_SECONDS)

    @property
    def default_stop_timeout_seconds(self) -> int:
        """The stop timeout when none is given: 45 s, or the drain plus 30 s to finish, at most 120 s."""
        drain = self.drain_seconds or 0
        return min(MAX_STOP_TIMEOUT_SECONDS, max(DEFAULT_STOP_TIMEOUT_SECONDS, drain + FINISH_SECONDS))


def check_secrets(parameter: str, value: Any, environment: Mapping[str, str]) -> dict[str, ecs.Secret] | None:
    """Secrets by variable name; a name may not also be an ``environment`` variable (ECS refuses it)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid(parameter, value, "expected a mapping of environment variable names to aws_ecs.Secret")
    checked: dict[str, ecs.Secret] = {}
    for key, secret in cast("Mapping[object, object]", value).items():
        name = check_env_name(f"{parameter} key", key)
        if name in environment:
            raise invalid(
                f"{parameter} key",
                name,
                "expected a name that is not also in environment (ECS refuses a variable set twice)",
            )
        if not isinstance(secret, ecs.Secret):
            raise invalid(
                f"{parameter}[{short(name)}]",
                secret,
                "expected an aws_ecs.Secret (for example aws_ecs.Secret.from_secrets_manager(secret))",
            )
        checked[name] = secret
    return checked


def check_health_check(parameter: str, health_check: Any) -> None:
    require_type(parameter, health_check, ecs.HealthCheck, "expected an aws_ecs.HealthCheck")
    command: object = health_check.command
    if isinstance(command, (str, bytes)) or not isinstance(command, list) or not command:
        raise invalid(f"{parameter}.command", command, "expected a non-empty list of strings")
    if not all(isinstance(part, str) for part in cast("list[object]", command)):
        raise invalid(f"{parameter}.command", command, "expected a non-empty list of strings")
    for name, (low, high) in (
        ("interval", HEALTH_CHECK_INTERVAL),
        ("timeout", HEALTH_CHECK_TIMEOUT),
        ("start_period", HEALTH_CHECK_START_PERIOD),
    ):
        value = getattr(health_check, name)
        if value is not None:
            duration_seconds(f"{parameter}.{name}", value, low, high)
    if health_check.retries is not None:
        check_int_range(f"{parameter}.retries", health_check.retries, *HEALTH_CHECK_RETRIES)
