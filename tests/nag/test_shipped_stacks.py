"""The project's own stacks (app.py's ServiceDiscovery and SocialNetwork) pass the pack, with no acknowledgement."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk.assertions import Template

from ecs_service_discovery.nag import ServiceDiscoveryChecks
from tests.nag.findings import validate

#: (stack fixture, template fixture): the template fixture synthesizes the stack's app once per session,
#: so the pack reads the synthesized templates, nested stacks included.
SHIPPED = [("seed_stack", "seed_template"), ("social_stack", "social_template")]


@pytest.mark.parametrize(("stack_fixture", "template_fixture"), SHIPPED, ids=["ServiceDiscovery", "SocialNetwork"])
def test_shipped_stack_passes_the_service_discovery_pack(
    stack_fixture: str, template_fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: cdk.Stack = request.getfixturevalue(stack_fixture)
    template: Template = request.getfixturevalue(template_fixture)
    assert template.to_json()["Resources"]
    app = stack.node.root
    assert isinstance(app, cdk.App)
    findings = validate(app, synth=False)
    assert findings.errors == ()
    assert sorted(findings.violations) == []


@pytest.mark.parametrize(("stack_fixture", "template_fixture"), SHIPPED, ids=["ServiceDiscovery", "SocialNetwork"])
def test_every_cloud_map_service_of_the_app_is_checked(
    stack_fixture: str, template_fixture: str, request: pytest.FixtureRequest
) -> None:
    # With a ceiling below the project's 10 s TTL, every Cloud Map service (nested stacks too) is reported.
    stack: cdk.Stack = request.getfixturevalue(stack_fixture)
    request.getfixturevalue(template_fixture)
    app = stack.node.root
    assert isinstance(app, cdk.App)
    cloud_map_services = {c.node.path for c in app.node.find_all() if isinstance(c, servicediscovery.CfnService)}
    assert cloud_map_services
    findings = validate(app, ServiceDiscoveryChecks(max_dns_ttl=cdk.Duration.seconds(5)), synth=False)
    assert findings.of_rule("ServiceDiscovery-SD1") == cloud_map_services


@pytest.mark.parametrize("stack_fixture", [fixture for fixture, _ in SHIPPED])
def test_shipped_stack_acknowledges_no_service_discovery_rule(
    stack_fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: cdk.Stack = request.getfixturevalue(stack_fixture)
    acknowledged = [
        (construct.node.path, rule)
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
        for rule in entry.data
    ]
    # The stacks do acknowledge AwsSolutions findings (tests/security/test_cdk_nag.py), so this reads
    # acknowledgements where they are: an empty list below is not a misread.
    assert any("AwsSolutions-" in rule for _, rule in acknowledged)
    assert [(path, rule) for path, rule in acknowledged if "ServiceDiscovery-" in rule] == []
