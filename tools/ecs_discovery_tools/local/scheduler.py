"""ECS's service scheduler, played on loopback: tasks, deployments, scaling, the stop order.

Each ECS service of the stack gets a :class:`ServiceScheduler` that keeps ``desired_count``
tasks of its primary task definition revision running, as the ECS service scheduler does:

* A task is a gunicorn process on its own 127.0.0.x address. Its container health check is
  the task definition's own command, run as Docker runs it for the ECS agent
  (:mod:`ecs_discovery_tools.local.health`).
* A task enters Cloud Map (and so DNS) once its health check passes (at once when the
  container has none, as ECS registers a RUNNING task), is marked UNHEALTHY there when the
  check fails ``Retries`` times, and is then replaced unless the service's health check
  grace period still runs.
* A task that exits, or turns unhealthy, is stopped and replaced. Replacements of tasks
  that never became healthy back off exponentially, bounded (ECS's service throttle logic).
* A deployment (``deploy``) registers a new revision and replaces the tasks within the
  service's ``minimumHealthyPercent``/``maximumPercent``; ``scale`` changes the desired count.
* A service whose ``DeploymentConfiguration`` says BLUE_GREEN, LINEAR or CANARY deploys by a
  traffic shift instead (:mod:`.traffic`): the green revision starts at full count beside blue,
  test traffic and then production traffic move to it (:meth:`ServiceScheduler.routes` tells the
  Service Connect proxy where requests go), blue stops after the bake time; ``rollback`` or a
  failing green task moves everything back to blue and stops green.
* Every stop runs in this order: deregister from Cloud Map, wait the DNS TTL plus a drain
  interval (so callers' cached answers expire), SIGTERM, SIGKILL after the container's
  ``stopTimeout``. Real ECS does not wait between deregistering and SIGTERM (see
  docs/local-run.md); ``drain_seconds=None`` gives ECS's order to rehearse that.

Everything a user would read in the ECS console's service events goes to the
:class:`~ecs_discovery_tools.local.events.EventLog`.
"""

from __future__ import annotations

import contextlib
import math
import subprocess
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecs_discovery_tools.local.app_process import GunicornProcess
from ecs_discovery_tools.local.assembly import ServiceSpec
from ecs_discovery_tools.local.control_api import Refused
from ecs_discovery_tools.local.events import EventLog
from ecs_discovery_tools.local.health import (
    HEALTHY,
    UNHEALTHY,
    HealthChecker,
    probe_command,
    probe_environment,
)
from ecs_discovery_tools.local.limits import MAX_TASKS_PER_SERVICE
from ecs_discovery_tools.local.proxy import Routes
from ecs_discovery_tools.local.tasks import (
    DEACTIVATING,
    PENDING,
    RUNNING,
    STOPPED,
    STOPPING,
    LocalTask,
    Registry,
    Revision,
    Timings,
)
from ecs_discovery_tools.local.traffic import COMPLETED, SCALE_UP, TrafficShift, strategy_words

# LocalTask, Revision and Timings are re-exported: a scheduler's callers name them with it.
__all__ = ["LocalTask", "Registry", "Revision", "ServiceScheduler", "Timings"]


class ServiceScheduler:
    """ECS's service scheduler for one service: desired count, replacement, deployments, drain order."""

    def __init__(
        self,
        spec: ServiceSpec,
        *,
        desired_count: int,
        registry: Registry,
        events: EventLog,
        timings: Timings,
        log_dir: Path,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = spec.name
        self.clock = clock  # the traffic shift's clock (bake and step times)
        self.registry = registry
        self.events = events
        self.timings = timings
        self.log_dir = log_dir
        self.on_change = on_change
        self.revisions = [Revision(1, spec)]
        self.desired_count = _check_count(desired_count)
        self.tasks: list[LocalTask] = []  # every task not yet STOPPED
        self.stopped: deque[LocalTask] = deque(maxlen=100)
        self._lock = threading.RLock()
        self._shutting_down = threading.Event()
        self._stop_threads: list[threading.Thread] = []
        self._failed_starts = 0
        self._next_start_at = 0.0
        self._steady = False
        self._deploying: Revision | None = None
        # The last traffic-shifting deployment, with its blue and green revisions.
        self._shift: TrafficShift | None = None
        self._blue: Revision | None = None
        self._green: Revision | None = None

    # -- what the control channel asks ---------------------------------------------

    @property
    def primary(self) -> Revision:
        return self.revisions[-1]

    def scale(self, count: int) -> None:
        with self._lock:
            count = _check_count(count)
            previous, self.desired_count = self.desired_count, count
            self._steady = False
        self.events.add(
            "service_scaled", self.name, f"desired count changed from {previous} to {count}.", desired_count=count
        )

    def deploy(self, spec: ServiceSpec | None = None, environment: Mapping[str, str] | None = None) -> Revision:
        """Register a new revision (the template's ``spec`` if given, plus ``environment``) and roll it out."""
        with self._lock:
            if self._shift is not None and self._shift.active:
                raise Refused(
                    f"a {self._shift.strategy_words} deployment of {self.name} is in progress "
                    f"({self._shift.green}, {self._shift.phase}): wait for it to end, or roll it back"
                )
            base = self.primary
            overrides = {**base.environment_overrides, **(environment or {})}
            # Numbers are never reused: a rolled-back revision keeps its number.
            number = max(item.number for item in self.revisions) + 1
            revision = Revision(number, spec or base.spec, overrides)
            self.revisions.append(revision)
            # ECS: a new task definition returns a throttled service to normal at once.
            self._failed_starts, self._next_start_at, self._steady = 0, 0.0, False
            self._deploying = revision
            strategy = revision.spec.deployment
            if strategy.shifts_traffic:
                aliases = [alias for entry in revision.spec.service_connect for alias in entry.client_aliases]
                self._shift = TrafficShift(
                    strategy,
                    base.label(),
                    revision.label(),
                    self.clock(),
                    minute_seconds=self.timings.minute_seconds,
                    test_traffic_seconds=self.timings.test_traffic_seconds,
                    test_header=aliases[0].test_header if aliases else "",
                )
                self._blue, self._green = base, revision
        if strategy.shifts_traffic:
            message = (
                f"deployment started ({strategy_words(strategy.strategy)}): task definition {revision.label()} "
                f"starts {self.desired_count} task(s) beside {base.label()}; production traffic stays on "
                f"{base.label()} until the shift."
            )
        else:
            message = (
                f"deployment started: task definition {revision.label()} replaces "
                f"{base.label()} (minimumHealthyPercent {revision.spec.minimum_healthy_percent}, "
                f"maximumPercent {revision.spec.maximum_percent})."
            )
        self.events.add("deployment_started", self.name, message, revision=revision.label(), strategy=strategy.strategy)
        return revision

    def rollback(self, reason: str = "rollback requested (local run control)") -> str:
        """Move all traffic back to blue and stop green: the label of the revision rolled back to.
        Refused unless a blue/green, linear or canary deployment is in progress."""
        with self._lock:
            shift = self._shift
            if not self.primary.spec.deployment.shifts_traffic and (shift is None or not shift.active):
                raise Refused(
                    f"service {self.name} deploys with strategy {self.primary.spec.deployment.strategy}: only a "
                    "blue/green, linear or canary deployment can be rolled back"
                )
            if shift is None or not shift.active:
                raise Refused(f"service {self.name} has no deployment in progress to roll back")
            self._roll_back(reason)
            assert self._blue is not None
            return self._blue.label()

    def _roll_back(self, reason: str) -> None:
        shift, blue, green = self._shift, self._blue, self._green
        assert shift is not None and blue is not None and green is not None
        event = shift.roll_back(reason)
        self.events.add(event.event, self.name, event.message, **event.fields)
        self.revisions.append(blue)  # blue is the primary revision again
        self._deploying, self._steady = None, False
        for task in [task for task in self.tasks if task.revision is green]:
            self._begin_stop(task, f"Deployment {green.label()} rolled back: {reason}")
        self.on_change()

    def routes(self, port: int) -> Routes:
        """Where the service's Service Connect requests go now (its healthy tasks on ``port``):
        during a traffic shift blue's and green's, with green's share and whether test traffic
        reaches it; otherwise every healthy task."""
        with self._lock:
            shift = self._shift
            if shift is None or not shift.active:
                return Routes(blue=tuple((task.host, port) for task in self.tasks if task.serving))
            return Routes(
                blue=tuple((task.host, port) for task in self.tasks if task.serving and task.revision is self._blue),
                green=tuple((task.host, port) for task in self.tasks if task.serving and task.revision is self._green),
                green_percent=shift.green_percent,
                test_to_green=shift.test_to_green,
            )

    def stop_task(self, task_id: str, reason: str = "Task stopped by user (local run control)") -> bool:
        with self._lock:
            for task in self.tasks:
                if task.task_id == task_id and task.desired_status == RUNNING:
                    self._begin_stop(task, reason)
                    return True
        return False

    def describe(self) -> dict[str, Any]:
        with self._lock:
            running = [task for task in self.tasks if task.desired_status == RUNNING]
            return {
                "desired_count": self.desired_count,
                "running_count": sum(task.last_status == RUNNING for task in running),
                "healthy_count": sum(task.serving for task in running),
                "primary_revision": self.primary.label(),
                "strategy": self.primary.spec.deployment.strategy,
                "deployment": None if self._shift is None else self._shift.describe(self.clock()),
                "steady": self._steady,
                "tasks": [task.describe() for task in self.tasks],
            }

    # -- the scheduler loop ------------------------------------------------------------

    def reconcile(self) -> None:
        """One pass of the scheduler: notice exits and health, then start and stop tasks."""
        if self._shutting_down.is_set():
            return
        now = time.monotonic()
        with self._lock:
            self._watch_green()
            for task in [task for task in self.tasks if task.desired_status == RUNNING]:
                self._follow(task, now)
            if self._shift is not None and self._shift.active:
                self._balance_shift(now)
            else:
                self._balance(now)

    def _watch_green(self) -> None:
        # A green task that exits or fails its health checks during the shift rolls it back, as
        # ECS's deployment circuit breaker and alarms do: blue still runs at full count.
        shift, green = self._shift, self._green
        if shift is None or not shift.active:
            return
        for task in self.tasks:
            if task.revision is not green or task.desired_status != RUNNING:
                continue
            if not task.process.is_running():
                self._roll_back(f"(task {task.task_id}) of {task.revision.label()} exited")
                return
            if task.health == UNHEALTHY:
                self._roll_back(f"(task {task.task_id}) of {task.revision.label()} failed its health checks")
                return

    def _balance_shift(self, now: float) -> None:
        """One pass during a traffic shift: blue and green each at the desired count (green started
        only while scaling up), other revisions stopped, then the shift moves on."""
        shift, blue_revision, green_revision = self._shift, self._blue, self._green
        assert shift is not None and blue_revision is not None and green_revision is not None
        running = [task for task in self.tasks if task.desired_status == RUNNING]
        blue = [task for task in running if task.revision is blue_revision]
        green = [task for task in running if task.revision is green_revision]
        desired = self.desired_count
        blue_serving = sum(task.serving for task in blue)
        for task in sorted(running, key=_stop_order):
            other = task.revision is not blue_revision and task.revision is not green_revision
            if other and (not task.serving or blue_serving >= desired):
                self._begin_stop(task, f"Task replaced by deployment of {blue_revision.label()}")
        for tasks in (blue, green):
            for task in sorted(tasks, key=_stop_order)[: max(len(tasks) - desired, 0)]:
                self._begin_stop(task, "Scaling activity initiated by (local run control) to scale in")
        if now >= self._next_start_at:
            for _ in range(desired - len(blue)):
                self._start_task(blue_revision)
            if shift.phase == SCALE_UP:
                for _ in range(desired - len(green)):
                    self._start_task(green_revision)
        green_ready = len(green) >= desired and all(task.serving for task in green[:desired])
        for event in shift.advance(self.clock(), green_ready=green_ready):
            self.events.add(event.event, self.name, event.message, **event.fields)
            self.on_change()
        if shift.phase == COMPLETED:
            self._steady = False  # the rolling pass stops blue's tasks, each with its drain

    def _follow(self, task: LocalTask, now: float) -> None:
        if not task.process.is_running():
            task.exit_code = task.process.process.returncode if task.process.process is not None else None
            if not task.ever_healthy:
                self._note_failed_start(task)
            self._begin_stop(task, f"Essential container in task exited (exit code {task.exit_code})", drain=False)
            return
        if task.last_status == PENDING:
            task.last_status = RUNNING  # the process started: the container is running
            if task.checker is None:  # no health check: ECS registers a RUNNING task
                self._register(task)
        if task.health == HEALTHY and not task.registered:
            self._register(task)
        if task.health == UNHEALTHY:
            grace = self._grace_period(task)
            if now - task.started_at >= grace:
                if not task.ever_healthy:
                    self._note_failed_start(task)
                self._begin_stop(task, "Task failed container health checks")

    def _grace_period(self, task: LocalTask) -> float:
        if self.timings.grace_period is not None:
            return self.timings.grace_period
        return task.revision.spec.health_check_grace_period

    def _balance(self, now: float) -> None:
        running = [task for task in self.tasks if task.desired_status == RUNNING]
        primary = [task for task in running if task.revision is self.primary]
        old = [task for task in running if task.revision is not self.primary]
        spec = self.primary.spec
        desired = self.desired_count
        minimum_healthy = math.ceil(desired * spec.minimum_healthy_percent / 100)
        maximum = max(math.floor(desired * spec.maximum_percent / 100), 1 if desired else 0)
        serving = sum(task.serving for task in running)

        # Scale in: the primary revision has more tasks than desired (ECS does not hold
        # minimumHealthyPercent against a lower desired count).
        surplus = len(primary) - desired
        for task in sorted(primary, key=_stop_order)[: max(surplus, 0)]:
            self._begin_stop(task, "Scaling activity initiated by (local run control) to scale in")
            serving -= task.serving

        # Start new tasks of the primary revision, within maximumPercent.
        primary_count = min(len(primary), desired)
        room = maximum - (primary_count + len(old))
        wanted = min(desired - primary_count, room)
        if wanted > 0 and now >= self._next_start_at:
            for _ in range(wanted):
                self._start_task(self.primary)
            primary_count += wanted

        # Stop old revisions' tasks while enough tasks stay healthy (minimumHealthyPercent):
        # those not serving first (they cost nothing), then as many serving ones as allowed.
        for task in sorted(old, key=_stop_order):
            if not task.serving:
                self._begin_stop(task, f"Task replaced by deployment of {self.primary.label()}")
            elif serving - 1 >= minimum_healthy:
                self._begin_stop(task, f"Task replaced by deployment of {self.primary.label()}")
                serving -= 1

        self._note_steady(primary, old)

    def _note_steady(self, primary: list[LocalTask], old: list[LocalTask]) -> None:
        steady = (
            not old
            and len(primary) == self.desired_count
            and all(task.serving for task in primary)
            and all(task.desired_status == RUNNING for task in self.tasks)
        )
        if steady and not self._steady:
            self._steady = True
            if self._deploying is not None:
                self.events.add(
                    "deployment_completed",
                    self.name,
                    f"deployment completed: {self._deploying.label()} runs {self.desired_count} healthy task(s).",
                    revision=self._deploying.label(),
                )
                self._deploying = None
            self.events.add(
                "steady_state",
                self.name,
                f"has reached a steady state: {self.desired_count} task(s) of {self.primary.label()} healthy.",
                revision=self.primary.label(),
                desired_count=self.desired_count,
            )
            self.on_change()
        elif not steady:
            self._steady = False

    # -- a task's life -------------------------------------------------------------

    def _start_task(self, revision: Revision) -> LocalTask:
        spec = revision.spec
        host = self.registry.allocate_address(spec.container_port)
        task_id = uuid.uuid4().hex
        log_path = self.log_dir / f"{self.name}-{task_id[:8]}-{host}.log"
        environment = self.registry.task_environment(revision)
        with open(log_path, "ab") as output:  # the child keeps its own descriptor
            process = GunicornProcess(
                spec.app_dir,
                host=host,
                port=spec.container_port,
                env=environment,
                output=output,
                die_with_parent=True,  # started by the scheduler thread, which lives as long as the run
            )
            task = LocalTask(
                task_id, self.name, revision, host, spec.container_port, process, log_path, time.monotonic()
            )
            self.tasks.append(task)  # recorded before it starts: stopped whatever happens next
            try:
                process.start()
            except OSError as error:
                task.stopped_reason = f"CannotStartContainerError: {error}"
                self.tasks.remove(task)
                self.registry.release_address(host)
                self._note_failed_start(task)
                raise
        health = self.timings.health_check(spec.health_check)
        if health is not None:
            task.checker = HealthChecker(
                health,
                probe_command(health.command, host),
                env=probe_environment(environment, host, spec.container_port),
                cwd=spec.app_dir,
                on_change=lambda status, why: self._on_health(task, status, why),
            ).start()
        self.events.add(
            "task_started",
            self.name,
            f"has started 1 tasks: (task {task_id}) on {host}:{spec.container_port}, {revision.label()}.",
            task_id=task_id,
            address=host,
            revision=revision.label(),
        )
        self.on_change()
        return task

    def _on_health(self, task: LocalTask, status: str, why: str) -> None:
        with self._lock:
            if task.desired_status != RUNNING:
                return
            task.health = status
            if status == HEALTHY:
                task.ever_healthy = True
                task.unhealthy_since = None
                self._failed_starts = 0  # the service starts tasks successfully again
                self.events.add(
                    "task_healthy", self.name, f"(task {task.task_id}) is healthy: {why}.", task_id=task.task_id
                )
                if task.registered:
                    self.registry.set_health(task, True)
                else:
                    self._register(task)
            else:
                task.unhealthy_since = time.monotonic()
                self.events.add(
                    "task_unhealthy", self.name, f"(task {task.task_id}) is unhealthy: {why}.", task_id=task.task_id
                )
                if task.registered:
                    # ECS reports the status to Cloud Map (custom health check): out of DNS.
                    self.registry.set_health(task, False)
        self.on_change()

    def _register(self, task: LocalTask) -> None:
        self.registry.register(task)
        task.registered = True
        self.events.add(
            "task_registered",
            self.name,
            f"registered (task {task.task_id}) {task.host}:{task.port} in Cloud Map.",
            task_id=task.task_id,
            address=task.host,
        )
        self.on_change()

    def _begin_stop(self, task: LocalTask, reason: str, *, drain: bool = True) -> None:
        """Take ``task`` out of the service; the drain and the signals run in their own thread."""
        if task.desired_status != RUNNING:
            return
        task.desired_status = STOPPED
        task.stopped_reason = reason
        task.last_status = DEACTIVATING
        self.events.add(
            "task_stopping",
            self.name,
            f"stopping (task {task.task_id}): {reason}.",
            task_id=task.task_id,
            reason=reason,
        )
        thread = threading.Thread(
            target=self._stop_flow, args=(task, drain), name=f"stop-{task.task_id[:8]}", daemon=True
        )
        self._stop_threads = [item for item in self._stop_threads if item.is_alive()]
        self._stop_threads.append(thread)
        thread.start()
        self.on_change()

    def _note_failed_start(self, task: LocalTask) -> None:
        # ECS's service throttle logic, bounded: each replacement of a task that never
        # became healthy waits twice as long as the last, up to restart_backoff_max.
        self._failed_starts += 1
        delay = min(
            self.timings.restart_backoff_base * 2 ** (self._failed_starts - 1), self.timings.restart_backoff_max
        )
        self._next_start_at = time.monotonic() + delay
        if self._failed_starts >= 2:
            self.events.add(
                "service_throttled",
                self.name,
                f"is unable to consistently start tasks successfully: next start in {delay:g} s "
                f"({self._failed_starts} tasks in a row never became healthy).",
                delay_s=delay,
            )

    def _stop_flow(self, task: LocalTask, drain: bool) -> None:
        spec = task.revision.spec
        stop_timeout = self.timings.stop_timeout if self.timings.stop_timeout is not None else spec.stop_timeout
        killed = False
        try:
            if task.registered:
                with contextlib.suppress(Exception):  # the registry is in this process; the stop goes on
                    self.registry.deregister(task)
                task.registered = False
                self.events.add(
                    "task_deregistered",
                    self.name,
                    f"deregistered (task {task.task_id}) {task.host}:{task.port} from Cloud Map.",
                    task_id=task.task_id,
                )
                self.on_change()
                ttl = self.timings.dns_ttl if self.timings.dns_ttl is not None else spec.ttl
                if drain and self.timings.drain_seconds is not None and task.process.is_running():
                    wait = ttl + self.timings.drain_seconds
                    self.events.add(
                        "task_draining",
                        self.name,
                        f"(task {task.task_id}) draining {wait:g} s (DNS TTL {ttl} s + "
                        f"{self.timings.drain_seconds:g} s) before SIGTERM.",
                        task_id=task.task_id,
                        drain_s=wait,
                    )
                    self._shutting_down.wait(wait)
            if task.checker is not None:
                task.checker.stop()
            task.last_status = STOPPING
            if task.process.is_running():
                self.events.add(
                    "task_sigterm",
                    self.name,
                    f"sent SIGTERM to (task {task.task_id}); SIGKILL after the {stop_timeout:g} s stop timeout.",
                    task_id=task.task_id,
                )
                task.process.terminate()
                try:
                    task.process.wait(timeout=stop_timeout)
                except subprocess.TimeoutExpired:
                    killed = True
            task.process.stop(grace=0)  # SIGKILL to the group: whatever is left
            if task.exit_code is None and task.process.process is not None:
                task.exit_code = task.process.process.returncode
        finally:
            with self._lock:
                task.last_status = STOPPED
                if task in self.tasks:
                    self.tasks.remove(task)
                self.stopped.append(task)
                self.registry.release_address(task.host)
        how = f"SIGKILL after the {stop_timeout:g} s stop timeout" if killed else f"exit code {task.exit_code}"
        self.events.add(
            "task_stopped",
            self.name,
            f"has stopped 1 running tasks: (task {task.task_id}) {task.stopped_reason} ({how}).",
            task_id=task.task_id,
            reason=task.stopped_reason,
            exit_code=task.exit_code,
            killed=killed,
        )
        self.on_change()

    def shutdown(self, grace: float) -> None:
        """Stop everything now (the local run ends): SIGTERM, then SIGKILL after ``grace``; no drain."""
        self._shutting_down.set()
        with self._lock:
            tasks = list(self.tasks)
        for task in tasks:
            if task.checker is not None:
                task.checker.signal_stop()  # stop probing at once; joined below
            task.process.terminate()
        deadline = time.monotonic() + grace
        for task in tasks:
            if task.process.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    task.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            task.process.stop(grace=0)
        for task in tasks:
            if task.checker is not None:
                task.checker.stop()
        for thread in self._stop_threads:
            thread.join(timeout=5)


def _stop_order(task: LocalTask) -> tuple[int, int, float]:
    # Tasks not serving go first; among the others, the youngest (as ECS keeps the longest-running).
    return (int(task.serving), int(task.ever_healthy), -task.started_at)


def _check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_TASKS_PER_SERVICE:
        raise ValueError(f"desired count {count!r} is not valid: expected 0-{MAX_TASKS_PER_SERVICE}")
    return count
