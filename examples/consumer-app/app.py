#!/usr/bin/env python3
"""A CDK app of its own that uses ecs-service-discovery as a library.

It brings its own VPC and ECS cluster, creates a namespace ``shop`` with ``web`` calling
``cart`` by DNS, and adds ``audit`` to a namespace that already exists (imported by ID).
"""

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace

# Stand-in images from a public registry (synth needs no Docker): nginx answering on 8080
# as a non-root user. Put your own here, e.g. ecs.ContainerImage.from_asset("services/cart").
IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine")
# nginx writes its pid and temp files under /tmp, and this image declares no VOLUME for it (on
# Fargate the /tmp volume is then root-owned): the stand-in keeps a writable root filesystem.
# An image with VOLUME ["/tmp"] (as the repository's services/) keeps the read-only default.

app = cdk.App()
stack = cdk.Stack(app, "ConsumerApp", description="Three discoverable Fargate services (ecs-service-discovery example)")

vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)

shop = DiscoveryNamespace(stack, "Shop", vpc=vpc, name="shop")
cart = DiscoverableFargateService(
    stack,
    "Cart",
    cluster=cluster,
    namespace=shop,
    name="cart",
    image=IMAGE,
    health_check_path="/",
    readonly_root_filesystem=False,
)
web = DiscoverableFargateService(
    stack,
    "Web",
    cluster=cluster,
    namespace=shop,
    name="web",
    image=IMAGE,
    health_check_path="/",
    readonly_root_filesystem=False,
)
# web may call cart.shop:8080; web's container gets CART_HOST, CART_SERVICE and CART_PORT.
web.connect_to(cart)

# A namespace that already exists (another team's or stack's): nothing is created, audit
# registers in it. Deploying needs its real ID: cdk deploy -c shared_namespace_id=ns-...
shared_namespace_id = app.node.try_get_context("shared_namespace_id")
if shared_namespace_id is None:
    shared_namespace_id = "ns-0123456789abcdef0"  # a placeholder, so that `cdk synth` runs as is
    cdk.Annotations.of(stack).add_warning_v2(
        "consumer-app:sharedNamespaceId", "no -c shared_namespace_id=ns-...: audit uses a placeholder namespace ID"
    )
shared = DiscoveryNamespace.from_attributes(
    stack,
    "Shared",
    name=app.node.try_get_context("shared_namespace_name") or "corp",
    namespace_id=shared_namespace_id,
    namespace_arn=stack.format_arn(service="servicediscovery", resource="namespace", resource_name=shared_namespace_id),
)
DiscoverableFargateService(
    stack,
    "Audit",
    cluster=cluster,
    namespace=shared,
    name="audit",
    image=IMAGE,
    health_check_path="/",
    readonly_root_filesystem=False,
    desired_count=1,
)

app.synth()
