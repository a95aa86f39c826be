"""Blue/green and linear deployments in the local run (issue 24), end to end: the seed's worker deploys
through Service Connect (tests/local/blue_green_assembly.py), real gunicorn tasks, the backend calling
``worker.corp`` through the local Service Connect proxy (its hosts file), the control channel.

Each test waits for the worker to be idle first, so they run in any order. Timing knobs: a template
minute lasts 1 s (``--minute-seconds``), green gets test traffic alone for 20 s. No assertion is about
time: test traffic is checked only while the run's status says the shift has not happened yet.
"""

from __future__ import annotations

import http.client
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from ecs_discovery_tools.local.control import ControlError
from tests.local.blue_green_assembly import blue_green_assembly
from tests.local.conftest import Demo, http_get, running_demo, wait_for

HEADER = "x-amzn-ecs-blue-green-test"
TEST_TRAFFIC_S = 20
KNOBS = ("--tasks", "backend=1", "--workers", "2", "--minute-seconds", "1")


@pytest.fixture(scope="module")
def blue_green(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    assembly = blue_green_assembly(
        assembly_dir,
        tmp_path_factory.mktemp("bg") / "cdk.out",
        {"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 2},
    )
    with running_demo(
        assembly, tmp_path_factory.mktemp("bg-run"), *KNOBS, "--test-traffic-seconds", str(TEST_TRAFFIC_S)
    ) as running:
        yield running


def _worker(demo: Demo) -> dict[str, Any]:
    return demo.status()["schedulers"]["worker"]


def _idle(demo: Demo) -> None:
    def idle() -> bool:
        worker = _worker(demo)
        shift = worker["deployment"]
        return worker["steady"] and (shift is None or shift["phase"] in ("COMPLETED", "ROLLED_BACK"))

    wait_for(idle, 90, "the worker did not become steady")


def _message(demo: Demo, **headers: str) -> str:
    """The worker's MESSAGE, through the backend (which passes the test header on) and the proxy."""
    answer = http_get(demo.state["services"]["backend"][0]["url"] + "/", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["worker"]["response"]["message"]


def _deploy(demo: Demo, message: str) -> tuple[int, str]:
    since = demo.last_seq()
    revision = demo.control().request("POST", "/deploy", {"service": "worker", "environment": {"MESSAGE": message}})
    return since, revision["revision"]


def _wait_event(demo: Demo, since: int, event: str, timeout: float = 90) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        return next((e for e in demo.events(since, "worker") if e["event"] == event), None)

    return wait_for(found, timeout, f"no {event} event")


def _green_tasks(demo: Demo, revision: str) -> list[dict[str, Any]]:
    return [task for task in demo.running_tasks("worker") if task["revision"] == revision]


def test_green_starts_beside_blue_takes_test_traffic_then_all_traffic_and_blue_stops_with_its_drain(blue_green):
    demo = blue_green
    _idle(demo)
    blue_message = _message(demo)
    blue_ids = {task["task_id"] for task in demo.running_tasks("worker")}

    since, green = _deploy(demo, "green-1")
    _wait_event(demo, since, "test_traffic_shifted")

    # Green runs at the full desired count beside blue, every task healthy and registered.
    tasks = demo.running_tasks("worker")
    assert len(_green_tasks(demo, green)) == 2 and len(tasks) == 4
    assert all(task["health"] == "HEALTHY" and task["registered"] for task in tasks)
    with_header, without = [], []
    for _ in range(10):
        before = _worker(demo)["deployment"]
        with_header.append(_message(demo, **{HEADER: "1"}))
        without.append(_message(demo))
        after = _worker(demo)["deployment"]
        if not (before["phase"] == after["phase"] == "TEST_TRAFFIC"):
            pytest.fail(
                f"the test traffic window ({TEST_TRAFFIC_S} s) ended before the checks; rerun on a lighter load"
            )
    assert set(with_header) == {"green-1"}
    assert set(without) == {blue_message}

    done = _wait_event(demo, since, "deployment_completed")
    events = demo.events(since, "worker")
    kinds = [event["event"] for event in events if event["seq"] <= done["seq"]]
    shifted = [event for event in events if event["event"] == "traffic_shifted"]
    assert [event["green_percent"] for event in shifted] == [100.0]
    assert kinds.index("test_traffic_shifted") < kinds.index("traffic_shifted") < kinds.index("deployment_baking")
    assert kinds.index("deployment_baking") < kinds.index("deployment_baked")
    baked = next(event["seq"] for event in events if event["event"] == "deployment_baked")
    # Each blue task: stopped only after the bake time, deregistered, drained, then SIGTERM.
    for task_id in blue_ids:
        steps = [e["event"] for e in events if e.get("task_id") == task_id]
        assert steps == ["task_stopping", "task_deregistered", "task_draining", "task_sigterm", "task_stopped"]
        assert min(e["seq"] for e in events if e.get("task_id") == task_id) > baked
    assert {_message(demo) for _ in range(5)} == {"green-1"}
    assert {_message(demo, **{HEADER: "1"}) for _ in range(3)} == {"green-1"}


def test_rollback_moves_all_traffic_back_to_blue_and_stops_green(blue_green):
    demo = blue_green
    _idle(demo)
    blue_message = _message(demo)
    since, green = _deploy(demo, "bad-green")
    _wait_event(demo, since, "test_traffic_shifted")
    assert _message(demo, **{HEADER: "1"}) == "bad-green"

    answer = demo.control().request("POST", "/rollback", {"service": "worker"})

    assert answer["service"] == "worker" and answer["rolled_back_to"] != green
    rolled = _wait_event(demo, since, "deployment_rolled_back")
    assert rolled["reason"] == "rollback requested (local run control)"
    assert {_message(demo, **{HEADER: "1"}) for _ in range(4)} == {blue_message}
    wait_for(lambda: not _green_tasks(demo, green), 60, "green's tasks did not stop")
    assert _worker(demo)["primary_revision"] == answer["rolled_back_to"]


def test_a_green_task_failing_its_health_checks_rolls_the_deployment_back(blue_green):
    demo = blue_green
    _idle(demo)
    blue_message = _message(demo)
    since, green = _deploy(demo, "hung-green")
    _wait_event(demo, since, "test_traffic_shifted")
    victim = _green_tasks(demo, green)[0]

    os.killpg(victim["pid"], signal.SIGSTOP)  # hung: its health check times out
    try:
        rolled = _wait_event(demo, since, "deployment_rolled_back", timeout=60)
    finally:
        os.killpg(victim["pid"], signal.SIGCONT)

    assert "failed its health checks" in rolled["reason"] and victim["task_id"] in rolled["reason"]
    assert {_message(demo, **{HEADER: "1"}) for _ in range(4)} == {blue_message}
    wait_for(lambda: not _green_tasks(demo, green), 60, "green's tasks did not stop")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"service": "nosuch"}, 409, "no service 'nosuch'"),
        ({"service": "backend"}, 409, "strategy ROLLING"),
        ({"service": "worker"}, 409, "no deployment in progress"),
        ({"service": "worker\n"}, 400, "not a service name"),
        ({"service": "$(reboot)"}, 400, "not a service name"),
        ({"service": 5}, 400, "not a service name"),
        ({"service": "worker", "force": True}, 400, "unknown field"),
        ({}, 400, "not a service name"),
    ],
)
def test_rollback_refuses_what_it_cannot_do(blue_green, body, status, message):
    _idle(blue_green)
    with pytest.raises(ControlError) as refused:
        blue_green.control().request("POST", "/rollback", body)

    assert refused.value.status == status and message in str(refused.value)


def test_rollback_without_the_token_or_with_a_bad_body_is_refused(blue_green):
    control = blue_green.control()
    url_host, port = control.host, control.port

    def post(body: bytes, headers: dict[str, str]) -> int:
        connection = http.client.HTTPConnection(url_host, port, timeout=10)
        try:
            connection.request("POST", "/rollback", body=body, headers=headers)
            return connection.getresponse().status
        finally:
            connection.close()

    token = {"Authorization": f"Bearer {control.token}"}
    assert post(b'{"service": "worker"}', {}) == 401
    assert post(b'{"service": "worker"}', {"Authorization": "Bearer wrong"}) == 401
    assert post(b'{"service": "worker"', token) == 400
    assert post(b'{"service": "worker", "service": "backend"}', token) == 400
    assert post(b'["worker"]', token) == 400
    assert post(b'{"service": NaN}', token) == 400
    assert post(b"\xff\xfe", token) == 400


def test_the_cli_rolls_back_and_names_what_it_refuses(blue_green, capsys):
    from ecs_discovery_tools.local.control import main

    code = main(["local", "--control-file", str(blue_green.control_file), "rollback", "backend"])

    assert code == 1 and "strategy ROLLING" in capsys.readouterr().err
    assert main(["local", "--control-file", str(blue_green.control_file), "rollback", "bad name"]) == 2


def test_linear_shifts_production_traffic_in_steps_visible_in_status_and_events(assembly_dir, tmp_path):
    assembly = blue_green_assembly(
        assembly_dir,
        tmp_path / "cdk.out",
        {
            "Strategy": "LINEAR",
            "BakeTimeInMinutes": 1,
            "LinearConfiguration": {"StepPercent": 25, "StepBakeTimeInMinutes": 3},
        },
    )
    with running_demo(assembly, tmp_path / "run", *KNOBS) as demo:
        since, green = _deploy(demo, "linear-green")
        seen: set[float] = set()

        def step() -> bool:
            shift = _worker(demo)["deployment"]
            if shift["phase"] == "PRODUCTION_SHIFT":
                seen.add(shift["green_percent"])
                assert shift["blue_percent"] == 100 - shift["green_percent"]
            return shift["phase"] == "COMPLETED"

        wait_for(step, 120, "the linear deployment did not complete", interval=0.3)
        _wait_event(demo, since, "deployment_completed")
        events = demo.events(since, "worker")

    shifted = [event for event in events if event["event"] == "traffic_shifted"]
    assert [event["green_percent"] for event in shifted] == [25.0, 50.0, 75.0, 100.0]
    assert "shifting 25% of production traffic to the new revision (75% stays on" in shifted[0]["message"]
    assert {25.0, 50.0, 75.0} <= seen  # each step held for 3 s, sampled every 0.3 s
    assert all(event["revision"] == green for event in shifted)
