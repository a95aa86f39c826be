"""A cdk-nag 3 rule pack for service discovery on ECS and Cloud Map, for any CDK app.

    cdk.Validations.of(app).add_plugins(ServiceDiscoveryChecks(app))

Every rule is described in docs/nag-rules.md.
"""

from ecs_service_discovery.nag.pack import RULES, ServiceDiscoveryChecks
from ecs_service_discovery.nag.rule import PACK_NAME, ServiceDiscoveryRule
from ecs_service_discovery.nag.template import StackTemplates, TemplateResource

__all__ = [
    "PACK_NAME",
    "RULES",
    "ServiceDiscoveryChecks",
    "ServiceDiscoveryRule",
    "StackTemplates",
    "TemplateResource",
]
