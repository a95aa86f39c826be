"""The discovery page under real gunicorn, reading moto's Cloud Map API on loopback and calling real
servers found through the loopback DNS server, with several bad rows of each class beside good ones.

A bad row (a service name DNS cannot carry, hostile registry text, instance ports such as ``"²"``,
an answer nested 100,000 levels deep, NaN/Infinity, huge values, an API-only service) shows its
error in its own row; the page, the JSON API and ``/`` still answer 200, and the JSON is strict.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from botocore.validate import ParamValidator

from ecs_discovery_client.cloudmap import CloudMapReader
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer
from tests.apps.harness import (
    BACKEND_DIR,
    NAMESPACE,
    SPARE_HOSTS,
    WORKER_HOSTS,
    AppLauncher,
    RunningApp,
    StaticHttpServer,
    load_module,
)
from tests.cloudmap_registry import RECORDS, REGION, ecs_attributes
from tests.cloudmap_registry import moto_server as running_moto_server
from tests.fakes import LoopbackHttpServer, Request, Response

A_ONLY = {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]}

# Service names Cloud Map's API pattern refuses but a stand-in, a proxy or another tool may hand over.
NOT_DNS_NAMES = ["x" * 64, "has space", "<script>alert(1)</script>", "über", "esc\x1b[31mape"]
HUGE_NAME = "y" * 20_000
# Instance attributes as a careless or hostile registrant could write them.
ODD_INSTANCES = {
    "ports-odd": [
        {"AWS_INSTANCE_PORT": "²"},
        {"AWS_INSTANCE_PORT": "٣"},
        {"AWS_INSTANCE_PORT": "99999"},
        {"AWS_INSTANCE_PORT": "-1"},
        {"AWS_INSTANCE_IPV4": "999.1.1.1"},
    ],
    "values-huge": [
        {"AVAILABILITY_ZONE": "z" * 1024, "ECS_TASK_DEFINITION_FAMILY": "f" * 1024},
        {"AVAILABILITY_ZONE": "<b>bold</b>\u202e", "ECS_TASK_DEFINITION_FAMILY": "<img src=x onerror=alert(1)>"},
    ],
}
# Answers of services found through DNS, each served by a real HTTP server on a spare loopback address.
ANSWERS: dict[str, tuple[bytes, str]] = {
    "deep-json": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "deep-object": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
    "nan-json": (b'{"message": NaN, "x": Infinity, "y": -Infinity, "big": 1e999, "ok": 1.5}', "application/json"),
    "huge-json": (json.dumps({"message": "m" * 200_000}).encode(), "application/json"),
    "huge-int": (b'{"n": ' + b"9" * 5000 + b"}", "application/json"),
    "not-utf8": (b"\xff\xfe\x00<script>alert(1)</script>\x1b[2J", "text/plain"),
    "wide-json": (json.dumps({f"k{i}": list(range(500)) for i in range(500)}).encode()[:60_000], "application/json"),
}


@dataclass
class Page:
    backend: RunningApp
    namespace_id: str
    names: list[str]

    def api(self) -> dict[str, Any]:
        response = self.backend.get("/api/services")
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")

        def refuse(constant: str) -> None:
            raise AssertionError(f"{constant} in the page's JSON")

        return json.loads(response.text, parse_constant=refuse)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with running_moto_server() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def page(
    moto_endpoint: str, module_launcher: AppLauncher, dns_server: LoopbackDnsServer, workers, worker_port: int
) -> Iterator[Page]:
    client = boto3.client(
        "servicediscovery",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_private_dns_namespace(Name=NAMESPACE, Vpc="vpc-0123456789abcdef0")
    namespace_id = next(n["Id"] for n in client.list_namespaces()["Namespaces"] if n["Name"] == NAMESPACE)

    def service(name: str, **kwargs: Any) -> str:
        return client.create_service(Name=name, NamespaceId=namespace_id, **kwargs)["Service"]["Id"]

    def register(service_id: str, task: str, address: str, port: int | None, **extra: str) -> None:
        attributes = {**ecs_attributes(address, port, "eu-west-1a", "corp-task", "svc"), **extra}
        client.register_instance(ServiceId=service_id, InstanceId=task, Attributes=attributes)

    # The good row: the workers of the session, registered as ECS registers them.
    worker = service("worker", DnsConfig=RECORDS, HealthCheckCustomConfig={"FailureThreshold": 1})
    for index, host in enumerate(WORKER_HOSTS):
        register(worker, f"task-{index}", host, worker_port)
    service("backend", DnsConfig=A_ONLY)  # the page's own service: not listed
    for name in [*NOT_DNS_NAMES, HUGE_NAME]:
        register(service(name, DnsConfig=A_ONLY), "task-x", WORKER_HOSTS[0], worker_port)
    for name, instances in ODD_INSTANCES.items():
        service_id = service(name, DnsConfig=A_ONLY)
        dns_server.set_records(f"{name}.{NAMESPACE}", a=[WORKER_HOSTS[1]])
        for index, attributes in enumerate(instances):
            register(service_id, f"task-{index}", WORKER_HOSTS[1], worker_port, **attributes)
    servers: list[StaticHttpServer] = []
    for index, (name, (body, content_type)) in enumerate(ANSWERS.items()):
        host = SPARE_HOSTS[index]
        servers.append(StaticHttpServer(host, worker_port, 200, body, content_type))
        register(service(name, DnsConfig=A_ONLY), "task-0", host, worker_port)
        dns_server.set_records(f"{name}.{NAMESPACE}", a=[host])
    service("mesh", Type="HTTP")  # Service Connect: API only

    backend = module_launcher.backend(
        dns_server.port,
        NAMESPACE=NAMESPACE,
        NAMESPACE_ID=namespace_id,
        WORKER_SERVICE="worker",
        WORKER_PORT=str(worker_port),
        SERVICE_NAME="backend",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_ENDPOINT_URL_SERVICEDISCOVERY=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        DISCOVERY_REGISTRY_TTL="0",
        UPSTREAM_MAX_BODY_BYTES=str(4 * 1024 * 1024),
    )
    names = ["worker", *NOT_DNS_NAMES, HUGE_NAME[:512] + "... (+19488 chars)", *ODD_INSTANCES, *ANSWERS, "mesh"]
    try:
        yield Page(backend, namespace_id, names)
    finally:
        for server in servers:
            server.close()


def rows_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in document["services"]}


def test_every_row_is_listed_and_the_good_one_answers(page):
    document = page.api()

    assert document["error"] is None
    rows = rows_by_name(document)
    assert sorted(rows) == sorted(page.names)  # every service but the page's own
    worker = rows["worker"]
    assert worker["error"] is None and worker["dns_name"] == "worker.corp"
    assert worker["dns"]["address"] in WORKER_HOSTS and worker["call"]["status"] == 200
    assert worker["instances"]["healthy"] == worker["instances"]["total"] == 3
    assert worker["registry"] == {
        "zones": ["eu-west-1a"],
        "task_definitions": ["corp-task"],
        "source": "DiscoverInstances",
        # moto returns no ResourceOwner / CreatedByAccount: unknown, not guessed
        "resource_owner": None,
        "created_by_account": None,
    }
    assert worker["answered_by"]


@pytest.mark.parametrize("name", NOT_DNS_NAMES)
def test_a_service_name_that_is_not_a_dns_name_is_an_error_in_its_row(page, name):
    row = rows_by_name(page.api())[name]

    assert row["dns_name"] is None
    assert row["error"]["failure"] == "not_in_dns" and "not a DNS name" in row["error"]["detail"]
    assert row["instances"]["total"] == 1  # the registry part of the row still shows


def test_an_api_only_service_is_shown_without_dns(page):
    row = rows_by_name(page.api())["mesh"]

    assert row["dns_name"] is None and row["error"]["failure"] == "not_in_dns" and "API only" in row["error"]["detail"]


def test_odd_ports_and_addresses_are_ignored_not_fatal(page):
    row = rows_by_name(page.api())["ports-odd"]

    assert row["instances"]["total"] == 5 and row["instances"]["error"] is None
    assert row["call"]["status"] == 200 and row["dns"]["address"] == WORKER_HOSTS[1]


def test_huge_registry_values_are_cut(page):
    row = rows_by_name(page.api())["values-huge"]

    assert row["instances"]["total"] == 2
    zones, families = row["registry"]["zones"], row["registry"]["task_definitions"]
    # Both instances' values are shown (the huge ones cut, not dropped), each within bounds.
    assert len(zones) == 2 and any(zone.startswith("z" * 64) for zone in zones)
    assert len(families) == 2 and any(family.startswith("f" * 255) for family in families)
    assert all(len(zone) < 200 for zone in zones)
    assert all(len(family) < 400 for family in families)


@pytest.mark.parametrize("name", ["deep-json", "deep-object"])
def test_a_deeply_nested_answer_is_shown_as_text(page, name):
    row = rows_by_name(page.api())[name]

    assert row["call"]["status"] == 200 and row["error"] is None
    assert isinstance(row["answer"], str) and len(row["answer"]) <= 2000


def test_nan_and_infinity_become_null_and_the_json_stays_strict(page):
    row = rows_by_name(page.api())["nan-json"]  # page.api() refuses NaN/Infinity

    assert row["answer"] == {"message": None, "x": None, "y": None, "big": None, "ok": 1.5}
    assert row["message"] is None


@pytest.mark.parametrize("name", ["huge-json", "huge-int", "not-utf8", "wide-json"])
def test_huge_and_odd_answers_are_bounded(page, name):
    row = rows_by_name(page.api())[name]

    assert row["call"]["status"] == 200
    assert len(json.dumps(row["answer"])) < 100_000


def test_the_html_page_answers_and_escapes_every_row(page):
    response = page.backend.get("/services")

    assert response.status_code == 200
    html = response.text
    # Every name that needs no escaping appears as it is; the three that do are checked below.
    plain = [name for name in page.names if name.isascii() and name.isprintable() and "<" not in name]
    assert len(plain) == len(page.names) - 3
    for name in plain:
        assert f'data-service="{name}"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    assert "\x1b" not in html
    assert html.count('<tr class="service') == len(page.names)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_index_still_answers(page):
    response = page.backend.get("/")

    assert response.status_code == 200 and response.json()["worker"]["status"] == 200


def test_rows_stay_isolated_over_repeated_loads(page):
    for _ in range(3):
        rows = rows_by_name(page.api())
        assert rows["worker"]["error"] is None and rows["worker"]["call"]["status"] == 200
        assert page.backend.get("/services").status_code == 200


# -- the namespace's HttpName, when a reused name made it differ (Stubber: shapes moto does not produce) --


def test_a_reused_namespace_name_is_found_through_get_namespace_once():
    module = load_module(BACKEND_DIR / "discovery_page.py", "discovery_page_under_test")
    client = botocore.session.get_session().create_client(
        "servicediscovery", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stub = Stubber(client)
    namespace_id = "ns-reused0000000001"
    summary = {"Id": "srv-worker0000000001", "Name": "worker", "Type": "DNS_HTTP", "DnsConfig": A_ONLY}
    filters = [{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}]
    instance = {"InstanceId": "task-1", "HealthStatus": "HEALTHY", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.1.1"}}
    discover = {"ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000}
    stub.add_response("list_services", {"Services": [summary]}, {"Filters": filters, "MaxResults": 100})
    stub.add_client_error(
        "discover_instances", "NamespaceNotFound", "no corp", expected_params={"NamespaceName": "corp", **discover}
    )
    stub.add_response(
        "get_namespace",
        {
            "Namespace": {
                "Id": namespace_id,
                "Name": "corp",
                "Type": "DNS_PRIVATE",
                "Properties": {"HttpProperties": {"HttpName": "corp-3f2a9c1e"}},
            }
        },
        {"Id": namespace_id},
    )
    stub.add_response("discover_instances", {"Instances": [instance]}, {"NamespaceName": "corp-3f2a9c1e", **discover})
    # The next read goes to the HttpName at once.
    stub.add_response("list_services", {"Services": [summary]}, {"Filters": filters, "MaxResults": 100})
    stub.add_response("discover_instances", {"Instances": [instance]}, {"NamespaceName": "corp-3f2a9c1e", **discover})
    reader = module.RegistryReader(namespace_id, "corp", REGION, ttl=0)
    reader._reader = CloudMapReader(client)
    with stub, ThreadPoolExecutor(max_workers=2) as executor:
        first, _ = reader.read(executor)
        second, _ = reader.read(executor)
    stub.assert_no_pending_responses()
    for registry in (first, second):
        (worker,) = registry.services
        assert (worker.name, worker.total, worker.healthy, worker.error) == ("worker", 1, 1, None)


def test_a_huge_service_name_is_cut_in_its_row(page):
    document = page.api()
    (row,) = [row for row in document["services"] if row["name"].startswith("yyyy")]

    assert len(row["name"]) < 600 and row["error"]["failure"] == "not_in_dns"
    assert len(json.dumps(document)) < 1_000_000


# -- a namespace shared from another account through AWS RAM (issue 23) ------------------------------

OWNER = "444455556666"  # created the namespace and shared it
READER = "123456789012"  # the backend's account
SHARED_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:namespace/ns-partner00000001"
_TARGET_PREFIX = "Route53AutoNaming_v20170314."


class FakeCloudMap(LoopbackHttpServer):
    """The Cloud Map API (awsJson1_1) on loopback, answering from fixtures that botocore's model
    validates before they are served; it records each operation and its request."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        model = botocore.session.get_session().get_service_model("servicediscovery")
        for operation, answer in answers.items():
            report = ParamValidator().validate(answer, model.operation_model(operation).output_shape)
            assert not report.has_errors(), f"{operation}: {report.generate_report()}"
        self.calls: list[tuple[str, dict[str, Any]]] = []

        def respond(request: Request) -> Response:
            target = {key.lower(): value for key, value in request.headers.items()}.get("x-amz-target", "")
            operation = target.removeprefix(_TARGET_PREFIX)
            self.calls.append((operation, json.loads(request.body or b"{}")))
            if operation not in answers:
                error = {"__type": "InvalidInput", "message": f"{operation} is not served here"}
                return Response(400, json.dumps(error).encode(), "application/x-amz-json-1.1")
            return Response(200, json.dumps(answers[operation]).encode(), "application/x-amz-json-1.1")

        super().__init__(respond, host="127.0.0.1")


@pytest.fixture
def shared_namespace_page(launcher: AppLauncher, dns_server: LoopbackDnsServer, workers, worker_port: int):
    service_arn = f"arn:aws:servicediscovery:{REGION}:{OWNER}:service/"
    cloud_map = FakeCloudMap(
        {
            "ListServices": {
                "Services": [
                    {"Id": "srv-worker0000000001", "Arn": service_arn + "srv-worker0000000001", "Name": "worker",
                     "Type": "DNS_HTTP", "DnsConfig": A_ONLY, "ResourceOwner": OWNER, "CreatedByAccount": OWNER},
                    {"Id": "srv-report0000000001", "Arn": service_arn + "srv-report0000000001", "Name": "report",
                     "Type": "HTTP", "ResourceOwner": OWNER, "CreatedByAccount": READER},
                ]
            },
            "DiscoverInstances": {
                "Instances": [{"InstanceId": "task-1", "HealthStatus": "HEALTHY",
                               "Attributes": ecs_attributes(WORKER_HOSTS[2], worker_port, "eu-west-1b", "w", "w")}]
            },
        }
    ).start()  # fmt: skip
    dns_server.set_records("worker.partner", a=[WORKER_HOSTS[2]])
    backend = launcher.backend(
        dns_server.port,
        NAMESPACE="partner",
        NAMESPACE_ID=SHARED_ARN,  # what SharedNamespace.grant_discover_read gives its reader
        NAMESPACE_OWNER_ACCOUNT=OWNER,
        WORKER_HOST="worker.partner",
        WORKER_PORT=str(worker_port),
        SERVICE_NAME="backend",
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL_SERVICEDISCOVERY=cloud_map.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        DISCOVERY_REGISTRY_TTL="0",
    )
    try:
        yield backend, cloud_map
    finally:
        cloud_map.close()


def test_a_shared_namespace_is_listed_with_its_owner_and_each_services_creator(shared_namespace_page):
    backend, cloud_map = shared_namespace_page

    response = backend.get("/api/services")

    # THEN the rows say who owns the namespace and who created each service
    assert response.status_code == 200
    document = response.json()
    assert document["error"] is None
    rows = rows_by_name(document)
    worker, report = rows["worker"], rows["report"]
    assert (worker["registry"]["resource_owner"], worker["registry"]["created_by_account"]) == (OWNER, OWNER)
    assert (report["registry"]["resource_owner"], report["registry"]["created_by_account"]) == (OWNER, READER)
    assert worker["instances"]["healthy"] == 1 and worker["call"]["status"] == 200
    # AND the API was asked as it wants a shared namespace: by its ARN, with the owner's account
    operations = dict(cloud_map.calls)
    assert operations["ListServices"]["Filters"] == [
        {"Name": "NAMESPACE_ID", "Values": [SHARED_ARN], "Condition": "EQ"}
    ]
    discovered = [request for operation, request in cloud_map.calls if operation == "DiscoverInstances"]
    assert discovered and all(request["OwnerAccount"] == OWNER for request in discovered)
    assert {request["ServiceName"] for request in discovered} == {"worker", "report"}


def test_the_html_page_shows_the_owner_and_creator_columns(shared_namespace_page):
    backend, _ = shared_namespace_page

    html = backend.get("/services").text

    assert "<th>Owner</th><th>Created by</th>" in html
    assert html.count(f'<td class="num owner">{OWNER}</td>') == 2
    assert html.count(f'<td class="num created-by">{OWNER}</td>') == 1
    assert html.count(f'<td class="num created-by">{READER}</td>') == 1
