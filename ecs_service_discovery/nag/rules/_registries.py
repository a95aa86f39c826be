"""How an ECS service's ``ServiceRegistries`` point at Cloud Map services (shared by several rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecs_service_discovery.nag.template import TemplateResource, objects, whole_number

ECS_SERVICE = "AWS::ECS::Service"
CLOUD_MAP_SERVICE = "AWS::ServiceDiscovery::Service"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"


@dataclass(frozen=True)
class Registry:
    """One entry of an ECS service's ``ServiceRegistries``, in the template of ``ecs_service``."""

    entry: Mapping[str, Any]
    ecs_service: TemplateResource

    @property
    def cloud_map_service(self) -> TemplateResource | None:
        """The Cloud Map service of the same template that the entry names; None for a literal ARN
        (a service of another template: nothing can be said of it). Raises DeployTimeValue for an
        ARN known only at deploy time (a parameter, an import, ``Fn::If``)."""
        return self.ecs_service.referenced(self.entry.get("RegistryArn"), CLOUD_MAP_SERVICE)


def registries(ecs_service: TemplateResource) -> list[Registry]:
    """The service's registries; raises DeployTimeValue when the list is known only at deploy time."""
    return [Registry(entry, ecs_service) for entry in objects(ecs_service.prop("ServiceRegistries"))]


def dns_records(cloud_map_service: TemplateResource) -> list[Mapping[str, Any]]:
    """The service's ``DnsConfig.DnsRecords`` (none for an HTTP-namespace service)."""
    return objects(cloud_map_service.prop("DnsConfig", "DnsRecords"))


def record_ttl(record: Mapping[str, Any]) -> int:
    """A DNS record's TTL in seconds (raises DeployTimeValue or InvalidValue, see ``whole_number``)."""
    return whole_number(record.get("TTL"))
