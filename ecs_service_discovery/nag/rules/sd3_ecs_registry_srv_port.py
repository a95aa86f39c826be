"""SD3: an ECS service registers in a Cloud Map service with SRV records but gives no port."""

from __future__ import annotations

from typing import Any

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import (
    CLOUD_MAP_SERVICE,
    ECS_SERVICE,
    Registry,
    dns_records,
    registries,
)
from ecs_service_discovery.nag.template import TemplateResource, each, intrinsic, present, text, whole_number


def _port_given(value: Any) -> bool:
    """Whether a port is given; one written as a literal must be a number CloudFormation takes."""
    if not present(value):
        return False
    if intrinsic(value) is None:
        whole_number(value)
    return True


def ecs_registry_srv_port(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a registry for SRV records has neither Port nor ContainerName with ContainerPort."""

    def registry_checked(registry: Registry) -> NagRuleCompliance:
        cloud_map_service = registry.cloud_map_service
        if cloud_map_service is None:
            return NagRuleCompliance.NOT_APPLICABLE
        if "SRV" not in {text(record.get("Type")) for record in dns_records(cloud_map_service)}:
            return NagRuleCompliance.NOT_APPLICABLE
        entry = registry.entry
        if _port_given(entry.get("Port")):
            return NagRuleCompliance.COMPLIANT
        if present(entry.get("ContainerName")) and _port_given(entry.get("ContainerPort")):
            return NagRuleCompliance.COMPLIANT
        return NagRuleCompliance.NON_COMPLIANT

    return each(registries(resource), registry_checked)


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
    check=lambda resource, _: ecs_registry_srv_port(resource),
    reads=(CLOUD_MAP_SERVICE,),
)
