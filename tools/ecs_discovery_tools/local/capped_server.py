"""One threaded HTTP server with a cap on connections, shared by the control channel and the local
Service Connect proxy: past the cap a connection gets 503 at once from the accepting thread, so no
caller, however slow, holds a thread it was never given."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import Any


def busy_at_once(request: socket.socket) -> None:
    """A 503 sent without waiting: the accepting thread never blocks on a caller."""
    body = json.dumps({"error": "busy: too many connections"}).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with contextlib.suppress(OSError):
        request.setblocking(False)
        request.send(head + body)


class CappedThreadingServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer serving at most ``connections``' count of connections at once.

    ``error_label`` names the server in the one line an unexpected handler error prints (never a
    traceback); ``refused()`` is called for each connection turned away."""

    daemon_threads = True
    connections: threading.BoundedSemaphore
    error_label = "server"

    def refused(self) -> None:
        """Called for each connection turned away at the cap (a counter, in a subclass)."""

    def errored(self) -> None:
        """Called for each request that ended in an error the handler did not answer."""

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.connections.acquire(blocking=False):
            self.refused()
            busy_at_once(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.connections.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connections.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The handler answers every request itself; whatever still gets here is one line, not a traceback.
        error = sys.exc_info()[1]
        self.errored()
        with contextlib.suppress(OSError, ValueError):
            print(f"{self.error_label}: {type(error).__name__}: {error}", file=sys.stderr)
