# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""DiscoverableFargateService: a Fargate service that other services find by DNS."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence

import jsii
from aws_cdk import Acknowledgment, CfnResource, Duration, IStableListProducer, Lazy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct, IValidation

from ecs_service_discovery.constructs.health_check import default_health_check_command
from ecs_service_discovery.constructs.namespace import DiscoveryNamespace
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling
from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.validation import (
    MAX_DNS_TTL_SECONDS,
    MAX_TASKS_PER_SERVICE,
    check_dns_label,
    check_environment,
    check_fargate_size,
    check_int_range,
    check_port,
    check_scaling,
    duration_seconds,
    fail,
    require_type,
)

# ECS container health check limits (ECS API reference, HealthCheck).
_HC_INTERVAL = (5, 300)
_HC_TIMEOUT = (2, 120)
_HC_RETRIES = (1, 10)
_HC_START_PERIOD = (0, 300)
# ECS sends SIGKILL this long after SIGTERM at the most on Fargate.
_MAX_STOP_TIMEOUT = 120
#: What grant_discovery_read() allows on the services it names (ListServices needs "*" besides).
INSTANCE_READ_ACTIONS = ["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"]
# Order in which services are created in this process: connect_to between two stacks uses it.
_CREATION_ORDER = itertools.count()

# Every aws-cdk-lib object is a call into jsii's Node.js process, and a synth of many services makes
# thousands of them: values that are the same for every service are made once, here. The defaults
# are known to be valid, so __init__ does not check them again (each check is two more calls).
_DEFAULT_DNS_TTL_SECONDS = 10
_DEFAULT_DNS_TTL = Duration.seconds(_DEFAULT_DNS_TTL_SECONDS)
_DEFAULT_GRACE_PERIOD = Duration.seconds(60)
_DEFAULT_STOP_TIMEOUT = Duration.seconds(45)
_DEFAULT_HC_INTERVAL = Duration.seconds(10)
_DEFAULT_HC_TIMEOUT = Duration.seconds(5)
_DEFAULT_HC_START_PERIOD = Duration.seconds(15)
_LINUX = ecs.OperatingSystemFamily.LINUX
_HTTPS = ec2.Port.tcp(443)
_ANY_IPV4 = ec2.Peer.any_ipv4()


@functools.cache
def _seconds(seconds: int) -> Duration:
    """``Duration.seconds(seconds)``, one object per value (Durations are immutable)."""
    return Duration.seconds(seconds)


def env_prefix(service_name: str) -> str:
    """``"flask-worker"`` -> ``"FLASK_WORKER"``: the prefix of a callee's variables in a caller."""
    return service_name.upper().replace("-", "_")


class DiscoverableFargateService(Construct):
    """An ECS Fargate service whose tasks other services find by DNS through Cloud Map.

    Creates a Fargate task definition with one app container (awslogs logging to a log
    group with a retention, non-root, read-only root filesystem, all Linux capabilities
    dropped), an ECS service in private subnets without public IPs behind its own
    security group, and a Cloud Map service ``name`` in ``namespace`` with an A record
    per task IP and an SRV record per task IP and container port, TTL ``dns_ttl``,
    MULTIVALUE routing and an ECS-managed custom health check: ECS adds a task to DNS
    when its container health check passes and removes it when the check fails or the
    task stops.

    :param cluster: the ECS cluster (its VPC must be the namespace's VPC).
    :param namespace: a :class:`DiscoveryNamespace`, created or imported with
        :meth:`DiscoveryNamespace.from_attributes`.
    :param name: the service's DNS label; it answers as ``<name>.<namespace>``.
    :param image: the container image, e.g. ``ecs.ContainerImage.from_asset("services/worker")``.
    :param container_name: name of the app container. Default: ``name``.
    :param container_port: port the app listens on (1-65535). Default: ``8080``.
    :param dns_ttl: TTL of the A and SRV records, whole seconds. Default: 10 seconds.
    :param dns_records: which records to keep. Default: ``DnsRecords.A_AND_SRV``.
    :param cpu: Fargate CPU units. Default: ``256``.
    :param memory_limit_mib: Fargate memory; must pair with ``cpu``. Default: ``512``.
    :param desired_count: tasks to run (0-1000). Default: ``2``.
    :param environment: extra environment variables. Default: only ``SERVICE_NAME``,
        ``NAMESPACE`` and the variables ``connect_to`` adds.
    :param secrets: secrets passed as environment variables. Default: none.
    :param health_check: the container health check. Default: HTTP GET
        ``health_check_path`` on ``container_port`` every 10 s, timeout 5 s,
        3 retries, 15 s start period.
    :param health_check_path: path probed by the default health check. Default: ``"/health"``.
    :param health_check_grace_period: time after a task starts during which failed
        health checks do not stop it. Default: 60 seconds (ECS would use 0 without a load balancer).
    :param stop_timeout: time between SIGTERM and SIGKILL, at most 120 s; keep it above the
        app's graceful stop plus ``dns_ttl`` so a task still cached by callers keeps answering
        while it drains. Default: 45 seconds.
    :param scaling: target-tracking scaling; ``None`` keeps ``desired_count`` fixed.
        Default: ``ServiceScaling()`` (``desired_count`` to 10 tasks at 70 % CPU).
    :param user: user (UID[:GID]) the container runs as. Default: ``"10001"`` (never root);
        ``None`` uses the image's USER.
    :param readonly_root_filesystem: mount the root filesystem read-only; a task-scoped scratch
        volume is mounted on ``/tmp``. On Fargate that volume is owned by root with mode 0755
        unless the image declares ``VOLUME ["/tmp"]`` (ECS then copies the image's ``/tmp``, with
        its owner and mode): a non-root app that writes to ``/tmp`` needs that line in its
        Dockerfile, as the apps in ``services/`` have. Default: ``True``.
    :param enable_execute_command: allow ECS Exec into the tasks. Default: ``False``.
    :param log_retention: how long container logs are kept. Default: one month.
    :param log_encryption_key: a KMS key CloudWatch Logs may use (e.g. one
        :class:`LogEncryptionKey` per stack, shared by all its services), to encrypt the log
        group with it. Default: no customer-managed key; CloudWatch Logs still encrypts the
        log data at rest with its own keys (the log group records a checkov skip saying so).
    :param vpc_subnets: where tasks run. Default: the VPC's private subnets with egress.
    :param cpu_architecture: the tasks' CPU architecture. Default: ``X86_64``.

    Attributes: ``service``, ``task_definition``, ``container``, ``cloud_map_service``,
    ``dns_name`` (e.g. ``"worker.corp"``), ``connections``, ``security_group``,
    ``log_group``, ``scalable_task_count`` (``None`` without scaling), ``name``,
    ``container_port`` and ``namespace``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        namespace: DiscoveryNamespace,
        name: str,
        image: ecs.ContainerImage,
        container_name: str | None = None,
        container_port: int = 8080,
        dns_ttl: Duration = _DEFAULT_DNS_TTL,
        dns_records: DnsRecords = DnsRecords.A_AND_SRV,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int = 2,
        environment: Mapping[str, str] | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        health_check: ecs.HealthCheck | None = None,
        health_check_path: str = "/health",
        health_check_grace_period: Duration = _DEFAULT_GRACE_PERIOD,
        stop_timeout: Duration = _DEFAULT_STOP_TIMEOUT,
        scaling: ServiceScaling | None = ServiceScaling(),
        user: str | None = "10001",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        # kms.Key named too: jsii's stubs name Key.add_alias's parameter differently from IKey's,
        # so type checkers would reject a Key here although it is an IKey.
        log_encryption_key: kms.IKey | kms.Key | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        cpu_architecture: ecs.CpuArchitecture = ecs.CpuArchitecture.X86_64,
    ) -> None:
        require_type("cluster", cluster, ecs.ICluster, "expected an aws_ecs.ICluster (for example aws_ecs.Cluster)")
        require_type(
            "namespace",
            namespace,
            DiscoveryNamespace,
            "expected a DiscoveryNamespace (created, or imported with DiscoveryNamespace.from_attributes)",
        )
        check_dns_label("name", name)
        require_type("image", image, ecs.ContainerImage, "expected an aws_ecs.ContainerImage")
        if container_name is not None:
            check_dns_label("container_name", container_name)
        check_port("container_port", container_port)
        ttl_seconds = (
            _DEFAULT_DNS_TTL_SECONDS
            if dns_ttl is _DEFAULT_DNS_TTL
            else duration_seconds("dns_ttl", dns_ttl, 0, MAX_DNS_TTL_SECONDS)
        )
        require_type("dns_records", dns_records, DnsRecords, f"expected one of {[r.name for r in DnsRecords]}")
        check_fargate_size(cpu, memory_limit_mib)
        check_int_range("desired_count", desired_count, 0, MAX_TASKS_PER_SERVICE, " (tasks per service)")
        check_environment("environment", dict(environment) if environment is not None else None)
        if not isinstance(health_check_path, str) or not health_check_path.startswith("/"):
            raise fail("health_check_path", health_check_path, "expected a URL path starting with '/'")
        if health_check is not None:
            _check_health_check(health_check)
        if health_check_grace_period is not _DEFAULT_GRACE_PERIOD:
            duration_seconds("health_check_grace_period", health_check_grace_period, 0, 2147483647)
        if stop_timeout is not _DEFAULT_STOP_TIMEOUT:
            duration_seconds("stop_timeout", stop_timeout, 2, _MAX_STOP_TIMEOUT)
        if scaling is not None:
            _check_scaling(scaling, desired_count)
        if user is not None and not isinstance(user, str):
            raise fail("user", user, "expected a string such as '10001' or '10001:10001', or None")
        if not isinstance(log_retention, logs.RetentionDays) or log_retention == logs.RetentionDays.INFINITE:
            raise fail("log_retention", log_retention, "expected an aws_logs.RetentionDays other than INFINITE")
        if log_encryption_key is not None:
            require_type("log_encryption_key", log_encryption_key, kms.IKey, "expected an aws_kms.IKey, or None")
        # Before super().__init__: a duplicate name must leave no construct in the tree.
        namespace.check_service_name_free(name)

        super().__init__(scope, construct_id)
        namespace.register_service_name(name, self)
        self._creation_order = next(_CREATION_ORDER)
        self.name = name
        self.namespace = namespace
        self.container_port = container_port
        self.dns_name = f"{name}.{namespace.name}"

        self.log_group = logs.LogGroup(self, "LogGroup", retention=log_retention, encryption_key=log_encryption_key)
        if log_encryption_key is None:
            _skip_checkov(
                self.log_group,
                "CKV_AWS_158",
                "no log_encryption_key given: CloudWatch Logs encrypts this log group at rest with keys it manages; "
                "pass a shared LogEncryptionKey to use a customer-managed KMS key",
            )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_limit_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=cpu_architecture,
                operating_system_family=_LINUX,
            ),
        )
        linux_parameters = ecs.LinuxParameters(self, "LinuxParameters", init_process_enabled=True)
        linux_parameters.drop_capabilities(ecs.Capability.ALL)
        self.container = self.task_definition.add_container(
            "Container",
            container_name=container_name or name,
            image=image,
            port_mappings=[ecs.PortMapping(container_port=container_port, protocol=ecs.Protocol.TCP)],
            environment={"SERVICE_NAME": name, "NAMESPACE": namespace.name, **(environment or {})},
            secrets=dict(secrets) if secrets else None,
            health_check=health_check
            or ecs.HealthCheck(
                command=default_health_check_command(container_port, health_check_path),
                interval=_DEFAULT_HC_INTERVAL,
                timeout=_DEFAULT_HC_TIMEOUT,
                retries=3,
                start_period=_DEFAULT_HC_START_PERIOD,
            ),
            logging=ecs.LogDriver.aws_logs(stream_prefix=name, log_group=self.log_group),
            user=user,
            readonly_root_filesystem=readonly_root_filesystem,
            privileged=False,
            linux_parameters=linux_parameters,
            stop_timeout=stop_timeout,
        )
        # The variables are discovery settings (SERVICE_NAME, NAMESPACE, <PEER>_HOST/_SERVICE/_PORT, ...):
        # they must be visible config, and credentials have the `secrets` parameter.
        Validations.of(self.task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ECS2",
                reason="The environment holds only non-secret discovery settings (SERVICE_NAME, NAMESPACE, "
                "<PEER>_HOST/_SERVICE/_PORT, NAMESPACE_ID, AWS_REGION) and the caller's plain `environment`; "
                "secrets are passed with the `secrets` parameter (Secrets Manager or SSM), never as variables",
            )
        )
        self._acknowledge_ecr_authorization_token(image)
        if readonly_root_filesystem:
            # A task-scoped bind mount: the scratch space every Fargate platform version offers.
            self.task_definition.add_volume(name="tmp")
            self.container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=cluster.vpc,
            description=f"Tasks of {self.dns_name}: ingress only from services that connect_to it",
            allow_all_outbound=False,
        )
        # Image pulls (ECR), logs and AWS APIs are HTTPS; callee ports are opened by connect_to.
        self.security_group.add_egress_rule(_ANY_IPV4, _HTTPS, "HTTPS to AWS APIs and ECR")

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            assign_public_ip=False,
            security_groups=[self.security_group],
            vpc_subnets=vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=health_check_grace_period,
            enable_execute_command=enable_execute_command,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
        )
        self.connections = self.service.connections

        self.cloud_map_service = self._create_cloud_map_service(namespace, name, dns_ttl, ttl_seconds, dns_records)
        self.service.associate_cloud_map_service(
            service=self.cloud_map_service, container=self.container, container_port=container_port
        )

        self.scalable_task_count: ecs.ScalableTaskCount | None = None
        if scaling is not None:
            self.scalable_task_count = self._add_scaling(scaling, desired_count)

    def _acknowledge_ecr_authorization_token(self, image: ecs.ContainerImage) -> None:
        """Acknowledge the one ``Resource::*`` an ECR image needs on the execution role.

        Pulling from a private ECR repository (``from_asset``, ``from_ecr_repository``) needs
        ``ecr:GetAuthorizationToken``, which IAM grants only on ``*``. Acknowledged only when that
        is the role's single wildcard statement at this point (images from other registries add none).
        """
        if isinstance(image, ecs.RepositoryImage):
            # A registry image (from_registry) adds no ECR statement, so there is nothing to
            # acknowledge; resolving the policy to find that out costs five calls into Node.js.
            return
        execution_role = self.task_definition.execution_role
        policy = execution_role.node.try_find_child("DefaultPolicy") if execution_role is not None else None
        if not isinstance(policy, iam.Policy):
            return
        statements = policy.document.to_json().get("Statement", [])
        wildcard = [statement for statement in statements if statement.get("Resource") == "*"]
        if wildcard and all(statement.get("Action") == "ecr:GetAuthorizationToken" for statement in wildcard):
            Validations.of(policy).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="ecr:GetAuthorizationToken, needed to pull the image from ECR, supports no "
                    "resource-level permission; the image pull itself is limited to the image's repository",
                )
            )

    def _create_cloud_map_service(
        self,
        namespace: DiscoveryNamespace,
        name: str,
        dns_ttl: Duration,
        ttl_seconds: int | None,
        dns_records: DnsRecords,
    ) -> servicediscovery.Service:
        # The L2 takes one record type. Creating it as SRV makes ECS register the
        # container name and port; the A record is then added at the L1 level, as
        # AWS Copilot's templates do ([A, SRV], MULTIVALUE).
        record_type = (
            servicediscovery.DnsRecordType.A if dns_records is DnsRecords.A else servicediscovery.DnsRecordType.SRV
        )
        cloud_map_service = servicediscovery.Service(
            self,
            "CloudMapService",
            namespace=namespace.namespace,
            name=name,
            description=f"{self.dns_name}: tasks of {self.node.path}",
            dns_record_type=record_type,
            dns_ttl=dns_ttl,
            routing_policy=servicediscovery.RoutingPolicy.MULTIVALUE,
            custom_health_check=servicediscovery.HealthCheckCustomConfig(failure_threshold=1),
        )
        if dns_records is DnsRecords.A_AND_SRV:
            ttl = ttl_seconds if ttl_seconds is not None else dns_ttl.to_seconds()
            cfn_service = cloud_map_service.node.default_child
            assert isinstance(cfn_service, servicediscovery.CfnService)
            cfn_service.add_property_override(
                "DnsConfig.DnsRecords", [{"Type": "A", "TTL": ttl}, {"Type": "SRV", "TTL": ttl}]
            )
        return cloud_map_service

    def _add_scaling(self, scaling: ServiceScaling, desired_count: int) -> ecs.ScalableTaskCount:
        task_count = self.service.auto_scale_task_count(
            min_capacity=scaling.min_capacity if scaling.min_capacity is not None else desired_count,
            max_capacity=scaling.max_capacity,
        )
        scale_in_cooldown = _seconds(scaling.scale_in_cooldown_seconds)
        scale_out_cooldown = _seconds(scaling.scale_out_cooldown_seconds)
        task_count.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=scaling.cpu_target_percent,
            scale_in_cooldown=scale_in_cooldown,
            scale_out_cooldown=scale_out_cooldown,
        )
        if scaling.memory_target_percent is not None:
            task_count.scale_on_memory_utilization(
                "MemoryScaling",
                target_utilization_percent=scaling.memory_target_percent,
                scale_in_cooldown=scale_in_cooldown,
                scale_out_cooldown=scale_out_cooldown,
            )
        return task_count

    def connect_to(self, other: DiscoverableFargateService) -> None:
        """Let this service call ``other``.

        Opens ``other``'s security group to this service's security group on
        ``other``'s container port only, and gives this service's container
        ``<OTHER>_HOST`` (``worker.corp``), ``<OTHER>_SERVICE`` (``worker``) and
        ``<OTHER>_PORT`` (``8080``), where ``<OTHER>`` is ``other.name`` upper-cased
        with ``-`` as ``_``.

        When the two services are in different stacks, both security group rules go into the
        stack of the service created later (the caller's or the callee's), so that stack
        refers to the earlier one and never the reverse: services of two stacks (e.g. the
        nested stacks of a :class:`ServiceTopology`) may call each other in both directions
        without a dependency cycle.
        """
        if not isinstance(other, DiscoverableFargateService):
            raise fail("other", other, "expected a DiscoverableFargateService")
        if other is self:
            raise fail("other", other.name, f"a service cannot connect_to itself ({self.dns_name})")
        if other.namespace is not self.namespace and other.namespace.name != self.namespace.name:
            raise ValidationError(
                f"other={other.name!r} is not valid: it is registered in namespace {other.namespace.name!r} "
                f"but {self.name!r} is in {self.namespace.name!r}; expected a service of the same namespace"
            )
        port = other._ingress_port
        description = f"{self.name} calls {other.name}"
        if other._creation_order > self._creation_order and other._stack is not self._stack:
            # allow_from creates the ingress and the egress rule in other's stack (the later one).
            other.connections.allow_from(self.connections, port, description)
        else:
            self.connections.allow_to(other.connections, port, description)
        prefix = env_prefix(other.name)
        self.container.add_environment(f"{prefix}_HOST", other.dns_name)
        self.container.add_environment(f"{prefix}_SERVICE", other.name)
        self.container.add_environment(f"{prefix}_PORT", str(other.container_port))

    @functools.cached_property
    def _stack(self) -> Stack:
        # Asked once per call edge by connect_to; a construct never moves to another stack.
        return Stack.of(self)

    @functools.cached_property
    def _ingress_port(self) -> ec2.Port:
        # The port every caller is let in on (one Port object, however many callers).
        return ec2.Port.tcp(self.container_port)

    def grant_discovery_read(self, services: Sequence[DiscoverableFargateService] | None = None) -> None:
        """Let this service's tasks list the namespace's services and their instances in Cloud Map.

        For a page or tool that shows what is registered (the backend's ``/services`` page,
        ``ecs-discovery``). The task role gets only the read actions that needs:

        * ``servicediscovery:ListServices`` on ``*``: IAM offers no resource or condition
          key for it; the app filters by ``NAMESPACE_ID`` itself.
        * ``servicediscovery:ListInstances`` and ``servicediscovery:GetInstancesHealthStatus``
          on the Cloud Map service ARNs of ``services`` only.

        The container gets ``NAMESPACE_ID`` and ``AWS_REGION`` (``NAMESPACE`` is always set).

        :param services: the services whose instances may be read. Default: every other
            :class:`DiscoverableFargateService` of this namespace in this stack, collected
            when the stack is synthesized, so services added after this call count too.
        """
        if services is not None:
            if isinstance(services, (str, bytes)) or not isinstance(services, Sequence):
                raise fail("services", services, "expected a list of DiscoverableFargateService, or None")
            services = list(services)
            for index, other in enumerate(services):
                if not isinstance(other, DiscoverableFargateService):
                    raise fail(f"services[{index}]", other, "expected a DiscoverableFargateService")
                if other is self:
                    # IAM refuses a statement without resources, which [self] alone would leave.
                    raise fail(
                        f"services[{index}]", other.name, "expected another service; a service never reads itself"
                    )
                if other.namespace is not self.namespace and other.namespace.name != self.namespace.name:
                    raise fail(
                        f"services[{index}]",
                        other.name,
                        f"expected a service of namespace {self.namespace.name!r}, not {other.namespace.name!r}",
                    )
            if not services:
                raise fail("services", services, "expected at least one service, or None for all of the namespace")
            readable: list[DiscoverableFargateService] | None = services
        else:
            readable = None

        def service_arns() -> list[str]:
            chosen = readable if readable is not None else self.namespace_peers()
            return sorted({other.cloud_map_service.service_arn for other in chosen})

        if readable is None:
            self.node.add_validation(_PeersToRead(self))
        task_role = self.task_definition.task_role
        # ListServices supports no resource-level permission: "*" is the only valid resource.
        task_role.add_to_principal_policy(
            iam.PolicyStatement(actions=["servicediscovery:ListServices"], resources=["*"])
        )
        task_policy = task_role.node.try_find_child("DefaultPolicy")
        if task_policy is not None:
            Validations.of(task_policy).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="servicediscovery:ListServices (grant_discovery_read) supports no resource-level "
                    "permission or condition key; ListInstances and GetInstancesHealthStatus are limited to "
                    "the namespace's Cloud Map service ARNs",
                )
            )
        task_role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=INSTANCE_READ_ACTIONS,
                resources=Lazy.list(_ListProducer(service_arns)),
            )
        )
        self.container.add_environment("NAMESPACE_ID", self.namespace.namespace.namespace_id)
        self.container.add_environment("AWS_REGION", Stack.of(self).region)

    def namespace_peers(self) -> list[DiscoverableFargateService]:
        """The other services of this service's namespace in this stack: what
        :meth:`grant_discovery_read` reads when given no ``services``."""
        return [
            construct
            for construct in Stack.of(self).node.find_all()
            if isinstance(construct, DiscoverableFargateService)
            and construct is not self
            and (construct.namespace is self.namespace or construct.namespace.name == self.namespace.name)
        ]


@jsii.implements(IStableListProducer)
class _ListProducer:
    def __init__(self, produce: Callable[[], list[str]]) -> None:
        self._produce = produce

    def produce(self) -> list[str]:
        return self._produce()


@jsii.implements(IValidation)
class _PeersToRead:
    """grant_discovery_read() without services: fails synth when there is nothing to read."""

    def __init__(self, service: DiscoverableFargateService) -> None:
        self._service = service

    def validate(self) -> list[str]:
        if self._service.namespace_peers():
            return []
        message = (
            f"grant_discovery_read() on {self._service.name!r}: no other DiscoverableFargateService of namespace "
            f"{self._service.namespace.name!r} in this stack; pass services=[...]"
        )
        return [message]


def _skip_checkov(construct: Construct, check_id: str, reason: str) -> None:
    """Record a checkov skip with its reason in the Metadata of ``construct``'s CloudFormation resource."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    resource.add_metadata("checkov", {"skip": [{"id": check_id, "comment": reason}]})


def _check_health_check(health_check: ecs.HealthCheck) -> None:
    require_type("health_check", health_check, ecs.HealthCheck, "expected an aws_ecs.HealthCheck")
    if not health_check.command:
        raise fail("health_check.command", health_check.command, "expected a non-empty command list")
    for field, (low, high) in (
        ("interval", _HC_INTERVAL),
        ("timeout", _HC_TIMEOUT),
        ("start_period", _HC_START_PERIOD),
    ):
        value = getattr(health_check, field)
        if value is not None:
            duration_seconds(f"health_check.{field}", value, low, high)
    if health_check.retries is not None:
        check_int_range("health_check.retries", health_check.retries, *_HC_RETRIES)


def _check_scaling(scaling: ServiceScaling, desired_count: int) -> None:
    require_type("scaling", scaling, ServiceScaling, "expected a ServiceScaling or None")
    check_scaling("scaling", scaling, desired_count)
