"""The seed app's stacks (app.py): compositions of the library's constructs, kept beside the library
and not shipped in its wheel, since they build images from this repository's services/ folder."""

from stacks.service_discovery_stack import DiscoveryPlatformStack, ServiceDiscoveryStack
from stacks.social_network_stack import SocialNetworkStack

__all__ = ["DiscoveryPlatformStack", "ServiceDiscoveryStack", "SocialNetworkStack"]
