"""A stopping task answers or refuses fast (issue 16, server side; issue 13's drain).

Real gunicorn on loopback. On SIGTERM an app keeps serving for STOP_DRAIN_SECONDS with
``Connection: close``, then closes its listening sockets at once (connects are refused, never
left hanging in a backlog nobody reads), finishes in-flight requests and exits.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections import Counter

import pytest
import requests

from tests.apps.harness import BACKEND_TEST_ENV, CLIENT_TIMEOUT, NAMESPACE, SPARE_HOSTS, http_get

DRAIN_STARTED = "SIGTERM: serving with Connection: close"
DRAIN_OVER = "drain over: listening sockets closed"


def start_in_flight(worker, request_id: str, delay: float) -> tuple[threading.Thread, dict[str, object]]:
    """A slow request to ``worker`` that is being handled when this returns."""
    result: dict[str, object] = {}

    def call() -> None:
        try:
            result["response"] = worker.get(f"/?delay={delay}", headers={"X-Request-Id": request_id})
        except requests.RequestException as error:
            result["response"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    worker.wait_for_log_event("delay_started", {request_id})
    return thread, result


@pytest.mark.parametrize(
    ("drain", "processes"), [("2", "1"), ("2", "2"), ("0", "1")], ids=["drain-2s", "drain-2s-2-processes", "no-drain"]
)
def test_sigterm_serves_with_connection_close_then_refuses_while_in_flight_requests_finish(
    launcher, worker_port, drain, processes
):
    host = SPARE_HOSTS[13]
    worker = launcher.worker(
        host, worker_port, WORKER_ALLOW_DELAY="1", STOP_DRAIN_SECONDS=drain, GUNICORN_WORKERS=processes
    )
    # A caller's pooled keep-alive connection, open before the stop.
    kept_alive = http.client.HTTPConnection(host, worker_port, timeout=CLIENT_TIMEOUT)
    kept_alive.request("GET", "/health")
    before = kept_alive.getresponse()
    before.read()
    assert (before.status, before.getheader("Connection")) == (200, "keep-alive")
    pooled_socket = kept_alive.sock
    # In flight well past the drain: under gunicorn's plain gthread stop the listening socket
    # stayed open (not accepting) until this finished, so new connects hung.
    in_flight, result = start_in_flight(worker, "in-flight", delay=8)

    worker.process.terminate()  # SIGTERM to the master, as ECS StopTask sends it
    worker.wait_for_log_text(DRAIN_STARTED, count=int(processes))  # every worker process drains

    if drain != "0":
        # Late requests are served, and told to close their connection.
        kept_alive.request("GET", "/health")
        assert kept_alive.sock is pooled_socket  # sent on the same connection, not a new one
        during = kept_alive.getresponse()
        during.read()
        assert (during.status, during.getheader("Connection")) == (200, "close")
        fresh = http_get(worker.url + "/health")
        assert (fresh.status_code, fresh.headers["Connection"]) == (200, "close")

    worker.wait_for_log_text(DRAIN_OVER, count=int(processes))
    # The port now refuses: the connect itself fails, nothing waits for an answer.
    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, worker_port), timeout=CLIENT_TIMEOUT)
    assert in_flight.is_alive(), "the in-flight request must still be running when new connects are refused"

    in_flight.join(timeout=CLIENT_TIMEOUT + 5)
    response = result["response"]
    assert isinstance(response, requests.Response), response
    assert (response.status_code, response.json()["request_id"]) == (200, "in-flight")
    assert worker.process.wait(timeout=CLIENT_TIMEOUT) == 0
    kept_alive.close()


def test_no_call_through_the_backend_waits_on_a_stopping_worker(launcher, dns_server, worker_port):
    victim_host, other_host = SPARE_HOSTS[13], SPARE_HOSTS[14]
    victim = launcher.worker(victim_host, worker_port, WORKER_ALLOW_DELAY="1", STOP_DRAIN_SECONDS="1")
    launcher.worker(other_host, worker_port)
    # The worst case for a caller: the stopped task stays in its DNS answer throughout (a long TTL,
    # or an answer cached just before the deregistration).
    dns_server.set_records(f"stopping.{NAMESPACE}", a=[victim_host, other_host], ttl=300)
    backend = launcher.backend(
        dns_server.port, NAMESPACE=NAMESPACE, WORKER_SERVICE="stopping", WORKER_PORT=str(worker_port)
    )
    answered_by = {backend.get("/").json()["worker"]["address"] for _ in range(20)}
    assert answered_by == {victim_host, other_host}  # both in rotation, pooled connections to both
    in_flight, _ = start_in_flight(victim, "keeps-the-victim-up", delay=8)

    calls: list[tuple[float, int, list[dict]]] = []
    calls_lock = threading.Lock()
    stop_calling = time.monotonic() + 4.0  # drain (1 s) and 3 s of refusals, the victim still up

    def caller(_: int) -> None:
        for _ in range(500):  # bounded in count as well as in time
            if time.monotonic() > stop_calling:
                return
            started = time.monotonic()
            response = backend.get("/")
            elapsed = time.monotonic() - started
            failed = response.json()["worker"]["failed_attempts"] if response.status_code == 200 else []
            with calls_lock:
                calls.append((elapsed, response.status_code, failed))

    victim.process.terminate()
    threads = [threading.Thread(target=caller, args=(index,), daemon=True) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert in_flight.is_alive()  # the whole run fell in the window where the old stop hung connects

    assert calls and all(status == 200 for _, status, _ in calls)
    failures = [failure for _, _, failed in calls for failure in failed]
    # Calls that met the stopped worker were refused at connect and went on at once.
    seen = Counter((failure["address"], failure["error"]) for failure in failures)
    assert seen[(victim_host, "connection refused")] >= 1, seen
    assert not [failure for failure in failures if "timeout" in failure["error"]], failures
    # No call waited longer than one refused connect plus one normal call (bounded by the read timeout).
    bound = float(BACKEND_TEST_ENV["UPSTREAM_CONNECT_TIMEOUT"]) + float(BACKEND_TEST_ENV["UPSTREAM_READ_TIMEOUT"])
    assert max(elapsed for elapsed, _, _ in calls) < bound
