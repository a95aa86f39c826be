"""The constructs used directly, as a user's own stack would: defaults, options, imported namespaces."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk.assertions import Match, Template

from ecs_service_discovery import (
    DiscoverableFargateService,
    DiscoverableFargateServiceProps,
    DiscoveryNamespace,
    DnsRecords,
    ServiceOptions,
    ServiceScaling,
    ServiceSpec,
)

IMAGE_NAME = "public.ecr.aws/docker/library/python:3.12-slim"


class _OptionsStack(cdk.Stack):
    """One stack exercising every option once, synthesized once for this module."""

    def __init__(self, scope: cdk.App) -> None:
        super().__init__(scope, "Options")
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        image = ecs.ContainerImage.from_registry(IMAGE_NAME)
        imported = DiscoveryNamespace.from_attributes(
            self,
            "Existing",
            name="shared.internal",
            namespace_id="ns-abcd1234efgh5678",
            namespace_arn="arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-abcd1234efgh5678",
        )
        self.a_only = DiscoverableFargateService(
            self, "AOnly", cluster=cluster, namespace=imported, name="a-only", image=image, dns_records=DnsRecords.A
        )
        self.srv_only = DiscoverableFargateService(
            self,
            "SrvOnly",
            cluster=cluster,
            namespace=imported,
            name="srv-only",
            image=image,
            dns_records=DnsRecords.SRV,
            container_port=9000,
            dns_ttl=cdk.Duration.seconds(30),
        )
        self.tuned = DiscoverableFargateService(
            self,
            "Tuned",
            cluster=cluster,
            namespace=imported,
            name="tuned",
            image=image,
            cpu=1024,
            memory_limit_mib=4096,
            desired_count=3,
            environment={"LOG_LEVEL": "debug"},
            scaling=ServiceScaling(min_capacity=2, max_capacity=20, cpu_target_percent=50, memory_target_percent=80),
        )
        self.fixed = DiscoverableFargateService(
            self, "Fixed", cluster=cluster, namespace=imported, name="fixed", image=image, scaling=None
        )
        self.tuned.connect_to(self.srv_only)


@pytest.fixture(scope="module")
def options_stack() -> _OptionsStack:
    return _OptionsStack(cdk.App())


@pytest.fixture(scope="module")
def options_template(options_stack: _OptionsStack) -> Template:
    return Template.from_stack(options_stack)


def _cloud_map(template: Template, name: str) -> dict[str, Any]:
    found = template.find_resources("AWS::ServiceDiscovery::Service", {"Properties": {"Name": name}})
    assert len(found) == 1
    return next(iter(found.values()))["Properties"]


def test_imported_namespace_creates_no_namespace(options_template: Template) -> None:
    options_template.resource_count_is("AWS::ServiceDiscovery::PrivateDnsNamespace", 0)


def test_services_register_in_the_imported_namespace_id(options_template: Template) -> None:
    for name in ("a-only", "srv-only", "tuned", "fixed"):
        assert _cloud_map(options_template, name)["NamespaceId"] == "ns-abcd1234efgh5678"


def test_imported_namespace_gives_dns_names(options_stack: _OptionsStack) -> None:
    assert options_stack.tuned.dns_name == "tuned.shared.internal"


def test_a_only_records_and_registry_without_port(options_template: Template) -> None:
    assert _cloud_map(options_template, "a-only")["DnsConfig"]["DnsRecords"] == [{"Type": "A", "TTL": 10}]
    options_template.has_resource_properties(
        "AWS::ECS::Service",
        {"ServiceRegistries": [{"RegistryArn": Match.any_value(), "ContainerName": Match.absent()}]},
    )


def test_srv_only_records_point_at_the_container_port(options_template: Template) -> None:
    assert _cloud_map(options_template, "srv-only")["DnsConfig"]["DnsRecords"] == [{"Type": "SRV", "TTL": 30}]
    options_template.has_resource_properties(
        "AWS::ECS::Service",
        {"ServiceRegistries": [{"RegistryArn": Match.any_value(), "ContainerName": "srv-only", "ContainerPort": 9000}]},
    )


def test_default_is_a_and_srv(options_template: Template) -> None:
    assert _cloud_map(options_template, "tuned")["DnsConfig"]["DnsRecords"] == [
        {"Type": "A", "TTL": 10},
        {"Type": "SRV", "TTL": 10},
    ]


def test_task_size_and_count_pass_through(options_template: Template) -> None:
    options_template.has_resource_properties("AWS::ECS::TaskDefinition", {"Cpu": "1024", "Memory": "4096"})
    options_template.has_resource_properties("AWS::ECS::Service", {"DesiredCount": 3})


def test_scaling_targets_cpu_and_memory_within_bounds(options_template: Template) -> None:
    options_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 20}
    )
    for metric, target in (("ECSServiceAverageCPUUtilization", 50), ("ECSServiceAverageMemoryUtilization", 80)):
        options_template.has_resource_properties(
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            {
                "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                    {"PredefinedMetricSpecification": {"PredefinedMetricType": metric}, "TargetValue": target}
                ),
            },
        )


def test_scaling_none_keeps_the_count_fixed(options_stack: _OptionsStack, options_template: Template) -> None:
    assert options_stack.fixed.scalable_task_count is None
    # a-only, srv-only and tuned scale; fixed does not
    options_template.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 3)


def test_default_scaling_starts_at_desired_count(options_template: Template) -> None:
    options_template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 10}
    )


def test_connect_to_passes_callee_name_and_port(options_stack: _OptionsStack, options_template: Template) -> None:
    container = next(
        c
        for r in options_template.find_resources("AWS::ECS::TaskDefinition").values()
        for c in r["Properties"]["ContainerDefinitions"]
        if c["Name"] == "tuned"
    )
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["SRV_ONLY_HOST"] == "srv-only.shared.internal"
    assert environment["SRV_ONLY_SERVICE"] == "srv-only"
    assert environment["SRV_ONLY_PORT"] == "9000"
    assert environment["LOG_LEVEL"] == "debug"
    options_template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"FromPort": 9000, "ToPort": 9000, "IpProtocol": "tcp"}
    )


def test_attributes_expose_what_was_created(options_stack: _OptionsStack) -> None:
    service = options_stack.tuned
    assert isinstance(service.service, ecs.FargateService)
    assert isinstance(service.task_definition, ecs.FargateTaskDefinition)
    assert isinstance(service.container, ecs.ContainerDefinition)
    assert isinstance(service.cloud_map_service, servicediscovery.Service)
    assert service.name == "tuned"
    assert [g.security_group_id for g in service.connections.security_groups] == [
        service.security_group.security_group_id
    ]
    assert service.container_port == 8080


def test_library_defaults_harden_the_container(library_defaults_template: Template) -> None:
    library_defaults_template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "User": "10001",
                        "ReadonlyRootFilesystem": True,
                        "Privileged": False,
                        "LinuxParameters": {"Capabilities": {"Drop": ["ALL"]}, "InitProcessEnabled": True},
                        "MountPoints": [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}],
                        "StopTimeout": 45,
                    }
                )
            ]
        },
    )


def test_library_defaults_deploy_safely(library_defaults_template: Template) -> None:
    library_defaults_template.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like(
                {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MinimumHealthyPercent": 100,
                    "MaximumPercent": 200,
                }
            ),
            "HealthCheckGracePeriodSeconds": 60,
            "EnableExecuteCommand": False,
        },
    )


def test_library_defaults_security_group_egress_is_https_only(library_defaults_template: Template) -> None:
    groups = library_defaults_template.find_resources("AWS::EC2::SecurityGroup").values()
    assert len(groups) == 2
    for group in groups:
        egress = group["Properties"]["SecurityGroupEgress"]
        assert egress == [
            {
                "CidrIp": "0.0.0.0/0",
                "Description": "HTTPS to AWS APIs and ECR",
                "FromPort": 443,
                "IpProtocol": "tcp",
                "ToPort": 443,
            }
        ]


# --- Props: one name and one validation path per field -------------------------------------------


def test_every_props_field_is_a_keyword_of_the_construct_with_the_same_default() -> None:
    signature = inspect.signature(DiscoverableFargateService.__init__)
    keywords = {name: p for name, p in signature.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    fields = {field.name: field for field in dataclasses.fields(DiscoverableFargateServiceProps)}
    assert len(fields) == 28
    assert set(keywords) == set(fields)
    for name, field in fields.items():
        if field.default is not dataclasses.MISSING:
            assert keywords[name].default == field.default, name
        elif field.default_factory is not dataclasses.MISSING:
            # environment: {} in props, None (no extra variables) on the construct
            assert keywords[name].default is None, name
        else:
            assert keywords[name].default is inspect.Parameter.empty, name


def test_the_topology_spec_shares_the_service_options() -> None:
    options = {field.name for field in dataclasses.fields(ServiceOptions)}
    spec = {field.name for field in dataclasses.fields(ServiceSpec)}
    assert options <= spec
    # plus where the image comes from and the topology's wiring
    assert {"image", "source", "calls", "discovery_read"} <= spec - options


def test_props_are_frozen() -> None:
    options = ServiceOptions(name="api")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.container_port = 1  # type: ignore[misc]


def test_the_old_spec_field_names_still_work_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match=r"ServiceSpec\(port=\.\.\.\) is deprecated: use container_port"):
        spec = ServiceSpec(name="api", image=IMAGE_NAME, port=9000)  # pyright: ignore[reportCallIssue]
    assert spec.container_port == 9000
    with pytest.warns(DeprecationWarning, match=r"ServiceSpec.memory is deprecated: read memory_limit_mib"):
        assert spec.memory == 512  # type: ignore[attr-defined]
