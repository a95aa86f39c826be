"""Reusable constructs."""

from ecs_service_discovery.constructs.fargate_service import DiscoverableFargateService
from ecs_service_discovery.constructs.namespace import DiscoveryNamespace
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling

__all__ = ["DiscoverableFargateService", "DiscoveryNamespace", "DnsRecords", "ServiceScaling"]
