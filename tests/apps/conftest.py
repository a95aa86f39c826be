"""Fixtures: a DNS server standing in for Cloud Map, three long-lived workers, backends per test."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from ecs_discovery_tools.local.app_process import free_port
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord
from tests.apps.harness import (
    DEAD_HOSTS,
    NAMESPACE,
    SPARE_HOSTS,
    WORKER_DIR,
    WORKER_HOSTS,
    WORKER_NAME,
    WORKER_TEST_ENV,
    AppLauncher,
    RunningApp,
    StaticHttpServer,
)
from tests.fakes import HangingServer


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


@pytest.fixture(scope="session")
def worker_port() -> int:
    return free_port(list(WORKER_HOSTS + SPARE_HOSTS + DEAD_HOSTS))


@pytest.fixture(scope="session")
def dns_server() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer(default_ttl=10) as server:
        yield server


@pytest.fixture(scope="session")
def workers(tmp_path_factory, dns_server, worker_port) -> Iterator[list[RunningApp]]:
    """Three workers on 127.0.0.2-4 answering for worker.corp (A and Cloud Map-style SRV)."""
    launcher = AppLauncher(tmp_path_factory.mktemp("session-apps"))
    try:
        apps = [launcher.start(WORKER_DIR, host, worker_port, WORKER_TEST_ENV, "worker") for host in WORKER_HOSTS]
        for app in apps:
            app.process.wait_ready()
        task_names = [f"task-{index}.{WORKER_NAME}" for index in range(len(WORKER_HOSTS))]
        dns_server.set_records(
            WORKER_NAME, a=WORKER_HOSTS, srv=[SrvRecord(name, worker_port) for name in task_names], ttl=10
        )
        for name, host in zip(task_names, WORKER_HOSTS, strict=True):
            dns_server.set_records(name, a=[host], ttl=10)
        yield apps
    finally:
        launcher.stop_all(show_logs=False)


@pytest.fixture
def launcher(tmp_path, request) -> Iterator[AppLauncher]:
    apps = AppLauncher(tmp_path)
    try:
        yield apps
    finally:
        apps.stop_all(show_logs=_failed(request))


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory) -> Iterator[AppLauncher]:
    apps = AppLauncher(tmp_path_factory.mktemp("module-apps"))
    try:
        yield apps
    finally:
        apps.stop_all(show_logs=False)


@pytest.fixture(scope="module")
def backend(module_launcher, dns_server, workers, worker_port) -> RunningApp:
    """The backend as the stack configures it: NAMESPACE, WORKER_SERVICE and WORKER_PORT."""
    return module_launcher.backend(
        dns_server.port, NAMESPACE=NAMESPACE, WORKER_SERVICE="worker", WORKER_PORT=str(worker_port)
    )


@pytest.fixture
def hanging_server_factory() -> Iterator[Callable[[str, int], HangingServer]]:
    with contextlib.ExitStack() as started:
        yield lambda host, port: started.enter_context(HangingServer(host, port))


@pytest.fixture
def static_server_factory() -> Iterator[Callable[..., StaticHttpServer]]:
    with contextlib.ExitStack() as started:

        def make(host: str, port: int, status: int, body: bytes, content_type: str = "text/plain") -> StaticHttpServer:
            server = StaticHttpServer(host, port, status, body, content_type)  # serving already
            started.callback(server.close)
            return server

        yield make
