"""examples/nag-any-app: an aws-cdk-lib app (none of this library's constructs) checked by AwsSolutionsChecks
and ServiceDiscoveryChecks; in process through its build function, and installed as a user would into a
clean virtual environment, then synthesized by the real CDK CLI."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecs as ecs
from cdk_nag import NagRuleCompliance

from ecs_service_discovery.nag import ServiceDiscoveryChecks
from tests.conftest import once_per_run
from tests.integration.clean_venv import declared_requirements, make_clean_venv

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "nag-any-app"
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nag_any_app", EXAMPLE_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class InProcess:
    app: cdk.App
    stack: cdk.Stack
    report: dict[str, Any]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory: pytest.TempPathFactory) -> InProcess:
    # The example's cdk.json feature flags, as the CLI gives them (construct warnings go into the report).
    context = json.loads((EXAMPLE_DIR / "cdk.json").read_text())["context"]
    app = cdk.App(outdir=str(tmp_path_factory.mktemp("nag-any-app")), context=context)
    stack = _example().build(app)
    assembly = app.synth()  # raises on a violation: both packs are policy validation plugins
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    return InProcess(app, stack, report)


def test_example_imports_only_the_rule_pack_of_this_library() -> None:
    tree = ast.parse((EXAMPLE_DIR / "app.py").read_text())
    ours = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ecs_service_discovery")
    ]
    plain = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name.startswith("ecs_service_discovery")
    ]
    assert ours == ["ecs_service_discovery.nag"]
    assert plain == []


def test_example_uses_the_repositorys_feature_flags() -> None:
    example = json.loads((EXAMPLE_DIR / "cdk.json").read_text())
    repository = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert example["context"] == repository["context"]


def test_both_packs_pass_with_no_violation(in_process: InProcess) -> None:
    assert in_process.report["pluginReports"] == []


def test_the_report_service_long_ttl_is_a_finding_acknowledged_with_its_reason(in_process: InProcess) -> None:
    report = in_process.stack.node.find_child("Report")
    assert isinstance(report, ecs.FargateService) and report.cloud_map_service is not None
    cloud_map = report.cloud_map_service.node.default_child
    assert isinstance(cloud_map, cdk.CfnResource)
    assert ServiceDiscoveryChecks().compliance(cloud_map, "SD1") is NagRuleCompliance.NON_COMPLIANT
    reasons = [
        entry.data["Annotation::ServiceDiscovery-SD1"]
        for entry in report.cloud_map_service.node.metadata
        if entry.type == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    ]
    assert len(reasons) == 1 and "retries on connection errors" in reasons[0]


def test_every_other_cloud_map_service_and_the_namespace_are_compliant(in_process: InProcess) -> None:
    pack = ServiceDiscoveryChecks()
    for name in ("Cart", "Web"):
        service = in_process.stack.node.find_child(name)
        assert isinstance(service, ecs.FargateService) and service.cloud_map_service is not None
        cloud_map = service.cloud_map_service.node.default_child
        assert isinstance(cloud_map, cdk.CfnResource)
        assert pack.compliance(cloud_map, "SD1") is NagRuleCompliance.COMPLIANT
        ecs_service = service.node.default_child
        assert isinstance(ecs_service, cdk.CfnResource)
        for rule in ("SD2", "SD4", "SD5"):
            assert pack.compliance(ecs_service, rule) is NagRuleCompliance.COMPLIANT, (name, rule)
    namespace = in_process.stack.node.find_child("Namespace").node.default_child
    assert isinstance(namespace, cdk.CfnResource)
    assert pack.compliance(namespace, "SD7") is NagRuleCompliance.COMPLIANT


@dataclass(frozen=True)
class CliSynth:
    install: subprocess.CompletedProcess[str]
    synth: subprocess.CompletedProcess[str]
    out_dir: Path


def _example_requirement_names() -> list[str]:
    specs = declared_requirements(REPO_ROOT / "pyproject.toml", "nag", build=True)
    for line in (EXAMPLE_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith((".", "/", "-")):
            specs.append(line)
    return specs


def _completed(args: list[str], summary: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(args, summary["returncode"], summary["stdout"], summary["stderr"])


def _summary(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def _install_and_synth(root: Path) -> dict[str, Any]:
    # GIVEN a clean venv that sees only what the example's requirements and the library declare
    clean = make_clean_venv(root, _example_requirement_names())
    # WHEN the README's install command runs in the example's folder, offline
    install = clean.pip_install("-r", "requirements.txt", cwd=EXAMPLE_DIR)
    if install.returncode != 0:
        return {"install": _summary(install), "synth": None}
    # AND the real CLI runs the example's cdk.json app command with that venv's python
    command = [str(CDK_BIN), "synth", "--quiet", "--output", str(root / "cdk.out"), "--app", f"{clean.python} app.py"]
    return {"install": _summary(install), "synth": _summary(clean.run(command, cwd=EXAMPLE_DIR))}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> CliSynth:
    # The pinned CLI comes with `make install`; a test that skipped without it would pass the build.
    assert CDK_BIN.exists(), "node_modules/.bin/cdk is missing: run `make install`"
    app_command = json.loads((EXAMPLE_DIR / "cdk.json").read_text())["app"]
    assert app_command == ".venv/bin/python app.py"
    # Once per test run, by whichever xdist worker asks first: a venv, a pip install and a CLI synth.
    root, summary = once_per_run(tmp_path_factory, "nag-any-app-cli", {}, _install_and_synth)
    install = _completed(["pip", "install"], summary["install"])
    assert install.returncode == 0, install.stdout + install.stderr
    return CliSynth(install, _completed(["cdk", "synth"], summary["synth"]), root / "cdk.out")


def test_cli_synth_succeeds_without_any_message(cli: CliSynth) -> None:
    assert cli.synth.returncode == 0, cli.synth.stdout + cli.synth.stderr
    assert cli.synth.stdout.strip() == "" and cli.synth.stderr.strip() == "", cli.synth.stdout + cli.synth.stderr


def test_cli_synth_report_has_no_violation(cli: CliSynth) -> None:
    report = json.loads((cli.out_dir / "validation-report.json").read_text())
    assert report["pluginReports"] == []
    assert (cli.out_dir / "NagAnyApp.template.json").is_file()
