"""AWS CDK constructs for ECS Fargate services that find each other by DNS through AWS Cloud Map."""

from ecs_service_discovery.constructs import DiscoverableFargateService, DiscoveryNamespace, DnsRecords, ServiceScaling
from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.stacks import ServiceDiscoveryStack

__all__ = [
    "DiscoverableFargateService",
    "DiscoveryNamespace",
    "DnsRecords",
    "ServiceDiscoveryStack",
    "ServiceScaling",
    "ValidationError",
]
