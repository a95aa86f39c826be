"""Gate: cfn-lint finds no error and no warning in any synthesized template."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.security.conftest import VENV_BIN


def cfn_lint(*templates: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "cfn-lint"), "--format", "parseable", "--", *map(str, templates)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_synthesized_template_is_lint_free(synthesized_templates: list[Path]) -> None:
    # GIVEN every template of the app (nested ones included) WHEN cfn-lint reads them all
    result = cfn_lint(*synthesized_templates)
    # THEN it reports nothing: informational findings aside, an error or a warning fails the build
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


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
