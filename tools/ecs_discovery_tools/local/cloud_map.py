"""Cloud Map on loopback: moto's API server as the registry, and a DNS server answering from it.

:class:`LocalCloudMap` plays AWS Cloud Map (through moto) and ECS's part in it: creating
the namespace and services as the stack defines them, registering each task with the
attributes ECS writes, updating its custom health status, deregistering it when it stops.

:class:`RegistryDnsPublisher` plays Route 53: it reads the registry through the same API
the apps and ``ecs-discovery`` use and publishes it to a :class:`LoopbackDnsServer` as
Cloud Map publishes a DNS namespace: per service an A record per healthy task and an SRV
record per healthy task (``<task-id>.<service>.<namespace>``), all tasks when none is
healthy (Route 53 MULTIVALUE fails open), the service's TTL.

Requires boto3, moto[server] and dnslib.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord

__all__ = ["DUMMY_CREDENTIALS", "LocalCloudMap", "RegisteredService", "RegistryDnsPublisher"]

#: Credentials the local run hands to every client of the local API; moto accepts any.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: moto's account, so ARNs look like the ones AWS would return.
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class RegisteredService:
    id: str
    arn: str
    name: str


class LocalCloudMap:
    """moto's Cloud Map API on ``host`` (an ephemeral port), with helpers for ECS's calls."""

    def __init__(self, *, region: str, host: str = "127.0.0.1") -> None:
        self.region = region
        self.host = host
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""
        self.client: Any = None

    def start(self) -> LocalCloudMap:
        # werkzeug logs a line per request; the DNS publisher polls every second.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self.host, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self.client = self.new_client()
        return self

    def new_client(self) -> Any:
        """A client of the local API; one per thread, as boto3 clients are not shared safely across threads."""
        return boto3.Session().client(
            "servicediscovery",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    # -- what CloudFormation creates --------------------------------------------

    def create_namespace(self, name: str) -> RegisteredService:
        self.client.create_private_dns_namespace(Name=name, Vpc="vpc-local", Description=f"local run: {name}")
        for namespace in self.client.list_namespaces()["Namespaces"]:
            if namespace["Name"] == name:
                return RegisteredService(namespace["Id"], namespace["Arn"], name)
        raise RuntimeError(f"namespace {name} was not created")

    def create_service(
        self,
        name: str,
        namespace_id: str,
        dns_config: Mapping[str, Any],
        health_check_custom_config: Mapping[str, Any] | None,
    ) -> RegisteredService:
        kwargs: dict[str, Any] = {"Name": name, "DnsConfig": {**dns_config, "NamespaceId": namespace_id}}
        if health_check_custom_config is not None:
            kwargs["HealthCheckCustomConfig"] = dict(health_check_custom_config)
        service = self.client.create_service(**kwargs)["Service"]
        return RegisteredService(service["Id"], service["Arn"], name)

    # -- what ECS does for each task ---------------------------------------------

    def register_task(self, service_id: str, *, ipv4: str, port: int | None, attributes: Mapping[str, str]) -> str:
        """RegisterInstance as ECS does when a task starts; returns the instance (task) ID."""
        task_id = uuid.uuid4().hex
        registered = {"AWS_INSTANCE_IPV4": ipv4, **attributes}
        if port is not None:
            registered["AWS_INSTANCE_PORT"] = str(port)
        self.client.register_instance(ServiceId=service_id, InstanceId=task_id, Attributes=registered)
        return task_id

    def set_health(self, service_id: str, task_id: str, *, healthy: bool, client: Any = None) -> None:
        (client or self.client).update_instance_custom_health_status(
            ServiceId=service_id, InstanceId=task_id, Status="HEALTHY" if healthy else "UNHEALTHY"
        )

    def deregister_task(self, service_id: str, task_id: str, client: Any = None) -> None:
        (client or self.client).deregister_instance(ServiceId=service_id, InstanceId=task_id)


def _pages(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


class RegistryDnsPublisher:
    """Keeps a loopback DNS server in step with a Cloud Map namespace, polling its API."""

    def __init__(
        self,
        cloud_map: LocalCloudMap,
        namespace: RegisteredService,
        dns_server: LoopbackDnsServer,
        *,
        interval: float = 1.0,
    ) -> None:
        self.cloud_map = cloud_map
        self.namespace = namespace
        self.dns_server = dns_server
        self.interval = interval
        self.last_error: str | None = None
        self._published: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = cloud_map.new_client()

    def publish_once(self) -> dict[str, list[str]]:
        """Read the registry and publish it; returns each service name's published A records."""
        with self._lock:
            records = self._records()
            published: dict[str, list[str]] = {}
            for name, (addresses, srv, ttl) in records.items():
                self.dns_server.set_records(name, a=addresses, srv=srv, ttl=ttl)
                published[name] = addresses
            for stale in self._published - set(records):
                self.dns_server.remove(stale)
            self._published = set(records)
            return published

    def _records(self) -> dict[str, tuple[list[str], list[SrvRecord], int]]:
        client = self._client
        records: dict[str, tuple[list[str], list[SrvRecord], int]] = {}
        services = _pages(client, "list_services", "Services")
        for service in services:
            dns_config = service.get("DnsConfig") or {}
            if (service.get("NamespaceId") or dns_config.get("NamespaceId")) != self.namespace.id:
                continue
            ttl = min((int(record.get("TTL", 60)) for record in dns_config.get("DnsRecords", [])), default=60)
            types = {record.get("Type") for record in dns_config.get("DnsRecords", [])}
            instances = _pages(client, "list_instances", "Instances", ServiceId=service["Id"])
            health = client.get_instances_health_status(ServiceId=service["Id"]).get("Status", {}) if instances else {}
            healthy = [item for item in instances if health.get(item["Id"], "HEALTHY") == "HEALTHY"]
            # Route 53 answers with every record when none is healthy, rather than with nothing.
            answering = healthy or instances
            service_name = f"{service['Name']}.{self.namespace.name}"
            addresses, srv = [], []
            for instance in answering:
                attributes = instance.get("Attributes", {})
                address = attributes.get("AWS_INSTANCE_IPV4")
                if not address:
                    continue
                task_name = f"{instance['Id']}.{service_name}"
                if "A" in types:
                    addresses.append(address)
                if "SRV" in types and attributes.get("AWS_INSTANCE_PORT"):
                    srv.append(SrvRecord(task_name, int(attributes["AWS_INSTANCE_PORT"])))
                    records[task_name] = ([address], [], ttl)
            records[service_name] = (addresses, srv, ttl)
        return records

    def start(self) -> RegistryDnsPublisher:
        self.publish_once()
        self._thread = threading.Thread(target=self._run, name="registry-dns-publisher", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.publish_once()
                self.last_error = None
            except Exception as error:  # keep serving the last records, as Route 53 would
                self.last_error = f"{type(error).__name__}: {error}"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
