"""SD4: an ECS service registered in Cloud Map can scale past Cloud Map's instances-per-service quota."""

from __future__ import annotations

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, ECS_SERVICE, registries
from ecs_service_discovery.nag.template import TemplateResource, referenced_logical_ids, text, whole_number

SCALABLE_TARGET = "AWS::ApplicationAutoScaling::ScalableTarget"

#: Cloud Map quota "Instances per service": 1,000 in each Region, not adjustable.
CLOUD_MAP_INSTANCES_PER_SERVICE = 1000


def instances_per_service_quota(resource: TemplateResource, *, max_instances: int) -> NagRuleCompliance:
    """Non-compliant when a registered service's DesiredCount, or its scalable target's MaxCapacity, is over."""
    if resource.resource_type == ECS_SERVICE:
        if not registries(resource):
            return NagRuleCompliance.NOT_APPLICABLE
        # CloudFormation: "if a desired count is not specified, a default value of 1 is used" (new services).
        desired = resource.prop("DesiredCount")
        count = 1 if desired is None else whole_number(desired)
        return NagRuleCompliance.NON_COMPLIANT if count > max_instances else NagRuleCompliance.COMPLIANT
    if text(resource.prop("ServiceNamespace")) != "ecs":
        return NagRuleCompliance.NOT_APPLICABLE
    # ResourceId is service/<cluster>/<service name>: Fn::Join over a Ref to the cluster and a
    # Fn::GetAtt of the service's Name when both are in the template.
    scaled = [
        service
        for logical_id in referenced_logical_ids(resource.prop("ResourceId"))
        if (service := resource.resource(logical_id, ECS_SERVICE)) is not None
    ]
    if not scaled or not any(registries(service) for service in scaled):
        return NagRuleCompliance.NOT_APPLICABLE
    capacity = whole_number(resource.prop("MaxCapacity"))
    return NagRuleCompliance.NON_COMPLIANT if capacity > max_instances else NagRuleCompliance.COMPLIANT


RULE = ServiceDiscoveryRule(
    suffix="SD4",
    info="The ECS service is registered in Cloud Map and can run more tasks than a Cloud Map service can hold.",
    explanation=(
        "Each running task is one Cloud Map instance. The AWS Cloud Map quota 'Instances per service' is "
        "1,000 in each Region and is not adjustable ('Instances per namespace' is 2,000, adjustable). Tasks "
        "past the quota cannot be registered: they run but DNS never returns them. The rule reads the ECS "
        "service's DesiredCount and the MaxCapacity of an Application Auto Scaling target for it."
    ),
    reference="https://docs.aws.amazon.com/cloud-map/latest/dg/cloud-map-limits.html",
    level=NagMessageLevel.ERROR,
    resource_types=(ECS_SERVICE, SCALABLE_TARGET),
    check=lambda resource, limits: instances_per_service_quota(
        resource, max_instances=limits.max_instances_per_service
    ),
    reads=(CLOUD_MAP_SERVICE,),
)
