"""Discovery read grants: what a page or tool listing the namespace needs, with a size that does not
grow with the number of services or readers.

``namespace.grant_discover_read(grantee)`` and ``service.grant_discover_read(grantee)`` read as
aws-cdk-lib's grants (the receiver is what is read); ``grant_discovery_read`` is the deprecated
name kept for one release.
"""

from __future__ import annotations

import json
import warnings
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ValidationError
from stacks import ServiceDiscoveryStack
from tests.helpers import as_list

_IMAGE = "public.ecr.aws/docker/library/python:3.11-slim"
NAMESPACE_TAG = "ecs-service-discovery:namespace-id"
ANY_SERVICE = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":servicediscovery:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            ":service/*",
        ],
    ]
}


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


def _namespace_statements(namespace_ref: str) -> list[dict[str, Any]]:
    return [
        # IAM has no resource type or condition key for ListServices: "*" is the only valid resource.
        {"Action": "servicediscovery:ListServices", "Effect": "Allow", "Resource": "*"},
        {
            "Action": ["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"],
            "Condition": {"StringEquals": {f"aws:ResourceTag/{NAMESPACE_TAG}": {"Fn::GetAtt": [namespace_ref, "Id"]}}},
            "Effect": "Allow",
            "Resource": ANY_SERVICE,
        },
        {
            "Action": ["servicediscovery:DiscoverInstances", "servicediscovery:DiscoverInstancesRevision"],
            "Effect": "Allow",
            "Resource": [{"Fn::GetAtt": [namespace_ref, "Arn"]}, ANY_SERVICE],
        },
    ]


# -- the seed stack ----------------------------------------------------------------


def test_seed_backend_reads_the_namespace_by_its_tag_and_arn(seed_stack: ServiceDiscoveryStack, seed_template):
    namespace_ref = seed_stack.get_logical_id(_cfn(seed_stack.namespace.namespace))
    assert _statements_of(seed_stack, seed_template, seed_stack.backend) == _namespace_statements(namespace_ref)


def test_seed_cloud_map_services_carry_the_namespace_tag(seed_stack: ServiceDiscoveryStack, seed_template):
    namespace_ref = seed_stack.get_logical_id(_cfn(seed_stack.namespace.namespace))
    services = seed_template.find_resources("AWS::ServiceDiscovery::Service")
    assert len(services) == 2
    for service in services.values():
        assert service["Properties"]["Tags"] == [{"Key": NAMESPACE_TAG, "Value": {"Fn::GetAtt": [namespace_ref, "Id"]}}]


def test_seed_backend_gets_the_namespace_id_and_region(seed_stack, seed_template):
    environment = _environment(seed_template, "flask-backend")
    namespace_id = seed_stack.get_logical_id(_cfn(seed_stack.namespace.namespace))

    assert environment["NAMESPACE"] == "corp"
    assert environment["NAMESPACE_ID"] == {"Fn::GetAtt": [namespace_id, "Id"]}
    assert environment["AWS_REGION"] == {"Ref": "AWS::Region"}


def test_seed_worker_was_not_granted_anything_in_cloud_map(seed_stack, seed_template):
    # The task role has no policy at all (the execution role's pull and log rights are not the app's).
    assert _statements_of(seed_stack, seed_template, seed_stack.worker) == []
    assert "NAMESPACE_ID" not in _environment(seed_template, "flask-worker")


def test_no_write_or_wildcard_action_is_granted_in_the_seed(seed_template):
    actions = [
        action
        for policy in seed_template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
        if action.startswith("servicediscovery:")
    ]
    assert sorted(set(actions)) == [
        "servicediscovery:DiscoverInstances",
        "servicediscovery:DiscoverInstancesRevision",
        "servicediscovery:GetInstancesHealthStatus",
        "servicediscovery:ListInstances",
        "servicediscovery:ListServices",
    ]


# -- the API, in one stack synthesized once ----------------------------------------------


class _GrantStack(cdk.Stack):
    """api reads db only; cache reads the namespace; a plain role reads the namespace; the old name once."""

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
        self.legacy = service("Legacy", "legacy")
        self.db_grant = self.db.grant_discover_read(self.api)
        self.namespace_grant = self.namespace.grant_discover_read(self.cache)
        lambda_service = cast(iam.IPrincipal, iam.ServicePrincipal("lambda.amazonaws.com"))  # jsii stub mismatch
        self.role = iam.Role(self, "Tool", assumed_by=lambda_service)
        self.namespace.grant_discover_read(self.role)
        with warnings.catch_warnings(record=True) as self.caught:
            warnings.simplefilter("always")
            self.legacy.grant_discovery_read()


@pytest.fixture(scope="module")
def grant_stack() -> _GrantStack:
    return _GrantStack(cdk.App(), "GrantOptions")


@pytest.fixture(scope="module")
def grant_template(grant_stack: _GrantStack) -> Template:
    return Template.from_stack(grant_stack)


def _namespace_ref(stack: _GrantStack) -> str:
    return stack.get_logical_id(_cfn(stack.namespace.namespace))


def test_a_service_grant_reads_only_that_service(grant_stack, grant_template):
    db_arn = _arn_of(grant_stack, grant_stack.db)
    assert _statements_of(grant_stack, grant_template, grant_stack.api) == [
        {
            "Action": ["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"],
            "Effect": "Allow",
            "Resource": db_arn,
        },
        {
            "Action": ["servicediscovery:DiscoverInstances", "servicediscovery:DiscoverInstancesRevision"],
            "Effect": "Allow",
            "Resource": [{"Fn::GetAtt": [_namespace_ref(grant_stack), "Arn"]}, db_arn],
        },
    ]
    assert grant_stack.db_grant.success


def test_a_namespace_grant_reads_the_namespace_by_tag_and_sets_the_namespace_id(grant_stack, grant_template):
    assert _statements_of(grant_stack, grant_template, grant_stack.cache) == _namespace_statements(
        _namespace_ref(grant_stack)
    )
    assert "NAMESPACE_ID" in _environment(grant_template, "cache")
    assert grant_stack.namespace_grant.success


def test_any_grantable_may_be_granted_the_namespace(grant_stack, grant_template):
    role_id = grant_stack.get_logical_id(_cfn(grant_stack.role))
    [policy] = [
        policy
        for policy in grant_template.find_resources("AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    assert policy["Properties"]["PolicyDocument"]["Statement"] == _namespace_statements(_namespace_ref(grant_stack))


def test_the_deprecated_name_warns_and_grants_the_namespace(grant_stack, grant_template):
    assert [w.category for w in grant_stack.caught] == [DeprecationWarning]
    assert "namespace.grant_discover_read(service)" in str(grant_stack.caught[0].message)
    assert _statements_of(grant_stack, grant_template, grant_stack.legacy) == _namespace_statements(
        _namespace_ref(grant_stack)
    )


def test_services_that_did_not_ask_get_no_cloud_map_permission(grant_stack, grant_template):
    # db is read by api, but its own task role reads nothing
    assert _statements_of(grant_stack, grant_template, grant_stack.db) == []


def test_the_grant_does_not_grow_with_the_number_of_services(grant_stack, grant_template):
    # One reader, four services; the 200-service test (tests/integration/test_scale.py) checks the
    # same at scale: the statements name the namespace, never the services.
    text = json.dumps(_statements_of(grant_stack, grant_template, grant_stack.cache))
    for service in (grant_stack.api, grant_stack.db, grant_stack.legacy):
        assert grant_stack.get_logical_id(_cfn(service.cloud_map_service)) not in text


# -- validation (no synth) ---------------------------------------------------------


@pytest.fixture(scope="module")
def lone() -> tuple[DiscoverableFargateService, DiscoveryNamespace, DiscoverableFargateService]:
    """``only`` in namespace ``solo`` and ``elsewhere`` in namespace ``other``, one App."""
    stack = cdk.Stack(cdk.App(), "Lone")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    namespace = DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="solo")
    other = DiscoveryNamespace(stack, "Other", vpc=vpc, name="other")
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    image = ecs.ContainerImage.from_registry(_IMAGE)
    service = DiscoverableFargateService(stack, "Only", cluster=cluster, namespace=namespace, name="only", image=image)
    elsewhere = DiscoverableFargateService(
        stack, "Elsewhere", cluster=cluster, namespace=other, name="elsewhere", image=image
    )
    return elsewhere, namespace, service


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        ([], "services=[] is not valid"),
        (["worker"], "services[0]='worker' is not valid"),
        ("worker", "expected a list of DiscoverableFargateService"),
        (42, "services=42 is not valid"),
    ],
)
def test_bad_services_argument_of_the_deprecated_name_is_a_validation_error(lone, services, expected):
    _, _, service = lone
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(ValidationError, match=expected.replace("[", r"\[").replace("]", r"\]")),
    ):
        service.grant_discovery_read(services=services)


def test_a_service_of_another_namespace_is_refused(lone):
    elsewhere, namespace, service = lone
    with pytest.raises(ValidationError, match=r"^grantee='only' is not valid: it is registered in namespace 'solo'"):
        elsewhere.grant_discover_read(service)
    with pytest.raises(
        ValidationError, match=r"^grantee='elsewhere' is not valid: it is a service of namespace 'other'"
    ):
        namespace.grant_discover_read(elsewhere)
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(ValidationError, match=r"^services\[0\]='elsewhere' is not valid: it is registered in namespace"),
    ):
        service.grant_discovery_read(services=[elsewhere])


def test_a_service_of_another_app_is_refused_before_any_jsii_error(lone, seed_stack: ServiceDiscoveryStack):
    _, namespace, service = lone
    with pytest.raises(ValidationError, match=r"^grantee='Lone/Only' is not valid: it belongs to another App"):
        seed_stack.worker.grant_discover_read(service)
    with pytest.raises(
        ValidationError, match=r"^grantee='ServiceDiscovery/Worker' is not valid: it belongs to another"
    ):
        namespace.grant_discover_read(seed_stack.worker)


def test_a_service_cannot_be_granted_to_read_itself(lone):
    _, _, service = lone
    with pytest.raises(ValidationError, match=r"grantee='only' is not valid: expected another service"):
        service.grant_discover_read(service)


@pytest.mark.parametrize("grantee", ["role", None, 42, ["only"]])
def test_a_grantee_must_be_a_service_or_a_grantable(lone, grantee: Any):
    _, namespace, _ = lone
    with pytest.raises(ValidationError, match=r"^grantee=.* is not valid: expected a DiscoverableFargateService or"):
        namespace.grant_discover_read(grantee)
