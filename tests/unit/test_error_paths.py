"""A ValidationError names the construct it belongs to, as aws-cdk-lib's own ValidationError keeps its
construct's path: the construct being made, or the one whose method was called. The message
itself stays the one sentence (parameter, value, what is allowed); the path is an attribute."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import (
    DiscoverableFargateService,
    Discovery,
    DiscoveryNamespace,
    LogEncryptionKey,
    ServiceSpec,
    ServiceTopology,
    ValidationError,
)

IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"


class _Stack(cdk.Stack):
    def __init__(self) -> None:
        super().__init__(cdk.App(), "Errors")
        self.vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc)
        self.namespace = DiscoveryNamespace(self, "Namespace", vpc=self.vpc)
        self.image = ecs.ContainerImage.from_registry(IMAGE)

    def service(self, construct_id: str, name: str, **options: Any) -> DiscoverableFargateService:
        return DiscoverableFargateService(
            self, construct_id, cluster=self.cluster, namespace=self.namespace, name=name, image=self.image, **options
        )


@pytest.fixture(scope="module")
def stack() -> _Stack:
    return _Stack()


def test_a_bad_parameter_names_the_service_being_made(stack: _Stack) -> None:
    with pytest.raises(ValidationError) as raised:
        stack.service("Web", "web", cpu=3)
    assert str(raised.value).startswith("cpu=3 is not valid: expected one of the Fargate CPU sizes")
    assert raised.value.construct_path == "Errors/Web"
    assert "Errors/Web" not in str(raised.value)


def test_a_bad_call_names_the_caller(stack: _Stack) -> None:
    caller = stack.service("Caller", "caller")
    with pytest.raises(ValidationError, match=r"^other='caller' is not valid") as raised:
        caller.connect_to(caller)
    assert raised.value.construct_path == "Errors/Caller"


def test_a_bad_import_names_the_namespace_being_imported(stack: _Stack) -> None:
    with pytest.raises(ValidationError, match=r"^namespace_id='ns-' is not valid") as raised:
        DiscoveryNamespace.from_attributes(stack, "Imported", name="corp", namespace_id="ns-", namespace_arn="arn:x")
    assert raised.value.construct_path == "Errors/Imported"


def test_a_topology_names_itself_and_a_key_names_itself(stack: _Stack) -> None:
    with pytest.raises(ValidationError, match=r"^services_per_stack=0 is not valid") as raised:
        ServiceTopology(
            stack,
            "Topology",
            cluster=stack.cluster,
            namespace=stack.namespace,
            spec=[ServiceSpec(name="one", image=IMAGE)],
            services_per_stack=0,
        )
    assert raised.value.construct_path == "Errors/Topology"
    with pytest.raises(ValidationError, match=r"^description=3 is not valid") as raised:
        LogEncryptionKey(stack, "Key", description=3)  # type: ignore[arg-type]
    assert raised.value.construct_path == "Errors/Key"


def test_an_error_from_a_service_inside_a_topology_names_the_innermost_construct(stack: _Stack) -> None:
    with pytest.raises(ValidationError, match=r"^other='nobody' is not valid") as raised:
        ServiceTopology(
            stack,
            "Mesh",
            cluster=stack.cluster,
            namespace=stack.namespace,
            spec=[
                ServiceSpec(name="front", image=IMAGE, calls=("nobody",)),
                ServiceSpec(name="nobody", image=IMAGE, discovery=Discovery.SERVICE_CONNECT),
            ],
        )  # fmt: skip
    assert raised.value.construct_path == "Errors/Mesh/front"
