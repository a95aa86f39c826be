"""Service Connect services in the local run (issue 14): the template's ServiceConnectConfiguration
as CloudFormation receives it; client aliases resolve to the service's healthy tasks in the loopback
DNS. No Envoy: see docs/local-run.md for what is not emulated.

The seed stack is synthesized with DNS discovery; these tests derive its Service Connect variants
from that template, written the way aws-cdk-lib writes ServiceConnectConfiguration.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_discovery_tools.local.assembly import read_stack
from tests.local.conftest import Demo, http_get, running_demo, wait_for

NAMESPACE_ARN = {"Fn::GetAtt": ["NAMESPACE", "Arn"]}


def service_connect_assembly(assembly_dir: Path, target: Path, *, keep_dns: bool) -> Path:
    """A copy of the assembly whose worker is a Service Connect service (``keep_dns``: DNS too)."""
    shutil.copytree(assembly_dir, target)
    template_path = target / "ServiceDiscovery.template.json"
    template = json.loads(template_path.read_text())
    resources: dict[str, Any] = template["Resources"]
    (namespace_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"]
    (worker_id,) = [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::ECS::Service" and "Worker" in k and v["Properties"].get("ServiceRegistries")
    ]
    worker = resources[worker_id]["Properties"]
    task_definition = resources[worker["TaskDefinition"]["Ref"]]["Properties"]
    for mapping in task_definition["ContainerDefinitions"][0]["PortMappings"]:
        mapping["Name"] = "http"
    worker["ServiceConnectConfiguration"] = {
        "Enabled": True,
        "Namespace": {"Fn::GetAtt": [namespace_id, "Arn"]},
        "Services": [
            {
                "PortName": "http",
                "DiscoveryName": "worker-sc" if keep_dns else "worker",
                "ClientAliases": [{"Port": 8080, "DnsName": "worker.corp"}],
            }
        ],
    }
    if not keep_dns:
        registry_id = worker.pop("ServiceRegistries")[0]["RegistryArn"]["Fn::GetAtt"][0]
        del resources[registry_id]
    template_path.write_text(json.dumps(template))
    return target


@pytest.fixture(scope="module")
def service_connect_only(assembly_dir, tmp_path_factory) -> Iterator[Demo]:
    assembly = service_connect_assembly(assembly_dir, tmp_path_factory.mktemp("sc") / "cdk.out", keep_dns=False)
    with running_demo(assembly, tmp_path_factory.mktemp("sc-run"), "--tasks", "backend=1") as running:
        yield running


def test_the_template_service_connect_configuration_is_read(assembly_dir, tmp_path):
    assembly = service_connect_assembly(assembly_dir, tmp_path / "cdk.out", keep_dns=True)

    worker = read_stack(assembly, "ServiceDiscovery").service("worker")

    (entry,) = worker.service_connect
    assert (entry.port_name, entry.discovery_name, entry.container_port) == ("http", "worker-sc", 8080)
    assert [(alias.dns_name, alias.port) for alias in entry.client_aliases] == [("worker.corp", 8080)]
    assert worker.dns_config is not None  # "both": DNS discovery stays


def test_a_client_alias_resolves_to_the_healthy_tasks(service_connect_only):
    demo = service_connect_only
    tasks = demo.running_tasks("worker")

    addresses = sorted(task["address"] for task in tasks)
    assert demo.dns_a("worker.corp") == addresses
    # Service Connect's Cloud Map service is API-only: the tasks are there, with no DNS records.
    assert sorted(demo.healthy_registered("worker").values()) == addresses
    (summary,) = [s for s in demo.cloud_map().list_services()["Services"] if s["Name"] == "worker"]
    assert "DnsConfig" not in summary and summary.get("Type") == "HTTP"


def test_the_backend_reaches_the_worker_through_the_alias(service_connect_only):
    answer = http_get(service_connect_only.state["services"]["backend"][0]["url"] + "/")

    assert answer.status_code == 200, answer.text
    assert answer.json()["worker"]["address"] in service_connect_only.addresses("worker")


def test_the_alias_follows_a_replaced_task(service_connect_only):
    demo = service_connect_only
    (victim, survivor) = demo.running_tasks("worker")

    os.killpg(victim["pid"], signal.SIGKILL)

    def replaced() -> list[str] | None:
        tasks = demo.running_tasks("worker")
        current = sorted(task["address"] for task in tasks if task["registered"])
        ids = {task["task_id"] for task in tasks if task["registered"]}
        if len(current) == 2 and victim["task_id"] not in ids and demo.dns_a("worker.corp") == current:
            return current
        return None

    current = wait_for(replaced, 45, "the alias did not follow the replacement")
    assert survivor["address"] in current


def test_both_modes_keep_the_dns_records_and_register_the_service_connect_name(assembly_dir, tmp_path):
    assembly = service_connect_assembly(assembly_dir, tmp_path / "cdk.out", keep_dns=True)
    with running_demo(assembly, tmp_path / "run", "--tasks", "backend=1", "--workers", "2") as demo:
        addresses = demo.addresses("worker")
        assert demo.dns_a("worker.corp") == addresses
        assert sorted(demo.registered("worker").values()) == addresses
        assert sorted(demo.registered("worker-sc").values()) == addresses
        assert set(demo.registered("worker")) == set(demo.registered("worker-sc"))  # the same task IDs
        assert demo.dns_a("worker-sc.corp") == []
