"""Fixtures for the local run's tests: the app synthesized once, demos run as a user runs them
(``python -m ecs_discovery_tools.local.demo`` in its own process group), stopped by signal.

Every demo here runs with FAST, the local run's test-only timing overrides: the template's
health check (10 s interval, 15 s start period), 60 s grace period, 10 s DNS TTL and 45 s stop
timeout would make each rolling deployment take minutes. The code paths are the same.
Every wait is bounded; every demo is stopped (and its process groups killed) at teardown.
"""

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
import dns.resolver
import psutil
import pytest
import requests

from ecs_discovery_tools.local.assembly import synthesize
from ecs_discovery_tools.local.cloud_map import DUMMY_CREDENTIALS
from ecs_discovery_tools.local.control import ControlClient
from tests.conftest import once_per_run
from tests.fakes import loopback_get

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = "ServiceDiscovery"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 15.0
# Test-only timing overrides (python -m ecs_discovery_tools.local.demo --help, "timing overrides").
DNS_TTL_S = 1
DRAIN_S = 0.5
STOP_TIMEOUT_S_TASK = 3.0
FAST = (
    "--health-interval", "1",
    "--health-timeout", "3",
    "--health-start-period", "3",
    "--health-retries", "2",
    "--grace-period", "0",
    "--dns-ttl", str(DNS_TTL_S),
    "--drain", str(DRAIN_S),
    "--stop-timeout", str(STOP_TIMEOUT_S_TASK),
    "--restart-backoff-max", "2",
    # The apps' own drain after SIGTERM (graceful_stop.py): 1 s instead of 15 s for a 10 s TTL.
    "--task-env", "STOP_DRAIN_SECONDS=1",
)  # fmt: skip


def http_get(url: str, **kwargs: Any) -> requests.Response:
    """GET straight to loopback, whatever HTTP(S)_PROXY the machine has set."""
    kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
    return loopback_get(url, **kwargs)


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


def _writes_under(pgid: int, folder: Path) -> bool:
    """Whether a process of group ``pgid`` has a file under ``folder`` open (a task writes its output there)."""
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid and any(
                Path(file.path).is_relative_to(folder) for file in process.open_files()
            ):
                return True
    return False


def leftover_groups(pgids: list[int], timeout: float = 5.0, *, log_dir: Path | None = None) -> list[int]:
    """Process groups still there after ``timeout`` (killed processes need a moment to be reaped).

    With ``log_dir`` (the demo's), a group counts only if one of its processes still writes there: the
    kernel reuses the PIDs of tasks that ended long ago (pid_max is 32768 here, and xdist workers and
    other runs start processes in their own groups all the time), and such a group is not a leftover.
    """
    deadline = time.monotonic() + timeout
    while True:
        alive = [pgid for pgid in pgids if process_group_exists(pgid)]
        if log_dir is not None:
            alive = [pgid for pgid in alive if _writes_under(pgid, log_dir.resolve())]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@dataclass
class Demo:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    output_path: Path
    state_path: Path
    control_file: Path
    log_dir: Path

    @property
    def page_url(self) -> str:
        return self.state["page_urls"][0]

    @property
    def api_url(self) -> str:
        return self.page_url.removesuffix("/services") + "/api/services"

    def addresses(self, service: str) -> list[str]:
        return sorted(task["address"] for task in self.state["services"][service])

    def task_pids(self) -> list[int]:
        """Every task process group the demo ever reported (state file), for the last-resort kill."""
        pids = {task["pid"] for tasks in self.state["services"].values() for task in tasks if task["pid"]}
        with contextlib.suppress(OSError, ValueError):
            current = json.loads(self.state_path.read_text())
            pids |= {task["pid"] for tasks in current["services"].values() for task in tasks if task["pid"]}
        return sorted(pids)

    def cloud_map(self):
        return boto3.client(
            "servicediscovery",
            region_name=self.state["region"],
            endpoint_url=self.state["cloud_map_endpoint"],
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def control(self) -> ControlClient:
        return ControlClient(self.control_file)

    def status(self) -> dict[str, Any]:
        return self.control().request("GET", "/status")

    def running_tasks(self, service: str) -> list[dict[str, Any]]:
        return self.status()["services"][service]

    def events(self, since: int = 0, service: str | None = None) -> list[dict[str, Any]]:
        query = f"/events?since={since}" + (f"&service={service}" if service else "")
        return self.control().request("GET", query)["events"]

    def last_seq(self) -> int:
        events = self.events()
        return events[-1]["seq"] if events else 0

    def registered(self, service: str) -> dict[str, str]:
        """Instance ID -> IPv4 of the instances Cloud Map (the moto stand-in) holds for ``service``."""
        client = self.cloud_map()
        services = client.list_services()["Services"]
        (service_id,) = [item["Id"] for item in services if item["Name"] == service]
        instances = client.list_instances(ServiceId=service_id)["Instances"]
        return {item["Id"]: item["Attributes"]["AWS_INSTANCE_IPV4"] for item in instances}

    def healthy_registered(self, service: str) -> dict[str, str]:
        client = self.cloud_map()
        services = client.list_services()["Services"]
        (service_id,) = [item["Id"] for item in services if item["Name"] == service]
        health = client.get_instances_health_status(ServiceId=service_id).get("Status", {})
        return {key: value for key, value in self.registered(service).items() if health.get(key) == "HEALTHY"}

    def dns_a(self, name: str) -> list[str]:
        """The A records the loopback DNS server answers for ``name`` (dnspython, no cache)."""
        host, port = self.state["dns_server"].rsplit(":", 1)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = int(port)
        resolver.lifetime = 3.0
        try:
            return sorted(record.address for record in resolver.resolve(name, "A"))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []

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
        """Last resort at teardown: the demo's process group and every task's still writing to its log dir
        (a PID the kernel has given to someone else's process group since is left alone)."""
        groups = leftover_groups(self.task_pids(), timeout=0, log_dir=self.log_dir)
        if self.process.poll() is None:  # not reaped yet, so its PID is still the demo's
            groups.append(self.process.pid)
        for pgid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_demo(assembly_dir: Path, work_dir: Path, *extra_args: str, stack: str = STACK, fast: bool = True) -> Demo:
    work_dir.mkdir(parents=True, exist_ok=True)
    log_dir = work_dir / "logs"
    state_path = work_dir / "state.json"
    output_path = work_dir / "demo-output.log"
    control_file = work_dir / "control" / "control.json"
    command = [
        sys.executable, "-m", "ecs_discovery_tools.local.demo",
        "--assembly", str(assembly_dir),
        "--stack", stack,
        "--log-dir", str(log_dir),
        "--state-file", str(state_path),
        "--control-file", str(control_file),
        *(FAST if fast else ()),
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
    # The state file is written once every service is healthy, and rewritten on every change.
    while not state_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            raise AssertionError(f"the demo did not start:\n{output_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)
    return Demo(process, json.loads(state_path.read_text()), output_path, state_path, control_file, log_dir)


@contextlib.contextmanager
def running_demo(assembly_dir: Path, work_dir: Path, *extra_args: str, **kwargs: Any) -> Iterator[Demo]:
    """A demo that is always stopped: by SIGTERM (exit 0 expected), else killed with its tasks."""
    demo = start_demo(assembly_dir, work_dir, *extra_args, **kwargs)
    try:
        yield demo
    finally:
        if demo.process.poll() is None:
            code = demo.interrupt(signal.SIGTERM)  # kills everything itself if the demo hangs
            leftovers = leftover_groups(demo.task_pids(), log_dir=demo.log_dir)
            if leftovers:
                demo.kill()
            assert code == 0 and not leftovers, (leftovers, demo.output()[-3000:])


@pytest.fixture(scope="session")
def assembly_dir(tmp_path_factory) -> Path:
    """The project's CDK app, synthesized once for every demo of the run (shared by the xdist
    workers, so read-only: a test that changes an assembly changes its own copy)."""

    def produce(folder: Path) -> dict[str, Any]:
        synthesize(REPO_ROOT, folder / "cdk.out")
        return {}

    folder, _ = once_per_run(tmp_path_factory, "local-assembly", {}, produce)
    return folder / "cdk.out"


@pytest.fixture(scope="session")
def demo(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    """The seed stack running locally with three worker tasks (``make demo WORKERS=3``)."""
    with running_demo(assembly_dir, tmp_path_factory.mktemp("demo"), "--workers", "3") as running:
        yield running
