"""namespaces / services / instances against the Cloud Map API in moto (in-process), with services
created each way AWS allows (tests/cloudmap_registry.py)."""

from __future__ import annotations

import boto3
import pytest

from ecs_discovery_tools.cli import ExitCode
from tests.cli.conftest import REGION, run_cli
from tests.cloudmap_registry import TASK_IDS, ecs_attributes


def test_namespaces_table_lists_every_namespace(registry):
    result = run_cli("namespaces")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["NAME", "ID", "TYPE", "OWNER", "SERVICES"]
    assert [row.split()[:3] for row in rows] == [
        ["apps", registry.apps_id, "HTTP"],
        ["corp", registry.corp_id, "DNS_PRIVATE"],
        ["other", registry.other_id, "DNS_PRIVATE"],
    ]


def test_namespaces_json_shape(registry):
    result = run_cli("namespaces", "--json")

    assert result.code == ExitCode.OK
    namespaces = result.json()["namespaces"]
    assert [namespace["name"] for namespace in namespaces] == ["apps", "corp", "other"]
    assert set(namespaces[1]) == {"id", "name", "type", "arn", "http_name", "service_count", "resource_owner", "owner"}
    assert (namespaces[1]["id"], namespaces[1]["type"]) == (registry.corp_id, "DNS_PRIVATE")


def test_services_created_every_way_are_listed_and_only_the_namespaces(registry):
    result = run_cli("services", "--namespace", "corp")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split()[:3] == ["NAME", "DNS", "NAME"]
    # worker as CloudFormation creates it, backend by the API (top-level NamespaceId), legacy with the
    # deprecated DnsConfig.NamespaceId, mesh as Service Connect does (API only, no DnsConfig).
    assert [row.split()[:2] for row in rows] == [
        ["backend", "backend.corp"],
        ["legacy", "legacy.corp"],
        ["mesh", "-"],
        ["worker", "worker.corp"],
    ]
    assert "A 10s, SRV 10s" in rows[3] and "custom" in rows[3]
    assert "(API only)" in rows[2]
    assert "ledger" not in result.out and "billing" not in result.out  # other namespaces' services


def test_services_of_an_http_namespace(registry):
    result = run_cli("services", "-n", "apps", "--json")

    assert result.code == ExitCode.OK, result.err
    (billing,) = result.json()["services"]
    assert (billing["name"], billing["dns_name"], billing["dns_records"]) == ("billing", None, [])


def test_services_json_shape_and_namespace_by_id(registry):
    result = run_cli("services", "-n", registry.corp_id, "--json")

    assert result.code == ExitCode.OK
    document = result.json()
    assert document["namespace"] == {
        "id": registry.corp_id,
        "name": "corp",
        "type": "DNS_PRIVATE",
        "arn": f"arn:aws:servicediscovery:{REGION}:123456789012:namespace/{registry.corp_id}",
        "owner": "123456789012",  # moto returns no ResourceOwner: the ARN's account
    }
    worker = {service["name"]: service for service in document["services"]}["worker"]
    assert worker["id"] == registry.service_ids["worker"]
    assert worker["dns_name"] == "worker.corp"
    assert worker["dns_records"] == [{"type": "A", "ttl": 10}, {"type": "SRV", "ttl": 10}]
    assert worker["routing_policy"] == "MULTIVALUE"
    assert worker["health_check"] == "custom"
    assert set(worker) == {
        "id",
        "name",
        "dns_name",
        "arn",
        "type",
        "instance_count",
        "dns_records",
        "routing_policy",
        "health_check",
        "resource_owner",
        "created_by_account",
    }


def test_instances_table_shows_address_port_health_zone_and_task_definition(registry):
    result = run_cli("instances", "worker", "--namespace", "corp")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split() == ["ID", "ADDRESS", "PORT", "HEALTH", "ZONE", "TASK", "DEFINITION", "CREATED", "BY"]
    # CREATED BY: DiscoverInstances' answers carry no CreatedByAccount.
    assert [row.split() for row in rows] == [
        [TASK_IDS[0], "10.0.1.10", "8080", "HEALTHY", "eu-west-1a", "corp-worker", "-"],
        [TASK_IDS[2], "10.0.1.30", "8080", "UNHEALTHY", "eu-west-1a", "corp-worker", "-"],
        [TASK_IDS[1], "10.0.2.20", "8080", "HEALTHY", "eu-west-1b", "corp-worker", "-"],
    ]


def test_instances_healthy_only_as_json_by_dns_name(registry):
    result = run_cli("instances", "worker.corp", "-n", "corp", "--healthy", "--json")

    assert result.code == ExitCode.OK
    document = result.json()
    assert document["service"] == {
        "id": registry.service_ids["worker"],
        "name": "worker",
        "dns_name": "worker.corp",
        "resource_owner": "123456789012",
        "created_by_account": None,
    }
    assert document["source"] == "DiscoverInstances" and document["truncated"] is False
    assert [instance["id"] for instance in document["instances"]] == [TASK_IDS[0], TASK_IDS[1]]
    first = document["instances"][0]
    assert (first["ipv4"], first["port"], first["health"]) == ("10.0.1.10", 8080, "HEALTHY")
    assert (first["availability_zone"], first["task_definition_family"], first["cluster"]) == (
        "eu-west-1a",
        "corp-worker",
        "corp-cluster",
    )
    assert first["attributes"]["ECS_SERVICE_NAME"] == "worker"


@pytest.mark.parametrize(
    ("service", "address"), [("legacy", "10.0.1.50"), ("mesh", "10.0.2.60"), ("backend", "10.0.2.40")]
)
def test_instances_of_services_created_each_way(registry, service, address):
    result = run_cli("instances", service, "-n", "corp", "--json")

    assert result.code == ExitCode.OK, result.err
    assert [instance["ipv4"] for instance in result.json()["instances"]] == [address]


def test_instances_of_an_http_namespace_service_by_id(registry):
    result = run_cli("instances", registry.service_ids["billing"], "-n", "apps", "--json")

    assert result.code == ExitCode.OK, result.err
    assert [(i["ipv4"], i["port"]) for i in result.json()["instances"]] == [("10.0.1.70", 7000)]


def test_a_service_without_healthy_instances_is_an_empty_list_not_an_error(registry):
    client = boto3.client("servicediscovery", region_name=REGION)
    client.update_instance_custom_health_status(
        ServiceId=registry.service_ids["backend"], InstanceId=TASK_IDS[3], Status="UNHEALTHY"
    )

    table = run_cli("instances", "backend", "-n", "corp", "--healthy")
    document = run_cli("instances", "backend", "-n", "corp", "--healthy", "--json")

    assert table.code == ExitCode.OK and table.out.strip() == "(no healthy instances of backend.corp)"
    assert document.json()["instances"] == []


def test_unknown_namespace_is_not_found_with_one_line_naming_the_known_ones(registry):
    result = run_cli("services", "--namespace", "shop")

    assert result.code == ExitCode.NOT_FOUND == 1
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert "namespace 'shop' not found" in result.err and "apps, corp, other" in result.err


def test_unknown_service_is_not_found(registry):
    result = run_cli("instances", "ledger", "--namespace", "corp")

    assert result.code == ExitCode.NOT_FOUND
    assert result.err.count("\n") == 1
    assert "service 'ledger' not found in namespace 'corp' (services: backend, legacy, mesh, worker)" in result.err


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


# -- registry text is untrusted --------------------------------------------------------------------

HOSTILE = [
    "\x1b[2J\x1b[31mred",  # clear screen, colour
    "\x1b]0;owned\x07",  # terminal title (OSC)
    "line\nbreak",
    "bell\x07",
    "rtl\u202eevil",  # bidi override
    "back\rspace",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_registry_names_and_attributes_are_printed_escaped(registry, text):
    # AWS's own patterns refuse these names; a stand-in, a proxy or a future API may not.
    client = boto3.client("servicediscovery", region_name=REGION)
    service_id = client.create_service(Name=f"svc{text}", NamespaceId=registry.corp_id)["Service"]["Id"]
    attributes = ecs_attributes("10.0.3.3", 8080, f"zone{text}", f"family{text}", "svc")
    client.register_instance(ServiceId=service_id, InstanceId="task-hostile", Attributes=attributes)

    services = run_cli("services", "-n", "corp")
    instances = run_cli("instances", service_id, "-n", "corp")
    as_json = run_cli("instances", service_id, "-n", "corp", "--json")

    for result in (services, instances, as_json):
        assert result.code == ExitCode.OK, result.err
        assert not any(char in result.out for char in "\x1b\x07\r\u202e")
    assert len(services.out.splitlines()) == 6  # header + 5 services: no line broken by the name
    # The hostile values were printed (escaped), not left out.
    assert [line for line in services.out.splitlines() if line.startswith("svc")]
    assert "10.0.3.3" in instances.out and "family" in instances.out
    assert as_json.json()["instances"][0]["availability_zone"] == f"zone{text}"  # JSON keeps the value, escaped


def test_hostile_names_in_a_not_found_message_are_escaped(registry):
    result = run_cli("instances", "nobody\x1b[31m\n", "-n", "corp\x1b]0;x\x07")

    assert result.code == ExitCode.NOT_FOUND
    assert result.err.count("\n") == 1 and "\x1b" not in result.err and "\x07" not in result.err
