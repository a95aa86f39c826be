"""The real CDK CLI (pinned in package-lock.json) synthesizing the real app.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import CDK_BIN, REPO_ROOT, CliSynth, cdk_cli_env, cdk_synth


@pytest.fixture(scope="module", autouse=True)
def _cdk_cli_installed() -> None:
    # The pinned CLI comes with `make install`; a test that skipped without it would pass the build.
    assert CDK_BIN.exists(), "node_modules/.bin/cdk is missing: run `make install`"


@pytest.fixture(scope="module")
def cli_synth(app_synth: CliSynth) -> tuple[CliSynth, Path]:
    # The run of app.py the security gates read too (tests/conftest.py): one CLI synth per test run.
    return app_synth, app_synth.out_dir


def test_cli_synth_succeeds_without_any_warning(cli_synth: tuple[CliSynth, Path]) -> None:
    result, out_dir = cli_synth
    assert result.returncode == 0, result.stderr
    # No Node end-of-life banner, no feature-flag notice, no minHealthyPercent warning: with two
    # stacks the CLI says only where it wrote them and which stacks there are.
    assert result.stderr.splitlines() == [
        f"Successfully synthesized to {out_dir}",
        "Supply a stack id (ServiceDiscovery, SocialNetwork) to display its template.",
    ], result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_cli_in_ci_mode_prints_the_same_lines_on_stdout(cli_synth: tuple[CliSynth, Path], tmp_path: Path) -> None:
    # GIVEN the assembly the fixture synthesized, used as the app (no second run of app.py)
    _, out_dir = cli_synth
    # WHEN the CLI runs as a CI system runs it
    command = [str(CDK_BIN), "synth", "--quiet", "--app", str(out_dir), "--output", str(tmp_path / "cdk.out")]
    ci = cdk_cli_env(ci=True)
    result = subprocess.run(command, cwd=REPO_ROOT, env=ci, capture_output=True, text=True, timeout=120)
    # THEN the same two lines go to stdout and nothing to stderr
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"Successfully synthesized to {out_dir}",
        "Supply a stack id (ServiceDiscovery, SocialNetwork) to display its template.",
    ], result.stdout
    assert result.stderr == "", result.stderr


def test_cli_writes_the_template_and_manifest(cli_synth: tuple[CliSynth, Path]) -> None:
    _, out_dir = cli_synth
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert "ServiceDiscovery" in manifest["artifacts"]
    template = json.loads((out_dir / "ServiceDiscovery.template.json").read_text())
    names = sorted(
        r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::ServiceDiscovery::Service"
    )
    assert names == ["backend", "worker"]


def test_cli_synthesizes_the_social_network_as_a_second_stack(
    cli_synth: tuple[CliSynth, Path],
) -> None:
    _, out_dir = cli_synth
    template = json.loads((out_dir / "SocialNetwork.template.json").read_text())
    names = sorted(
        r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::ServiceDiscovery::Service"
    )
    assert names == ["auth", "backend", "feed", "messenger", "timeline", "user", "worker"]
    namespaces = [
        r["Properties"]["Name"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"
    ]
    assert namespaces == ["social"]
    # Two images for seven services: the backend's and the one generic worker image.
    assets = json.loads((out_dir / "SocialNetwork.assets.json").read_text())
    assert len(assets["dockerImages"]) == 2


def test_cli_stages_both_images_from_the_one_services_context(
    cli_synth: tuple[CliSynth, Path],
) -> None:
    _, out_dir = cli_synth
    assets = json.loads((out_dir / "ServiceDiscovery.assets.json").read_text())
    # One build context (services/) per image, each with its own Dockerfile and only its own files.
    staged = {a["source"]["dockerFile"]: out_dir / a["source"]["directory"] for a in assets["dockerImages"].values()}
    assert sorted(staged) == ["flask-backend/Dockerfile", "flask-worker/Dockerfile"]
    for dockerfile, context in staged.items():
        assert (context / dockerfile).read_text() == (REPO_ROOT / "services" / dockerfile).read_text()
        assert (context / "common" / "gunicorn.conf.py").is_file()
    assert (staged["flask-backend/Dockerfile"] / "discovery-client" / "pyproject.toml").is_file()
    assert not (staged["flask-worker/Dockerfile"] / "discovery-client").exists()
    assert not (staged["flask-worker/Dockerfile"] / "flask-backend").exists()


def test_cli_context_changes_the_namespace(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, context={"namespace": "shop"})
    assert result.returncode == 0, result.stderr
    template = json.loads((tmp_path / "ServiceDiscovery.template.json").read_text())
    namespaces = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"
    ]
    assert [n["Properties"]["Name"] for n in namespaces] == ["shop"]


def test_cli_reports_a_bad_namespace_without_a_stack_trace(tmp_path: Path) -> None:
    result = cdk_synth(tmp_path, context={"namespace": "Bad_Name"})
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "namespace_name='Bad_Name' is not valid" in output
    assert "jsii" not in output and "at Object." not in output and "Traceback" not in output
