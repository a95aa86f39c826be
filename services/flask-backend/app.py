"""flask-backend: calls the worker service it finds through Cloud Map DNS."""

from __future__ import annotations

import os
from typing import Any

import request_log
from discovery_page import discovery_page, read_answer
from flask import Flask, g, jsonify, request
from flask.json.provider import DefaultJSONProvider

from ecs_discovery_client import CallResult, DiscoveryClient, DiscoveryError, is_test_traffic_value

SERVICE_NAME = os.environ.get("SERVICE_NAME", "").strip() or "backend"


class _StrictJSONProvider(DefaultJSONProvider):
    # Keys come out in the order the views write them, not sorted.
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # Strict JSON out: NaN and Infinity are not JSON, and a client may refuse the whole answer.
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


app = Flask(__name__)
app.json = _StrictJSONProvider(app)
request_log.install(app, SERVICE_NAME)
# GET /services and /api/services: every service of the namespace, from Cloud Map and DNS.
app.register_blueprint(discovery_page)

# Built once per gunicorn worker process: the DNS cache and connection pools live here. WORKER_HOST
# (or WORKER_SERVICE + NAMESPACE), WORKER_PORT, DNS_* and UPSTREAM_* configure it; a value that is
# malformed or cannot meet UPSTREAM_DEADLINE stops the worker at start-up with a message naming it.
worker = DiscoveryClient.from_environ("WORKER", os.environ)


def _describe_answer(result: CallResult) -> dict:
    # The worker's answer is untrusted: parsed within bounds (size, nesting, finite numbers), else
    # shown as a text preview; the same reader as the discovery page's rows, so it never raises.
    response, _ = read_answer(result.body, result.content_type)
    return {
        "dns_name": result.dns_name,
        "address": result.address,
        "port": result.port,
        "status": result.status,
        "attempts": result.attempts,
        "failed_attempts": [failure.as_dict() for failure in result.failures],
        "response": response,
    }


@app.get("/")
def index():
    # Blue/green test traffic: a request that carries the test header (TEST_TRAFFIC_HEADER, ECS's
    # x-amzn-ecs-blue-green-test) passes it on, value and all, so a smoke test through the backend
    # reaches the green worker too (and the green backend, when the backend is the one deploying).
    test_header = worker.settings.test_traffic_header
    test_value = request.headers.get(test_header)
    if test_value is not None:
        if not is_test_traffic_value(test_value):
            detail = f"{test_header}: expected 1-256 visible ASCII characters (spaces only inside)"
            return jsonify(error="bad_request", detail=detail, request_id=g.request_id), 400
        g.log_fields.update(test_traffic=True)
    headers = {request_log.REQUEST_ID_HEADER: g.request_id}
    result = worker.call("/", headers=headers, test_traffic=False if test_value is None else test_value)
    g.log_fields.update(upstream=f"{result.address}:{result.port}", upstream_attempts=result.attempts)
    answer = _describe_answer(result)
    if 200 <= result.status < 300:
        return jsonify(service=SERVICE_NAME, request_id=g.request_id, worker=answer)
    g.log_fields.update(upstream_status=result.status)
    detail = f"{result.dns_name} at {result.address}:{result.port} answered {result.status}"
    return jsonify(error="bad_gateway", detail=detail, request_id=g.request_id, worker=answer), 502


@app.get("/health")
def health():
    # Never calls the worker: a worker outage must not get this task replaced too.
    return jsonify(status="ok", service=SERVICE_NAME)


@app.errorhandler(DiscoveryError)
def worker_unavailable(error: DiscoveryError):
    g.log_fields.update(upstream_failure=error.failure, upstream_attempts=len(error.failures))
    body = {
        "error": "worker_unavailable",
        "dns_name": error.dns_name,
        "failure": error.failure,
        "detail": error.detail,
        "failed_attempts": [failure.as_dict() for failure in error.failures],
        "request_id": g.request_id,
    }
    return jsonify(body), 503
