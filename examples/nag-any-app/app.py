#!/usr/bin/env python3
"""A CDK app written with aws-cdk-lib only, checked by cdk-nag's AwsSolutions pack and by ServiceDiscoveryChecks.

It does not use this library's constructs: a VPC, an ECS cluster, a Cloud Map private DNS
namespace ``shop`` and two Fargate services registered in it with ``cloud_map_options``,
``web`` calling ``cart``. Each setting that a rule asks for carries a comment naming the rule;
``report``, a batch job, keeps a long TTL and acknowledges that finding with its reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from ecs_service_discovery.nag import ServiceDiscoveryChecks

# A public image answering on 8080 as a non-root user (synth needs no Docker): put your own here.
IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:1.27-alpine"
PORT = 8080
# Callers drop a stopped task's address within 10 s (ServiceDiscovery-SD1 asks for at most 60 s) ...
DNS_TTL = cdk.Duration.seconds(10)
# ... and resolvers forget "no such name" as fast (ServiceDiscovery-SD7).
NEGATIVE_CACHE_TTL_SECONDS = 10


class ShopStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, description: str) -> None:
        super().__init__(scope, construct_id, description=description)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2, flow_logs={"All": ec2.FlowLogOptions()})  # AwsSolutions-VPC7
        cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )  # AwsSolutions-ECS4
        namespace = servicediscovery.PrivateDnsNamespace(self, "Namespace", name="shop", vpc=vpc)
        # aws-cdk-lib's PrivateDnsNamespace has no SOA option: set it on the L1 (ServiceDiscovery-SD7).
        cfn_namespace = namespace.node.default_child
        assert isinstance(cfn_namespace, servicediscovery.CfnPrivateDnsNamespace)
        cfn_namespace.properties = servicediscovery.CfnPrivateDnsNamespace.PropertiesProperty(
            dns_properties=servicediscovery.CfnPrivateDnsNamespace.PrivateDnsPropertiesMutableProperty(
                soa=servicediscovery.CfnPrivateDnsNamespace.SOAProperty(ttl=NEGATIVE_CACHE_TTL_SECONDS)
            )
        )
        cart = self.service(cluster, namespace, "cart", max_tasks=20)
        web = self.service(cluster, namespace, "web", max_tasks=20)
        cart.connections.allow_from(web, ec2.Port.tcp(PORT), "web calls cart.shop")

        report = self.service(cluster, namespace, "report", max_tasks=2, dns_ttl=cdk.Duration.minutes(2))
        assert report.cloud_map_service is not None
        cdk.Validations.of(report.cloud_map_service).acknowledge(
            cdk.Acknowledgment(
                id="ServiceDiscovery-SD1",
                reason="report runs hourly batch jobs; its only caller resolves report.shop once per job and "
                "retries on connection errors, so a 2 minute TTL costs nothing",
            )
        )

    def service(
        self,
        cluster: ecs.Cluster,
        namespace: servicediscovery.PrivateDnsNamespace,
        name: str,
        *,
        max_tasks: int,
        dns_ttl: cdk.Duration = DNS_TTL,
    ) -> ecs.FargateService:
        task = ecs.FargateTaskDefinition(self, f"{name.title()}Task", cpu=256, memory_limit_mib=512)
        task.add_container(
            "app",
            image=ecs.ContainerImage.from_registry(IMAGE),
            port_mappings=[ecs.PortMapping(container_port=PORT)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name),  # AwsSolutions-ECS7
            # At least the DNS TTL, so callers that resolved the task before ECS deregistered it
            # are answered while it drains (ServiceDiscovery-SD5; ECS's default is 30 s, Fargate's
            # most 120 s).
            stop_timeout=cdk.Duration.seconds(max(30, int(dns_ttl.to_seconds()))),
        )
        service = ecs.FargateService(
            self,
            name.title(),
            cluster=cluster,
            task_definition=task,
            # A records and a custom health check (ServiceDiscovery-SD2); SRV records would need a
            # container port here (ServiceDiscovery-SD3).
            cloud_map_options=ecs.CloudMapOptions(name=name, cloud_map_namespace=namespace, dns_ttl=dns_ttl),
            # Deployments start new tasks before stopping old ones, and roll back when they fail.
            min_healthy_percent=100,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
        )
        # A Cloud Map service holds at most 1,000 instances (ServiceDiscovery-SD4).
        service.auto_scale_task_count(max_capacity=max_tasks).scale_on_cpu_utilization(
            "Cpu", target_utilization_percent=60
        )
        return service


def build(app: cdk.App) -> ShopStack:
    """Both packs as policy validation plugins of ``app``, and the stack."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServiceDiscoveryChecks(app))
    return ShopStack(app, "NagAnyApp", description="aws-cdk-lib services in Cloud Map, checked by cdk-nag")


def main() -> int:
    app = cdk.App()
    build(app)
    assembly = app.synth()
    # Under the CDK CLI a failed validation marks only aws-cdk-lib's Node.js process as failed:
    # the report decides this process's exit code.
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    failed = [
        violation["ruleName"]
        for plugin in report["pluginReports"]
        if plugin["conclusion"] != "success"
        for violation in plugin["violations"]
    ]
    if failed:
        print(f"error: policy validation failed ({', '.join(failed)})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
