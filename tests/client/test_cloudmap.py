"""ecs_discovery_client.cloudmap against the Cloud Map API as AWS defines it.

End to end through moto (in-process and as a server on loopback), corrected where moto 5.2.5 differs
from the API reference (tests/cloudmap_registry.py); and through botocore's Stubber for the shapes
moto never produces. Stubber validates every request and every fixture response against botocore's
service model, so a fixture that AWS could not send fails the test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ecs_discovery_client.cloudmap import (
    DISCOVER_MAX_RESULTS,
    CloudMapConfigError,
    CloudMapError,
    CloudMapReader,
    DnsRecord,
    Instance,
    Namespace,
    Service,
    make_client,
    parse_port,
    printable,
)
from tests.cloudmap_registry import ACCOUNT, RECORDS, REGION, TASK_IDS, aws_semantics, populate
from tests.cloudmap_registry import moto_server as running_moto_server

CORP = Namespace(id="ns-corp0000000000001", name="corp", type="DNS_PRIVATE", http_name="corp")
CORP_RECORDS = (DnsRecord("A", 10), DnsRecord("SRV", 10))


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def moto_registry(aws_env: None) -> Iterator[Any]:
    with mock_aws(), aws_semantics():
        yield populate(boto3.client("servicediscovery", region_name=REGION))


def stubbed() -> tuple[Any, Stubber]:
    client: Any = botocore.session.get_session().create_client(
        "servicediscovery", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


# -- end to end through moto --------------------------------------------------------------------------


def test_services_created_every_way_are_listed_and_only_the_namespaces(moto_registry):
    reader = CloudMapReader(make_client())
    corp = reader.find_namespace("corp")

    services = {service.name: service for service in reader.list_services(corp)}

    # CloudFormation's form, the API's top-level NamespaceId, the deprecated DnsConfig.NamespaceId and
    # Service Connect's API-only service; not ledger (namespace other) nor billing (namespace apps).
    assert sorted(services) == ["backend", "legacy", "mesh", "worker"]
    assert services["worker"].dns_name(corp) == "worker.corp" and services["worker"].has_srv
    assert services["worker"].health_check == "custom"
    assert services["backend"].dns_name(corp) == "backend.corp" and not services["backend"].has_srv
    assert services["legacy"].dns_name(corp) == "legacy.corp"
    assert services["mesh"].dns_name(corp) is None  # API-only: nothing in DNS
    assert services["mesh"].type == "HTTP" and services["mesh"].dns_records == ()


def test_http_namespace_services_have_no_dns_config_and_are_listed(moto_registry):
    reader = CloudMapReader(make_client())
    apps = reader.find_namespace("apps")

    (billing,) = reader.list_services(apps)
    listing = reader.list_instances(apps, billing)

    assert apps.type == "HTTP" and billing.name == "billing" and billing.dns_name(apps) is None
    assert [(instance.ipv4, instance.port) for instance in listing.instances] == [("10.0.1.70", 7000)]


@pytest.mark.parametrize("instances_api", ["discover", "list"])
def test_instances_with_health_and_the_attributes_ecs_writes(moto_registry, instances_api):
    reader = CloudMapReader(make_client(), instances_api=instances_api)
    corp = reader.find_namespace("corp")
    worker = reader.find_service(corp, "worker.corp")

    listing = reader.list_instances(corp, worker)

    assert listing.source == {"discover": "DiscoverInstances", "list": "ListInstances"}[instances_api]
    rows = [(i.id, i.ipv4, i.port, i.health, i.availability_zone) for i in listing.instances]
    assert rows == [
        (TASK_IDS[0], "10.0.1.10", 8080, "HEALTHY", "eu-west-1a"),
        (TASK_IDS[2], "10.0.1.30", 8080, "UNHEALTHY", "eu-west-1a"),
        (TASK_IDS[1], "10.0.2.20", 8080, "HEALTHY", "eu-west-1b"),
    ]
    first = listing.instances[0]
    assert (first.task_definition_family, first.cluster, first.ecs_service, first.region) == (
        "corp-worker",
        "corp-cluster",
        "worker",
        REGION,
    )
    assert listing.healthy == 2


@pytest.mark.parametrize("instances_api", ["discover", "list"])
def test_every_creation_form_has_its_instances_listed(moto_registry, instances_api):
    reader = CloudMapReader(make_client(), instances_api=instances_api)
    corp = reader.find_namespace("corp")

    found = {
        service.name: [instance.ipv4 for instance in reader.list_instances(corp, service).instances]
        for service in reader.list_services(corp)
    }

    assert found == {
        "backend": ["10.0.2.40"],
        "legacy": ["10.0.1.50"],
        "mesh": ["10.0.2.60"],
        "worker": ["10.0.1.10", "10.0.1.30", "10.0.2.20"],
    }


def test_pages_that_the_filter_left_empty_are_read_through(aws_env):
    with mock_aws(), aws_semantics():
        client = boto3.client("servicediscovery", region_name=REGION)
        client.create_private_dns_namespace(Name="corp", Vpc="vpc-1")
        client.create_private_dns_namespace(Name="busy", Vpc="vpc-2")
        ids = {item["Name"]: item["Id"] for item in client.list_namespaces()["Namespaces"]}
        client.create_service(Name="first", NamespaceId=ids["corp"], DnsConfig=RECORDS)
        for index in range(250):  # pages 1-3 of 100: the later ones hold no corp service
            client.create_service(Name=f"busy-{index}", NamespaceId=ids["busy"], DnsConfig=RECORDS)
        client.create_service(Name="last", NamespaceId=ids["corp"], DnsConfig=RECORDS)
        calls: list[dict[str, Any]] = []
        reader_client = make_client()
        reader_client.meta.events.register(
            "provide-client-params.servicediscovery.ListServices", lambda params, **_: calls.append(dict(params))
        )
        reader = CloudMapReader(reader_client)
        corp = Namespace(id=ids["corp"], name="corp", type="DNS_PRIVATE")

        assert [service.name for service in reader.list_services(corp)] == ["first", "last"]
        assert len(calls) == 3 and all(call["MaxResults"] == 100 for call in calls)
        with pytest.raises(CloudMapError) as cut:
            CloudMapReader(make_client(), max_pages=2).list_services(corp)
    assert cut.value.kind == "truncated" and "more than 2 pages" in cut.value.message


def test_discover_instances_goes_to_a_configured_endpoint_without_the_data_prefix(aws_env, monkeypatch):
    with running_moto_server() as endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICEDISCOVERY", endpoint)
        populate(boto3.client("servicediscovery", region_name=REGION))
        client = make_client(max_attempts=1)
        reader = CloudMapReader(client)
        corp = reader.find_namespace("corp")
        listing = reader.list_instances(corp, reader.find_service(corp, "worker"))
    assert client.meta.config.inject_host_prefix is False
    assert listing.source == "DiscoverInstances" and len(listing.instances) == 3


def test_the_aws_endpoint_keeps_the_data_plane_host_prefix(aws_env):
    client = make_client()
    assert client.meta.endpoint_url == f"https://servicediscovery.{REGION}.amazonaws.com"
    assert client.meta.config.inject_host_prefix is True  # DiscoverInstances -> data-servicediscovery...


def test_moto_still_needs_the_corrections(aws_env):
    """When this fails, moto honours the API here: drop the matching correction in cloudmap_registry."""
    with mock_aws():
        client = boto3.client("servicediscovery", region_name=REGION)
        client.create_private_dns_namespace(Name="corp", Vpc="vpc-1")
        client.create_private_dns_namespace(Name="other", Vpc="vpc-2")
        ids = {item["Name"]: item["Id"] for item in client.list_namespaces()["Namespaces"]}
        client.create_service(Name="mine", NamespaceId=ids["corp"], DnsConfig=RECORDS)
        client.create_service(Name="theirs", NamespaceId=ids["other"], DnsConfig=RECORDS)
        client.create_service(Name="old", DnsConfig={"NamespaceId": ids["corp"], **RECORDS})
        filtered = client.list_services(Filters=[{"Name": "NAMESPACE_ID", "Values": [ids["corp"]]}])["Services"]
        assert {service["Name"] for service in filtered} == {"mine", "theirs", "old"}  # filter ignored
        with pytest.raises(client.exceptions.ServiceNotFound):
            client.discover_instances(NamespaceName="corp", ServiceName="old")


# -- shapes moto does not produce (Stubber: botocore validates requests and responses) ----------------

LIST_SERVICES_REQUEST = {
    "Filters": [{"Name": "NAMESPACE_ID", "Values": [CORP.id], "Condition": "EQ"}],
    "MaxResults": 100,
}


def test_every_documented_service_shape_is_kept_and_never_filtered_again():
    client, stub = stubbed()
    arn = f"arn:aws:servicediscovery:{REGION}:{ACCOUNT}:service/"
    # Page 1 is empty but has a token: AWS filters after taking MaxResults services.
    stub.add_response("list_services", {"Services": [], "NextToken": "t1"}, LIST_SERVICES_REQUEST)
    stub.add_response(
        "list_services",
        {
            "Services": [
                {  # CloudFormation / API with the top-level NamespaceId: DnsConfig without it
                    "Id": "srv-cfn0000000000001",
                    "Arn": arn + "srv-cfn0000000000001",
                    "Name": "worker",
                    "Type": "DNS_HTTP",
                    "InstanceCount": 2,
                    "DnsConfig": {
                        "RoutingPolicy": "MULTIVALUE",
                        "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}],
                    },
                    "HealthCheckCustomConfig": {"FailureThreshold": 1},
                },
                {  # created with the deprecated DnsConfig.NamespaceId
                    "Id": "srv-old0000000000001",
                    "Name": "legacy",
                    "DnsConfig": {"NamespaceId": CORP.id, "DnsRecords": [{"Type": "A", "TTL": 60}]},
                },
                {  # Service Connect / HTTP namespace: API only, no DnsConfig
                    "Id": "srv-http000000000001",
                    "Name": "mesh",
                    "Type": "HTTP",
                    "ResourceOwner": ACCOUNT,
                },
                {  # a namespace shared from another account (RAM)
                    "Id": "srv-shared0000000001",
                    "Name": "shared",
                    "Type": "DNS_HTTP",
                    "ResourceOwner": "210987654321",
                    "DnsConfig": {"DnsRecords": [{"Type": "AAAA", "TTL": 5}]},
                    "HealthCheckConfig": {"Type": "HTTP", "ResourcePath": "/health"},
                },
            ],
        },
        {**LIST_SERVICES_REQUEST, "NextToken": "t1"},
    )
    with stub:
        services = CloudMapReader(client).list_services(CORP)
    stub.assert_no_pending_responses()

    assert [service.name for service in services] == ["legacy", "mesh", "shared", "worker"]
    by_name = {service.name: service for service in services}
    assert by_name["worker"].instance_count == 2 and by_name["worker"].health_check == "custom"
    assert by_name["shared"].health_check == "route53" and by_name["shared"].dns_name(CORP) == "shared.corp"
    assert by_name["mesh"].dns_name(CORP) is None and by_name["mesh"].health_check == "none"


def test_discover_instances_asks_by_http_name_with_every_health_status():
    reused = Namespace(id="ns-reused00000000001", name="corp", type="DNS_PRIVATE", http_name="corp-1a2b3c4d")
    service = Service(id="srv-cfn0000000000001", name="worker", dns_records=())
    instances = [
        {"InstanceId": TASK_IDS[0], "NamespaceName": "corp-1a2b3c4d", "ServiceName": "worker",
         "HealthStatus": "HEALTHY", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.1.10", "AWS_INSTANCE_PORT": "8080"}},
        {"InstanceId": TASK_IDS[1], "HealthStatus": "UNHEALTHY", "Attributes": {"AWS_INSTANCE_IPV4": "10.0.2.20"}},
        {"InstanceId": TASK_IDS[2], "HealthStatus": "UNKNOWN", "Attributes": {}},
        {"InstanceId": "i" * 64},  # 64 characters: the longest ID the API allows; no health, no attributes
    ]  # fmt: skip
    client, stub = stubbed()
    stub.add_response(
        "discover_instances",
        {"Instances": instances, "InstancesRevision": 7},
        {"NamespaceName": "corp-1a2b3c4d", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000},
    )
    with stub:
        listing = CloudMapReader(client).list_instances(reused, service)

    assert [(i.id[:4], i.health, i.ipv4, i.port) for i in listing.instances] == [
        (TASK_IDS[0][:4], "HEALTHY", "10.0.1.10", 8080),
        (TASK_IDS[1][:4], "UNHEALTHY", "10.0.2.20", None),
        (TASK_IDS[2][:4], "UNKNOWN", None, None),
        ("iiii", "UNKNOWN", None, None),
    ]
    assert not listing.truncated


def test_discover_instances_at_its_ceiling_is_reported_as_possibly_truncated():
    client, stub = stubbed()
    many = [{"InstanceId": f"task-{index}", "HealthStatus": "HEALTHY"} for index in range(DISCOVER_MAX_RESULTS)]
    stub.add_response("discover_instances", {"Instances": many})
    with stub:
        listing = CloudMapReader(client).list_instances(CORP, Service(id="srv-1", name="worker"))
    assert listing.truncated and len(listing.instances) == DISCOVER_MAX_RESULTS


def test_denied_discover_instances_falls_back_to_the_listing_for_good():
    client, stub = stubbed()
    service = Service(id="srv-cfn0000000000001", name="worker", health_check="custom")
    stub.add_client_error(
        "discover_instances", "AccessDeniedException", "not authorized to perform: servicediscovery:DiscoverInstances"
    )
    for _ in range(2):  # the second listing goes straight to ListInstances
        stub.add_response(
            "list_instances",
            {"Instances": [{"Id": TASK_IDS[0], "Attributes": {"AWS_INSTANCE_IPV4": "10.0.1.10"}}], "NextToken": "p2"},
            {"ServiceId": service.id, "MaxResults": 100},
        )
        stub.add_response(
            "list_instances",
            {"Instances": [{"Id": TASK_IDS[1], "Attributes": {"AWS_INSTANCE_IPV4": "10.0.2.20"}}]},
            {"ServiceId": service.id, "MaxResults": 100, "NextToken": "p2"},
        )
        stub.add_response(
            "get_instances_health_status",
            {"Status": {TASK_IDS[0]: "HEALTHY", TASK_IDS[1]: "UNHEALTHY"}},
            {"ServiceId": service.id, "MaxResults": 100},
        )
    reader = CloudMapReader(client)
    with stub:
        first = reader.list_instances(CORP, service)
        second = reader.list_instances(CORP, service)
    stub.assert_no_pending_responses()
    assert first == second and first.source == "ListInstances" and reader.instances_api == "list"
    assert [(i.ipv4, i.health) for i in first.instances] == [("10.0.1.10", "HEALTHY"), ("10.0.2.20", "UNHEALTHY")]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("RequestLimitExceeded", "throttled"),
        ("ThrottlingException", "throttled"),
        ("AccessDeniedException", "access_denied"),
        ("UnrecognizedClientException", "credentials"),
        ("NamespaceNotFound", "not_found"),
        ("InvalidInput", "aws"),
    ],
)
def test_aws_errors_are_classified_and_their_text_escaped(code, kind):
    client, stub = stubbed()
    stub.add_client_error("list_namespaces", code, "bad\x1b[31mred\nsecond line\u202eevil")
    with stub, pytest.raises(CloudMapError) as failure:
        CloudMapReader(client).list_namespaces()
    assert failure.value.kind == kind
    message = failure.value.message
    assert "\x1b" not in message and "\n" not in message and "\u202e" not in message
    if kind != "throttled":
        assert "bad\\x1b[31mred\\nsecond line\\u202eevil" in message


# -- registry values are parsed strictly ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "port"),
    [("8080", 8080), ("1", 1), ("65535", 65535), ("0", None), ("65536", None), ("²", None), ("٣", None),
     ("8080 ", None), (" 8080", None), ("+80", None), ("-1", None), ("0x50", None), ("8_080", None),
     ("", None), ("9" * 10_000, None), (None, None)],
)  # fmt: skip
def test_ports_are_ascii_digits_in_range(text, port):
    assert parse_port(text) == port


@pytest.mark.parametrize("address", ["999.1.1.1", "10.0.0.1\n", "10.0.0.1 ", "१०.0.0.1", "::1", "", "x" * 5000])
def test_addresses_that_are_not_ipv4_are_none(address):
    assert Instance(id="t", health="HEALTHY", attributes={"AWS_INSTANCE_IPV4": address}).ipv4 is None


@pytest.mark.parametrize("name", ["bad_name?", "a..b", "-lead", "x" * 64, "über", "a b", "new\nline", "."])
def test_service_names_dns_cannot_carry_have_no_dns_name(name):
    service = Service(id="srv-1", name=name, dns_records=(), routing_policy=None)
    with_records = Service(id="srv-1", name=name, dns_records=CORP_RECORDS)
    assert service.dns_name(CORP) is None and with_records.dns_name(CORP) is None


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("a\\nb", "a\\\\nb"),  # a real backslash is escaped too: the output is unambiguous
        ("tab\there", "tab\\there"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("emoji \U0001f600 ok", "emoji \U0001f600 ok"),
        ("x" * 300, "x" * 200 + "...(+100 chars)"),
    ],
)
def test_printable_escapes_what_a_terminal_would_interpret(raw, shown):
    assert printable(raw) == shown


# -- client configuration: one clean error, never a traceback ------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["not a url", "http://[::1", "ftp://127.0.0.1:5000", "http://", "http://exa mple.com", "http://127.0.0.1:99999",
     "http://127.0.0.1:0", "http://a\nb", "http://127.0.0.1:5000\n", "https://\u202eexample.com", "://x"],
)  # fmt: skip
def test_malformed_endpoint_urls_are_config_errors(aws_env, monkeypatch, url):
    with pytest.raises(CloudMapConfigError) as argument:
        make_client(endpoint_url=url)
    assert "--endpoint-url" in argument.value.message and "\n" not in argument.value.message
    for variable in ("AWS_ENDPOINT_URL_SERVICEDISCOVERY", "AWS_ENDPOINT_URL"):
        monkeypatch.setenv(variable, url)
        with pytest.raises(CloudMapConfigError) as environment:
            make_client()
        assert variable in environment.value.message and "\n" not in environment.value.message
        monkeypatch.delenv(variable)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("AWS_MAX_ATTEMPTS", "abc", "AWS_MAX_ATTEMPTS"),
        ("AWS_MAX_ATTEMPTS", "1e9", "AWS_MAX_ATTEMPTS"),
        ("AWS_MAX_ATTEMPTS", "0", "out of range"),
        ("AWS_MAX_ATTEMPTS", "-3", "out of range"),
        ("AWS_MAX_ATTEMPTS", "99999999999999999999", "out of range"),
        ("AWS_REGION", "eu-west-1\n", "not a region name"),
        ("AWS_REGION", "eu west 1", "not a region name"),
        ("AWS_DEFAULTS_MODE", "bogus", "defaults mode"),
        ("AWS_ACCOUNT_ID_ENDPOINT_MODE", "bogus", "account_id_endpoint_mode"),
        ("AWS_REQUEST_CHECKSUM_CALCULATION", "bogus", "request_checksum_calculation"),
        ("AWS_PROFILE", "nobody", "AWS profile not found: nobody"),
    ],
)
def test_malformed_aws_settings_are_config_errors(aws_env, monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(CloudMapConfigError) as failure:
        make_client()
    assert expected in failure.value.message and "\n" not in failure.value.message


def test_unparsable_config_file_is_a_config_error(aws_env, monkeypatch, tmp_path):
    config = tmp_path / "broken-config"
    config.write_text("[default\nregion = \x00\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(CloudMapConfigError, match="Unable to parse config file"):
        make_client()


def test_no_region_is_a_config_error(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(CloudMapConfigError, match="no AWS region"):
        make_client()


def test_max_attempts_in_range_is_used(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    client = make_client()
    assert client.meta.config.retries["total_max_attempts"] == 4
    assert json.loads(json.dumps(client.meta.config.retries))["mode"] == "standard"


def test_ignored_endpoint_variables_are_not_checked(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")

    client = make_client()

    assert client.meta.endpoint_url == f"https://servicediscovery.{REGION}.amazonaws.com"
    assert client.meta.config.inject_host_prefix is True


def test_a_service_the_data_plane_does_not_know_yet_is_listed_through_the_control_plane():
    client, stub = stubbed()
    service = Service(id="srv-new0000000000001", name="fresh", health_check="none")
    stub.add_client_error("discover_instances", "ServiceNotFound", "no such service: fresh")
    stub.add_response(
        "list_instances",
        {"Instances": [{"Id": TASK_IDS[0], "Attributes": {"AWS_INSTANCE_IPV4": "10.0.1.10"}}]},
        {"ServiceId": service.id, "MaxResults": 100},
    )
    stub.add_response("discover_instances", {"Instances": []})
    reader = CloudMapReader(client)
    with stub:
        first = reader.list_instances(CORP, service)
        second = reader.list_instances(CORP, service)
    stub.assert_no_pending_responses()
    assert (first.source, [i.ipv4 for i in first.instances]) == ("ListInstances", ["10.0.1.10"])
    assert second.source == "DiscoverInstances" and reader.instances_api == "discover"


def test_the_corrected_stand_in_answers_in_shapes_the_model_validates(moto_registry):
    # ListNamespaces is left out: moto writes an SOA without its required TTL (a part the reader never reads).
    from botocore.validate import ParamValidator

    client = boto3.client("servicediscovery", region_name=REGION)
    model = client.meta.service_model
    filters = [{"Name": "NAMESPACE_ID", "Values": [moto_registry.corp_id], "Condition": "EQ"}]
    answers = {
        "ListServices": client.list_services(Filters=filters, MaxResults=100),
        "DiscoverInstances": client.discover_instances(NamespaceName="corp", ServiceName="worker", HealthStatus="ALL"),
        "ListInstances": client.list_instances(ServiceId=moto_registry.service_ids["worker"]),
    }
    for operation, answer in answers.items():
        answer.pop("ResponseMetadata", None)
        report = ParamValidator().validate(answer, model.operation_model(operation).output_shape)
        assert not report.has_errors(), f"{operation}: {report.generate_report()}"
    assert all("NamespaceId" not in service for service in answers["ListServices"]["Services"])


# -- namespaces shared through AWS RAM (issue 23) ------------------------------------------------------

OWNER = "444455556666"  # the account that created the namespace and shared it
CALLER = ACCOUNT  # the account reading it
SHARED_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:namespace/ns-shared0000000001"
SHARED_SERVICE_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:service/srv-shared0000000001"


def _shared_listing(stub: Stubber) -> None:
    """ListNamespaces as the caller sees it: its own namespace and one shared with it."""
    stub.add_response(
        "list_namespaces",
        {
            "Namespaces": [
                {"Id": CORP.id, "Arn": f"arn:aws:servicediscovery:{REGION}:{CALLER}:namespace/{CORP.id}",
                 "ResourceOwner": CALLER, "Name": "corp", "Type": "DNS_PRIVATE",
                 "Properties": {"HttpProperties": {"HttpName": "corp"}}},
                {"Id": "ns-shared0000000001", "Arn": SHARED_ARN, "ResourceOwner": OWNER, "Name": "partner",
                 "Type": "DNS_PRIVATE", "Properties": {"HttpProperties": {"HttpName": "partner"}}},
            ]
        },
        {"MaxResults": 100},
    )  # fmt: skip


def test_a_shared_namespace_is_read_by_its_arn_and_its_owner_account():
    # GIVEN a reader that knows its account, and a namespace another account shared with it
    client, stub = stubbed()
    _shared_listing(stub)
    stub.add_response(
        "list_services",
        {
            "Services": [
                {"Id": "srv-shared0000000001", "Arn": SHARED_SERVICE_ARN, "Name": "worker", "Type": "DNS_HTTP",
                 "ResourceOwner": OWNER, "CreatedByAccount": OWNER,
                 "DnsConfig": {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]}},
                {"Id": "srv-mine00000000001", "Arn": SHARED_SERVICE_ARN.replace("srv-shared", "srv-mine00"),
                 "Name": "reader", "ResourceOwner": OWNER, "CreatedByAccount": CALLER},
            ]
        },
        # "Specify the namespace ARN for namespaces that are shared with your Amazon Web Services account"
        {"Filters": [{"Name": "NAMESPACE_ID", "Values": [SHARED_ARN], "Condition": "EQ"}], "MaxResults": 100},
    )  # fmt: skip
    stub.add_response(
        "discover_instances",
        {"Instances": [{"InstanceId": TASK_IDS[0], "HealthStatus": "HEALTHY",
                        "Attributes": {"AWS_INSTANCE_IPV4": "10.1.0.7", "AWS_INSTANCE_PORT": "8080"}}]},
        # OwnerAccount: "For instances associated with namespaces that are shared with your account, you must specify"
        {"NamespaceName": "partner", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000,
         "OwnerAccount": OWNER},
    )  # fmt: skip
    reader = CloudMapReader(client, account_id=CALLER)

    # WHEN it lists the namespace's services and a service's instances
    with stub:
        partner = reader.find_namespace("partner")
        services = {service.name: service for service in reader.list_services(partner)}
        listing = reader.list_instances(partner, services["worker"])
    stub.assert_no_pending_responses()

    # THEN the owner and the creator of each are kept, and the instances were found
    assert (partner.resource_owner, partner.owner, reader.owner_account(partner)) == (OWNER, OWNER, OWNER)
    assert partner.as_dict()["resource_owner"] == OWNER
    assert (services["worker"].resource_owner, services["worker"].created_by_account) == (OWNER, OWNER)
    assert (services["reader"].resource_owner, services["reader"].created_by_account) == (OWNER, CALLER)
    assert services["reader"].as_dict(partner)["created_by_account"] == CALLER
    assert [(i.ipv4, i.port) for i in listing.instances] == [("10.1.0.7", 8080)]


def test_the_callers_own_namespace_is_read_as_before_sharing_existed():
    client, stub = stubbed()
    _shared_listing(stub)
    stub.add_response("list_services", {"Services": []}, LIST_SERVICES_REQUEST)
    stub.add_response(
        "discover_instances",
        {"Instances": []},
        {"NamespaceName": "corp", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000},
    )
    reader = CloudMapReader(client, account_id=CALLER)
    with stub:
        corp = reader.find_namespace("corp")
        reader.list_services(corp)
        reader.list_instances(corp, Service(id="srv-1", name="worker"))
    stub.assert_no_pending_responses()
    assert corp.resource_owner == CALLER and reader.owner_account(corp) is None


def test_without_the_callers_account_a_namespace_known_by_its_arn_is_read_as_shared():
    # The discovery page's case: the CDK library gives a reader of a shared namespace NAMESPACE_ID=<ARN>.
    client, stub = stubbed()
    partner = Namespace(id=SHARED_ARN, name="partner", type="DNS_PRIVATE")
    stub.add_response(
        "list_services",
        {"Services": []},
        {"Filters": [{"Name": "NAMESPACE_ID", "Values": [SHARED_ARN], "Condition": "EQ"}], "MaxResults": 100},
    )
    stub.add_response(
        "discover_instances",
        {"Instances": []},
        {"NamespaceName": "partner", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000,
         "OwnerAccount": OWNER},
    )  # fmt: skip
    reader = CloudMapReader(client)
    with stub:
        reader.list_services(partner)
        reader.list_instances(partner, Service(id="srv-1", name="worker"))
    stub.assert_no_pending_responses()
    assert partner.owner == OWNER


def test_without_the_callers_account_a_namespace_known_by_its_id_is_read_as_the_callers():
    # Unknown account, ID form: no guess (an extra STS call would be needed to tell), requests as before.
    client, stub = stubbed()
    owned = Namespace(id=CORP.id, name="corp", type="DNS_PRIVATE", resource_owner=OWNER)
    stub.add_response("list_services", {"Services": []}, LIST_SERVICES_REQUEST)
    stub.add_response(
        "discover_instances",
        {"Instances": []},
        {"NamespaceName": "corp", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000},
    )
    reader = CloudMapReader(client)
    with stub:
        reader.list_services(owned)
        reader.list_instances(owned, Service(id="srv-1", name="worker"))
    stub.assert_no_pending_responses()


def test_the_listing_fallback_names_a_shared_service_by_its_arn():
    client, stub = stubbed()
    partner = Namespace(id="ns-shared0000000001", name="partner", type="DNS_PRIVATE", arn=SHARED_ARN,
                        resource_owner=OWNER)  # fmt: skip
    service = Service(id="srv-shared0000000001", name="worker", arn=SHARED_SERVICE_ARN, health_check="custom")
    stub.add_client_error("discover_instances", "AccessDeniedException", "not authorized")
    stub.add_response(
        "list_instances",
        {"Instances": [{"Id": TASK_IDS[0], "Attributes": {"AWS_INSTANCE_IPV4": "10.1.0.7"}}]},
        {"ServiceId": SHARED_SERVICE_ARN, "MaxResults": 100},
    )
    stub.add_response(
        "get_instances_health_status",
        {"Status": {TASK_IDS[0]: "HEALTHY"}},
        {"ServiceId": SHARED_SERVICE_ARN, "MaxResults": 100},
    )
    with stub:
        listing = CloudMapReader(client, account_id=CALLER).list_instances(partner, service)
    stub.assert_no_pending_responses()
    assert [(i.ipv4, i.health) for i in listing.instances] == [("10.1.0.7", "HEALTHY")]


# Not 12 ASCII digits, yet 12 characters: what the model's length limits let through.
ARABIC_INDIC_DIGITS = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660\u0661\u0662"
NOT_ACCOUNTS = ["12345678901a", " 12345678901", "12345678901\n", "1234567890-1", "1e+123456789", ARABIC_INDIC_DIGITS]


@pytest.mark.parametrize("owner", NOT_ACCOUNTS)
def test_an_owner_or_creator_that_is_not_an_account_id_is_none(owner: str):
    client, stub = stubbed()
    stub.add_response(
        "list_services",
        {"Services": [{"Id": "srv-1", "Name": "worker", "ResourceOwner": owner, "CreatedByAccount": owner}]},
        LIST_SERVICES_REQUEST,
    )
    with stub:
        (service,) = CloudMapReader(client).list_services(CORP)
    assert (service.resource_owner, service.created_by_account) == (None, None)


@pytest.mark.parametrize(
    "account", [*NOT_ACCOUNTS, "12345678901", "1234567890123", "123456789012\n", "", 123456789012, b"123456789012"]
)
def test_a_bad_account_id_is_refused(account: object):
    client, _ = stubbed()
    with pytest.raises(ValueError, match="account_id must be a 12-digit AWS account ID"):
        CloudMapReader(client, account_id=account)  # pyright: ignore[reportArgumentType]
