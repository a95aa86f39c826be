"""ServiceDiscovery-SD4: a service registered in Cloud Map that may run more than 1,000 tasks."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from ecs_service_discovery.nag import ServiceDiscoveryChecks
from tests.nag import l1
from tests.nag.findings import IMAGE, Cases, case_stacks, cluster_in, validate

SD4 = "ServiceDiscovery-SD4"


def _scalable_target(stack: cdk.Stack, *, max_capacity: int, in_cloud_map: bool) -> IConstruct:
    """A plain FargateService (with cloud_map_options or not) and auto_scale_task_count: its scalable target."""
    cluster = cluster_in(stack)
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("web", image=ecs.ContainerImage.from_registry(IMAGE))
    cloud_map = None
    if in_cloud_map:
        namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster.vpc)
        cloud_map = ecs.CloudMapOptions(name="web", cloud_map_namespace=namespace)
    service = ecs.FargateService(stack, "Web", cluster=cluster, task_definition=task, cloud_map_options=cloud_map)
    return service.auto_scale_task_count(max_capacity=max_capacity).node.find_child("Target")


def _l1_scalable_target(stack: cdk.Stack, service: ecs.CfnService, max_capacity: float) -> IConstruct:
    return appscaling.CfnScalableTarget(
        stack,
        "Target",
        service_namespace="ecs",
        scalable_dimension="ecs:service:DesiredCount",
        resource_id=cdk.Fn.join("", ["service/", "default", "/", service.attr_name]),
        min_capacity=1,
        max_capacity=max_capacity,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = cdk.App()
    names = [
        "Noncompliance1",
        "Noncompliance2",
        "Noncompliance3",
        "Compliance1",
        "Compliance2",
        "NoCloudMap",
        "TokenCapacity",
    ]
    stacks = case_stacks(app, names)
    resources: dict[str, IConstruct] = {}
    stack = stacks["Noncompliance1"]
    resources["Noncompliance1"] = l1.ecs_service(
        stack, registries=[l1.registry(l1.cloud_map_service(stack))], desired_count=1500
    )
    stack = stacks["Noncompliance2"]
    registered = l1.ecs_service(stack, registries=[l1.registry(l1.cloud_map_service(stack))], desired_count=2)
    resources["Noncompliance2"] = _l1_scalable_target(stack, registered, 2000)
    resources["Noncompliance3"] = _scalable_target(stacks["Noncompliance3"], max_capacity=1001, in_cloud_map=True)
    resources["Compliance1"] = _scalable_target(stacks["Compliance1"], max_capacity=1000, in_cloud_map=True)
    stack = stacks["Compliance2"]
    resources["Compliance2"] = l1.ecs_service(
        stack, registries=[l1.registry(l1.cloud_map_service(stack))], desired_count=2
    )
    resources["NoCloudMap"] = _scalable_target(stacks["NoCloudMap"], max_capacity=5000, in_cloud_map=False)
    stack = stacks["TokenCapacity"]
    registered = l1.ecs_service(stack, registries=[l1.registry(l1.cloud_map_service(stack))], desired_count=2)
    resources["TokenCapacity"] = _l1_scalable_target(stack, registered, l1.number_parameter(stack, "Max", 5000))
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_registered_service_with_desired_count_of_1500(cases: Cases) -> None:
    assert cases.reported(SD4, "Noncompliance1")


def test_noncompliance_2_l1_scalable_target_of_a_registered_service_up_to_2000(cases: Cases) -> None:
    assert cases.reported(SD4, "Noncompliance2")


def test_noncompliance_3_auto_scale_task_count_of_cloud_map_service_to_1001(cases: Cases) -> None:
    assert cases.reported(SD4, "Noncompliance3")


def test_compliance_auto_scale_task_count_to_the_quota(cases: Cases) -> None:
    assert cases.compliance(SD4, "Compliance1") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD4, "Compliance1")


def test_compliance_registered_service_with_two_tasks(cases: Cases) -> None:
    assert cases.compliance(SD4, "Compliance2") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD4, "Compliance2")


def test_service_not_in_cloud_map_may_scale_past_the_quota(cases: Cases) -> None:
    assert cases.compliance(SD4, "NoCloudMap") is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.reported(SD4, "NoCloudMap")


def test_max_capacity_from_a_parameter_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD4, "TokenCapacity") is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.reported(SD4, "TokenCapacity")


def test_configured_limit_of_500_reports_a_target_of_1000(cases: Cases) -> None:
    findings = validate(cases.app, ServiceDiscoveryChecks(max_instances_per_service=500), synth=False)
    assert findings.reported(SD4, cases.resources["Compliance1"])
