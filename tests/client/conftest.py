"""Loopback fixtures for the discovery client: the project's dnslib DNS server and real HTTP "tasks".

Every task is tests/client/task_app.py under real gunicorn (gthread worker, HTTP/1.1 keep-alive, as
the images run) on its own 127.0.1.x address, all on one port, as the tasks of one ECS service are.
Addresses in DEAD have nothing listening.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_discovery_client import DiscoverySettings
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from tests.apps.harness import free_port
from tests.fakes import HangingServer

# Addresses of "tasks" started by a test (never the 127.0.0.x ones tests/apps uses).
TASK_HOSTS = tuple(f"127.0.1.{last}" for last in range(2, 20))
# Addresses where nothing listens: tasks that are gone but still in a cached answer.
DEAD = tuple(f"127.0.1.{last}" for last in range(40, 48))
# Every wait in a test is bounded by this; the client's own bounds are far below it.
MARGIN = 5.0

CLIENT_TESTS_DIR = Path(__file__).resolve().parent
# Tasks started once per session, all on one port: the tests pick them by index.
TASK_COUNT = 6


class Task:
    """One task of a service: tests/client/task_app.py under real gunicorn (gthread, keep-alive 5 s)."""

    def __init__(self, host: str, port: int, log_path: Path) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        env = {
            **os.environ,
            "PYTHONDONTWRITEBYTECODE": "1",
            "TASK_ADDRESS": host,
            "TASK_PORT": str(port),
        }
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"{host}:{port}",
            "--worker-class", "gthread", "--workers", "1", "--threads", "24",
            "--keep-alive", "5",
            "--graceful-timeout", "2",
            "--log-level", "warning",
            "--chdir", str(CLIENT_TESTS_DIR),
            "task_app:app",
        ]  # fmt: skip
        with open(log_path, "ab") as output:
            self.process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed with its worker at teardown
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn on {self.url} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as probe:
                    probe.sendall(b"GET /health HTTP/1.0\r\n\r\n")
                    if b" 200 " in probe.recv(64):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn on {self.url} did not become ready")

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=MARGIN)


@pytest.fixture(scope="session")
def port() -> int:
    """The one port every task of these tests listens on."""
    return free_port(list(TASK_HOSTS + DEAD))


@pytest.fixture(scope="session")
def dns() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer(default_ttl=30) as server:
        yield server


@pytest.fixture(scope="session")
def cluster(port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Task]]:
    """TASK_COUNT gunicorn tasks on TASK_HOSTS[0..], one port, for the whole session."""
    log_dir = tmp_path_factory.mktemp("client-tasks")
    started: list[Task] = []
    try:
        for host in TASK_HOSTS[:TASK_COUNT]:
            started.append(Task(host, port, log_dir / f"task-{host}.log"))
        for task in started:
            task.wait_ready()
        yield started
    finally:
        for task in started:
            task.kill()


@pytest.fixture
def hanging(port: int) -> Iterator[Callable[[str], HangingServer]]:
    """A task whose server completes connections (the kernel's backlog) and never answers them:
    what a caller sees of a gunicorn gthread worker between SIGTERM and its exit."""
    with contextlib.ExitStack() as started:
        yield lambda host: started.enter_context(HangingServer(host, port, backlog=64))


def settings_for(dns_server: LoopbackDnsServer, **overrides: Any) -> DiscoverySettings:
    """Short timeouts for a loaded 2-core machine, pointed at the test DNS server."""
    values: dict[str, Any] = {
        "nameservers": (("127.0.0.1", dns_server.port),),
        "dns_timeout": 0.5,
        "dns_lifetime": 1.0,
        "connect_timeout": 0.5,
        "read_timeout": 1.0,
        "deadline": 3.0,
        **overrides,
    }
    return DiscoverySettings(**values)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A DNS name of its own for each test (the DNS server is shared by the session)."""
    label = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[:50].strip("-")
    return f"{label}.client.test"


class FakeClock:
    """A monotonic clock that moves only when told to (or slept on): the client's TTL cache,
    failed-address memory, pool ages and backoff without wall-clock sleeps."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds
