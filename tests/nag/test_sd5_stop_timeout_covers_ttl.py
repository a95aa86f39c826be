"""ServiceDiscovery-SD5: a registered container's stop timeout shorter than its Cloud Map records' TTL."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from tests.nag import l1
from tests.nag.findings import IMAGE, Cases, case_stacks, cluster_in, validate

SD5 = "ServiceDiscovery-SD5"


def _fargate_service(stack: cdk.Stack, *, dns_ttl: cdk.Duration, stop_timeout: cdk.Duration | None) -> IConstruct:
    cluster = cluster_in(stack)
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster.vpc)
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("web", image=ecs.ContainerImage.from_registry(IMAGE), stop_timeout=stop_timeout)
    return ecs.FargateService(
        stack,
        "Web",
        cluster=cluster,
        task_definition=task,
        cloud_map_options=ecs.CloudMapOptions(name="web", cloud_map_namespace=namespace, dns_ttl=dns_ttl),
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
        "Compliance3",
        "TokenStopTimeout",
        "ImportedTask",
    ]
    stacks = case_stacks(app, names)
    resources: dict[str, IConstruct] = {}
    # ECS's 30 s default stop timeout against aws-cdk-lib's 60 s default TTL.
    resources["Noncompliance1"] = _fargate_service(
        stacks["Noncompliance1"], dns_ttl=cdk.Duration.seconds(60), stop_timeout=None
    )
    stack = stacks["Noncompliance2"]
    task = l1.task_definition(stack, containers=[{"name": "app", "stop_timeout": 5}])
    srv = l1.cloud_map_service(stack, records={"A": 10, "SRV": 10})
    resources["Noncompliance2"] = l1.ecs_service(stack, task=task, registries=[l1.registry(srv, port=8080)])
    # The registry names container "app": its 2 s count, not the log router's 120 s.
    stack = stacks["Noncompliance3"]
    task = l1.task_definition(
        stack, containers=[{"name": "app", "stop_timeout": 2}, {"name": "log-router", "stop_timeout": 120}]
    )
    srv = l1.cloud_map_service(stack, records={"SRV": 10})
    resources["Noncompliance3"] = l1.ecs_service(
        stack, task=task, registries=[l1.registry(srv, container_name="app", container_port=8080)]
    )
    resources["Compliance1"] = _fargate_service(
        stacks["Compliance1"], dns_ttl=cdk.Duration.seconds(10), stop_timeout=None
    )
    resources["Compliance2"] = _fargate_service(
        stacks["Compliance2"], dns_ttl=cdk.Duration.seconds(60), stop_timeout=cdk.Duration.seconds(90)
    )
    # A non-essential sidecar may stop at once: only the registered (essential) container counts.
    stack = stacks["Compliance3"]
    task = l1.task_definition(
        stack, containers=[{"name": "app", "stop_timeout": 45}, {"name": "metrics", "essential": False}]
    )
    srv = l1.cloud_map_service(stack, records={"A": 10})
    resources["Compliance3"] = l1.ecs_service(stack, task=task, registries=[l1.registry(srv)])
    stack = stacks["TokenStopTimeout"]
    task = l1.task_definition(
        stack, containers=[{"name": "app", "stop_timeout": l1.number_parameter(stack, "StopTimeout", 5)}]
    )
    srv = l1.cloud_map_service(stack, records={"A": 10})
    resources["TokenStopTimeout"] = l1.ecs_service(stack, task=task, registries=[l1.registry(srv)])
    stack = stacks["ImportedTask"]
    service = l1.ecs_service(stack, registries=[l1.registry(l1.cloud_map_service(stack))])
    service.task_definition = "arn:aws:ecs:us-east-1:123456789012:task-definition/app:3"
    resources["ImportedTask"] = service
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_fargate_service_defaults_30_s_stop_timeout_60_s_ttl(cases: Cases) -> None:
    assert cases.reported(SD5, "Noncompliance1")


def test_noncompliance_2_l1_container_stopped_after_5_s_with_10_s_records(cases: Cases) -> None:
    assert cases.reported(SD5, "Noncompliance2")


def test_noncompliance_3_the_registered_container_named_in_the_registry(cases: Cases) -> None:
    assert cases.reported(SD5, "Noncompliance3")


def test_compliance_default_stop_timeout_over_a_10_s_ttl(cases: Cases) -> None:
    assert cases.compliance(SD5, "Compliance1") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD5, "Compliance1")


def test_compliance_stop_timeout_of_90_s_over_a_60_s_ttl(cases: Cases) -> None:
    assert cases.compliance(SD5, "Compliance2") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD5, "Compliance2")


def test_compliance_non_essential_sidecar_is_not_counted(cases: Cases) -> None:
    assert cases.compliance(SD5, "Compliance3") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD5, "Compliance3")


def test_stop_timeout_from_a_parameter_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD5, "TokenStopTimeout") is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.reported(SD5, "TokenStopTimeout")


def test_task_definition_of_another_template_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD5, "ImportedTask") is NagRuleCompliance.NOT_APPLICABLE
