"""connect_to between stacks: both security group rules go to one stack chosen by the stack structure
(a nested stack, else the dependent stack, else the later one), never by creation order, so calls in
both directions make no dependency cycle."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace
from ecs_service_discovery.constructs.rule_placement import rules_stack

IMAGE_NAME = "public.ecr.aws/docker/library/python:3.12-slim"
RULE_TYPES = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress")


class World:
    """A platform stack (VPC, cluster, namespace) and helpers to put services in other stacks."""

    def __init__(self) -> None:
        self.app = cdk.App()
        self.platform = cdk.Stack(self.app, "Platform")
        vpc = ec2.Vpc(self.platform, "Vpc", max_azs=2, nat_gateways=1)
        self.cluster = ecs.Cluster(self.platform, "Cluster", vpc=vpc)
        self.namespace = DiscoveryNamespace(self.platform, "Namespace", vpc=vpc)
        self.image = ecs.ContainerImage.from_registry(IMAGE_NAME)

    def service(self, scope: cdk.Stack, name: str) -> DiscoverableFargateService:
        return DiscoverableFargateService(
            scope, name.title(), cluster=self.cluster, namespace=self.namespace, name=name, image=self.image
        )


def rule_count(stack: cdk.Stack) -> int:
    template = Template.from_stack(stack).to_json()
    return sum(resource["Type"] in RULE_TYPES for resource in template["Resources"].values())


def test_between_independent_stacks_the_later_stack_holds_both_rules_of_calls_both_ways() -> None:
    # GIVEN two stacks with no declared dependency, the later one created first
    world = World()
    first = cdk.Stack(world.app, "First")
    second = cdk.Stack(world.app, "Second")
    late = world.service(second, "late")  # created before "early": creation order must not matter
    early = world.service(first, "early")
    # WHEN they call each other
    early.connect_to(late)
    late.connect_to(early)
    # THEN all four rules are in the later stack, and the app synthesizes without a cycle
    assert (rule_count(first), rule_count(second)) == (0, 4)
    world.app.synth()
    assert second not in first.dependencies  # references point from the later stack to the earlier only


def test_a_declared_dependency_decides_over_the_order() -> None:
    # GIVEN the first stack declared to depend on the second
    world = World()
    first = cdk.Stack(world.app, "First")
    second = cdk.Stack(world.app, "Second")
    first.add_dependency(second)
    early, late = world.service(first, "early"), world.service(second, "late")
    # WHEN they call each other THEN the dependent stack holds the rules
    early.connect_to(late)
    late.connect_to(early)
    assert (rule_count(first), rule_count(second)) == (4, 0)
    world.app.synth()


def test_a_nested_stack_holds_the_rules_of_calls_with_its_parent() -> None:
    world = World()
    parent = cdk.Stack(world.app, "Parent")
    nested = cdk.NestedStack(parent, "Nested")
    inner = world.service(nested, "inner")  # created first
    outer = world.service(parent, "outer")
    outer.connect_to(inner)
    inner.connect_to(outer)
    assert (rule_count(parent), rule_count(nested)) == (0, 4)
    world.app.synth()


def test_the_decision_is_symmetric_and_ignores_creation_order() -> None:
    world = World()
    first, second = cdk.Stack(world.app, "First"), cdk.Stack(world.app, "Second")
    parent = cdk.Stack(world.app, "Parent")
    nested = cdk.NestedStack(parent, "Nested")
    deeper = cdk.NestedStack(nested, "Deeper")
    sibling = cdk.NestedStack(parent, "Sibling")
    for a, b, expected in [
        (first, second, second),
        (second, first, second),
        (parent, nested, nested),
        (deeper, parent, deeper),
        (nested, sibling, sibling),
        (deeper, sibling, sibling),
        (first, first, first),
    ]:
        assert rules_stack(a, b) is expected, (a.node.path, b.node.path)
        assert rules_stack(b, a) is expected, (b.node.path, a.node.path)


@pytest.mark.parametrize("times", [2, 3])
def test_connecting_twice_changes_nothing(times: int) -> None:
    world = World()
    stack = cdk.Stack(world.app, "Services")
    api, db = world.service(stack, "api"), world.service(stack, "db")
    for _ in range(times):
        api.connect_to(db)
    assert rule_count(stack) == 2
