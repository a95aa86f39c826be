"""Gates in the Service Connect modes (issue 14): the shipped stacks synthesized by the real CDK CLI
with ``-c discovery=service-connect`` and ``-c discovery=both`` pass cdk-nag (AwsSolutions and this
library's ServiceDiscovery pack), cfn-lint and checkov, with only the documented acknowledgements.
The DNS mode is app.py's default and is gated by test_cdk_nag/test_cfn_lint/test_checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from stacks import ServiceDiscoveryStack, SocialNetworkStack
from tests.security.conftest import MODES, REPO_ROOT, assembly_templates, cdk_synth
from tests.security.gates import CheckovRun, lint_findings
from tests.security.test_checkov import DOCUMENTED_SKIPS

#: The modes gated here; "dns" (app.py's default) is gated by test_cdk_nag/test_cfn_lint/test_checkov.
SERVICE_CONNECT_MODES = [mode for mode in MODES if mode != "dns"]


def synth_mode(out_dir: Path, mode: str) -> subprocess.CompletedProcess[str]:
    """The pinned CDK CLI's synth of app.py (cdk.json's app) with ``-c discovery=<mode>``."""
    return cdk_synth(out_dir, context={"discovery": mode})


@pytest.fixture(params=SERVICE_CONNECT_MODES)
def assembly(request: pytest.FixtureRequest, mode_assemblies: dict[str, Path]) -> tuple[str, Path]:
    # Each mode synthesized once per run, whichever xdist worker asks first (tests/security/conftest.py).
    return request.param, mode_assemblies[request.param]


def ecs_services(out_dir: Path) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = {}
    for path in assembly_templates(out_dir):
        for logical_id, resource in json.loads(path.read_text())["Resources"].items():
            if resource["Type"] == "AWS::ECS::Service":
                services[f"{path.name}:{logical_id}"] = resource["Properties"]
    return services


def test_every_service_is_in_the_chosen_mode(assembly: tuple[str, Path]) -> None:
    # The gates below mean something only if the mode took effect: 2 seed + 7 social network services.
    mode, out_dir = assembly
    services = ecs_services(out_dir)
    assert len(services) == 9
    for name, service in services.items():
        assert service["ServiceConnectConfiguration"]["Enabled"] is True, name
        assert ("ServiceRegistries" in service) is (mode == "both"), name


def test_cdk_nag_passes(assembly: tuple[str, Path]) -> None:
    # Both packs run inside the synth as policy validation plugins (app.py's add_policy_checks).
    report = (assembly[1] / "validation-report.json").read_text()
    assert '"pluginReports": []' in report


def test_cfn_lint_passes(
    assembly: tuple[str, Path], lint_run: subprocess.CompletedProcess[str], every_mode_templates: list[Path]
) -> None:
    # One cfn-lint run reads every mode's templates (tests/security/conftest.py): this mode's part.
    assert lint_findings(lint_run.stdout, assembly_templates(assembly[1])) == [], lint_run.stdout
    assert lint_run.returncode == 0 or lint_findings(lint_run.stdout, every_mode_templates), lint_run.stderr


def test_checkov_passes_with_documented_skips_only(assembly: tuple[str, Path], checkov_run: CheckovRun) -> None:
    # One checkov run reads every mode's templates (tests/security/conftest.py): this mode's part.
    run = checkov_run.of_files(assembly_templates(assembly[1]))
    assert run.checks("passed_checks"), "checkov read none of this mode's templates"
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in run.checks("failed_checks")]
    assert failed == []
    assert run.returncode == 0 or checkov_run.checks("failed_checks"), run.stderr
    assert run.network_attempts == ""
    assert {check["check_id"] for check in run.checks("skipped_checks")} <= DOCUMENTED_SKIPS


#: Acknowledgements the Service Connect modes add (listed in docs/security.md, "Service Connect"):
#: mode -> rule -> words its reason must hold. None: in "both" a client alias equal to the service's
#: own DNS name is the same tasks under one URL, which SD6 itself accepts (its own ServiceRegistries).
NEW_ACKNOWLEDGEMENTS: dict[str, dict[str, str]] = {
    "service-connect": {},
    "both": {},
}


def _acknowledgements(app: cdk.App) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for qualified_rule, reason in entry.data.items():
                    found[(construct.node.path, qualified_rule.split("::", 1)[-1])] = reason
    return found


def _built(discovery: str) -> dict[tuple[str, str], str]:
    app = cdk.App()
    ServiceDiscoveryStack(app, "ServiceDiscovery", discovery=discovery)
    SocialNetworkStack(app, "SocialNetwork", discovery=discovery)
    return _acknowledgements(app)


@pytest.fixture(scope="module")
def dns_acknowledgements() -> dict[tuple[str, str], str]:
    return _built("dns")


@pytest.mark.parametrize("mode", SERVICE_CONNECT_MODES)
def test_the_modes_add_only_the_documented_acknowledgements(
    mode: str, dns_acknowledgements: dict[tuple[str, str], str]
) -> None:
    # GIVEN the shipped stacks in ``mode``, built in process, beside the DNS mode
    chosen = _built(mode)
    # THEN the mode adds only the documented rules, one per ECS service, each with its reason
    added = {key: reason for key, reason in chosen.items() if key not in dns_acknowledgements}
    expected = NEW_ACKNOWLEDGEMENTS[mode]
    assert {rule for _, rule in added} == set(expected)
    assert len(added) == (9 if expected else 0)
    for (path, rule), reason in added.items():
        assert path.endswith("/Service"), path
        assert expected[rule] in reason
    # AND every acknowledgement of DNS mode is still there, and the new ones are in docs/security.md
    assert set(dns_acknowledgements) <= set(chosen)
    section = (REPO_ROOT / "docs" / "security.md").read_text().split("## Service Connect", 1)
    assert len(section) == 2, "docs/security.md has no 'Service Connect' section"
    assert "adds no acknowledgement" in section[1]
    for rule in expected:
        assert rule in section[1]


def test_a_bad_mode_is_one_line_naming_the_context_value(tmp_path: Path) -> None:
    result = synth_mode(tmp_path / "cdk.out", "mesh")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "error: discovery='mesh' is not valid: expected one of ['dns', 'service-connect', 'both']" in output
    assert "Traceback" not in output
