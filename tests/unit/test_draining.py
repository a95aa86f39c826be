"""Draining by default: a stopping task keeps serving while callers' cached DNS answers expire.

ECS deregisters a stopping task from Cloud Map, then sends SIGTERM; callers may hold the address
for one more TTL. The construct tells the app how long to keep serving (STOP_DRAIN_SECONDS =
dns_ttl + 5 s, at most the 99 s the apps can drain: test_drain_limit.py), gives the container a
stop timeout that covers it, and refuses one that cannot.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Annotations, Match, Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ValidationError
from tests.helpers import container_definition

IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine"


class _Stack(cdk.Stack):
    def __init__(self) -> None:
        super().__init__(cdk.App(), "Drain")
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        self.namespace = DiscoveryNamespace(self, "Namespace", vpc=vpc, name="drain")

    def service(self, name: str, **options: Any) -> DiscoverableFargateService:
        return DiscoverableFargateService(
            self, name.title(), cluster=self.cluster, namespace=self.namespace, name=name,
            image=ecs.ContainerImage.from_registry(IMAGE), **options,
        )  # fmt: skip


@pytest.fixture(scope="module")
def drained() -> tuple[_Stack, Template]:
    stack = _Stack()
    stack.service("default")
    stack.service("slow", dns_ttl=Duration.seconds(60))
    stack.service("hopeless", dns_ttl=Duration.seconds(300))
    stack.service("given", dns_ttl=Duration.seconds(30), stop_timeout=Duration.seconds(36))
    stack.service("proxied", discovery="service-connect")
    return stack, Template.from_stack(stack)


def _variables(container: dict[str, Any]) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in container.get("Environment", [])}


@pytest.mark.parametrize(
    ("name", "drain", "stop"),
    [("default", "15", 45), ("slow", "65", 95), ("hopeless", "99", 120), ("given", "35", 36), ("proxied", "5", 45)],
)
def test_the_app_is_told_how_long_to_drain_and_the_stop_timeout_covers_it(
    drained: tuple[_Stack, Template], name: str, drain: str, stop: int
) -> None:
    container = container_definition(drained[1], name)
    assert _variables(container)["STOP_DRAIN_SECONDS"] == drain
    assert container["StopTimeout"] == stop


def test_a_ttl_too_long_to_drain_within_fargates_limit_is_a_synth_warning(drained: tuple[_Stack, Template]) -> None:
    stack, _ = drained
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("lower dns_ttl"))
    assert [warning.id for warning in warnings] == ["/Drain/Hopeless"]


@pytest.mark.parametrize(
    ("ttl", "stop"),
    [(10, 15), (10, 2), (10, 14), (30, 35), (60, 60), (300, 99)],
)
def test_a_stop_timeout_that_cannot_cover_the_drain_is_refused(ttl: int, stop: int) -> None:
    stack = _Stack()
    with pytest.raises(ValidationError, match=rf"^stop_timeout='{stop} seconds' is not valid: .* expected more than"):
        stack.service("web", dns_ttl=Duration.seconds(ttl), stop_timeout=Duration.seconds(stop))
    assert stack.node.try_find_child("Web") is None


def test_service_connect_only_needs_no_dns_drain() -> None:
    # No DNS records: the stop timeout need only exceed the 5 s margin.
    stack = _Stack()
    stack.service("web", discovery="service-connect", dns_ttl=Duration.seconds(60), stop_timeout=Duration.seconds(10))


def test_the_drain_variable_is_the_librarys() -> None:
    stack = _Stack()
    with pytest.raises(ValidationError, match=r"STOP_DRAIN_SECONDS"):
        stack.service("web", environment={"STOP_DRAIN_SECONDS": "0"})
