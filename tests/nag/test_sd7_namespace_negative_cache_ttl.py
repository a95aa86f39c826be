"""ServiceDiscovery-SD7: a private DNS namespace whose SOA TTL (negative caching) is left at its default."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_servicediscovery as servicediscovery
from cdk_nag import NagRuleCompliance
from constructs import IConstruct

from ecs_service_discovery.nag import ServiceDiscoveryChecks
from tests.nag import l1
from tests.nag.findings import Cases, case_stacks, cluster_in, validate

SD7 = "ServiceDiscovery-SD7"


def _l1_namespace(stack: cdk.Stack, soa_ttl: Any = None) -> servicediscovery.CfnPrivateDnsNamespace:
    properties = None
    if soa_ttl is not None:
        properties = servicediscovery.CfnPrivateDnsNamespace.PropertiesProperty(
            dns_properties=servicediscovery.CfnPrivateDnsNamespace.PrivateDnsPropertiesMutableProperty(
                soa=servicediscovery.CfnPrivateDnsNamespace.SOAProperty(ttl=soa_ttl)
            )
        )
    return servicediscovery.CfnPrivateDnsNamespace(
        stack, "Namespace", name="shop", vpc="vpc-0123456789abcdef0", properties=properties
    )


def _l2_namespace(stack: cdk.Stack) -> servicediscovery.PrivateDnsNamespace:
    return servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="shop", vpc=cluster_in(stack).vpc)


@pytest.fixture(scope="module")
def cases() -> Cases:
    app = cdk.App()
    names = ["Noncompliance1", "Noncompliance2", "Noncompliance3", "Compliance1", "Compliance2", "TokenTtl"]
    stacks = case_stacks(app, names)
    resources: dict[str, IConstruct] = {}
    resources["Noncompliance1"] = _l1_namespace(stacks["Noncompliance1"])
    resources["Noncompliance2"] = _l2_namespace(stacks["Noncompliance2"])
    resources["Noncompliance3"] = _l1_namespace(stacks["Noncompliance3"], soa_ttl=900)
    resources["Compliance1"] = _l1_namespace(stacks["Compliance1"], soa_ttl=15)
    # aws-cdk-lib's PrivateDnsNamespace has no SOA option: the escape hatch, seen in the template.
    namespace = _l2_namespace(stacks["Compliance2"])
    cfn = namespace.node.default_child
    assert isinstance(cfn, servicediscovery.CfnPrivateDnsNamespace)
    cfn.add_property_override("Properties.DnsProperties.SOA.TTL", 10)
    resources["Compliance2"] = namespace
    stack = stacks["TokenTtl"]
    resources["TokenTtl"] = _l1_namespace(stack, soa_ttl=l1.number_parameter(stack, "SoaTtl", 900))
    return Cases(app, validate(app), resources)


def test_no_rule_raised(cases: Cases) -> None:
    assert cases.findings.errors == ()


def test_noncompliance_1_l1_namespace_without_soa(cases: Cases) -> None:
    assert cases.reported(SD7, "Noncompliance1")


def test_noncompliance_2_aws_cdk_lib_private_dns_namespace_keeps_the_default(cases: Cases) -> None:
    assert cases.reported(SD7, "Noncompliance2")


def test_noncompliance_3_soa_ttl_of_fifteen_minutes(cases: Cases) -> None:
    assert cases.reported(SD7, "Noncompliance3")


def test_compliance_l1_soa_ttl_of_15_seconds(cases: Cases) -> None:
    assert cases.compliance(SD7, "Compliance1") is NagRuleCompliance.COMPLIANT
    assert not cases.reported(SD7, "Compliance1")


def test_compliance_l2_soa_ttl_set_by_property_override(cases: Cases) -> None:
    assert not cases.reported(SD7, "Compliance2")
    assert cases.compliance(SD7, "Compliance2") is NagRuleCompliance.COMPLIANT


def test_soa_ttl_from_a_parameter_is_not_applicable(cases: Cases) -> None:
    assert cases.compliance(SD7, "TokenTtl") is NagRuleCompliance.NOT_APPLICABLE
    assert not cases.reported(SD7, "TokenTtl")


def test_configured_ceiling_of_fifteen_minutes_still_reports_the_default(cases: Cases) -> None:
    findings = validate(cases.app, ServiceDiscoveryChecks(max_negative_cache_ttl=cdk.Duration.minutes(15)), synth=False)
    assert not findings.reported(SD7, cases.resources["Noncompliance3"])
    assert findings.reported(SD7, cases.resources["Noncompliance1"])
