"""SD3: an ECS service registers in a Cloud Map service with SRV records but gives no port."""

from __future__ import annotations

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, ECS_SERVICE, dns_records, registries
from ecs_service_discovery.nag.template import TemplateResource

RULE = ServiceDiscoveryRule(
    suffix="SD3",
    info="The ECS service registers in a Cloud Map service with SRV records but its registry has no port.",
    explanation=(
        "An SRV record carries a port. The ECS API reference (ServiceRegistry): 'If the task definition that "
        "your service task specifies uses the awsvpc network mode and a type SRV DNS record is used, you must "
        "specify either a containerName and containerPort combination or a port value' (bridge and host mode "
        "always need containerName and containerPort). Without them ECS refuses the service and the "
        "deployment fails."
    ),
    reference="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ServiceRegistry.html",
    level=NagMessageLevel.ERROR,
    resource_types=(ECS_SERVICE,),
    reads=(CLOUD_MAP_SERVICE,),
)


def ecs_registry_srv_port(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a registry for SRV records has neither Port nor ContainerName with ContainerPort."""
    applicable = False
    for registry in registries(resource):
        if registry.cloud_map_service is None:
            continue
        types = {record.get("Type") for record in dns_records(registry.cloud_map_service)}
        if "SRV" not in types:
            continue
        applicable = True
        entry = registry.entry
        has_port = entry.get("Port") is not None
        has_container_port = entry.get("ContainerName") is not None and entry.get("ContainerPort") is not None
        if not (has_port or has_container_port):
            return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT if applicable else NagRuleCompliance.NOT_APPLICABLE
