"""A Cloud Map registry for tests, with services created each way AWS allows, and moto made to honour
what AWS documents where moto 5.2.5 does not.

moto is the stand-in at the AWS API boundary. Two of its gaps would hide the defects these tests look for,
so :func:`aws_semantics` corrects them, each as the API reference (botocore's service model) defines it;
``test_cloudmap.py::test_moto_still_needs_the_corrections`` fails when moto closes a gap, so the
correction can go:

* ``ListServices`` ignores ``Filters`` and ``MaxResults`` in moto (its docstring says so). AWS takes
  ``MaxResults`` services, *then* filters them, so a page may be empty and still carry a ``NextToken``
  (ListServicesRequest.NextToken's documentation). The correction does exactly that.
* moto keeps no namespace for a service created with the deprecated ``DnsConfig.NamespaceId`` only
  (its DiscoverInstances then cannot find the service). AWS files the service under that namespace.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.server import ThreadedMotoServer
from moto.servicediscovery import models as moto_models
from moto.servicediscovery import responses as moto_responses

REGION = "eu-west-1"
ACCOUNT = "123456789012"
#: ECS registers a task under its task ID: 32 hexadecimal characters.
TASK_IDS = tuple(f"{index:02x}" + "0a1b2c3d4e5f60718293a4b5c6d7e8" for index in range(1, 9))


def _filtered_list_services(self: Any) -> str:
    params = json.loads(self.body or "{}")
    services = list(self.servicediscovery_backend.list_services())
    start = int(params.get("NextToken") or 0)
    size = int(params.get("MaxResults") or 100)
    window = services[start : start + size]
    for service_filter in params.get("Filters") or []:
        if service_filter.get("Name") == "NAMESPACE_ID":
            wanted = set(service_filter.get("Values") or [])
            window = [service for service in window if service.namespace_id in wanted]
    answer: dict[str, Any] = {"Services": [_summary(service) for service in window]}
    if start + size < len(services):
        answer["NextToken"] = str(start + size)
    return json.dumps(answer)


def _summary(service: Any) -> dict[str, Any]:
    # A ServiceSummary carries no NamespaceId (botocore drops unmodelled keys anyway); DnsConfig only
    # when the service has one, with the deprecated NamespaceId only when the caller gave it.
    summary = {key: value for key, value in service.to_json().items() if value is not None}
    summary.pop("NamespaceId", None)
    summary.pop("CreatorRequestId", None)
    return summary


_original_create_service = moto_models.ServiceDiscoveryBackend.create_service


def _create_service_filed_under_its_namespace(self: Any, *args: Any, **kwargs: Any) -> Any:
    if not kwargs.get("namespace_id") and (kwargs.get("dns_config") or {}).get("NamespaceId"):
        kwargs["namespace_id"] = kwargs["dns_config"]["NamespaceId"]
    return _original_create_service(self, *args, **kwargs)


@contextmanager
def aws_semantics() -> Iterator[None]:
    """moto's Cloud Map, corrected as the module docstring says (in this process, for mock_aws and
    ThreadedMotoServer alike)."""
    response_class: Any = moto_responses.ServiceDiscoveryResponse
    backend_class: Any = moto_models.ServiceDiscoveryBackend
    saved = (response_class.list_services, backend_class.create_service)
    response_class.list_services = _filtered_list_services
    backend_class.create_service = _create_service_filed_under_its_namespace
    try:
        yield
    finally:
        response_class.list_services, backend_class.create_service = saved


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's API as a real HTTP server on 127.0.0.1 (corrected as :func:`aws_semantics` says); yields
    its URL. moto keeps every account's state in this process's globals, shared by every server and
    ``mock_aws``: the state is reset before and after, so no test sees another's namespaces."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    with aws_semantics():
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        try:
            _reset(endpoint)
            yield endpoint
        finally:
            _reset(endpoint)
            server.stop()


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.status


@dataclass(frozen=True)
class Registry:
    corp_id: str
    apps_id: str
    other_id: str
    service_ids: dict[str, str]  # name -> ID, for the services of corp and apps


def ecs_attributes(address: str, port: int | None, zone: str, family: str, service: str) -> dict[str, str]:
    """The attributes ECS writes when it registers a Fargate task (RegisterInstance)."""
    attributes = {
        "AWS_INSTANCE_IPV4": address,
        "AVAILABILITY_ZONE": zone,
        "REGION": REGION,
        "ECS_CLUSTER_NAME": "corp-cluster",
        "ECS_SERVICE_NAME": service,
        "ECS_TASK_DEFINITION_FAMILY": family,
        "AWS_INIT_HEALTH_STATUS": "HEALTHY",
    }
    if port is not None:
        attributes["AWS_INSTANCE_PORT"] = str(port)
    return attributes


RECORDS = {"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}, {"Type": "SRV", "TTL": 10}]}


def populate(client: Any) -> Registry:
    """Namespace ``corp`` (private DNS) with a service created each way, ``apps`` (HTTP) with one, and
    ``other`` (private DNS) with ``ledger``, which no listing of corp may show.

    * ``worker``: as CloudFormation creates AWS::ServiceDiscovery::Service (top-level NamespaceId,
      DnsConfig without it, HealthCheckCustomConfig, as ECS service discovery needs);
    * ``backend``: by the API with the top-level NamespaceId, A records only;
    * ``legacy``: by the API with the deprecated DnsConfig.NamespaceId only;
    * ``mesh``: as Service Connect creates it, API-only: Type HTTP, no DnsConfig;
    * ``billing`` in the HTTP namespace ``apps``: no DnsConfig.
    """
    client.create_private_dns_namespace(Name="corp", Vpc="vpc-0123456789abcdef0")
    client.create_http_namespace(Name="apps")
    client.create_private_dns_namespace(Name="other", Vpc="vpc-0fedcba9876543210")
    namespaces = {item["Name"]: item["Id"] for item in client.list_namespaces()["Namespaces"]}
    corp, apps, other = namespaces["corp"], namespaces["apps"], namespaces["other"]
    ids: dict[str, str] = {}
    ids["worker"] = client.create_service(
        Name="worker", NamespaceId=corp, DnsConfig=RECORDS, HealthCheckCustomConfig={"FailureThreshold": 1}
    )["Service"]["Id"]
    ids["backend"] = client.create_service(
        Name="backend",
        NamespaceId=corp,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 30}]},
        HealthCheckCustomConfig={"FailureThreshold": 1},
    )["Service"]["Id"]
    ids["legacy"] = client.create_service(Name="legacy", DnsConfig={"NamespaceId": corp, **RECORDS})["Service"]["Id"]
    ids["mesh"] = client.create_service(Name="mesh", NamespaceId=corp, Type="HTTP")["Service"]["Id"]
    ids["billing"] = client.create_service(Name="billing", NamespaceId=apps)["Service"]["Id"]
    client.create_service(Name="ledger", NamespaceId=other, DnsConfig=RECORDS)

    def register(service: str, task: int, address: str, port: int | None, zone: str) -> None:
        client.register_instance(
            ServiceId=ids[service],
            InstanceId=TASK_IDS[task],
            Attributes=ecs_attributes(address, port, zone, f"corp-{service}", service),
        )

    register("worker", 0, "10.0.1.10", 8080, "eu-west-1a")
    register("worker", 1, "10.0.2.20", 8080, "eu-west-1b")
    register("worker", 2, "10.0.1.30", 8080, "eu-west-1a")
    client.update_instance_custom_health_status(ServiceId=ids["worker"], InstanceId=TASK_IDS[2], Status="UNHEALTHY")
    register("backend", 3, "10.0.2.40", None, "eu-west-1b")
    register("legacy", 4, "10.0.1.50", 9000, "eu-west-1a")
    register("mesh", 5, "10.0.2.60", 8443, "eu-west-1b")
    register("billing", 6, "10.0.1.70", 7000, "eu-west-1a")
    return Registry(corp, apps, other, ids)
