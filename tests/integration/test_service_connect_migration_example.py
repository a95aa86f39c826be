"""examples/service-connect-migration: the three steps synthesized as the CDK CLI runs the app
(``CDK_CONTEXT_JSON``/``CDK_OUTDIR``, the project venv's python), once per module, and what its
README promises checked on the templates: step 2 replaces nothing, step 3 removes only the DNS
services, callers keep one URL and one security group rule throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "service-connect-migration"
STEPS = ("1", "2", "3")


def synth(step: str, out_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(CDK_CONTEXT_JSON=json.dumps({"step": step}), CDK_OUTDIR=str(out_dir))
    return subprocess.run(
        [sys.executable, "app.py"], cwd=EXAMPLE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        out_dir = tmp_path_factory.mktemp(f"step{step}")
        result = synth(step, out_dir)
        assert result.returncode == 0, result.stdout + result.stderr
        found[step] = json.loads((out_dir / "ServiceConnectMigration.template.json").read_text())["Resources"]
    return found


def of_type(resources: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {logical_id: r["Properties"] for logical_id, r in resources.items() if r["Type"] == kind}


def service(resources: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [p for lid, p in of_type(resources, "AWS::ECS::Service").items() if lid.startswith(prefix)]
    return found


def test_step_2_replaces_nothing(templates: dict[str, dict[str, Any]]) -> None:
    assert set(templates["2"]) == set(templates["1"])


def test_step_3_removes_only_the_dns_services(templates: dict[str, dict[str, Any]]) -> None:
    removed = set(templates["2"]) - set(templates["3"])
    assert {templates["2"][lid]["Type"] for lid in removed} == {"AWS::ServiceDiscovery::Service"}
    assert len(removed) == 3
    assert set(templates["3"]) <= set(templates["2"])


@pytest.mark.parametrize(
    ("step", "dns", "service_connect"),
    [("1", True, False), ("2", True, True), ("3", False, True)],
)
def test_each_step_has_its_mode(
    templates: dict[str, dict[str, Any]], step: str, dns: bool, service_connect: bool
) -> None:
    for name in ("Orders", "Web", "Batch"):
        properties = service(templates[step], f"{name}Service")
        assert ("ServiceRegistries" in properties) is dns, (step, name)
        assert ("ServiceConnectConfiguration" in properties) is service_connect, (step, name)


def test_orders_keeps_one_endpoint_from_step_2_on(templates: dict[str, dict[str, Any]]) -> None:
    configs = [service(templates[step], "OrdersService")["ServiceConnectConfiguration"] for step in ("2", "3")]
    assert configs[0] == configs[1]
    (endpoint,) = configs[0]["Services"]
    assert endpoint["DiscoveryName"] == "orders-sc"
    assert endpoint["ClientAliases"] == [{"DnsName": "orders.shop", "Port": 8080}]
    assert configs[0]["AccessLogConfiguration"]["Format"] == "JSON"
    # batch is a client only: the proxy, no endpoint
    assert "Services" not in service(templates["2"], "BatchService")["ServiceConnectConfiguration"]


def test_callers_keep_one_url_and_one_rule(templates: dict[str, dict[str, Any]]) -> None:
    for step in STEPS:
        tasks = of_type(templates[step], "AWS::ECS::TaskDefinition")
        for name in ("Web", "Batch"):
            (task,) = [p for lid, p in tasks.items() if lid.startswith(f"{name}TaskDefinition")]
            env = {v["Name"]: v["Value"] for v in task["ContainerDefinitions"][0]["Environment"]}
            assert (env["ORDERS_HOST"], env["ORDERS_PORT"]) == ("orders.shop", "8080"), (step, name)
        rules = [
            (rule["FromPort"], rule["SourceSecurityGroupId"]["Fn::GetAtt"][0][:3])
            for rule in of_type(templates[step], "AWS::EC2::SecurityGroupIngress").values()
            if rule["GroupId"]["Fn::GetAtt"][0].startswith("OrdersSecurityGroup")
        ]
        assert sorted(rules) == [(8080, "Bat"), (8080, "Web")], step


def test_an_unknown_step_is_one_error_line(tmp_path: Path) -> None:
    result = synth("4", tmp_path)
    assert result.returncode != 0
    assert (
        result.stderr.strip() == "error: step='4' is not valid: expected one of ['1', '2', '3'] (cdk synth -c step=2)"
    )


@pytest.mark.parametrize(("step", "ordered"), [("1", False), ("2", True), ("3", True)])
def test_callers_start_after_orders_when_on_service_connect(
    templates: dict[str, dict[str, Any]], step: str, ordered: bool
) -> None:
    # ECS shows an endpoint only to tasks started after it exists: the README's step-2 promise.
    resources = templates[step]
    (orders,) = [lid for lid in of_type(resources, "AWS::ECS::Service") if lid.startswith("OrdersService")]
    for name in ("WebService", "BatchService"):
        (caller,) = [lid for lid in of_type(resources, "AWS::ECS::Service") if lid.startswith(name)]
        assert (orders in resources[caller].get("DependsOn", [])) is ordered, (step, name)
