"""Reusable constructs."""

from ecs_service_discovery.constructs.fargate_service import DiscoverableFargateService
from ecs_service_discovery.constructs.images import image_from_context
from ecs_service_discovery.constructs.namespace import DiscoveryNamespace, DiscoveryNamespaceBase
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling
from ecs_service_discovery.constructs.props import DiscoverableFargateServiceProps, ServiceOptions
from ecs_service_discovery.constructs.security import CdkProviderFunctionFindings, LogEncryptionKey
from ecs_service_discovery.constructs.service_connect import Discovery, ServiceConnectOptions, ServiceConnectTls
from ecs_service_discovery.constructs.sharing import NamespaceShare, SharedNamespace, SharePermission
from ecs_service_discovery.constructs.topology import DEFAULT_SERVICES_PER_STACK, ServiceTopology
from ecs_service_discovery.constructs.topology_spec import (
    ScalingSpec,
    ServiceSpec,
    TopologySpec,
    load_topology,
    parse_topology,
)

__all__ = [
    "DEFAULT_SERVICES_PER_STACK",
    "CdkProviderFunctionFindings",
    "DiscoverableFargateService",
    "DiscoverableFargateServiceProps",
    "Discovery",
    "DiscoveryNamespace",
    "DiscoveryNamespaceBase",
    "DnsRecords",
    "LogEncryptionKey",
    "NamespaceShare",
    "ScalingSpec",
    "ServiceConnectOptions",
    "ServiceConnectTls",
    "ServiceOptions",
    "ServiceScaling",
    "ServiceSpec",
    "ServiceTopology",
    "SharePermission",
    "SharedNamespace",
    "TopologySpec",
    "image_from_context",
    "load_topology",
    "parse_topology",
]
