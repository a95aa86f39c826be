"""DiscoveryNamespace: one identity per namespace, isolation between namespaces, VPCs and Apps, and a
namespace without surprises (short negative caching, DNS-enabled VPC)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk.assertions import Template

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace, ServiceConnectOptions, ValidationError
from ecs_service_discovery.constructs.namespace import DEFAULT_SOA_TTL_SECONDS

IMAGE = ecs.ContainerImage.from_registry  # called per test: a ContainerImage is cheap and stateless
IMAGE_NAME = "public.ecr.aws/docker/library/python:3.12-slim"
NAMESPACE_ID = "ns-abcd1234efgh5678"
NAMESPACE_ARN = f"arn:aws:servicediscovery:eu-west-1:123456789012:namespace/{NAMESPACE_ID}"


class Platform:
    """A stack with a VPC, a cluster and helpers to add namespaces and services."""

    def __init__(self, app: cdk.App | None = None, construct_id: str = "Platform") -> None:
        self.app = app or cdk.App()
        self.stack = cdk.Stack(self.app, construct_id)
        self.vpc = ec2.Vpc(self.stack, "Vpc", max_azs=2, nat_gateways=1)
        self.cluster = ecs.Cluster(self.stack, "Cluster", vpc=self.vpc)
        self.image = IMAGE(IMAGE_NAME)

    def service(self, construct_id: str, name: str, namespace: Any, **kwargs: Any) -> DiscoverableFargateService:
        kwargs.setdefault("cluster", self.cluster)
        return DiscoverableFargateService(
            self.stack, construct_id, namespace=namespace, name=name, image=self.image, scaling=None, **kwargs
        )


def _imported(scope: cdk.Stack, construct_id: str, **kwargs: Any) -> Any:
    return DiscoveryNamespace.from_attributes(
        scope, construct_id, name="shared", namespace_id=NAMESPACE_ID, namespace_arn=NAMESPACE_ARN, **kwargs
    )


# --- One identity ---------------------------------------------------------------------------------


def test_the_same_namespace_imported_twice_is_one_namespace() -> None:
    # GIVEN one namespace ID imported through two objects
    platform = Platform()
    first, second = _imported(platform.stack, "First"), _imported(platform.stack, "Second")
    api = platform.service("Api", "api", first)
    # THEN a second service "api" through the other object is a duplicate
    with pytest.raises(ValidationError, match=r"^name='api' is not valid: namespace 'shared' already has a service"):
        platform.service("Api2", "api", second)
    assert platform.stack.node.try_find_child("Api2") is None
    # AND services of the two objects may call each other
    db = platform.service("Db", "db", second)
    api.connect_to(db)


def test_an_aws_cdk_lib_namespace_imported_twice_by_a_deploy_time_id_is_one_namespace_for_every_name() -> None:
    # GIVEN one namespace ID known only at deploy time, imported as two aws-cdk-lib objects whose
    # ARNs are written differently (the ID is what names a namespace)
    platform = Platform()
    namespace_id = cdk.Fn.import_value("SharedNamespaceId")

    def imported(construct_id: str, namespace_arn: str) -> servicediscovery.IPrivateDnsNamespace:
        return servicediscovery.PrivateDnsNamespace.from_private_dns_namespace_attributes(
            platform.stack,
            construct_id,
            namespace_name="shared",
            namespace_id=namespace_id,
            namespace_arn=namespace_arn,
        )

    first = imported("First", cdk.Fn.import_value("SharedNamespaceArn"))
    second = imported(
        "Second",
        platform.stack.format_arn(service="servicediscovery", resource="namespace", resource_name=namespace_id),
    )
    platform.service("Api", "api", first, discovery="both")
    # THEN the service names are shared (as before) ...
    with pytest.raises(ValidationError, match=r"^name='api' is not valid: namespace 'shared' already has a service"):
        platform.service("Api2", "api", second)
    # ... AND so are the Service Connect names: the alias api.shared:8080 is taken through either object
    with pytest.raises(ValidationError, match=r"^service_connect.client_alias_dns_name='api.shared' is not valid"):
        platform.service(
            "Web", "web", second, discovery="both",
            service_connect=ServiceConnectOptions(client_alias_dns_name="api.shared", client_alias_port=8080),
        )  # fmt: skip
    assert platform.stack.node.try_find_child("Web") is None


def test_a_created_namespace_and_its_aws_cdk_lib_namespace_are_one_namespace() -> None:
    platform = Platform()
    namespace = DiscoveryNamespace(platform.stack, "Namespace", vpc=platform.vpc)
    api = platform.service("Api", "api", namespace)
    with pytest.raises(ValidationError, match=r"^name='api' is not valid: namespace 'corp' already has"):
        platform.service("Api2", "api", namespace.namespace)
    db = platform.service("Db", "db", namespace.namespace)
    api.connect_to(db)
    assert db.dns_name == "db.corp"


@pytest.mark.parametrize("second_vpc", [False, True], ids=["same-vpc", "other-vpc"])
def test_two_namespaces_that_share_a_name_are_two_namespaces(second_vpc: bool) -> None:
    # GIVEN two different namespaces both named "corp" (in the same VPC, or in another VPC)
    platform = Platform()
    first = DiscoveryNamespace(platform.stack, "First", vpc=platform.vpc)
    if second_vpc:
        vpc = ec2.Vpc(platform.stack, "OtherVpc", max_azs=2, nat_gateways=1)
        cluster = ecs.Cluster(platform.stack, "OtherCluster", vpc=vpc)
    else:
        vpc, cluster = platform.vpc, platform.cluster
    second = DiscoveryNamespace(platform.stack, "Second", vpc=vpc)
    api = platform.service("Api", "api", first)
    # THEN the same service name is free in each, and connect_to between them is refused
    other_api = platform.service("OtherApi", "api", second, cluster=cluster)
    with pytest.raises(
        ValidationError,
        match=r"^other='api' is not valid: it is registered in another namespace also named 'corp'",
    ):
        api.connect_to(other_api)
    with pytest.raises(ValidationError, match=r"^grantee='api' is not valid: it is a service of namespace 'corp'"):
        first.grant_discover_read(other_api)


def test_two_imported_namespaces_with_different_ids_but_one_name_are_two() -> None:
    platform = Platform()
    first = _imported(platform.stack, "First")
    second = DiscoveryNamespace.from_attributes(
        platform.stack,
        "Second",
        name="shared",
        namespace_id="ns-zzzz9999",
        namespace_arn="arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-zzzz9999",
    )
    api, db = platform.service("Api", "api", first), platform.service("Db", "db", second)
    with pytest.raises(ValidationError, match=r"another namespace also named 'shared'"):
        api.connect_to(db)


def test_an_aws_cdk_lib_namespace_is_accepted_and_exposes_its_ids() -> None:
    platform = Platform()
    namespace = servicediscovery.PrivateDnsNamespace(platform.stack, "Plain", name="plain", vpc=platform.vpc)
    service = platform.service("Api", "api", namespace)
    template = Template.from_stack(platform.stack)
    [namespace_id] = template.find_resources("AWS::ServiceDiscovery::PrivateDnsNamespace")
    [cloud_map] = template.find_resources("AWS::ServiceDiscovery::Service").values()
    assert cloud_map["Properties"]["NamespaceId"] == {"Fn::GetAtt": [namespace_id, "Id"]}
    assert service.dns_name == "api.plain"


def test_namespace_id_and_arn_are_exposed_directly() -> None:
    platform = Platform()
    imported = _imported(platform.stack, "Imported")
    assert (imported.namespace_id, imported.namespace_arn) == (NAMESPACE_ID, NAMESPACE_ARN)
    created = DiscoveryNamespace(platform.stack, "Created", vpc=platform.vpc)
    resolved = platform.stack.resolve(created.namespace_id)
    assert resolved["Fn::GetAtt"][1] == "Id"
    assert platform.stack.resolve(created.namespace_arn)["Fn::GetAtt"][1] == "Arn"


@pytest.mark.parametrize("namespace", ["corp", None, 42, ec2.Vpc])
def test_the_namespace_must_be_one(namespace: Any) -> None:
    platform = Platform()
    with pytest.raises(ValidationError, match=r"^namespace=.* is not valid: expected a DiscoveryNamespace"):
        platform.service("Api", "api", namespace)
    assert platform.stack.node.try_find_child("Api") is None


# --- Isolation: VPCs and Apps ----------------------------------------------------------------------


def test_a_cluster_in_another_vpc_than_the_namespace_is_refused() -> None:
    platform = Platform()
    namespace = DiscoveryNamespace(platform.stack, "Namespace", vpc=platform.vpc)
    other_vpc = ec2.Vpc(platform.stack, "OtherVpc", max_azs=2, nat_gateways=1)
    other_cluster = ecs.Cluster(platform.stack, "OtherCluster", vpc=other_vpc)
    with pytest.raises(ValidationError, match=r"^cluster='Platform/OtherCluster' is not valid: its VPC"):
        platform.service("Api", "api", namespace, cluster=other_cluster)
    assert platform.stack.node.try_find_child("Api") is None


def test_imported_vpcs_are_compared_by_id_when_both_are_known() -> None:
    platform = Platform()
    vpc_a, vpc_b = (
        ec2.Vpc.from_vpc_attributes(
            platform.stack,
            letter,
            vpc_id=f"vpc-{letter * 4}",
            availability_zones=["eu-west-1a"],
            private_subnet_ids=[f"subnet-{letter * 4}"],
        )
        for letter in "ab"
    )
    namespace = _imported(platform.stack, "Imported", vpc=vpc_a)
    cluster = ecs.Cluster.from_cluster_attributes(platform.stack, "Cluster2", cluster_name="c", vpc=vpc_b)
    with pytest.raises(ValidationError, match=r"^cluster=.* is not valid: its VPC"):
        platform.service("Api", "api", namespace, cluster=cluster)
    # the same imported VPC ID is the same VPC
    same = ecs.Cluster.from_cluster_attributes(platform.stack, "Cluster3", cluster_name="d", vpc=vpc_a)
    assert platform.service("Db", "db", namespace, cluster=same).name == "db"


def test_services_clusters_and_namespaces_of_another_app_are_refused_before_any_jsii_error() -> None:
    first, second = Platform(construct_id="First"), Platform(construct_id="Second")
    namespace = DiscoveryNamespace(first.stack, "Namespace", vpc=first.vpc)
    api = first.service("Api", "api", namespace)
    other_namespace = DiscoveryNamespace(second.stack, "Namespace", vpc=second.vpc)
    other = second.service("Db", "db", other_namespace)
    with pytest.raises(ValidationError, match=r"^other='Second/Db' is not valid: it belongs to another App"):
        api.connect_to(other)
    with pytest.raises(ValidationError, match=r"^namespace='First/Namespace' is not valid: it belongs to another App"):
        second.service("Db2", "db2", namespace)
    with pytest.raises(ValidationError, match=r"^cluster='Second/Cluster' is not valid: it belongs to another App"):
        first.service("Db3", "db3", namespace, cluster=second.cluster)
    with pytest.raises(ValidationError, match=r"^vpc='Second/Vpc' is not valid: it belongs to another App"):
        DiscoveryNamespace(first.stack, "Foreign", vpc=second.vpc)


# --- A namespace without surprises (issue 15) ---------------------------------------------------


@pytest.fixture(scope="module")
def soa_template() -> Template:
    platform = Platform()
    DiscoveryNamespace(platform.stack, "Default", vpc=platform.vpc, name="default")
    DiscoveryNamespace(platform.stack, "Minute", vpc=platform.vpc, name="minute", soa_ttl=Duration.minutes(1))
    DiscoveryNamespace(platform.stack, "Zero", vpc=platform.vpc, name="zero", soa_ttl=Duration.seconds(0))
    return Template.from_stack(platform.stack)


def test_the_negative_caching_ttl_is_short_by_default_and_can_be_chosen(soa_template: Template) -> None:
    namespaces = soa_template.find_resources("AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    ttls = {n["Properties"]["Name"]: n["Properties"]["Properties"]["DnsProperties"]["SOA"]["TTL"] for n in namespaces}
    assert ttls == {"default": DEFAULT_SOA_TTL_SECONDS, "minute": 60, "zero": 0}
    assert DEFAULT_SOA_TTL_SECONDS == 15


@pytest.mark.parametrize(
    ("soa_ttl", "shown"),
    [
        (15, "15"),
        ("15s", "'15s'"),
        (Duration.millis(1500), "'1 second 500 millis'"),
        (Duration.seconds(2147483648), "'2147483648 seconds'"),
    ],
)
def test_a_bad_negative_caching_ttl_is_refused(soa_ttl: Any, shown: str) -> None:
    platform = Platform()
    with pytest.raises(ValidationError, match=rf"^soa_ttl={shown} is not valid: expected a Duration of whole seconds"):
        DiscoveryNamespace(platform.stack, "Namespace", vpc=platform.vpc, soa_ttl=soa_ttl)
    assert platform.stack.node.try_find_child("Namespace") is None


@pytest.mark.parametrize("option", ["enable_dns_support", "enable_dns_hostnames"])
def test_a_vpc_without_dns_support_or_hostnames_is_refused(option: str) -> None:
    stack = cdk.Stack(cdk.App(), "NoDns")
    options: dict[str, Any] = {option: False}
    vpc = ec2.Vpc(stack, "Vpc", max_azs=1, nat_gateways=0, **options)
    with pytest.raises(ValidationError, match=rf"^vpc='NoDns/Vpc' is not valid: the VPC has {option}=False"):
        DiscoveryNamespace(stack, "Namespace", vpc=vpc)
    assert stack.node.try_find_child("Namespace") is None


def test_a_vpc_without_private_subnets_needs_vpc_subnets() -> None:
    platform = Platform()
    namespace = _imported(platform.stack, "Imported")
    public_only = ec2.Vpc.from_vpc_attributes(
        platform.stack, "PublicOnly", vpc_id="vpc-1234", availability_zones=["eu-west-1a"], public_subnet_ids=["s-1"]
    )
    cluster = ecs.Cluster.from_cluster_attributes(platform.stack, "PublicCluster", cluster_name="c", vpc=public_only)
    with pytest.raises(ValidationError, match=r"^vpc_subnets=None is not valid: the cluster's VPC .* no private"):
        platform.service("Api", "api", namespace, cluster=cluster)


def test_an_imported_vpc_cannot_be_checked_and_is_accepted() -> None:
    stack = cdk.Stack(cdk.App(), "Imported")
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-1234", availability_zones=["eu-west-1a"])
    assert DiscoveryNamespace(stack, "Namespace", vpc=vpc).vpc is vpc
