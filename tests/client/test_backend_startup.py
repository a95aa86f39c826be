"""flask-backend under real gunicorn refuses, at start-up, settings its calls could not keep (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.harness import BACKEND_DIR, BACKEND_TEST_ENV, AppLauncher, free_port


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
