"""Tasks come and go as ECS makes them: each operation on a running local run, checked at every
step in the registry (boto3 against the moto stand-in), in DNS (dnspython against the loopback
DNS server) and in the event log (the control endpoint and events.jsonl).

One demo for the module (backend x1, worker x3, conftest.FAST timings); every test leaves it
steady with three healthy workers of the current revision.
"""

from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.local.conftest import (
    DNS_TTL_S,
    DRAIN_S,
    Demo,
    http_get,
    process_group_exists,
    running_demo,
    wait_for,
)

WORKERS = 3
STEP_TIMEOUT_S = 45.0


@pytest.fixture(scope="module")
def demo(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    with running_demo(
        assembly_dir, tmp_path_factory.mktemp("lifecycle"), "--workers", str(WORKERS), "--tasks", "backend=1"
    ) as running:
        yield running


def steady_workers(demo: Demo, count: int = WORKERS) -> list[dict[str, Any]]:
    """Wait until ``count`` workers are healthy, registered and the only ones in DNS; return them."""

    def steady() -> list[dict[str, Any]] | None:
        status = demo.status()
        scheduler = status["schedulers"]["worker"]
        tasks = status["services"]["worker"]
        if not scheduler["steady"] or len(tasks) != count:
            return None
        addresses = sorted(task["address"] for task in tasks)
        if sorted(demo.healthy_registered("worker").values()) != addresses or demo.dns_a("worker.corp") != addresses:
            return None
        return tasks

    return wait_for(steady, STEP_TIMEOUT_S, f"worker did not settle at {count} healthy tasks")


def events_of(demo: Demo, task_id: str, since: int = 0) -> list[str]:
    return [event["event"] for event in demo.events(since) if event.get("task_id") == task_id]


def event(demo: Demo, kind: str, task_id: str, since: int = 0) -> dict[str, Any]:
    (found,) = [item for item in demo.events(since) if item["event"] == kind and item.get("task_id") == task_id]
    return found


def seconds_between(first: dict[str, Any], second: dict[str, Any]) -> float:
    def parse(item: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(item["time"].replace("Z", "+00:00"))

    return (parse(second) - parse(first)).total_seconds()


def assert_stop_order(demo: Demo, task_id: str, since: int) -> None:
    """ECS's stop, as the local run runs it: deregistered, then TTL + drain, then SIGTERM, then stopped."""
    kinds = events_of(demo, task_id, since)
    expected = ["task_stopping", "task_deregistered", "task_draining", "task_sigterm", "task_stopped"]
    assert [kind for kind in kinds if kind in expected] == expected, kinds
    deregistered = event(demo, "task_deregistered", task_id, since)
    waited = seconds_between(deregistered, event(demo, "task_sigterm", task_id, since))
    assert waited >= DNS_TTL_S + DRAIN_S - 0.05


# -- the steady state -------------------------------------------------------------------------


def test_tasks_join_cloud_map_and_dns_only_after_their_health_check_passes(demo):
    tasks = steady_workers(demo)

    for task in tasks:
        kinds = events_of(demo, task["task_id"])
        assert kinds[:3] == ["task_started", "task_healthy", "task_registered"], kinds
        assert task["health"] == "HEALTHY" and task["registered"]
    # What ECS writes for a task, with the task ID as the instance ID.
    assert set(demo.registered("worker")) == {task["task_id"] for task in tasks}


def test_the_event_log_is_the_same_over_the_control_channel_and_in_its_file(demo):
    served = demo.events()
    with open(demo.state["events_file"], encoding="utf-8") as lines:
        logged = [json.loads(line) for line in lines]

    assert logged[: len(served)] == served
    assert [item["seq"] for item in served] == sorted(item["seq"] for item in served)
    assert {"task_started", "task_healthy", "task_registered", "steady_state"} <= {item["event"] for item in served}


# -- kill -9: the task exits, ECS deregisters it and starts a replacement ------------------------


def test_a_task_killed_with_sigkill_leaves_the_registry_and_dns_and_is_replaced(demo):
    before = steady_workers(demo)
    victim = before[0]
    since = demo.last_seq()

    os.killpg(victim["pid"], signal.SIGKILL)

    wait_for(lambda: victim["task_id"] not in demo.registered("worker"), 10, "the dead task stayed registered")
    stopped = wait_for(
        lambda: [e for e in demo.events(since) if e["event"] == "task_stopped" and e["task_id"] == victim["task_id"]],
        10,
        "no task_stopped event for the killed task",
    )[0]
    assert stopped["reason"].startswith("Essential container in task exited") and stopped["exit_code"] == -9
    # An exited task has nothing to drain: no SIGTERM, no wait.
    assert "task_sigterm" not in events_of(demo, victim["task_id"], since)
    after = steady_workers(demo)
    assert victim["address"] not in demo.dns_a("worker.corp") or victim["address"] in {t["address"] for t in after}
    assert victim["task_id"] not in {task["task_id"] for task in after}
    (replacement,) = [task for task in after if task["task_id"] not in {t["task_id"] for t in before}]
    assert events_of(demo, replacement["task_id"], since)[:3] == ["task_started", "task_healthy", "task_registered"]


# -- a health check that fails: unhealthy, out of DNS, stopped, replaced -------------------------


def test_a_task_failing_its_health_check_leaves_dns_and_is_replaced(demo):
    before = steady_workers(demo)
    hung = before[1]
    since = demo.last_seq()

    # A hung task: the process lives but answers nothing, so the check times out (--health-timeout 3).
    os.killpg(hung["pid"], signal.SIGSTOP)
    try:
        wait_for(
            lambda: "task_unhealthy" in events_of(demo, hung["task_id"], since), 30, "the hung task stayed healthy"
        )
        wait_for(lambda: hung["address"] not in demo.dns_a("worker.corp"), 10, "DNS still answers the hung task")
        stopped = wait_for(
            lambda: [e for e in demo.events(since) if e["event"] == "task_stopped" and e["task_id"] == hung["task_id"]],
            STEP_TIMEOUT_S,
            "the hung task was not stopped",
        )[0]
    finally:
        if process_group_exists(hung["pid"]):
            os.killpg(hung["pid"], signal.SIGCONT)

    assert stopped["reason"] == "Task failed container health checks"
    # SIGTERM cannot reach a stopped process: SIGKILL after the stop timeout (--stop-timeout 3).
    assert stopped["killed"] is True
    assert_stop_order(demo, hung["task_id"], since)
    assert hung["task_id"] not in demo.registered("worker")
    after = steady_workers(demo)
    assert hung["task_id"] not in {task["task_id"] for task in after}


# -- rolling deployment --------------------------------------------------------------------


def registered_over_time(events: list[dict[str, Any]], initial: set[str]) -> list[int]:
    """How many worker tasks were registered after each event, replaying the event log."""
    registered, counts = set(initial), []
    for item in events:
        if item["service"] != "worker":
            continue
        if item["event"] == "task_registered":
            registered.add(item["task_id"])
        elif item["event"] == "task_deregistered":
            registered.discard(item["task_id"])
        counts.append(len(registered))
    return counts


def test_a_rolling_deployment_keeps_minimum_healthy_and_drains_before_sigterm(demo):
    before = steady_workers(demo)
    old_ids = {task["task_id"] for task in before}
    since = demo.last_seq()

    answer = demo.control().request("POST", "/deploy", {"service": "worker", "environment": {"MESSAGE": "v2"}})

    assert answer["revision"].endswith(":2")
    after = wait_for(
        lambda: (tasks := steady_workers(demo)) and all(t["revision"] == answer["revision"] for t in tasks) and tasks,
        STEP_TIMEOUT_S * 2,
        "the deployment did not complete",
    )
    events = demo.events(since)
    kinds = [item["event"] for item in events if item["service"] == "worker"]
    assert kinds[0] == "deployment_started" and "deployment_completed" in kinds
    # minimumHealthyPercent 100 / maximumPercent 200 with 3 tasks: never fewer than 3
    # registered, never more than 6 tasks started and not stopped.
    counts = registered_over_time(events, old_ids)
    assert min(counts) >= WORKERS and max(counts) <= 2 * WORKERS, counts
    for old in old_ids:
        assert_stop_order(demo, old, since)
        # Each old task left only once a new task had replaced it in the registry.
        deregistered = event(demo, "task_deregistered", old, since)["seq"]
        assert sum(1 for item in events if item["event"] == "task_registered" and item["seq"] < deregistered) >= 1
    assert set(demo.registered("worker")) == {task["task_id"] for task in after}
    assert not old_ids & set(demo.registered("worker"))
    # The new revision's environment is what the backend now reaches through DNS.
    reply = http_get(demo.state["services"]["backend"][0]["url"] + "/")
    assert reply.status_code == 200, reply.text
    assert reply.json()["worker"]["response"]["message"] == "v2"


def test_a_deployment_whose_tasks_never_start_backs_off_and_keeps_the_old_tasks(demo):
    before = steady_workers(demo)
    since = demo.last_seq()

    # gunicorn.conf.py refuses this value and exits 1: every new task dies before it is healthy.
    demo.control().request("POST", "/deploy", {"service": "worker", "environment": {"GUNICORN_TIMEOUT": "x"}})
    throttled = wait_for(
        lambda: [e for e in demo.events(since, "worker") if e["event"] == "service_throttled"],
        STEP_TIMEOUT_S,
        "no throttle after failed starts",
    )
    assert throttled[0]["delay_s"] <= 2  # --restart-backoff-max 2
    # The old revision's tasks keep serving: minimumHealthyPercent 100 never lets them go.
    assert set(demo.healthy_registered("worker")) == {task["task_id"] for task in before}
    assert not [e for e in demo.events(since) if e["event"] == "task_deregistered"]

    # A fixed revision returns the service to normal (ECS: a new task definition ends the throttle).
    demo.control().request("POST", "/deploy", {"service": "worker", "environment": {"GUNICORN_TIMEOUT": "30"}})
    after = wait_for(
        lambda: (tasks := steady_workers(demo)) and all(t["revision"].endswith(":4") for t in tasks) and tasks,
        STEP_TIMEOUT_S * 2,
        "the fixed deployment did not complete",
    )
    assert len(after) == WORKERS


# -- scaling ---------------------------------------------------------------------------------


def test_scale_up_then_down_registers_then_drains_and_stops(demo):
    steady_workers(demo)
    since = demo.last_seq()

    demo.control().request("POST", "/scale", {"counts": {"worker": 5}})
    five = steady_workers(demo, 5)
    assert len(demo.dns_a("worker.corp")) == 5

    scale_in = demo.last_seq()
    demo.control().request("POST", "/scale", {"counts": {"worker": WORKERS}})
    three = steady_workers(demo, WORKERS)

    removed = {task["task_id"] for task in five} - {task["task_id"] for task in three}
    assert len(removed) == 2
    for task_id in removed:
        assert_stop_order(demo, task_id, scale_in)
        assert event(demo, "task_stopped", task_id, scale_in)["reason"].startswith("Scaling activity")
    assert set(demo.registered("worker")) == {task["task_id"] for task in three}
    assert [e["desired_count"] for e in demo.events(since, "worker") if e["event"] == "service_scaled"] == [5, 3]


def test_stop_task_is_replaced_like_ecs_stoptask(demo):
    before = steady_workers(demo)
    since = demo.last_seq()

    demo.control().request("POST", "/stop-task", {"task_id": before[0]["task_id"]})

    after = steady_workers(demo)
    assert before[0]["task_id"] not in {task["task_id"] for task in after}
    assert_stop_order(demo, before[0]["task_id"], since)


# -- the control channel refuses what it must -------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/scale", {"counts": {"worker": 51}}, 400, "expected an integer 0-50"),
        ("/scale", {"counts": {"worker": True}}, 400, "expected an integer 0-50"),
        ("/scale", {"counts": {"nope": 1}}, 409, "no service 'nope'"),
        ("/scale", {"counts": {"worker\n": 1}}, 400, "is not valid"),
        ("/deploy", {"service": "worker", "environment": {"BAD NAME": "x"}}, 400, "environment name"),
        ("/deploy", {"service": "worker", "environment": {"A": 1}}, 400, "environment value of A"),
        ("/deploy", {"service": "worker", "environment": "A=1"}, 400, "is not an object"),
        ("/deploy", {"service": "worker", "reread": "yes"}, 400, "reread must be"),
        ("/stop-task", {"task_id": "../../etc"}, 400, "is not a task ID"),
        ("/stop-task", {"task_id": "0" * 32}, 404, "no running task"),
        ("/nope", {}, 404, "no such endpoint"),
    ],
)
def test_the_control_channel_refuses_bad_requests(demo, path, body, status, message):
    from ecs_discovery_tools.local.control import ControlError

    with pytest.raises(ControlError, match=message) as raised:
        demo.control().request("POST", path, body)
    assert raised.value.status == status


def test_the_control_channel_needs_the_token_and_bounds_bodies(demo):
    import http.client

    from ecs_discovery_tools.local.control import ControlClient

    client = ControlClient(demo.control_file)
    for headers, payload, expected in [
        ({}, b"{}", 401),
        ({"Authorization": "Bearer wrong"}, b"{}", 401),
        ({"Authorization": f"Bearer {client.token}", "Content-Length": "99999999"}, b"", 413),
        ({"Authorization": f"Bearer {client.token}"}, b"[" * 5000 + b"]" * 5000, 400),
    ]:
        connection = http.client.HTTPConnection(client.host, client.port, timeout=10)
        try:
            connection.putrequest("POST", "/scale")
            for name, value in headers.items():
                connection.putheader(name, value)
            if "Content-Length" not in headers:
                connection.putheader("Content-Length", str(len(payload)))
            connection.endheaders(payload)
            assert connection.getresponse().status == expected
        finally:
            connection.close()
    assert os.stat(demo.control_file).st_mode & 0o077 == 0
    # Idle connections beyond the bound are answered 503 and closed; once they go, requests are answered again.
    idle = [socket.create_connection((client.host, client.port), timeout=5) for _ in range(40)]
    try:
        wait_for(lambda: any(_turned_away(sock) for sock in idle), 10, "no connection over the bound was turned away")
    finally:
        for sock in idle:
            sock.close()
    wait_for(lambda: _answers(demo), 15, "the control channel stopped answering")
    steady_workers(demo)  # and the run goes on


def _turned_away(sock) -> bool:
    sock.settimeout(0.05)
    try:
        first = sock.recv(64)
    except TimeoutError:
        return False
    except OSError:
        return True
    return first == b"" or first.startswith(b"HTTP/1.1 503 ")


def _answers(demo: Demo) -> bool:
    from ecs_discovery_tools.local.control import ControlError

    try:
        return "services" in demo.status()
    except ControlError:
        return False
