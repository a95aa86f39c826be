"""SD8: a blue/green, linear or canary ECS deployment with neither rollback alarms nor a bake time."""

from __future__ import annotations

from typing import Any, cast

from cdk_nag import NagMessageLevel, NagRuleCompliance

from ecs_service_discovery.nag.rule import ServiceDiscoveryRule
from ecs_service_discovery.nag.rules._registries import ECS_SERVICE
from ecs_service_discovery.nag.template import (
    DeployTimeValue,
    TemplateResource,
    flag,
    known,
    mapping,
    text,
    whole_number,
)

#: The strategies that run two revisions and shift traffic between them (DeploymentConfiguration.Strategy).
TRAFFIC_SHIFTING_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")


def traffic_shift_without_safeguard(resource: TemplateResource) -> NagRuleCompliance:
    """Non-compliant when a traffic-shifting strategy has no enabled alarm and no bake time over 0.

    Compliant as soon as one safeguard is known to be there, even beside a value known only at
    deploy time; not applicable when neither is known to be there and one is such a value.
    """
    controller = text(resource.prop("DeploymentController", "Type"))
    if controller not in (None, "ECS"):
        return NagRuleCompliance.NOT_APPLICABLE  # CODE_DEPLOY or EXTERNAL decide the deployment themselves
    if text(resource.prop("DeploymentConfiguration", "Strategy")) not in TRAFFIC_SHIFTING_STRATEGIES:
        return NagRuleCompliance.NOT_APPLICABLE
    unknown: DeployTimeValue | None = None
    for safeguard in (_has_alarms, _has_bake_time):
        try:
            if safeguard(resource):
                return NagRuleCompliance.COMPLIANT
        except DeployTimeValue as error:
            unknown = error
    if unknown is not None:
        raise unknown
    return NagRuleCompliance.NON_COMPLIANT


def _has_alarms(resource: TemplateResource) -> bool:
    alarms = mapping(resource.prop("DeploymentConfiguration", "Alarms"))
    if not flag(alarms.get("Enable"), False):
        return False
    names: Any = known(alarms.get("AlarmNames"))
    # One alarm name is enough, whatever its value (a Ref to an alarm is the usual form).
    return isinstance(names, list) and len(cast("list[Any]", names)) > 0


def _has_bake_time(resource: TemplateResource) -> bool:
    minutes = resource.prop("DeploymentConfiguration", "BakeTimeInMinutes")
    return minutes is not None and whole_number(minutes) > 0


RULE = ServiceDiscoveryRule(
    suffix="SD8",
    info=(
        "The ECS service deploys blue/green, linear or canary with neither rollback alarms "
        "(DeploymentConfiguration.Alarms) nor a bake time (DeploymentConfiguration.BakeTimeInMinutes > 0)."
    ),
    explanation=(
        "A blue/green, linear or canary deployment keeps the old (blue) revision running so that ECS can "
        "shift traffic back to it, but only while something can tell it to: CloudWatch alarms with rollback, "
        "watched during the shift and the bake time, or a bake time during which an operator or a lifecycle "
        "hook can stop the deployment. With no alarm and no bake time, blue is stopped as soon as all traffic "
        "is on green, and a bad revision is found by its users. Enable DeploymentConfiguration.Alarms with "
        "rollback (for example on the service's Service Connect HTTPCode_Target_5XX_Count), set "
        "BakeTimeInMinutes, or both."
    ),
    reference="https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentConfiguration.html",
    level=NagMessageLevel.WARN,
    resource_types=(ECS_SERVICE,),
    check=lambda resource, _: traffic_shift_without_safeguard(resource),
)
