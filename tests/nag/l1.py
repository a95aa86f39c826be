"""L1 resources as a template written by hand (or by another tool) has them, for the rule tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

NAMESPACE_ID = "ns-0123456789abcdef0"


def cloud_map_service(
    scope: Construct,
    construct_id: str = "CloudMapService",
    *,
    name: str = "api",
    records: Mapping[str, Any] | None = None,
    custom_health_check: bool = True,
    namespace_id: str = NAMESPACE_ID,
) -> servicediscovery.CfnService:
    """A DNS Cloud Map service; ``records`` maps record type to TTL (default: A of 10 s)."""
    return servicediscovery.CfnService(
        scope,
        construct_id,
        name=name,
        namespace_id=namespace_id,
        dns_config=servicediscovery.CfnService.DnsConfigProperty(
            dns_records=[
                servicediscovery.CfnService.DnsRecordProperty(type=kind, ttl=ttl)
                for kind, ttl in (records or {"A": 10}).items()
            ],
            routing_policy="MULTIVALUE",
        ),
        health_check_custom_config=(
            servicediscovery.CfnService.HealthCheckCustomConfigProperty(failure_threshold=1)
            if custom_health_check
            else None
        ),
    )


def task_definition(
    scope: Construct, construct_id: str = "TaskDefinition", *, containers: Sequence[Mapping[str, Any]] = ()
) -> ecs.CfnTaskDefinition:
    """A Fargate task definition; each container is ``{"name": ..., "stop_timeout": ..., "essential": ...}``."""
    return ecs.CfnTaskDefinition(
        scope,
        construct_id,
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu="256",
        memory="512",
        container_definitions=[
            ecs.CfnTaskDefinition.ContainerDefinitionProperty(
                name=container["name"],
                image="public.ecr.aws/docker/library/python:3.12-slim",
                essential=container.get("essential"),
                stop_timeout=container.get("stop_timeout"),
                port_mappings=[ecs.CfnTaskDefinition.PortMappingProperty(container_port=8080)],
            )
            for container in (containers or [{"name": "app"}])
        ],
    )


def registry(
    service: servicediscovery.CfnService | str,
    *,
    port: Any = None,
    container_name: str | None = None,
    container_port: Any = None,
) -> ecs.CfnService.ServiceRegistryProperty:
    """A ServiceRegistries entry naming ``service`` (an L1 of the template, or a literal ARN)."""
    return ecs.CfnService.ServiceRegistryProperty(
        registry_arn=service if isinstance(service, str) else service.attr_arn,
        port=port,
        container_name=container_name,
        container_port=container_port,
    )


def ecs_service(
    scope: Construct,
    construct_id: str = "EcsService",
    *,
    registries: Sequence[ecs.CfnService.ServiceRegistryProperty] = (),
    task: ecs.CfnTaskDefinition | None = None,
    desired_count: Any = None,
    service_connect: ecs.CfnService.ServiceConnectConfigurationProperty | None = None,
    cluster: Any = "default",
) -> ecs.CfnService:
    """A Fargate ECS service in ``cluster``."""
    return ecs.CfnService(
        scope,
        construct_id,
        cluster=cluster,
        launch_type="FARGATE",
        task_definition=(task or task_definition(scope)).ref,
        desired_count=desired_count,
        service_registries=list(registries) or None,
        service_connect_configuration=service_connect,
        network_configuration=ecs.CfnService.NetworkConfigurationProperty(
            awsvpc_configuration=ecs.CfnService.AwsVpcConfigurationProperty(subnets=["subnet-0aaaaaaaaaaaaaaa1"])
        ),
    )


def number_parameter(scope: Construct, construct_id: str, default: int) -> float:
    """A template parameter's value: a token, known only at deploy time."""
    return cdk.CfnParameter(scope, construct_id, type="Number", default=default).value_as_number
