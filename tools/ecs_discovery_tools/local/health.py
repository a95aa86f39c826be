"""Container health checks as Docker runs them for the ECS agent, on the host's loopback.

A task definition's health check command (``CMD-SHELL`` through ``/bin/sh -c``, ``CMD`` by exec)
runs every ``Interval`` with ``Timeout``, ``Retries`` and ``StartPeriod`` (:class:`HealthChecker`).
The one change: the literal ``127.0.0.1`` in the command becomes the task's address, because here
every task shares the host's loopback instead of having its own network namespace.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ecs_discovery_tools.local.assembly import HealthCheckSpec

__all__ = ["HEALTHY", "UNHEALTHY", "UNKNOWN", "HealthChecker", "probe_command", "probe_environment", "run_probe"]

HEALTHY, UNHEALTHY, UNKNOWN = "HEALTHY", "UNHEALTHY", "UNKNOWN"
_PROBE_OUTPUT_BYTES = 2000
# The literal loopback address of a health check command: not when part of a longer number.
_LOOPBACK = re.compile(r"(?<![0-9.])127\.0\.0\.1(?![0-9])")
_PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def probe_command(command: tuple[str, ...], address: str) -> list[str]:
    """The argv that runs a task definition's health check command for the task on ``address``.

    ``CMD-SHELL`` runs its string with ``/bin/sh -c`` and ``CMD`` execs its arguments, as
    Docker does. Only the literal loopback address changes: inside a container 127.0.0.1
    is the task's own loopback; here the task listens on ``address`` of the shared one.
    """
    kind, *arguments = command
    arguments = [_LOOPBACK.sub(address, argument) for argument in arguments]
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(arguments)]
    if kind == "CMD":
        return arguments
    raise ValueError(f"health check command kind {kind!r} is not CMD or CMD-SHELL")


def run_probe(argv: list[str], *, timeout: float, env: Mapping[str, str], cwd: Path | None = None) -> tuple[bool, str]:
    """Run one health check: (passed, why) where passed means exit code 0 within ``timeout``."""
    try:
        process = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a timed-out check is killed with everything it started
        )
    except OSError as error:
        return False, f"cannot run the health check: {error}"
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return False, f"timed out after {timeout:g} s"
    finally:
        with contextlib.suppress(ProcessLookupError):  # what the check left running in the background
            os.killpg(process.pid, signal.SIGKILL)
    tail = output[-_PROBE_OUTPUT_BYTES:].decode("utf-8", "replace").strip().splitlines()
    if process.returncode == 0:
        return True, "exit 0"
    return False, f"exit {process.returncode}" + (f": {tail[-1][:200]}" if tail else "")


class HealthChecker:
    """Docker's health check loop for one container, as the ECS agent configures it.

    The first check runs one ``interval`` after the container starts. A check that exits
    0 within ``timeout`` passes; ``retries`` failures in a row make the container
    UNHEALTHY; failures within ``start_period`` do not count until a check has passed.
    """

    def __init__(
        self,
        health: HealthCheckSpec,
        argv: list[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        on_change: Callable[[str, str], None],
    ) -> None:
        self.health = health
        self.argv = argv
        self.env = dict(env)
        self.cwd = cwd
        self.on_change = on_change
        self.status = UNKNOWN
        self.failures = 0
        self.last_output = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="health-check", daemon=True)

    def start(self) -> HealthChecker:
        self._thread.start()
        return self

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.health.timeout + 5)

    def _run(self) -> None:
        started = time.monotonic()
        passed_once = False
        while not self._stop.wait(self.health.interval):
            passed, why = run_probe(self.argv, timeout=self.health.timeout, env=self.env, cwd=self.cwd)
            if self._stop.is_set():
                return
            self.last_output = why
            if passed:
                passed_once = True
                self.failures = 0
                self._set(HEALTHY, why)
                continue
            if not passed_once and time.monotonic() - started < self.health.start_period:
                continue  # Docker: failures during the start period do not count
            self.failures += 1
            if self.failures >= self.health.retries:
                self._set(UNHEALTHY, f"{self.failures} failed checks in a row, last: {why}")

    def _set(self, status: str, why: str) -> None:
        if status != self.status:
            self.status = status
            self.on_change(status, why)


def probe_environment(environment: Mapping[str, str], host: str, port: int) -> dict[str, str]:
    """What a health check sees: the container's environment, the host's PATH (this Python first), no proxy."""
    python_dir = str(Path(sys.executable).parent)
    path = os.pathsep.join([python_dir, os.environ.get("PATH", "/usr/bin:/bin")])
    probe = {key: value for key, value in environment.items() if key.lower() not in _PROXY_VARIABLES}
    probe.update({"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), "BIND_HOST": host, "PORT": str(port)})
    return probe
