"""Two apps in two AWS accounts sharing one Cloud Map namespace, with the repository's own images, for
the local run (tests/local/test_two_account_run.py): ``python -m tests.local.two_account_app``.

It is wired as examples/cross-account/app.py is (the owner's namespace ``corp``, its RAM share and
``worker``; the consumer's ``backend`` in the shared namespace by ARN, calling ``worker`` by name and
reading the namespace), but its images are built from services/ (``flask-worker``, ``flask-backend``),
which the local run starts with gunicorn; the example's images come from a public registry.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, SharedNamespace
from stacks.images import service_image

OWNER_ACCOUNT, CONSUMER_ACCOUNT, REGION = "111111111111", "222222222222", "eu-west-1"
OWNER_STACK, CONSUMER_STACK = "TwoAccountOwner", "TwoAccountConsumer"
OWNER_CIDR, CONSUMER_CIDR = "10.1.0.0/16", "10.2.0.0/16"
WORKER_PORT = 8080
#: What the consumer's deployer passes from the owner stack's output NamespaceArn; on AWS the real ID.
NAMESPACE_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER_ACCOUNT}:namespace/ns-0123456789abcdef"


def _cluster(stack: cdk.Stack, cidr: str) -> tuple[ec2.Vpc, ecs.Cluster]:
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, ip_addresses=ec2.IpAddresses.cidr(cidr))
    return vpc, ecs.Cluster(stack, "Cluster", vpc=vpc)


def build(app: cdk.App) -> tuple[cdk.Stack, cdk.Stack]:
    for account in (OWNER_ACCOUNT, CONSUMER_ACCOUNT):
        # What `cdk synth` would have looked up and kept in cdk.context.json.
        app.node.set_context(
            f"availability-zones:account={account}:region={REGION}", [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        )

    owner = cdk.Stack(app, OWNER_STACK, env=cdk.Environment(account=OWNER_ACCOUNT, region=REGION))
    vpc, cluster = _cluster(owner, OWNER_CIDR)
    namespace = DiscoveryNamespace(owner, "Corp", vpc=vpc, name="corp")
    namespace.share_with("Share", principals=[CONSUMER_ACCOUNT])
    worker = DiscoverableFargateService(
        owner,
        "Worker",
        cluster=cluster,
        namespace=namespace,
        name="worker",
        container_name="flask-worker",
        image=service_image("flask-worker"),
        container_port=WORKER_PORT,
    )
    worker.connections.allow_from(ec2.Peer.ipv4(CONSUMER_CIDR), ec2.Port.tcp(WORKER_PORT), "backend calls worker")
    cdk.CfnOutput(owner, "NamespaceArn", value=namespace.namespace_arn)

    consumer = cdk.Stack(app, CONSUMER_STACK, env=cdk.Environment(account=CONSUMER_ACCOUNT, region=REGION))
    vpc, cluster = _cluster(consumer, CONSUMER_CIDR)
    shared = SharedNamespace.from_namespace_arn(
        consumer, "Corp", namespace_arn=NAMESPACE_ARN, name="corp", vpc=vpc, vpc_associated=True
    )
    backend = DiscoverableFargateService(
        consumer,
        "Backend",
        cluster=cluster,
        namespace=shared,
        name="backend",
        container_name="flask-backend",
        image=service_image("flask-backend"),
    )
    backend.connect_to_name("worker", port=WORKER_PORT, peer=ec2.Peer.ipv4(OWNER_CIDR))
    shared.grant_discover_read(backend)
    return owner, consumer


if __name__ == "__main__":
    cdk_app = cdk.App()
    build(cdk_app)
    cdk_app.synth()
