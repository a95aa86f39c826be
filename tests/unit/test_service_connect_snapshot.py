"""Snapshots of the seed stack in the Service Connect modes (issue 14), beside the DNS snapshot of
test_snapshots.py: every template change in these modes shows up as a diff to review.

Update with ``pytest tests/unit/test_service_connect_snapshot.py --snapshot-update`` after reading the diff.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.service_discovery_stack import ServiceDiscoveryStack
from tests.helpers import normalize_template

MODES = ["service-connect", "both"]


@pytest.fixture(scope="module", params=MODES)
def seed(request: pytest.FixtureRequest) -> tuple[str, ServiceDiscoveryStack, dict[str, Any]]:
    stack = ServiceDiscoveryStack(cdk.App(), "ServiceDiscovery", discovery=request.param)
    return request.param, stack, dict(Template.from_stack(stack).to_json())


def test_seed_stack_snapshot_per_mode(
    seed: tuple[str, ServiceDiscoveryStack, dict[str, Any]], snapshot_json: Any
) -> None:
    assert normalize_template(seed[2]) == snapshot_json


def _properties(stack: cdk.Stack, template: dict[str, Any], construct: Any) -> dict[str, Any]:
    return template["Resources"][stack.get_logical_id(construct.node.default_child)]["Properties"]


def test_both_services_publish_their_dns_name_through_service_connect(
    seed: tuple[str, ServiceDiscoveryStack, dict[str, Any]],
) -> None:
    mode, stack, template = seed
    for service in (stack.worker, stack.backend):
        config = _properties(stack, template, service.service)["ServiceConnectConfiguration"]
        assert config["Services"] == [
            {
                "PortName": service.name,
                "DiscoveryName": f"{service.name}-sc",
                "ClientAliases": [{"DnsName": f"{service.name}.corp", "Port": 8080}],
            }
        ]
        # The proxy logs into the service's KMS-encrypted log group (same key and retention)
        log_group = _properties(stack, template, service.log_group)
        assert "KmsKeyId" in log_group and log_group["RetentionInDays"] == 30
        assert config["LogConfiguration"]["Options"]["awslogs-group"] == {
            "Ref": stack.get_logical_id(service.log_group.node.default_child)  # type: ignore[arg-type]
        }
        has_dns = "ServiceRegistries" in _properties(stack, template, service.service)
        assert has_dns is (mode == "both")


def test_the_backend_calls_the_worker_at_the_same_url_in_every_mode(
    seed: tuple[str, ServiceDiscoveryStack, dict[str, Any]],
) -> None:
    _, stack, template = seed
    (container,) = _properties(stack, template, stack.backend.task_definition)["ContainerDefinitions"]
    env = {variable["Name"]: variable["Value"] for variable in container["Environment"]}
    assert (env["WORKER_HOST"], env["WORKER_PORT"], env["WORKER_SERVICE"]) == ("worker.corp", "8080", "worker")


def test_dns_names_stay_and_nothing_else_is_added(seed: tuple[str, ServiceDiscoveryStack, dict[str, Any]]) -> None:
    mode, _, template = seed
    cloud_map = sorted(
        r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::ServiceDiscovery::Service"
    )
    assert cloud_map == (["backend", "worker"] if mode == "both" else [])
    # Service Connect adds no resource of its own: ECS creates its Cloud Map services at deploy time.
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not {"AWS::ServiceDiscovery::HttpNamespace", "AWS::IAM::ManagedPolicy"} & kinds
