"""grant_discovery_read(): the Cloud Map read actions the /services page needs, and nothing more."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ValidationError
from stacks import ServiceDiscoveryStack
from tests.helpers import as_list

_IMAGE = "public.ecr.aws/docker/library/python:3.11-slim"


def _statements_of(stack: cdk.Stack, template: Template, service: DiscoverableFargateService) -> list[dict[str, Any]]:
    role_id = stack.get_logical_id(_cfn(service.task_definition.task_role))
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _arn_of(stack: cdk.Stack, service: DiscoverableFargateService) -> dict[str, Any]:
    return {"Fn::GetAtt": [stack.get_logical_id(_cfn(service.cloud_map_service)), "Arn"]}


def _cfn(construct: Any) -> cdk.CfnElement:
    element = construct.node.default_child
    assert isinstance(element, cdk.CfnElement)
    return element


def _environment(template: Template, container_name: str) -> dict[str, Any]:
    for resource in template.find_resources("AWS::ECS::TaskDefinition").values():
        for container in resource["Properties"]["ContainerDefinitions"]:
            if container["Name"] == container_name:
                return {item["Name"]: item["Value"] for item in container.get("Environment", [])}
    raise AssertionError(f"no container named {container_name}")


# -- the seed stack ----------------------------------------------------------------


def test_seed_backend_may_list_services_and_read_only_the_workers_instances(seed_stack, seed_template):
    statements = _statements_of(seed_stack, seed_template, seed_stack.backend)

    assert statements == [
        # IAM has no resource or condition key for ListServices: "*" is the only valid resource.
        {"Action": "servicediscovery:ListServices", "Effect": "Allow", "Resource": "*"},
        {
            "Action": ["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"],
            "Effect": "Allow",
            "Resource": [_arn_of(seed_stack, seed_stack.worker)],
        },
    ]


def test_seed_backend_gets_the_namespace_id_and_region(seed_stack, seed_template):
    environment = _environment(seed_template, "flask-backend")
    namespace_id = seed_stack.get_logical_id(_cfn(seed_stack.namespace.namespace))

    assert environment["NAMESPACE"] == "corp"
    assert environment["NAMESPACE_ID"] == {"Fn::GetAtt": [namespace_id, "Id"]}
    assert environment["AWS_REGION"] == {"Ref": "AWS::Region"}


def test_seed_worker_was_not_granted_anything_in_cloud_map(seed_stack, seed_template):
    statements = _statements_of(seed_stack, seed_template, seed_stack.worker)
    actions = [statement["Action"] for statement in statements]

    assert not any("servicediscovery" in str(action) for action in actions)
    assert "NAMESPACE_ID" not in _environment(seed_template, "flask-worker")


def test_no_write_or_wildcard_action_is_granted_in_the_seed(seed_template):
    for policy in seed_template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in as_list(statement["Action"]):
                if action.startswith("servicediscovery:"):
                    assert action in {
                        "servicediscovery:ListServices",
                        "servicediscovery:ListInstances",
                        "servicediscovery:GetInstancesHealthStatus",
                    }


# -- options, in one stack synthesized once ------------------------------------------


class _GrantStack(cdk.Stack):
    """api reads db only; cache reads everything of the namespace, including a service added later."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, nat_gateways=1)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        self.namespace = DiscoveryNamespace(self, "Namespace", vpc=vpc, name="shop")
        image = ecs.ContainerImage.from_registry(_IMAGE)

        def service(construct_id: str, name: str) -> DiscoverableFargateService:
            return DiscoverableFargateService(
                self, construct_id, cluster=cluster, namespace=self.namespace, name=name, image=image, scaling=None
            )

        self.api = service("Api", "api")
        self.db = service("Db", "db")
        self.cache = service("Cache", "cache")
        self.api.grant_discovery_read(services=[self.db])
        self.cache.grant_discovery_read()
        self.late = service("Late", "late")  # after the grant: still readable


@pytest.fixture(scope="module")
def grant_stack() -> _GrantStack:
    return _GrantStack(cdk.App(), "GrantOptions")


@pytest.fixture(scope="module")
def grant_template(grant_stack: _GrantStack) -> Template:
    return Template.from_stack(grant_stack)


def _instance_resources(stack: cdk.Stack, template: Template, service: DiscoverableFargateService) -> list:
    (statement,) = [
        statement
        for statement in _statements_of(stack, template, service)
        if "servicediscovery:ListInstances" in statement["Action"]
    ]
    return statement["Resource"]


def test_explicit_services_limit_instance_reads_to_those(grant_stack, grant_template):
    assert _instance_resources(grant_stack, grant_template, grant_stack.api) == [_arn_of(grant_stack, grant_stack.db)]


def test_default_reads_every_other_service_of_the_namespace_even_ones_added_later(grant_stack, grant_template):
    resources = _instance_resources(grant_stack, grant_template, grant_stack.cache)

    expected = [grant_stack.api, grant_stack.db, grant_stack.late]
    assert sorted(map(str, resources)) == sorted(str(_arn_of(grant_stack, other)) for other in expected)
    assert _arn_of(grant_stack, grant_stack.cache) not in resources


def test_services_that_did_not_ask_get_no_cloud_map_permission(grant_stack, grant_template):
    for service in (grant_stack.db, grant_stack.late):
        assert not any(
            "servicediscovery" in str(statement["Action"])
            for statement in _statements_of(grant_stack, grant_template, service)
        )


# -- validation (no synth) ---------------------------------------------------------


@pytest.fixture(scope="module")
def lone_service() -> DiscoverableFargateService:
    stack = cdk.Stack(cdk.App(), "Lone")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    namespace = DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="solo")
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    image = ecs.ContainerImage.from_registry(_IMAGE)
    return DiscoverableFargateService(stack, "Only", cluster=cluster, namespace=namespace, name="only", image=image)


def test_default_without_any_other_service_fails_validation(lone_service):
    lone_service.grant_discovery_read()

    (message,) = lone_service.node.validate()
    assert "no other DiscoverableFargateService of namespace 'solo'" in message and "services=[...]" in message


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        ([], "services=[] is not valid"),
        (["worker"], "services[0]='worker' is not valid"),
        ("worker", "expected a list of DiscoverableFargateService"),
    ],
)
def test_bad_services_argument_is_a_validation_error(lone_service, services, expected):
    with pytest.raises(ValidationError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        lone_service.grant_discovery_read(services=services)


def test_a_service_of_another_namespace_is_rejected(lone_service, seed_stack: ServiceDiscoveryStack):
    with pytest.raises(ValidationError, match="expected a service of namespace 'solo', not 'corp'"):
        lone_service.grant_discovery_read(services=[seed_stack.worker])


def test_a_service_cannot_be_granted_to_read_only_itself(lone_service):
    with pytest.raises(ValidationError, match=r"services\[0\]='only' is not valid: expected another service"):
        lone_service.grant_discovery_read(services=[lone_service])
