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
    record_ttls,
    registries,
)
from ecs_service_discovery.nag.template import TemplateResource, number, objects

#: ECS's stop timeout when a container definition sets none (Fargate; also the EC2 agent's default).
DEFAULT_STOP_TIMEOUT_SECONDS = 30

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
    reads=(CLOUD_MAP_SERVICE, TASK_DEFINITION),
)


def _registered_containers(task_definition: TemplateResource, container_name: Any) -> list[Mapping[str, Any]]:
    """The container named in the registry, else the essential containers (all share an awsvpc task's address)."""
    containers = objects(task_definition.prop("ContainerDefinitions"))
    if isinstance(container_name, str):
        return [c for c in containers if c.get("Name") == container_name]
    return [c for c in containers if c.get("Essential") not in (False, "false")]


def stop_timeout_covers_ttl(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a registered container's (default) stop timeout is below its service's longest TTL."""
    task_definition = resource.referenced(resource.prop("TaskDefinition"), TASK_DEFINITION)
    if task_definition is None:
        return NagRuleCompliance.NOT_APPLICABLE
    decided = False
    for registry in registries(resource):
        if registry.cloud_map_service is None:
            continue
        ttls, _ = record_ttls(registry.cloud_map_service)
        if not ttls:
            continue
        for container in _registered_containers(task_definition, registry.entry.get("ContainerName")):
            stop_timeout = container.get("StopTimeout")
            seconds = DEFAULT_STOP_TIMEOUT_SECONDS if stop_timeout is None else number(stop_timeout)
            if seconds is None:
                continue
            decided = True
            if seconds < max(ttls):
                return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT if decided else NagRuleCompliance.NOT_APPLICABLE
