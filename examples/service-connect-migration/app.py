#!/usr/bin/env python3
"""A CDK app of its own that moves services from DNS to ECS Service Connect through "both".

Three services in the namespace ``shop``: ``web`` and the nightly ``batch`` job call ``orders``.
The migration step is chosen with context, one deploy per step::

    cdk deploy -c step=1   # DNS: everything as before (the library's default)
    cdk deploy -c step=2   # both: Service Connect beside the DNS records, nothing replaced
                           #   then redeploy web and batch so that their tasks see orders' endpoint
    cdk deploy -c step=3   # Service Connect: orders' DNS records go; batch becomes a client

Callers' code never changes: ``connect_to`` gives ``ORDERS_HOST=orders.shop`` and
``ORDERS_PORT=8080`` at every step (the Service Connect alias is the DNS name).
"""

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import (
    DiscoverableFargateService,
    Discovery,
    DiscoveryNamespace,
    ServiceConnectOptions,
    ValidationError,
)

# Stand-in images from a public registry (synth needs no Docker): nginx answering on 8080 as a
# non-root user. It writes /tmp and declares no VOLUME for it, so it keeps a writable root.
IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine")

#: step -> (orders, web, batch): each service's discovery mode and Service Connect options.
STEPS: dict[str, dict[str, tuple[Discovery, ServiceConnectOptions | None]]] = {
    "1": {
        "orders": (Discovery.DNS, None),
        "web": (Discovery.DNS, None),
        "batch": (Discovery.DNS, None),
    },
    "2": {
        # Access logs while migrating: one line per request through the proxy, in orders' log group.
        "orders": (Discovery.BOTH, ServiceConnectOptions(access_logs=True)),
        "web": (Discovery.BOTH, None),
        # batch is called by nobody: it joins as a client only, and keeps its DNS records.
        "batch": (Discovery.BOTH, ServiceConnectOptions(client_only=True)),
    },
    "3": {
        "orders": (Discovery.SERVICE_CONNECT, ServiceConnectOptions(access_logs=True)),
        "web": (Discovery.SERVICE_CONNECT, None),
        "batch": (Discovery.SERVICE_CONNECT, ServiceConnectOptions(client_only=True)),
    },
}

app = cdk.App()
step = str(app.node.try_get_context("step") or "2")
if step not in STEPS:
    raise SystemExit(f"error: step={step!r} is not valid: expected one of {sorted(STEPS)} (cdk synth -c step=2)")
stack = cdk.Stack(app, "ServiceConnectMigration", description=f"DNS to Service Connect, step {step} of 3")

vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
cluster = ecs.Cluster(stack, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
shop = DiscoveryNamespace(stack, "Shop", vpc=vpc, name="shop")


def service(construct_id: str, name: str) -> DiscoverableFargateService:
    discovery, options = STEPS[step][name]
    return DiscoverableFargateService(
        stack,
        construct_id,  # construct IDs never change between steps: nothing is replaced
        cluster=cluster,
        namespace=shop,
        name=name,
        image=IMAGE,
        health_check_path="/",
        readonly_root_filesystem=False,
        discovery=discovery,
        service_connect=options,
    )


try:
    orders = service("Orders", "orders")
    web = service("Web", "web")
    batch = service("Batch", "batch")
    web.connect_to(orders)
    batch.connect_to(orders)
except ValidationError as error:
    # A step that leaves a caller without a way to reach its callee fails here, at synth.
    raise SystemExit(f"error: {error}") from None

app.synth()
