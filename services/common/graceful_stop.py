"""How a task that callers find by DNS stops: keep serving while callers still have its address,
then refuse new connections at once, finish what is in flight, exit.

ECS deregisters a stopping task from Cloud Map and sends SIGTERM without waiting for the DNS
TTL (docs/apps.md, "Stopping"). Callers that looked the name up just before still hold this
task's address for up to a TTL. So on SIGTERM each gunicorn worker:

1. keeps accepting and serving for ``STOP_DRAIN_SECONDS``, answering every request with
   ``Connection: close`` so that callers' pooled connections end after their current request;
2. then accepts what is already queued, closes its listening sockets at once, so that the
   kernel refuses (RST) every later connect instead of completing it into a backlog nobody
   reads (gunicorn 27's own gthread stop keeps the sockets open until the worker exits);
3. finishes its in-flight requests within ``GUNICORN_GRACEFUL_TIMEOUT`` and exits.

The master (arbiter) closes its own copies of the listening sockets on SIGTERM and waits
``graceful_timeout`` (= drain + finish, set in gunicorn.conf.py) before it SIGKILLs workers.
SIGINT and SIGQUIT still stop at once (gunicorn's quick shutdown).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

DRAIN_ENV = "STOP_DRAIN_SECONDS"
FINISH_ENV = "GUNICORN_GRACEFUL_TIMEOUT"
# The construct's default DNS TTL (10 s) plus 5 s for Cloud Map to update Route 53 and for a
# caller that looked the name up just before the deregistration.
DEFAULT_DRAIN_SECONDS = 15
DEFAULT_FINISH_SECONDS = 20
# Fargate sends SIGKILL at the latest this long after SIGTERM (ECS ContainerDefinition.stopTimeout).
# The construct library caps the drain it sets by these two numbers (its validation.py:
# MAX_STOP_TIMEOUT_SECONDS, APP_FINISH_SECONDS, MAX_DRAIN_SECONDS = 99); the image does not contain
# the library, so tests/unit/test_drain_limit.py imports both and fails when they differ.
MAX_STOP_SECONDS = 120

_SECONDS = re.compile(r"[0-9]{1,3}")


class StopSettingsError(ValueError):
    """A stop setting in the environment is not a usable number of seconds."""


def _seconds(environ: Mapping[str, str], name: str, default: int, low: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not _SECONDS.fullmatch(raw) or not low <= int(raw) < MAX_STOP_SECONDS:
        shown = raw if len(raw) <= 20 else raw[:20] + "..."
        raise StopSettingsError(
            f"{name}={shown!r} is not valid: expected whole seconds from {low} to {MAX_STOP_SECONDS - 1}"
        )
    return int(raw)


def stop_seconds(environ: Mapping[str, str]) -> tuple[int, int]:
    """``(drain, finish)`` from the environment; together they must end before Fargate's SIGKILL."""
    drain = _seconds(environ, DRAIN_ENV, DEFAULT_DRAIN_SECONDS, 0)
    finish = _seconds(environ, FINISH_ENV, DEFAULT_FINISH_SECONDS, 1)
    if drain + finish >= MAX_STOP_SECONDS:
        raise StopSettingsError(
            f"{DRAIN_ENV}={drain} plus {FINISH_ENV}={finish} is not valid: together they must stay "
            f"below {MAX_STOP_SECONDS} s, the longest stop timeout Fargate allows (and below the "
            "task definition's stopTimeout)"
        )
    return drain, finish


class DrainingThreadWorker(ThreadWorker):
    """gunicorn's gthread worker with the stop sequence described in this module's docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drain_seconds, _ = stop_seconds(os.environ)
        self.draining = False

    def handle_exit(self, sig: int, frame: Any) -> None:
        # SIGTERM. A signal handler does no more than queue work for the main loop, as gunicorn's does.
        if self.draining or not self.alive:
            return
        self.draining = True
        self.method_queue.defer(self._start_drain)

    def _start_drain(self) -> None:
        self.log.info("SIGTERM: serving with Connection: close for %s s, then refusing connections", self.drain_seconds)
        if self.drain_seconds <= 0:
            self._stop_accepting()
            return
        timer = threading.Timer(self.drain_seconds, self.method_queue.defer, args=(self._stop_accepting,))
        timer.daemon = True
        timer.start()

    def _stop_accepting(self) -> None:
        """Runs on the main loop: take what is queued, close the listeners, let run() finish in-flight work."""
        for listener in self.sockets:
            # Connections the kernel completed while this worker was still accepting are served,
            # not reset: accept until the queue is empty (bounded by the listen backlog).
            for _ in range(self.cfg.backlog):
                accepted = self.nr_conns
                try:
                    self.accept(listener)
                except OSError as error:  # out of descriptors, say: close the listeners all the same
                    self.log.warning("accept before closing the listening socket failed: %s", error)
                    break
                if self.nr_conns == accepted:
                    break
        self.set_accept_enabled(False)
        for listener in self.sockets:
            listener.close()  # with the master's copy already closed, the port now refuses connects
        self.log.info("drain over: listening sockets closed, finishing in-flight requests")
        # run() leaves its loop, then waits for in-flight requests (gthread.ThreadWorker.run).
        self.alive = False

    def handle_request(self, req: Any, conn: Any) -> bool:
        if self.draining:
            # The response says Connection: close and the connection ends after it
            # (gunicorn.http.wsgi.Response.should_close reads the request's must_close).
            req.must_close = True
        return super().handle_request(req, conn)
