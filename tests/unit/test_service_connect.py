"""Service Connect beside DNS (issue 14): the template in each mode, collision-free names in "both",
the caller's host and port in each mode, and every validation branch.

The modes are built from plain aws_cdk constructs and ``enable_service_connect``, so that these tests
hold whatever construct uses the function; the stack is synthesized once per module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk.assertions import Match, Template

from ecs_service_discovery.constructs.service_connect import (
    Discovery,
    ServiceConnectEndpoint,
    ServiceConnectOptions,
    ServiceConnectTls,
    caller_endpoint,
    enable_service_connect,
    reserve_dns_service,
    resolve_endpoint,
)
from ecs_service_discovery.errors import ValidationError

PCA_ARN = "arn:aws:acm-pca:eu-west-1:123456789012:certificate-authority/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"
ECS_PRINCIPAL = cast("iam.IPrincipal", iam.ServicePrincipal("ecs.amazonaws.com"))


class Modes(cdk.Stack):
    """One namespace ``corp`` with a service per mode, as a construct would build them:

    * ``dns``: Cloud Map DNS service ``dns`` only;
    * ``both``: DNS service ``both`` and Service Connect with every default;
    * ``sc``: Service Connect only, with every option set (alias ``sc:80``, gRPC, TLS, TEXT access logs);
    * ``client``: Service Connect client only.
    """

    def __init__(self, scope: cdk.App, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(self, "Vpc", max_azs=2)
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc)
        self.namespace = servicediscovery.PrivateDnsNamespace(self, "Namespace", name="corp", vpc=self.vpc)
        self.key = kms.Key(self, "TlsKey", enable_key_rotation=True)
        self.tls_role = iam.Role(self, "TlsRole", assumed_by=ECS_PRINCIPAL)
        self.endpoints: dict[str, ServiceConnectEndpoint | None] = {}
        self.services: dict[str, ecs.FargateService] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}

        self.add("dns", Discovery.DNS)
        self.add("both", Discovery.BOTH)
        self.add(
            "sc",
            Discovery.SERVICE_CONNECT,
            ServiceConnectOptions(
                port_mapping_name="grpc-api",
                discovery_name="sc-api",
                client_alias_dns_name="sc",
                client_alias_port=80,
                app_protocol="grpc",
                idle_timeout_seconds=120,
                per_request_timeout_seconds=0,
                access_logs=True,
                access_log_format="TEXT",
                access_log_query_parameters=True,
                tls=ServiceConnectTls(authority_arn=PCA_ARN, role=self.tls_role, kms_key=self.key),
            ),
        )
        self.add("client", Discovery.SERVICE_CONNECT, ServiceConnectOptions(client_only=True))

    def add(self, name: str, mode: Discovery, options: ServiceConnectOptions | None = None) -> None:
        task_definition = ecs.FargateTaskDefinition(self, f"{name}Task")
        log_group = logs.LogGroup(self, f"{name}Logs", retention=logs.RetentionDays.ONE_MONTH)
        container = task_definition.add_container(
            "App",
            image=ecs.ContainerImage.from_registry(IMAGE),
            logging=ecs.LogDriver.aws_logs(stream_prefix=name, log_group=log_group),
        )
        if not mode.uses_service_connect:
            container.add_port_mappings(ecs.PortMapping(container_port=8080))
        service = ecs.FargateService(self, f"{name}Service", cluster=self.cluster, task_definition=task_definition)
        if mode.uses_dns:
            reserve_dns_service(service, self.namespace, name)
        if mode.uses_service_connect:
            # First: it adds the named port mapping that the DNS registration below points at.
            self.endpoints[name] = enable_service_connect(
                service,
                container=container,
                log_group=log_group,
                name=name,
                container_port=8080,
                options=options,
                namespace=self.namespace,
            )
        if mode.uses_dns:
            service.enable_cloud_map(cloud_map_namespace=self.namespace, name=name, container_port=8080)
        self.services[name] = service
        self.log_groups[name] = log_group


@dataclass(frozen=True)
class Synthesized:
    stack: Modes
    template: Template

    def service(self, name: str) -> dict[str, Any]:
        return self.properties(self.stack.services[name])

    def task(self, name: str) -> dict[str, Any]:
        return self.properties(self.stack.services[name].task_definition)

    def properties(self, construct: Any) -> dict[str, Any]:
        return self.template.to_json()["Resources"][self.logical_id(construct)]["Properties"]

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def modes() -> Synthesized:
    stack = Modes(cdk.App(), "Modes")
    return Synthesized(stack, Template.from_stack(stack))


# --- the template in each mode --------------------------------------------------------------


def test_dns_mode_has_no_service_connect(modes: Synthesized) -> None:
    assert "ServiceConnectConfiguration" not in modes.service("dns")
    assert modes.task("dns")["ContainerDefinitions"][0]["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]


def test_both_mode_keeps_the_dns_service_and_adds_service_connect_under_another_name(modes: Synthesized) -> None:
    # GIVEN the "both" service WHEN synthesized
    # THEN its DNS Cloud Map service keeps the plain name "both" ...
    cloud_map = [
        resource["Properties"]["Name"]
        for resource in modes.template.find_resources("AWS::ServiceDiscovery::Service").values()
    ]
    assert sorted(cloud_map) == ["both", "dns"]
    assert len(modes.service("both")["ServiceRegistries"]) == 1
    # ... and Service Connect registers "both-sc" (no clash), with the DNS name as alias on the container port
    assert modes.service("both")["ServiceConnectConfiguration"]["Services"] == [
        {"PortName": "both", "DiscoveryName": "both-sc", "ClientAliases": [{"DnsName": "both.corp", "Port": 8080}]}
    ]


def test_both_mode_container_has_one_named_http_port_mapping(modes: Synthesized) -> None:
    assert modes.task("both")["ContainerDefinitions"][0]["PortMappings"] == [
        {"ContainerPort": 8080, "Protocol": "tcp", "Name": "both", "AppProtocol": "http"}
    ]


def test_service_connect_uses_the_namespace_arn_and_the_service_log_group(modes: Synthesized) -> None:
    namespace_id = modes.logical_id(modes.stack.namespace)
    config = modes.service("both")["ServiceConnectConfiguration"]
    assert config["Enabled"] is True
    # The ARN, not the name: a name can make ECS create a second namespace (aws/aws-cdk#25616).
    assert config["Namespace"] == {"Fn::GetAtt": [namespace_id, "Arn"]}
    assert config["LogConfiguration"] == {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": {"Ref": modes.logical_id(modes.stack.log_groups["both"])},
            "awslogs-stream-prefix": "service-connect",
            "awslogs-region": {"Ref": "AWS::Region"},
        },
    }
    # Defaults: no access logs, no TLS, ECS's timeouts
    assert "AccessLogConfiguration" not in config
    assert "Tls" not in config["Services"][0] and "Timeout" not in config["Services"][0]


def test_service_connect_only_mode_registers_no_dns_service(modes: Synthesized) -> None:
    assert "ServiceRegistries" not in modes.service("sc")


def test_every_option_reaches_the_template(modes: Synthesized) -> None:
    config = modes.service("sc")["ServiceConnectConfiguration"]
    assert config["AccessLogConfiguration"] == {"Format": "TEXT", "IncludeQueryParameters": "ENABLED"}
    (service,) = config["Services"]
    assert service["PortName"] == "grpc-api"
    assert service["DiscoveryName"] == "sc-api"
    assert service["ClientAliases"] == [{"DnsName": "sc", "Port": 80}]
    assert service["Timeout"] == {"IdleTimeoutSeconds": 120, "PerRequestTimeoutSeconds": 0}
    assert modes.task("sc")["ContainerDefinitions"][0]["PortMappings"] == [
        {"ContainerPort": 8080, "Protocol": "tcp", "Name": "grpc-api", "AppProtocol": "grpc"}
    ]


def test_tls_names_the_authority_key_and_role(modes: Synthesized) -> None:
    (service,) = modes.service("sc")["ServiceConnectConfiguration"]["Services"]
    assert service["Tls"] == {
        "IssuerCertificateAuthority": {"AwsPcaAuthorityArn": PCA_ARN},
        "KmsKey": {"Fn::GetAtt": [modes.logical_id(modes.stack.key), "Arn"]},
        "RoleArn": {"Fn::GetAtt": [modes.logical_id(modes.stack.tls_role), "Arn"]},
    }


def test_client_only_service_joins_the_namespace_without_an_endpoint(modes: Synthesized) -> None:
    config = modes.service("client")["ServiceConnectConfiguration"]
    assert config["Enabled"] is True
    assert "Services" not in config
    assert config["Namespace"] == {"Fn::GetAtt": [modes.logical_id(modes.stack.namespace), "Arn"]}
    assert modes.stack.endpoints["client"] is None
    assert "PortMappings" not in modes.task("client")["ContainerDefinitions"][0]


def test_template_passes_the_ecs_schema_shapes(modes: Synthesized) -> None:
    # Every Service Connect service names a port mapping that exists in its task definition.
    for name in ("both", "sc"):
        port_names = {m.get("Name") for m in modes.task(name)["ContainerDefinitions"][0]["PortMappings"]}
        services = modes.service(name)["ServiceConnectConfiguration"]["Services"]
        assert services, name
        for service in services:
            assert service["PortName"] in port_names
    modes.template.resource_count_is("AWS::ServiceDiscovery::Service", 2)
    modes.template.has_resource_properties(
        "AWS::ECS::Service", {"ServiceConnectConfiguration": Match.object_like({"Enabled": True})}
    )


# --- the caller's host and port in each mode ------------------------------------------------

ALIAS = ServiceConnectEndpoint("api", "api-sc", "api.corp", 8080, "http")
OTHER_ALIAS = ServiceConnectEndpoint("api", "api-sc", "api", 80, "http")


@pytest.mark.parametrize(
    ("caller_sc", "mode", "endpoint", "expected"),
    [
        (False, Discovery.DNS, None, ("api.corp", 8080)),
        (True, Discovery.DNS, None, ("api.corp", 8080)),
        (False, Discovery.BOTH, ALIAS, ("api.corp", 8080)),
        (True, Discovery.BOTH, ALIAS, ("api.corp", 8080)),
        (True, Discovery.SERVICE_CONNECT, ALIAS, ("api.corp", 8080)),
        # A custom alias: Service Connect callers use it, DNS callers keep the DNS name and container port.
        (True, Discovery.BOTH, OTHER_ALIAS, ("api", 80)),
        (False, Discovery.BOTH, OTHER_ALIAS, ("api.corp", 8080)),
        (True, Discovery.SERVICE_CONNECT, OTHER_ALIAS, ("api", 80)),
        # A client-only callee in "both" is still called by DNS.
        (True, Discovery.BOTH, None, ("api.corp", 8080)),
    ],
)
def test_caller_gets_a_url_valid_in_its_mode(
    caller_sc: bool, mode: Discovery, endpoint: ServiceConnectEndpoint | None, expected: tuple[str, int]
) -> None:
    found = caller_endpoint(
        caller="web",
        caller_uses_service_connect=caller_sc,
        callee="api",
        callee_discovery=mode,
        callee_dns_name="api.corp",
        callee_port=8080,
        callee_endpoint=endpoint,
    )
    assert found == expected


def test_a_dns_caller_cannot_call_a_service_connect_only_service() -> None:
    with pytest.raises(ValidationError, match=r"^other='api' is not valid: .*'web' has no Service Connect proxy"):
        caller_endpoint(
            caller="web",
            caller_uses_service_connect=False,
            callee="api",
            callee_discovery=Discovery.SERVICE_CONNECT,
            callee_dns_name="api.corp",
            callee_port=8080,
            callee_endpoint=ALIAS,
        )


def test_nothing_can_call_a_client_only_service_connect_only_service() -> None:
    with pytest.raises(ValidationError, match=r"^other='api' is not valid: .*client-only"):
        caller_endpoint(
            caller="web",
            caller_uses_service_connect=True,
            callee="api",
            callee_discovery=Discovery.SERVICE_CONNECT,
            callee_dns_name="api.corp",
            callee_port=8080,
            callee_endpoint=None,
        )


# --- Discovery values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("dns", Discovery.DNS), ("service-connect", Discovery.SERVICE_CONNECT), ("both", Discovery.BOTH)],
)
def test_discovery_parses_context_and_file_values(value: str, expected: Discovery) -> None:
    assert Discovery.parse("discovery", value) is expected
    assert Discovery.parse("discovery", expected) is expected


@pytest.mark.parametrize("value", ["DNS", "both\n", "service_connect", "", None, 1, ["dns"], "x" * 10_000])
def test_discovery_rejects_anything_else(value: Any) -> None:
    with pytest.raises(
        ValidationError, match=r"^discovery=.* is not valid: expected one of \['dns', 'service-connect', 'both'\]"
    ):
        Discovery.parse("discovery", value)


def test_discovery_error_does_not_print_a_huge_value() -> None:
    with pytest.raises(ValidationError) as error:
        Discovery.parse("discovery", "x" * 100_000)
    assert len(str(error.value)) < 500


def test_modes_say_what_they_use() -> None:
    assert [(m.uses_dns, m.uses_service_connect) for m in Discovery] == [(True, False), (False, True), (True, True)]


# --- resolved names -------------------------------------------------------------------------


def test_default_names_keep_the_dns_name_and_avoid_its_cloud_map_name() -> None:
    endpoint = resolve_endpoint(ServiceConnectOptions(), name="worker", namespace_name="corp", container_port=8080)
    assert endpoint == ServiceConnectEndpoint("worker", "worker-sc", "worker.corp", 8080, "http")


def test_names_do_not_depend_on_the_mode() -> None:
    # The same options give the same endpoint whatever the mode: "both" -> "service-connect" changes nothing.
    first = resolve_endpoint(ServiceConnectOptions(), name="a", namespace_name="corp", container_port=1)
    assert first == resolve_endpoint(ServiceConnectOptions(), name="a", namespace_name="corp", container_port=1)


def test_client_only_has_no_endpoint() -> None:
    options = ServiceConnectOptions(client_only=True)
    assert resolve_endpoint(options, name="web", namespace_name="corp", container_port=8080) is None


def test_a_61_character_name_fits_the_discovery_name_limit_and_62_does_not() -> None:
    fits = resolve_endpoint(ServiceConnectOptions(), name="a" * 61, namespace_name="corp", container_port=80)
    assert fits is not None and len(fits.discovery_name) == 64
    with pytest.raises(ValidationError, match=r"^service_connect.discovery_name=None is not valid: .* 65 characters"):
        resolve_endpoint(ServiceConnectOptions(), name="a" * 62, namespace_name="corp", container_port=80)
    # A discovery name of one's own lifts the limit on the name
    given = resolve_endpoint(
        ServiceConnectOptions(discovery_name="short"), name="a" * 63, namespace_name="corp", container_port=80
    )
    assert given is not None and given.discovery_name == "short"


def test_a_default_alias_over_127_characters_is_reported_on_the_alias() -> None:
    namespace = ".".join(["n" * 60, "m" * 60])  # 121 characters
    with pytest.raises(ValidationError, match=r"^service_connect.client_alias_dns_name=None is not valid: .*128"):
        resolve_endpoint(ServiceConnectOptions(), name="abcdef", namespace_name=namespace, container_port=80)
    fits = resolve_endpoint(ServiceConnectOptions(), name="abcde", namespace_name=namespace, container_port=80)
    assert fits is not None and len(fits.dns_name) == 127


# --- every option's validation branch -------------------------------------------------------


def _role() -> iam.IRole:
    return iam.Role.from_role_arn(cdk.Stack(cdk.App(), "R"), "Role", "arn:aws:iam::123456789012:role/sc-tls")


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"client_only": "yes"}, r"service_connect.client_only='yes' is not valid: expected True or False"),
    ({"client_only": True, "port_mapping_name": "web"}, r"service_connect.port_mapping_name='web' .*client_only=True"),
    ({"client_only": True, "client_alias_port": 80}, r"service_connect.client_alias_port=80 .*client_only=True"),
    ({"port_mapping_name": "-web"}, r"service_connect.port_mapping_name='-web' .*not starting with '-'"),
    ({"port_mapping_name": "Web"}, r"service_connect.port_mapping_name='Web'"),
    ({"port_mapping_name": "web\n"}, r"service_connect.port_mapping_name='web\\n'"),
    ({"port_mapping_name": "a" * 65}, r"service_connect.port_mapping_name='a+' .*1-64 characters"),
    ({"port_mapping_name": ""}, r"service_connect.port_mapping_name=''"),
    ({"discovery_name": "a.b"}, r"service_connect.discovery_name='a.b'"),
    ({"discovery_name": "a" * 65}, r"service_connect.discovery_name='a+' .*1-64"),
    ({"discovery_name": 7}, r"service_connect.discovery_name=7"),
    ({"client_alias_dns_name": "worker.corp."}, r"service_connect.client_alias_dns_name='worker.corp.'"),
    ({"client_alias_dns_name": "-worker"}, r"service_connect.client_alias_dns_name='-worker'"),
    ({"client_alias_dns_name": "a..b"}, r"service_connect.client_alias_dns_name='a..b'"),
    ({"client_alias_dns_name": "a;rm -rf"}, r"service_connect.client_alias_dns_name='a;rm -rf'"),
    (
        {"client_alias_dns_name": "a" * 60 + "." + "b" * 60 + "." + "c" * 6},
        r"service_connect.client_alias_dns_name='a+.*c' \(128 characters\) .*at most 127 characters",
    ),
    ({"client_alias_port": 0}, r"service_connect.client_alias_port=0 .*1 to 65535"),
    ({"client_alias_port": 65536}, r"service_connect.client_alias_port=65536"),
    ({"client_alias_port": True}, r"service_connect.client_alias_port=True"),
    ({"app_protocol": "HTTP"}, r"service_connect.app_protocol='HTTP' .*\['http', 'http2', 'grpc', 'tcp'\]"),
    ({"app_protocol": None}, r"service_connect.app_protocol=None"),
    ({"idle_timeout_seconds": -1}, r"service_connect.idle_timeout_seconds=-1 .*0 to 2147483647 seconds"),
    ({"idle_timeout_seconds": 2147483648}, r"service_connect.idle_timeout_seconds=2147483648"),
    ({"per_request_timeout_seconds": 1.5}, r"service_connect.per_request_timeout_seconds=1.5"),
    (
        {"app_protocol": "tcp", "per_request_timeout_seconds": 10},
        r"service_connect.per_request_timeout_seconds=10 .*app_protocol='tcp'",
    ),
    ({"access_logs": 1}, r"service_connect.access_logs=1 is not valid: expected True or False"),
    ({"access_log_format": "json"}, r"service_connect.access_log_format='json' .*\['JSON', 'TEXT'\]"),
    ({"access_log_query_parameters": "no"}, r"service_connect.access_log_query_parameters='no'"),
    ({"tls": PCA_ARN}, r"service_connect.tls='arn:.*' is not valid: expected a ServiceConnectTls"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_OPTIONS, ids=[str(i) for i in range(len(BAD_OPTIONS))])
def test_bad_option_is_named(fields: dict[str, Any], message: str, validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError, match="^" + message):
        validation_target.enable(ServiceConnectOptions(**fields))
    validation_target.assert_untouched()


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        (
            {"authority_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc"},
            r"service_connect.tls.authority_arn='arn:aws:acm:.*' .*AWS Private CA",
        ),
        ({"authority_arn": PCA_ARN + "\n"}, r"service_connect.tls.authority_arn="),
        ({"authority_arn": None}, r"service_connect.tls.authority_arn=None"),
        ({"role": "arn:aws:iam::123456789012:role/x"}, r"service_connect.tls.role='arn:aws:iam::.*' .*aws_iam.IRole"),
        ({"kms_key": "alias/x"}, r"service_connect.tls.kms_key='alias/x' .*aws_kms.IKey"),
    ],
)
def test_bad_tls_is_named(tls: dict[str, Any], message: str, validation_target: ValidationTarget) -> None:
    fields: dict[str, Any] = {"authority_arn": PCA_ARN, "role": validation_target.role, **tls}
    with pytest.raises(ValidationError, match="^" + message):
        validation_target.enable(ServiceConnectOptions(tls=ServiceConnectTls(**fields)))
    validation_target.assert_untouched()


class ValidationTarget:
    """A service that every failing call leaves as it was (nothing is configured before all checks pass)."""

    def __init__(self) -> None:
        self.app = cdk.App()
        self.stack = cdk.Stack(self.app, "Checks")
        vpc = ec2.Vpc(self.stack, "Vpc", max_azs=2)
        self.cluster = ecs.Cluster(self.stack, "Cluster", vpc=vpc)
        self.namespace = servicediscovery.PrivateDnsNamespace(self.stack, "Namespace", name="corp", vpc=vpc)
        self.role = iam.Role(self.stack, "TlsRole", assumed_by=ECS_PRINCIPAL)
        self.log_group = logs.LogGroup(self.stack, "Logs")
        self.count = 0
        # Names taken before: DNS service "taken", Service Connect "peer" (peer-sc, alias peer.corp:8080)
        self.untouched = self.new_service("untouched", mapped_port=None)
        dns = self.new_service("taken", mapped_port=8080)
        reserve_dns_service(dns.service, self.namespace, "taken")
        peer = self.new_service("peer", mapped_port=None)
        enable_service_connect(
            peer.service,
            container=peer.container,
            log_group=self.log_group,
            name="peer",
            container_port=8080,
            namespace=self.namespace,
        )

    def new_service(self, construct_id: str, mapped_port: int | None) -> ServiceParts:
        task_definition = ecs.FargateTaskDefinition(self.stack, f"{construct_id}Task")
        container = task_definition.add_container("App", image=ecs.ContainerImage.from_registry(IMAGE))
        if mapped_port is not None:
            container.add_port_mappings(ecs.PortMapping(container_port=mapped_port))
        service = ecs.FargateService(
            self.stack, f"{construct_id}Service", cluster=self.cluster, task_definition=task_definition
        )
        return ServiceParts(service, container)

    def enable(
        self,
        options: ServiceConnectOptions | None = None,
        *,
        parts: ServiceParts | None = None,
        name: str = "web",
        **kwargs: Any,
    ) -> ServiceConnectEndpoint | None:
        parts = parts or self.untouched
        arguments: dict[str, Any] = {
            "container": parts.container,
            "log_group": self.log_group,
            "name": name,
            "container_port": 8080,
            "options": options,
            "namespace": self.namespace,
            **kwargs,
        }
        return enable_service_connect(parts.service, **arguments)

    def assert_untouched(self) -> None:
        # Cheap here; test_a_failed_call_configures_nothing (last) proves the service itself untouched.
        assert self.untouched.container.port_mappings == []


@dataclass(frozen=True)
class ServiceParts:
    service: ecs.FargateService
    container: ecs.ContainerDefinition


@pytest.fixture(scope="module")
def validation_target() -> ValidationTarget:
    return ValidationTarget()


def test_a_discovery_name_taken_by_a_dns_service_is_a_clash(validation_target: ValidationTarget) -> None:
    with pytest.raises(
        ValidationError,
        match=r"^service_connect.discovery_name='taken' is not valid: namespace 'corp' already has a Cloud Map "
        r"service named 'taken' \(Checks/takenService\)",
    ):
        validation_target.enable(ServiceConnectOptions(discovery_name="taken"))


def test_a_discovery_name_taken_by_service_connect_is_a_clash(validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError, match=r"^service_connect.discovery_name='peer-sc' .*Checks/peerService"):
        validation_target.enable(ServiceConnectOptions(discovery_name="peer-sc"))


def test_an_alias_name_and_port_taken_is_a_clash(validation_target: ValidationTarget) -> None:
    with pytest.raises(
        ValidationError, match=r"^service_connect.client_alias_dns_name='peer.corp' .*peer.corp:8080 .*unique"
    ):
        validation_target.enable(ServiceConnectOptions(client_alias_dns_name="peer.corp"))


def test_an_alias_that_is_another_services_dns_name_is_a_clash(validation_target: ValidationTarget) -> None:
    with pytest.raises(
        ValidationError, match=r"^service_connect.client_alias_dns_name='taken.corp' .*DNS name of Checks/takenService"
    ):
        validation_target.enable(ServiceConnectOptions(client_alias_dns_name="taken.corp"))


def test_a_dns_service_named_like_a_discovery_name_is_a_clash(validation_target: ValidationTarget) -> None:
    other = validation_target.untouched.service
    with pytest.raises(ValidationError, match=r"^name='peer-sc' is not valid: .*Cloud Map service named 'peer-sc'"):
        reserve_dns_service(other, validation_target.namespace, "peer-sc")


def test_a_dns_name_that_is_another_services_alias_is_a_clash(validation_target: ValidationTarget) -> None:
    # GIVEN "peer" with its default alias peer.corp WHEN another service takes the DNS name "peer"
    other = validation_target.untouched.service
    with pytest.raises(ValidationError, match=r"^name='peer' is not valid: 'peer.corp' is already a Service Connect"):
        reserve_dns_service(other, validation_target.namespace, "peer")


def test_the_same_alias_name_on_another_port_is_allowed_by_ecs(validation_target: ValidationTarget) -> None:
    parts = validation_target.new_service("otherPort", mapped_port=None)
    endpoint = validation_target.enable(
        ServiceConnectOptions(client_alias_dns_name="peer.corp", client_alias_port=9090), parts=parts, name="other"
    )
    assert endpoint == ServiceConnectEndpoint("other", "other-sc", "peer.corp", 9090, "http")


def test_a_namespace_the_cluster_does_not_know_is_an_error(validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError, match=r"^namespace=None is not valid: the cluster has no default Cloud Map"):
        validation_target.enable(namespace=None)


def test_a_namespace_must_be_a_namespace(validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError, match=r"^namespace='corp' is not valid: expected an aws_servicediscovery"):
        validation_target.enable(namespace="corp")


def test_the_cluster_default_namespace_is_used_when_none_is_given() -> None:
    # GIVEN a cluster with a default namespace and no namespace passed
    stack = cdk.Stack(cdk.App(), "Default")
    cluster = ecs.Cluster(stack, "Cluster", vpc=ec2.Vpc(stack, "Vpc", max_azs=1))
    namespace = cluster.add_default_cloud_map_namespace(name="local")
    task_definition = ecs.FargateTaskDefinition(stack, "Task")
    container = task_definition.add_container("App", image=ecs.ContainerImage.from_registry(IMAGE))
    service = ecs.FargateService(stack, "Service", cluster=cluster, task_definition=task_definition)
    # WHEN Service Connect is enabled
    endpoint = enable_service_connect(
        service, container=container, log_group=logs.LogGroup(stack, "Logs"), name="api", container_port=80
    )
    # THEN the cluster's namespace is used, and names it in the default alias
    assert endpoint is not None and endpoint.dns_name == "api.local"
    Template.from_stack(stack).has_resource_properties(
        "AWS::ECS::Service",
        {
            "ServiceConnectConfiguration": {
                "Namespace": {"Fn::GetAtt": [stack.get_logical_id(namespace.node.default_child), "Arn"]}  # type: ignore[arg-type]
            }
        },  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Web"}, r"^name='Web' is not valid"),
        ({"name": "web\n"}, r"^name='web\\n' is not valid"),
        ({"container_port": 0}, r"^container_port=0 is not valid"),
        ({"log_group": "logs"}, r"^log_group='logs' is not valid: expected an aws_logs.ILogGroup"),
        ({"container": "app"}, r"^container='app' is not valid: expected an aws_ecs.ContainerDefinition"),
        ({"options": {"client_only": True}}, r"^service_connect=\{'client_only': True\} is not valid"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str, validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError, match=message):
        validation_target.enable(**kwargs)
    validation_target.assert_untouched()


def test_service_must_be_a_fargate_service(validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError, match=r"^service='svc' is not valid: expected an aws_ecs.FargateService"):
        enable_service_connect(
            "svc",  # type: ignore[arg-type]
            container=validation_target.untouched.container,
            log_group=validation_target.log_group,
            name="web",
            container_port=8080,
        )


def test_a_container_of_another_task_definition_is_refused(validation_target: ValidationTarget) -> None:
    peer_container = validation_target.new_service("foreign", mapped_port=None).container
    with pytest.raises(ValidationError, match=r"^container='Checks/foreignTask/App' is not valid: .*task definition"):
        validation_target.enable(container=peer_container)
    validation_target.assert_untouched()


def test_an_unnamed_mapping_of_the_port_is_refused(validation_target: ValidationTarget) -> None:
    parts = validation_target.new_service("unnamed", mapped_port=8080)
    with pytest.raises(
        ValidationError, match=r"^container='App' is not valid: it maps port 8080 without the name 'web'"
    ):
        validation_target.enable(parts=parts)


def test_a_named_mapping_of_another_port_is_refused(validation_target: ValidationTarget) -> None:
    parts = validation_target.new_service("otherNamed", mapped_port=None)
    parts.container.add_port_mappings(ecs.PortMapping(container_port=9000, name="web"))
    with pytest.raises(
        ValidationError, match=r"^service_connect.port_mapping_name='web' .*for port 9000, not the container port 8080"
    ):
        validation_target.enable(parts=parts)


def test_an_existing_named_mapping_is_reused(validation_target: ValidationTarget) -> None:
    parts = validation_target.new_service("named", mapped_port=None)
    parts.container.add_port_mappings(ecs.PortMapping(container_port=8080, name="named"))
    endpoint = validation_target.enable(parts=parts, name="named")
    assert endpoint is not None
    assert [m.name for m in parts.container.port_mappings] == ["named"]


def test_error_messages_never_hold_a_huge_value(validation_target: ValidationTarget) -> None:
    with pytest.raises(ValidationError) as error:
        validation_target.enable(ServiceConnectOptions(client_alias_dns_name="a" * 50_000))
    assert len(str(error.value)) < 1000
    assert re.match(r"^service_connect.client_alias_dns_name=", str(error.value))


def test_a_failed_call_configures_nothing(validation_target: ValidationTarget) -> None:
    # GIVEN the service that every failing call above was given (aws-cdk-lib refuses a second
    # enable_service_connect, so a failed call that had configured it would make this one fail)
    # WHEN it is configured now THEN it works, and the template holds this configuration only
    endpoint = validation_target.enable(name="web")
    assert endpoint == ServiceConnectEndpoint("web", "web-sc", "web.corp", 8080, "http")
    resources = Template.from_stack(validation_target.stack).to_json()["Resources"]
    service = resources[validation_target.stack.get_logical_id(validation_target.untouched.service.node.default_child)]  # type: ignore[arg-type]
    assert service["Properties"]["ServiceConnectConfiguration"]["Services"][0]["DiscoveryName"] == "web-sc"
