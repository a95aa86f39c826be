"""SocialNetworkStack: the seed demo's social network from topologies/social-network.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Match, Template

from ecs_service_discovery import ValidationError, load_topology
from stacks import SocialNetworkStack
from stacks.social_network_stack import SOCIAL_NETWORK_TOPOLOGY
from tests.helpers import as_list

CALLEES = ["auth", "user", "timeline", "feed", "messenger", "worker"]
EVERYONE = ["backend", *CALLEES]


def _task_definitions(template: Template) -> dict[str, dict[str, Any]]:
    """Container name -> its container definition."""
    return {
        definition["Properties"]["ContainerDefinitions"][0]["Name"]: definition["Properties"]["ContainerDefinitions"][0]
        for definition in template.find_resources("AWS::ECS::TaskDefinition").values()
    }


def _environment(container: dict[str, Any]) -> dict[str, Any]:
    return {variable["Name"]: variable["Value"] for variable in container["Environment"]}


def _service_ids_by_name(template: Template) -> dict[str, str]:
    """Cloud Map service name -> logical ID."""
    return {
        resource["Properties"]["Name"]: logical_id
        for logical_id, resource in template.find_resources("AWS::ServiceDiscovery::Service").items()
    }


def _security_group_of(template: Template) -> dict[str, str]:
    """Logical ID of a service's security group -> the service's container name."""
    owners: dict[str, str] = {}
    for service in template.find_resources("AWS::ECS::Service").values():
        props = service["Properties"]
        group = props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0]["Fn::GetAtt"][0]
        owners[group] = props["ServiceRegistries"][0]["ContainerName"]
    return owners


def test_the_repository_topology_file_is_the_seed_social_network() -> None:
    spec = load_topology(SOCIAL_NETWORK_TOPOLOGY)
    assert spec.names == EVERYONE
    assert spec["backend"].calls == tuple(CALLEES)
    assert spec["backend"].discovery_read
    assert not any(spec[name].calls or spec[name].discovery_read for name in CALLEES)


def test_every_service_is_registered_with_a_and_srv_records_in_namespace_social(social_template: Template) -> None:
    social_template.has_resource_properties("AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": "social"})
    assert sorted(_service_ids_by_name(social_template)) == sorted(EVERYONE)
    for name in EVERYONE:
        social_template.has_resource_properties(
            "AWS::ServiceDiscovery::Service",
            {
                "Name": name,
                "DnsConfig": {
                    "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}],
                    "RoutingPolicy": "MULTIVALUE",
                },
                "HealthCheckCustomConfig": Match.any_value(),
            },
        )


def test_seven_services_fit_in_one_template(social_stack: SocialNetworkStack, social_template: Template) -> None:
    assert social_stack.topology.nested_stacks == []
    social_template.resource_count_is("AWS::CloudFormation::Stack", 0)
    social_template.resource_count_is("AWS::ECS::Service", len(EVERYONE))
    assert social_stack.backend is social_stack.topology.services["backend"]


def test_the_six_callees_share_one_generic_image_told_apart_by_environment(social_template: Template) -> None:
    containers = _task_definitions(social_template)
    images = {name: str(containers[name]["Image"]) for name in EVERYONE}
    # THEN one image asset for the six worker-style services, another for the backend
    assert len({images[name] for name in CALLEES}) == 1
    assert images["backend"] != images["worker"]
    for name in CALLEES:
        environment = _environment(containers[name])
        assert environment["SERVICE_NAME"] == name
        assert environment["MESSAGE"].startswith(f"{name}: ")


def test_backend_is_given_every_callee_name_and_port(social_template: Template) -> None:
    backend = _environment(_task_definitions(social_template)["backend"])
    for name in CALLEES:
        prefix = name.upper()
        assert backend[f"{prefix}_HOST"] == f"{name}.social"
        assert backend[f"{prefix}_SERVICE"] == name
        assert backend[f"{prefix}_PORT"] == "8080"
    assert backend["NAMESPACE"] == "social"
    assert "NAMESPACE_ID" in backend


def test_each_callee_admits_only_the_backend_on_its_port(social_template: Template) -> None:
    owners = _security_group_of(social_template)
    ingress = sorted(
        (
            owners[rule["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0]],
            owners[rule["Properties"]["GroupId"]["Fn::GetAtt"][0]],
            rule["Properties"]["FromPort"],
            rule["Properties"]["ToPort"],
        )
        for rule in social_template.find_resources("AWS::EC2::SecurityGroupIngress").values()
    )
    assert ingress == sorted(("backend", name, 8080, 8080) for name in CALLEES)
    # AND no security group has an inline ingress rule (from anywhere)
    groups = social_template.find_resources("AWS::EC2::SecurityGroup").values()
    assert len(groups) == len(EVERYONE)
    for group in groups:
        assert "SecurityGroupIngress" not in group["Properties"]


def test_only_the_backend_may_read_the_namespace(social_template: Template) -> None:
    roles = {
        definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]: definition["Properties"]["ContainerDefinitions"][0][
            "Name"
        ]
        for definition in social_template.find_resources("AWS::ECS::TaskDefinition").values()
    }
    [namespace_id] = social_template.find_resources("AWS::ServiceDiscovery::PrivateDnsNamespace")
    readers: dict[str, list[Any]] = {}
    for policy in social_template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if "servicediscovery:ListInstances" not in as_list(statement["Action"]):
                continue
            for role in policy["Properties"]["Roles"]:
                readers.setdefault(roles[role["Ref"]], []).append(statement["Condition"])
    # One namespace-wide statement, scoped by the namespace ID tag every Cloud Map service carries.
    tag = "aws:ResourceTag/ecs-service-discovery:namespace-id"
    assert readers == {"backend": [{"StringEquals": {tag: {"Fn::GetAtt": [namespace_id, "Id"]}}}]}
    services = social_template.find_resources("AWS::ServiceDiscovery::Service").values()
    assert sorted(service["Properties"]["Name"] for service in services) == sorted(EVERYONE)
    for service in services:
        assert {"Key": tag.removeprefix("aws:ResourceTag/"), "Value": {"Fn::GetAtt": [namespace_id, "Id"]}} in service[
            "Properties"
        ]["Tags"]


def test_namespace_name_is_a_parameter() -> None:
    stack = SocialNetworkStack(cdk.App(), "Other", namespace_name="friends")
    assert stack.namespace.name == "friends"
    assert stack.topology.services["auth"].dns_name == "auth.friends"


def test_a_topology_file_of_ones_own(tmp_path: Path) -> None:
    # GIVEN a two-service file whose source folders are relative to the file
    services = SOCIAL_NETWORK_TOPOLOGY.parent.parent / "services"
    (tmp_path / "mine.yaml").write_text(
        f"services:\n"
        f"  - name: front\n    source: {services / 'flask-backend'}\n    calls: [back]\n"
        f"  - name: back\n    source: {services / 'flask-worker'}\n    container_port: 9000\n"
    )
    stack = SocialNetworkStack(cdk.App(), "Mine", topology_file=tmp_path / "mine.yaml")
    assert list(stack.topology.services) == ["front", "back"]
    assert stack.backend is None
    Template.from_stack(stack).has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"FromPort": 9000, "ToPort": 9000}
    )


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("services:\n  - name: a\n    image: x\n    calls: [nobody]\n", r"bad\.yaml.*'a'.*calls.*'nobody'"),
        ("services:\n  - name: Bad_Name\n    image: x\n", r"bad\.yaml.*name.*'Bad_Name'"),
    ],
)
def test_a_bad_topology_file_fails_before_the_stack_exists(tmp_path: Path, content: str, match: str) -> None:
    (tmp_path / "bad.yaml").write_text(content)
    app = cdk.App()
    with pytest.raises(ValidationError, match=match):
        SocialNetworkStack(app, "Bad", topology_file=tmp_path / "bad.yaml")
    assert app.node.children == []
