# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""DiscoverableFargateService: a Fargate service that other services find by DNS."""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import cast

import jsii
from aws_cdk import Acknowledgment, Annotations, CfnResource, Duration, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct, IConstruct

from ecs_service_discovery.constructs.deployment import DeploymentOptions, apply_deployment, deployment_service_props
from ecs_service_discovery.constructs.health_check import default_health_check_command
from ecs_service_discovery.constructs.namespace import (
    DISCOVER_ACTIONS,
    INSTANCE_READ_ACTIONS,
    NAMESPACE_TAG,
    DiscoveryNamespaceBase,
    DiscoveryReader,
    NamespaceNames,
    NamespaceRef,
    app_root,
    check_same_app,
    cluster_vpc,
    construct_path,
    grant_namespace_read,
    namespace_ref,
    remember_construct,
    same_vpc,
    stack_of,
)
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling
from ecs_service_discovery.constructs.props import DEFAULT_DNS_TTL_SECONDS, DiscoverableFargateServiceProps
from ecs_service_discovery.constructs.rule_placement import rules_stack
from ecs_service_discovery.constructs.service_connect import (
    Discovery,
    ServiceConnectEndpoint,
    ServiceConnectOptions,
    caller_endpoint,
    check_endpoint_free,
    enable_service_connect,
    resolve_endpoint,
    service_connect_port_mapping,
)
from ecs_service_discovery.constructs.sharing import fit_cloud_map_service, named_callee
from ecs_service_discovery.validation import (
    APP_BIND_VARIABLES,
    APP_FINISH_SECONDS,
    DRAIN_MARGIN_SECONDS,
    MAX_DRAIN_SECONDS,
    MAX_DRAINED_DNS_TTL_SECONDS,
    MAX_STOP_TIMEOUT_SECONDS,
    RESERVED_VARIABLES,
    env_prefix,
    invalid,
    names_construct,
    peer_variables,
    require_type,
    short,
)

# The documented defaults of DiscoverableFargateServiceProps' aws-cdk-lib-typed fields.
DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS = 60

__all__ = ["DiscoverableFargateService", "check_cluster_and_namespace", "env_prefix"]


@jsii.implements(iam.IGrantable)
class DiscoverableFargateService(Construct, DiscoveryReader):
    """An ECS Fargate service whose tasks other services find by DNS through Cloud Map, through
    ECS Service Connect, or both (``discovery``).

    Creates a Fargate task definition with one app container (awslogs logging to a log
    group with a retention, non-root, read-only root filesystem, all Linux capabilities
    dropped), an ECS service in private subnets without public IPs behind its own
    security group, and a Cloud Map service ``name`` in ``namespace`` with an A record
    per task IP and an SRV record per task IP and container port, TTL ``dns_ttl``,
    MULTIVALUE routing and an ECS-managed custom health check: ECS adds a task to DNS
    when its container health check passes and removes it when the check fails or the
    task stops.

    With ``discovery`` ``SERVICE_CONNECT`` or ``BOTH`` the service also joins ECS Service Connect
    (:func:`~ecs_service_discovery.constructs.service_connect.enable_service_connect`: named port
    mapping, proxy logs in the service's log group, Cloud Map name ``<name>-sc``, client alias
    ``<name>.<namespace>:<container_port>`` by default); with ``SERVICE_CONNECT`` it has no DNS
    records (``cloud_map_service`` is ``None``).

    The keyword arguments are the fields of :class:`DiscoverableFargateServiceProps` (its
    :class:`ServiceOptions` fields included), documented there once with their defaults; they are
    checked by building those props, before any construct exists. Besides them, the container
    always gets ``SERVICE_NAME`` and ``NAMESPACE``.

    Attributes: ``props``, ``service``, ``task_definition``, ``container``, ``cloud_map_service``,
    ``dns_name`` (e.g. ``"worker.corp"``; with ``discovery`` ``SERVICE_CONNECT`` no DNS record has
    it, only the default client alias), ``connections``, ``security_group``, ``log_group``,
    ``scalable_task_count`` (``None`` without scaling), ``name``, ``container_port``,
    ``namespace``, ``discovery``, ``service_connect_endpoint`` (the published
    :class:`~ecs_service_discovery.constructs.service_connect.ServiceConnectEndpoint`, or ``None``),
    ``deployment`` (the default 5xx alarm and the lifecycle hooks' role it made, see
    :class:`~ecs_service_discovery.constructs.deployment.AppliedDeployment`) and ``stack``. The
    service is an ``aws_iam.IGrantable``: its ``grant_principal`` is the task
    role's, so ``bucket.grant_read(service)`` gives its tasks access.
    """

    _scope: Construct
    #: Variables given to the container at creation for the connect_to calls to come (ServiceTopology).
    _preset_variables: dict[str, str] = {}  # noqa: RUF012 (replaced per instance, never mutated)

    @names_construct
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace,
        name: str,
        image: ecs.ContainerImage,
        container_name: str | None = None,
        container_port: int = 8080,
        cpu: int = 256,
        memory_limit_mib: int = 512,
        desired_count: int = 2,
        environment: Mapping[str, str] | None = None,
        health_check_path: str = "/health",
        scaling: ServiceScaling | None = ServiceScaling(),
        dns_records: DnsRecords = DnsRecords.A_AND_SRV,
        user: str | None = "10001",
        readonly_root_filesystem: bool = True,
        enable_execute_command: bool = False,
        dns_ttl: Duration | None = None,
        secrets: Mapping[str, ecs.Secret] | None = None,
        health_check: ecs.HealthCheck | None = None,
        health_check_grace_period: Duration | None = None,
        stop_timeout: Duration | None = None,
        log_retention: logs.RetentionDays | None = None,
        log_encryption_key: kms.IKey | kms.Key | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        cpu_architecture: ecs.CpuArchitecture | None = None,
        discovery: Discovery | str = Discovery.DNS,
        service_connect: ServiceConnectOptions | None = None,
        deployment: DeploymentOptions | None = None,
    ) -> None:
        props = DiscoverableFargateServiceProps(
            cluster=cluster,
            namespace=namespace,
            name=name,
            image=image,
            container_name=container_name,
            container_port=container_port,
            cpu=cpu,
            memory_limit_mib=memory_limit_mib,
            desired_count=desired_count,
            environment=environment if environment is not None else {},
            health_check_path=health_check_path,
            scaling=scaling,
            dns_records=dns_records,
            user=user,
            readonly_root_filesystem=readonly_root_filesystem,
            enable_execute_command=enable_execute_command,
            dns_ttl=dns_ttl,
            secrets=secrets,
            health_check=health_check,
            health_check_grace_period=health_check_grace_period,
            stop_timeout=stop_timeout,
            log_retention=log_retention,
            log_encryption_key=log_encryption_key,
            vpc_subnets=vpc_subnets,
            cpu_architecture=cpu_architecture,
            discovery=cast("Discovery", discovery),
            service_connect=service_connect,
            deployment=deployment if deployment is not None else DeploymentOptions(),
        )
        # Before super().__init__: a mistake must leave no construct in the tree.
        ref = props.namespace_ref
        check_cluster_and_namespace(scope, props.cluster, ref)
        vpc = cluster_vpc(props.cluster)
        if props.vpc_subnets is None and not _has_private_subnets(vpc):
            raise invalid(
                "vpc_subnets",
                None,
                f"the cluster's VPC ({construct_path(vpc)}) has no private subnets, where tasks run by "
                "default; pass vpc_subnets (tasks get no public IP, so they need subnets with a route out)",
            )
        scope_path = construct_path(scope)
        path = f"{scope_path}/{construct_id}" if scope_path else construct_id
        names = NamespaceNames.of(ref)
        names.check_service_free(props.name, path, dns=props.discovery.uses_dns)
        endpoint = _resolve_endpoint(props, ref)
        if endpoint is not None:
            check_endpoint_free(ref, endpoint, path)

        super().__init__(scope, construct_id)
        names.take_service(props.name, path, dns=props.discovery.uses_dns)
        # Asked once, where the construct is made (as aws-cdk-lib's Resource keeps its stack).
        _remember(self, root=app_root(scope), path=path, scope=scope)
        self.props = props
        self.discovery = props.discovery
        self.name = props.name
        self.namespace = props.namespace
        self.container_port = props.container_port
        self.dns_name = f"{props.name}.{ref.name}"
        # Variables the library set in the container, and why (connect_to, discovery grants).
        self._library_variables: dict[str, str] = {
            "SERVICE_NAME": "the service's name",
            "NAMESPACE": "the namespace's name",
        }
        self._callees: list[DiscoverableFargateService] = []
        # Services whose ECS service this one's waits for (Service Connect endpoints, see connect_to).
        self._started_after: list[DiscoverableFargateService] = []

        self.log_group = self._create_log_group()
        self.task_definition = self._create_task_definition()
        self.container = self._add_container()
        self.security_group = self._create_security_group()
        self.service = self._create_service()
        self.connections = self.service.connections
        self.cloud_map_service = self._register_in_cloud_map() if props.discovery.uses_dns else None
        self.scalable_task_count = self._add_scaling()
        self.service_connect_endpoint = self._enable_service_connect(endpoint)
        self.deployment = apply_deployment(
            self, self.service, props.deployment, cluster=props.cluster, endpoint=self.service_connect_endpoint
        )

    # --- Steps of __init__, in order ------------------------------------------------------------

    def _create_log_group(self) -> logs.LogGroup:
        props = self.props
        log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=props.log_retention or logs.RetentionDays.ONE_MONTH,
            encryption_key=props.log_encryption_key,
        )
        if props.log_encryption_key is None:
            _skip_checkov(
                log_group,
                "CKV_AWS_158",
                "no log_encryption_key given: CloudWatch Logs encrypts this log group at rest with keys it manages; "
                "pass a shared LogEncryptionKey to use a customer-managed KMS key",
            )
        return log_group

    def _create_task_definition(self) -> ecs.FargateTaskDefinition:
        props = self.props
        task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=props.cpu,
            memory_limit_mib=props.memory_limit_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=props.cpu_architecture or ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        # The variables are discovery settings (SERVICE_NAME, NAMESPACE, <PEER>_HOST/_SERVICE/_PORT, ...):
        # they must be visible config, and credentials have the `secrets` parameter.
        Validations.of(task_definition).acknowledge(
            Acknowledgment(
                id="AwsSolutions-ECS2",
                reason="The environment holds only non-secret discovery settings (SERVICE_NAME, NAMESPACE, "
                "<PEER>_HOST/_SERVICE/_PORT, STOP_DRAIN_SECONDS, NAMESPACE_ID, AWS_REGION) and the caller's plain "
                "`environment`; "
                "secrets are passed with the `secrets` parameter (Secrets Manager or SSM), never as variables",
            )
        )
        return task_definition

    def _add_container(self) -> ecs.ContainerDefinition:
        props = self.props
        linux_parameters = ecs.LinuxParameters(self, "LinuxParameters", init_process_enabled=True)
        linux_parameters.drop_capabilities(ecs.Capability.ALL)
        container = self.task_definition.add_container(
            "Container",
            container_name=props.container_name or props.name,
            image=props.image,
            port_mappings=[self._port_mapping()],
            environment=self._initial_environment(),
            secrets=dict(props.secrets) if props.secrets else None,
            health_check=props.health_check or self._default_health_check(),
            logging=ecs.LogDriver.aws_logs(stream_prefix=props.name, log_group=self.log_group),
            user=props.user,
            readonly_root_filesystem=props.readonly_root_filesystem,
            privileged=False,
            linux_parameters=linux_parameters,
            stop_timeout=props.stop_timeout or Duration.seconds(props.default_stop_timeout_seconds),
        )
        self._acknowledge_ecr_authorization_token(props.image)
        if props.readonly_root_filesystem:
            # A task-scoped bind mount: the scratch space every Fargate platform version offers.
            self.task_definition.add_volume(name="tmp")
            container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))
        return container

    def _initial_environment(self) -> dict[str, str]:
        """The container's variables at creation: the library's, then the caller's, then the drain
        (in that order in the template; variables added later follow)."""
        props = self.props
        environment = {"SERVICE_NAME": props.name, "NAMESPACE": props.namespace_ref.name, **props.environment}
        drain = self._drain_variable()
        if drain is not None:
            environment["STOP_DRAIN_SECONDS"] = drain
        # Callees' variables a ServiceTopology knows now, in the order its connect_to calls will
        # set them (one request for the container instead of one per variable); connect_to still
        # checks each and sets any that differ. A variable that could clash is left to connect_to.
        self._preset_variables = {
            variable: value
            for variable, value in self._preset_variables.items()
            if variable not in environment
            and variable not in RESERVED_VARIABLES
            and variable not in APP_BIND_VARIABLES
            and not (props.secrets and variable in props.secrets)
        }
        return {**environment, **self._preset_variables}

    def _drain_variable(self) -> str | None:
        """``STOP_DRAIN_SECONDS``: how long the app should keep serving after SIGTERM, while callers'
        cached DNS answers expire (ECS deregisters the task first). The apps in ``services/`` read it."""
        drain, stale = self.props.drain_seconds, self.props.stale_seconds
        if drain is None or stale is None:
            return None
        self._library_variables["STOP_DRAIN_SECONDS"] = "the drain period after SIGTERM (dns_ttl + 5 s)"
        if stale > drain:
            Annotations.of(self).add_warning_v2(
                "ecs-service-discovery:cannotDrain",
                f"dns_ttl={stale - DRAIN_MARGIN_SECONDS} s: callers may use a stopped task's address for {stale} s "
                f"(dns_ttl + {DRAIN_MARGIN_SECONDS} s), but a task drains for at most {MAX_DRAIN_SECONDS} s "
                f"(Fargate's {MAX_STOP_TIMEOUT_SECONDS} s stop timeout less the apps' {APP_FINISH_SECONDS} s to "
                f"finish requests), so STOP_DRAIN_SECONDS is {drain}: for up to {stale - drain} s after each task "
                "stops (deployments, scale-in) callers' requests to it fail; lower dns_ttl to "
                f"{MAX_DRAINED_DNS_TTL_SECONDS} s or less",
            )
        return str(drain)

    def _port_mapping(self) -> ecs.PortMapping:
        props = self.props
        if props.discovery.uses_service_connect:
            endpoint = _resolve_endpoint(props, props.namespace_ref)
            if endpoint is not None:
                return service_connect_port_mapping(endpoint, props.container_port)
        return ecs.PortMapping(container_port=props.container_port, protocol=ecs.Protocol.TCP)

    def _default_health_check(self) -> ecs.HealthCheck:
        return ecs.HealthCheck(
            command=default_health_check_command(self.props.container_port, self.props.health_check_path),
            interval=Duration.seconds(10),
            timeout=Duration.seconds(5),
            retries=3,
            start_period=Duration.seconds(15),
        )

    def _create_security_group(self) -> ec2.SecurityGroup:
        security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=cluster_vpc(self.props.cluster),
            description=f"Tasks of {self.dns_name}: ingress only from services that connect_to it",
            allow_all_outbound=False,
        )
        # Image pulls (ECR), logs and AWS APIs are HTTPS; callee ports are opened by connect_to.
        security_group.add_egress_rule(_any_ipv4(), _tcp(443), "HTTPS to AWS APIs and ECR")
        return security_group

    def _create_service(self) -> ecs.FargateService:
        props = self.props
        return ecs.FargateService(
            self,
            "Service",
            cluster=props.cluster,
            task_definition=self.task_definition,
            desired_count=props.desired_count,
            assign_public_ip=False,
            security_groups=[self.security_group],
            vpc_subnets=props.vpc_subnets or ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=props.health_check_grace_period
            or Duration.seconds(DEFAULT_HEALTH_CHECK_GRACE_PERIOD_SECONDS),
            enable_execute_command=props.enable_execute_command,
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            **deployment_service_props(props.deployment),
        )

    def _register_in_cloud_map(self) -> servicediscovery.Service:
        props = self.props
        dns_ttl = props.dns_ttl or Duration.seconds(DEFAULT_DNS_TTL_SECONDS)
        # The L2 takes one record type. Creating it as SRV makes ECS register the
        # container name and port; the A record is then added at the L1 level, as
        # AWS Copilot's templates do ([A, SRV], MULTIVALUE).
        record_type = (
            servicediscovery.DnsRecordType.A
            if props.dns_records is DnsRecords.A
            else servicediscovery.DnsRecordType.SRV
        )
        namespace = props.namespace_ref
        cloud_map_service = servicediscovery.Service(
            self,
            "CloudMapService",
            namespace=namespace.resource,
            name=props.name,
            description=f"{self.dns_name}: tasks of {construct_path(self)}",
            dns_record_type=record_type,
            dns_ttl=dns_ttl,
            routing_policy=servicediscovery.RoutingPolicy.MULTIVALUE,
            custom_health_check=servicediscovery.HealthCheckCustomConfig(failure_threshold=1),
        )
        resource = cloud_map_service.node.default_child
        assert isinstance(resource, servicediscovery.CfnService)
        if props.dns_records is DnsRecords.A_AND_SRV:
            ttl = props.dns_ttl.to_seconds() if props.dns_ttl is not None else DEFAULT_DNS_TTL_SECONDS
            resource.add_property_override(
                "DnsConfig.DnsRecords", [{"Type": "A", "TTL": ttl}, {"Type": "SRV", "TTL": ttl}]
            )
        # What a namespace's discovery read grant is scoped by (see grant_discover_read).
        resource.tags.set_tag(NAMESPACE_TAG, namespace.namespace_id)
        fit_cloud_map_service(props.namespace, resource)
        self.service.associate_cloud_map_service(
            service=cloud_map_service, container=self.container, container_port=props.container_port
        )
        return cloud_map_service

    def _add_scaling(self) -> ecs.ScalableTaskCount | None:
        scaling = self.props.scaling
        if scaling is None:
            return None
        task_count = self.service.auto_scale_task_count(
            min_capacity=scaling.min_capacity if scaling.min_capacity is not None else self.props.desired_count,
            max_capacity=scaling.max_capacity,
        )
        task_count.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=scaling.cpu_target_percent,
            scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
            scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
        )
        if scaling.memory_target_percent is not None:
            task_count.scale_on_memory_utilization(
                "MemoryScaling",
                target_utilization_percent=scaling.memory_target_percent,
                scale_in_cooldown=Duration.seconds(scaling.scale_in_cooldown_seconds),
                scale_out_cooldown=Duration.seconds(scaling.scale_out_cooldown_seconds),
            )
        return task_count

    def _enable_service_connect(self, endpoint: ServiceConnectEndpoint | None) -> ServiceConnectEndpoint | None:
        props = self.props
        if not props.discovery.uses_service_connect:
            return None
        # The names were checked before this construct existed (in __init__).
        enabled = enable_service_connect(
            self.service,
            container=self.container,
            log_group=self.log_group,
            name=props.name,
            container_port=props.container_port,
            options=props.service_connect,
            namespace=props.namespace_ref.resource,
            owner_path=construct_path(self),
        )
        assert enabled == endpoint
        return enabled

    def _acknowledge_ecr_authorization_token(self, image: ecs.ContainerImage) -> None:
        """Acknowledge the one ``Resource::*`` an ECR image needs on the execution role.

        Pulling from a private ECR repository (``from_asset``, ``from_ecr_repository``) needs
        ``ecr:GetAuthorizationToken``, which IAM grants only on ``*``. Acknowledged only when that
        is the role's single wildcard statement at this point (images from other registries add none).
        """
        if isinstance(image, ecs.RepositoryImage):
            # A registry image (from_registry) adds no ECR statement: nothing to acknowledge, and no
            # need to resolve the role's policy document in Node.js to find that out.
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

    # --- Calls between services -----------------------------------------------------------------

    @names_construct
    def connect_to(self, other: DiscoverableFargateService) -> None:
        """Let this service call ``other``.

        Opens ``other``'s security group to this service's security group on ``other``'s
        container port only, and gives this service's container ``<OTHER>_HOST``
        (``worker.corp``), ``<OTHER>_SERVICE`` (``worker``) and ``<OTHER>_PORT`` (``8080``),
        where ``<OTHER>`` is ``other.name`` upper-cased with ``-`` as ``_``. Calling it again for
        the same ``other`` changes nothing.

        ``other`` must be another service of the same namespace (the same namespace, not one that
        merely shares its name) and the same App, and none of its three variables may be one of
        this container's ``environment`` or ``secrets`` names, one the library sets
        (``SERVICE_NAME``, ``NAMESPACE``, ...) or one the apps bind their server to
        (``BIND_HOST``, ``PORT``: a callee named ``bind`` is refused).

        When the two services are in different stacks, both security group rules go into one of
        them, chosen by stack structure (see :mod:`~ecs_service_discovery.constructs.rule_placement`:
        a nested stack, else the dependent stack, else the later one in the construct tree), so
        references between two stacks only point one way and calls in both directions make no
        dependency cycle.

        When both use Service Connect, the host and port are ``other``'s client alias (by default
        its DNS name and container port, the same as by DNS), and this ECS service is created and
        updated after ``other``'s in the same stack when no call back makes that a cycle, so its
        new tasks know ``other``'s endpoint. A caller without Service Connect cannot call a
        Service Connect only ``other`` (a :class:`ValidationError`, before any change).
        """
        if not isinstance(other, DiscoverableFargateService):
            raise invalid("other", other, "expected a DiscoverableFargateService")
        if other is self:
            raise invalid("other", other.name, f"a service cannot connect_to itself ({self.dns_name})")
        check_same_app("other", other, self)
        self.check_same_namespace("other", other.name, other.props.namespace_ref)
        if any(callee is other for callee in self._callees):
            return
        variables = peer_variables(env_prefix(other.name))
        for variable in variables:
            self._check_variable_free("other", other.name, variable)
        # Where this service's code calls other, in both services' modes (raises before any change).
        callee_host, callee_port = caller_endpoint(
            caller=self.name,
            caller_uses_service_connect=self.discovery.uses_service_connect,
            callee=other.name,
            callee_discovery=other.discovery,
            callee_dns_name=other.dns_name,
            callee_port=other.container_port,
            callee_endpoint=other.service_connect_endpoint,
        )

        port = _tcp(other.container_port)
        description = f"{self.name} calls {other.name}"
        own_stack, other_stack = self.stack, other.stack
        if own_stack is not other_stack and rules_stack(own_stack, other_stack) is other_stack:
            # allow_from creates the ingress and the egress rule in other's stack.
            other.connections.allow_from(self.connections, port, description)
        else:
            self.connections.allow_to(other.connections, port, description)
        host, service, port_variable = variables
        self._set_library_variable(host, callee_host, f"set because it calls {other.name!r}")
        self._set_library_variable(service, other.name, f"set because it calls {other.name!r}")
        self._set_library_variable(port_variable, str(callee_port), f"set because it calls {other.name!r}")
        self._callees.append(other)
        if self.discovery.uses_service_connect and other.service_connect_endpoint is not None:
            self._start_after(other)

    def connect_to_name(
        self,
        name: str,
        *,
        port: int,
        peer: ec2.IPeer,
        service_connect: bool = False,
        client_alias: str | None = None,
    ) -> None:
        """Let this service call a service of its namespace that is no construct of this app: one that
        another account registered in a shared namespace (docs/cross-account.md).

        Gives this service's container ``<NAME>_HOST`` (``worker.corp``, or the client alias),
        ``<NAME>_SERVICE`` and ``<NAME>_PORT``, as :meth:`connect_to` does, and opens this service's
        security group to ``peer`` on ``port``. The callee's account opens its own side (ingress from
        this service's VPC CIDR): security group IDs do not cross accounts. Checks everything first
        (:func:`~ecs_service_discovery.constructs.sharing.named_callee`), then changes the service.

        :param name: the callee's DNS label in this service's namespace, for example ``"worker"``.
        :param port: the port its tasks (or its Service Connect alias) listen on, 1-65535.
        :param peer: the callee's network: ``aws_ec2.Peer.ipv4("10.1.0.0/16")``, ``Peer.ipv6(...)`` or
            ``Peer.prefix_list("pl-...")``; not a security group, not every address.
        :param service_connect: reach it through Service Connect (this service must use it, and the
            namespace must be shared for it) rather than by DNS (this account's VPC must be
            associated with the owner's hosted zone). Default: ``False`` (DNS).
        :param client_alias: the callee's client alias DNS name, with ``service_connect``. Default:
            ``<name>.<namespace>``, the library's default alias.
        """
        callee = named_callee(
            self, name, port=port, peer=peer, service_connect=service_connect, client_alias=client_alias
        )
        for variable in callee.variables:
            self._check_variable_free("name", name, variable)
        callee.allow_calls(self.connections)
        for variable, value in callee.environment.items():
            self._set_library_variable(variable, value, f"set because it calls {name!r} by name")

    def _start_after(self, other: DiscoverableFargateService) -> None:
        """Create or update this ECS service after ``other``'s, when that makes no cycle.

        A Service Connect task knows only the endpoints that existed when it started ("Existing
        tasks can't resolve and connect to the new endpoint", ECS developer guide, Service Connect
        components): so that a first deploy, or a deploy that adds ``other``'s endpoint, gives
        this service's new tasks ``other``'s alias, CloudFormation waits for ``other`` first. Only
        within one stack (across stacks the order follows the stacks), and not when ``other``
        already waits for this service, directly or through others (calls in both directions):
        then a redeploy of the caller picks the endpoint up (docs/service-connect.md).
        """
        if self.stack is not other.stack or other._waits_for(self):
            return
        own, theirs = self.service.node.default_child, other.service.node.default_child
        assert own is not None and theirs is not None
        own.node.add_dependency(theirs)
        self._started_after.append(other)

    def _waits_for(self, target: DiscoverableFargateService) -> bool:
        """Whether this service is ordered after ``target`` by ``_start_after`` (bounded by the services)."""
        seen: set[int] = set()
        pending = list(self._started_after)
        while pending:
            service = pending.pop()
            if service is target:
                return True
            if id(service) not in seen:
                seen.add(id(service))
                pending.extend(service._started_after)
        return False

    def check_same_namespace(
        self,
        parameter: str,
        value: str,
        namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace | NamespaceRef,
    ) -> None:
        """Raise unless ``namespace`` (of the service ``value``) is this service's namespace: the same
        namespace by identity, not another one that merely shares its name."""
        theirs, mine = namespace_ref(namespace), self.props.namespace_ref
        if theirs.is_same(mine):
            return
        where = (
            f"another namespace also named {short(theirs.name)}"
            if theirs.name == mine.name
            else f"namespace {short(theirs.name)}"
        )
        raise invalid(
            parameter,
            value,
            f"it is registered in {where} but {short(self.name)} is in {short(mine.name)}; "
            "expected a service of the same namespace (one namespace, not one of the same name)",
        )

    @property
    def stack(self) -> Stack:
        """The stack this service's resources are in."""
        return stack_of(self._scope)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The task role's principal: granting to this service grants to its tasks (``aws_iam.IGrantable``)."""
        return self.task_definition.task_role.grant_principal

    def check_reads(self, parameter: str, namespace: NamespaceRef) -> None:
        check_same_app(parameter, self, namespace.resource)
        if not self.props.namespace_ref.is_same(namespace):
            raise invalid(
                parameter,
                self.name,
                f"it is a service of namespace {short(self.props.namespace_ref.name)}, not of this namespace "
                f"{short(namespace.name)}; a service reads its own namespace (its NAMESPACE_ID)",
            )

    def reader_role(self) -> iam.IGrantable:
        return self.task_definition.task_role

    def _check_variable_free(self, parameter: str, value: str, variable: str) -> None:
        reason = (
            RESERVED_VARIABLES.get(variable)
            or ("read by the apps to bind their server" if variable in APP_BIND_VARIABLES else None)
            or (f"in {short(self.name)}'s environment" if variable in self.props.environment else None)
            or (
                f"one of {short(self.name)}'s secrets"
                if self.props.secrets and variable in self.props.secrets
                else None
            )
            or self._library_variables.get(variable)
        )
        if reason is not None:
            raise invalid(parameter, value, f"it would set the variable {variable}, which is {reason}")

    def _set_library_variable(self, variable: str, value: str, reason: str) -> None:
        self._library_variables[variable] = reason
        if self._preset_variables.pop(variable, None) != value:
            self.container.add_environment(variable, value)

    def add_discovery_environment(self, namespace_id: str) -> None:
        """Give the container ``NAMESPACE_ID`` and ``AWS_REGION`` (once), for a discovery read grant."""
        if "NAMESPACE_ID" in self._library_variables:
            return
        self._set_library_variable("NAMESPACE_ID", namespace_id, "set for a discovery read grant")
        self._set_library_variable("AWS_REGION", self.stack.region, "set for a discovery read grant")

    # --- Grants ---------------------------------------------------------------------------------

    @names_construct
    def grant_discover_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read this service's instances and their health through the Cloud Map API.

        ``servicediscovery:ListInstances`` and ``GetInstancesHealthStatus`` on this Cloud Map
        service's ARN, ``DiscoverInstances`` and ``DiscoverInstancesRevision`` on it and the
        namespace's ARN. To read a whole namespace, use the namespace's ``grant_discover_read``,
        whose size does not grow with the number of services.

        :param grantee: any ``aws_iam.IGrantable``; a :class:`DiscoverableFargateService` (its task
            role gets the grant) must be another service of the same namespace.
        """
        if isinstance(grantee, DiscoverableFargateService):
            check_same_app("grantee", grantee, self)
            if grantee is self:
                raise invalid("grantee", grantee.name, "expected another service; a service never reads itself")
            self.check_same_namespace("grantee", grantee.name, grantee.props.namespace_ref)
            principal: iam.IGrantable = grantee.reader_role()
        else:
            require_type(
                "grantee", grantee, iam.IGrantable, "expected a DiscoverableFargateService or an aws_iam.IGrantable"
            )
            principal = grantee
        if self.cloud_map_service is None:
            # ECS creates the Service Connect Cloud Map service; CloudFormation does not return its ARN.
            raise invalid(
                "grantee",
                getattr(grantee, "name", grantee),
                f"{self.name!r} is Service Connect only and has no Cloud Map service of its own to read; "
                "expected a service with discovery 'dns' or 'both'",
            )
        service_arn = self.cloud_map_service.service_arn
        grant = iam.Grant.add_to_principal(
            grantee=principal, actions=INSTANCE_READ_ACTIONS, resource_arns=[service_arn]
        )
        iam.Grant.add_to_principal(
            grantee=principal,
            actions=DISCOVER_ACTIONS,
            resource_arns=[self.props.namespace_ref.resource.namespace_arn, service_arn],
        )
        return grant

    @names_construct
    def grant_discovery_read(self, services: Sequence[DiscoverableFargateService] | None = None) -> None:
        """Deprecated: use ``namespace.grant_discover_read(service)`` (or ``other.grant_discover_read(service)``
        for single services), which read as aws-cdk-lib's grants do: the receiver is what is read.

        Without ``services``, the same as ``namespace.grant_discover_read(self)``; with ``services``,
        ``ListServices`` plus ``other.grant_discover_read(self)`` for each.
        """
        warnings.warn(
            "grant_discovery_read() is deprecated: use namespace.grant_discover_read(service) "
            "(the receiver is what is read, as in aws-cdk-lib); it will be removed in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        if services is None:
            if isinstance(self.namespace, DiscoveryNamespaceBase):
                grant_namespace_read(self.props.namespace_ref, self)
                return
            raise invalid(
                "services", services, "expected a list of services when the namespace is an aws-cdk-lib namespace"
            )
        if isinstance(services, (str, bytes)) or not isinstance(services, Sequence):
            raise invalid("services", services, "expected a list of DiscoverableFargateService, or None")
        readable = list(services)
        if not readable:
            raise invalid("services", readable, "expected at least one service, or None for all of the namespace")
        for index, other in enumerate(readable):
            if not isinstance(other, DiscoverableFargateService):
                raise invalid(f"services[{index}]", other, "expected a DiscoverableFargateService")
            if other is self:
                raise invalid(
                    f"services[{index}]", other.name, "expected another service; a service never reads itself"
                )
            self.check_same_namespace(f"services[{index}]", other.name, other.props.namespace_ref)
        task_role = self.task_definition.task_role
        iam.Grant.add_to_principal(grantee=task_role, actions=["servicediscovery:ListServices"], resource_arns=["*"])
        for other in readable:
            other.grant_discover_read(self)
        self.add_discovery_environment(self.props.namespace_ref.namespace_id)


def check_cluster_and_namespace(
    scope: Construct,
    cluster: ecs.ICluster,
    namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace | NamespaceRef,
) -> None:
    """The cluster and namespace belong to the scope's App and, when both VPCs are known, to one VPC."""
    if not isinstance(scope, Construct):
        raise invalid("scope", scope, "expected a construct (a Stack or a construct in one)")
    check_same_app("cluster", cluster, scope)
    ref = namespace_ref(namespace)
    if ref.root is not app_root(scope):
        check_same_app("namespace", ref.given, scope)
    vpc = ref.vpc
    if vpc is not None and same_vpc(cluster_vpc(cluster), vpc) is False:
        raise invalid(
            "cluster",
            construct_path(cluster),
            f"its VPC ({construct_path(cluster_vpc(cluster))}) is not the VPC of namespace "
            f"{short(ref.name)} ({construct_path(vpc)}); tasks resolve the namespace only inside its VPC",
        )


def _resolve_endpoint(props: DiscoverableFargateServiceProps, namespace: NamespaceRef) -> ServiceConnectEndpoint | None:
    """The Service Connect endpoint the service publishes, if any (its names are checked by the caller)."""
    if not props.discovery.uses_service_connect:
        return None
    return resolve_endpoint(
        props.service_connect or ServiceConnectOptions(),
        name=props.name,
        namespace_name=namespace.name,
        container_port=props.container_port,
    )


# A Peer and a Port are immutable values: one object per value serves every service of the
# process, instead of a new one (a request to Node.js) per security group rule.
@functools.cache
def _any_ipv4() -> ec2.IPeer:
    return ec2.Peer.any_ipv4()


@functools.cache
def _tcp(port: int) -> ec2.Port:
    return ec2.Port.tcp(port)


# VPC -> whether it has private subnets (asked once per VPC: every service of a cluster asks).
_PRIVATE_SUBNETS: weakref.WeakKeyDictionary[ec2.IVpc, bool] = weakref.WeakKeyDictionary()


def _has_private_subnets(vpc: ec2.IVpc) -> bool:
    known = _PRIVATE_SUBNETS.get(vpc)
    if known is None:
        known = _PRIVATE_SUBNETS[vpc] = bool(vpc.private_subnets)
    return known


def _remember(service: DiscoverableFargateService, *, root: IConstruct, path: str, scope: Construct) -> None:
    """Keep what a new service's construct knows from its scope, so that no later check asks Node.js."""
    remember_construct(service, root=root, path=path)
    service._scope = scope  # pyright: ignore[reportPrivateUsage]


def _skip_checkov(construct: Construct, check_id: str, reason: str) -> None:
    """Record a checkov skip with its reason in the Metadata of ``construct``'s CloudFormation resource."""
    resource = construct.node.default_child
    assert isinstance(resource, CfnResource)
    resource.add_metadata("checkov", {"skip": [{"id": check_id, "comment": reason}]})
