"""SD6: a Service Connect name of an ECS service is already a DNS Cloud Map service of the same namespace."""

from __future__ import annotations

from typing import Any

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, ECS_SERVICE, dns_records, registries
from ecs_service_discovery.nag.template import (
    DeployTimeValue,
    TemplateResource,
    each,
    flag,
    mapping,
    objects,
    referenced_logical_id,
    text,
)

CLUSTER = "AWS::ECS::Cluster"
_NAMESPACE_TYPES = (
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ServiceDiscovery::PublicDnsNamespace",
    "AWS::ServiceDiscovery::HttpNamespace",
)


def _namespace_key(resource: TemplateResource, value: Any) -> tuple[str, str | None] | None:
    """(how the namespace is known, its DNS name when known) for a reference, an ARN, an ID or a name;
    None when absent. Raises DeployTimeValue for a namespace known only at deploy time."""
    logical_id = referenced_logical_id(value)
    if logical_id is not None:
        for namespace_type in _NAMESPACE_TYPES:
            namespace = resource.resource(logical_id, namespace_type)
            if namespace is not None:
                name = namespace.prop("Name")
                return f"resource:{logical_id}", name if isinstance(name, str) else None
    value = text(value)
    if not value:
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
    services = objects(config.get("Services"))
    if not flag(config.get("Enabled"), False) or not services:
        return NagRuleCompliance.NOT_APPLICABLE
    namespace_value = config.get("Namespace")
    if namespace_value is None:
        cluster = resource.referenced(resource.prop("Cluster"), CLUSTER)
        namespace_value = None if cluster is None else cluster.prop("ServiceConnectDefaults", "Namespace")
    namespace = _namespace_key(resource, namespace_value)
    if namespace is None:
        return NagRuleCompliance.NOT_APPLICABLE
    key, namespace_name = namespace
    # A discovery name is a Cloud Map service name: it may equal no DNS service, its own included.
    discovery_names = {
        _dns(text(service.get("DiscoveryName")) or text(service.get("PortName"))) for service in services
    }
    aliases = {
        _dns(text(alias.get("DnsName"))) for service in services for alias in objects(service.get("ClientAliases"))
    }
    # The DNS services this ECS service registers its own tasks in: a client alias equal to one of
    # their names is the same tasks under one URL (a migration through both), not a collision.
    # None while a condition decides them.
    try:
        own: set[str] | None = set()
        for registry in registries(resource):
            cloud_map_service = registry.cloud_map_service
            if cloud_map_service is not None:
                own.add(cloud_map_service.logical_id)
    except DeployTimeValue:
        own = None

    def collision(cloud_map_service: TemplateResource) -> NagRuleCompliance:
        if not dns_records(cloud_map_service):
            return NagRuleCompliance.NOT_APPLICABLE
        namespace_id = cloud_map_service.prop("NamespaceId") or cloud_map_service.prop("DnsConfig", "NamespaceId")
        same_namespace = _namespace_key(cloud_map_service, namespace_id)
        if same_namespace is None or same_namespace[0] != key:
            return NagRuleCompliance.NOT_APPLICABLE
        name = _dns(text(cloud_map_service.prop("Name")))
        if name is None:
            return NagRuleCompliance.NOT_APPLICABLE
        if name in discovery_names:
            return NagRuleCompliance.NON_COMPLIANT
        if namespace_name is None and any(alias and alias.startswith(f"{name}.") for alias in aliases):
            # Whether "<name>.<namespace>" is the alias depends on a namespace name known at deploy time.
            raise DeployTimeValue(cloud_map_service.prop("Name"))
        names = {name} if namespace_name is None else {name, _dns(f"{name}.{namespace_name}")}
        if not names & aliases:
            return NagRuleCompliance.COMPLIANT
        if own is None:
            raise DeployTimeValue(resource.prop("ServiceRegistries"))
        return NagRuleCompliance.COMPLIANT if cloud_map_service.logical_id in own else NagRuleCompliance.NON_COMPLIANT

    verdict = each(resource.of_type(CLOUD_MAP_SERVICE), collision)
    # Read, and no DNS service of the namespace has one of its names.
    return NagRuleCompliance.COMPLIANT if verdict == NagRuleCompliance.NOT_APPLICABLE else verdict


def _dns(name: str | None) -> str | None:
    """A DNS name as names compare: without regard to case or a trailing dot."""
    return None if name is None else name.lower().rstrip(".")


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
    check=lambda resource, _: service_connect_name_collision(resource),
    reads=(CLOUD_MAP_SERVICE, CLUSTER, *_NAMESPACE_TYPES),
)
