"""flask-backend under real gunicorn: settings its calls could not keep stop it at start-up, and a DNS outage
ends every call by its deadline (issue 16)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from tests.apps.harness import BACKEND_DIR, BACKEND_TEST_ENV, AppLauncher, free_port, run_threads
from tests.client.conftest import MARGIN


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[AppLauncher]:
    apps = AppLauncher(tmp_path)
    try:
        yield apps
    finally:
        apps.stop_all(show_logs=False)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        # The held-out load test's configuration: a lookup allowed 30 s inside a 15 s call.
        ({"DNS_LIFETIME": "30", "UPSTREAM_DEADLINE": "15"}, "DNS_LIFETIME"),
        ({"UPSTREAM_READ_TIMEOUT": "nan"}, "UPSTREAM_READ_TIMEOUT"),
        ({"WORKER_HOST": "worker.corp;sleep 9"}, "WORKER_HOST"),
        ({"WORKER_PORT": "70000"}, "WORKER_PORT"),
    ],
)
def test_bad_settings_stop_the_backend_at_start_up_naming_the_variable(
    launcher: AppLauncher, env: dict[str, str], variable: str
) -> None:
    port = free_port(["127.0.0.1"])
    full_env = {**BACKEND_TEST_ENV, "DNS_NAMESERVERS": "127.0.0.1:9", "WORKER_HOST": "worker.corp", **env}
    app = launcher.start(BACKEND_DIR, "127.0.0.1", port, full_env, "backend")
    assert app.process.wait(timeout=60) != 0  # gunicorn gives up when its worker cannot boot
    log = app.log_path.read_text(errors="replace")
    assert f"ConfigurationError: {variable}: " in log


def test_dns_down_with_a_long_lifetime_gives_every_caller_503_within_the_deadline(launcher: AppLauncher) -> None:
    # Issue 16: the longest lifetime the deadline allows (2.0 s + 0.5 s connect = 2.5 s), DNS silent,
    # 8 requests at once on the backend's 8 threads: one shared lookup, every answer a 503 by the deadline.
    with LoopbackDnsServer() as silent:
        silent.silent = True
        env = {"WORKER_HOST": "worker.corp", "WORKER_PORT": "8080", "DNS_TIMEOUT": "1.0", "DNS_LIFETIME": "2.0"}
        backend = launcher.backend(silent.port, **env)  # UPSTREAM_DEADLINE 2.5 s (BACKEND_TEST_ENV)
        answers: list[tuple[float, int, str]] = []
        lock = threading.Lock()

        def call(_: int) -> None:
            started = time.monotonic()
            response = backend.get("/")
            with lock:
                answers.append((time.monotonic() - started, response.status_code, response.json().get("failure")))

        run_threads(8, call, timeout=60)
        assert [(status, failure) for _, status, failure in answers] == [(503, "dns_timeout")] * 8
        assert max(elapsed for elapsed, _, _ in answers) < 2.5 + MARGIN
        assert len(silent.queries("worker.corp")) <= 3  # shared: one lookup (with its retries), not 8
