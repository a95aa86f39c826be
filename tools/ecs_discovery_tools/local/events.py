"""The local run's event log: what a user would read in the ECS console's service events.

Every step of every service (a task started, healthy, registered, draining, stopped; a deployment
started or completed; a scale; a throttle) is printed, kept (bounded) in memory for the control
channel's ``GET /events`` and appended to a JSON Lines file. The format is in docs/local-run.md.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import sys
import threading
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

__all__ = ["EventLog"]


class EventLog:
    """ECS-like service events: printed, kept (bounded) in memory and appended to a JSON Lines file."""

    def __init__(self, path: Path | None = None, *, echo: IO[str] | None = None, limit: int = 10_000) -> None:
        self.path = path
        self.echo = echo if echo is not None else sys.stdout
        self._events: deque[dict[str, Any]] = deque(maxlen=limit)
        self._sequence = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def add(self, event: str, service: str, message: str, **fields: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        with self._lock:
            record = {
                "seq": next(self._sequence),
                "time": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "service": service,
                "event": event,
                "message": message,
                **{key: value for key, value in fields.items() if value is not None},
            }
            self._events.append(record)
            if self.path is not None:
                with open(self.path, "a", encoding="utf-8") as output:
                    output.write(json.dumps(record) + "\n")
            self._changed.notify_all()
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stdout must not stop the run
            print(f"[local run] {now:%H:%M:%S} (service {service}) {message}", file=self.echo, flush=True)
        return record

    def since(self, sequence: int = 0, *, service: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(event)
                for event in self._events
                if event["seq"] > sequence and (service is None or event["service"] == service)
            ]

    def wait(self, sequence: int, timeout: float) -> None:
        """Block until an event after ``sequence`` exists or ``timeout`` passes (long polling)."""
        with self._changed:
            self._changed.wait_for(lambda: bool(self._events) and self._events[-1]["seq"] > sequence, timeout)
