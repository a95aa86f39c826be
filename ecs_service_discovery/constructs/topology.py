"""ServiceTopology: a whole system of discoverable services from one declarative specification."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import CfnOutput, CfnParameter, NestedStack, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_kms as kms
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct, IValidation

from ecs_service_discovery.constructs.fargate_service import DiscoverableFargateService, check_cluster_and_namespace
from ecs_service_discovery.constructs.images import image_from_context
from ecs_service_discovery.constructs.namespace import (
    DiscoveryNamespaceBase,
    NamespaceNames,
    check_namespace,
    construct_path,
    grant_namespace_read,
    namespace_ref,
)
from ecs_service_discovery.constructs.service_connect import ServiceConnectOptions, reachable_endpoint, resolve_endpoint
from ecs_service_discovery.constructs.topology_spec import ServiceSpec, TopologySpec, load_topology
from ecs_service_discovery.validation import (
    check_int_range,
    env_prefix,
    invalid,
    is_token,
    names_construct,
    peer_variables,
    require_type,
)

#: Services per CloudFormation template. A service is about 10 resources (task definition, two
#: roles, execution policy, log group, security group, ECS service, Cloud Map service, scalable
#: target, scaling policy) and each ``calls`` edge adds two security group rules, so 25 services
#: take about 250 of the 500 resources a template may hold and leave room for some 120 edges
#: (or the VPC, cluster and namespace in the parent stack).
DEFAULT_SERVICES_PER_STACK = 25

# CloudFormation's limits per template (AWS CloudFormation quotas).
_MAX_PARAMETERS = 200
_MAX_OUTPUTS = 200


class ServiceTopology(Construct):
    """Every service of a :class:`TopologySpec`, each a :class:`DiscoverableFargateService` in one
    cluster and namespace, with every ``calls`` edge wired by
    :meth:`DiscoverableFargateService.connect_to` (the callee's security group opened to the
    caller on the callee's port; ``<CALLEE>_HOST``, ``_SERVICE`` and ``_PORT`` in the caller's
    environment).

    **Templates.** Services are assigned to CloudFormation templates by their position in the
    specification: the first ``services_per_stack`` services stay in this construct's stack, the
    next ones go to the nested stack ``Group1``, then ``Group2``, and so on. A small system is
    therefore one template, and a large one never reaches CloudFormation's 500 resources or 1 MB
    per template. The assignment depends on the position only, so adding services at the end
    never moves an existing service to another template (moving one would replace it; and as
    its Cloud Map name is taken until the old one is deleted, the deploy would fail). Remove or
    reorder services only knowing that the services after them move.

    Nested stacks receive values as stack parameters and return them as stack outputs, never as
    exports, so no later change is blocked by an export in use. A call between services of two
    templates puts both security group rules into the later of the two templates (see
    ``connect_to``: the nested stack, or the later of two nested stacks), and a discovery read is
    one namespace-wide grant in the reader's own template (see
    ``DiscoveryNamespace.grant_discover_read``), whose size does not grow with the number of
    services: every template only refers to earlier ones, so calls in both directions never make
    a dependency cycle.

    :param scope: parent construct.
    :param construct_id: construct ID (public API: renaming it replaces every service).
    :param cluster: the ECS cluster all services run in.
    :param namespace: the namespace all services register in: a :class:`DiscoveryNamespace` (or
        one imported with ``DiscoveryNamespace.from_attributes``) or an aws-cdk-lib
        ``aws_servicediscovery.IPrivateDnsNamespace``.
    :param spec: a :class:`TopologySpec` (e.g. from :func:`load_topology`) or a list of
        :class:`ServiceSpec`.
    :param log_encryption_key: a KMS key for every service's log group (e.g. the stack's
        :class:`LogEncryptionKey`). Default: no customer-managed key (see
        ``DiscoverableFargateService``).
    :param services_per_stack: services per template (1-100). Changing it on a deployed
        topology moves services between templates. Default: ``DEFAULT_SERVICES_PER_STACK`` (25).

    Attributes: ``services`` (name -> :class:`DiscoverableFargateService`, in specification
    order), ``spec``, ``nested_stacks`` (``Group1``, ``Group2``, ... in order; empty for a
    small topology), ``cluster``, ``namespace``.
    """

    @names_construct
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace,
        spec: TopologySpec | Sequence[ServiceSpec],
        log_encryption_key: kms.IKey | kms.Key | None = None,
        services_per_stack: int = DEFAULT_SERVICES_PER_STACK,
    ) -> None:
        require_type("cluster", cluster, ecs.ICluster, "expected an aws_ecs.ICluster (for example aws_ecs.Cluster)")
        check_namespace("namespace", namespace)
        ref = namespace_ref(namespace)
        check_cluster_and_namespace(scope, cluster, ref)
        if isinstance(spec, (list, tuple)):
            spec = TopologySpec(services=tuple(spec))
        elif not isinstance(spec, TopologySpec):
            # A path or a string is the likeliest mistake here: say where files go.
            raise invalid("spec", spec, "expected a TopologySpec or a list of ServiceSpec (load_topology reads a file)")
        if not is_token(ref.name):
            # Names that contain the namespace (a DNS name, a default client alias), each clash named
            # with its file, both services and the field, before any construct exists.
            spec.check_namespace(ref.name)
        if log_encryption_key is not None:
            require_type("log_encryption_key", log_encryption_key, kms.IKey, "expected an aws_kms.IKey, or None")
        check_int_range("services_per_stack", services_per_stack, 1, 100, " (services per CloudFormation template)")
        names = NamespaceNames.of(ref)
        scope_path = construct_path(scope)
        for service in spec.services:
            # Before any construct exists: a taken name must leave nothing half-built.
            names.check_service_free(service.name, f"{scope_path}/{construct_id}", dns=False)

        super().__init__(scope, construct_id)
        self.spec = spec
        self.cluster = cluster
        self.namespace = namespace
        self.services: dict[str, DiscoverableFargateService] = {}
        self.nested_stacks: list[NestedStack] = []
        self._group_of: dict[str, int] = {}
        self._images: dict[tuple[str, str], ecs.ContainerImage] = {}
        self._specs = {service.name: service for service in spec.services}

        for index, service in enumerate(spec.services):
            group = index // services_per_stack
            self._group_of[service.name] = group
            self.services[service.name] = self._create_service(service, self._group_scope(group), log_encryption_key)
        for service in spec.services:
            caller = self.services[service.name]
            for callee in service.calls:
                caller.connect_to(self.services[callee])
        for service in spec.services:
            if service.discovery_read:
                grant_namespace_read(ref, self.services[service.name])
        if self.nested_stacks:
            self.node.add_validation(_NestedStackLimits(self.nested_stacks))

    @classmethod
    def from_file(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        path: str | Path,
        cluster: ecs.ICluster,
        namespace: DiscoveryNamespaceBase | servicediscovery.IPrivateDnsNamespace,
        log_encryption_key: kms.IKey | kms.Key | None = None,
        services_per_stack: int = DEFAULT_SERVICES_PER_STACK,
    ) -> ServiceTopology:
        """The topology described by a YAML or JSON file (see :func:`load_topology`)."""
        return cls(
            scope,
            construct_id,
            cluster=cluster,
            namespace=namespace,
            spec=load_topology(path),
            log_encryption_key=log_encryption_key,
            services_per_stack=services_per_stack,
        )

    def stack_of(self, name: str) -> Stack:
        """The stack (this construct's, or one of ``nested_stacks``) that holds service ``name``."""
        if name not in self._group_of:
            raise invalid("name", name, f"expected one of the topology's services {list(self.services)}")
        group = self._group_of[name]
        return Stack.of(self) if group == 0 else self.nested_stacks[group - 1]

    def _group_scope(self, group: int) -> Construct:
        if group == 0:
            return self
        while len(self.nested_stacks) < group:
            number = len(self.nested_stacks) + 1
            self.nested_stacks.append(
                NestedStack(self, f"Group{number}", description=f"Services of {self.node.path}, group {number}")
            )
        return self.nested_stacks[group - 1]

    def _image(self, service: ServiceSpec) -> ecs.ContainerImage:
        # One ContainerImage per folder or reference: services of one image share it.
        dockerfile = service.dockerfile or "Dockerfile"
        key = (str(service.source), dockerfile) if service.source is not None else (str(service.image), "")
        if key not in self._images:
            self._images[key] = (
                image_from_context(service.source, dockerfile=dockerfile)
                if service.source is not None
                else ecs.ContainerImage.from_registry(str(service.image))
            )
        return self._images[key]

    def _create_service(
        self, service: ServiceSpec, scope: Construct, log_encryption_key: kms.IKey | kms.Key | None
    ) -> DiscoverableFargateService:
        return _TopologyService(
            scope,
            service.name,
            callee_variables=self._callee_variables(service),
            cluster=self.cluster,
            namespace=self.namespace,
            image=self._image(service),
            log_encryption_key=log_encryption_key,
            **service.options(),
        )

    def _callee_variables(self, caller: ServiceSpec) -> dict[str, str]:
        """The variables ``connect_to`` will give ``caller`` for each of its calls, from the
        specification alone (the callees may not exist yet); a call that cannot be made is left
        out, for ``connect_to`` to report."""
        namespace_name = namespace_ref(self.namespace).name
        variables: dict[str, str] = {}
        for name in caller.calls:
            callee = self._specs[name]
            endpoint = (
                resolve_endpoint(
                    callee.service_connect or ServiceConnectOptions(),
                    name=callee.name,
                    namespace_name=namespace_name,
                    container_port=callee.container_port,
                )
                if callee.discovery.uses_service_connect
                else None
            )
            found = reachable_endpoint(
                caller_uses_service_connect=caller.discovery.uses_service_connect,
                callee_discovery=callee.discovery,
                callee_dns_name=f"{callee.name}.{namespace_name}",
                callee_port=callee.container_port,
                callee_endpoint=endpoint,
            )
            if found is not None:
                host, service, port = peer_variables(env_prefix(callee.name))
                variables.update({host: found[0], service: callee.name, port: str(found[1])})
        return variables


class _TopologyService(DiscoverableFargateService):
    """A service of a topology: created with its callees' variables, which its topology knows."""

    def __init__(
        self, scope: Construct, construct_id: str, *, callee_variables: dict[str, str], **options: Any
    ) -> None:
        self._preset_variables = callee_variables
        super().__init__(scope, construct_id, **options)


@jsii.implements(IValidation)
class _NestedStackLimits:
    """Fails synth when a nested stack has more parameters or outputs than CloudFormation accepts.

    aws-cdk-lib already refuses templates over 500 resources; references between templates
    become parameters and outputs, which it does not count. They exist by validation time.
    """

    def __init__(self, nested_stacks: list[NestedStack]) -> None:
        self._nested_stacks = nested_stacks

    def validate(self) -> list[str]:
        errors: list[str] = []
        for nested in self._nested_stacks:
            children = nested.node.children
            parameters = sum(isinstance(child, CfnParameter) for child in children)
            outputs = sum(isinstance(child, CfnOutput) for child in children)
            for what, count, limit in (("parameters", parameters, _MAX_PARAMETERS), ("outputs", outputs, _MAX_OUTPUTS)):
                if count > limit:
                    errors.append(
                        f"nested stack {nested.node.path} has {count} {what}, CloudFormation allows {limit}: its "
                        "services refer to too many services of other templates (calls); lower "
                        "services_per_stack"
                    )
        return errors
