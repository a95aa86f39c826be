"""urllib3 connection pools per address, with a maximum age and a short first-byte wait on new connections.

Built on urllib3's public extension points only: ``HTTPConnectionPool.ConnectionCls`` (the
connection class a pool makes), extra pool arguments passed to that class (``**conn_kw``), and
the connection's public methods and properties (``connect``, ``request``, ``getresponse``,
``is_connected``). The pool hands an idle connection out only if ``is_connected`` says so
(``urllib3.util.is_connection_dropped``), so a connection older than the maximum age says it is
not connected and the pool replaces it.

One thing urllib3's API cannot express: whether the connection urlopen() picks is new is only
known inside it, yet the first-byte wait depends on it. The attempt therefore hands its wishes to
the connection through a context variable (:data:`attempt_state`), read in ``getresponse``.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.response

from ecs_discovery_client._clock import SYSTEM_CLOCK, Clock
from ecs_discovery_client._resolver import Endpoint
from ecs_discovery_client._watchdog import Watch

__all__ = ["AttemptState", "ConnectionPools", "attempt_state"]


@dataclass
class AttemptState:
    """What one attempt asks of the connection it gets, and what the connection tells back."""

    #: Shorter wait for the first byte of the answer when the connection is new (None: no shorter wait).
    first_byte_timeout: float | None = None
    #: The deadline watch of the attempt: the connection registers itself with it.
    watch: Watch | None = None
    #: Set by the connection: the attempt ran on a connection that had not answered before.
    fresh: bool = False
    #: Set by the connection: the first-byte wait was shortened for this attempt.
    first_byte_applied: bool = False


# The attempt running in this thread (or task): urllib3 picks the connection inside urlopen(), so the
# connection reads what the attempt wants from here rather than through urllib3's pool parameters.
attempt_state: ContextVar[AttemptState | None] = ContextVar("ecs_discovery_client_attempt", default=None)


class _Connection(urllib3.connection.HTTPConnection):
    """Remembers when it connected and how many answers it has read."""

    def __init__(self, *args: Any, max_age: float, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_age = max_age
        self.clock = clock
        self.connected_at: float | None = None
        self.responses = 0

    def connect(self) -> None:
        super().connect()
        self.connected_at = self.clock.monotonic()
        self.responses = 0

    def close(self) -> None:
        super().close()
        self.connected_at = None

    @property
    def is_connected(self) -> bool:
        # Connected long ago, maybe to a task that has since left DNS: report it gone so the pool
        # closes it and connects afresh.
        if self.connected_at is not None and self.clock.monotonic() - self.connected_at > self.max_age:
            return False
        return super().is_connected

    def request(self, *args: Any, **kwargs: Any) -> None:
        state = attempt_state.get()
        if state is not None and state.watch is not None:
            state.watch.connection = self  # from here on the deadline may shut this socket down
        super().request(*args, **kwargs)

    def getresponse(self) -> urllib3.response.HTTPResponse:
        state = attempt_state.get()
        restore: float | None = None
        sock = self.sock
        if state is not None:
            state.fresh = self.responses == 0
            # urllib3 sets self.timeout to the read timeout (capped by the total) just before this
            # call, and getresponse() applies it to the socket: shorten it for the status line of a
            # new connection only.
            current = self.timeout
            limit = state.first_byte_timeout
            if state.fresh and limit is not None and isinstance(current, int | float) and limit < current:
                self.timeout = limit
                state.first_byte_applied = True
                restore = float(current)
        response = super().getresponse()
        if restore is not None and sock is not None:
            # The short wait was for the status line: the body is read with the attempt's read timeout.
            sock.settimeout(restore)
            self.timeout = restore
        self.responses += 1
        return response


class _Pool(urllib3.connectionpool.HTTPConnectionPool):
    # A real urllib3 HTTPConnection; urllib3's protocol types its mutable attributes invariantly.
    ConnectionCls = _Connection  # pyright: ignore[reportAssignmentType]


class ConnectionPools:
    """One connection pool per address of a service; addresses that left DNS lose their idle connections."""

    def __init__(self, *, max_age: float, maxsize: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self._max_age = max_age
        self._maxsize = maxsize
        self._clock = clock
        self._lock = threading.Lock()
        self._pools: dict[Endpoint, _Pool] = {}

    def get(self, endpoint: Endpoint) -> _Pool:
        pool = self._pools.get(endpoint)
        if pool is None:
            with self._lock:
                pool = self._pools.get(endpoint)
                if pool is None:
                    # block=False: a thread that finds no idle connection opens one, never waits for
                    # another thread's. max_age and clock go to each _Connection (urllib3's conn_kw).
                    pool = self._pools[endpoint] = _Pool(
                        endpoint.address,
                        endpoint.port,
                        maxsize=self._maxsize,
                        block=False,
                        retries=False,
                        max_age=self._max_age,
                        clock=self._clock,
                    )
        return pool

    def keep_only(self, endpoints: tuple[Endpoint, ...]) -> int:
        """Close the pools of every address not in ``endpoints`` (their idle keep-alive connections
        with them); how many pools were closed. A thread in the middle of an answer on one of them
        finishes it, and its connection is closed when it is handed back."""
        wanted = set(endpoints)
        with self._lock:
            gone = [endpoint for endpoint in self._pools if endpoint not in wanted]
            pools = [self._pools.pop(endpoint) for endpoint in gone]
        for pool in pools:
            pool.close()
        return len(pools)

    def close(self) -> None:
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()
