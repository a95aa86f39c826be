"""AWS CDK constructs for ECS Fargate services that find each other by DNS through AWS Cloud Map.

The public names are loaded on first use (PEP 562), so that tools in this package that
need no CDK (the CLI, the local run) start without loading aws-cdk-lib and its Node.js
runtime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecs_service_discovery.constructs import (
        DiscoverableFargateService,
        DiscoveryNamespace,
        DnsRecords,
        ScalingSpec,
        ServiceScaling,
        ServiceSpec,
        ServiceTopology,
        TopologySpec,
        load_topology,
    )
    from ecs_service_discovery.errors import ValidationError
    from ecs_service_discovery.stacks import DiscoveryPlatformStack, ServiceDiscoveryStack, SocialNetworkStack

_EXPORTS = {
    "DiscoverableFargateService": "ecs_service_discovery.constructs",
    "DiscoveryNamespace": "ecs_service_discovery.constructs",
    "DnsRecords": "ecs_service_discovery.constructs",
    "ServiceScaling": "ecs_service_discovery.constructs",
    "ServiceSpec": "ecs_service_discovery.constructs",
    "ServiceTopology": "ecs_service_discovery.constructs",
    "ScalingSpec": "ecs_service_discovery.constructs",
    "TopologySpec": "ecs_service_discovery.constructs",
    "load_topology": "ecs_service_discovery.constructs",
    "DiscoveryPlatformStack": "ecs_service_discovery.stacks",
    "ServiceDiscoveryStack": "ecs_service_discovery.stacks",
    "SocialNetworkStack": "ecs_service_discovery.stacks",
    "ValidationError": "ecs_service_discovery.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ecs_service_discovery' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
