"""Compositions of the constructs: the stacks the project ships."""

from ecs_service_discovery.stacks.service_discovery_stack import ServiceDiscoveryStack

__all__ = ["ServiceDiscoveryStack"]
