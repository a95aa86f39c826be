"""Where the rules read a resource from: the synthesized template (raw overrides, nested stacks, CfnInclude),
or the L1 properties before synthesis."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import cloudformation_include as cfn_inc
from cdk_nag import NagRuleCompliance

from ecs_service_discovery.nag import ServiceDiscoveryChecks, StackTemplates
from tests.nag import l1
from tests.nag.findings import Findings, validate

TEMPLATES = Path(__file__).with_name("templates")
SD1 = "ServiceDiscovery-SD1"


def _override_app() -> tuple[cdk.App, cdk.CfnResource]:
    """A Cloud Map service whose A record is within the ceiling and whose SRV record (a raw override) is not."""
    app = cdk.App()
    service = l1.cloud_map_service(cdk.Stack(app, "Override"), records={"A": 10})
    service.add_property_override("DnsConfig.DnsRecords", [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 600}])
    return app, service


def test_before_synthesis_the_l1_properties_are_read_without_raw_overrides() -> None:
    app, service = _override_app()
    findings = validate(app, synth=False)
    assert findings.errors == ()
    assert not findings.reported(SD1, service)


def test_after_synthesis_the_template_with_raw_overrides_is_read() -> None:
    app, service = _override_app()
    findings = validate(app)
    assert findings.reported(SD1, service)


def test_a_template_file_of_another_tree_in_the_same_output_directory_is_not_read(tmp_path: Path) -> None:
    # GIVEN an app synthesized into tmp_path whose stack "Shared" holds a compliant Cloud Map service
    first = cdk.App(outdir=str(tmp_path))
    l1.cloud_map_service(cdk.Stack(first, "Shared"), "Old", records={"A": 10})
    first.synth()
    # WHEN another tree with a stack of the same name (so the same template file) is validated unsynthesized
    second = cdk.App(outdir=str(tmp_path))
    new = l1.cloud_map_service(cdk.Stack(second, "Shared"), "New", records={"A": 600})
    findings = validate(second, synth=False)
    # THEN its own resource is read, from its L1 properties
    assert findings.reported(SD1, new)


def test_before_synthesis_a_nested_stacks_resources_are_rendered_in_its_own_template() -> None:
    # GIVEN a parent whose Cloud Map service is compliant and a nested stack whose service is not
    app = cdk.App()
    parent = cdk.Stack(app, "Parent")
    compliant = l1.cloud_map_service(parent, records={"A": 10})
    nested = cdk.NestedStack(parent, "Child")
    noncompliant = l1.cloud_map_service(nested, records={"A": 600})
    # WHEN the unsynthesized tree is validated THEN each is read from its own stack's resources
    findings = validate(app, synth=False)
    assert findings.of_rule(SD1) == {noncompliant.node.path}
    parent_view = StackTemplates().view(compliant)
    assert parent_view is not None
    assert [r.logical_id for r in parent_view.of_type("AWS::ServiceDiscovery::Service")] == [
        parent.resolve(compliant.logical_id)
    ]


def test_a_stack_in_a_stage_is_read_from_the_stages_nested_assembly() -> None:
    app = cdk.App()
    stage = cdk.Stage(app, "Prod")
    service = l1.cloud_map_service(cdk.Stack(stage, "Shop"), records={"A": 10})
    service.add_property_override("DnsConfig.DnsRecords.0.TTL", 900)
    # Only the synthesized template (in the stage's own assembly directory) holds the override.
    assert validate(app).reported(SD1, service)


def test_nested_stack_resources_are_read_from_the_nested_template() -> None:
    app = cdk.App()
    nested = cdk.NestedStack(cdk.Stack(app, "Parent"), "Child")
    service = l1.cloud_map_service(nested, records={"A": 600})
    findings = validate(app)
    view = StackTemplates().view(service)
    assert view is not None and view.logical_id == nested.resolve(service.logical_id)
    assert findings.reported(SD1, service)


@dataclass(frozen=True)
class Included:
    env: cfn_inc.CfnInclude
    svc: cfn_inc.CfnInclude
    findings: Findings


@pytest.fixture(scope="module")
def copilot() -> Included:
    """A Copilot-style environment stack and backend service stack, brought in with CfnInclude."""
    app = cdk.App()
    env = cfn_inc.CfnInclude(cdk.Stack(app, "CopilotEnv"), "Env", template_file=str(TEMPLATES / "copilot-env.json"))
    svc = cfn_inc.CfnInclude(cdk.Stack(app, "CopilotSvc"), "Svc", template_file=str(TEMPLATES / "copilot-svc.json"))
    return Included(env, svc, validate(app, ServiceDiscoveryChecks()))


def test_cfn_include_no_rule_raised_on_imports_joins_and_parameters(copilot: Included) -> None:
    assert copilot.findings.errors == ()


def test_cfn_include_findings_are_the_namespace_soa_and_autoscaling_past_the_quota(copilot: Included) -> None:
    assert copilot.findings.violations == {
        ("ServiceDiscovery-SD7", copilot.env.get_resource("ServiceDiscoveryNamespace").node.path),
        ("ServiceDiscovery-SD4", copilot.svc.get_resource("AutoScalingTarget").node.path),
    }


def test_cfn_include_cloud_map_service_and_registry_are_compliant(copilot: Included) -> None:
    discovery = copilot.svc.get_resource("DiscoveryService")
    service = copilot.svc.get_resource("Service")
    assert copilot.findings.compliance(SD1, discovery) is NagRuleCompliance.COMPLIANT
    for rule in ("SD2", "SD3", "SD5"):
        assert copilot.findings.compliance(rule, service) is NagRuleCompliance.COMPLIANT, rule
