#!/usr/bin/env python3
"""The CDK app: `npx cdk synth` (or `make synth`) runs this file."""

import sys

import aws_cdk as cdk

from ecs_service_discovery import ServiceDiscoveryStack, ValidationError


def build(app: cdk.App) -> None:
    ServiceDiscoveryStack(
        app,
        "ServiceDiscovery",
        namespace_name=app.node.try_get_context("namespace") or "corp",
        description="ECS Fargate flask-backend and flask-worker discovering each other through AWS Cloud Map",
    )


def main() -> int:
    app = cdk.App()
    try:
        build(app)
    except ValidationError as error:
        # A user's mistake: one clear line, not a Python/jsii stack trace.
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
