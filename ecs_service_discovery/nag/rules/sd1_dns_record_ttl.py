"""SD1: a Cloud Map service's DNS records are cached longer than the ceiling."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import CLOUD_MAP_SERVICE, dns_records, record_ttl
from ecs_service_discovery.nag.template import TemplateResource, each

#: The ceiling when the pack is given none: aws-cdk-lib's own default TTL for ECS Cloud Map options.
DEFAULT_MAX_DNS_TTL_SECONDS = 60


def dns_record_ttl(resource: TemplateResource, *, max_ttl_seconds: int) -> NagRuleCompliance:
    """Non-compliant when a record's TTL is over ``max_ttl_seconds``."""

    def record_within(record: Mapping[str, Any]) -> NagRuleCompliance:
        over = record_ttl(record) > max_ttl_seconds
        return NagRuleCompliance.NON_COMPLIANT if over else NagRuleCompliance.COMPLIANT

    return each(dns_records(resource), record_within)


RULE = ServiceDiscoveryRule(
    suffix="SD1",
    info="The Cloud Map service has a DNS record whose TTL is over the ceiling (default 60 seconds).",
    explanation=(
        "DnsRecord.TTL is 'the amount of time, in seconds, that you want DNS resolvers to cache the settings for "
        "this record'. When ECS deregisters a stopped or unhealthy task, callers that resolved the name keep "
        "its address for up to the TTL and send requests to a task that is gone. Keep it short (this project "
        "uses 10 s; aws-cdk-lib's CloudMapOptions default is 60 s) or raise the pack's max_dns_ttl if your "
        "callers retry on connection errors."
    ),
    reference="https://docs.aws.amazon.com/cloud-map/latest/api/API_DnsRecord.html",
    level=NagMessageLevel.WARN,
    resource_types=(CLOUD_MAP_SERVICE,),
    check=lambda resource, limits: dns_record_ttl(resource, max_ttl_seconds=limits.max_dns_ttl_seconds),
)
