"""ServiceDiscoveryChecks as a pack: stable rule IDs, validated parameters, and a policy validation plugin of synth."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks, NagRuleCompliance

from ecs_service_discovery import ValidationError
from ecs_service_discovery.nag import PACK_NAME, RULES, ServiceDiscoveryChecks, ServiceDiscoveryRule
from tests.nag import l1

SD1 = "ServiceDiscovery-SD1"


def test_rule_ids_are_stable_unique_and_in_order() -> None:
    assert [rule.rule_id for rule in RULES] == [f"{PACK_NAME}-SD{n}" for n in range(1, 9)]


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule_id)
def test_every_rule_has_a_one_line_info_an_explanation_and_an_aws_docs_reference(rule: ServiceDiscoveryRule) -> None:
    assert rule.info and "\n" not in rule.info
    assert len(rule.explanation) > len(rule.info)
    assert re.fullmatch(r"https://docs\.aws\.amazon\.com/\S+", rule.reference), rule.reference
    assert rule.resource_types


def test_pack_name_is_the_plugin_name() -> None:
    assert ServiceDiscoveryChecks().name == "ServiceDiscovery"


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("max_dns_ttl", 60, "max_dns_ttl=60 is not valid: expected a Duration of whole seconds"),
        ("max_dns_ttl", cdk.Duration.millis(1500), "max_dns_ttl='1 second 500 millis' is not valid"),
        ("max_dns_ttl", cdk.Duration.seconds(2147483648), "from 0 to 2147483647 seconds"),
        ("max_negative_cache_ttl", "15s", "max_negative_cache_ttl='15s' is not valid"),
        ("max_instances_per_service", 0, "max_instances_per_service=0 is not valid: expected a whole number"),
        ("max_instances_per_service", True, "max_instances_per_service=True is not valid"),
        ("max_instances_per_service", "1000", "max_instances_per_service='1000' is not valid"),
        ("verbose", "yes", "verbose='yes' is not valid: expected True, False or None"),
    ],
)
def test_bad_parameters_are_named_with_the_value_and_what_is_allowed(keyword: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ServiceDiscoveryChecks(**{keyword: value})  # type: ignore[arg-type]


def test_a_token_threshold_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Token")
    token = cdk.Duration.seconds(cdk.CfnParameter(stack, "Ttl", type="Number").value_as_number)
    with pytest.raises(ValidationError, match=r"max_dns_ttl=.* not a token"):
        ServiceDiscoveryChecks(max_dns_ttl=token)


def test_compliance_of_an_unknown_rule_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Unknown")
    with pytest.raises(ValidationError, match=r"rule_id='SD9' is not valid: expected one of \['ServiceDiscovery-SD1'"):
        ServiceDiscoveryChecks().compliance(l1.cloud_map_service(stack), "SD9")


def test_compliance_of_a_construct_that_is_not_an_l1_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "NotL1")
    with pytest.raises(ValidationError, match=r"node=<aws_cdk.Stack object at .*> is not valid: expected an L1"):
        ServiceDiscoveryChecks().compliance(stack, SD1)  # type: ignore[arg-type]


def test_a_scope_that_is_not_a_construct_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"scope='app' is not valid: expected the app"):
        ServiceDiscoveryChecks("app")  # type: ignore[arg-type]


def test_compliance_of_another_resource_type_is_not_applicable() -> None:
    stack = cdk.Stack(cdk.App(), "OtherType")
    assert ServiceDiscoveryChecks().compliance(l1.task_definition(stack), SD1) is NagRuleCompliance.NOT_APPLICABLE


def _report(outdir: str) -> dict[str, object]:
    return json.loads((Path(outdir) / "validation-report.json").read_text())


def test_as_a_plugin_beside_aws_solutions_a_finding_fails_synth_and_is_reported_by_id(tmp_path: Path) -> None:
    # GIVEN both packs registered as the README shows, and a Cloud Map service cached for an hour
    app = cdk.App(outdir=str(tmp_path))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServiceDiscoveryChecks(app))
    l1.cloud_map_service(cdk.Stack(app, "Plugin"), records={"A": 3600})
    # WHEN the app synthesizes THEN validation fails and the report names the rule and the resource
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    reports = {report["pluginName"]: report for report in _report(str(tmp_path))["pluginReports"]}  # type: ignore[index]
    ours = reports["ServiceDiscovery"]
    assert ours["conclusion"] == "failure"
    assert [(v["ruleName"], [r["constructPath"] for r in v["violatingConstructs"]]) for v in ours["violations"]] == [
        (SD1, ["Plugin/CloudMapService"])
    ]


def test_as_a_plugin_an_acknowledged_finding_passes_synth(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    cdk.Validations.of(app).add_plugins(ServiceDiscoveryChecks(app, write_suppressions_to_cloud_formation=True))
    stack = cdk.Stack(app, "Acknowledged")
    service = l1.cloud_map_service(stack, records={"A": 3600})
    reason = "Batch clients resolve once per hour and retry on connection errors"
    cdk.Validations.of(service).acknowledge(cdk.Acknowledgment(id=SD1, reason=reason))
    app.synth()
    assert _report(str(tmp_path))["pluginReports"] == []
    # cdk-nag 2's audit trail in the template, when asked for
    template = json.loads((tmp_path / "Acknowledged.template.json").read_text())
    metadata = template["Resources"]["CloudMapService"]["Metadata"]["cdk_nag"]
    assert metadata == {"rules_to_suppress": [{"id": SD1, "reason": reason}]}


DOCS = Path(__file__).resolve().parents[2] / "docs" / "nag-rules.md"


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.rule_id)
def test_docs_give_each_rule_a_row_a_section_its_reference_and_an_acknowledgement(rule: ServiceDiscoveryRule) -> None:
    text = DOCS.read_text()
    assert f"| [`{rule.rule_id}`](#{rule.suffix.lower()}-" in text
    section = text.split(f"\n## {rule.suffix}: ", 1)[1].split("\n## ", 1)[0]
    assert f'cdk.Acknowledgment(id="{rule.rule_id}", reason=' in section
    assert rule.reference in text
