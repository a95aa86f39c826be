"""SD5: a registered container is killed sooner after SIGTERM than callers may still resolve its task."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import (
    CLOUD_MAP_SERVICE,
    ECS_SERVICE,
    TASK_DEFINITION,
    Registry,
    dns_records,
    record_ttl,
    registries,
)
from ecs_service_discovery.nag.template import TemplateResource, each, flag, objects, text, whole_number

#: ECS's stop timeout when a container definition sets none (Fargate; also the EC2 agent's default).
DEFAULT_STOP_TIMEOUT_SECONDS = 30


def stop_timeout_covers_ttl(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a registered container's (default) stop timeout is below a TTL of its service's records."""
    task_definition = resource.referenced(resource.prop("TaskDefinition"), TASK_DEFINITION)
    if task_definition is None:
        return NagRuleCompliance.NOT_APPLICABLE
    containers = objects(task_definition.prop("ContainerDefinitions"))

    def registry_checked(registry: Registry) -> NagRuleCompliance:
        cloud_map_service = registry.cloud_map_service
        if cloud_map_service is None:
            return NagRuleCompliance.NOT_APPLICABLE
        records = dns_records(cloud_map_service)
        # The container the registry names, else every essential one (all share an awsvpc task's address).
        named = text(registry.entry.get("ContainerName"))

        def container_checked(container: Mapping[str, Any]) -> NagRuleCompliance:
            if named is not None and text(container.get("Name")) != named:
                return NagRuleCompliance.NOT_APPLICABLE
            if named is None and not flag(container.get("Essential"), True):
                return NagRuleCompliance.NOT_APPLICABLE
            stop_timeout = container.get("StopTimeout")
            seconds = DEFAULT_STOP_TIMEOUT_SECONDS if stop_timeout is None else whole_number(stop_timeout)
            return each(
                records,
                lambda record: (
                    NagRuleCompliance.NON_COMPLIANT if seconds < record_ttl(record) else NagRuleCompliance.COMPLIANT
                ),
            )

        return each(containers, container_checked)

    return each(registries(resource), registry_checked)


RULE = ServiceDiscoveryRule(
    suffix="SD5",
    info="A container registered in Cloud Map has a stop timeout shorter than the DNS TTL of its records.",
    explanation=(
        "When ECS stops a task it deregisters it from Cloud Map and sends SIGTERM; the container is killed "
        "stopTimeout seconds later (on Fargate 30 s when not set, at most 120 s). Callers that resolved the "
        "name before the deregistration keep the address for up to the record's TTL: if the task is gone "
        "sooner, their in-flight and new requests fail on every deployment and scale-in. Keep stopTimeout at "
        "least the TTL (and let the app drain on SIGTERM), or lower the TTL."
    ),
    reference="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDefinition.html",
    level=NagMessageLevel.WARN,
    resource_types=(ECS_SERVICE,),
    check=lambda resource, _: stop_timeout_covers_ttl(resource),
    reads=(CLOUD_MAP_SERVICE, TASK_DEFINITION),
)
