"""What every rule of the pack declares: its stable ID, what it reports, why, where that is written,
and its check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cdk_nag import NagMessageLevel, NagRuleCompliance

if TYPE_CHECKING:
    from ecs_service_discovery.nag.template import TemplateResource

#: The prefix of every rule ID: ``ServiceDiscovery-SD1`` ... (cdk-nag joins pack name and rule suffix with "-").
PACK_NAME = "ServiceDiscovery"


@dataclass(frozen=True)
class Limits:
    """The pack's thresholds, as the checks read them (the pack's options, in whole seconds or tasks)."""

    max_dns_ttl_seconds: int
    max_negative_cache_ttl_seconds: int
    max_instances_per_service: int


@dataclass(frozen=True)
class ServiceDiscoveryRule:
    """A rule: its description and its check.

    :param suffix: the stable part of the ID after the pack name (``SD1``); never reused for another rule.
    :param info: one line saying what was found, shown for every finding.
    :param explanation: why it matters, with the figures from the reference (cdk-nag shows it with ``verbose=True``).
    :param reference: the AWS documentation the figures come from.
    :param level: ``ERROR`` when the template fails to deploy or breaks a hard quota, else ``WARN``.
    :param resource_types: the CloudFormation types the check is applied to; others are not applicable.
    :param check: what the rule decides for one resource under the pack's limits; a pure function of
        the template (the pack passes it through ``template.decide``).
    :param reads: the other types whose properties the check reads (resources it refers to). Default: none.
    """

    suffix: str
    info: str
    explanation: str
    reference: str
    level: NagMessageLevel
    resource_types: tuple[str, ...]
    check: Callable[[TemplateResource, Limits], NagRuleCompliance]
    reads: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        """The ID in reports and in ``Validations.of(x).acknowledge(Acknowledgment(id=...))``."""
        return f"{PACK_NAME}-{self.suffix}"
