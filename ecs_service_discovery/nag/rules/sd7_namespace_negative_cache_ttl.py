"""SD7: a private DNS namespace leaves its SOA TTL, the negative-caching time, at the default or over the ceiling."""

from __future__ import annotations

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.template import TemplateResource, present, whole_number

PRIVATE_DNS_NAMESPACE = "AWS::ServiceDiscovery::PrivateDnsNamespace"

#: The ceiling when the pack is given none.
DEFAULT_MAX_NEGATIVE_TTL_SECONDS = 60


def namespace_negative_cache_ttl(resource: TemplateResource, *, max_ttl_seconds: int) -> NagRuleCompliance:
    """Non-compliant when SOA.TTL is absent, or over ``max_ttl_seconds``."""
    # An SOA without TTL: CloudFormation passes no TTL, so the default stays.
    if not present(resource.prop("Properties", "DnsProperties", "SOA")):
        return NagRuleCompliance.NON_COMPLIANT
    ttl = resource.prop("Properties", "DnsProperties", "SOA", "TTL")
    if ttl is None or whole_number(ttl) > max_ttl_seconds:
        return NagRuleCompliance.NON_COMPLIANT
    return NagRuleCompliance.COMPLIANT


RULE = ServiceDiscoveryRule(
    suffix="SD7",
    info=(
        "The private DNS namespace does not set Properties.DnsProperties.SOA.TTL, or sets it over the ceiling "
        "(default 60 seconds)."
    ),
    explanation=(
        "SOA.TTL is 'the time to live (TTL) for purposes of negative caching': how long resolvers keep an "
        "NXDOMAIN answer, such as the one a caller gets while a service has no instance yet. The CloudFormation "
        "reference makes it optional and documents no default; the namespace's Route 53 hosted zone then keeps "
        "Route 53's SOA (record TTL 900 s, minimum TTL 86400 s; negative answers are cached for the lesser, "
        "RFC 2308), and the VPC resolver was seen caching NXDOMAIN for 300 s in Cloud Map private "
        "namespaces (reported in aws/aws-app-mesh-roadmap#221). A service that starts after its callers is then "
        "unreachable by name for minutes. Set a short SOA TTL."
    ),
    reference=(
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
        "aws-properties-servicediscovery-privatednsnamespace-soa.html"
    ),
    level=NagMessageLevel.WARN,
    resource_types=(PRIVATE_DNS_NAMESPACE,),
    check=lambda resource, limits: namespace_negative_cache_ttl(
        resource, max_ttl_seconds=limits.max_negative_cache_ttl_seconds
    ),
)
