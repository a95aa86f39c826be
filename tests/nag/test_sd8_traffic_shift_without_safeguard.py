"""ServiceDiscovery-SD8: a blue/green, linear or canary ECS deployment with neither rollback alarms nor a
bake time. Cases from a template written as CloudFormation users write it (YAML with Parameters and
Conditions, read through CfnInclude), from aws-cdk-lib's FargateService, and from this library's
DiscoverableFargateService."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk import cloudformation_include as cfn_inc
from aws_cdk.assertions import Template
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from tests.nag.findings import IMAGE, Findings, cluster_in, validate

SD8 = "ServiceDiscovery-SD8"
TEMPLATE = Path(__file__).with_name("templates") / "forms" / "sd8-deployments.yaml"
COMPLIANT = NagRuleCompliance.COMPLIANT
NON_COMPLIANT = NagRuleCompliance.NON_COMPLIANT
NOT_APPLICABLE = NagRuleCompliance.NOT_APPLICABLE


@dataclass(frozen=True)
class Sd8Cases:
    included: cfn_inc.CfnInclude
    l2: dict[str, IConstruct]
    findings: Findings

    def decided(self, logical_id: str) -> NagRuleCompliance:
        resource = self.included.get_resource(logical_id)
        decision = self.findings.compliance(SD8, resource)
        # What the plugin reports agrees with what the rule decides.
        assert self.findings.reported(SD8, resource) is (decision is NON_COMPLIANT)
        return decision


def _fargate_service(stack: cdk.Stack, **deployment: object) -> ecs.FargateService:
    task_definition = ecs.FargateTaskDefinition(stack, "TaskDefinition")
    task_definition.add_container("app", image=ecs.ContainerImage.from_registry(IMAGE))
    return ecs.FargateService(
        stack,
        "Service",
        cluster=cluster_in(stack),
        task_definition=task_definition,
        circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        min_healthy_percent=100,
        **deployment,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def cases() -> Sd8Cases:
    app = cdk.App()
    included = cfn_inc.CfnInclude(cdk.Stack(app, "Forms"), "Template", template_file=str(TEMPLATE))
    l2: dict[str, IConstruct] = {
        "BlueGreen": _fargate_service(
            cdk.Stack(app, "BlueGreen"), deployment_strategy=ecs.DeploymentStrategy.BLUE_GREEN
        ),
        "CanaryWithBakeTime": _fargate_service(
            cdk.Stack(app, "CanaryWithBakeTime"),
            deployment_strategy=ecs.DeploymentStrategy.CANARY,
            bake_time=cdk.Duration.minutes(10),
        ),
        "Rolling": _fargate_service(cdk.Stack(app, "Rolling")),
    }
    alarmed = _fargate_service(cdk.Stack(app, "LinearWithAlarm"), deployment_strategy=ecs.DeploymentStrategy.LINEAR)
    alarmed.enable_deployment_alarms(["checkout-5xx"])
    l2["LinearWithAlarm"] = alarmed
    return Sd8Cases(included, l2, validate(app))


def test_no_rule_raised(cases: Sd8Cases) -> None:
    assert cases.findings.errors == ()


@pytest.mark.parametrize(
    "logical_id",
    [
        "BlueGreenBare",
        "LinearBakeZero",
        "CanaryAlarmsDisabled",
        "CanaryAlarmNamesEmpty",
        # {"Ref": "AWS::NoValue"} is an absent property.
        "BakeNoValue",
        "AlarmsNoValue",
        # A bake time CloudFormation refuses is reported, as the pack reports every such number.
        "BakeNegativeString",
        # The ECS controller named, as when it is left out.
        "EcsController",
    ],
)
def test_noncompliance_a_traffic_shift_with_no_alarm_and_no_bake_time(cases: Sd8Cases, logical_id: str) -> None:
    assert cases.decided(logical_id) is NON_COMPLIANT


@pytest.mark.parametrize(
    "logical_id",
    [
        # Text and Fn::Join of literals are known numbers.
        "BakeString",
        "BakeJoin",
        # An alarm name that is a Ref to the template's alarm; "true" as text.
        "AlarmRef",
        "AlarmEnableString",
        # One safeguard known to be there is enough, whatever the other's deploy-time value.
        "AlarmsIfBesideBake",
        "BakeIfBesideAlarms",
    ],
)
def test_compliance_alarms_or_a_bake_time(cases: Sd8Cases, logical_id: str) -> None:
    assert cases.decided(logical_id) is COMPLIANT


@pytest.mark.parametrize(
    "logical_id",
    [
        "BakeParameter",
        "BakeIf",
        "StrategyParameter",
        "StrategyIf",
        "DeploymentConfigurationIf",
        "AlarmNamesParameter",
        # No bake time, and the alarms decided by a condition: known only at deploy time.
        "AlarmsIfBesideBakeZero",
    ],
)
def test_a_deploy_time_value_is_not_applicable(cases: Sd8Cases, logical_id: str) -> None:
    assert cases.decided(logical_id) is NOT_APPLICABLE


@pytest.mark.parametrize("logical_id", ["Rolling", "NoStrategy", "CodeDeployController"])
def test_rolling_and_other_deployment_controllers_are_not_applicable(cases: Sd8Cases, logical_id: str) -> None:
    assert cases.decided(logical_id) is NOT_APPLICABLE


def test_every_service_of_the_template_is_a_case_above(cases: Sd8Cases) -> None:
    # Every case of the template is listed in one of the tests above (a new case cannot go unchecked).
    listed = {
        "BlueGreenBare", "LinearBakeZero", "CanaryAlarmsDisabled", "CanaryAlarmNamesEmpty", "BakeNoValue",
        "AlarmsNoValue", "BakeNegativeString", "EcsController", "BakeString", "BakeJoin", "AlarmRef",
        "AlarmEnableString", "AlarmsIfBesideBake", "BakeIfBesideAlarms", "BakeParameter", "BakeIf",
        "StrategyParameter", "StrategyIf", "DeploymentConfigurationIf", "AlarmNamesParameter",
        "AlarmsIfBesideBakeZero", "Rolling", "NoStrategy", "CodeDeployController",
    }  # fmt: skip
    services = Template.from_stack(cdk.Stack.of(cases.included)).find_resources("AWS::ECS::Service")
    in_template = set(services)
    assert len(in_template) == 24
    assert in_template == listed


def test_noncompliance_aws_cdk_lib_blue_green_without_bake_time_or_alarms(cases: Sd8Cases) -> None:
    assert cases.findings.compliance(SD8, cases.l2["BlueGreen"]) is NON_COMPLIANT
    assert cases.findings.reported(SD8, cases.l2["BlueGreen"])


@pytest.mark.parametrize("case", ["CanaryWithBakeTime", "LinearWithAlarm"])
def test_compliance_aws_cdk_lib_with_bake_time_or_alarm(cases: Sd8Cases, case: str) -> None:
    assert cases.findings.compliance(SD8, cases.l2[case]) is COMPLIANT
    assert not cases.findings.reported(SD8, cases.l2[case])


def test_aws_cdk_lib_rolling_is_not_applicable(cases: Sd8Cases) -> None:
    assert cases.findings.compliance(SD8, cases.l2["Rolling"]) is NOT_APPLICABLE
