"""Reusable constructs."""

from ecs_service_discovery.constructs.fargate_service import DiscoverableFargateService
from ecs_service_discovery.constructs.namespace import DiscoveryNamespace
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling
from ecs_service_discovery.constructs.security import CdkProviderFunctionFindings, LogEncryptionKey

__all__ = [
    "CdkProviderFunctionFindings",
    "DiscoverableFargateService",
    "DiscoveryNamespace",
    "DnsRecords",
    "LogEncryptionKey",
    "ServiceScaling",
]
