"""Namespaces shared through AWS RAM: the OWNER and CREATED BY columns, ``--owner-account``, and
``OwnerAccount`` / ARNs sent only for another account's namespace. Three stand-ins at the API
boundary: botocore's Stubber (every request and answer checked against botocore's model), moto
in-process (which returns no owners), and the local run's Cloud Map stand-in with two accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ecs_discovery_tools.cli import ExitCode
from ecs_discovery_tools.cli import cloudmap as cli_cloudmap
from ecs_discovery_tools.local.accounts import credentials_of
from ecs_discovery_tools.local.cloud_map import LocalCloudMap
from tests.cli.conftest import REGION, clean_aws_environ, run_cli, run_cli_process

OWNER, CONSUMER, MOTO_ACCOUNT = "111111111111", "222222222222", "123456789012"
NS_ID = "ns-0123456789abcdef"
NS_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:namespace/{NS_ID}"
WORKER_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:service/srv-worker0001"
BACKEND_ARN = f"arn:aws:servicediscovery:{REGION}:{OWNER}:service/srv-backend001"
ATTRIBUTES = {"AWS_INSTANCE_IPV4": "10.1.0.5", "AWS_INSTANCE_PORT": "8080"}
RECORDS = {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]}


# -- botocore's Stubber: answers shaped by the model, requests checked against it ------------------


def _namespace(owner: str, namespace_id: str = NS_ID) -> dict[str, Any]:
    return {
        "Id": namespace_id,
        "Arn": f"arn:aws:servicediscovery:{REGION}:{owner}:namespace/{namespace_id}",
        "ResourceOwner": owner,
        "Name": "corp",
        "Type": "DNS_PRIVATE",
        "Properties": {"HttpProperties": {"HttpName": "corp"}},
        "ServiceCount": 2,
    }


def _services(owner: str) -> list[dict[str, Any]]:
    return [
        {
            "Id": "srv-backend001",
            "Arn": BACKEND_ARN.replace(OWNER, owner),
            "ResourceOwner": owner,
            "CreatedByAccount": CONSUMER,
            "Name": "backend",
            "Type": "DNS_HTTP",
            "InstanceCount": 1,
            "DnsConfig": RECORDS,
            "HealthCheckCustomConfig": {},
        },
        {
            "Id": "srv-worker0001",
            "Arn": WORKER_ARN.replace(OWNER, owner),
            "ResourceOwner": owner,
            "CreatedByAccount": owner,
            "Name": "worker",
            "Type": "DNS_HTTP",
            "InstanceCount": 1,
            "DnsConfig": RECORDS,
            "HealthCheckCustomConfig": {},
        },
    ]


@pytest.fixture
def stubbed(aws_env, monkeypatch) -> Iterator[Stubber]:
    """A Cloud Map client whose answers the test queues, handed to the CLI; STS answers through moto
    (the caller is moto's account, 123456789012)."""
    with mock_aws():
        client: Any = botocore.session.get_session().create_client(
            "servicediscovery", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        stubber = Stubber(client)
        monkeypatch.setattr(cli_cloudmap, "make_client", lambda **kwargs: client)
        with stubber:
            yield stubber
        stubber.assert_no_pending_responses()


def _queue_namespace_and_services(stubber: Stubber, owner: str, filter_value: str) -> None:
    stubber.add_response("list_namespaces", {"Namespaces": [_namespace(owner)]}, {"MaxResults": 100})
    stubber.add_response(
        "list_services",
        {"Services": _services(owner)},
        {"Filters": [{"Name": "NAMESPACE_ID", "Values": [filter_value], "Condition": "EQ"}], "MaxResults": 100},
    )


def test_a_namespace_another_account_owns_is_read_by_arn_with_owner_account(stubbed):
    _queue_namespace_and_services(stubbed, OWNER, NS_ARN)
    stubbed.add_response(
        "discover_instances",
        {"Instances": [{"InstanceId": "task-1", "HealthStatus": "HEALTHY", "Attributes": ATTRIBUTES}]},
        {"NamespaceName": "corp", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000,
         "OwnerAccount": OWNER},
    )  # fmt: skip

    result = run_cli("instances", "worker", "-n", "corp", "--json")

    assert result.code == ExitCode.OK, result.err
    document = result.json()
    assert document["owner_account"] == OWNER
    assert document["namespace"]["owner"] == OWNER and document["namespace"]["arn"] == NS_ARN
    assert (document["service"]["resource_owner"], document["service"]["created_by_account"]) == (OWNER, OWNER)
    assert [instance["ipv4"] for instance in document["instances"]] == ["10.1.0.5"]


def test_the_callers_own_namespace_is_read_by_id_without_owner_account(stubbed):
    # STS says the caller is 123456789012, the namespace's ResourceOwner: nothing marks it as shared.
    _queue_namespace_and_services(stubbed, MOTO_ACCOUNT, NS_ID)
    stubbed.add_response(
        "discover_instances",
        {"Instances": []},
        {"NamespaceName": "corp", "ServiceName": "worker", "HealthStatus": "ALL", "MaxResults": 1000},
    )

    result = run_cli("instances", "worker", "-n", "corp", "--json")

    assert result.code == ExitCode.OK, result.err
    assert result.json()["owner_account"] is None


def test_services_table_shows_owner_and_created_by(stubbed):
    _queue_namespace_and_services(stubbed, OWNER, NS_ARN)

    result = run_cli("services", "-n", "corp")

    assert result.code == ExitCode.OK, result.err
    header, *rows = result.out.splitlines()
    assert header.split()[-4:] == ["OWNER", "CREATED", "BY", "ID"]
    assert [row.split()[-3:] for row in rows] == [
        [OWNER, CONSUMER, "srv-backend001"],
        [OWNER, OWNER, "srv-worker0001"],
    ]


def test_services_json_carries_owner_and_created_by(stubbed):
    _queue_namespace_and_services(stubbed, OWNER, NS_ARN)

    result = run_cli("services", "-n", "corp", "--json")

    assert result.code == ExitCode.OK, result.err
    owners = {s["name"]: (s["resource_owner"], s["created_by_account"]) for s in result.json()["services"]}
    assert owners == {"backend": (OWNER, CONSUMER), "worker": (OWNER, OWNER)}


def test_owner_account_picks_the_shared_namespace_among_two_of_one_name(stubbed):
    own, shared = _namespace(MOTO_ACCOUNT, "ns-0000000000000000"), _namespace(OWNER)
    stubbed.add_response("list_namespaces", {"Namespaces": [own, shared]}, {"MaxResults": 100})
    stubbed.add_response(
        "list_services",
        {"Services": _services(OWNER)},
        {"Filters": [{"Name": "NAMESPACE_ID", "Values": [NS_ARN], "Condition": "EQ"}], "MaxResults": 100},
    )

    result = run_cli("services", "-n", "corp", "--owner-account", OWNER, "--json")

    assert result.code == ExitCode.OK, result.err
    assert result.json()["namespace"]["id"] == NS_ID


def test_namespaces_table_and_json_show_the_owner(stubbed):
    namespaces = {"Namespaces": [_namespace(OWNER), _namespace(MOTO_ACCOUNT, "ns-0000000000000000")]}
    stubbed.add_response("list_namespaces", namespaces, {"MaxResults": 100})
    stubbed.add_response("list_namespaces", namespaces, {"MaxResults": 100})

    table = run_cli("namespaces")
    only_owner = run_cli("namespaces", "--owner-account", OWNER, "--json")

    assert table.code == ExitCode.OK, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["NAME", "ID", "TYPE", "OWNER", "SERVICES"]
    assert sorted(row.split()[3] for row in rows) == [OWNER, MOTO_ACCOUNT]
    assert [(n["id"], n["owner"], n["resource_owner"]) for n in only_owner.json()["namespaces"]] == [
        (NS_ID, OWNER, OWNER)
    ]


# -- moto in-process: no owners in its answers ----------------------------------------------------


def test_with_moto_the_owner_is_the_arns_account_and_created_by_is_unknown(registry):
    namespaces = run_cli("namespaces")
    services = run_cli("services", "-n", "corp", "--json")

    assert namespaces.code == ExitCode.OK and services.code == ExitCode.OK, namespaces.err + services.err
    assert {row.split()[3] for row in namespaces.out.splitlines()[1:]} == {MOTO_ACCOUNT}
    worker = {s["name"]: s for s in services.json()["services"]}["worker"]
    assert (worker["resource_owner"], worker["created_by_account"]) == (MOTO_ACCOUNT, None)


def test_owner_account_of_an_account_that_owns_no_such_namespace_is_not_found(registry):
    result = run_cli("services", "-n", "corp", "--owner-account", OWNER)

    assert result.code == ExitCode.NOT_FOUND
    assert result.err.count("\n") == 1 and f"owned by account {OWNER} not found" in result.err


@pytest.mark.parametrize(
    "value",
    ["11111111111", "1111111111111", "11111111111\n", " 111111111111", "abcdefghijkl", "\u0661" * 12, "-1",
     "1e11", "$(id)", "1" * 5000],
)  # fmt: skip
def test_owner_account_must_be_twelve_ascii_digits(registry, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        run_cli("services", "-n", "corp", "--owner-account", value)

    assert exit_.value.code == ExitCode.USAGE
    assert "expected an AWS account ID of 12 digits" in capsys.readouterr().err


# -- the local run's stand-in: two accounts, one namespace ------------------------------------------


@pytest.fixture(scope="module")
def shared_registry() -> Iterator[LocalCloudMap]:
    """Namespace corp of 111111111111 with worker (two tasks); backend created and registered by 222222222222."""
    cloud_map = LocalCloudMap(region=REGION, account=OWNER).start()
    try:
        namespace = cloud_map.create_namespace("corp")
        worker = cloud_map.create_service("worker", namespace.id, RECORDS, {"FailureThreshold": 1})
        for address in ("127.0.0.2", "127.0.0.3"):
            cloud_map.register_task(worker.id, ipv4=address, port=8080, attributes={})
        consumer = boto3.Session().client(
            "servicediscovery",
            region_name=REGION,
            endpoint_url=cloud_map.endpoint_url,
            aws_access_key_id=credentials_of(CONSUMER)["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key="testing",
        )
        backend = consumer.create_service(Name="backend", NamespaceId=namespace.arn, DnsConfig=RECORDS)["Service"]
        consumer.register_instance(
            ServiceId=backend["Arn"], InstanceId="task-b", Attributes={"AWS_INSTANCE_IPV4": "127.0.0.4"}
        )
        yield cloud_map
    finally:
        cloud_map.stop()


def _as(account: str, tmp_path) -> dict[str, str]:
    return clean_aws_environ(tmp_path, **credentials_of(account), AWS_REGION=REGION)


def test_the_consumer_account_lists_the_shared_namespace_with_owners(shared_registry, tmp_path):
    env = _as(CONSUMER, tmp_path)
    endpoint = ["--endpoint-url", shared_registry.endpoint_url]

    namespaces = run_cli_process(["namespaces", *endpoint], env)
    services = run_cli_process(["services", "-n", "corp", *endpoint, "--json"], env)

    assert namespaces.code == ExitCode.OK, namespaces.err
    assert namespaces.out.splitlines()[1].split()[3] == OWNER
    assert services.code == ExitCode.OK, services.err
    owners = {s["name"]: (s["resource_owner"], s["created_by_account"]) for s in services.json()["services"]}
    assert owners == {"backend": (OWNER, CONSUMER), "worker": (OWNER, OWNER)}


def test_the_consumer_account_discovers_the_owners_instances_with_owner_account(shared_registry, tmp_path):
    # The stand-in answers NamespaceNotFound to another account's DiscoverInstances without OwnerAccount.
    result = run_cli_process(
        ["instances", "worker", "-n", "corp", "--endpoint-url", shared_registry.endpoint_url, "--json"],
        _as(CONSUMER, tmp_path),
    )

    assert result.code == ExitCode.OK, result.err
    document = result.json()
    assert (document["source"], document["owner_account"]) == ("DiscoverInstances", OWNER)
    assert sorted(instance["ipv4"] for instance in document["instances"]) == ["127.0.0.2", "127.0.0.3"]


def test_the_owner_account_reads_its_namespace_as_its_own(shared_registry, tmp_path):
    result = run_cli_process(
        ["instances", "backend", "-n", "corp", "--endpoint-url", shared_registry.endpoint_url, "--json"],
        _as(OWNER, tmp_path),
    )

    assert result.code == ExitCode.OK, result.err
    document = result.json()
    assert document["owner_account"] is None  # STS at the stand-in says the caller is the owner
    assert (document["service"]["resource_owner"], document["service"]["created_by_account"]) == (OWNER, CONSUMER)
    assert [instance["ipv4"] for instance in document["instances"]] == ["127.0.0.4"]
