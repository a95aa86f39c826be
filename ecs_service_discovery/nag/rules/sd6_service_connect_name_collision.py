"""SD6: a Service Connect name of an ECS service is already a DNS Cloud Map service of the same namespace."""

from __future__ import annotations

from typing import Any

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, ECS_SERVICE, dns_records
from ecs_service_discovery.nag.template import TemplateResource, mapping, objects, referenced_logical_id

CLUSTER = "AWS::ECS::Cluster"
_NAMESPACE_TYPES = (
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ServiceDiscovery::PublicDnsNamespace",
    "AWS::ServiceDiscovery::HttpNamespace",
)

RULE = ServiceDiscoveryRule(
    suffix="SD6",
    info="A Service Connect discovery name or client alias of the ECS service is taken by a DNS Cloud Map service.",
    explanation=(
        "Service Connect creates a Cloud Map service named after each discoveryName (by default the port "
        "name), which 'must be unique within the Cloud Map namespace', and its client aliases "
        "(dnsName, by default discoveryName.namespace) are what client tasks connect to. A DNS Cloud Map "
        "service of the same name in the namespace makes the deployment fail, or gives tasks with Service "
        "Connect and tasks without it two different answers for one name."
    ),
    reference="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceConnectService.html",
    level=NagMessageLevel.WARN,
    resource_types=(ECS_SERVICE,),
    reads=(CLOUD_MAP_SERVICE, CLUSTER, *_NAMESPACE_TYPES),
)


def _namespace_key(resource: TemplateResource, value: Any) -> tuple[str, str | None] | None:
    """(how the namespace is known, its DNS name when known) for a reference, an ARN, an ID or a name."""
    logical_id = referenced_logical_id(value)
    if logical_id is not None:
        for namespace_type in _NAMESPACE_TYPES:
            namespace = resource.resource(logical_id, namespace_type)
            if namespace is not None:
                name = namespace.prop("Name")
                return f"resource:{logical_id}", name if isinstance(name, str) else None
        return None
    if not isinstance(value, str) or not value:
        return None
    if value.startswith("ns-"):
        return f"id:{value}", None
    if value.startswith("arn:") and "namespace/" in value:
        return f"id:{value.rsplit('/', 1)[-1]}", None
    # A namespace name: the namespace resource of that name in the template, else the name itself.
    for namespace_type in _NAMESPACE_TYPES:
        for namespace in resource.of_type(namespace_type):
            if namespace.prop("Name") == value:
                return f"resource:{namespace.logical_id}", value
    return f"name:{value}", value


def service_connect_name_collision(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a discovery name or client alias equals a DNS service (or its FQDN) of the namespace."""
    config = mapping(resource.prop("ServiceConnectConfiguration"))
    if config.get("Enabled") not in (True, "true") or not objects(config.get("Services")):
        return NagRuleCompliance.NOT_APPLICABLE
    namespace_value = config.get("Namespace")
    if namespace_value is None:
        cluster = resource.referenced(resource.prop("Cluster"), CLUSTER)
        namespace_value = None if cluster is None else cluster.prop("ServiceConnectDefaults", "Namespace")
    namespace = _namespace_key(resource, namespace_value)
    if namespace is None:
        return NagRuleCompliance.NOT_APPLICABLE
    key, namespace_name = namespace
    # The DNS services this ECS service registers its own tasks in: a client alias equal to one of
    # their names is the same tasks under one URL (a migration through both), not a collision.
    own = {
        referenced_logical_id(registry.get("RegistryArn")) for registry in objects(resource.prop("ServiceRegistries"))
    }
    taken: set[str] = set()
    taken_by_others: set[str] = set()
    for cloud_map_service in resource.of_type(CLOUD_MAP_SERVICE):
        name = cloud_map_service.prop("Name")
        if not isinstance(name, str) or not dns_records(cloud_map_service):
            continue
        namespace_id = cloud_map_service.prop("NamespaceId") or cloud_map_service.prop("DnsConfig", "NamespaceId")
        same_namespace = _namespace_key(cloud_map_service, namespace_id)
        if same_namespace is not None and same_namespace[0] == key:
            # DNS names compare without regard to case.
            names_of_service = {name.lower()}
            if namespace_name is not None:
                names_of_service.add(f"{name}.{namespace_name}".lower())
            taken |= names_of_service
            if cloud_map_service.logical_id not in own:
                taken_by_others |= names_of_service
    for service in objects(config.get("Services")):
        # A discovery name is a Cloud Map service name: it may equal no DNS service, its own included.
        if _is_in(service.get("DiscoveryName") or service.get("PortName"), taken):
            return NagRuleCompliance.NON_COMPLIANT
        if any(_is_in(alias.get("DnsName"), taken_by_others) for alias in objects(service.get("ClientAliases"))):
            return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT


def _is_in(name: Any, names: set[str]) -> bool:
    return isinstance(name, str) and name.lower().rstrip(".") in names
