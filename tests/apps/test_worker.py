"""flask-worker under real gunicorn: identity, test-only delay, graceful stop."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.apps.harness import CLIENT_TIMEOUT, SPARE_HOSTS, WORKER_HOSTS, free_port, http_get
from tests.fakes import LoopbackHttpServer, Request, Response

TASK_METADATA = {
    "Cluster": "arn:aws:ecs:eu-west-1:111122223333:cluster/demo",
    "TaskARN": "arn:aws:ecs:eu-west-1:111122223333:task/demo/0123456789abcdef",
    "AvailabilityZone": "eu-west-1b",
    "LaunchType": "FARGATE",
    "Containers": [
        {"Name": "worker", "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}]},
    ],
}


# ECS_CONTAINER_METADATA_URI_V4 is the container's base URI; the worker reads <base>/task.
CONTAINER_PATH = "/v4/test-container"
TASK_PATH = f"{CONTAINER_PATH}/task"


def task_metadata_endpoint(task: dict[str, Any]) -> LoopbackHttpServer:
    """The ECS task metadata endpoint v4 (only the task document), as a real HTTP server on loopback."""

    def respond(request: Request) -> Response:
        if request.method == "GET" and request.target == TASK_PATH:
            return Response(200, json.dumps(task).encode(), "application/json")
        return Response(404, b"{}", "application/json")

    return LoopbackHttpServer(respond)


@pytest.fixture
def task_metadata() -> Iterator[LoopbackHttpServer]:
    with task_metadata_endpoint(TASK_METADATA) as endpoint:
        yield endpoint


def metadata_uri(endpoint: LoopbackHttpServer) -> str:
    return endpoint.url + CONTAINER_PATH


def task_requests(endpoint: LoopbackHttpServer) -> int:
    return endpoint.paths.count(TASK_PATH)


def test_local_identity_is_the_address_the_worker_was_reached_on(workers, worker_port):
    assert [worker.host for worker in workers] == list(WORKER_HOSTS)
    for worker in workers:
        body = worker.get("/").json()
        assert body["service"] == "worker"
        assert body["message"] == "Hello from worker"
        identity = body["identity"]
        assert identity["source"] == "local"
        assert (identity["address"], identity["port"]) == (worker.host, worker_port)
        assert identity["hostname"]
        assert identity["task_arn"] is None


def test_identity_from_ecs_task_metadata_is_fetched_once(launcher, worker_port, task_metadata):
    worker = launcher.worker(SPARE_HOSTS[6], worker_port, ECS_CONTAINER_METADATA_URI_V4=metadata_uri(task_metadata))

    bodies = [worker.get("/").json() for _ in range(5)]

    identity = bodies[0]["identity"]
    assert identity["source"] == "ecs-task-metadata"
    assert identity["task_arn"] == TASK_METADATA["TaskARN"]
    assert identity["availability_zone"] == "eu-west-1b"
    assert identity["address"] == "10.0.2.106"
    assert all(body["identity"] == identity for body in bodies)
    assert task_requests(task_metadata) == 1  # cached: a task's identity never changes


def test_unreachable_task_metadata_falls_back_to_local_identity(launcher, worker_port):
    nowhere = f"http://127.0.0.1:{free_port(['127.0.0.1'])}/v4/none"
    worker = launcher.worker(SPARE_HOSTS[7], worker_port, ECS_CONTAINER_METADATA_URI_V4=nowhere)

    response = worker.get("/")

    assert response.status_code == 200
    identity = response.json()["identity"]
    assert (identity["source"], identity["address"]) == ("local", SPARE_HOSTS[7])
    assert "task metadata unavailable" in identity["metadata_error"]


def test_service_name_and_message_come_from_the_environment(launcher, worker_port):
    worker = launcher.worker(SPARE_HOSTS[8], worker_port, SERVICE_NAME="timeline")
    body = worker.get("/").json()
    assert (body["service"], body["message"]) == ("timeline", "Hello from timeline")
    assert worker.get("/health").json() == {"status": "ok", "service": "timeline"}

    other = launcher.worker(SPARE_HOSTS[9], worker_port, SERVICE_NAME="feed", MESSAGE="fresh posts")
    assert other.get("/").json()["message"] == "fresh posts"


def test_request_id_is_echoed(workers):
    response = workers[0].get("/", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"
    assert any(line.get("request_id") == "abc-123" and line["status"] == 200 for line in workers[0].log_lines())


def test_delay_is_ignored_unless_enabled(workers):
    # Without WORKER_ALLOW_DELAY=1 a client cannot make the worker hold a thread.
    response = workers[0].get("/?delay=30", headers={"X-Request-Id": "no-delay"}, timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200
    assert not [line for line in workers[0].log_lines() if line["event"] == "delay_started"]


def test_sigterm_lets_in_flight_requests_finish(launcher, worker_port):
    host = SPARE_HOSTS[10]
    worker = launcher.worker(host, worker_port, WORKER_ALLOW_DELAY="1", GUNICORN_GRACEFUL_TIMEOUT="20")
    results: dict[str, requests.Response | Exception] = {}
    request_ids = {f"slow-{index}" for index in range(3)}

    def slow_request(request_id: str) -> None:
        try:
            results[request_id] = worker.get("/?delay=2", headers={"X-Request-Id": request_id})
        except requests.RequestException as error:
            results[request_id] = error

    clients = [threading.Thread(target=slow_request, args=(request_id,)) for request_id in request_ids]
    for client in clients:
        client.start()
    worker.wait_for_log_event("delay_started", request_ids)  # all three are being handled

    worker.process.terminate()  # SIGTERM to the master, as ECS StopTask sends
    for client in clients:
        client.join(timeout=CLIENT_TIMEOUT + 1)

    for request_id in request_ids:
        response = results[request_id]
        assert isinstance(response, requests.Response), f"{request_id}: {response!r}"
        assert response.status_code == 200
        assert response.json()["request_id"] == request_id
    assert worker.process.wait(timeout=CLIENT_TIMEOUT) == 0  # then gunicorn exits cleanly
    with pytest.raises(requests.ConnectionError):
        http_get(worker.url + "/health", timeout=2)


def test_health_is_cheap_and_self_contained(launcher, worker_port, task_metadata):
    worker = launcher.worker(SPARE_HOSTS[11], worker_port, ECS_CONTAINER_METADATA_URI_V4=metadata_uri(task_metadata))
    for _ in range(3):
        assert worker.get("/health").json() == {"status": "ok", "service": "worker"}
    assert task_requests(task_metadata) == 0  # /health calls nothing else
    worker.get("/")
    assert task_requests(task_metadata) == 1
