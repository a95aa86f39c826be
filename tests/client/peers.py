"""Hostile HTTP peers on loopback for the client's tests, on raw sockets: what http.server cannot do.

``TricklingServer`` reads a request and answers with fixed bytes, one every ``interval`` seconds
(the status line and headers included), and records whether the client closed the connection before
the answer was complete. With ``interval=0`` and a short answer it is a peer that closes mid-answer.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from tests.fakes import SHUTDOWN_TIMEOUT_S

# A request head larger than this is not read further (the fake answers anyway).
_MAX_REQUEST_BYTES = 64 * 1024
# Connections served per server: a test makes a handful.
_MAX_CONNECTIONS = 32


@dataclass
class Served:
    """One connection as the server saw it."""

    sent: int = 0  # bytes of the answer sent
    closed_by_client: bool = False  # the client closed (or shut down) before the whole answer went out
    done: bool = False


class TricklingServer:
    """Answers every connection on ``host`` (127.0.0.0/8) with ``answer``: its first ``burst`` bytes at
    once, then one byte every ``interval`` s."""

    def __init__(self, answer: bytes, interval: float, host: str = "127.0.0.1", *, burst: int = 0) -> None:
        self.answer = answer
        self.interval = interval
        self.burst = burst  # this many bytes first, at once
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.1)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._served: list[Served] = []
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="trickling server", daemon=True)

    @property
    def host(self) -> str:
        return str(self._listener.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def served(self) -> list[Served]:
        with self._lock:
            return list(self._served)

    def wait_done(self, count: int, timeout: float) -> list[Served]:
        """The first ``count`` connections once each has ended (bounded by ``timeout``)."""
        stop_at = time.monotonic() + timeout
        while time.monotonic() < stop_at:
            served = self.served
            if len(served) >= count and all(item.done for item in served[:count]):
                return served[:count]
            time.sleep(0.02)
        raise AssertionError(f"fewer than {count} finished connections within {timeout} s: {self.served}")

    def _accept(self) -> None:
        while not self._stop.is_set() and len(self._threads) < _MAX_CONNECTIONS:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            served = Served()
            with self._lock:
                self._served.append(served)
            thread = threading.Thread(target=self._serve, args=(connection, served), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket, served: Served) -> None:
        with connection:
            try:
                self._read_request(connection)
                connection.sendall(self.answer[: self.burst])
                served.sent = self.burst
                for index in range(self.burst, len(self.answer)):
                    if self._stop.is_set():
                        return
                    if index and self._client_closed(connection, self.interval):
                        served.closed_by_client = True
                        return
                    connection.sendall(self.answer[index : index + 1])
                    served.sent += 1
            except OSError:
                served.closed_by_client = True  # reset or broken pipe: the client went away
            finally:
                served.done = True

    @staticmethod
    def _read_request(connection: socket.socket) -> None:
        connection.settimeout(SHUTDOWN_TIMEOUT_S)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < _MAX_REQUEST_BYTES:
            chunk = connection.recv(4096)
            if not chunk:
                return
            head += chunk

    @staticmethod
    def _client_closed(connection: socket.socket, wait: float) -> bool:
        """Waits ``wait`` s; True as soon as the client has closed its side."""
        readable, _, _ = select.select([connection], [], [], wait)
        if not readable:
            return False
        try:
            return connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def __enter__(self) -> Self:
        self._acceptor.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._acceptor.join(timeout=SHUTDOWN_TIMEOUT_S)
        for thread in self._threads:
            thread.join(timeout=SHUTDOWN_TIMEOUT_S)
