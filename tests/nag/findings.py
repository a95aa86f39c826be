"""Helpers for the rule tests: each test module builds one app of small stacks, synthesizes it once
and runs the pack over it once; its tests then read the findings by rule ID and construct path."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from ecs_service_discovery.nag import ServiceDiscoveryChecks

IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"


def _cfn(construct: IConstruct) -> cdk.CfnResource:
    """The L1 resource of ``construct`` (itself, or an L2's default child)."""
    if isinstance(construct, cdk.CfnResource):
        return construct
    child = construct.node.default_child
    assert isinstance(child, cdk.CfnResource), construct.node.path
    return child


@dataclass(frozen=True)
class Findings:
    """What the pack reported over one synthesized app."""

    pack: ServiceDiscoveryChecks
    #: (rule ID, construct path) of every violation.
    violations: frozenset[tuple[str, str]]
    #: Violations cdk-nag made of a rule that raised.
    errors: tuple[str, ...]

    def reported(self, rule_id: str, construct: IConstruct) -> bool:
        return (rule_id, _cfn(construct).node.path) in self.violations

    def compliance(self, rule_id: str, construct: IConstruct) -> NagRuleCompliance:
        return self.pack.compliance(_cfn(construct), rule_id)

    def of_rule(self, rule_id: str) -> set[str]:
        return {path for rule, path in self.violations if rule == rule_id}


@dataclass(frozen=True)
class Cases:
    """One module's app, its findings, and the resource of each case by name."""

    app: cdk.App
    findings: Findings
    resources: dict[str, IConstruct]

    def reported(self, rule_id: str, case: str) -> bool:
        return self.findings.reported(rule_id, self.resources[case])

    def compliance(self, rule_id: str, case: str) -> NagRuleCompliance:
        return self.findings.compliance(rule_id, self.resources[case])


def validate(app: cdk.App, pack: ServiceDiscoveryChecks | None = None, *, synth: bool = True) -> Findings:
    """Synthesize ``app`` (so the pack reads the synthesized templates) and run ``pack`` over it once."""
    pack = pack or ServiceDiscoveryChecks(verbose=True)
    if synth:
        app.synth()
    report = pack.validate_scope(app)
    violations = frozenset(
        (violation.rule_name, str(resource.construct_path))
        for violation in report.violations
        for resource in violation.violating_resources
    )
    errors = tuple(
        f"{violation.rule_name}: {violation.description}"
        for violation in report.violations
        if violation.description.startswith("Rule threw an error")
    )
    return Findings(pack, violations, errors)


def case_stacks(app: cdk.App, names: Iterable[str]) -> dict[str, cdk.Stack]:
    """One stack per case, so that a case's resources never meet another case's in a template."""
    return {name: cdk.Stack(app, name) for name in names}


def cluster_in(stack: cdk.Stack) -> ecs.Cluster:
    """A cluster in an imported VPC: what a FargateService needs, without synthesizing a VPC."""
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
    )
    return ecs.Cluster(stack, "Cluster", vpc=vpc)
