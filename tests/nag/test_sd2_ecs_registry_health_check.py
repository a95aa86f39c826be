"""ServiceDiscovery-SD2: an ECS service registered in a Cloud Map service without HealthCheckCustomConfig."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from tests.nag import l1
from tests.nag.findings import IMAGE, Cases, case_stacks, cluster_in, validate

SD2 = "ServiceDiscovery-SD2"


def _fargate_service(stack: cdk.Stack, *, custom_health_check: bool, use_cloud_map_options: bool) -> IConstruct:
    cluster = cluster_in(stack)
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster.vpc)
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("web", image=ecs.ContainerImage.from_registry(IMAGE))
    if use_cloud_map_options:
        service = ecs.FargateService(
            stack,
            "Web",
            cluster=cluster,
            task_definition=task,
            cloud_map_options=ecs.CloudMapOptions(name="web", cloud_map_namespace=namespace),
        )
    else:
        # A Cloud Map service of the user's own, associated afterwards.
        cloud_map = namespace.create_service(
            "CloudMap",
            name="web",
            custom_health_check=(
                servicediscovery.HealthCheckCustomConfig(failure_threshold=1) if custom_health_check else None
            ),
        )
        service = ecs.FargateService(stack, "Web", cluster=cluster, task_definition=task)
        service.associate_cloud_map_service(service=cloud_map)
    return service


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = cdk.App()
    names = ["Noncompliance1", "Noncompliance2", "Compliance1", "Compliance2", "Compliance3", "Imported", "None"]
    stacks = case_stacks(app, names)
    resources: dict[str, IConstruct] = {}
    stack = stacks["Noncompliance1"]
    resources["Noncompliance1"] = l1.ecs_service(
        stack, registries=[l1.registry(l1.cloud_map_service(stack, custom_health_check=False))]
    )
    resources["Noncompliance2"] = _fargate_service(
        stacks["Noncompliance2"], custom_health_check=False, use_cloud_map_options=False
    )
    stack = stacks["Compliance1"]
    resources["Compliance1"] = l1.ecs_service(stack, registries=[l1.registry(l1.cloud_map_service(stack))])
    resources["Compliance2"] = _fargate_service(
        stacks["Compliance2"], custom_health_check=True, use_cloud_map_options=False
    )
    # aws-cdk-lib's cloud_map_options always add a custom health check.
    resources["Compliance3"] = _fargate_service(
        stacks["Compliance3"], custom_health_check=False, use_cloud_map_options=True
    )
    resources["Imported"] = l1.ecs_service(
        stacks["Imported"],
        registries=[l1.registry("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-0123456789abcdef")],
    )
    resources["None"] = l1.ecs_service(stacks["None"])
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_l1_registry_to_a_service_without_custom_health_check(cases: Cases) -> None:
    assert cases.reported(SD2, "Noncompliance1")


def test_noncompliance_2_l2_service_associated_with_a_cloud_map_service_without_one(cases: Cases) -> None:
    assert cases.reported(SD2, "Noncompliance2")


def test_compliance_l1_registry_to_a_service_with_custom_health_check(cases: Cases) -> None:
    assert cases.compliance(SD2, "Compliance1") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD2, "Compliance1")


def test_compliance_l2_associated_cloud_map_service_with_custom_health_check(cases: Cases) -> None:
    assert cases.compliance(SD2, "Compliance2") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD2, "Compliance2")


def test_compliance_fargate_service_cloud_map_options_add_a_custom_health_check(cases: Cases) -> None:
    assert cases.compliance(SD2, "Compliance3") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD2, "Compliance3")


def test_registry_arn_of_another_template_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD2, "Imported") is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.reported(SD2, "Imported")


def test_service_without_registries_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD2, "None") is NagRuleCompliance.NOT_APPLICABLE
