"""How an ECS service's ``ServiceRegistries`` point at Cloud Map services (shared by several rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_service_discovery.nag.template import TemplateResource, number, objects

ECS_SERVICE = "AWS::ECS::Service"
CLOUD_MAP_SERVICE = "AWS::ServiceDiscovery::Service"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"


@dataclass(frozen=True)
class Registry:
    """One entry of an ECS service's ``ServiceRegistries`` and the Cloud Map service it names.

    ``cloud_map_service`` is None when the ARN is not a reference to a service of the same
    template (a literal ARN, an import, a nested stack parameter): nothing can be said of it.
    """

    entry: Mapping[str, Any]
    cloud_map_service: TemplateResource | None


def registries(ecs_service: TemplateResource) -> list[Registry]:
    return [
        Registry(entry, ecs_service.referenced(entry.get("RegistryArn"), CLOUD_MAP_SERVICE))
        for entry in objects(ecs_service.prop("ServiceRegistries"))
    ]


def dns_records(cloud_map_service: TemplateResource) -> list[Mapping[str, Any]]:
    """The service's ``DnsConfig.DnsRecords`` (none for an HTTP-namespace service)."""
    return objects(cloud_map_service.prop("DnsConfig", "DnsRecords"))


def record_ttls(cloud_map_service: TemplateResource) -> tuple[list[float], bool]:
    """The TTLs that can be read, and whether some record's TTL cannot be (a parameter, say)."""
    known: list[float] = []
    unknown = False
    for record in dns_records(cloud_map_service):
        ttl = number(record.get("TTL"))
        if ttl is None:
            unknown = True
        else:
            known.append(ttl)
    return known, unknown
