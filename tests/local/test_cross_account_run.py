"""Two accounts, one namespace, on this machine: the local Cloud Map stand-in plays a namespace that
its owner (111111111111) shares with a consumer account (222222222222) through AWS RAM.

What is shown here: the consumer creates its service in the owner's namespace by the namespace's
ARN and registers its task there with its own credentials; the registry answers with
``ResourceOwner`` and ``CreatedByAccount`` as AWS does; another account's requests are refused
where AWS refuses them; and the loopback DNS server, fed from the shared namespace, answers for
the services of both accounts (real DNS queries). Not shown yet: two apps' tasks running side by
side (docs/cross-account.md, "Locally").
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import dns.resolver
import pytest
from botocore.config import Config

from ecs_discovery_tools.local.accounts import credentials_of, request_account
from ecs_discovery_tools.local.cloud_map import LocalCloudMap, RegisteredService, RegistryDnsPublisher
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer

OWNER, CONSUMER, REGION = "111111111111", "222222222222", "eu-west-1"
RECORDS = {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]}


def client_of(cloud_map: LocalCloudMap, account: str, service: str = "servicediscovery") -> Any:
    credentials = credentials_of(account)
    return boto3.Session().client(
        service,
        region_name=REGION,
        endpoint_url=cloud_map.endpoint_url,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        config=Config(inject_host_prefix=False, retries={"max_attempts": 1}),
    )


class Shared:
    def __init__(self, cloud_map: LocalCloudMap) -> None:
        self.cloud_map = cloud_map
        self.namespace = cloud_map.create_namespace("corp")
        self.worker = cloud_map.create_service("worker", self.namespace.id, RECORDS, {"FailureThreshold": 1})
        for task, address in (("task-w1", "127.0.0.2"), ("task-w2", "127.0.0.3")):
            cloud_map.register_task(self.worker.id, instance_id=task, ipv4=address, port=8080, attributes={})
        self.consumer = client_of(cloud_map, CONSUMER)
        self.backend = self.consumer.create_service(
            Name="backend", NamespaceId=self.namespace.arn, DnsConfig=RECORDS, HealthCheckCustomConfig={}
        )["Service"]
        self.consumer.register_instance(
            ServiceId=self.backend["Arn"],
            InstanceId="task-b1",
            Attributes={"AWS_INSTANCE_IPV4": "127.0.0.4", "AWS_INSTANCE_PORT": "8080"},
        )


@pytest.fixture(scope="module")
def shared() -> Iterator[Shared]:
    cloud_map = LocalCloudMap(region=REGION, account=OWNER).start()
    try:
        yield Shared(cloud_map)
    finally:
        cloud_map.stop()


# -- the registry -------------------------------------------------------------------------------


def test_every_arn_carries_the_owners_account(shared):
    assert f":{OWNER}:namespace/" in shared.namespace.arn
    assert f":{OWNER}:service/" in shared.backend["Arn"]  # created by the consumer, owned with the namespace


def test_the_consumer_sees_the_namespace_with_its_owner(shared):
    (namespace,) = shared.consumer.list_namespaces()["Namespaces"]

    assert (namespace["Arn"], namespace["ResourceOwner"], namespace["ServiceCount"]) == (shared.namespace.arn, OWNER, 2)


def test_services_carry_the_namespace_owner_and_the_account_that_created_them(shared):
    by_arn = [{"Name": "NAMESPACE_ID", "Values": [shared.namespace.arn], "Condition": "EQ"}]

    services = shared.consumer.list_services(Filters=by_arn)["Services"]

    owners = {s["Name"]: (s["ResourceOwner"], s["CreatedByAccount"], s["InstanceCount"]) for s in services}
    assert owners == {"worker": (OWNER, OWNER, 2), "backend": (OWNER, CONSUMER, 1)}


def test_instances_carry_the_account_that_registered_them(shared):
    owner = shared.cloud_map.client

    listed = owner.list_instances(ServiceId=shared.backend["Id"])["Instances"]
    got = owner.get_instance(ServiceId=shared.worker.id, InstanceId="task-w1")["Instance"]

    assert [(i["Id"], i["CreatedByAccount"]) for i in listed] == [("task-b1", CONSUMER)]
    assert got["CreatedByAccount"] == OWNER


def test_the_owner_filters_services_by_resource_owner(shared):
    def names(value: str, account: str) -> list[str]:
        filters = [{"Name": "RESOURCE_OWNER", "Values": [value], "Condition": "EQ"}]
        return sorted(
            s["Name"] for s in client_of(shared.cloud_map, account).list_services(Filters=filters)["Services"]
        )

    assert names("SELF", OWNER) == ["backend", "worker"] and names("OTHER_ACCOUNTS", OWNER) == []
    assert names("OTHER_ACCOUNTS", CONSUMER) == ["backend", "worker"] and names("SELF", CONSUMER) == []


def test_discover_instances_from_the_consumer_needs_owner_account(shared):
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        shared.consumer.discover_instances(NamespaceName="corp", ServiceName="worker")
    answer = shared.consumer.discover_instances(NamespaceName="corp", ServiceName="worker", OwnerAccount=OWNER)

    assert refused.value.response["Error"]["Code"] == "NamespaceNotFound"
    assert sorted(i["InstanceId"] for i in answer["Instances"]) == ["task-w1", "task-w2"]


@pytest.mark.parametrize(
    ("operation", "kwargs", "code"),
    [
        ("list_instances", {"ServiceId": "worker"}, "ServiceNotFound"),
        ("get_service", {"Id": "worker"}, "ServiceNotFound"),
        ("get_namespace", {"Id": "namespace"}, "NamespaceNotFound"),
        ("create_service", {"Name": "rogue", "NamespaceId": "namespace"}, "NamespaceNotFound"),
    ],
)
def test_the_consumer_names_the_owners_resources_by_arn_only(shared, operation, kwargs, code):
    ids = {"worker": shared.worker.id, "namespace": shared.namespace.id}
    by_id = {key: ids.get(value, value) for key, value in kwargs.items()}

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        getattr(shared.consumer, operation)(**by_id)

    assert refused.value.response["Error"]["Code"] == code


def test_a_namespace_id_filter_from_the_consumer_matches_nothing(shared):
    by_id = [{"Name": "NAMESPACE_ID", "Values": [shared.namespace.id], "Condition": "EQ"}]

    assert shared.consumer.list_services(Filters=by_id)["Services"] == []


def test_sts_answers_each_callers_account(shared):
    for account in (OWNER, CONSUMER):
        assert client_of(shared.cloud_map, account, "sts").get_caller_identity()["Account"] == account


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "AWS4-HMAC-SHA256 Credential=LOCAL22222222222/20250101/eu-west-1/servicediscovery/aws4_request, x",
        "AWS4-HMAC-SHA256 Credential=LOCAL222222222222\n/20250101/eu-west-1/servicediscovery/aws4_request, x",
        "AWS4-HMAC-SHA256 Credential=testing/20250101/eu-west-1/servicediscovery/aws4_request, x",
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=" + "A" * 5000,
    ],
)
def test_a_request_not_signed_by_a_local_account_key_is_the_owners(header):
    assert request_account(header, default=OWNER)[0] == OWNER


def test_a_malformed_request_body_is_answered_400_and_the_stand_in_keeps_serving(shared):
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for body in (b"[1, 2]", b"{not json", b"\xff\xfe", b'{"a": ' * 2000):
        request = urllib.request.Request(
            shared.cloud_map.endpoint_url,
            data=body,
            headers={"X-Amz-Target": "Route53AutoNaming_v20170314.ListServices"},
        )
        with pytest.raises(urllib.error.HTTPError) as answered:
            opener.open(request, timeout=10)
        assert answered.value.code == 400
    assert shared.consumer.list_namespaces()["Namespaces"]


# -- DNS: the shared namespace's records, whoever registered them ------------------------------------


def resolve(server: LoopbackDnsServer, name: str, rdtype: str = "A") -> list[str]:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = 5
    return sorted(record.to_text() for record in resolver.resolve(name, rdtype))


@pytest.mark.parametrize("reader", ["owner", "consumer"])
def test_dns_answers_for_the_services_of_both_accounts(shared, reader):
    # The owner's publisher reads the namespace by ID; a consumer's by ARN (its services by ARN too).
    if reader == "owner":
        cloud_map, namespace = shared.cloud_map, shared.namespace
    else:
        cloud_map = LocalCloudMap(region=REGION, account=CONSUMER)
        cloud_map.endpoint_url = shared.cloud_map.endpoint_url
        namespace = RegisteredService(shared.namespace.arn, shared.namespace.arn, "corp")
    problems: list[str] = []
    with LoopbackDnsServer(default_ttl=10) as server:
        RegistryDnsPublisher(cloud_map, namespace, server, on_problem=problems.append).publish_once()

        assert resolve(server, "worker.corp") == ["127.0.0.2", "127.0.0.3"]
        assert resolve(server, "backend.corp") == ["127.0.0.4"]
        assert resolve(server, "backend.corp", "SRV") == ["1 1 8080 task-b1.backend.corp."]
    assert problems == []
