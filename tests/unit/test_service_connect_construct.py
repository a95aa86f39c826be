"""DiscoverableFargateService's ``discovery`` option (issue 14): the template per mode, the caller's
environment per pair of modes, the security group opened the same way, and the option's checks
in the construct and the topology file. One stack per module, synthesized once."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ValidationError
from ecs_service_discovery.constructs.service_connect import Discovery, ServiceConnectOptions
from ecs_service_discovery.constructs.topology_spec import parse_topology

IMAGE = ecs.ContainerImage.from_registry("public.ecr.aws/docker/library/python:3.12-slim")


class Mesh(cdk.Stack):
    """worker (both), api (service-connect), grpc (service-connect, alias grpc:80), legacy (dns),
    web (service-connect client-only). web calls worker, api and grpc; legacy calls worker."""

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=vpc)
        self.namespace = DiscoveryNamespace(self, "Namespace", vpc=vpc)
        self.worker = self.service("worker", discovery=Discovery.BOTH)
        self.api = self.service("api", discovery="service-connect")
        self.grpc = self.service(
            "grpc",
            discovery=Discovery.SERVICE_CONNECT,
            service_connect=ServiceConnectOptions(
                client_alias_dns_name="grpc", client_alias_port=80, app_protocol="grpc"
            ),
        )
        self.legacy = self.service("legacy")
        self.web = self.service(
            "web", discovery=Discovery.SERVICE_CONNECT, service_connect=ServiceConnectOptions(client_only=True)
        )
        for callee in (self.worker, self.api, self.grpc):
            self.web.connect_to(callee)
        self.legacy.connect_to(self.worker)
        # Calls in both directions: only the first orders the deploy (the second would be a cycle).
        self.ping = self.service("ping", discovery="service-connect")
        self.pong = self.service("pong", discovery="service-connect")
        self.ping.connect_to(self.pong)
        self.pong.connect_to(self.ping)
        # Refused (legacy has no proxy; api has no DNS records): checked at module level below.
        try:
            self.legacy.connect_to(self.api)
        except ValidationError as error:
            self.refused = str(error)

    def service(self, name: str, **kwargs: Any) -> DiscoverableFargateService:
        return DiscoverableFargateService(
            self, name, cluster=self.cluster, namespace=self.namespace, name=name, image=IMAGE, **kwargs
        )


@pytest.fixture(scope="module")
def mesh() -> tuple[Mesh, dict[str, Any]]:
    stack = Mesh(cdk.App(), "Mesh")
    return stack, Template.from_stack(stack).to_json()["Resources"]


def props(mesh: tuple[Mesh, dict[str, Any]], construct: Any) -> dict[str, Any]:
    stack, resources = mesh
    return resources[stack.get_logical_id(construct.node.default_child)]["Properties"]


def environment(mesh: tuple[Mesh, dict[str, Any]], service: DiscoverableFargateService) -> dict[str, Any]:
    (container,) = props(mesh, service.task_definition)["ContainerDefinitions"]
    return {variable["Name"]: variable["Value"] for variable in container["Environment"]}


def test_both_keeps_the_dns_service_name_and_registers_service_connect_as_name_sc(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    assert stack.worker.cloud_map_service is not None
    assert props(mesh, stack.worker.cloud_map_service)["Name"] == "worker"
    service = props(mesh, stack.worker.service)
    assert len(service["ServiceRegistries"]) == 1
    assert service["ServiceConnectConfiguration"]["Services"] == [
        {
            "PortName": "worker",
            "DiscoveryName": "worker-sc",
            "ClientAliases": [{"DnsName": "worker.corp", "Port": 8080}],
        }
    ]


def test_service_connect_only_has_no_dns_records(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    assert stack.api.cloud_map_service is None
    assert "ServiceRegistries" not in props(mesh, stack.api.service)
    names = sorted(
        resource["Properties"]["Name"]
        for resource in mesh[1].values()
        if resource["Type"] == "AWS::ServiceDiscovery::Service"
    )
    assert names == ["legacy", "worker"]


def test_dns_mode_is_unchanged(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    assert "ServiceConnectConfiguration" not in props(mesh, stack.legacy.service)
    (container,) = props(mesh, stack.legacy.task_definition)["ContainerDefinitions"]
    assert container["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert stack.legacy.service_connect_endpoint is None


def test_proxy_logs_go_to_the_services_own_log_group(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    config = props(mesh, stack.api.service)["ServiceConnectConfiguration"]
    log_group_id = stack.get_logical_id(stack.api.log_group.node.default_child)  # type: ignore[arg-type]
    assert config["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": log_group_id}
    namespace_id = stack.get_logical_id(stack.namespace.namespace.node.default_child)  # type: ignore[arg-type]
    assert config["Namespace"] == {"Fn::GetAtt": [namespace_id, "Arn"]}


def test_the_container_maps_its_port_once_by_name(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    (container,) = props(mesh, stack.grpc.task_definition)["ContainerDefinitions"]
    assert container["PortMappings"] == [
        {"ContainerPort": 8080, "Protocol": "tcp", "Name": "grpc", "AppProtocol": "grpc"}
    ]


def test_a_client_only_service_publishes_nothing(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    config = props(mesh, stack.web.service)["ServiceConnectConfiguration"]
    assert config["Enabled"] is True and "Services" not in config
    assert stack.web.service_connect_endpoint is None


def test_callers_get_one_url_in_every_mode(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    web = environment(mesh, stack.web)
    # The default alias is the DNS name: the same URL through the proxy (web) and through DNS (legacy)
    assert (web["WORKER_HOST"], web["WORKER_PORT"]) == ("worker.corp", "8080")
    assert (web["API_HOST"], web["API_PORT"]) == ("api.corp", "8080")
    # A custom alias is what a Service Connect caller uses
    assert (web["GRPC_HOST"], web["GRPC_PORT"], web["GRPC_SERVICE"]) == ("grpc", "80", "grpc")
    legacy = environment(mesh, stack.legacy)
    assert (legacy["WORKER_HOST"], legacy["WORKER_PORT"]) == ("worker.corp", "8080")


def test_the_security_group_opens_the_container_port_in_every_mode(mesh: Any) -> None:
    stack, resources = mesh
    ingress = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]

    def opened(callee: DiscoverableFargateService, caller: DiscoverableFargateService) -> list[int]:
        callee_id = stack.get_logical_id(callee.security_group.node.default_child)
        caller_id = stack.get_logical_id(caller.security_group.node.default_child)
        return [
            rule["FromPort"]
            for rule in ingress
            if rule["GroupId"] == {"Fn::GetAtt": [callee_id, "GroupId"]}
            and rule["SourceSecurityGroupId"] == {"Fn::GetAtt": [caller_id, "GroupId"]}
        ]

    # The proxy listens on the container port (ECS: ingressPortOverride defaults to it), whatever the alias port
    assert opened(stack.worker, stack.web) == [8080]
    assert opened(stack.api, stack.web) == [8080]
    assert opened(stack.grpc, stack.web) == [8080]
    assert opened(stack.worker, stack.legacy) == [8080]
    assert opened(stack.api, stack.legacy) == []


def test_a_dns_caller_of_a_service_connect_only_service_is_refused_before_any_change(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    assert stack.refused.startswith("other='api' is not valid: it is found through Service Connect only")
    assert "API_HOST" not in environment(mesh, stack.legacy)


# --- checks ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checks() -> Mesh:
    return Mesh(cdk.App(), "Checks")


def test_a_dns_name_taken_by_a_discovery_name_leaves_no_construct(checks: Mesh) -> None:
    with pytest.raises(ValidationError, match=r"^name='api-sc' is not valid: namespace 'corp' already has a Cloud Map"):
        checks.service("api-sc")
    assert checks.node.try_find_child("api-sc") is None


def test_a_discovery_name_taken_by_a_dns_service_leaves_no_construct(checks: Mesh) -> None:
    with pytest.raises(ValidationError, match=r"^service_connect.discovery_name='legacy' is not valid"):
        checks.service("other", discovery="both", service_connect=ServiceConnectOptions(discovery_name="legacy"))
    assert checks.node.try_find_child("other") is None


def test_an_alias_that_is_another_services_dns_name_is_refused(checks: Mesh) -> None:
    with pytest.raises(ValidationError, match=r"^service_connect.client_alias_dns_name='legacy.corp' .*Checks/legacy"):
        checks.service(
            "shadow",
            discovery="service-connect",
            service_connect=ServiceConnectOptions(client_alias_dns_name="legacy.corp"),
        )


def test_a_name_too_long_for_the_default_discovery_name_is_refused(checks: Mesh) -> None:
    with pytest.raises(ValidationError, match=r"^service_connect.discovery_name=None .*65 characters"):
        checks.service("a" * 62, discovery="both")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"discovery": "mesh"},
            r"^discovery='mesh' is not valid: expected one of \['dns', 'service-connect', 'both'\]",
        ),
        ({"service_connect": ServiceConnectOptions()}, r"^service_connect=.* expected None with discovery='dns'"),
        (
            {"discovery": "both", "service_connect": ServiceConnectOptions(client_alias_port=0)},
            r"^service_connect.client_alias_port=0 is not valid",
        ),
        (
            {"discovery": "both", "service_connect": {"access_logs": True}},
            r"^service_connect=\{.*expected a ServiceConnectOptions",
        ),
    ],
)
def test_bad_discovery_options_are_named(checks: Mesh, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        checks.service("bad", **kwargs)


def test_reading_a_service_connect_only_service_is_refused(checks: Mesh) -> None:
    with pytest.raises(ValidationError, match=r"^grantee='web' is not valid: 'api' is Service Connect only"):
        checks.api.grant_discover_read(checks.web)


# --- the topology file ------------------------------------------------------------------------


def test_the_topology_file_sets_discovery_and_service_connect() -> None:
    spec = parse_topology(
        {
            "defaults": {"image": "nginx:1.27", "discovery": "both"},
            "services": [
                {"name": "web", "calls": ["api"], "service_connect": {"client_only": True}},
                {"name": "api", "service_connect": {"idle_timeout_seconds": 60, "access_logs": True}},
                {"name": "old", "discovery": "dns"},
            ],
        }
    )
    assert [s.discovery for s in spec.services] == [Discovery.BOTH, Discovery.BOTH, Discovery.DNS]
    assert spec["web"].service_connect == ServiceConnectOptions(client_only=True)
    assert spec["api"].service_connect == ServiceConnectOptions(idle_timeout_seconds=60, access_logs=True)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"discovery": "sc"}, r"^t.yaml: services\[0\]: service 'api': discovery='sc' is not valid"),
        (
            {"discovery": "both", "service_connect": {"tls": {}}},
            r"service_connect: the field 'tls' cannot be set in a file",
        ),
        ({"discovery": "both", "service_connect": {"idle": 1}}, r"service_connect: unknown field 'idle'"),
        ({"discovery": "both", "service_connect": ["x"]}, r"service_connect=\['x'\] is not valid: expected a mapping"),
        (
            {"service_connect": {"access_logs": True}},
            r"service 'api': service_connect=.* expected None with discovery='dns'",
        ),
        (
            {"discovery": "both", "service_connect": {"access_log_format": "xml"}},
            r"service 'api': service_connect.access_log_format='xml' is not valid",
        ),
    ],
)
def test_topology_file_mistakes_are_named(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_topology({"services": [{"name": "api", "image": "nginx:1.27", **entry}]}, origin="t.yaml")


def _depends_on(mesh: Any, service: DiscoverableFargateService) -> list[str]:
    stack, resources = mesh
    found = resources[stack.get_logical_id(service.service.node.default_child)].get("DependsOn", [])
    return sorted(found)


def _service_id(mesh: Any, service: DiscoverableFargateService) -> str:
    return mesh[0].get_logical_id(service.service.node.default_child)


def test_a_service_connect_caller_is_deployed_after_its_callees(mesh: Any) -> None:
    # A task knows only the endpoints that existed when it started: web's service waits for its callees'
    stack: Mesh = mesh[0]
    callees = {_service_id(mesh, s) for s in (stack.worker, stack.api, stack.grpc)}
    assert callees <= set(_depends_on(mesh, stack.web))
    # A DNS caller (no proxy) waits for nothing
    assert not {_service_id(mesh, stack.worker)} & set(_depends_on(mesh, stack.legacy))


def test_calls_in_both_directions_order_one_way_only(mesh: Any) -> None:
    stack: Mesh = mesh[0]
    assert _service_id(mesh, stack.pong) in _depends_on(mesh, stack.ping)
    assert _service_id(mesh, stack.ping) not in _depends_on(mesh, stack.pong)
    # and the environment still goes both ways
    assert environment(mesh, stack.pong)["PING_HOST"] == "ping.corp"
    assert environment(mesh, stack.ping)["PONG_HOST"] == "pong.corp"
