"""urllib3 connection pools per address, with a maximum age and a short first-byte wait on new connections."""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import urllib3
import urllib3.connection
import urllib3.connectionpool
import urllib3.response

from ecs_discovery_client._resolver import Endpoint

__all__ = ["AttemptState", "ConnectionPools", "attempt_state"]


@dataclass
class AttemptState:
    """What one attempt asks of the connection it gets, and what the connection tells back."""

    #: Shorter wait for the first byte of the answer when the connection is new (None: no shorter wait).
    first_byte_timeout: float | None = None
    #: Set by the connection: the attempt ran on a connection that had not answered before.
    fresh: bool = False
    #: Set by the connection: the first-byte wait was shortened for this attempt.
    first_byte_applied: bool = False


# The attempt running in this thread (or task): urllib3 picks the connection inside urlopen(), so the
# connection reads what the attempt wants from here rather than through urllib3's pool parameters.
attempt_state: ContextVar[AttemptState | None] = ContextVar("ecs_discovery_client_attempt", default=None)


class _Connection(urllib3.connection.HTTPConnection):
    """Remembers when it connected and how many answers it has read."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connected_at: float | None = None
        self.responses = 0

    def connect(self) -> None:
        super().connect()
        self.connected_at = time.monotonic()
        self.responses = 0

    def close(self) -> None:
        super().close()
        self.connected_at = None

    def getresponse(self) -> urllib3.response.HTTPResponse:
        state = attempt_state.get()
        if state is not None:
            state.fresh = self.responses == 0
            # urllib3 sets self.timeout to the read timeout just before this call, and getresponse()
            # applies it to the socket: shorten it for the status line of a new connection only.
            current = self.timeout
            limit = state.first_byte_timeout
            if state.fresh and limit is not None and isinstance(current, int | float) and limit < current:
                self.timeout = limit
                state.first_byte_applied = True
        response = super().getresponse()
        self.responses += 1
        return response


class _Pool(urllib3.connectionpool.HTTPConnectionPool):
    # A real urllib3 HTTPConnection; urllib3's protocol types its mutable attributes invariantly.
    ConnectionCls = _Connection  # pyright: ignore[reportAssignmentType]

    def __init__(self, host: str, port: int, *, max_age: float, maxsize: int) -> None:
        # block=False: a thread that finds no idle connection opens one, never waits for another thread's.
        super().__init__(host, port, maxsize=maxsize, block=False, retries=False)
        self.max_age = max_age

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)
        connected_at = getattr(conn, "connected_at", None)
        if connected_at is not None and time.monotonic() - connected_at > self.max_age:
            # Connected long ago, maybe to a task that has since left DNS: connect afresh.
            conn.close()
        return conn


class ConnectionPools:
    """One connection pool per address of a service; addresses that left DNS lose their idle connections."""

    def __init__(self, *, max_age: float, maxsize: int) -> None:
        self._max_age = max_age
        self._maxsize = maxsize
        self._lock = threading.Lock()
        self._pools: dict[Endpoint, _Pool] = {}

    def get(self, endpoint: Endpoint) -> _Pool:
        pool = self._pools.get(endpoint)
        if pool is None:
            with self._lock:
                pool = self._pools.get(endpoint)
                if pool is None:
                    pool = self._pools[endpoint] = _Pool(
                        endpoint.address, endpoint.port, max_age=self._max_age, maxsize=self._maxsize
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
