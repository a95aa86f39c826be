"""Compositions of the constructs: the stacks the project ships."""

from ecs_service_discovery.stacks.service_discovery_stack import DiscoveryPlatformStack, ServiceDiscoveryStack
from ecs_service_discovery.stacks.social_network_stack import SocialNetworkStack

__all__ = ["DiscoveryPlatformStack", "ServiceDiscoveryStack", "SocialNetworkStack"]
