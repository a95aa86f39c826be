"""A blue/green, linear or canary deployment's traffic shift, as ECS runs it: :class:`TrafficShift`.

ECS's stages for a Service Connect service (ECS developer guide, "Amazon ECS blue/green service
deployments" and "Service Connect resources for Amazon ECS blue/green deployments"):

1. SCALE_UP: the green revision starts with the full desired count beside blue; all traffic
   stays on blue.
2. TEST_TRAFFIC: once green is healthy, requests carrying the test header reach green; every other
   request still reaches blue. ECS moves on once the lifecycle hooks of this stage agree (at once
   without hooks); the local run waits ``test_traffic_seconds``.
3. PRODUCTION_SHIFT: production traffic moves to green: all at once (BLUE_GREEN), ``step_percent``
   more every ``step_bake_time`` (LINEAR), or the canary share, a wait, then the rest (CANARY).
4. BAKE: all traffic on green, blue kept running for ``bake_time`` so that a rollback is a shift
   back, not a redeployment.
5. COMPLETED: blue's tasks stop (each with its drain). ROLLED_BACK: all traffic on blue again,
   green's tasks stop.

The shift is pure state: the scheduler calls :meth:`TrafficShift.advance` with the time (any clock
the caller chooses: tests pass their own) and whether green is ready, and records the events it
returns. ``minute_seconds`` is how long a template minute lasts (60; tests shorten it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ecs_discovery_tools.local.assembly import DeploymentSpec

__all__ = [
    "BAKE",
    "COMPLETED",
    "PRODUCTION_SHIFT",
    "ROLLED_BACK",
    "SCALE_UP",
    "TEST_TRAFFIC",
    "ShiftEvent",
    "TrafficShift",
    "shift_plan",
    "strategy_words",
]

SCALE_UP, TEST_TRAFFIC, PRODUCTION_SHIFT, BAKE = "SCALE_UP", "TEST_TRAFFIC", "PRODUCTION_SHIFT", "BAKE"
COMPLETED, ROLLED_BACK = "COMPLETED", "ROLLED_BACK"
_STRATEGY_WORDS = {"BLUE_GREEN": "blue/green", "LINEAR": "linear", "CANARY": "canary"}


def strategy_words(strategy: str) -> str:
    """How an event names a strategy: BLUE_GREEN is "blue/green"."""
    return _STRATEGY_WORDS.get(strategy, strategy.lower())


@dataclass(frozen=True)
class ShiftEvent:
    """What changed: an event of the service's event log (name, message, extra fields)."""

    event: str
    message: str
    fields: dict[str, Any] = field(default_factory=dict[str, Any])


def shift_plan(spec: DeploymentSpec) -> tuple[float, ...]:
    """The share of production traffic on green after each step, in percent, the last one 100.

    LINEAR adds ``step_percent`` each step (10 -> 10, 20, ..., 100; 3 -> 3, 6, ..., 99, 100), so it
    waits (100 / step) - 1 times when the step divides 100 and floor(100 / step) times otherwise, as
    CloudFormation counts; CANARY is the canary share, then 100.
    """
    if spec.strategy == "LINEAR" and spec.step_percent:
        # In tenths of a percent: ECS's steps are multiples of 0.1, and floats would drift.
        step = max(round(spec.step_percent * 10), 1)
        return tuple(min(tenths, 1000) / 10 for tenths in range(step, 1000 + step, step) if tenths - step < 1000)
    if spec.strategy == "CANARY" and spec.step_percent is not None and spec.step_percent < 100:
        return (spec.step_percent, 100.0)
    return (100.0,)


@dataclass
class TrafficShift:
    """One traffic-shifting deployment of a service from ``blue`` to ``green`` (revision labels).

    ``started_at`` and every ``now`` come from the same clock (seconds). ``minute_seconds``: how long
    one minute of the template's bake times lasts. ``test_traffic_seconds``: how long green gets test
    traffic only before production traffic moves.
    """

    spec: DeploymentSpec
    blue: str
    green: str
    started_at: float
    minute_seconds: float = 60.0
    test_traffic_seconds: float = 0.0
    test_header: str = ""
    phase: str = SCALE_UP
    green_percent: float = 0.0
    test_to_green: bool = False
    phase_ends_at: float | None = None
    rollback_reason: str | None = None
    _step: int = 0

    def __post_init__(self) -> None:
        for name in ("minute_seconds", "test_traffic_seconds", "started_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} {value!r} is not valid: expected a finite number >= 0 (seconds)")
        self.plan = shift_plan(self.spec)

    @property
    def active(self) -> bool:
        """Both revisions run and the shift can still be rolled back."""
        return self.phase not in (COMPLETED, ROLLED_BACK)

    @property
    def strategy_words(self) -> str:
        return strategy_words(self.spec.strategy)

    def _minutes(self, minutes: float | None) -> float:
        return (minutes or 0.0) * self.minute_seconds

    def advance(self, now: float, *, green_ready: bool) -> list[ShiftEvent]:
        """Move on as far as ``now`` allows; ``green_ready``: every green task is healthy and registered."""
        events: list[ShiftEvent] = []
        for _ in range(len(self.plan) + 4):  # each pass moves at most one phase or step: bounded
            moved = self._next(now, green_ready, events)
            if not moved:
                break
        return events

    def _next(self, now: float, green_ready: bool, events: list[ShiftEvent]) -> bool:
        if self.phase == SCALE_UP:
            if not green_ready:
                return False
            self.phase, self.test_to_green = TEST_TRAFFIC, True
            self.phase_ends_at = now + self.test_traffic_seconds
            events.append(
                ShiftEvent(
                    "test_traffic_shifted",
                    f"deployment {self.green}: the new revision is healthy; test traffic (requests with the "
                    f"{self.test_header} header) now reaches it, production traffic stays on {self.blue}.",
                    {"revision": self.green, "phase": self.phase},
                )
            )
            return True
        if self.phase_ends_at is None or now < self.phase_ends_at:
            return False
        if self.phase in (TEST_TRAFFIC, PRODUCTION_SHIFT):
            if self.phase == PRODUCTION_SHIFT:
                self._step += 1
            self.phase = PRODUCTION_SHIFT
            if self._step < len(self.plan):
                self.green_percent = self.plan[self._step]
                last = self._step == len(self.plan) - 1
                wait = 0.0 if last else self._minutes(self.spec.step_bake_time_minutes)
                self.phase_ends_at = self.phase_ends_at + wait if self.phase_ends_at is not None else now + wait
                events.append(self._shifted(last))
                if not last:
                    return True
            self.phase = BAKE
            self.phase_ends_at = (self.phase_ends_at or now) + self._minutes(self.spec.bake_time_minutes)
            events.append(
                ShiftEvent(
                    "deployment_baking",
                    f"deployment {self.green}: all production traffic is on the new revision; bake time "
                    f"{self.spec.bake_time_minutes:g} minute(s), {self.blue} keeps running until it ends.",
                    {"revision": self.green, "phase": self.phase, "green_percent": self.green_percent},
                )
            )
            return True
        if self.phase == BAKE:
            self.phase, self.phase_ends_at = COMPLETED, None
            events.append(
                ShiftEvent(
                    "deployment_baked",
                    f"deployment {self.green}: bake time over; the tasks of {self.blue} stop.",
                    {"revision": self.green, "phase": self.phase},
                )
            )
            return True
        return False

    def _shifted(self, last: bool) -> ShiftEvent:
        percent = f"{self.green_percent:g}%"
        rest = "" if last else f" ({100 - self.green_percent:g}% stays on {self.blue})"
        return ShiftEvent(
            "traffic_shifted",
            f"deployment {self.green} ({self.strategy_words}): shifting {percent} of production traffic to the "
            f"new revision{rest}.",
            {"revision": self.green, "phase": PRODUCTION_SHIFT, "green_percent": self.green_percent},
        )

    def roll_back(self, reason: str) -> ShiftEvent:
        """All traffic back on blue: the caller stops green's tasks. Only while :attr:`active`."""
        if not self.active:
            raise ValueError(f"deployment {self.green} is {self.phase.lower().replace('_', ' ')}: nothing to roll back")
        self.phase, self.green_percent, self.test_to_green, self.phase_ends_at = ROLLED_BACK, 0.0, False, None
        self.rollback_reason = reason
        return ShiftEvent(
            "deployment_rolled_back",
            f"deployment {self.green} rolled back: {reason}. All traffic is on {self.blue} again; the tasks of "
            f"{self.green} stop.",
            {"revision": self.green, "rolled_back_to": self.blue, "reason": reason, "phase": self.phase},
        )

    def describe(self, now: float) -> dict[str, Any]:
        return {
            "strategy": self.spec.strategy,
            "blue": self.blue,
            "green": self.green,
            "phase": self.phase,
            "green_percent": self.green_percent,
            "blue_percent": 100.0 - self.green_percent,
            "test_traffic_to_green": self.test_to_green,
            "test_header": self.test_header,
            "phase_ends_in_s": None if self.phase_ends_at is None else round(max(self.phase_ends_at - now, 0.0), 3),
            "rollback_reason": self.rollback_reason,
        }
