"""ServiceDiscovery-SD1: a Cloud Map service's DNS record TTL over the ceiling (default 60 s)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from ecs_service_discovery.nag import ServiceDiscoveryChecks
from tests.nag import l1
from tests.nag.findings import IMAGE, Cases, case_stacks, cluster_in, validate

SD1 = "ServiceDiscovery-SD1"


def _cloud_map_service_of_fargate_service(stack: cdk.Stack, dns_ttl: cdk.Duration | None) -> IConstruct:
    """A plain FargateService with cloud_map_options, as aws-cdk-lib's docs show it; its Cloud Map service."""
    cluster = cluster_in(stack)
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster.vpc)
    task = ecs.FargateTaskDefinition(stack, "Task")
    task.add_container("web", image=ecs.ContainerImage.from_registry(IMAGE))
    service = ecs.FargateService(
        stack,
        "Web",
        cluster=cluster,
        task_definition=task,
        cloud_map_options=ecs.CloudMapOptions(name="web", cloud_map_namespace=namespace, dns_ttl=dns_ttl),
    )
    assert service.cloud_map_service is not None
    return service.cloud_map_service


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = cdk.App()
    stacks = case_stacks(
        app,
        [
            "Noncompliance1",
            "Noncompliance2",
            "Noncompliance3",
            "Noncompliance4",
            "Compliance1",
            "Compliance2",
            "Token",
            "HttpNamespace",
            "Acknowledged",
        ],
    )
    resources: dict[str, IConstruct] = {}
    resources["Noncompliance1"] = l1.cloud_map_service(stacks["Noncompliance1"], "Service", records={"A": 300})
    private = servicediscovery.PrivateDnsNamespace(
        stacks["Noncompliance2"], "Namespace", name="shop", vpc=cluster_in(stacks["Noncompliance2"]).vpc
    )
    resources["Noncompliance2"] = private.create_service("Service", name="api", dns_ttl=cdk.Duration.minutes(5))
    resources["Noncompliance3"] = _cloud_map_service_of_fargate_service(
        stacks["Noncompliance3"], cdk.Duration.minutes(2)
    )
    # A ceiling-respecting L1 whose SRV record gets a long TTL by a raw override: seen in the template.
    overridden = l1.cloud_map_service(stacks["Noncompliance4"], "Service", records={"A": 10})
    overridden.add_property_override("DnsConfig.DnsRecords", [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 600}])
    resources["Noncompliance4"] = overridden
    resources["Compliance1"] = l1.cloud_map_service(stacks["Compliance1"], "Service", records={"A": 10, "SRV": 10})
    # aws-cdk-lib's default for ECS Cloud Map options is 60 s: at the ceiling, not over it.
    resources["Compliance2"] = _cloud_map_service_of_fargate_service(stacks["Compliance2"], None)
    ttl = l1.number_parameter(stacks["Token"], "Ttl", 300)
    resources["Token"] = l1.cloud_map_service(stacks["Token"], "Service", records={"A": ttl})
    namespace = servicediscovery.HttpNamespace(stacks["HttpNamespace"], "Namespace", name="api-only")
    resources["HttpNamespace"] = namespace.create_service("Service", name="api")
    acknowledged = l1.cloud_map_service(stacks["Acknowledged"], "Service", records={"A": 3600})
    cdk.Validations.of(acknowledged).acknowledge(
        cdk.Acknowledgment(id=SD1, reason="Legacy clients re-resolve only on connection errors")
    )
    resources["Acknowledged"] = acknowledged
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_l1_a_record_cached_five_minutes(cases: Cases) -> None:
    assert cases.findings.reported(SD1, cases.resources["Noncompliance1"])


def test_noncompliance_2_l2_cloud_map_service_with_dns_ttl_of_five_minutes(cases: Cases) -> None:
    assert cases.findings.reported(SD1, cases.resources["Noncompliance2"])


def test_noncompliance_3_fargate_service_cloud_map_options_dns_ttl_of_two_minutes(cases: Cases) -> None:
    assert cases.findings.reported(SD1, cases.resources["Noncompliance3"])


def test_noncompliance_4_raw_override_seen_in_the_synthesized_template(cases: Cases) -> None:
    assert cases.findings.reported(SD1, cases.resources["Noncompliance4"])


def test_compliance_l1_a_and_srv_records_of_ten_seconds(cases: Cases) -> None:
    assert cases.findings.compliance(SD1, cases.resources["Compliance1"]) is NagRuleCompliance.COMPLIANT
    assert not cases.findings.reported(SD1, cases.resources["Compliance1"])


def test_compliance_aws_cdk_lib_default_ttl_is_at_the_ceiling(cases: Cases) -> None:
    assert cases.findings.compliance(SD1, cases.resources["Compliance2"]) is NagRuleCompliance.COMPLIANT
    assert not cases.findings.reported(SD1, cases.resources["Compliance2"])


def test_unresolved_ttl_parameter_is_not_applicable_and_does_not_raise(cases: Cases) -> None:
    assert cases.findings.compliance(SD1, cases.resources["Token"]) is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.findings.reported(SD1, cases.resources["Token"])


def test_http_namespace_service_without_dns_records_is_not_applicable(cases: Cases) -> None:
    assert cases.findings.compliance(SD1, cases.resources["HttpNamespace"]) is NagRuleCompliance.NOT_APPLICABLE


def test_acknowledged_finding_is_not_reported(cases: Cases) -> None:
    assert cases.findings.compliance(SD1, cases.resources["Acknowledged"]) is NagRuleCompliance.NON_COMPLIANT
    assert not cases.findings.reported(SD1, cases.resources["Acknowledged"])


def test_configured_ceiling_of_ten_minutes_passes_the_five_minute_ttls(cases: Cases) -> None:
    findings = validate(cases.app, ServiceDiscoveryChecks(max_dns_ttl=cdk.Duration.minutes(10)), synth=False)
    assert findings.of_rule(SD1) == set()


def test_configured_ceiling_of_five_seconds_reports_ten_second_records(cases: Cases) -> None:
    findings = validate(cases.app, ServiceDiscoveryChecks(max_dns_ttl=cdk.Duration.seconds(5)), synth=False)
    assert findings.reported(SD1, cases.resources["Compliance1"])
