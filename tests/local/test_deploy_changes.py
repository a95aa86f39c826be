"""A deployment picks up what changed: the app's code (new tasks start from its folder as it is now)
and the template (``deploy --reread`` takes the task definition as the template now defines it).

The worker runs from a copy of services/ so that the test can change its code; the assembly is a
copy whose asset manifest points the worker's image at that copy.
"""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_discovery_tools.cli.main import main as cli_main
from tests.local.conftest import REPO_ROOT, Demo, http_get, running_demo, wait_for

STEP_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    services = tmp_path_factory.mktemp("src") / "services"
    for folder in ("flask-worker", "common"):
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(REPO_ROOT / "services" / folder, services / folder, ignore=ignore)
    return services


@pytest.fixture(scope="module")
def assembly(assembly_dir: Path, sources: Path, tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("changes") / "cdk.out"
    shutil.copytree(assembly_dir, copy)
    assets_path = copy / "ServiceDiscovery.assets.json"
    assets = json.loads(assets_path.read_text())
    moved = 0
    for image in assets["dockerImages"].values():
        source = image["source"]
        # One build context (services/, file flask-worker/Dockerfile) or one folder per app.
        if source.get("dockerFile", "").startswith("flask-worker/"):
            source["directory"] = str(sources)
            moved += 1
        elif Path(source["directory"]).name == "flask-worker":
            source["directory"] = str(sources / "flask-worker")
            moved += 1
    assert moved == 1, assets
    assets_path.write_text(json.dumps(assets))
    # A deployment configuration other than the seed's 100/200: replace in place, one task at a time.
    template_path = copy / "ServiceDiscovery.template.json"
    template = json.loads(template_path.read_text())
    (worker,) = [
        resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ECS::Service" and logical_id.startswith("Worker")
    ]
    worker["DeploymentConfiguration"].update(MinimumHealthyPercent=50, MaximumPercent=100)
    template_path.write_text(json.dumps(template))
    return copy


@pytest.fixture(scope="module")
def demo(assembly: Path, tmp_path_factory) -> Iterator[Demo]:
    work_dir = tmp_path_factory.mktemp("changes-run")
    with running_demo(assembly, work_dir, "--workers", "2", "--tasks", "backend=1") as run:
        yield run


def worker_message(demo: Demo) -> str:
    answer = http_get(demo.state["services"]["backend"][0]["url"] + "/")
    assert answer.status_code == 200, answer.text
    return answer.json()["worker"]["response"]["message"]


def rolled_out(demo: Demo, revision: str) -> list[dict[str, Any]]:
    def done() -> list[dict[str, Any]] | None:
        status = demo.status()
        tasks = status["services"]["worker"]
        if not status["schedulers"]["worker"]["steady"] or len(tasks) != 2:
            return None
        if not all(task["revision"].endswith(revision) for task in tasks):
            return None
        return tasks if demo.dns_a("worker.corp") == sorted(task["address"] for task in tasks) else None

    return wait_for(done, STEP_TIMEOUT_S, f"revision {revision} did not roll out")


def replay(events: list[dict[str, Any]], service: str, start: set[str]) -> tuple[list[int], list[int]]:
    """(tasks started and not stopping, tasks registered) after each of ``service``'s events."""
    running, registered = set(start), set(start)
    running_counts, registered_counts = [], []
    for item in events:
        if item["service"] != service:
            continue
        task_id = str(item.get("task_id"))
        if item["event"] == "task_started":
            running.add(task_id)
        elif item["event"] == "task_stopping":
            running.discard(task_id)
        elif item["event"] == "task_registered":
            registered.add(task_id)
        elif item["event"] == "task_deregistered":
            registered.discard(task_id)
        running_counts.append(len(running))
        registered_counts.append(len(registered))
    return running_counts, registered_counts


def test_a_deploy_runs_the_apps_code_as_it_is_now(demo, sources):
    assert worker_message(demo) == "Hello from worker"
    before = {task["task_id"] for task in demo.running_tasks("worker")}
    since = demo.last_seq()
    app = sources / "flask-worker" / "app.py"
    app.write_text(app.read_text().replace('f"Hello from {SERVICE_NAME}"', 'f"Hello again from {SERVICE_NAME}"'))

    out, err = io.StringIO(), io.StringIO()
    code = cli_main(["local", "--control-file", str(demo.control_file), "deploy", "worker"], out=out, err=err)

    assert code == 0, err.getvalue()
    assert out.getvalue().startswith("deployment of worker started: ") and out.getvalue().strip().endswith(":2")
    rolled_out(demo, ":2")
    # The backend's cached answer may still name an old task for one TTL: wait for the new code.
    wait_for(lambda: worker_message(demo) == "Hello again from worker", 15, "the new code does not answer")
    # minimumHealthyPercent 50 / maximumPercent 100 of 2 tasks: never more than 2 running, never
    # fewer than 1 registered; so an old task had to go before the first new one started.
    running, registered = replay(demo.events(since), "worker", before)
    assert max(running) <= 2 and min(registered) >= 1, (running, registered)
    kinds = [item["event"] for item in demo.events(since, "worker")]
    assert kinds.index("task_stopping") < kinds.index("task_started")


def test_deploy_reread_takes_the_templates_new_environment(demo, assembly):
    template_path = assembly / "ServiceDiscovery.template.json"
    template = json.loads(template_path.read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::ECS::TaskDefinition":
            for container in resource["Properties"]["ContainerDefinitions"]:
                if container["Name"] == "flask-worker":
                    container["Environment"].append({"Name": "MESSAGE", "Value": "from the template"})
    template_path.write_text(json.dumps(template))

    answer = demo.control().request("POST", "/deploy", {"service": "worker", "reread": True})

    assert answer["revision"].endswith(":3")
    rolled_out(demo, ":3")
    wait_for(lambda: worker_message(demo) == "from the template", 15, "the template's environment is not in use")


def test_the_cli_shows_status_and_events(demo):
    local = ["local", "--control-file", str(demo.control_file)]
    out, err = io.StringIO(), io.StringIO()
    assert cli_main([*local, "status"], out=out, err=err) == 0, err.getvalue()
    assert "worker: desired 2, running 2, healthy 2" in out.getvalue()

    out = io.StringIO()
    code = cli_main([*local, "events", "--json", "--service", "worker"], out=out)
    assert code == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {event["service"] for event in events} == {"worker"}
    assert [event["event"] for event in events].count("deployment_completed") == 2


def test_the_cli_without_a_local_run_is_one_line_and_exit_1(tmp_path):
    out, err = io.StringIO(), io.StringIO()

    code = cli_main(["local", "--control-file", str(tmp_path / "none.json"), "status"], out=out, err=err)

    assert code == 1
    assert err.getvalue().count("\n") == 1 and "no local run is up" in err.getvalue()


def test_a_bad_count_is_refused_before_any_request(tmp_path):
    err = io.StringIO()

    code = cli_main(["local", "--control-file", str(tmp_path / "none.json"), "scale", "worker=5x"], err=err)

    assert code == 2 and "is not a whole number" in err.getvalue()
