"""Gate: checkov (CloudFormation and Dockerfile checks) finds nothing but documented skips, offline."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.security.conftest import CHECKOV_PYTHON, DOCKERFILES, REPO_ROOT

OFFLINE_RUNNER = Path(__file__).with_name("checkov_offline.py")

#: Every checkov skip the project accepts, with where it is recorded. Adding one is a decision:
#: record its reason on the resource (Metadata ``checkov.skip``) and list it in the README.
DOCUMENTED_SKIPS = {
    # aws-cdk-lib's custom resource provider that empties the VPC's default security group
    # (CdkProviderFunctionFindings): no concurrency limit, no DLQ, not in the VPC.
    "CKV_AWS_115",
    "CKV_AWS_116",
    "CKV_AWS_117",
    # A DiscoverableFargateService log group without log_encryption_key (CloudWatch Logs' own encryption).
    "CKV_AWS_158",
}


@dataclass(frozen=True)
class CheckovRun:
    returncode: int
    reports: list[dict[str, Any]]
    network_attempts: str
    stderr: str

    def checks(self, kind: str) -> list[dict[str, Any]]:
        return [check for report in self.reports for check in report["results"][kind]]


def run_checkov(files: list[Path], work_dir: Path) -> CheckovRun:
    """checkov over ``files``, with no API key, no download, no update check and every socket refused."""
    assert CHECKOV_PYTHON.exists(), ".venv-checkov is missing: run `make gates` (or `make test`)"
    network_log = work_dir / "checkov-network.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BC_", "PRISMA_", "CKV_"))}
    env.update(
        CHECKOV_NETWORK_LOG=str(network_log),
        BC_SKIP_MAPPING="TRUE",
        CKV_SKIP_PACKAGE_UPDATE_CHECK="TRUE",
        CKV_IGNORE_HIDDEN_DIRECTORIES="TRUE",
        LOG_LEVEL="WARNING",
    )
    command = [
        str(CHECKOV_PYTHON),
        str(OFFLINE_RUNNER),
        "--skip-download",
        "--framework",
        "cloudformation",
        "dockerfile",
    ]
    for path in files:
        command += ["--file", str(path)]
    command += ["--output", "json"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    parsed = json.loads(result.stdout) if result.stdout.strip() else []
    reports = parsed if isinstance(parsed, list) else [parsed]
    attempts = network_log.read_text() if network_log.exists() else ""
    return CheckovRun(result.returncode, reports, attempts, result.stderr)


@pytest.fixture(scope="session")
def checkov_run(synthesized_templates: list[Path], tmp_path_factory: pytest.TempPathFactory) -> CheckovRun:
    assert DOCKERFILES, "no Dockerfile under services/"
    return run_checkov([*synthesized_templates, *DOCKERFILES], tmp_path_factory.mktemp("checkov"))


def test_checkov_made_no_network_attempt(checkov_run: CheckovRun) -> None:
    assert checkov_run.network_attempts == ""


# Run with the offline runner's hook in place (importing it installs the hook): a connect and a lookup.
NETWORK_PROBE = """
import socket, sys
sys.path.insert(0, sys.argv[1])
import checkov_offline
for attempt in (lambda: socket.socket().connect(("127.0.0.1", 9)), lambda: socket.getaddrinfo("pypi.org", 443)):
    try:
        attempt()
    except PermissionError as refused:
        print(refused)
"""


def test_the_offline_runner_refuses_and_records_network_attempts(tmp_path: Path) -> None:
    # The empty network logs above mean something only if the runner's hook sees an attempt.
    assert CHECKOV_PYTHON.exists(), ".venv-checkov is missing: run `make gates` (or `make test`)"
    network_log = tmp_path / "network.log"
    env = {**os.environ, "CHECKOV_NETWORK_LOG": str(network_log), "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"}
    result = subprocess.run(
        [str(CHECKOV_PYTHON), "-c", NETWORK_PROBE, str(OFFLINE_RUNNER.parent)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "the checkov gate runs offline: socket.connect refused",
        "the checkov gate runs offline: socket.getaddrinfo refused",
    ]
    logged = network_log.read_text()
    assert "socket.connect" in logged and "('127.0.0.1', 9)" in logged and "pypi.org" in logged


def test_checkov_read_every_template_and_dockerfile(checkov_run: CheckovRun, synthesized_templates: list[Path]) -> None:
    scanned = {
        Path(check["file_abs_path"]).resolve()
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for check in checkov_run.checks(kind)
    }
    assert scanned == {path.resolve() for path in [*synthesized_templates, *DOCKERFILES]}
    assert all(report["summary"]["parsing_errors"] == 0 for report in checkov_run.reports)


def test_checkov_finds_no_failed_check(checkov_run: CheckovRun) -> None:
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in checkov_run.checks("failed_checks")]
    assert failed == []
    assert checkov_run.returncode == 0, checkov_run.stderr


def test_every_skip_is_documented_and_gives_its_reason(checkov_run: CheckovRun) -> None:
    skipped = checkov_run.checks("skipped_checks")
    assert {check["check_id"] for check in skipped} <= DOCUMENTED_SKIPS
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment") or "") > 40, check["resource"]


def test_the_gate_reports_failures(tmp_path: Path) -> None:
    # GIVEN a log group without retention or KMS key, and a Dockerfile that runs as root without a HEALTHCHECK
    template = tmp_path / "bad.template.json"
    template.write_text(json.dumps({"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup"}}}))
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM python:3.12-slim\nUSER root\nCMD ["python3"]\n')
    # WHEN checkov reads them
    run = run_checkov([template, dockerfile], tmp_path)
    # THEN the gate fails on each, still without touching the network
    failed = {check["check_id"] for check in run.checks("failed_checks")}
    assert {"CKV_AWS_66", "CKV_AWS_158", "CKV_DOCKER_2", "CKV_DOCKER_8"} <= failed
    assert run.returncode != 0
    assert run.network_attempts == ""
