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
        DiscoverableFargateService as DiscoverableFargateService,
    )
    from ecs_service_discovery.constructs import (
        DiscoveryNamespace as DiscoveryNamespace,
    )
    from ecs_service_discovery.constructs import (
        DnsRecords as DnsRecords,
    )
    from ecs_service_discovery.constructs import (
        LogEncryptionKey as LogEncryptionKey,
    )
    from ecs_service_discovery.constructs import (
        ScalingSpec as ScalingSpec,
    )
    from ecs_service_discovery.constructs import (
        ServiceScaling as ServiceScaling,
    )
    from ecs_service_discovery.constructs import (
        ServiceSpec as ServiceSpec,
    )
    from ecs_service_discovery.constructs import (
        ServiceTopology as ServiceTopology,
    )
    from ecs_service_discovery.constructs import (
        TopologySpec as TopologySpec,
    )
    from ecs_service_discovery.constructs import (
        load_topology as load_topology,
    )
    from ecs_service_discovery.errors import (
        ValidationError as ValidationError,
    )

_EXPORTS = {
    "DiscoverableFargateService": "ecs_service_discovery.constructs",
    "DiscoveryNamespace": "ecs_service_discovery.constructs",
    "DnsRecords": "ecs_service_discovery.constructs",
    "LogEncryptionKey": "ecs_service_discovery.constructs",
    "ScalingSpec": "ecs_service_discovery.constructs",
    "ServiceScaling": "ecs_service_discovery.constructs",
    "ServiceSpec": "ecs_service_discovery.constructs",
    "ServiceTopology": "ecs_service_discovery.constructs",
    "TopologySpec": "ecs_service_discovery.constructs",
    "ValidationError": "ecs_service_discovery.errors",
    "load_topology": "ecs_service_discovery.constructs",
}

__all__ = [
    "DiscoverableFargateService",
    "DiscoveryNamespace",
    "DnsRecords",
    "LogEncryptionKey",
    "ScalingSpec",
    "ServiceScaling",
    "ServiceSpec",
    "ServiceTopology",
    "TopologySpec",
    "ValidationError",
    "load_topology",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ecs_service_discovery' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
