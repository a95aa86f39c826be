"""Request ids, one JSON log line per request, and JSON error responses for a Flask app.

Shared by every service app (services/common/, copied into each image beside the app).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

REQUEST_ID_HEADER = "X-Request-Id"
# Anything else from a client is replaced: ids end up in logs and response headers.
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_logger = logging.getLogger("service.json")


def _configure_logger() -> None:
    if _logger.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)  # CloudWatch (awslogs) reads the container's stdout
    handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def log_event(event: str, level: int = logging.INFO, **fields: object) -> None:
    """Write one JSON object on one line to stdout."""
    line: dict[str, object] = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
    line.update(fields)
    _logger.log(level, json.dumps(line, default=str, separators=(",", ":")))


def install(app: Flask, service_name: str) -> None:
    """Request id in and out, a log line per request, JSON (never a stack trace) for every error.

    A view adds its own fields to the request's log line through ``g.log_fields``.
    """
    _configure_logger()

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = getattr(g, "request_id", None) or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = getattr(g, "started", None)
        log_event(
            "request",
            service=service_name,
            method=request.method,
            path=request.path,
            status=response.status_code,
            duration_ms=None if started is None else round((time.perf_counter() - started) * 1000, 2),
            request_id=request_id,
            remote_addr=request.remote_addr,
            **getattr(g, "log_fields", {}),
        )
        return response

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        name = (error.name or "error").lower().replace(" ", "_")
        response = jsonify(error=name, status=error.code, request_id=getattr(g, "request_id", None))
        # Werkzeug types the code as optional; Flask passes codeless (proxy) exceptions through
        # without calling a handler, so this is always set here.
        if error.code is not None:
            response.status_code = error.code
        return response

    @app.errorhandler(Exception)
    def _unexpected_error(error: Exception) -> tuple[Response, int]:
        # The trace goes to the log only; the client gets an id to find it with.
        log_event(
            "unhandled_exception",
            logging.ERROR,
            service=service_name,
            request_id=getattr(g, "request_id", None),
            error=repr(error),
            traceback="".join(traceback.format_exception(error)),
        )
        return jsonify(error="internal_error", status=500, request_id=getattr(g, "request_id", None)), 500
