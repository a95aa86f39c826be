#!/usr/bin/env python3
"""A CDK app of its own with services in two AWS accounts that find each other through one shared
Cloud Map namespace (docs/cross-account.md).

* ``CrossAccountOwner`` (the owner account): the VPC 10.1.0.0/16, the namespace ``corp``, its RAM
  share with the consumer account, and ``worker``, which accepts calls from the consumer's VPC.
* ``CrossAccountConsumer`` (the consumer account): the VPC 10.2.0.0/16 and ``backend``, registered in
  the shared namespace, calling ``worker`` by name and reading the namespace through the Cloud Map API.

Context (``cdk synth -c key=value``), with the values ``cdk synth`` uses as is:

* ``discovery``: ``dns`` (A and SRV records; the default) or ``service-connect`` (both services
  through ECS Service Connect, and the share grants AWSRAMPermissionCloudMapECSFullPermission).
* ``owner_account``, ``consumer_account``, ``region``: default 111111111111, 222222222222, eu-west-1.
* ``namespace_arn``: the owner stack's output ``NamespaceArn``; default: a placeholder ARN.
* ``zone_associated``: ``true`` when the owner's hosted zone is (or is about to be) associated with the consumer's VPC
  (README, step 4). DNS mode needs it: the consumer's tasks resolve ``worker.corp`` only then.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery

from ecs_service_discovery import (
    DiscoverableFargateService,
    DiscoveryNamespace,
    LogEncryptionKey,
    SharedNamespace,
    SharePermission,
    ValidationError,
)
from ecs_service_discovery.constructs import CdkProviderFunctionFindings

# Stand-in image from a public registry (synth needs no Docker): nginx answering on 8080 as a
# non-root user. It writes /tmp and declares no VOLUME for it, so it keeps a writable root.
IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine")
OWNER_CIDR, CONSUMER_CIDR = "10.1.0.0/16", "10.2.0.0/16"
WORKER_PORT = 8080
MODES = ("dns", "service-connect")
PLACEHOLDER_NAMESPACE_ID = "ns-0123456789abcdef"


def _vpc(stack: cdk.Stack, cidr: str) -> ec2.Vpc:
    """A VPC over two zones with flow logs (encrypted, one month), as the project's own stacks have."""
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, ip_addresses=ec2.IpAddresses.cidr(cidr))
    key = LogEncryptionKey(stack, "LogEncryptionKey")
    flow_logs = logs.LogGroup(stack, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, encryption_key=key)
    vpc.add_flow_log(
        "FlowLog",
        destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
        traffic_type=ec2.FlowLogTrafficType.ALL,
    )
    # The custom resource provider the VPC adds (restrictDefaultSecurityGroup): its documented findings.
    CdkProviderFunctionFindings.add_to_providers_of(stack)
    return vpc


class OwnerStack(cdk.Stack):
    """The namespace, its share with the consumer account, and ``worker``."""

    def __init__(
        self, scope: cdk.App, construct_id: str, *, consumer_account: str, mode: str, env: cdk.Environment
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            env=env,
            description=f"Owner account: namespace corp, its RAM share and worker ({mode})",
        )
        vpc = _vpc(self, OWNER_CIDR)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.namespace = DiscoveryNamespace(self, "Corp", vpc=vpc, name="corp")
        self.share = self.namespace.share_with(
            "Share",
            principals=[consumer_account],
            permission=SharePermission.SERVICE_CONNECT if mode == "service-connect" else SharePermission.DNS,
        )
        self.worker = DiscoverableFargateService(
            self,
            "Worker",
            cluster=cluster,
            namespace=self.namespace,
            name="worker",
            image=IMAGE,
            container_port=WORKER_PORT,
            health_check_path="/",
            readonly_root_filesystem=False,
            discovery=mode,
        )
        # The consumer's tasks call from their own VPC: security group IDs do not cross accounts.
        self.worker.connections.allow_from(
            ec2.Peer.ipv4(CONSUMER_CIDR), ec2.Port.tcp(WORKER_PORT), "backend (consumer account) calls worker"
        )
        cdk.CfnOutput(self, "NamespaceArn", value=self.namespace.namespace_arn)
        # The private hosted zone the consumer's VPC is associated with (README, step 4).
        created = self.namespace.namespace
        assert isinstance(created, servicediscovery.PrivateDnsNamespace)
        cdk.CfnOutput(self, "HostedZoneId", value=created.namespace_hosted_zone_id)
        cdk.CfnOutput(self, "VpcId", value=vpc.vpc_id)


class ConsumerStack(cdk.Stack):
    """``backend``, in the namespace the owner shares with this account."""

    def __init__(
        self,
        scope: cdk.App,
        construct_id: str,
        *,
        namespace_arn: str,
        mode: str,
        zone_associated: bool,
        env: cdk.Environment,
    ) -> None:
        super().__init__(
            scope, construct_id, env=env, description=f"Consumer account: backend in the shared namespace corp ({mode})"
        )
        vpc = _vpc(self, CONSUMER_CIDR)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        service_connect = mode == "service-connect"
        self.namespace = SharedNamespace.from_namespace_arn(
            self,
            "Corp",
            namespace_arn=namespace_arn,
            name="corp",
            # By DNS, this VPC resolves worker.corp once the owner's zone is associated with it;
            # Service Connect needs no hosted zone.
            vpc=None if service_connect else vpc,
            vpc_associated=zone_associated and not service_connect,
            permission=SharePermission.SERVICE_CONNECT if service_connect else SharePermission.DNS,
        )
        self.backend = DiscoverableFargateService(
            self,
            "Backend",
            cluster=cluster,
            namespace=self.namespace,
            name="backend",
            image=IMAGE,
            health_check_path="/",
            readonly_root_filesystem=False,
            discovery=mode,
        )
        # WORKER_HOST=worker.corp and WORKER_PORT=8080, and an egress rule to the owner's VPC on 8080.
        self.backend.connect_to_name(
            "worker", port=WORKER_PORT, peer=ec2.Peer.ipv4(OWNER_CIDR), service_connect=service_connect
        )
        # The backend's page lists the namespace through the Cloud Map API, across accounts.
        self.namespace.grant_discover_read(self.backend)
        cdk.CfnOutput(self, "VpcId", value=vpc.vpc_id)


def build(app: cdk.App) -> tuple[OwnerStack, ConsumerStack]:
    """Both stacks, from ``app``'s context (see the module docstring)."""
    context = app.node.try_get_context
    mode = str(context("discovery") or "dns")
    if mode not in MODES:
        raise ValidationError(
            f"discovery={mode!r} is not valid: expected one of {list(MODES)} (cdk synth -c discovery=dns)"
        )
    owner_account = str(context("owner_account") or "111111111111")
    consumer_account = str(context("consumer_account") or "222222222222")
    region = str(context("region") or "eu-west-1")
    namespace_arn = str(
        context("namespace_arn")
        or f"arn:aws:servicediscovery:{region}:{owner_account}:namespace/{PLACEHOLDER_NAMESPACE_ID}"
    )
    zone_associated = str(context("zone_associated") or "false").lower() == "true"
    owner = OwnerStack(
        app,
        "CrossAccountOwner",
        consumer_account=consumer_account,
        mode=mode,
        env=cdk.Environment(account=owner_account, region=region),
    )
    consumer = ConsumerStack(
        app,
        "CrossAccountConsumer",
        namespace_arn=namespace_arn,
        mode=mode,
        zone_associated=zone_associated,
        env=cdk.Environment(account=consumer_account, region=region),
    )
    return owner, consumer


if __name__ == "__main__":
    cdk_app = cdk.App()
    try:
        build(cdk_app)
    except ValidationError as error:
        # A mistake (an unassociated VPC, Service Connect without its permission) ends synth in one line.
        raise SystemExit(f"error: {error}") from None
    cdk_app.synth()
