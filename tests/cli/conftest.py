"""Fixtures for the CLI tests: a clean AWS environment, a Cloud Map registry in moto
(in-process and as a server on loopback) and a loopback DNS server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from ecs_discovery_tools.cli.main import main
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.cloudmap_registry import REGION, Registry, aws_semantics, populate
from tests.cloudmap_registry import moto_server as running_moto_server

__all__ = ["REGION", "Registry"]
# Every subprocess of these tests is bounded by this.
SUBPROCESS_TIMEOUT = 60

# Whatever AWS configuration the machine has must not leak into the tests, and nothing
# may try the instance metadata service (it is off the machine).
_AWS_VARIABLES = [name for name in os.environ if name.startswith("AWS_")]


def clean_aws_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        {
            "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "2",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    env.update(extra)
    return env


DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}


@pytest.fixture
def aws_env(monkeypatch, tmp_path) -> dict[str, str]:
    """This process's environment reduced to dummy credentials and a region."""
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = clean_aws_environ(tmp_path, **DUMMY_CREDENTIALS)
    for name, value in env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def registry(aws_env) -> Iterator[Registry]:
    """The registry (tests/cloudmap_registry.py) in moto's in-process mock, a fresh one per test."""
    with mock_aws(), aws_semantics():
        yield populate(boto3.client("servicediscovery", region_name=REGION))


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


def run_cli(*argv: str) -> CliRun:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return CliRun(code, out.getvalue(), err.getvalue())


def run_cli_process(argv: list[str], env: dict[str, str], *, script: bool = False) -> CliRun:
    """The CLI as a user runs it: ``python -m ecs_discovery_tools`` or the installed console script."""
    command = (
        [str(Path(sys.executable).with_name("ecs-discovery"))]
        if script
        else [sys.executable, "-m", "ecs_discovery_tools"]
    )
    completed = subprocess.run(
        command + argv,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    return CliRun(completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    """moto as a real HTTP server on loopback (corrected as tests/cloudmap_registry.py says); yields its URL."""
    with running_moto_server() as endpoint:
        populate(
            boto3.client(
                "servicediscovery",
                region_name=REGION,
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        )
        yield endpoint


@pytest.fixture(scope="module")
def dns_server() -> Iterator[LoopbackDnsServer]:
    """worker.corp as Cloud Map publishes it: A per task, SRV per task pointing at a per-task name."""
    with LoopbackDnsServer(default_ttl=10) as server:
        server.set_records(
            "worker.corp",
            a=["127.0.0.3", "127.0.0.2"],
            srv=[SrvRecord("task-a.worker.corp", 8080), SrvRecord("task-b.worker.corp", 8080)],
            ttl=10,
        )
        server.set_records("task-a.worker.corp", a=["127.0.0.2"], ttl=10)
        server.set_records("task-b.worker.corp", a=["127.0.0.3"], ttl=10)
        server.set_records("only-a.corp", a=["127.0.0.9"], ttl=30)
        yield server
