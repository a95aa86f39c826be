"""ServiceDiscovery-SD3: an ECS service registry for SRV records with neither Port nor ContainerName/ContainerPort."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from tests.nag import l1
from tests.nag.findings import IMAGE, Cases, case_stacks, cluster_in, validate

SD3 = "ServiceDiscovery-SD3"


def _fargate_service_with_srv(stack: cdk.Stack) -> IConstruct:
    """cloud_map_options with SRV records: aws-cdk-lib fills in the container and its port."""
    cluster = cluster_in(stack)
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster.vpc)
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container(
        "web", image=ecs.ContainerImage.from_registry(IMAGE), port_mappings=[ecs.PortMapping(container_port=8080)]
    )
    return ecs.FargateService(
        stack,
        "Web",
        cluster=cluster,
        task_definition=task,
        cloud_map_options=ecs.CloudMapOptions(
            name="web", cloud_map_namespace=namespace, dns_record_type=servicediscovery.DnsRecordType.SRV
        ),
    )


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = cdk.App()
    names = [
        "Noncompliance1",
        "Noncompliance2",
        "Compliance1",
        "Compliance2",
        "Compliance3",
        "ARecordOnly",
        "TokenPort",
    ]
    stacks = case_stacks(app, names)
    resources: dict[str, IConstruct] = {}
    stack = stacks["Noncompliance1"]
    srv = l1.cloud_map_service(stack, records={"A": 10, "SRV": 10})
    resources["Noncompliance1"] = l1.ecs_service(stack, registries=[l1.registry(srv)])
    # A container name without its port is not the combination ECS asks for.
    stack = stacks["Noncompliance2"]
    srv = l1.cloud_map_service(stack, records={"SRV": 10})
    resources["Noncompliance2"] = l1.ecs_service(stack, registries=[l1.registry(srv, container_name="app")])
    stack = stacks["Compliance1"]
    srv = l1.cloud_map_service(stack, records={"A": 10, "SRV": 10})
    resources["Compliance1"] = l1.ecs_service(stack, registries=[l1.registry(srv, port=8080)])
    stack = stacks["Compliance2"]
    srv = l1.cloud_map_service(stack, records={"SRV": 10})
    resources["Compliance2"] = l1.ecs_service(
        stack, registries=[l1.registry(srv, container_name="app", container_port=8080)]
    )
    resources["Compliance3"] = _fargate_service_with_srv(stacks["Compliance3"])
    stack = stacks["ARecordOnly"]
    resources["ARecordOnly"] = l1.ecs_service(stack, registries=[l1.registry(l1.cloud_map_service(stack))])
    stack = stacks["TokenPort"]
    srv = l1.cloud_map_service(stack, records={"SRV": 10})
    port = l1.number_parameter(stack, "Port", 8080)
    resources["TokenPort"] = l1.ecs_service(stack, registries=[l1.registry(srv, port=port)])
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_srv_records_and_a_registry_without_any_port(cases: Cases) -> None:
    assert cases.reported(SD3, "Noncompliance1")


def test_noncompliance_2_container_name_without_container_port(cases: Cases) -> None:
    assert cases.reported(SD3, "Noncompliance2")


def test_compliance_registry_with_port(cases: Cases) -> None:
    assert cases.compliance(SD3, "Compliance1") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD3, "Compliance1")


def test_compliance_registry_with_container_name_and_port(cases: Cases) -> None:
    assert cases.compliance(SD3, "Compliance2") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD3, "Compliance2")


def test_compliance_fargate_service_cloud_map_options_with_srv_records(cases: Cases) -> None:
    assert cases.compliance(SD3, "Compliance3") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD3, "Compliance3")


def test_a_records_only_are_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD3, "ARecordOnly") is NagRuleCompliance.NOT_APPLICABLE


def test_port_from_a_parameter_counts_as_given(cases: Cases) -> None:
    assert cases.compliance(SD3, "TokenPort") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD3, "TokenPort")
