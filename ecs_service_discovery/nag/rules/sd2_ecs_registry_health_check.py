"""SD2: an ECS service registers its tasks in a Cloud Map service that has no custom health check."""

from __future__ import annotations

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, ECS_SERVICE, Registry, registries
from ecs_service_discovery.nag.template import TemplateResource, each, present


def ecs_registry_health_check(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a registry of the service names a Cloud Map service of the template without one."""

    def registry_checked(registry: Registry) -> NagRuleCompliance:
        cloud_map_service = registry.cloud_map_service
        if cloud_map_service is None:
            return NagRuleCompliance.NOT_APPLICABLE
        if present(cloud_map_service.prop("HealthCheckCustomConfig")):
            return NagRuleCompliance.COMPLIANT
        return NagRuleCompliance.NON_COMPLIANT

    return each(registries(resource), registry_checked)


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
    check=lambda resource, _: ecs_registry_health_check(resource),
    reads=(CLOUD_MAP_SERVICE,),
)
