"""Container health checks as the local run runs them: the task definition's own command, with the
task's address for the container's loopback, and Docker's timing rules (interval, timeout, retries,
start period). No gunicorn here: the checks run against small commands and a loopback HTTP server."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_discovery_tools.local.assembly import HealthCheckSpec, read_stack
from ecs_discovery_tools.local.health import HealthChecker, probe_command, run_probe
from tests.fakes import LoopbackHttpServer, Response

ENV = {"PATH": "/usr/bin:/bin"}


def test_cmd_shell_runs_through_sh_with_the_task_address_for_loopback():
    command = ("CMD-SHELL", "curl -f http://127.0.0.1:8080/health || exit 1")

    assert probe_command(command, "127.0.0.7") == ["/bin/sh", "-c", "curl -f http://127.0.0.7:8080/health || exit 1"]


def test_cmd_execs_its_arguments_and_only_the_exact_loopback_address_changes():
    command = ("CMD", "probe", "http://127.0.0.1:80/", "127.0.0.10", "127.0.0.1", "10.127.0.0.1", "127.0.0.123")

    assert probe_command(command, "127.0.0.9") == [
        "probe", "http://127.0.0.9:80/", "127.0.0.10", "127.0.0.9", "10.127.0.0.1", "127.0.0.123",
    ]  # fmt: skip


def test_an_unknown_command_kind_is_refused():
    with pytest.raises(ValueError, match="NONE"):
        probe_command(("NONE",), "127.0.0.2")


def test_a_probe_passes_on_exit_0_and_fails_otherwise():
    assert run_probe(["/bin/sh", "-c", "exit 0"], timeout=5, env=ENV) == (True, "exit 0")
    passed, why = run_probe(["/bin/sh", "-c", "echo no such thing >&2; exit 3"], timeout=5, env=ENV)
    assert not passed and why == "exit 3: no such thing"
    passed, why = run_probe(["/nonexistent/probe"], timeout=5, env=ENV)
    assert not passed and "cannot run the health check" in why


def test_a_probe_that_outlives_its_timeout_is_killed_with_what_it_started(tmp_path):
    marker = tmp_path / "survived"
    started = time.monotonic()

    # The background child would write the marker after 2 s if the process group were not killed.
    passed, why = run_probe(["/bin/sh", "-c", f"(sleep 2; touch {marker}) & sleep 30"], timeout=0.5, env=ENV)

    assert not passed and why == "timed out after 0.5 s"
    assert time.monotonic() - started < 5
    time.sleep(2.5)
    assert not marker.exists()


# -- Docker's timing rules ------------------------------------------------------------------------


class Switch:
    """A health endpoint on loopback whose answer the test flips."""

    def __init__(self) -> None:
        self.healthy = True
        self.server = LoopbackHttpServer(lambda request: Response(200 if self.healthy else 500), host="127.0.0.6")
        self.port = self.server.port


@pytest.fixture
def switch() -> Iterator[Switch]:
    running = Switch()
    with running.server:
        yield running


def checker(switch: Switch, *, interval: float, retries: int, start_period: float) -> tuple[HealthChecker, list[str]]:
    # The command as a container would run it: 127.0.0.1, replaced by the "task" address.
    command = ("CMD", "python3", "-c", f"import urllib.request as r; r.urlopen('http://127.0.0.1:{switch.port}/')")
    spec = HealthCheckSpec(command=command, interval=interval, timeout=3, retries=retries, start_period=start_period)
    changes: list[str] = []
    health = HealthChecker(
        spec,
        probe_command(command, "127.0.0.6"),
        env={"PATH": "/usr/bin:/bin:/usr/local/bin"},
        cwd=Path.cwd(),
        on_change=lambda status, why: changes.append(status),
    )
    return health, changes


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_healthy_after_a_pass_and_unhealthy_after_retries_failures_in_a_row(switch):
    health, changes = checker(switch, interval=0.2, retries=3, start_period=0)
    health.start()
    try:
        wait_until(lambda: changes == ["HEALTHY"], 10)
        switch.healthy = False
        wait_until(lambda: changes == ["HEALTHY", "UNHEALTHY"], 10)
        assert health.failures >= 3
        switch.healthy = True
        wait_until(lambda: changes == ["HEALTHY", "UNHEALTHY", "HEALTHY"], 10)
    finally:
        health.stop()


def test_failures_within_the_start_period_do_not_count(switch):
    switch.healthy = False
    health, changes = checker(switch, interval=0.2, retries=1, start_period=2.0)
    started = time.monotonic()
    health.start()
    try:
        wait_until(lambda: changes == ["UNHEALTHY"], 10)
        # retries=1 would have failed at the first check (0.2 s); the start period held it back.
        assert time.monotonic() - started >= 2.0
    finally:
        health.stop()


def test_the_first_check_runs_one_interval_after_start(switch):
    health, changes = checker(switch, interval=1.0, retries=1, start_period=0)
    started = time.monotonic()
    health.start()
    try:
        wait_until(lambda: changes == ["HEALTHY"], 10)
        assert time.monotonic() - started >= 1.0
    finally:
        health.stop()


# -- from the template --------------------------------------------------------------------------


def test_the_seed_template_health_check_is_read_with_its_timings(assembly_dir):
    stack = read_stack(assembly_dir, "ServiceDiscovery")
    template = json.loads((assembly_dir / "ServiceDiscovery.template.json").read_text())
    resources = template["Resources"]

    assert sorted(service.name for service in stack.services) == ["backend", "worker"]
    for service in stack.services:
        health = service.health_check
        assert health is not None
        task_definition = resources[service.task_definition_logical_id]["Properties"]
        (container,) = [c for c in task_definition["ContainerDefinitions"] if c["Name"] == service.container_name]
        written = container["HealthCheck"]
        assert list(health.command) == written["Command"]
        assert "127.0.0.1" in " ".join(health.command)  # what the local run swaps for the task address
        assert (health.interval, health.timeout, health.retries, health.start_period) == (
            written["Interval"], written["Timeout"], written["Retries"], written["StartPeriod"],
        )  # fmt: skip
        assert service.stop_timeout == container["StopTimeout"]
        deployment = resources[service.ecs_logical_id]["Properties"]["DeploymentConfiguration"]
        assert service.minimum_healthy_percent == deployment["MinimumHealthyPercent"]
        assert service.maximum_percent == deployment["MaximumPercent"]


def test_the_seed_template_health_check_passes_against_a_task_and_fails_without_one(switch, assembly_dir):
    # The construct's real command, run as the local run runs it, against a live and a dead port.
    (service, *_) = read_stack(assembly_dir, "ServiceDiscovery").services
    assert service.health_check is not None
    command = tuple(part.replace("8080", str(switch.port)) for part in service.health_check.command)

    argv = probe_command(command, "127.0.0.6")

    assert run_probe(argv, timeout=5, env={"PATH": "/usr/bin:/bin:/usr/local/bin"})[0]
    switch.healthy = False
    assert not run_probe(argv, timeout=5, env={"PATH": "/usr/bin:/bin:/usr/local/bin"})[0]
