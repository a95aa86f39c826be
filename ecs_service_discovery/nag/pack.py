"""ServiceDiscoveryChecks: the cdk-nag 3 pack of service discovery rules (ECS, Cloud Map, Service Connect)."""

from __future__ import annotations

from typing import cast

import jsii
from aws_cdk import CfnResource, Duration, PolicyValidationPluginReport
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from ecs_service_discovery.nag.rule import PACK_NAME, Limits, ServiceDiscoveryRule
from ecs_service_discovery.nag.rules import sd1_dns_record_ttl as sd1
from ecs_service_discovery.nag.rules import sd2_ecs_registry_health_check as sd2
from ecs_service_discovery.nag.rules import sd3_ecs_registry_srv_port as sd3
from ecs_service_discovery.nag.rules import sd4_instances_per_service_quota as sd4
from ecs_service_discovery.nag.rules import sd5_stop_timeout_covers_ttl as sd5
from ecs_service_discovery.nag.rules import sd6_service_connect_name_collision as sd6
from ecs_service_discovery.nag.rules import sd7_namespace_negative_cache_ttl as sd7
from ecs_service_discovery.nag.rules import sd8_traffic_shift_without_safeguard as sd8
from ecs_service_discovery.nag.template import StackTemplates, decide
from ecs_service_discovery.validation import MAX_DNS_TTL_SECONDS, check_int_range, duration_seconds, implements, invalid

#: Every rule of the pack, in ID order: the one table of the pack (descriptions and checks).
RULES: tuple[ServiceDiscoveryRule, ...] = (
    sd1.RULE,
    sd2.RULE,
    sd3.RULE,
    sd4.RULE,
    sd5.RULE,
    sd6.RULE,
    sd7.RULE,
    sd8.RULE,
)

#: The types whose properties the rules read; before synthesis only these are rendered.
_READ_TYPES = frozenset(t for rule in RULES for t in (*rule.resource_types, *rule.reads))


@jsii.implements(IApplyRule)
class _AppliedRule:
    """One rule on one L1 resource, as cdk-nag's ``applyRule`` takes it (a jsii interface)."""

    def __init__(
        self,
        rule: ServiceDiscoveryRule,
        limits: Limits,
        node: CfnResource,
        resource_type: str,
        templates: StackTemplates,
    ) -> None:
        self._rule = rule
        self._limits = limits
        self._node = node
        self._resource_type = resource_type
        self._templates = templates

    @property
    def rule_suffix_override(self) -> str | None:
        return self._rule.suffix

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return f"{self._rule.explanation} See {self._rule.reference}"

    @property
    def level(self) -> NagMessageLevel:
        return self._rule.level

    @property
    def node(self) -> CfnResource:
        return self._node

    def rule(self, node: CfnResource) -> NagRuleCompliance | list[str]:
        resource = self._templates.view(node, self._resource_type)
        if resource is None:
            return NagRuleCompliance.NOT_APPLICABLE
        return decide(lambda view: self._rule.check(view, self._limits), resource)


class ServiceDiscoveryChecks(NagPack):
    """Service discovery rules for any CDK app: Cloud Map DNS TTLs, ECS registries, quotas, Service Connect names.

    Register it as cdk-nag 3 packs are registered, next to the others::

        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServiceDiscoveryChecks(app))

    Rule IDs are ``ServiceDiscovery-SD1`` .. ``ServiceDiscovery-SD8`` (see ``RULES`` and docs/nag-rules.md);
    acknowledge a finding with ``Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))``.

    :param scope: the app (needed only for ``write_suppressions_to_cloud_formation``).
    :param verbose: report each finding with its explanation and reference. Default: False.
    :param write_suppressions_to_cloud_formation: write acknowledgements into the templates' ``cdk_nag``
        metadata (cdk-nag 2's format). Default: False.
    :param max_dns_ttl: the longest DNS record TTL a Cloud Map service may have (SD1), whole seconds.
        Default: 60 seconds.
    :param max_negative_cache_ttl: the longest SOA TTL (negative caching) of a private DNS namespace (SD7),
        whole seconds. Default: 60 seconds.
    :param max_instances_per_service: the most tasks an ECS service registered in Cloud Map may run (SD4).
        Default: 1000, Cloud Map's instances-per-service quota.
    """

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        verbose: bool | None = None,
        write_suppressions_to_cloud_formation: bool | None = None,
        max_dns_ttl: Duration | None = None,
        max_negative_cache_ttl: Duration | None = None,
        max_instances_per_service: int = sd4.CLOUD_MAP_INSTANCES_PER_SERVICE,
    ) -> None:
        if scope is not None and not implements(scope, IConstruct):
            raise invalid("scope", scope, "expected the app (a construct) or None")
        for parameter, flag in (
            ("verbose", verbose),
            ("write_suppressions_to_cloud_formation", write_suppressions_to_cloud_formation),
        ):
            if flag is not None and not isinstance(flag, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise invalid(parameter, flag, "expected True, False or None")
        max_dns_ttl_seconds = _threshold_seconds("max_dns_ttl", max_dns_ttl, sd1.DEFAULT_MAX_DNS_TTL_SECONDS)
        max_negative_ttl_seconds = _threshold_seconds(
            "max_negative_cache_ttl", max_negative_cache_ttl, sd7.DEFAULT_MAX_NEGATIVE_TTL_SECONDS
        )
        check_int_range("max_instances_per_service", max_instances_per_service, 1, 1_000_000)
        super().__init__(
            scope, verbose=verbose, write_suppressions_to_cloud_formation=write_suppressions_to_cloud_formation
        )
        self._pack_name = PACK_NAME
        self._limits = Limits(
            max_dns_ttl_seconds=max_dns_ttl_seconds,
            max_negative_cache_ttl_seconds=max_negative_ttl_seconds,
            max_instances_per_service=max_instances_per_service,
        )
        self._templates = StackTemplates(_READ_TYPES)

    @property
    def name(self) -> str:
        """The plugin's name in the validation report."""
        return PACK_NAME

    def validate_scope(self, scope: IConstruct) -> PolicyValidationPluginReport:
        # Templates are read once per validation, and never kept for the next one (the tree may change).
        self._templates = StackTemplates(_READ_TYPES)
        try:
            return super().validate_scope(scope)
        finally:
            self._templates = StackTemplates(_READ_TYPES)

    def _check_resource(self, node: CfnResource) -> None:
        resource_type = node.cfn_resource_type
        for rule in RULES:
            if resource_type in rule.resource_types:
                applied = _AppliedRule(rule, self._limits, node, resource_type, self._templates)
                # cast: the jsii interface declares setters, which cdk-nag never calls.
                self._apply_rule(cast(IApplyRule, applied))

    def compliance(self, node: CfnResource, rule_id: str) -> NagRuleCompliance:
        """What rule ``rule_id`` (``ServiceDiscovery-SD1`` or ``SD1``) decides for ``node``, acknowledged or not.

        For tests and for finding out why a rule reports, or does not report, a resource.
        """
        if not isinstance(node, CfnResource):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise invalid("node", node, "expected an L1 resource (CfnResource), e.g. construct.node.default_child")
        if not isinstance(rule_id, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise invalid("rule_id", rule_id, f"expected one of {[rule.rule_id for rule in RULES]}")
        suffix = rule_id.removeprefix(f"{PACK_NAME}-")
        rules = [rule for rule in RULES if rule.suffix == suffix]
        if not rules:
            raise invalid("rule_id", rule_id, f"expected one of {[rule.rule_id for rule in RULES]}")
        if node.cfn_resource_type not in rules[0].resource_types:
            return NagRuleCompliance.NOT_APPLICABLE
        resource = StackTemplates(_READ_TYPES).view(node, node.cfn_resource_type)
        if resource is None:
            return NagRuleCompliance.NOT_APPLICABLE
        return decide(lambda view: rules[0].check(view, self._limits), resource)


def _threshold_seconds(parameter: str, value: Duration | None, default_seconds: int) -> int:
    """``value`` in whole seconds; ``None`` is the rule's documented default."""
    if value is None:
        return default_seconds
    seconds = duration_seconds(parameter, value, 0, MAX_DNS_TTL_SECONDS)
    if seconds is None:
        raise invalid(parameter, value, "expected a Duration known at synth time, not a token")
    return seconds
