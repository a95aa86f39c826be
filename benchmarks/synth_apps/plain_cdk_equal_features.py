"""The equal-features peer: ServiceDiscoveryStack's system written by hand with plain aws-cdk-lib.

What a user would write to get the same deployed system without this library, and the
yardstick of the benchmark's "library at most 1.0x plain aws-cdk-lib" target. It writes the
same CloudFormation resources (types and counts; the benchmark checks that on every run) with
the same properties:

* one KMS key (rotation on) that CloudWatch Logs of this account and region may use, encrypting
  every log group (one month);
* a VPC over 2 AZs with flow logs (all traffic) to an encrypted log group, an ECS cluster with
  Container Insights, the private DNS namespace ``corp`` (SOA TTL 15 s);
* for ``worker`` and ``backend``: a Fargate task definition whose container runs as UID 10001
  with a read-only root filesystem, a ``/tmp`` scratch volume, all capabilities dropped, an init
  process, a 45 s stop timeout and a container health check; a security group that allows only
  HTTPS out; a Fargate service in the private subnets (circuit breaker with rollback, 60 s grace
  period, tags propagated) registered in Cloud Map with an A and an SRV record (TTL 10 s,
  MULTIVALUE, ECS-managed health, tagged with the namespace ID); CPU target-tracking scaling from
  2 to 10 tasks;
* the backend may call the worker's port (an ingress rule on the worker, an egress rule on the
  backend), gets the worker's DNS name in its environment, and may list the namespace's services
  and read the instances of services tagged with the namespace's ID for its /services page.

The images are built as the stack's are (one ``services/`` build context, the app's Dockerfile
and its per-Dockerfile ignore file as the asset's exclude), so the asset hashing is the same
work. What it leaves out is not in the deployed system: the library's parameter checks, cdk-nag
acknowledgements and checkov skip metadata.
"""

from pathlib import Path
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
NAMESPACE = "corp"
PORT = 8080
NAMESPACE_TAG = "ecs-service-discovery:namespace-id"
HEALTH_CHECK = (
    "unset http_proxy HTTP_PROXY all_proxy ALL_PROXY; url='http://127.0.0.1:8080/health'; "
    "if command -v python3 >/dev/null 2>&1; then python3 -I -c 'import sys, urllib.request as r; "
    'r.build_opener(r.ProxyHandler({})).open(sys.argv[1], timeout=3)\' "$url"; '
    'elif command -v curl >/dev/null 2>&1; then curl -fsSg --max-time 3 -o /dev/null "$url"; '
    'else wget -q -T 3 -O /dev/null "$url"; fi || exit 1'
)


def image(app: str) -> ecs.ContainerImage:
    """``services/<app>``'s image from the services/ context, excluding what its ignore file lists."""
    ignore_file = SERVICES_DIR / app / "Dockerfile.dockerignore"
    lines = (line.strip() for line in ignore_file.read_text().splitlines())
    return ecs.ContainerImage.from_asset(
        str(SERVICES_DIR),
        file=f"{app}/Dockerfile",
        exclude=[line for line in lines if line and not line.startswith("#")],
        ignore_mode=cdk.IgnoreMode.DOCKER,
    )


class PlainEqualFeaturesStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "LogEncryptionKey",
            description=f"Encrypts the CloudWatch Logs log groups of {construct_id}",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchLogsOfThisAccountAndRegion",
                # cast: jsii stubs name a parameter differently in ServicePrincipal and IPrincipal.
                principals=[cast(iam.IPrincipal, iam.ServicePrincipal(f"logs.{cdk.Aws.REGION}.amazonaws.com"))],
                actions=[
                    "kms:Decrypt",
                    "kms:DescribeKey",
                    "kms:Encrypt",
                    "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext",
                    "kms:ReEncryptFrom",
                    "kms:ReEncryptTo",
                ],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        flow_log_group = logs.LogGroup(
            self, "FlowLogGroup", retention=logs.RetentionDays.ONE_MONTH, encryption_key=self.key
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED)
        namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=NAMESPACE, vpc=vpc, description=f"Service discovery namespace {NAMESPACE}"
        )
        # A short negative-caching TTL (the SOA record's): the L2 has no option for it.
        cfn_namespace = namespace.node.default_child
        assert isinstance(cfn_namespace, servicediscovery.CfnPrivateDnsNamespace)
        cfn_namespace.add_property_override("Properties.DnsProperties.SOA.TTL", 15)
        self.namespace_id = namespace.namespace_id

        worker = self.service("Worker", "worker", "flask-worker", cluster, namespace, {})
        backend = self.service(
            "Backend",
            "backend",
            "flask-backend",
            cluster,
            namespace,
            {
                "WORKER_HOST": f"worker.{NAMESPACE}",
                "WORKER_SERVICE": "worker",
                "WORKER_PORT": str(PORT),
                "NAMESPACE_ID": namespace.namespace_id,
                "AWS_REGION": self.region,
            },
        )
        worker.connections.allow_from(backend, ec2.Port.tcp(PORT), "backend calls worker")
        # The backend's /services page reads the namespace: services tagged with its ID, whatever their number.
        any_service = self.format_arn(service="servicediscovery", resource="service", resource_name="*")
        task_role = backend.task_definition.task_role
        iam.Grant.add_to_principal(grantee=task_role, actions=["servicediscovery:ListServices"], resource_arns=["*"])
        iam.Grant.add_to_principal(
            grantee=task_role,
            actions=["servicediscovery:GetInstancesHealthStatus", "servicediscovery:ListInstances"],
            resource_arns=[any_service],
            conditions={"StringEquals": {f"aws:ResourceTag/{NAMESPACE_TAG}": namespace.namespace_id}},
        )
        iam.Grant.add_to_principal(
            grantee=task_role,
            actions=["servicediscovery:DiscoverInstances", "servicediscovery:DiscoverInstancesRevision"],
            resource_arns=[namespace.namespace_arn, any_service],
        )

    def service(
        self,
        construct_id: str,
        name: str,
        folder: str,
        cluster: ecs.Cluster,
        namespace: servicediscovery.PrivateDnsNamespace,
        environment: dict[str, str],
    ) -> ecs.FargateService:
        log_group = logs.LogGroup(
            self, f"{construct_id}LogGroup", retention=logs.RetentionDays.ONE_MONTH, encryption_key=self.key
        )
        task_definition = ecs.FargateTaskDefinition(
            self,
            f"{construct_id}TaskDefinition",
            cpu=256,
            memory_limit_mib=512,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        linux_parameters = ecs.LinuxParameters(self, f"{construct_id}LinuxParameters", init_process_enabled=True)
        linux_parameters.drop_capabilities(ecs.Capability.ALL)
        container = task_definition.add_container(
            folder,
            image=image(folder),
            port_mappings=[ecs.PortMapping(container_port=PORT)],
            # STOP_DRAIN_SECONDS: the apps keep answering this long after SIGTERM (DNS TTL + 5 s).
            environment={"SERVICE_NAME": name, "NAMESPACE": NAMESPACE, "STOP_DRAIN_SECONDS": "15", **environment},
            logging=ecs.LogDriver.aws_logs(stream_prefix=name, log_group=log_group),
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", HEALTH_CHECK],
                interval=cdk.Duration.seconds(10),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(15),
            ),
            user="10001",
            readonly_root_filesystem=True,
            privileged=False,
            linux_parameters=linux_parameters,
            stop_timeout=cdk.Duration.seconds(45),
        )
        task_definition.add_volume(name="tmp")
        container.add_mount_points(ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False))

        security_group = ec2.SecurityGroup(
            self,
            f"{construct_id}SecurityGroup",
            vpc=cluster.vpc,
            description=f"Tasks of {name}.{NAMESPACE}: ingress only from services that connect_to it",
            allow_all_outbound=False,
        )
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and ECR")
        service = ecs.FargateService(
            self,
            f"{construct_id}Service",
            cluster=cluster,
            task_definition=task_definition,
            desired_count=2,
            security_groups=[security_group],
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=cdk.Duration.seconds(60),
            propagate_tags=ecs.PropagatedTagSource.SERVICE,
            enable_execute_command=False,
            cloud_map_options=ecs.CloudMapOptions(
                name=name,
                cloud_map_namespace=namespace,
                container=container,
                container_port=PORT,
                dns_record_type=servicediscovery.DnsRecordType.SRV,
                dns_ttl=cdk.Duration.seconds(10),
            ),
        )
        # aws-cdk-lib's Cloud Map service takes one record type: the A record is added to the SRV one.
        cloud_map_service = service.cloud_map_service
        assert cloud_map_service is not None
        cfn_cloud_map_service = cloud_map_service.node.default_child
        assert isinstance(cfn_cloud_map_service, servicediscovery.CfnService)
        cfn_cloud_map_service.add_property_override(
            "DnsConfig.DnsRecords", [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]
        )
        cfn_cloud_map_service.tags.set_tag(NAMESPACE_TAG, self.namespace_id)
        scaling = service.auto_scale_task_count(min_capacity=2, max_capacity=10)
        scaling.scale_on_cpu_utilization(
            "CpuScaling",
            target_utilization_percent=70,
            scale_in_cooldown=cdk.Duration.seconds(120),
            scale_out_cooldown=cdk.Duration.seconds(60),
        )
        return service


def main() -> None:
    app = cdk.App()
    PlainEqualFeaturesStack(app, "PlainEqualFeatures")
    app.synth()


# A guard, so that tests/unit/test_jsii_budget.py can build the stack without synthesizing it.
if __name__ == "__main__":
    main()
