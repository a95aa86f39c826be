"""Helpers for the app tests: real gunicorn-run apps on loopback addresses.

All of 127.0.0.0/8 is loopback on Linux, so each worker "task" gets its own address
and all of them listen on the same port, as tasks of one ECS service do.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import requests

from ecs_discovery_tools.local.app_process import GunicornProcess, free_port
from tests.fakes import LoopbackHttpServer, Request, Response, loopback_get

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES_DIR = REPO_ROOT / "services"
BACKEND_DIR = SERVICES_DIR / "flask-backend"
WORKER_DIR = SERVICES_DIR / "flask-worker"
# Code both apps share: gunicorn.conf.py, graceful_stop.py, request_log.py.
COMMON_DIR = SERVICES_DIR / "common"

NAMESPACE = "corp"
WORKER_NAME = f"worker.{NAMESPACE}"
# The three long-lived workers every test may use but none may stop.
WORKER_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
# Addresses for workers a single test starts (and may stop).
SPARE_HOSTS = tuple(f"127.0.0.{last}" for last in range(5, 20))
# Addresses where nothing ever listens: stale DNS answers.
DEAD_HOSTS = tuple(f"127.0.0.{last}" for last in range(20, 28))

# Short enough to keep failing tests quick, long enough for a loaded 2-core machine.
BACKEND_TEST_ENV = {
    "GUNICORN_WORKERS": "1",  # one process: one DNS cache, so lookups can be counted
    "GUNICORN_THREADS": "8",
    "DNS_TIMEOUT": "0.5",
    "DNS_LIFETIME": "1.0",
    "UPSTREAM_CONNECT_TIMEOUT": "0.5",
    "UPSTREAM_READ_TIMEOUT": "1.0",
    "UPSTREAM_MAX_ATTEMPTS": "3",
    "UPSTREAM_DEADLINE": "2.5",
    "STOP_DRAIN_SECONDS": "1",
}
# A stopped app serves 1 s more (instead of the default 15 s for a 10 s DNS TTL), then refuses.
WORKER_TEST_ENV = {"GUNICORN_WORKERS": "1", "GUNICORN_THREADS": "4", "STOP_DRAIN_SECONDS": "1"}
# Every HTTP call a test makes is bounded by this; the backend's own bounds are far below it.
CLIENT_TIMEOUT = 15.0


def http_get(url: str, **kwargs) -> requests.Response:
    """GET straight to a loopback server (no proxy), within CLIENT_TIMEOUT unless told otherwise."""
    kwargs.setdefault("timeout", CLIENT_TIMEOUT)
    return loopback_get(url, **kwargs)


def load_module(path: Path, name: str) -> ModuleType:
    """Import an app module by path under a unique name (several apps have an app.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module loader for {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@dataclass
class RunningApp:
    process: GunicornProcess
    log_path: Path

    @property
    def url(self) -> str:
        return self.process.base_url

    @property
    def host(self) -> str:
        return self.process.host

    def get(self, path: str = "/", **kwargs) -> requests.Response:
        return http_get(self.url + path, **kwargs)

    def wait_for_log_event(self, event: str, request_ids: set[str], timeout: float = 10.0) -> None:
        """Until the app has logged ``event`` for every one of ``request_ids``."""
        deadline = time.monotonic() + timeout
        seen: set[str | None] = set()
        while time.monotonic() < deadline:
            seen = {line.get("request_id") for line in self.log_lines() if line.get("event") == event}
            if request_ids <= seen:
                return
            time.sleep(0.05)
        raise AssertionError(f"{event} not logged for {request_ids - seen}")

    def wait_for_log_text(self, text: str, count: int = 1, timeout: float = 10.0) -> None:
        """Until ``text`` appears ``count`` times in the app's output (gunicorn's own lines are
        plain text; each worker process writes its own)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_path.read_text(errors="replace").count(text) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not {count} times in {self.log_path.name} after {timeout} s")

    def log_lines(self) -> list[dict]:
        """The JSON lines the app wrote to stdout (gunicorn's own lines are plain text)."""
        lines = []
        for text in self.log_path.read_text(errors="replace").splitlines():
            if text.startswith("{"):
                try:
                    lines.append(json.loads(text))
                except ValueError:
                    continue  # the last line, caught while the app was still writing it
        return lines


class AppLauncher:
    """Starts apps under real gunicorn and kills their process groups at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.apps: list[RunningApp] = []

    def start(self, app_dir: Path, host: str, port: int, env: dict[str, str], name: str) -> RunningApp:
        log_path = self.log_dir / f"{name}-{host}-{port}.log"
        with open(log_path, "ab") as output:  # the child keeps its own copy of the descriptor
            process = GunicornProcess(app_dir, host=host, port=port, env=env, output=output)
            app = RunningApp(process, log_path)
            self.apps.append(app)  # registered before starting: killed at teardown whatever happens
            process.start()
        return app

    def start_ready(self, app_dir: Path, host: str, port: int, env: dict[str, str], name: str) -> RunningApp:
        app = self.start(app_dir, host, port, env, name)
        app.process.wait_ready()
        return app

    def worker(self, host: str, port: int, **env: str) -> RunningApp:
        return self.start_ready(WORKER_DIR, host, port, {**WORKER_TEST_ENV, **env}, "worker")

    def backend(self, dns_port: int, **env: str) -> RunningApp:
        port = free_port(["127.0.0.1"])
        full_env = {**BACKEND_TEST_ENV, "DNS_NAMESERVERS": f"127.0.0.1:{dns_port}", **env}
        return self.start_ready(BACKEND_DIR, "127.0.0.1", port, full_env, "backend")

    def stop_all(self, show_logs: bool) -> None:
        for app in self.apps:
            app.process.kill()
        if show_logs:
            for app in self.apps:
                print(f"----- {app.log_path.name} -----")
                print(app.log_path.read_text(errors="replace")[-4000:])


class StaticHttpServer(LoopbackHttpServer):
    """A "task" whose app answers every GET with one response (a broken or odd worker), started at once.

    ``status`` may be changed while it runs; ``paths`` lists the request targets it was sent.
    """

    def __init__(self, host: str, port: int, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.status = status

        def respond(request: Request) -> Response:
            if request.method != "GET":
                return Response(501, b"GET only")
            return Response(self.status, body, content_type)

        super().__init__(respond, host, port)
        self.start()


def run_threads(count: int, target: Callable[[int], None], timeout: float = 60.0) -> None:
    """Run target(i) for i in range(count) on threads and fail if any is still running at timeout."""
    threads = [threading.Thread(target=target, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
        assert not thread.is_alive(), "client thread did not finish in time"
