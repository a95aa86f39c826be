"""Every rule against CloudFormation's own forms, in templates written as CloudFormation users write
them (YAML with Parameters and Conditions) and read through CfnInclude.

What each form yields (docs/nag-rules.md, "What the rules read"):

- a value known only at deploy time (``Fn::If``, ``Ref`` to a parameter, ``Fn::GetAtt``,
  ``Fn::ImportValue``, ...), a whole property block included, is not applicable: never a finding,
  never a pass; a violation the rule sees beside it is still reported;
- ``{"Ref": "AWS::NoValue"}`` is an absent property, ``Fn::Join`` of literals is the joined text;
- a number CloudFormation refuses (negative, fractional, past 2^31-1, not a number) is reported.

One app holds every template (one stack each), synthesized and validated once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import cloudformation_include as cfn_inc
from cdk_nag import NagRuleCompliance

from tests.nag import l1
from tests.nag.findings import Findings, validate

FORMS = Path(__file__).with_name("templates") / "forms"
TEMPLATES = {
    "Sd1": "sd1-cloud-map-service.yaml",
    "Sd2Sd3Sd5": "sd2-sd3-sd5-registries.yaml",
    "Sd4": "sd4-quota.yaml",
    "Sd6": "sd6-service-connect.yaml",
    "Sd7": "sd7-namespace.yaml",
}
COMPLIANT = NagRuleCompliance.COMPLIANT
NON_COMPLIANT = NagRuleCompliance.NON_COMPLIANT
NOT_APPLICABLE = NagRuleCompliance.NOT_APPLICABLE

#: TTLs written as text by a raw override (kept as written, unlike CfnInclude, which parses numbers).
OVERRIDDEN_TTLS = {
    "Ten": ("10", COMPLIANT),
    "LeadingZero": ("010", COMPLIANT),
    "Negative": ("-1", NON_COMPLIANT),
    "Fraction": ("1.5", NON_COMPLIANT),
    "Exponent": ("1e1", NON_COMPLIANT),
    "LeadingSpace": (" 10", NON_COMPLIANT),
    "TrailingNewline": ("10\n", NON_COMPLIANT),
    "Plus": ("+10", NON_COMPLIANT),
    "Hex": ("0x10", NON_COMPLIANT),
    "ArabicIndicDigits": ("\u0661\u0660", NON_COMPLIANT),
    "PastTwoToThe31": ("2147483648", NON_COMPLIANT),
    "FiveThousandDigits": ("1" * 5000, NON_COMPLIANT),
    "Empty": ("", NON_COMPLIANT),
    "NotANumber": ("NaN", NON_COMPLIANT),
}


@dataclass(frozen=True)
class Forms:
    included: dict[str, cfn_inc.CfnInclude]
    overridden: dict[str, cdk.CfnResource]
    findings: Findings

    def compliance(self, rule: str, template: str, logical_id: str) -> NagRuleCompliance:
        return self.findings.compliance(rule, self.included[template].get_resource(logical_id))

    def reported(self, rule: str, template: str, logical_id: str) -> bool:
        return self.findings.reported(f"ServiceDiscovery-{rule}", self.included[template].get_resource(logical_id))


@pytest.fixture(scope="module")
def forms() -> Forms:
    app = cdk.App()
    included = {
        name: cfn_inc.CfnInclude(cdk.Stack(app, name), "Template", template_file=str(FORMS / file))
        for name, file in TEMPLATES.items()
    }
    stack = cdk.Stack(app, "Overridden")
    overridden: dict[str, cdk.CfnResource] = {}
    for case, (ttl, _) in OVERRIDDEN_TTLS.items():
        service = l1.cloud_map_service(stack, case, name=case.lower())
        service.add_property_override("DnsConfig.DnsRecords.0.TTL", ttl)
        overridden[case] = service
    return Forms(included, overridden, validate(app))


def test_no_rule_raised_on_any_form(forms: Forms) -> None:
    assert forms.findings.errors == ()


def _check(forms: Forms, rule: str, template: str, logical_id: str, expected: NagRuleCompliance) -> None:
    assert forms.compliance(rule, template, logical_id) is expected
    # What the plugin reports agrees with what the rule decides.
    assert forms.reported(rule, template, logical_id) is (expected is NON_COMPLIANT)


# (rule, template, logical ID, what the rule decides): the logical ID names the form.
DEPLOY_TIME_VALUES = [
    ("SD1", "Sd1", "RecordsIf"),
    ("SD1", "Sd1", "RecordIf"),
    ("SD1", "Sd1", "TtlIfBesideKnown"),
    ("SD1", "Sd1", "DnsConfigIf"),
    ("SD2", "Sd2Sd3Sd5", "HealthCheckIfService"),
    ("SD2", "Sd2Sd3Sd5", "RegistriesIfService"),
    ("SD2", "Sd2Sd3Sd5", "RegistryArnIfService"),
    ("SD2", "Sd2Sd3Sd5", "RegistryArnImportBesideKnownService"),
    ("SD3", "Sd2Sd3Sd5", "PortIfService"),
    ("SD3", "Sd2Sd3Sd5", "RecordTypesIfService"),
    ("SD3", "Sd2Sd3Sd5", "RegistryArnImportBesideKnownService"),
    ("SD4", "Sd4", "DesiredCountIf"),
    ("SD4", "Sd4", "RegistriesIf"),
    ("SD4", "Sd4", "MaxCapacityIfTarget"),
    ("SD5", "Sd2Sd3Sd5", "StopTimeoutIfService"),
    ("SD5", "Sd2Sd3Sd5", "StopTimeoutParameterService"),
    ("SD5", "Sd2Sd3Sd5", "EssentialIfService"),
    ("SD5", "Sd2Sd3Sd5", "TaskDefinitionIfService"),
    ("SD6", "Sd6", "CopilotBackend"),
    ("SD6", "Sd6", "DiscoveryNameParameter"),
    ("SD6", "Sd6", "DnsNameParameter"),
    ("SD6", "Sd6", "ServicesIf"),
    ("SD7", "Sd7", "PropertiesIf"),
    ("SD7", "Sd7", "DnsPropertiesIf"),
    ("SD7", "Sd7", "SoaIf"),
    ("SD7", "Sd7", "TtlParameter"),
    ("SD7", "Sd7", "TtlIf"),
]


@pytest.mark.parametrize(("rule", "template", "logical_id"), DEPLOY_TIME_VALUES, ids=lambda v: str(v))
def test_a_deploy_time_value_is_not_applicable(forms: Forms, rule: str, template: str, logical_id: str) -> None:
    _check(forms, rule, template, logical_id, NOT_APPLICABLE)


NO_VALUE = [
    # An absent health check, port or SOA is what the rule reports.
    ("SD2", "Sd2Sd3Sd5", "HealthCheckNoValueService", NON_COMPLIANT),
    ("SD3", "Sd2Sd3Sd5", "PortNoValueService", NON_COMPLIANT),
    ("SD3", "Sd2Sd3Sd5", "ContainerPortNoValueService", NON_COMPLIANT),
    ("SD7", "Sd7", "PropertiesNoValue", NON_COMPLIANT),
    ("SD7", "Sd7", "TtlNoValue", NON_COMPLIANT),
    # An absent stop timeout is ECS's 30 s, under a 60 s TTL; an absent DesiredCount is 1.
    ("SD5", "Sd2Sd3Sd5", "StopTimeoutNoValueService", NON_COMPLIANT),
    ("SD4", "Sd4", "DesiredCountNoValue", COMPLIANT),
    # No registries: nothing to check.
    ("SD4", "Sd4", "RegistriesNoValue", NOT_APPLICABLE),
    # An absent discovery name is the port name, which a DNS service has.
    ("SD6", "Sd6", "DiscoveryNameNoValue", NON_COMPLIANT),
    # An absent record is no record.
    ("SD1", "Sd1", "RecordNoValue", COMPLIANT),
]


@pytest.mark.parametrize(("rule", "template", "logical_id", "expected"), NO_VALUE, ids=lambda v: str(v))
def test_aws_no_value_is_an_absent_property(
    forms: Forms, rule: str, template: str, logical_id: str, expected: NagRuleCompliance
) -> None:
    _check(forms, rule, template, logical_id, expected)


KNOWN_VALUES = [
    # Fn::Join of literals is the joined text.
    ("SD1", "Sd1", "TtlJoinLong", NON_COMPLIANT),
    ("SD1", "Sd1", "TtlJoinShort", COMPLIANT),
    ("SD4", "Sd4", "DesiredCountJoin", NON_COMPLIANT),
    ("SD4", "Sd4", "MaxCapacityJoinTarget", NON_COMPLIANT),
    ("SD5", "Sd2Sd3Sd5", "StopTimeoutJoinService", COMPLIANT),
    ("SD6", "Sd6", "AliasJoin", NON_COMPLIANT),
    ("SD6", "Sd6", "Distinct", COMPLIANT),
    ("SD7", "Sd7", "TtlJoinShort", COMPLIANT),
    ("SD7", "Sd7", "TtlJoinLong", NON_COMPLIANT),
    # Text for a number, as CloudFormation users write it.
    ("SD1", "Sd1", "TtlString", COMPLIANT),
    ("SD3", "Sd2Sd3Sd5", "PortStringService", COMPLIANT),
    ("SD4", "Sd4", "DesiredCountString", COMPLIANT),
    ("SD7", "Sd7", "TtlString", COMPLIANT),
    # A parameter's value is present, whatever it is; so is either branch of this Fn::If.
    ("SD3", "Sd2Sd3Sd5", "PortParameterService", COMPLIANT),
    ("SD2", "Sd2Sd3Sd5", "HealthCheckIfBothBranchesService", COMPLIANT),
    # A known violation beside a value known only at deploy time is still one.
    ("SD1", "Sd1", "TtlParameterBesideLong", NON_COMPLIANT),
]


@pytest.mark.parametrize(("rule", "template", "logical_id", "expected"), KNOWN_VALUES, ids=lambda v: str(v))
def test_literals_joins_and_text_numbers_are_known(
    forms: Forms, rule: str, template: str, logical_id: str, expected: NagRuleCompliance
) -> None:
    _check(forms, rule, template, logical_id, expected)


INVALID_NUMBERS = [
    ("SD1", "Sd1", "TtlNegative"),
    ("SD1", "Sd1", "TtlNegativeString"),
    ("SD1", "Sd1", "TtlFraction"),
    ("SD3", "Sd2Sd3Sd5", "PortNegativeService"),
    ("SD4", "Sd4", "DesiredCountNegative"),
    ("SD4", "Sd4", "MaxCapacityFractionTarget"),
    ("SD5", "Sd2Sd3Sd5", "StopTimeoutNegativeService"),
    ("SD5", "Sd2Sd3Sd5", "StopTimeoutFractionService"),
    ("SD7", "Sd7", "TtlNegative"),
    ("SD7", "Sd7", "TtlFraction"),
    ("SD7", "Sd7", "TtlHuge"),
]


@pytest.mark.parametrize(("rule", "template", "logical_id"), INVALID_NUMBERS, ids=lambda v: str(v))
def test_a_number_cloudformation_refuses_is_reported(forms: Forms, rule: str, template: str, logical_id: str) -> None:
    _check(forms, rule, template, logical_id, NON_COMPLIANT)


@pytest.mark.parametrize("case", OVERRIDDEN_TTLS)
def test_a_ttl_written_as_text_is_a_whole_number_or_reported(forms: Forms, case: str) -> None:
    _, expected = OVERRIDDEN_TTLS[case]
    service = forms.overridden[case]
    assert forms.findings.compliance("SD1", service) is expected
    assert forms.findings.reported("ServiceDiscovery-SD1", service) is (expected is NON_COMPLIANT)
