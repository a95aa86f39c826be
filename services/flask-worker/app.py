"""flask-worker: a generic service that says who it is.

One image serves several services (auth, user, timeline, feed, messenger, worker),
each told its name and message by the environment.
"""

from __future__ import annotations

import os
import time

import request_log
from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from identity import TaskIdentity

SERVICE_NAME = os.environ.get("SERVICE_NAME", "").strip() or "worker"
MESSAGE = os.environ.get("MESSAGE", "").strip() or f"Hello from {SERVICE_NAME}"
# Test-only: lets a request hold its thread (?delay=seconds) to exercise timeouts and
# graceful shutdown. Off unless explicitly enabled, so clients cannot tie up threads.
ALLOW_DELAY = os.environ.get("WORKER_ALLOW_DELAY", "").strip() == "1"
MAX_DELAY_S = 30.0


class _InsertionOrderJSONProvider(DefaultJSONProvider):
    # Keys come out in the order the views write them, not sorted.
    sort_keys = False


app = Flask(__name__)
app.json = _InsertionOrderJSONProvider(app)
request_log.install(app, SERVICE_NAME)
task_identity = TaskIdentity.from_environ(os.environ)


def _requested_delay() -> float:
    if not ALLOW_DELAY:
        return 0.0
    try:
        delay = float(request.args.get("delay", "0"))
    except ValueError:
        return 0.0
    return min(max(delay, 0.0), MAX_DELAY_S)


@app.get("/")
def index():
    delay = _requested_delay()
    if delay:
        # Logged when the wait starts, so a test knows the request is in flight.
        request_log.log_event("delay_started", service=SERVICE_NAME, request_id=g.request_id, delay_s=delay)
        time.sleep(delay)
    return jsonify(
        service=SERVICE_NAME,
        message=MESSAGE,
        identity=task_identity.describe(request.environ),
        request_id=g.request_id,
    )


@app.get("/health")
def health():
    # Cheap and self-contained: the load balancer / ECS health check must not depend on anything else.
    return jsonify(status="ok", service=SERVICE_NAME)
