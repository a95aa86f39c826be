"""The security gates' shared input: app.py synthesized ONCE per discovery mode by the real CDK CLI, the
Dockerfiles, and one cfn-lint and one checkov run over all of them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, VENV_BIN, AppSynthWith, CliSynth, cdk_synth, once_per_run
from tests.security.gates import CHECKOV_PYTHON, CheckovRun, cfn_lint, run_checkov

__all__ = ["CHECKOV_PYTHON", "DOCKERFILES", "MODES", "REPO_ROOT", "VENV_BIN", "assembly_templates", "cdk_synth"]

DOCKERFILES = sorted((REPO_ROOT / "services").rglob("Dockerfile"))
#: app.py's discovery modes (``-c discovery=<mode>``); "dns" is its default, synthesized without context.
MODES = ("dns", "service-connect", "both")


@pytest.fixture(scope="session")
def cdk_out(app_synth: CliSynth) -> Path:
    """The cloud assembly of app.py; cdk-nag runs inside this synth as a policy validation plugin.

    The same run serves tests/integration/test_cdk_cli.py: one CLI synth of app.py per test run.
    """
    assert app_synth.returncode == 0, app_synth.stdout + app_synth.stderr
    return app_synth.out_dir


@pytest.fixture(scope="session")
def mode_assemblies(cdk_out: Path, app_synth_with: AppSynthWith) -> dict[str, Path]:
    """mode -> the cloud assembly of app.py in that mode (each synthesized once per test run)."""
    assemblies = {"dns": cdk_out}
    for mode in MODES[1:]:
        synth = app_synth_with({"discovery": mode})
        assert synth.returncode == 0, (mode, synth.stdout + synth.stderr)
        assemblies[mode] = synth.out_dir
    return assemblies


def assembly_templates(out_dir: Path) -> list[Path]:
    """Every CloudFormation template of a cloud assembly: top-level, nested stacks, nested assemblies."""
    templates = sorted(
        path
        for path in out_dir.rglob("*.template.json")
        if not any(part.startswith("asset.") for part in path.relative_to(out_dir).parts)
    )
    assert templates, f"no *.template.json in {out_dir}"
    return templates


@pytest.fixture(scope="session")
def synthesized_templates(cdk_out: Path) -> list[Path]:
    return assembly_templates(cdk_out)


@pytest.fixture(scope="session")
def every_mode_templates(mode_assemblies: dict[str, Path]) -> list[Path]:
    return [path for out_dir in mode_assemblies.values() for path in assembly_templates(out_dir)]


@pytest.fixture(scope="session")
def lint_run(every_mode_templates: list[Path], tmp_path_factory: pytest.TempPathFactory) -> CompletedProcess[str]:
    """cfn-lint over every template of every mode, in one process, once per test run; each test reads
    its own templates' lines (gates.lint_findings)."""

    def produce(_: Path) -> dict[str, Any]:
        result = cfn_lint(*every_mode_templates)
        return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}

    _, summary = once_per_run(tmp_path_factory, "cfn-lint", {"files": list(map(str, every_mode_templates))}, produce)
    return CompletedProcess(args=["cfn-lint"], **summary)


@pytest.fixture(scope="session")
def checkov_run(every_mode_templates: list[Path], tmp_path_factory: pytest.TempPathFactory) -> CheckovRun:
    """checkov over every template of every mode and the Dockerfiles, in one process, once per test run;
    each test reads its files' part (CheckovRun.of_files)."""
    assert DOCKERFILES, "no Dockerfile under services/"
    files = [*every_mode_templates, *DOCKERFILES]

    def produce(folder: Path) -> dict[str, Any]:
        return asdict(run_checkov(files, folder))

    _, summary = once_per_run(tmp_path_factory, "checkov", {"files": list(map(str, files))}, produce)
    return CheckovRun(**summary)
