"""Fixtures for the local run's tests: the app synthesized once, demos run as a user runs them
(``python -m ecs_discovery_tools.local.demo`` in its own process group), stopped by signal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from ecs_discovery_tools.local.assembly import synthesize
from ecs_discovery_tools.local.cloud_map import DUMMY_CREDENTIALS

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = "ServiceDiscovery"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 15.0


def http_get(url: str, **kwargs: Any) -> requests.Response:
    """GET straight to loopback, whatever HTTP(S)_PROXY the machine has set."""
    kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
    with requests.Session() as session:
        session.trust_env = False
        return session.get(url, **kwargs)


def wait_for(condition, timeout: float, message: str, interval: float = 0.25):
    """Poll ``condition()`` until it returns something truthy; fail with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{message} (after {timeout:g} s)")


def process_group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    output_path: Path

    @property
    def page_url(self) -> str:
        return self.state["page_urls"][0]

    @property
    def api_url(self) -> str:
        return self.page_url.removesuffix("/services") + "/api/services"

    def addresses(self, service: str) -> list[str]:
        return sorted(task["address"] for task in self.state["services"][service])

    def task_pids(self) -> list[int]:
        return [task["pid"] for tasks in self.state["services"].values() for task in tasks]

    def cloud_map(self):
        return boto3.client(
            "servicediscovery",
            region_name=self.state["region"],
            endpoint_url=self.state["cloud_map_endpoint"],
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def interrupt(self, sig: int = signal.SIGINT) -> int:
        """Send ``sig`` as Ctrl-C would and wait (bounded) for the demo to exit."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the demo did not stop within {STOP_TIMEOUT_S:g} s of signal {sig}") from None

    def kill(self) -> None:
        """Last resort at teardown: the demo's process group and every task's."""
        for pgid in [self.process.pid, *self.task_pids()]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_demo(assembly_dir: Path, work_dir: Path, *extra_args: str, stack: str = STACK) -> Demo:
    state_path = work_dir / "state.json"
    output_path = work_dir / "demo-output.log"
    command = [
        sys.executable, "-m", "ecs_discovery_tools.local.demo",
        "--assembly", str(assembly_dir),
        "--stack", stack,
        "--log-dir", str(work_dir / "logs"),
        "--state-file", str(state_path),
        *extra_args,
    ]  # fmt: skip
    with open(output_path, "wb") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a shell runs it: its own process group
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not state_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            raise AssertionError(f"the demo did not start:\n{output_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)
    return Demo(process, json.loads(state_path.read_text()), output_path)


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory) -> Path:
    """The project's CDK app, synthesized once for every demo of the session."""
    return synthesize(REPO_ROOT, tmp_path_factory.mktemp("assembly"))


@pytest.fixture(scope="session")
def demo(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    """The seed stack running locally with three worker tasks (``make demo WORKERS=3``)."""
    running = start_demo(assembly_dir, tmp_path_factory.mktemp("demo"), "--workers", "3")
    try:
        yield running
    finally:
        code = running.interrupt(signal.SIGTERM)
        assert code == 0, running.output()[-3000:]
