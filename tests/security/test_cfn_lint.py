"""Gate: cfn-lint finds no error and no warning in any synthesized template."""

from __future__ import annotations

import json
from pathlib import Path
from subprocess import CompletedProcess

from tests.security.gates import cfn_lint, lint_findings

__all__ = ["cfn_lint"]


def test_every_synthesized_template_is_lint_free(
    lint_run: CompletedProcess[str], synthesized_templates: list[Path], every_mode_templates: list[Path]
) -> None:
    # GIVEN every template of the app (nested ones included) WHEN cfn-lint reads them all (beside the
    # Service Connect modes' templates, in the same run: tests/security/test_service_connect_gates.py)
    # THEN it reports nothing about them: informational findings aside, an error or a warning fails the build
    assert lint_findings(lint_run.stdout, synthesized_templates) == [], lint_run.stdout
    # AND cfn-lint itself ran: a non-zero exit is only ever another mode's findings, and nothing is left unread
    assert lint_run.returncode == 0 or lint_findings(lint_run.stdout, every_mode_templates), lint_run.stderr
    assert lint_findings(lint_run.stdout, every_mode_templates) == lint_run.stdout.splitlines(), lint_run.stdout


def test_the_gate_reports_a_warning(tmp_path: Path) -> None:
    # GIVEN a template with an unused parameter (W2001) and a Retain policy without its update twin (W3011)
    template = tmp_path / "bad.template.json"
    template.write_text(
        json.dumps(
            {
                "Parameters": {"Unused": {"Type": "String"}},
                "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain"}},
            }
        )
    )
    # WHEN cfn-lint reads it THEN the gate fails and names the rules
    result = cfn_lint(template)
    assert result.returncode != 0
    assert "W2001" in result.stdout and "W3011" in result.stdout, result.stdout
    # AND each finding is read as this template's (what the gates above rely on)
    assert len(lint_findings(result.stdout, [template])) == len(result.stdout.splitlines()) >= 2
