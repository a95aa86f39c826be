"""Shared test helpers (imported by conftest and tests)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace

_ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def normalize_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template with asset hashes replaced, so app code edits do not churn snapshots."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {_ASSET_HASH.sub("<ASSET_HASH>", k): walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return _ASSET_HASH.sub("<ASSET_HASH>", value)
        return value

    return walk(template)


def container_definition(template: Template, name: str) -> dict[str, Any]:
    """The one container definition named ``name`` among the template's task definitions."""
    containers = [
        container
        for task in template.find_resources("AWS::ECS::TaskDefinition").values()
        for container in task["Properties"]["ContainerDefinitions"]
        if container["Name"] == name
    ]
    assert len(containers) == 1, f"no single container {name!r}"
    return containers[0]


def as_list(value: Any) -> list[Any]:
    """An IAM statement's Action or Resource, which CloudFormation allows as one value or a list."""
    return value if isinstance(value, list) else [value]


class LibraryDefaultsStack(cdk.Stack):
    """A stack built only from the library's constructs with their defaults, as a user would."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        namespace = DiscoveryNamespace(self, "Namespace", vpc=vpc)
        image = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim")
        self.api = DiscoverableFargateService(
            self, "Api", cluster=cluster, namespace=namespace, name="api", image=image
        )
        self.db = DiscoverableFargateService(self, "Db", cluster=cluster, namespace=namespace, name="db", image=image)
        self.api.connect_to(self.db)
