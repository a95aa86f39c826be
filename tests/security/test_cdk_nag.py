"""Gate: cdk-nag's AwsSolutions rules pass for every shipped stack and for the library's defaults."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from ecs_service_discovery import DiscoverableFargateService, DiscoveryNamespace
from tests.conftest import CliSynth, cli_synth_once
from tests.helpers import LibraryDefaultsStack

#: Session fixtures (tests/conftest.py) of every stack the project ships: adding a stack is one line.
SHIPPED_STACKS = [
    "seed_stack",
    "social_stack",
]

ECR_TOKEN = "ecr:GetAuthorizationToken"
#: The instance reads of a namespace-wide discovery read grant (scoped by the namespace ID tag).
ANY_CLOUD_MAP_SERVICE = "arn:<AWS::Partition>:servicediscovery:<AWS::Region>:<AWS::AccountId>:service/*"
#: Every acknowledgement in the shipped stacks: (construct path under the stack, rule) -> words its reason must hold.
DOCUMENTED_ACKNOWLEDGEMENTS = {
    ("Worker/TaskDefinition", "AwsSolutions-ECS2"): "non-secret discovery settings",
    ("Backend/TaskDefinition", "AwsSolutions-ECS2"): "non-secret discovery settings",
    ("Worker/TaskDefinition/ExecutionRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ECR_TOKEN,
    ("Backend/TaskDefinition/ExecutionRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ECR_TOKEN,
    ("Backend/TaskDefinition/TaskRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): "ListServices",
    ("Backend/TaskDefinition/TaskRole/DefaultPolicy", f"AwsSolutions-IAM5[Resource::{ANY_CLOUD_MAP_SERVICE}]"): "tag",
}


def violations(scope: IConstruct) -> list[str]:
    report = AwsSolutionsChecks().validate_scope(scope)
    return [
        f"{violation.rule_name} at {resource.construct_path}"
        for violation in report.violations
        for resource in violation.violating_resources
    ]


def acknowledgements(stack: cdk.Stack) -> dict[tuple[str, str], str]:
    """cdk-nag acknowledgements in ``stack``: (path under the stack, rule) -> reason."""
    found: dict[tuple[str, str], str] = {}
    prefix = stack.node.path + "/"
    for construct in stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for qualified_rule, reason in entry.data.items():
                    # aws-cdk-lib files a rule without a plugin prefix under "Annotation::"; cdk-nag strips it.
                    # Its own acknowledgements (e.g. "CloudFormation-Validate::W3010" on stacks) are not ours.
                    rule = qualified_rule.split("::", 1)[-1]
                    if rule.startswith("AwsSolutions-"):
                        found[(construct.node.path.removeprefix(prefix), rule)] = reason
    return found


@pytest.mark.parametrize("stack_fixture", SHIPPED_STACKS)
def test_shipped_stack_has_no_violation(stack_fixture: str, request: pytest.FixtureRequest) -> None:
    stack: cdk.Stack = request.getfixturevalue(stack_fixture)
    # The whole app: nested stacks and sibling stacks of the same app count too.
    assert violations(stack.node.root) == []


def test_library_constructs_with_their_defaults_have_no_violation(library_defaults_stack: LibraryDefaultsStack) -> None:
    # GIVEN the library's constructs with every default, in a stack whose VPC and cluster are the user's own
    library_constructs = [
        construct
        for construct in library_defaults_stack.node.find_all()
        if isinstance(construct, (DiscoverableFargateService, DiscoveryNamespace))
    ]
    assert len(library_constructs) == 3
    # THEN nothing they create violates a rule
    for construct in library_constructs:
        assert violations(construct) == [], construct.node.path
    # AND the only findings of the whole stack are on the user's VPC (no flow log) and cluster (no Container Insights)
    assert sorted(violations(library_defaults_stack)) == [
        "AwsSolutions-ECS4 at LibraryDefaults/Cluster/Resource",
        "AwsSolutions-VPC7 at LibraryDefaults/Vpc/Resource",
    ]


def test_seed_stack_acknowledges_only_the_documented_findings(seed_stack: cdk.Stack) -> None:
    found = acknowledgements(seed_stack)
    assert set(found) == set(DOCUMENTED_ACKNOWLEDGEMENTS)
    for key, words in DOCUMENTED_ACKNOWLEDGEMENTS.items():
        assert words in found[key], (key, found[key])


def test_social_network_acknowledges_only_the_seed_kinds_of_findings(social_stack: cdk.Stack) -> None:
    # The same three findings as the seed stack, per service: environment variables, the ECR
    # token on every execution role, ListServices on the one reader (backend).
    names = ["backend", "auth", "user", "timeline", "feed", "messenger", "worker"]
    expected = {
        **{(f"Topology/{n}/TaskDefinition", "AwsSolutions-ECS2"): "non-secret discovery settings" for n in names},
        **{
            (f"Topology/{n}/TaskDefinition/ExecutionRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ECR_TOKEN
            for n in names
        },
        ("Topology/backend/TaskDefinition/TaskRole/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): "ListServices",
        (
            "Topology/backend/TaskDefinition/TaskRole/DefaultPolicy",
            f"AwsSolutions-IAM5[Resource::{ANY_CLOUD_MAP_SERVICE}]",
        ): "tag",
    }
    found = acknowledgements(social_stack)
    assert set(found) == set(expected)
    for key, words in expected.items():
        assert words in found[key], (key, found[key])


def test_library_defaults_acknowledge_only_environment_variables(library_defaults_stack: LibraryDefaultsStack) -> None:
    # A public-registry image needs no ECR token, so the execution role carries no acknowledgement.
    assert set(acknowledgements(library_defaults_stack)) == {
        ("Api/TaskDefinition", "AwsSolutions-ECS2"),
        ("Db/TaskDefinition", "AwsSolutions-ECS2"),
    }


@pytest.fixture(scope="module")
def noncompliant_synth(tmp_path_factory: pytest.TempPathFactory) -> CliSynth:
    """An app with SSH open to 0.0.0.0/0, checked by app.py's add_policy_checks/synth_checked, synthesized
    by the pinned CDK CLI. The CLI runs the app as `cdk synth` runs app.py ("process" mode: aws-cdk-lib
    only marks its own Node.js process failed), so this one run shows both the CLI's and the app's failure."""
    noncompliant = Path(__file__).with_name("noncompliant_app.py")
    return cli_synth_once(tmp_path_factory, app=f"{sys.executable} {noncompliant}")


def test_a_violation_fails_the_real_cdk_synth(noncompliant_synth: CliSynth) -> None:
    # THEN synth fails and names the rule
    assert noncompliant_synth.returncode != 0
    assert "AwsSolutions-EC23" in noncompliant_synth.stdout + noncompliant_synth.stderr


def test_the_shipped_app_synthesizes_with_cdk_nag_on(cdk_out: Path) -> None:
    # cdk_out is app.py through the real CLI with the plugin registered: it exits 0 and reports no violation.
    report = (cdk_out / "validation-report.json").read_text()
    assert '"pluginReports": []' in report


def test_app_py_fails_on_the_report_itself_in_process_mode(noncompliant_synth: CliSynth) -> None:
    # The Python process itself exits 1 (the CLI names the app's exit code) with one line naming the rule,
    # read from the validation report by synth_checked; without it the app would exit 0.
    output = noncompliant_synth.stdout + noncompliant_synth.stderr
    assert "noncompliant_app.py: Subprocess exited with error 1" in output, output
    assert "error: policy validation failed (AwsSolutions-EC23); see " in output, output
    assert "Traceback" not in output
