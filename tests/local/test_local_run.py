"""The local run: the stack's services as real processes, registered in the Cloud Map API,
published in DNS, reached by the apps through both; Ctrl-C leaves nothing running.
(Tasks coming and going: test_lifecycle.py.)"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecs_discovery_tools.cli.main import main as cli_main
from ecs_discovery_tools.local.assembly import AssemblyError, read_stack, resolve_value, stack_names
from tests.local.conftest import (
    DNS_TTL_S,
    REPO_ROOT,
    Demo,
    http_get,
    leftover_groups,
    process_group_exists,
    start_demo,
    wait_for,
)


def run_cli(demo: Demo, monkeypatch, *argv: str) -> tuple[int, str, str]:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", demo.state["region"])
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICEDISCOVERY", demo.state["cloud_map_endpoint"])
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


# -- the running topology (session demo: backend x2, worker x3) ---------------------------


def test_every_task_runs_on_its_own_loopback_address(demo):
    backend, worker = demo.addresses("backend"), demo.addresses("worker")

    assert len(backend) == 2  # the stack's DesiredCount
    assert len(worker) == 3  # --workers 3
    assert len(set(backend + worker)) == 5
    assert all(address.startswith("127.0.0.") and address != "127.0.0.1" for address in backend + worker)
    assert {task["port"] for tasks in demo.state["services"].values() for task in tasks} == {8080}


def test_tasks_are_registered_in_cloud_map_as_ecs_registers_them(demo, monkeypatch):
    code, out, err = run_cli(demo, monkeypatch, "instances", "worker", "--namespace", "corp", "--healthy", "--json")

    assert code == 0, err
    instances = json.loads(out)["instances"]
    assert sorted(instance["ipv4"] for instance in instances) == demo.addresses("worker")
    assert {instance["port"] for instance in instances} == {8080}
    assert {instance["attributes"]["ECS_CLUSTER_NAME"] for instance in instances} == {"local"}


def test_dns_answers_a_and_srv_from_the_registry(demo, monkeypatch):
    code, out, err = run_cli(
        demo, monkeypatch, "resolve", "worker.corp", "--nameserver", demo.state["dns_server"], "--json"
    )

    assert code == 0, err
    answer = json.loads(out)
    assert answer["a"]["ttl"] == DNS_TTL_S and sorted(answer["a"]["addresses"]) == demo.addresses("worker")
    srv = answer["srv"]["records"]
    assert {record["port"] for record in srv} == {8080}
    assert sorted(address for record in srv for address in record["addresses"]) == demo.addresses("worker")
    task_ids = {task["task_id"] for task in demo.state["services"]["worker"]}
    assert {record["target"] for record in srv} == {f"{task_id}.worker.corp" for task_id in task_ids}


def test_backend_reaches_a_worker_through_dns(demo):
    answer = http_get(demo.state["services"]["backend"][0]["url"] + "/")

    assert answer.status_code == 200, answer.text
    assert answer.json()["worker"]["address"] in demo.addresses("worker")


def test_discovery_api_lists_the_worker_with_its_instances(demo):
    document = http_get(demo.api_url).json()

    assert document["namespace"] == demo.state["namespace"]
    worker = {service["name"]: service for service in document["services"]}["worker"]
    assert "backend" not in {service["name"] for service in document["services"]}  # not itself
    assert worker["dns_name"] == "worker.corp"
    assert worker["instances"] == {"healthy": 3, "total": 3, "error": None}
    assert worker["dns"]["hosts"] == 3 and worker["dns"]["address"] in demo.addresses("worker")
    assert worker["message"] == "Hello from worker" and worker["error"] is None


# -- a demo of its own: a task dies, then Ctrl-C ----------------------------------------


@pytest.fixture(scope="module")
def own_demo(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    # ECS's own stop order here: SIGTERM right after deregistration, no wait for the TTL.
    running = start_demo(
        assembly_dir, tmp_path_factory.mktemp("own-demo"), "--workers", "2", "--tasks", "backend=1", "--ecs-stop-order"
    )
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.kill()


def test_with_ecs_stop_order_sigterm_follows_deregistration_and_the_app_drains(own_demo):
    victim = own_demo.running_tasks("worker")[0]
    since = own_demo.last_seq()

    own_demo.control().request("POST", "/stop-task", {"task_id": victim["task_id"]})

    def stopped() -> list[dict] | None:
        events = [e for e in own_demo.events(since) if e.get("task_id") == victim["task_id"]]
        return events if events and events[-1]["event"] == "task_stopped" else None

    events = wait_for(stopped, 30, "the task did not stop")
    kinds = [event["event"] for event in events]
    assert kinds == ["task_stopping", "task_deregistered", "task_sigterm", "task_stopped"]  # no task_draining
    assert events[-1]["exit_code"] == 0 and events[-1]["killed"] is False
    # The app kept serving after SIGTERM (STOP_DRAIN_SECONDS=1) and then exited on its own.
    log = next(Path(own_demo.state["log_dir"]).glob(f"worker-{victim['task_id'][:8]}-*.log")).read_text()
    assert "SIGTERM: serving with Connection: close for 1 s" in log
    wait_for(lambda: len(own_demo.running_tasks("worker")) == 2, 30, "the stopped task was not replaced")


def test_ctrl_c_stops_every_process_and_frees_every_port(own_demo):
    task_pids = own_demo.task_pids()
    endpoint_port = int(own_demo.state["cloud_map_endpoint"].rsplit(":", 1)[1])
    assert process_group_exists(task_pids[-1])

    code = own_demo.interrupt(signal.SIGINT)

    assert code == 0
    assert "Stopped: every task, the DNS server and the Cloud Map API." in own_demo.output()
    assert leftover_groups(task_pids) == []
    assert not own_demo.control_file.exists()  # the control file goes with the run
    tasks = [task for tasks in own_demo.state["services"].values() for task in tasks]
    assert tasks
    for task in tasks:
        with socket.socket() as probe:
            assert probe.connect_ex((task["address"], task["port"])) != 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", endpoint_port)) != 0


# -- errors and the template's values ------------------------------------------------------


def test_unknown_stack_is_one_clear_error(assembly_dir):
    completed = subprocess.run(
        [sys.executable, "-m", "ecs_discovery_tools.local.demo", "--assembly", str(assembly_dir), "--stack", "Nope"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip

    assert completed.returncode == 1
    assert "local run: error: no stack 'Nope' in the app (stacks: ServiceDiscovery" in completed.stderr


def test_template_values_resolve_to_the_local_registry():
    refs = {"Ns": {"Ref": "ns-1", "Id": "ns-1", "Arn": "arn:aws:servicediscovery:us-east-1:1:namespace/ns-1"}}
    pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}

    assert resolve_value("plain", refs, pseudo, "X") == "plain"
    assert resolve_value({"Fn::GetAtt": ["Ns", "Id"]}, refs, pseudo, "X") == "ns-1"
    assert resolve_value({"Ref": "AWS::Region"}, refs, pseudo, "X") == "us-east-1"
    assert resolve_value({"Fn::Join": ["-", [{"Ref": "Ns"}, "x"]]}, refs, pseudo, "X") == "ns-1-x"
    assert resolve_value({"Fn::Sub": "${AWS::AccountId}/${Ns.Id}"}, refs, pseudo, "X") == "123456789012/ns-1"


def test_a_value_the_local_run_cannot_resolve_is_named():
    with pytest.raises(AssemblyError, match=r"environment variable DB of api is .*ImportValue"):
        resolve_value({"Fn::ImportValue": "shared-db"}, {}, {}, "environment variable DB of api")


def test_every_stack_of_the_app_can_run_locally(assembly_dir):
    # The contract for stacks added to app.py: a namespace, images built from folders,
    # container environments made of values the local run can resolve.
    pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
              "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip
    names = stack_names(assembly_dir)
    assert {"ServiceDiscovery", "SocialNetwork"} <= set(names), names
    for name in names:
        stack = read_stack(assembly_dir, name)
        assert stack.services, name
        refs = {
            logical_id: {"Ref": "x-id", "Id": "x-id", "Arn": "arn:aws:servicediscovery:us-east-1:1:x", "Name": "x"}
            for logical_id in [stack.namespace_logical_id, *(s.cloud_map_logical_id for s in stack.services)]
            if logical_id is not None  # a stack registering in another account's namespace has none
        }
        for service in stack.services:
            assert (service.app_dir / "app.py").is_file(), service
            for variable, value in service.environment.items():
                resolve_value(value, refs, pseudo, f"{name}: {variable} of {service.name}")


def test_a_local_run_killed_with_sigkill_takes_its_tasks_with_it(assembly_dir, tmp_path):
    # No clean-up code runs after SIGKILL: the kernel ends the tasks (PR_SET_PDEATHSIG).
    running = start_demo(assembly_dir, tmp_path, "--workers", "1", "--tasks", "backend=1")
    task_pids = running.task_pids()
    try:
        assert task_pids and all(process_group_exists(pid) for pid in task_pids)

        running.process.send_signal(signal.SIGKILL)
        running.process.wait(timeout=10)

        assert leftover_groups(task_pids, timeout=10) == []
    finally:
        running.kill()
