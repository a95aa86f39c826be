"""A hard stop at the call's deadline for reads that per-read timeouts cannot bound.

urllib3's ``Timeout(total=...)`` bounds the connect and the wait for the first byte of the answer,
but a socket timeout applies to each ``recv`` separately: a peer that sends the status line, the
headers or the body one byte at a time within every timeout holds the call for as long as it likes
(urllib3's documentation of ``Timeout``: "the read timeout ... is the time between bytes"). The
watchdog shuts the attempt's socket down when the call's deadline passes; the blocked read then
ends at once, and the peer sees the connection closed.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Protocol

__all__ = ["WATCHDOG", "Watch", "Watchdog"]

# The thread ends after this long without anything to watch (a new watch starts it again).
_IDLE_EXIT_S = 30.0


class _HasSocket(Protocol):
    @property
    def sock(self) -> socket.socket | None: ...


class Watch:
    """One attempt being watched. ``connection`` is set once the attempt has one."""

    __slots__ = ("cancelled", "connection", "expires_at", "fired")

    def __init__(self, expires_at: float) -> None:
        self.expires_at = expires_at
        self.connection: _HasSocket | None = None
        self.fired = False
        self.cancelled = False


class Watchdog:
    """One daemon thread per process; ``watch()`` and ``cancel()`` are thread-safe."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float) -> Watch:
        """Watch an attempt for ``seconds`` of real time (the time its call has left)."""
        watch = Watch(time.monotonic() + seconds)
        with self._condition:
            heapq.heappush(self._heap, (watch.expires_at, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ecs-discovery-deadline", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._condition.notify()  # earlier than what the thread waits for; else no wake-up
        return watch

    def cancel(self, watch: Watch) -> bool:
        """Stop watching; False when the deadline already fired (the connection was shut down)."""
        with self._condition:
            watch.cancelled = True
            return not watch.fired

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._condition:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].cancelled or self._heap[0][0] <= now):
                    _, _, watch = heapq.heappop(self._heap)
                    if not watch.cancelled:
                        # Under the lock: cancel() either sees fired, or this never happens.
                        watch.fired = True
                        _shut_down(watch.connection)
                if self._heap:
                    idle_since = now
                    self._condition.wait(self._heap[0][0] - now)
                elif now - idle_since >= _IDLE_EXIT_S:
                    self._thread = None
                    return
                else:
                    self._condition.wait(_IDLE_EXIT_S - (now - idle_since))


def _shut_down(connection: _HasSocket | None) -> None:
    sock = connection.sock if connection is not None else None
    if sock is None:
        return  # still connecting: the connect timeout (capped by the deadline) ends that
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


#: The process's watchdog, shared by every client.
WATCHDOG = Watchdog()
