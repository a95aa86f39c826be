"""AWS CDK constructs for ECS Fargate services that find each other by DNS through AWS Cloud Map."""

from ecs_service_discovery.constructs import (
    DiscoverableFargateService,
    DiscoverableFargateServiceProps,
    Discovery,
    DiscoveryNamespace,
    DiscoveryNamespaceBase,
    DnsRecords,
    LogEncryptionKey,
    ScalingSpec,
    ServiceConnectOptions,
    ServiceConnectTls,
    ServiceOptions,
    ServiceScaling,
    ServiceSpec,
    ServiceTopology,
    TopologySpec,
    load_topology,
)
from ecs_service_discovery.errors import ValidationError

__all__ = [
    "DiscoverableFargateService",
    "DiscoverableFargateServiceProps",
    "Discovery",
    "DiscoveryNamespace",
    "DiscoveryNamespaceBase",
    "DnsRecords",
    "LogEncryptionKey",
    "ScalingSpec",
    "ServiceConnectOptions",
    "ServiceConnectTls",
    "ServiceOptions",
    "ServiceScaling",
    "ServiceSpec",
    "ServiceTopology",
    "TopologySpec",
    "ValidationError",
    "load_topology",
]
