"""ServiceDiscoveryStack: the seed system, flask-backend calling flask-worker by DNS."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs
from constructs import Construct

from ecs_service_discovery.constructs import (
    CdkProviderFunctionFindings,
    DiscoverableFargateService,
    Discovery,
    DiscoveryNamespace,
    LogEncryptionKey,
)
from ecs_service_discovery.validation import check_dns_name
from stacks.images import service_image


class DiscoveryPlatformStack(Stack):
    """What every system of discoverable services needs once: a VPC over 2 AZs, an ECS cluster and
    a Cloud Map namespace. The stacks of this package extend it and add their services.

    Secure by default: VPC flow logs (all traffic) and every container log group are encrypted
    with one shared :class:`LogEncryptionKey` and kept one month; the cluster has Container
    Insights; the VPC's default security group is emptied (aws-cdk-lib's custom resource, tidied
    by :class:`CdkProviderFunctionFindings`).

    :param namespace_name: the Cloud Map namespace. Default: ``"corp"``.
    :param stack_kwargs: passed to ``aws_cdk.Stack`` (``env``, ``description``, ...).
        Without ``env`` the stack stays environment-agnostic.

    Attributes: ``vpc``, ``cluster``, ``namespace``, ``log_encryption_key``, ``flow_log_group``.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, namespace_name: str = "corp", **stack_kwargs: Any
    ) -> None:
        check_dns_name("namespace_name", namespace_name)
        super().__init__(scope, construct_id, **stack_kwargs)

        # One key for all log groups of the stack: a KMS key per service would cost a resource and a fee each.
        self.log_encryption_key = LogEncryptionKey(self, "LogEncryptionKey")
        self.vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            retention=logs.RetentionDays.ONE_MONTH,
            encryption_key=self.log_encryption_key,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        # The provider the VPC adds (restrictDefaultSecurityGroup); an aspect on the whole stack
        # would be called back from Node.js for every construct, a second per 5,000 constructs.
        CdkProviderFunctionFindings.add_to_providers_of(self)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        self.namespace = DiscoveryNamespace(self, "Namespace", vpc=self.vpc, name=namespace_name)


class ServiceDiscoveryStack(DiscoveryPlatformStack):
    """The seed system: a :class:`DiscoveryPlatformStack` (VPC over 2 AZs, ECS cluster,
    namespace) with ``flask-backend`` (``backend.<namespace>``) connected to ``flask-worker``
    (``worker.<namespace>``).

    :param namespace_name: the Cloud Map namespace. Default: ``"corp"``.
    :param discovery: how both services are found (``"dns"``, ``"service-connect"``, ``"both"``,
        or a :class:`Discovery`). Default: ``Discovery.DNS``.
    :param stack_kwargs: passed to ``aws_cdk.Stack`` (``env``, ``description``, ...).
        Without ``env`` the stack stays environment-agnostic.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        namespace_name: str = "corp",
        discovery: Discovery | str = Discovery.DNS,
        **stack_kwargs: Any,
    ) -> None:
        # Checked before the stack exists, as namespace_name is.
        discovery = Discovery.parse("discovery", discovery)
        super().__init__(scope, construct_id, namespace_name=namespace_name, **stack_kwargs)
        self.worker = DiscoverableFargateService(
            self,
            "Worker",
            cluster=self.cluster,
            namespace=self.namespace,
            name="worker",
            container_name="flask-worker",
            image=service_image("flask-worker"),
            log_encryption_key=self.log_encryption_key,
            discovery=discovery,
        )
        self.backend = DiscoverableFargateService(
            self,
            "Backend",
            cluster=self.cluster,
            namespace=self.namespace,
            name="backend",
            container_name="flask-backend",
            image=service_image("flask-backend"),
            log_encryption_key=self.log_encryption_key,
            discovery=discovery,
        )
        self.backend.connect_to(self.worker)
        # The backend's /services page lists the namespace through the Cloud Map API.
        self.namespace.grant_discover_read(self.backend)
