"""ServiceDiscovery-SD6: a Service Connect discovery name or client alias taken by a DNS Cloud Map service."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from tests.nag import l1
from tests.nag.findings import IMAGE, Cases, case_stacks, cluster_in, validate

SD6 = "ServiceDiscovery-SD6"


def _namespace(stack: cdk.Stack, construct_id: str = "Namespace", name: str = "shop") -> Any:
    return servicediscovery.CfnPrivateDnsNamespace(stack, construct_id, name=name, vpc="vpc-0123456789abcdef0")


def _service_connect(
    namespace: Any, *, discovery_name: str | None = None, alias: str | None = None
) -> ecs.CfnService.ServiceConnectConfigurationProperty:
    return ecs.CfnService.ServiceConnectConfigurationProperty(
        enabled=True,
        namespace=namespace,
        services=[
            ecs.CfnService.ServiceConnectServiceProperty(
                port_name="http",
                discovery_name=discovery_name,
                client_aliases=(
                    [ecs.CfnService.ServiceConnectClientAliasProperty(port=80, dns_name=alias)] if alias else None
                ),
            )
        ],
    )


def _l2_services(stack: cdk.Stack, *, service_connect_name: str) -> IConstruct:
    """Two plain FargateServices in one namespace: "api" by DNS (cloud_map_options), one by Service Connect."""
    cluster = cluster_in(stack)
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster.vpc)
    image = ecs.ContainerImage.from_registry(IMAGE)
    dns_task = ecs.FargateTaskDefinition(stack, "DnsTask")
    dns_task.add_container("api", image=image)
    ecs.FargateService(
        stack,
        "Api",
        cluster=cluster,
        task_definition=dns_task,
        cloud_map_options=ecs.CloudMapOptions(name="api", cloud_map_namespace=namespace),
    )
    connect_task = ecs.FargateTaskDefinition(stack, "ConnectTask")
    connect_task.add_container("app", image=image, port_mappings=[ecs.PortMapping(container_port=8080, name="http")])
    return ecs.FargateService(
        stack,
        "Connect",
        cluster=cluster,
        task_definition=connect_task,
        service_connect_configuration=ecs.ServiceConnectProps(
            namespace=namespace.namespace_arn,
            services=[ecs.ServiceConnectService(port_mapping_name="http", discovery_name=service_connect_name)],
        ),
    )


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = cdk.App()
    names = [
        "Noncompliance1",
        "Noncompliance2",
        "Noncompliance3",
        "Noncompliance4",
        "Noncompliance5",
        "Noncompliance6",
        "Compliance1",
        "Compliance2",
        "Compliance3",
        "Compliance4",
        "Noncompliance7",
        "TokenNamespace",
        "Disabled",
    ]
    stacks = case_stacks(app, names)
    resources: dict[str, IConstruct] = {}

    stack = stacks["Noncompliance1"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    resources["Noncompliance1"] = l1.ecs_service(
        stack, service_connect=_service_connect(namespace.attr_arn, discovery_name="api")
    )
    stack = stacks["Noncompliance2"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    resources["Noncompliance2"] = l1.ecs_service(
        stack, service_connect=_service_connect(namespace.attr_arn, discovery_name="api-connect", alias="api.shop")
    )
    resources["Noncompliance3"] = _l2_services(stacks["Noncompliance3"], service_connect_name="api")
    # The namespace given by its name, as Copilot and the console do.
    stack = stacks["Noncompliance4"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="http", namespace_id=namespace.attr_id)
    resources["Noncompliance4"] = l1.ecs_service(stack, service_connect=_service_connect("shop"))
    # No namespace on the service: the cluster's Service Connect default namespace.
    stack = stacks["Noncompliance5"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    cluster = ecs.CfnCluster(
        stack,
        "Cluster",
        service_connect_defaults=ecs.CfnCluster.ServiceConnectDefaultsProperty(namespace=namespace.attr_arn),
    )
    resources["Noncompliance5"] = l1.ecs_service(
        stack, cluster=cluster.ref, service_connect=_service_connect(None, discovery_name="api")
    )
    # DNS names compare without regard to case or a trailing dot.
    stack = stacks["Noncompliance6"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    resources["Noncompliance6"] = l1.ecs_service(
        stack, service_connect=_service_connect(namespace.attr_arn, discovery_name="api-connect", alias="Api.Shop.")
    )
    stack = stacks["Compliance1"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    resources["Compliance1"] = l1.ecs_service(
        stack, service_connect=_service_connect(namespace.attr_arn, discovery_name="api-connect", alias="connect")
    )
    # The same name in another namespace is another name.
    stack = stacks["Compliance2"]
    other = _namespace(stack, "Other", "other")
    l1.cloud_map_service(stack, name="api", namespace_id=other.attr_id)
    resources["Compliance2"] = l1.ecs_service(
        stack, service_connect=_service_connect(_namespace(stack).attr_arn, discovery_name="api")
    )
    resources["Compliance3"] = _l2_services(stacks["Compliance3"], service_connect_name="web")
    # A migration through both: the alias is the service's own DNS name, its tasks answer both ways.
    stack = stacks["Compliance4"]
    namespace = _namespace(stack)
    own = l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    registry = ecs.CfnService.ServiceRegistryProperty(
        registry_arn=own.attr_arn, container_name="app", container_port=8080
    )
    resources["Compliance4"] = l1.ecs_service(
        stack,
        registries=[registry],
        service_connect=_service_connect(namespace.attr_arn, discovery_name="api-sc", alias="api.shop"),
    )
    # Its own DNS service's name as the discovery name: two Cloud Map services of one name.
    stack = stacks["Noncompliance7"]
    namespace = _namespace(stack)
    own = l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    registry = ecs.CfnService.ServiceRegistryProperty(
        registry_arn=own.attr_arn, container_name="app", container_port=8080
    )
    resources["Noncompliance7"] = l1.ecs_service(
        stack,
        registries=[registry],
        service_connect=_service_connect(namespace.attr_arn, discovery_name="api", alias="api.shop"),
    )
    stack = stacks["TokenNamespace"]
    l1.cloud_map_service(stack, name="api", namespace_id=_namespace(stack).attr_id)
    parameter = cdk.CfnParameter(stack, "NamespaceArn").value_as_string
    resources["TokenNamespace"] = l1.ecs_service(
        stack, service_connect=_service_connect(parameter, discovery_name="api")
    )
    stack = stacks["Disabled"]
    namespace = _namespace(stack)
    l1.cloud_map_service(stack, name="api", namespace_id=namespace.attr_id)
    resources["Disabled"] = l1.ecs_service(
        stack,
        service_connect=ecs.CfnService.ServiceConnectConfigurationProperty(enabled=False, namespace=namespace.attr_arn),
    )
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_discovery_name_of_a_dns_service(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance1")


def test_noncompliance_2_client_alias_equal_to_a_dns_services_fqdn(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance2")


def test_noncompliance_3_l2_service_connect_beside_cloud_map_options_of_the_same_name(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance3")


def test_noncompliance_4_default_discovery_name_port_name_in_a_namespace_named_by_name(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance4")


def test_noncompliance_5_cluster_default_namespace(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance5")


def test_noncompliance_6_client_alias_in_other_case_with_a_trailing_dot(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance6")


def test_compliance_names_distinct_from_the_dns_services(cases: Cases) -> None:
    assert cases.compliance(SD6, "Compliance1") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD6, "Compliance1")


def test_compliance_same_name_in_another_namespace(cases: Cases) -> None:
    assert cases.compliance(SD6, "Compliance2") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD6, "Compliance2")


def test_compliance_l2_service_connect_with_its_own_name(cases: Cases) -> None:
    assert cases.compliance(SD6, "Compliance3") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD6, "Compliance3")


def test_compliance_client_alias_is_its_own_dns_name_during_a_migration(cases: Cases) -> None:
    assert cases.compliance(SD6, "Compliance4") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD6, "Compliance4")


def test_noncompliance_7_discovery_name_of_its_own_dns_service(cases: Cases) -> None:
    assert cases.reported(SD6, "Noncompliance7")


def test_namespace_from_a_parameter_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD6, "TokenNamespace") is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.reported(SD6, "TokenNamespace")


def test_service_connect_disabled_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD6, "Disabled") is NagRuleCompliance.NOT_APPLICABLE
