#!/usr/bin/env python3
"""The CDK app: `npx cdk synth` (or `make synth`) runs this file."""

import aws_cdk as cdk

from ecs_service_discovery import ServiceDiscoveryStack

app = cdk.App()
ServiceDiscoveryStack(
    app,
    "ServiceDiscovery",
    namespace_name=app.node.try_get_context("namespace") or "corp",
    description="ECS Fargate flask-backend and flask-worker discovering each other through AWS Cloud Map",
)
app.synth()
