"""namespaces / services / instances against the Cloud Map API in moto (in-process)."""

from __future__ import annotations

import boto3
import pytest

from ecs_discovery_tools.cli import ExitCode
from tests.cli.conftest import REGION, run_cli


def test_namespaces_table_lists_every_namespace(registry):
    result = run_cli("namespaces")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["NAME", "ID", "TYPE", "SERVICES"]
    assert [row.split()[0] for row in rows] == ["corp", "other"]
    assert registry.namespace_id in rows[0]


def test_namespaces_json_shape(registry):
    result = run_cli("namespaces", "--json")

    assert result.code == ExitCode.OK
    namespaces = result.json()["namespaces"]
    assert [namespace["name"] for namespace in namespaces] == ["corp", "other"]
    assert set(namespaces[0]) == {"id", "name", "type", "arn", "service_count"}
    assert namespaces[0]["id"] == registry.namespace_id
    assert namespaces[0]["type"] == "DNS_PRIVATE"


def test_services_lists_only_the_namespaces_services(registry):
    result = run_cli("services", "--namespace", "corp")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split()[:3] == ["NAME", "DNS", "NAME"]
    assert [row.split()[:2] for row in rows] == [["backend", "backend.corp"], ["worker", "worker.corp"]]
    assert "A 10s, SRV 10s" in rows[1] and "custom" in rows[1]
    assert "ledger" not in result.out  # the other namespace's service


def test_services_json_shape_and_namespace_by_id(registry):
    result = run_cli("services", "-n", registry.namespace_id, "--json")

    assert result.code == ExitCode.OK
    document = result.json()
    assert document["namespace"] == {"id": registry.namespace_id, "name": "corp"}
    worker = {service["name"]: service for service in document["services"]}["worker"]
    assert worker["id"] == registry.worker_id
    assert worker["dns_name"] == "worker.corp"
    assert worker["dns_records"] == [{"type": "A", "ttl": 10}, {"type": "SRV", "ttl": 10}]
    assert worker["routing_policy"] == "MULTIVALUE"
    assert worker["health_check"] == "custom"
    assert set(worker) == {
        "id",
        "name",
        "dns_name",
        "arn",
        "instance_count",
        "dns_records",
        "routing_policy",
        "health_check",
    }


def test_instances_table_shows_address_port_health_and_zone(registry):
    result = run_cli("instances", "worker", "--namespace", "corp")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["ID", "ADDRESS", "PORT", "HEALTH", "ZONE"]
    assert [row.split() for row in rows] == [
        ["task-a", "10.0.1.10", "8080", "HEALTHY", "eu-west-1a"],
        ["task-c", "10.0.1.30", "8080", "UNHEALTHY", "eu-west-1a"],
        ["task-b", "10.0.2.20", "8080", "HEALTHY", "eu-west-1a"],
    ]


def test_instances_healthy_only_as_json_by_dns_name(registry):
    result = run_cli("instances", "worker.corp", "-n", "corp", "--healthy", "--json")

    assert result.code == ExitCode.OK
    document = result.json()
    assert document["service"] == {"id": registry.worker_id, "name": "worker", "dns_name": "worker.corp"}
    assert [instance["id"] for instance in document["instances"]] == ["task-a", "task-b"]
    first = document["instances"][0]
    assert set(first) == {"id", "ipv4", "port", "health", "attributes"}
    assert (first["ipv4"], first["port"], first["health"]) == ("10.0.1.10", 8080, "HEALTHY")
    assert first["attributes"]["AVAILABILITY_ZONE"] == "eu-west-1a"


def test_instances_of_a_service_by_id(registry):
    result = run_cli("instances", registry.backend_id, "-n", "corp", "--json")

    assert result.code == ExitCode.OK
    assert [instance["ipv4"] for instance in result.json()["instances"]] == ["10.0.2.40"]


def test_a_service_without_healthy_instances_is_an_empty_list_not_an_error(registry):
    client = boto3.client("servicediscovery", region_name=REGION)
    client.update_instance_custom_health_status(ServiceId=registry.backend_id, InstanceId="task-d", Status="UNHEALTHY")

    table = run_cli("instances", "backend", "-n", "corp", "--healthy")
    document = run_cli("instances", "backend", "-n", "corp", "--healthy", "--json")

    assert table.code == ExitCode.OK and table.out.strip() == "(no healthy instances of backend.corp)"
    assert document.json()["instances"] == []


def test_unknown_namespace_is_not_found_with_one_line_naming_the_known_ones(registry):
    result = run_cli("services", "--namespace", "shop")

    assert result.code == ExitCode.NOT_FOUND == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "namespace 'shop' not found" in result.err and "corp, other" in result.err


def test_unknown_service_is_not_found(registry):
    result = run_cli("instances", "ledger", "--namespace", "corp")

    assert result.code == ExitCode.NOT_FOUND
    assert result.err.count("\n") == 1
    assert "service 'ledger' not found in namespace 'corp' (services: backend, worker)" in result.err


def test_a_namespace_name_used_twice_is_a_usage_error_asking_for_the_id(registry):
    boto3.client("servicediscovery", region_name=REGION).create_public_dns_namespace(Name="corp")

    result = run_cli("services", "--namespace", "corp")

    assert result.code == ExitCode.USAGE == 2
    assert "ambiguous" in result.err and "DNS_PUBLIC" in result.err and "pass the ID" in result.err


def test_missing_required_option_is_a_usage_error(registry, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli("services")
    assert exit_.value.code == ExitCode.USAGE
    assert "--namespace" in capsys.readouterr().err
