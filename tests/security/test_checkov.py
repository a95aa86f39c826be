"""Gate: checkov (CloudFormation and Dockerfile checks) finds nothing but documented skips, offline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.security.conftest import DOCKERFILES
from tests.security.gates import CHECKOV_PYTHON, OFFLINE_RUNNER, CheckovRun, run_checkov

__all__ = ["DOCUMENTED_SKIPS", "run_checkov"]

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


def test_checkov_read_every_template_and_dockerfile(checkov_run: CheckovRun, every_mode_templates: list[Path]) -> None:
    # One run reads every mode's templates (tests/security/test_service_connect_gates.py reads its part).
    scanned = {
        Path(check["file_abs_path"]).resolve()
        for kind in ("passed_checks", "failed_checks", "skipped_checks")
        for check in checkov_run.checks(kind)
    }
    assert scanned == {path.resolve() for path in [*every_mode_templates, *DOCKERFILES]}
    assert all(report["summary"]["parsing_errors"] == 0 for report in checkov_run.reports)


def test_checkov_finds_no_failed_check(checkov_run: CheckovRun, synthesized_templates: list[Path]) -> None:
    run = checkov_run.of_files([*synthesized_templates, *DOCKERFILES])
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in run.checks("failed_checks")]
    assert failed == []
    # A non-zero exit is only ever another mode's failed checks (each fails its own test), never a crash.
    assert checkov_run.returncode == 0 or checkov_run.checks("failed_checks"), checkov_run.stderr


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
    # (each finding is read as its file's, as the gates above read their part of one run)
    assert run.of_files([template]).checks("failed_checks") and run.of_files([dockerfile]).checks("failed_checks")
    assert not run.of_files([tmp_path / "other"]).checks("failed_checks")
    # THEN the gate fails on each, still without touching the network
    failed = {check["check_id"] for check in run.checks("failed_checks")}
    assert {"CKV_AWS_66", "CKV_AWS_158", "CKV_DOCKER_2", "CKV_DOCKER_8"} <= failed
    assert run.returncode != 0
    assert run.network_attempts == ""
