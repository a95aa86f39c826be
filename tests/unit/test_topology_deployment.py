"""A topology file's ``deployment:`` mapping: DeploymentOptions' plain fields, with the same checks, and
every mistake naming the file, the service and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ecs_service_discovery import ValidationError, load_topology
from ecs_service_discovery.constructs.deployment import DeploymentOptions, DeploymentStrategy

IMAGE = "public.ecr.aws/docker/library/nginx:1.27"


def _write(tmp_path: Path, **fields: Any) -> Path:
    path = tmp_path / "topology.yaml"
    document = {"services": [{"name": "worker", "image": IMAGE, **fields}]}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _refused(tmp_path: Path, **fields: Any) -> str:
    path = _write(tmp_path, **fields)
    with pytest.raises(ValidationError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: services[0]: service 'worker': "), message
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ({"strategy": "blue-green"}, DeploymentOptions(strategy=DeploymentStrategy.BLUE_GREEN)),
        (
            {"strategy": "linear", "step_percent": 25, "step_bake_time_minutes": 3, "bake_time_minutes": 10},
            DeploymentOptions(
                strategy=DeploymentStrategy.LINEAR, step_percent=25, step_bake_time_minutes=3, bake_time_minutes=10
            ),
        ),
        (
            {"strategy": "canary", "step_percent": 0.5, "test_traffic_header": "x-smoke", "error_alarm_threshold": 3},
            DeploymentOptions(
                strategy=DeploymentStrategy.CANARY,
                step_percent=0.5,
                test_traffic_header="x-smoke",
                error_alarm_threshold=3,
            ),
        ),
        (None, DeploymentOptions()),
        ({"strategy": "rolling"}, DeploymentOptions()),
    ],
    ids=["blue-green", "linear", "canary", "null", "rolling"],
)
def test_a_deployment_mapping_becomes_deployment_options(tmp_path: Path, deployment: Any, expected: DeploymentOptions):
    spec = load_topology(_write(tmp_path, discovery="service-connect", deployment=deployment))
    assert spec.services[0].deployment == expected


@pytest.mark.parametrize("strategy", ["blue-green", "linear", "canary"])
def test_a_traffic_shift_for_a_dns_service_names_the_file_service_and_field(tmp_path: Path, strategy: str):
    message = _refused(tmp_path, deployment={"strategy": strategy})
    assert f"deployment.strategy='{strategy}' is not valid" in message
    assert "discovery" in message and "rolling" in message


@pytest.mark.parametrize(
    ("deployment", "field"),
    [
        ({"strategy": "blue-green", "bake_time_minutes": 1441}, "deployment.bake_time_minutes"),
        ({"strategy": "blue-green", "bake_time_minutes": -1}, "deployment.bake_time_minutes"),
        ({"strategy": "linear", "step_percent": 2.9}, "deployment.step_percent"),
        ({"strategy": "canary", "step_percent": 100.1}, "deployment.step_percent"),
        ({"strategy": "blue-green\n"}, "deployment.strategy"),
        ({"strategy": "BLUE_GREEN; rm -rf /"}, "deployment.strategy"),
        ({"strategy": "blue-green", "test_traffic_header": "X-Bad Header"}, "deployment.test_traffic_header"),
    ],
    ids=["bake+1", "bake-negative", "linear-step-low", "canary-over", "newline", "shell", "header-space"],
)
def test_a_bad_deployment_value_names_the_file_service_and_field(tmp_path: Path, deployment: Any, field: str):
    message = _refused(tmp_path, discovery="both", deployment=deployment)
    assert f"{field}=" in message, message


@pytest.mark.parametrize("field", ["lifecycle_hooks", "alarms"])
def test_fields_that_hold_aws_cdk_objects_cannot_come_from_a_file(tmp_path: Path, field: str):
    message = _refused(tmp_path, discovery="both", deployment={"strategy": "blue-green", field: ["arn:aws:x"]})
    assert f"deployment: the field '{field}' cannot be set in a file" in message


@pytest.mark.parametrize("deployment", [["blue-green"], "blue-green", 3, True])
def test_a_deployment_that_is_not_a_mapping_is_named(tmp_path: Path, deployment: Any):
    message = _refused(tmp_path, discovery="both", deployment=deployment)
    assert "deployment=" in message and "expected a mapping of deployment fields" in message


def test_an_unknown_deployment_field_suggests_the_close_one(tmp_path: Path):
    message = _refused(tmp_path, discovery="both", deployment={"strategy": "blue-green", "bake_time_minute": 3})
    assert "deployment: unknown field 'bake_time_minute' (did you mean 'bake_time_minutes'?)" in message


def test_defaults_can_set_the_deployment(tmp_path: Path):
    path = tmp_path / "topology.yaml"
    document = {
        "defaults": {"discovery": "service-connect", "deployment": {"strategy": "canary"}},
        "services": [{"name": "a", "image": IMAGE}, {"name": "b", "image": IMAGE, "deployment": None}],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    a, b = load_topology(path).services
    assert a.deployment.strategy is DeploymentStrategy.CANARY
    assert b.deployment == DeploymentOptions()
