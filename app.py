#!/usr/bin/env python3
"""The CDK app: `npx cdk synth` (or `make synth`) runs this file."""

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from ecs_service_discovery import ValidationError
from ecs_service_discovery.nag import ServiceDiscoveryChecks
from stacks import ServiceDiscoveryStack, SocialNetworkStack


def build(app: cdk.App) -> None:
    # How services find each other: dns (default), service-connect or both (docs/service-connect.md).
    discovery = app.node.try_get_context("discovery")
    ServiceDiscoveryStack(
        app,
        "ServiceDiscovery",
        namespace_name=app.node.try_get_context("namespace") or "corp",
        discovery=discovery or "dns",
        description="ECS Fargate flask-backend and flask-worker discovering each other through AWS Cloud Map",
    )
    # Its own namespace name (context key social_namespace), so both stacks fit in one account.
    SocialNetworkStack(
        app,
        "SocialNetwork",
        namespace_name=app.node.try_get_context("social_namespace") or "social",
        # None keeps each service's own discovery from the topology file.
        discovery=discovery,
        description="The social network of topologies/social-network.yaml: ECS Fargate services finding each other "
        "through AWS Cloud Map",
    )


def add_policy_checks(app: cdk.App) -> None:
    """cdk-nag's AwsSolutions rules and this library's service discovery rules, as policy
    validation plugins over every stack of ``app``."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServiceDiscoveryChecks(app))


def synth_checked(app: cdk.App) -> int:
    """Synthesize; 1 when a policy validation plugin reported a violation.

    Under the CDK CLI the app runs in "process" mode: aws-cdk-lib prints the report and marks
    only its Node.js process as failed, so the Python process would exit 0. The report in the
    cloud assembly is what decides.
    """
    assembly = app.synth()
    report_file = Path(assembly.directory) / "validation-report.json"
    if not report_file.is_file():
        print(f"error: aws-cdk-lib wrote no validation report in {assembly.directory}", file=sys.stderr)
        return 1
    failed = [
        violation["ruleName"]
        for plugin in json.loads(report_file.read_text())["pluginReports"]
        if plugin["conclusion"] != "success"
        for violation in plugin["violations"]
    ]
    if failed:
        print(f"error: policy validation failed ({', '.join(failed)}); see {report_file}", file=sys.stderr)
        return 1
    return 0


def main() -> int:
    app = cdk.App()
    add_policy_checks(app)
    try:
        build(app)
    except ValidationError as error:
        # A user's mistake: one clear line, not a Python/jsii stack trace.
        print(f"error: {error}", file=sys.stderr)
        return 1
    return synth_checked(app)


if __name__ == "__main__":
    sys.exit(main())
