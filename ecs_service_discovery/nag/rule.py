"""What every rule of the pack declares: its stable ID, what it reports, why, and where that is written."""

from __future__ import annotations

from dataclasses import dataclass

from cdk_nag import NagMessageLevel

#: The prefix of every rule ID: ``ServiceDiscovery-SD1`` ... (cdk-nag joins pack name and rule suffix with "-").
PACK_NAME = "ServiceDiscovery"


@dataclass(frozen=True)
class ServiceDiscoveryRule:
    """A rule's description; its check is the function beside it in the same module.

    :param suffix: the stable part of the ID after the pack name (``SD1``); never reused for another rule.
    :param info: one line saying what was found, shown for every finding.
    :param explanation: why it matters, with the figures from the reference (cdk-nag shows it with ``verbose=True``).
    :param reference: the AWS documentation the figures come from.
    :param level: ``ERROR`` when the template fails to deploy or breaks a hard quota, else ``WARN``.
    :param resource_types: the CloudFormation types the check is applied to; others are not applicable.
    :param reads: the other types whose properties the check reads (resources it refers to).
    """

    suffix: str
    info: str
    explanation: str
    reference: str
    level: NagMessageLevel
    resource_types: tuple[str, ...]
    reads: tuple[str, ...] = ()

    @property
    def rule_id(self) -> str:
        """The ID in reports and in ``Validations.of(x).acknowledge(Acknowledgment(id=...))``."""
        return f"{PACK_NAME}-{self.suffix}"
