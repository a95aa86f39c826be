"""A task of the local run and what it runs: the task definition revision, the timings a run may
shorten, and the registry a scheduler registers tasks with (:mod:`.scheduler` runs them)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from ecs_discovery_tools.local.app_process import GunicornProcess
from ecs_discovery_tools.local.assembly import HealthCheckSpec, ServiceSpec
from ecs_discovery_tools.local.health import UNHEALTHY, UNKNOWN, HealthChecker

__all__ = ["DEACTIVATING", "PENDING", "RUNNING", "STOPPED", "STOPPING", "LocalTask", "Registry", "Revision", "Timings"]

# The ECS task states the local run goes through (ECS API reference, Task.lastStatus).
PENDING, RUNNING, DEACTIVATING, STOPPING, STOPPED = "PENDING", "RUNNING", "DEACTIVATING", "STOPPING", "STOPPED"


@dataclass(frozen=True)
class Timings:
    """How long the local run waits for what. ``None`` keeps the template's value.

    The health check, grace period, TTL and stop timeout overrides exist for tests and
    benchmarks (they shorten a minutes-long rolling deployment to seconds); a user's local
    run keeps the template's values.
    """

    health_interval: float | None = None
    health_timeout: float | None = None
    health_start_period: float | None = None
    health_retries: int | None = None
    grace_period: float | None = None
    dns_ttl: int | None = None
    stop_timeout: float | None = None
    # Extra wait after the DNS TTL before SIGTERM, for a caller to notice the change.
    # None: ECS's own order (SIGTERM right after deregistration).
    drain_seconds: float | None = 2.0
    # Bounded exponential backoff of replacements of tasks that never became healthy.
    restart_backoff_base: float = 1.0
    restart_backoff_max: float = 60.0
    # How long one minute of the template's bake times lasts (blue/green, linear, canary).
    minute_seconds: float = 60.0
    # How long green gets test traffic only before production traffic moves (ECS: until the
    # lifecycle hooks of that stage agree; at once without hooks).
    test_traffic_seconds: float = 0.0

    def health_check(self, health: HealthCheckSpec | None) -> HealthCheckSpec | None:
        if health is None:
            return None
        return replace(
            health,
            interval=health.interval if self.health_interval is None else self.health_interval,
            timeout=health.timeout if self.health_timeout is None else self.health_timeout,
            start_period=health.start_period if self.health_start_period is None else self.health_start_period,
            retries=health.retries if self.health_retries is None else self.health_retries,
        )


@dataclass
class Revision:
    """A task definition revision as the local run registered it: the template's plus overrides."""

    number: int
    spec: ServiceSpec
    environment_overrides: dict[str, str] = field(default_factory=dict[str, str])

    def label(self) -> str:
        return f"{self.spec.family}:{self.number}"


@dataclass
class LocalTask:
    task_id: str
    service: str
    revision: Revision
    host: str
    port: int
    process: GunicornProcess
    log_path: Path
    started_at: float
    last_status: str = PENDING
    desired_status: str = RUNNING
    health: str = UNKNOWN
    registered: bool = False
    ever_healthy: bool = False
    unhealthy_since: float | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    checker: HealthChecker | None = None

    @property
    def url(self) -> str:
        return self.process.base_url

    @property
    def serving(self) -> bool:
        """Counts as healthy for the scheduler: registered and not failing its check."""
        return self.desired_status == RUNNING and self.registered and self.health != UNHEALTHY

    def describe(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "address": self.host,
            "port": self.port,
            "url": self.url,
            "pid": self.process.pid if self.process.process is not None else None,
            "revision": self.revision.label(),
            "last_status": self.last_status,
            "desired_status": self.desired_status,
            "health": self.health,
            "registered": self.registered,
            "stopped_reason": self.stopped_reason,
            "exit_code": self.exit_code,
        }


class Registry(Protocol):
    """What a scheduler needs of Cloud Map (the stand-in) and of the address pool."""

    def register(self, task: LocalTask) -> None: ...
    def set_health(self, task: LocalTask, healthy: bool) -> None: ...
    def deregister(self, task: LocalTask) -> None: ...
    def allocate_address(self, port: int) -> str: ...
    def release_address(self, host: str) -> None: ...
    def task_environment(self, revision: Revision) -> dict[str, str]: ...
