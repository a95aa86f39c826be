"""SD2: an ECS service registers its tasks in a Cloud Map service that has no custom health check."""

from __future__ import annotations

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, ECS_SERVICE, registries
from ecs_service_discovery.nag.template import TemplateResource

RULE = ServiceDiscoveryRule(
    suffix="SD2",
    info="The ECS service registers its tasks in a Cloud Map service without HealthCheckCustomConfig.",
    explanation=(
        "ECS sends the health of the tasks it registers to Cloud Map through a custom health check "
        "(HealthCheckCustomConfig), so that DNS answers leave out tasks that are unhealthy. Without one, Cloud "
        "Map keeps no health status for those instances and answers with every registered task, healthy or "
        "not. Route 53 health checks (HealthCheckConfig) only work for public DNS namespaces and public "
        "addresses, which private Fargate tasks do not have."
    ),
    reference="https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-discovery.html",
    level=NagMessageLevel.WARN,
    resource_types=(ECS_SERVICE,),
    reads=(CLOUD_MAP_SERVICE,),
)


def ecs_registry_health_check(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a registry of the service names a Cloud Map service of the template without one."""
    visible = [registry.cloud_map_service for registry in registries(resource) if registry.cloud_map_service]
    if not visible:
        return NagRuleCompliance.NOT_APPLICABLE
    if any(service.prop("HealthCheckCustomConfig") is None for service in visible):
        return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT
