"""The local Cloud Map stand-in (moto on loopback) and the DNS publisher fed from it, without tasks:
services are created as CloudFormation creates them (checked against botocore's model), and one
bad instance or service never stops the others from reaching DNS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import dns.resolver
import pytest
from botocore.validate import ParamValidator

from ecs_discovery_tools.local.cloud_map import (
    DUMMY_CREDENTIALS,
    AliasTarget,
    LocalCloudMap,
    RegisteredService,
    RegistryDnsPublisher,
)
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, dns_label

DNS_CONFIG = {"DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}], "RoutingPolicy": "MULTIVALUE"}


@pytest.fixture(scope="module")
def shared_cloud_map() -> Iterator[LocalCloudMap]:
    local = LocalCloudMap(region="us-east-1").start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def cloud_map(shared_cloud_map: LocalCloudMap) -> LocalCloudMap:
    shared_cloud_map.reset()  # every test starts with an empty registry
    shared_cloud_map.client = shared_cloud_map.new_client()  # no event hook of an earlier test
    return shared_cloud_map


@pytest.fixture
def dns_server() -> Iterator[LoopbackDnsServer]:
    with LoopbackDnsServer() as server:
        yield server


def resolve(server: LoopbackDnsServer, name: str, rdtype: str = "A") -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = 3.0
    try:
        return sorted(str(record) for record in resolver.resolve(name, rdtype))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []


def capture_requests(cloud_map: LocalCloudMap, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` call the stand-in's client makes from now on."""
    seen: list[dict[str, Any]] = []
    cloud_map.client.meta.events.register(
        f"provide-client-params.servicediscovery.{operation}", lambda params, **_: seen.append(dict(params))
    )
    return seen


def register(cloud_map: LocalCloudMap, service: RegisteredService, instance_id: str, **attributes: str) -> None:
    # Straight through the API, as any client could: moto accepts what AWS might refuse.
    cloud_map.client.register_instance(ServiceId=service.id, InstanceId=instance_id, Attributes=attributes)


# -- services as CloudFormation creates them --------------------------------------------------


def test_services_are_created_as_cloudformation_creates_them(cloud_map):
    requests = capture_requests(cloud_map, "CreateService")
    namespace = cloud_map.create_namespace("corp")

    # DnsConfig as the template writes it, deprecated NamespaceId included: it must not reach the API.
    cloud_map.create_service("worker", namespace.id, {**DNS_CONFIG, "NamespaceId": "ns-x"}, {"FailureThreshold": 1})
    cloud_map.create_service("worker-sc", namespace.id, None, {"FailureThreshold": 1})

    dns_request, api_only_request = requests
    assert dns_request["NamespaceId"] == namespace.id
    assert "NamespaceId" not in dns_request["DnsConfig"]
    assert dns_request["DnsConfig"] == DNS_CONFIG
    assert api_only_request == {
        "Name": "worker-sc",
        "NamespaceId": namespace.id,
        "Type": "HTTP",
        "HealthCheckCustomConfig": {"FailureThreshold": 1},
    }
    # Valid against botocore's own model of the API (not only what moto accepts).
    model = botocore.session.get_session().get_service_model("servicediscovery")
    shape = model.operation_model("CreateService").input_shape
    for request in requests:
        report = ParamValidator().validate(request, shape)
        assert not report.has_errors(), report.generate_report()


def test_services_without_dnsconfig_namespace_id_reach_dns(cloud_map, dns_server):
    # ServiceSummary has no NamespaceId and DnsConfig carries none: the publisher trusts the filter.
    namespace = cloud_map.create_namespace("corp")
    worker = cloud_map.create_service("worker", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    cloud_map.register_task(worker.id, instance_id="t1", ipv4="127.0.0.7", port=8080, attributes={})

    RegistryDnsPublisher(cloud_map, namespace, dns_server).publish_once()

    assert resolve(dns_server, "worker.corp") == ["127.0.0.7"]
    assert resolve(dns_server, "worker.corp", "SRV") == ["1 1 8080 t1.worker.corp."]
    assert resolve(dns_server, "t1.worker.corp") == ["127.0.0.7"]


# -- one bad instance or service is skipped, never blocks the others -----------------------------


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        ({"AWS_INSTANCE_PORT": "http"}, "is not a port number"),
        ({"AWS_INSTANCE_PORT": "\u00b2"}, "is not a port number"),  # "²".isdigit() is True
        ({"AWS_INSTANCE_PORT": "\u0663"}, "is not a port number"),  # int("٣") == 3
        ({"AWS_INSTANCE_PORT": "70000"}, "is not a port number"),
        ({"AWS_INSTANCE_PORT": "0"}, "is not a port number"),
        ({"AWS_INSTANCE_PORT": " 80"}, "is not a port number"),
        ({"AWS_INSTANCE_PORT": "8080\n"}, "is not a port number"),
        ({"AWS_INSTANCE_PORT": ""}, "is not a port number"),
        ({"AWS_INSTANCE_IPV4": "999.1.1.1"}, "is not an IPv4 address"),
        ({"AWS_INSTANCE_IPV4": "127.0.0.1\n"}, "is not an IPv4 address"),
        ({"AWS_INSTANCE_IPV4": "::1"}, "is not an IPv4 address"),
    ],
)
def test_a_bad_instance_is_skipped_and_reported_while_every_service_keeps_updating(
    cloud_map, dns_server, attributes, why
):
    namespace = cloud_map.create_namespace("corp")
    worker = cloud_map.create_service("worker", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    auth = cloud_map.create_service("auth", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    register(cloud_map, worker, "good", AWS_INSTANCE_IPV4="127.0.0.2", AWS_INSTANCE_PORT="8080")
    register(cloud_map, worker, "bad", **{"AWS_INSTANCE_IPV4": "127.0.0.3", "AWS_INSTANCE_PORT": "8080", **attributes})
    problems: list[str] = []
    publisher = RegistryDnsPublisher(cloud_map, namespace, dns_server, on_problem=problems.append)

    publisher.publish_once()
    # Later changes, in this service and in another, still reach DNS.
    register(cloud_map, worker, "late", AWS_INSTANCE_IPV4="127.0.0.4", AWS_INSTANCE_PORT="8080")
    register(cloud_map, auth, "a1", AWS_INSTANCE_IPV4="127.0.0.5", AWS_INSTANCE_PORT="9000")
    publisher.publish_once()

    assert resolve(dns_server, "worker.corp") == ["127.0.0.2", "127.0.0.4"]
    assert resolve(dns_server, "auth.corp") == ["127.0.0.5"]
    assert resolve(dns_server, "auth.corp", "SRV") == ["1 1 9000 a1.auth.corp."]
    assert len(problems) == 1  # reported once, not once per publish
    assert "'bad'" in problems[0] and "worker.corp" in problems[0] and why in problems[0]


@pytest.mark.parametrize("instance_id", ["x" * 64, "a:b/c@d", "has.dot", "-leading", "Mixed_Case"])
def test_an_instance_id_that_is_no_dns_label_gets_a_valid_srv_target(cloud_map, dns_server, instance_id):
    # Cloud Map allows 64 characters of [0-9a-zA-Z_/:.@-]; a DNS label holds 63 of [a-z0-9_-].
    namespace = cloud_map.create_namespace("corp")
    worker = cloud_map.create_service("worker", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    register(cloud_map, worker, instance_id, AWS_INSTANCE_IPV4="127.0.0.3", AWS_INSTANCE_PORT="8080")
    register(cloud_map, worker, "ok", AWS_INSTANCE_IPV4="127.0.0.2", AWS_INSTANCE_PORT="8080")
    problems: list[str] = []

    RegistryDnsPublisher(cloud_map, namespace, dns_server, on_problem=problems.append).publish_once()

    label = dns_label(instance_id)
    assert len(label) <= 63
    assert resolve(dns_server, "worker.corp", "SRV") == sorted(
        [f"1 1 8080 {label}.worker.corp.", "1 1 8080 ok.worker.corp."]
    )
    assert resolve(dns_server, f"{label}.worker.corp") == ["127.0.0.3"]
    assert resolve(dns_server, "worker.corp") == ["127.0.0.2", "127.0.0.3"]
    assert problems == []


def test_an_unhealthy_instance_leaves_dns_and_all_unhealthy_fails_open(cloud_map, dns_server):
    namespace = cloud_map.create_namespace("corp")
    worker = cloud_map.create_service("worker", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    for index in (2, 3):
        cloud_map.register_task(worker.id, instance_id=f"t{index}", ipv4=f"127.0.0.{index}", port=8080, attributes={})
    publisher = RegistryDnsPublisher(cloud_map, namespace, dns_server)

    cloud_map.set_health(worker.id, "t2", healthy=False)
    publisher.publish_once()
    assert resolve(dns_server, "worker.corp") == ["127.0.0.3"]

    cloud_map.set_health(worker.id, "t3", healthy=False)
    publisher.publish_once()
    # Route 53 MULTIVALUE answers every record when none is healthy.
    assert resolve(dns_server, "worker.corp") == ["127.0.0.2", "127.0.0.3"]

    cloud_map.deregister_task(worker.id, "t2")
    cloud_map.deregister_task(worker.id, "t3")
    publisher.publish_once()
    assert resolve(dns_server, "worker.corp") == []
    assert resolve(dns_server, "t2.worker.corp") == []


def test_a_service_connect_alias_resolves_to_the_healthy_tasks_of_its_api_only_service(cloud_map, dns_server):
    namespace = cloud_map.create_namespace("corp")
    api_only = cloud_map.create_service("worker-sc", namespace.id, None, {"FailureThreshold": 1})
    for index in (2, 3):
        cloud_map.register_task(api_only.id, instance_id=f"t{index}", ipv4=f"127.0.0.{index}", port=8080, attributes={})
    cloud_map.set_health(api_only.id, "t3", healthy=False)
    publisher = RegistryDnsPublisher(
        cloud_map, namespace, dns_server, aliases={"worker.corp": AliasTarget("worker-sc", ttl=5)}
    )

    publisher.publish_once()

    assert resolve(dns_server, "worker.corp") == ["127.0.0.2"]
    # An API-only service has no DNS records of its own.
    assert resolve(dns_server, "worker-sc.corp") == []


def test_the_publisher_keeps_the_last_records_when_the_registry_cannot_be_read(dns_server):
    cloud_map = LocalCloudMap(region="us-east-1").start()  # its own: this test stops it
    namespace = cloud_map.create_namespace("corp")
    worker = cloud_map.create_service("worker", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    cloud_map.register_task(worker.id, instance_id="t1", ipv4="127.0.0.2", port=8080, attributes={})
    publisher = RegistryDnsPublisher(cloud_map, namespace, dns_server, interval=0.1).start()
    try:
        assert resolve(dns_server, "worker.corp") == ["127.0.0.2"]
        cloud_map.stop()  # the API is gone: Route 53 would keep answering
        time.sleep(0.5)
        assert resolve(dns_server, "worker.corp") == ["127.0.0.2"]
        assert publisher.last_error is not None
    finally:
        publisher.stop()


def test_the_stand_in_is_reachable_by_plain_boto3_with_dummy_credentials(cloud_map):
    namespace = cloud_map.create_namespace("corp")
    client = boto3.client(
        "servicediscovery",
        region_name="us-east-1",
        endpoint_url=cloud_map.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert [item["Id"] for item in client.list_namespaces()["Namespaces"]] == [namespace.id]


# -- counts, as AWS answers them ---------------------------------------------------------------------


def _cli(cloud_map: LocalCloudMap, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``ecs-discovery`` as a user runs it against the local run (the banner's command)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(
        {
            **DUMMY_CREDENTIALS,
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
    )
    command = [sys.executable, "-m", "ecs_discovery_tools", *argv]
    command += ["--region", cloud_map.region, "--endpoint-url", cloud_map.endpoint_url]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL
    )


def test_services_carry_their_instance_count_and_namespaces_their_service_count(cloud_map, tmp_path):
    namespace = cloud_map.create_namespace("corp")
    worker = cloud_map.create_service("worker", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    cloud_map.create_service("backend", namespace.id, DNS_CONFIG, {"FailureThreshold": 1})
    cloud_map.create_service("mesh", namespace.id, None, {"FailureThreshold": 1})  # Service Connect's
    tasks = [
        cloud_map.register_task(worker.id, ipv4=f"127.0.0.{index}", port=8080, attributes={}) for index in (2, 3, 4)
    ]
    cloud_map.set_health(worker.id, tasks[0], healthy=False)  # counted all the same: registered

    def instance_counts() -> dict[str, Any]:
        return {item["Name"]: item.get("InstanceCount") for item in cloud_map.client.list_services()["Services"]}

    assert instance_counts() == {"worker": 3, "backend": 0, "mesh": 0}
    assert cloud_map.client.get_service(Id=worker.id)["Service"]["InstanceCount"] == 3
    (listed,) = cloud_map.client.list_namespaces()["Namespaces"]
    assert listed["ServiceCount"] == 3
    assert cloud_map.client.get_namespace(Id=namespace.id)["Namespace"]["ServiceCount"] == 3

    cloud_map.deregister_task(worker.id, tasks[1])
    assert instance_counts()["worker"] == 2

    # What `ecs-discovery services -n corp` shows against a local run (issue 19: '-' before).
    listing = _cli(cloud_map, tmp_path, "services", "-n", "corp", "--json")
    assert listing.returncode == 0, listing.stderr
    shown = {service["name"]: service["instance_count"] for service in json.loads(listing.stdout)["services"]}
    assert shown == {"worker": 2, "backend": 0, "mesh": 0}
    table = _cli(cloud_map, tmp_path, "services", "-n", "corp")
    header, *rows = table.stdout.splitlines()
    start = header.index("INSTANCES")  # columns are aligned under their headers
    assert {row.split()[0]: row[start:].split()[0] for row in rows} == {"backend": "0", "mesh": "0", "worker": "2"}
    namespaces = _cli(cloud_map, tmp_path, "namespaces", "--json")
    assert [item["service_count"] for item in json.loads(namespaces.stdout)["namespaces"]] == [3]
