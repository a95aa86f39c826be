"""The peer: the backend/worker system written by hand with plain aws-cdk-lib.

What a user would write instead of this library, with the L2 constructs' own Cloud Map
support: a VPC over 2 AZs, a cluster, the private DNS namespace ``corp``, and for each of
``worker`` and ``backend`` a log group (one month), a Fargate task definition and a Fargate
service registered in Cloud Map (A records, TTL 10 s) with a container health check. The
backend may reach the worker's port (security group rule), gets the worker's DNS name in
its environment, and may list the namespace for its /services page, as in the project's stack.

It does not have what the library adds by default (KMS-encrypted logs, VPC flow logs, SRV
records, target-tracking scaling, hardened containers): the benchmark reports resource counts
next to the times so the difference in output is visible.
"""

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
PORT = 8080


class PlainBackendWorkerStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        namespace = servicediscovery.PrivateDnsNamespace(self, "Namespace", name="corp", vpc=vpc)

        worker = self.service("Worker", "worker", "flask-worker", cluster, namespace, {})
        backend = self.service(
            "Backend",
            "backend",
            "flask-backend",
            cluster,
            namespace,
            {"WORKER_HOST": "worker.corp", "WORKER_PORT": str(PORT), "NAMESPACE_ID": namespace.namespace_id},
        )
        worker.connections.allow_from(backend, ec2.Port.tcp(PORT), "backend calls worker")
        backend.task_definition.add_to_task_role_policy(
            iam.PolicyStatement(actions=["servicediscovery:ListServices"], resources=["*"])
        )
        worker_cloud_map = worker.cloud_map_service
        assert worker_cloud_map is not None  # set by cloud_map_options
        backend.task_definition.add_to_task_role_policy(
            iam.PolicyStatement(
                actions=["servicediscovery:ListInstances", "servicediscovery:GetInstancesHealthStatus"],
                resources=[worker_cloud_map.service_arn],
            )
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
        log_group = logs.LogGroup(self, f"{construct_id}Logs", retention=logs.RetentionDays.ONE_MONTH)
        task_definition = ecs.FargateTaskDefinition(
            self, f"{construct_id}TaskDefinition", cpu=256, memory_limit_mib=512
        )
        task_definition.add_container(
            name,
            image=ecs.ContainerImage.from_asset(str(SERVICES_DIR / folder)),
            port_mappings=[ecs.PortMapping(container_port=PORT)],
            environment={"SERVICE_NAME": name, "NAMESPACE": "corp", **environment},
            logging=ecs.LogDriver.aws_logs(stream_prefix=name, log_group=log_group),
            health_check=ecs.HealthCheck(
                command=[
                    "CMD-SHELL",
                    f"python3 -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/health')\"",
                ],
                interval=cdk.Duration.seconds(10),
                timeout=cdk.Duration.seconds(5),
            ),
        )
        return ecs.FargateService(
            self,
            f"{construct_id}Service",
            cluster=cluster,
            task_definition=task_definition,
            desired_count=2,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            cloud_map_options=ecs.CloudMapOptions(
                name=name,
                cloud_map_namespace=namespace,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=cdk.Duration.seconds(10),
            ),
        )


app = cdk.App()
PlainBackendWorkerStack(app, "PlainBackendWorker")
app.synth()
