"""What the seed stack promises: the namespace, A+SRV records, health-managed DNS, least-open network."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from tests.helpers import container_definition


def _resource_id(template: Template, resource_type: str, props: dict[str, Any]) -> str:
    found = template.find_resources(resource_type, {"Properties": Match.object_like(props)})
    assert len(found) == 1, f"expected one {resource_type} with {props}, found {list(found)}"
    return next(iter(found))


def _security_group_of(template: Template, container_name: str) -> str:
    for service in template.find_resources("AWS::ECS::Service").values():
        props = service["Properties"]
        if props["ServiceRegistries"][0]["ContainerName"] == container_name:
            return props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0]["Fn::GetAtt"][0]
    raise AssertionError(f"no service for {container_name}")


def test_namespace_is_private_dns_corp_in_the_stack_vpc(seed_template: Template) -> None:
    # GIVEN the seed stack / WHEN synthesized / THEN one private namespace "corp" in its VPC
    seed_template.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 1)
    vpc_id = next(iter(seed_template.find_resources("AWS::EC2::VPC")))
    seed_template.has_resource_properties(
        "AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": "corp", "Vpc": {"Ref": vpc_id}}
    )


def test_vpc_spans_two_azs_with_private_subnets(seed_template: Template) -> None:
    private = seed_template.find_resources("AWS::EC2::Subnet", {"Properties": {"MapPublicIpOnLaunch": False}})
    assert len(private) == 2


@pytest.mark.parametrize("name", ["worker", "backend"])
def test_cloud_map_service_has_a_and_srv_records_ttl_10_multivalue(seed_template: Template, name: str) -> None:
    seed_template.has_resource_properties(
        "AWS::ServiceDiscovery::Service",
        {
            "Name": name,
            "DnsConfig": {
                "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}],
                "RoutingPolicy": "MULTIVALUE",
                "NamespaceId": Match.any_value(),
            },
            "HealthCheckCustomConfig": {"FailureThreshold": 1},
            "HealthCheckConfig": Match.absent(),
        },
    )


@pytest.mark.parametrize(("name", "container"), [("worker", "flask-worker"), ("backend", "flask-backend")])
def test_ecs_service_registers_container_name_and_port(seed_template: Template, name: str, container: str) -> None:
    registry = _resource_id(seed_template, "AWS::ServiceDiscovery::Service", {"Name": name})
    seed_template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "ServiceRegistries": [
                {"ContainerName": container, "ContainerPort": 8080, "RegistryArn": {"Fn::GetAtt": [registry, "Arn"]}}
            ]
        },
    )


def test_services_run_in_private_subnets_without_public_ip(seed_template: Template) -> None:
    services = seed_template.find_resources("AWS::ECS::Service")
    assert len(services) == 2
    private_subnets = set(
        seed_template.find_resources("AWS::EC2::Subnet", {"Properties": {"MapPublicIpOnLaunch": False}})
    )
    for service in services.values():
        awsvpc = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert awsvpc["AssignPublicIp"] == "DISABLED"
        assert {s["Ref"] for s in awsvpc["Subnets"]} == private_subnets
        assert service["Properties"]["LaunchType"] == "FARGATE"


@pytest.mark.parametrize("container", ["flask-worker", "flask-backend"])
def test_container_health_check_probes_health_path_on_port(seed_template: Template, container: str) -> None:
    health = container_definition(seed_template, container)["HealthCheck"]
    assert health["Command"][0] == "CMD-SHELL"
    assert "http://127.0.0.1:8080/health" in health["Command"][1]
    assert health["Interval"] == 10 and health["Retries"] == 3 and health["Timeout"] == 5


@pytest.mark.parametrize("container", ["flask-worker", "flask-backend"])
def test_container_logs_to_a_log_group_with_retention(seed_template: Template, container: str) -> None:
    log_config = container_definition(seed_template, container)["LogConfiguration"]
    assert log_config["LogDriver"] == "awslogs"
    log_group = log_config["Options"]["awslogs-group"]["Ref"]
    seed_template.has_resource("AWS::Logs::LogGroup", {"Properties": {"RetentionInDays": 30}})
    assert log_group in seed_template.find_resources("AWS::Logs::LogGroup")


def test_backend_to_worker_rule_is_the_only_ingress_to_worker(seed_template: Template) -> None:
    worker_sg = _security_group_of(seed_template, "flask-worker")
    backend_sg = _security_group_of(seed_template, "flask-backend")
    ingress = seed_template.find_resources("AWS::EC2::SecurityGroupIngress")
    to_worker = [
        r["Properties"]
        for r in ingress.values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [worker_sg, "GroupId"]}
    ]
    assert to_worker == [
        {
            "Description": "backend calls worker",
            "FromPort": 8080,
            "ToPort": 8080,
            "IpProtocol": "tcp",
            "GroupId": {"Fn::GetAtt": [worker_sg, "GroupId"]},
            "SourceSecurityGroupId": {"Fn::GetAtt": [backend_sg, "GroupId"]},
        }
    ]
    worker_group = seed_template.find_resources("AWS::EC2::SecurityGroup")[worker_sg]["Properties"]
    assert "SecurityGroupIngress" not in worker_group


def test_nothing_reaches_backend(seed_template: Template) -> None:
    backend_sg = _security_group_of(seed_template, "flask-backend")
    ingress = seed_template.find_resources("AWS::EC2::SecurityGroupIngress")
    assert not [r for r in ingress.values() if r["Properties"]["GroupId"] == {"Fn::GetAtt": [backend_sg, "GroupId"]}]
    assert (
        "SecurityGroupIngress" not in seed_template.find_resources("AWS::EC2::SecurityGroup")[backend_sg]["Properties"]
    )


def test_backend_environment_names_the_worker(seed_template: Template) -> None:
    environment = {e["Name"]: e["Value"] for e in container_definition(seed_template, "flask-backend")["Environment"]}
    assert environment == {
        "SERVICE_NAME": "backend",
        "NAMESPACE": "corp",
        # dns_ttl (10 s) + 5 s: how long the app keeps serving after SIGTERM (test_draining.py).
        "STOP_DRAIN_SECONDS": "15",
        "WORKER_SERVICE": "worker",
        "WORKER_PORT": "8080",
        "WORKER_HOST": "worker.corp",
        # namespace.grant_discover_read(backend): what the /services page needs to list the namespace.
        "NAMESPACE_ID": {
            "Fn::GetAtt": [_resource_id(seed_template, "AWS::ServiceDiscovery::PrivateDnsNamespace", {}), "Id"]
        },
        "AWS_REGION": {"Ref": "AWS::Region"},
    }


def test_worker_environment_has_no_callees(seed_template: Template) -> None:
    environment = {e["Name"]: e["Value"] for e in container_definition(seed_template, "flask-worker")["Environment"]}
    assert environment == {"SERVICE_NAME": "worker", "NAMESPACE": "corp", "STOP_DRAIN_SECONDS": "15"}


def test_stack_is_environment_agnostic(seed_stack: Any) -> None:
    import aws_cdk as cdk

    assert cdk.Token.is_unresolved(seed_stack.account)
    assert cdk.Token.is_unresolved(seed_stack.region)
