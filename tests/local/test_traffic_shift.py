"""The traffic shift of a blue/green, linear or canary deployment (local/traffic.py) on a clock the test
turns, and the template reader that finds the deployment (local/assembly.py read_deployment), with
templates as aws-cdk-lib writes them (the committed blue/green snapshot) and as users write them
(intrinsics, AWS::NoValue, strings for numbers). No process runs here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecs_discovery_tools.local.assembly import AssemblyError, DeploymentSpec, _service_connect, read_deployment
from ecs_discovery_tools.local.traffic import (
    BAKE,
    COMPLETED,
    PRODUCTION_SHIFT,
    ROLLED_BACK,
    SCALE_UP,
    TEST_TRAFFIC,
    TrafficShift,
    shift_plan,
)

SNAPSHOT = Path(__file__).resolve().parents[1] / "unit" / "__snapshots__" / "test_blue_green_snapshot"


def _shift(spec: DeploymentSpec, *, test_traffic_seconds: float = 0.0) -> TrafficShift:
    return TrafficShift(
        spec, "worker:1", "worker:2", 0.0, minute_seconds=1.0, test_traffic_seconds=test_traffic_seconds
    )


def _names(events) -> list[tuple[str, float | None]]:
    return [(event.event, event.fields.get("green_percent")) for event in events]


# -- the plan ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "plan"),
    [
        (DeploymentSpec("BLUE_GREEN", 5), (100.0,)),
        (DeploymentSpec("LINEAR", 5, 25.0, 1), (25.0, 50.0, 75.0, 100.0)),
        (DeploymentSpec("LINEAR", 5, 10.0, 6), tuple(float(p) for p in range(10, 101, 10))),
        (DeploymentSpec("CANARY", 5, 5.0, 10), (5.0, 100.0)),
        (DeploymentSpec("CANARY", 5, 0.1, 10), (0.1, 100.0)),
        (DeploymentSpec("CANARY", 5, 100.0, 10), (100.0,)),
    ],
)
def test_the_plan_is_the_share_on_green_after_each_step(spec, plan):
    assert shift_plan(spec) == plan


def test_a_linear_step_that_does_not_divide_100_ends_with_the_rest():
    plan = shift_plan(DeploymentSpec("LINEAR", 0, 3.0, 1))

    # CloudFormation counts floor(100 / 3) = 33 waits: 34 steps, the last one the rest.
    assert len(plan) == 34 and plan[:3] == (3.0, 6.0, 9.0) and plan[-2:] == (99.0, 100.0)


# -- the phases on a clock the test turns -----------------------------------------------------


def test_blue_green_waits_for_green_then_test_traffic_then_all_at_once_then_the_bake_time():
    shift = _shift(DeploymentSpec("BLUE_GREEN", 3), test_traffic_seconds=10)

    assert shift.advance(50.0, green_ready=False) == [] and shift.phase == SCALE_UP
    assert (shift.green_percent, shift.test_to_green) == (0.0, False)

    assert _names(shift.advance(60.0, green_ready=True)) == [("test_traffic_shifted", None)]
    assert (shift.phase, shift.green_percent, shift.test_to_green) == (TEST_TRAFFIC, 0.0, True)
    assert shift.advance(69.9, green_ready=True) == []

    assert _names(shift.advance(70.0, green_ready=True)) == [("traffic_shifted", 100.0), ("deployment_baking", 100.0)]
    assert (shift.phase, shift.green_percent) == (BAKE, 100.0)
    assert shift.advance(72.9, green_ready=True) == []  # 3 template minutes of 1 s

    assert _names(shift.advance(73.0, green_ready=True)) == [("deployment_baked", None)]
    assert shift.phase == COMPLETED and not shift.active


def test_linear_moves_one_step_each_step_bake_time():
    shift = _shift(DeploymentSpec("LINEAR", 1, 25.0, 2))
    shift.advance(0.0, green_ready=True)  # test traffic, then the first step at once (no wait)

    seen = [shift.green_percent]
    for now in (1.9, 2.0, 3.9, 4.0, 5.9, 6.0):
        shift.advance(now, green_ready=True)
        seen.append(shift.green_percent)

    assert seen == [25.0, 25.0, 50.0, 50.0, 75.0, 75.0, 100.0]
    assert shift.phase == BAKE
    shift.advance(7.0, green_ready=True)
    assert shift.phase == COMPLETED


def test_canary_shifts_its_share_waits_then_the_rest():
    shift = _shift(DeploymentSpec("CANARY", 0, 10.0, 5))

    events = shift.advance(0.0, green_ready=True)
    assert _names(events) == [("test_traffic_shifted", None), ("traffic_shifted", 10.0)]
    assert "shifting 10% of production traffic to the new revision (90% stays on worker:1)" in events[1].message
    assert shift.advance(4.9, green_ready=True) == [] and shift.phase == PRODUCTION_SHIFT
    assert _names(shift.advance(5.0, green_ready=True)) == [
        ("traffic_shifted", 100.0),
        ("deployment_baking", 100.0),
        ("deployment_baked", None),  # bake time 0
    ]


def test_a_late_tick_catches_up_on_the_schedule_not_on_the_tick():
    shift = _shift(DeploymentSpec("LINEAR", 0, 50.0, 2))
    shift.advance(0.0, green_ready=True)

    # One tick long after both waits: every step is taken, in order, in one call.
    assert _names(shift.advance(100.0, green_ready=True)) == [
        ("traffic_shifted", 100.0),
        ("deployment_baking", 100.0),
        ("deployment_baked", None),
    ]


def test_a_rollback_puts_all_traffic_on_blue_and_only_while_both_run():
    shift = _shift(DeploymentSpec("LINEAR", 1, 25.0, 2))
    shift.advance(0.0, green_ready=True)

    event = shift.roll_back("requested")

    assert (shift.phase, shift.green_percent, shift.test_to_green) == (ROLLED_BACK, 0.0, False)
    assert event.event == "deployment_rolled_back" and event.fields["rolled_back_to"] == "worker:1"
    assert shift.advance(1000.0, green_ready=True) == []
    with pytest.raises(ValueError, match="nothing to roll back"):
        shift.roll_back("again")


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True, "60"])
def test_the_shift_refuses_times_it_cannot_count(value):
    with pytest.raises(ValueError, match="minute_seconds"):
        TrafficShift(DeploymentSpec("BLUE_GREEN"), "a:1", "a:2", 0.0, minute_seconds=value)


# -- reading the template ------------------------------------------------------------------


def _snapshot_services() -> dict[str, dict[str, Any]]:
    (path,) = list(SNAPSHOT.iterdir())
    template = json.loads(path.read_text())
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ECS::Service"
    }


def test_the_library_s_template_is_read_as_the_library_wrote_it():
    services = _snapshot_services()
    (worker,) = [p for k, p in services.items() if k.startswith("Worker")]
    (backend,) = [p for k, p in services.items() if k.startswith("Backend")]

    assert read_deployment(worker, "Worker") == DeploymentSpec("BLUE_GREEN", 5.0)
    assert read_deployment(backend, "Backend") == DeploymentSpec("CANARY", 5.0, 10.0, 10.0)
    containers = [{"Name": "flask-worker", "PortMappings": [{"Name": "worker", "ContainerPort": 8080}]}]
    (entry,) = _service_connect(worker, containers, "Worker")
    (alias,) = entry.client_aliases
    assert (alias.dns_name, alias.port, alias.test_header, alias.test_header_value) == (
        "worker.corp",
        8080,
        "x-amzn-ecs-blue-green-test",
        None,
    )


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, DeploymentSpec()),
        ({"Ref": "AWS::NoValue"}, DeploymentSpec()),
        ({"MaximumPercent": 200}, DeploymentSpec()),
        ({"Strategy": {"Ref": "AWS::NoValue"}}, DeploymentSpec()),
        ({"Strategy": "ROLLING", "BakeTimeInMinutes": 5}, DeploymentSpec()),
        ({"Strategy": "BLUE_GREEN"}, DeploymentSpec("BLUE_GREEN", 0.0)),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": "10"}, DeploymentSpec("BLUE_GREEN", 10.0)),
        ({"Strategy": "LINEAR"}, DeploymentSpec("LINEAR", 0.0, 10.0, 6.0)),
        (
            {"Strategy": "CANARY", "CanaryConfiguration": {"Ref": "AWS::NoValue"}},
            DeploymentSpec("CANARY", 0.0, 5.0, 10.0),
        ),
        (
            {"Strategy": "LINEAR", "LinearConfiguration": {"StepPercent": "2.5e1", "StepBakeTimeInMinutes": 1}},
            None,
        ),
        (
            {"Strategy": "LINEAR", "LinearConfiguration": {"StepPercent": 25.5, "StepBakeTimeInMinutes": "1"}},
            DeploymentSpec("LINEAR", 0.0, 25.5, 1.0),
        ),
    ],
)  # fmt: skip
def test_a_deployment_configuration_as_users_write_it(config, expected):
    properties = {} if config is None else {"DeploymentConfiguration": config}
    if expected is None:
        with pytest.raises(AssemblyError, match="StepPercent"):
            read_deployment(properties, "Svc")
        return
    assert read_deployment(properties, "Svc") == expected


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"Fn::If": ["Cond", {"Strategy": "LINEAR"}, {}]}, "DeploymentConfiguration is"),
        ({"Strategy": {"Ref": "StrategyParameter"}}, "Strategy"),
        ({"Strategy": {"Fn::If": ["Cond", "LINEAR", "ROLLING"]}}, "Strategy"),
        ({"Strategy": "blue-green"}, "Strategy"),
        ({"Strategy": "BLUE_GREEN\n"}, "Strategy"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": -1}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 1441}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": float("nan")}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": "Infinity"}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": "1e999"}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": 10**5000}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": True}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": " 5"}, "BakeTimeInMinutes"),
        ({"Strategy": "BLUE_GREEN", "BakeTimeInMinutes": {"Ref": "Bake"}}, "BakeTimeInMinutes"),
        ({"Strategy": "LINEAR", "LinearConfiguration": {"StepPercent": 2.9}}, "StepPercent"),
        ({"Strategy": "LINEAR", "LinearConfiguration": {"StepPercent": 100.1}}, "StepPercent"),
        ({"Strategy": "CANARY", "CanaryConfiguration": {"CanaryPercent": 0}}, "CanaryPercent"),
        ({"Strategy": "CANARY", "CanaryConfiguration": {"CanaryBakeTimeInMinutes": 2**63}}, "CanaryBakeTimeInMinutes"),
        ({"Strategy": "CANARY", "CanaryConfiguration": ["CanaryPercent", 5]}, "CanaryConfiguration"),
    ],
)  # fmt: skip
def test_what_the_local_run_cannot_deploy_is_refused_by_name(config, field):
    with pytest.raises(AssemblyError, match=field) as caught:
        read_deployment({"DeploymentConfiguration": config}, "WorkerService")

    assert "ECS service WorkerService" in str(caught.value) and len(str(caught.value)) < 400


_CONTAINERS = [{"Name": "app", "PortMappings": [{"Name": "http", "ContainerPort": 8080}]}]


def _alias_rule(rules: Any) -> tuple[str, str | None]:
    alias: dict[str, Any] = {"DnsName": "worker.corp", "Port": 8080}
    if rules is not None:
        alias["TestTrafficRules"] = rules
    properties = {"ServiceConnectConfiguration": {"Enabled": True, "Services": [
        {"PortName": "http", "ClientAliases": [alias]}
    ]}}  # fmt: skip
    ((entry,),) = [_service_connect(properties, _CONTAINERS, "Svc")]
    (parsed,) = entry.client_aliases
    return parsed.test_header, parsed.test_header_value


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (None, ("x-amzn-ecs-blue-green-test", None)),
        ({"Ref": "AWS::NoValue"}, ("x-amzn-ecs-blue-green-test", None)),
        ({"Header": {"Name": "X-Canary"}}, ("x-canary", None)),
        ({"Header": {"Name": "x-canary", "Value": {"Exact": "on"}}}, ("x-canary", "on")),
        ({"Header": {"Name": "x-canary", "Value": {"Ref": "AWS::NoValue"}}}, ("x-canary", None)),
    ],
)
def test_the_test_traffic_rule_of_an_alias(rules, expected):
    assert _alias_rule(rules) == expected


@pytest.mark.parametrize(
    "rules",
    [
        {"Header": {"Name": "x-canary\n"}},
        {"Header": {"Name": "x canary"}},
        {"Header": {"Name": ""}},
        {"Header": {"Name": "x" * 257}},
        {"Header": {"Name": {"Ref": "HeaderParameter"}}},
        {"Header": {"Name": "x-canary", "Value": {"Exact": "on\r\nx-other: 1"}}},
        {"Header": {"Name": "x-canary", "Value": {"Exact": " on"}}},
        {"Header": {"Name": "x-canary", "Value": {"Exact": "\u202eon"}}},
        {"Header": {"Name": "x-canary", "Value": {"Exact": 1}}},
        {"Header": "x-canary"},
        {"Fn::If": ["Cond", {"Header": {"Name": "x-a"}}, {"Ref": "AWS::NoValue"}]},
    ],
)
def test_a_test_traffic_rule_the_proxy_cannot_match_is_refused(rules):
    with pytest.raises(AssemblyError, match="TestTrafficRules"):
        _alias_rule(rules)
