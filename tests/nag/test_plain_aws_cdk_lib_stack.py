"""The pack over a stack written the usual way with aws-cdk-lib only: the findings a user should see."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance

from tests.nag.findings import IMAGE, Findings, validate


class PlainStack(cdk.Stack):
    """A VPC, a cluster, a private DNS namespace and a FargateService with cloud_map_options, all defaults:
    A records with aws-cdk-lib's 60 s TTL, ECS's 30 s stop timeout, the namespace's default SOA."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        self.namespace = servicediscovery.PrivateDnsNamespace(self, "Namespace", name="shop", vpc=vpc)
        task = ecs.FargateTaskDefinition(self, "Task")
        task.add_container(
            "web", image=ecs.ContainerImage.from_registry(IMAGE), port_mappings=[ecs.PortMapping(container_port=8080)]
        )
        self.web = ecs.FargateService(
            self,
            "Web",
            cluster=cluster,
            task_definition=task,
            cloud_map_options=ecs.CloudMapOptions(name="web", cloud_map_namespace=self.namespace),
        )


@dataclass(frozen=True)
class Plain:
    stack: PlainStack
    findings: Findings


@pytest.fixture(scope="module")
def plain() -> Plain:
    app = cdk.App()
    stack = PlainStack(app, "Plain")
    return Plain(stack, validate(app))


def test_findings_by_id_are_stop_timeout_below_ttl_and_default_soa(plain: Plain) -> None:
    assert plain.findings.violations == {
        ("ServiceDiscovery-SD5", "Plain/Web/Service"),
        ("ServiceDiscovery-SD7", "Plain/Namespace/Resource"),
    }
    assert plain.findings.errors == ()


def test_default_ttl_of_60_s_is_at_the_ceiling(plain: Plain) -> None:
    assert plain.stack.web.cloud_map_service is not None
    assert plain.findings.compliance("SD1", plain.stack.web.cloud_map_service) is NagRuleCompliance.COMPLIANT


def test_cloud_map_options_give_a_custom_health_check_and_one_task(plain: Plain) -> None:
    assert plain.findings.compliance("SD2", plain.stack.web) is NagRuleCompliance.COMPLIANT
    assert plain.findings.compliance("SD4", plain.stack.web) is NagRuleCompliance.COMPLIANT


def test_a_records_only_and_no_service_connect_are_not_applicable(plain: Plain) -> None:
    assert plain.findings.compliance("SD3", plain.stack.web) is NagRuleCompliance.NOT_APPLICABLE
    assert plain.findings.compliance("SD6", plain.stack.web) is NagRuleCompliance.NOT_APPLICABLE
