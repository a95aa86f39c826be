"""Cloud Map on loopback: moto's API server as the registry, and a DNS server answering from it.

:class:`LocalCloudMap` plays AWS Cloud Map (through moto) and ECS's part in it: creating
the namespace and services as the stack defines them, registering each task with the
attributes ECS writes, updating its custom health status, deregistering it when it stops.

:class:`RegistryDnsPublisher` plays Route 53: it reads the registry through the same API
the apps and ``ecs-discovery`` use and publishes it to a :class:`LoopbackDnsServer` as
Cloud Map publishes a DNS namespace: per service an A record per healthy task and an SRV
record per healthy task (``<task-id>.<service>.<namespace>``), all tasks when none is
healthy (Route 53 MULTIVALUE fails open), the service's TTL.

Several accounts (a namespace shared through AWS RAM): the registry lives in one account, the
namespace owner's (:attr:`LocalCloudMap.account`); each request is made by the account its access key
names (:mod:`.accounts`), and the answers carry ``ResourceOwner`` and ``CreatedByAccount`` as AWS's do.

Requires boto3, moto[server] and dnslib.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.servicediscovery.models import servicediscovery_backends
from werkzeug.serving import BaseWSGIServer, make_server

from ecs_discovery_client.cloudmap import parse_port, printable
from ecs_discovery_tools.local.accounts import arn_parts, credentials_of, request_account
from ecs_discovery_tools.local.dns_server import LoopbackDnsServer, SrvRecord, dns_label

__all__ = ["DUMMY_CREDENTIALS", "AliasTarget", "LocalCloudMap", "RegisteredService", "RegistryDnsPublisher"]

logger = logging.getLogger(__name__)

#: Credentials the local run hands to every client of the local API; moto accepts any.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: moto's account, so ARNs look like the ones AWS would return.
ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class RegisteredService:
    id: str
    arn: str
    name: str


# The operations whose answers carry counts AWS computes and moto 5.x leaves out (botocore's model:
# ServiceSummary/Service.InstanceCount, NamespaceSummary/Namespace.ServiceCount).
_COUNTED_OPERATIONS = frozenset({"ListServices", "GetService", "ListNamespaces", "GetNamespace"})
# Cloud Map's JSON protocol target prefix (X-Amz-Target: Route53AutoNaming_v20170314.<Operation>).
_TARGET_PREFIX = "Route53AutoNaming_v20170314."
# Request members that name a namespace or a service by "ID or ARN" (botocore's model).
_NAMESPACE_MEMBERS = {"CreateService": "NamespaceId", "GetNamespace": "Id", "DeleteNamespace": "Id"}
_SERVICE_MEMBERS = ("ServiceId",)
_SERVICE_ID_OPERATIONS = frozenset({"GetService", "DeleteService", "UpdateService"})
_REQUEST_LIMIT = 1 << 20  # Cloud Map's requests are small; a larger body is not read into memory


class _AwsAnswers:
    """WSGI middleware over moto's Cloud Map: the answers AWS gives where moto 5.x differs.

    * Counts: ListServices / GetService carry each service's ``InstanceCount``, ListNamespaces /
      GetNamespace each namespace's ``ServiceCount``, counted as AWS counts them.
    * Accounts: every Cloud Map resource lives in the stand-in's account (moto is told so per
      request), the namespace owner's. Namespaces and services carry ``ResourceOwner``; services and
      instances ``CreatedByAccount``, the account whose access key made the CreateService or
      RegisterInstance request. Another account reaches the namespace as the API reference says an
      account it is shared with does: by ARN (a namespace or service named by ID is not found, a
      NAMESPACE_ID filter by ID matches nothing), and DiscoverInstances with ``OwnerAccount`` (without
      it, NamespaceNotFound). ListServices honours its NAMESPACE_ID and RESOURCE_OWNER filters.
    * STS GetCallerIdentity (moto serves it on the same port) answers the caller's account.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], region: str, account: str) -> None:
        self.app = app
        self.region = region
        self.account = account
        self._created_by: dict[str, str] = {}  # service ID -> account
        self._registered_by: dict[tuple[str, str], str] = {}  # (service ID, instance ID) -> account
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        caller, service = request_account(environ.get("HTTP_AUTHORIZATION"), default=self.account)
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if service == "sts":
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = caller
            return self.app(environ, start_response)
        if not target.startswith(_TARGET_PREFIX):
            return self.app(environ, start_response)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account
        operation = target.removeprefix(_TARGET_PREFIX)
        request = self._request(environ)
        if request is None:
            return self._error(start_response, "InvalidInput", "the request body is not a JSON object")
        refused = self._shared(operation, request, caller)
        if refused is not None:
            return self._error(start_response, *refused)
        body = json.dumps(request).encode()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        status, headers, answer = self._call(environ)
        if status.startswith("200 "):
            answer = self._answered(operation, request, answer, caller)
        headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(answer)))])
        return [answer]

    # -- requests --------------------------------------------------------------------

    @staticmethod
    def _request(environ: dict[str, Any]) -> dict[str, Any] | None:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 <= length <= _REQUEST_LIMIT:
            return None
        raw = environ["wsgi.input"].read(length) if length else b"{}"
        try:
            document = json.loads(raw or b"{}")
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return None
        return document if isinstance(document, dict) else None

    def _own_id(self, text: object, kind: str) -> str | None:
        """The ID in ``text`` when it is an ARN of a ``kind`` of this registry's account."""
        parts = arn_parts(text, kind)
        return parts[2] if parts is not None and parts[1] == self.account else None

    def _shared(self, operation: str, request: dict[str, Any], caller: str) -> tuple[str, str] | None:
        """Rewrites ARNs to the IDs moto knows; the error AWS gives another account that names the
        namespace or a service by ID, or asks DiscoverInstances without OwnerAccount."""
        other = caller != self.account
        member = _NAMESPACE_MEMBERS.get(operation)
        if member is not None and isinstance(request.get(member), str):
            own = self._own_id(request[member], "namespace")
            if own is not None:
                request[member] = own
            elif other:
                return "NamespaceNotFound", f"namespace {printable(request[member], 80)} not found"
        names = [*_SERVICE_MEMBERS, *(["Id"] if operation in _SERVICE_ID_OPERATIONS else [])]
        for name in names:
            if isinstance(request.get(name), str):
                own = self._own_id(request[name], "service")
                if own is not None:
                    request[name] = own
                elif other:
                    return "ServiceNotFound", f"service {printable(request[name], 80)} not found"
        if operation == "ListServices":
            for item in request.get("Filters") or []:
                if isinstance(item, dict) and item.get("Name") == "NAMESPACE_ID":
                    values = item.get("Values") or []
                    own_ids = [self._own_id(value, "namespace") for value in values]
                    item["Values"] = [
                        own or (value if not other else "") for own, value in zip(own_ids, values, strict=True)
                    ]
        if operation == "DiscoverInstances" and other and request.get("OwnerAccount") != self.account:
            return "NamespaceNotFound", (
                f"namespace {printable(request.get('NamespaceName'), 80)} not found in account {caller}: "
                "a namespace shared with this account needs OwnerAccount"
            )
        return None

    @staticmethod
    def _error(start_response: Callable[..., Any], code: str, message: str) -> list[bytes]:
        body = json.dumps({"__type": code, "message": message}).encode()
        start_response(
            "400 Bad Request",
            [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        answered: list[Any] = []

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            answered[:] = [status, headers]
            return lambda data: None  # moto's app returns its body; it never calls write()

        chunks = self.app(environ, keep)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        status, headers = answered
        return status, headers, body

    # -- answers ---------------------------------------------------------------------

    def _answered(self, operation: str, request: dict[str, Any], body: bytes, caller: str) -> bytes:
        if operation == "CreateService":
            document = json.loads(body)
            with self._lock:
                self._created_by[str(document.get("Service", {}).get("Id"))] = caller
            self._service(document.get("Service", {}))
            return json.dumps(document).encode()
        if operation == "RegisterInstance":
            with self._lock:
                self._registered_by[(str(request.get("ServiceId")), str(request.get("InstanceId")))] = caller
            return body
        if operation == "DeregisterInstance":
            with self._lock:
                self._registered_by.pop((str(request.get("ServiceId")), str(request.get("InstanceId"))), None)
            return body
        if operation not in (*_COUNTED_OPERATIONS, "ListInstances", "GetInstance"):
            return body
        document = json.loads(body)
        if operation == "ListServices":
            document["Services"] = [
                self._service(item)
                for item in document.get("Services", [])
                if self._listed(item, request.get("Filters") or [], caller)
            ]
        elif operation == "GetService":
            self._service(document.get("Service", {}))
        elif operation == "ListNamespaces":
            for item in document.get("Namespaces", []):
                self._namespace(item)
        elif operation == "GetNamespace":
            self._namespace(document.get("Namespace", {}))
        else:
            service_id = str(request.get("ServiceId"))
            items = document.get("Instances", []) if operation == "ListInstances" else [document.get("Instance", {})]
            with self._lock:
                for item in items:
                    item["CreatedByAccount"] = self._registered_by.get((service_id, str(item.get("Id"))), self.account)
        return json.dumps(document).encode()

    def _backend_services(self) -> dict[str, Any]:
        backend: Any = servicediscovery_backends[self.account][self.region]
        return backend.services

    def _listed(self, item: dict[str, Any], filters: list[Any], caller: str) -> bool:
        # moto 5.x ignores ListServices' filters; AWS applies them (ServiceFilter).
        service = self._backend_services().get(str(item.get("Id")))
        for entry in filters:
            if not isinstance(entry, dict):
                continue
            values = entry.get("Values") or []
            if entry.get("Name") == "NAMESPACE_ID" and (service is None or _namespace_of(service) not in values):
                return False
            if entry.get("Name") == "RESOURCE_OWNER":
                wanted = "SELF" if caller == self.account else "OTHER_ACCOUNTS"
                if wanted not in values:
                    return False
        return True

    def _service(self, item: dict[str, Any]) -> dict[str, Any]:
        service = self._backend_services().get(str(item.get("Id")))
        if service is not None:
            item["InstanceCount"] = len(service.instances)
        item["ResourceOwner"] = self.account
        with self._lock:
            item["CreatedByAccount"] = self._created_by.get(str(item.get("Id")), self.account)
        return item

    def _namespace(self, item: dict[str, Any]) -> None:
        services = self._backend_services()
        item["ServiceCount"] = sum(_namespace_of(service) == item.get("Id") for service in services.values())
        item["ResourceOwner"] = self.account


class LocalCloudMap:
    """moto's Cloud Map API on ``host`` (an ephemeral port), with helpers for ECS's calls.

    moto answers as AWS does, with the corrections of :class:`_AwsAnswers`: counts, owners, and
    the rules of a namespace shared with other accounts. ``account``: the account whose registry
    this is (the namespace owner's); ``credentials``: the ones its clients and the tasks of its app
    sign with (that account's).
    """

    def __init__(self, *, region: str, host: str = "127.0.0.1", account: str = ACCOUNT_ID) -> None:
        self.region = region
        self.host = host
        self.account = account
        self.credentials: Mapping[str, str] = self.credentials_for(account)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint_url = ""
        self.client: Any = None

    def start(self) -> LocalCloudMap:
        # werkzeug logs a line per request; the DNS publisher polls every second.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # As moto's ThreadedMotoServer serves its app, with the counts added.
        app = _AwsAnswers(DomainDispatcherApplication(create_backend_app), self.region, self.account)
        self._server = make_server(self.host, 0, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="cloud-map-api", daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host!s}:{port}"
        self.reset()
        self.client = self.new_client()
        return self

    def reset(self) -> None:
        """Forget every namespace and service. moto keeps its state per process, so a second
        stand-in started in one process (tests) would otherwise see the first one's."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"), timeout=10).close()

    @staticmethod
    def credentials_for(account: str) -> Mapping[str, str]:
        """What ``account``'s clients and tasks sign with: the access key that names it
        (:mod:`.accounts`); the default account's is the ``testing`` key every local run hands out."""
        return DUMMY_CREDENTIALS if account == ACCOUNT_ID else credentials_of(account)

    def new_client(self, account: str | None = None) -> Any:
        """A client of the local API signing as ``account`` (default: the registry's own); one per
        thread, as boto3 clients are not shared safely across threads."""
        credentials = self.credentials if account is None else self.credentials_for(account)
        return boto3.Session().client(
            "servicediscovery",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            # A local server: answers in milliseconds or is gone; never wait long on it.
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}),
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

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
        dns_config: Mapping[str, Any] | None,
        health_check_custom_config: Mapping[str, Any] | None,
        client: Any = None,
    ) -> RegisteredService:
        """CreateService as CloudFormation calls it for AWS::ServiceDiscovery::Service.

        The namespace goes in the top-level ``NamespaceId``; ``DnsConfig`` carries only the
        records and routing policy (its ``NamespaceId`` is deprecated in the API). Without
        ``dns_config`` the service is API-only (``Type: HTTP``), as Service Connect creates it:
        no DNS records, found through DiscoverInstances. ``client``: the account whose stack
        creates it (another account names a shared namespace by its ARN); default: the owner's.
        """
        kwargs: dict[str, Any] = {"Name": name, "NamespaceId": namespace_id}
        if dns_config is not None:
            kwargs["DnsConfig"] = {key: value for key, value in dns_config.items() if key != "NamespaceId"}
        else:
            kwargs["Type"] = "HTTP"
        if health_check_custom_config is not None:
            kwargs["HealthCheckCustomConfig"] = dict(health_check_custom_config)
        service = (client or self.client).create_service(**kwargs)["Service"]
        return RegisteredService(service["Id"], service["Arn"], name)

    # -- what ECS does for each task ---------------------------------------------

    def register_task(
        self,
        service_id: str,
        *,
        ipv4: str,
        port: int | None,
        attributes: Mapping[str, str],
        instance_id: str | None = None,
        client: Any = None,
    ) -> str:
        """RegisterInstance as ECS does for a task (the instance ID is the task ID); returns that ID."""
        task_id = instance_id or uuid.uuid4().hex
        registered = {"AWS_INSTANCE_IPV4": ipv4, **attributes}
        if port is not None:
            registered["AWS_INSTANCE_PORT"] = str(port)
        (client or self.client).register_instance(ServiceId=service_id, InstanceId=task_id, Attributes=registered)
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


_MAX_TTL_S = 2_147_483_647  # RFC 2181: a TTL is an unsigned 31-bit number


def _instance_records(instance: Mapping[str, Any], service_name: str) -> tuple[str, int | None, str]:
    """(address, port or None, SRV target name) of a registered instance; ValueError says what is wrong.

    Checked per instance, so that one instance DNS cannot carry is skipped rather than stopping
    every other service's updates.
    """
    attributes = instance.get("Attributes") or {}
    address_text = attributes.get("AWS_INSTANCE_IPV4")
    if not isinstance(address_text, str) or not address_text:
        raise ValueError("no AWS_INSTANCE_IPV4")
    try:
        address = str(ipaddress.IPv4Address(address_text))
    except ValueError:
        raise ValueError(f"AWS_INSTANCE_IPV4 '{printable(address_text, 40)}' is not an IPv4 address") from None
    port: int | None = None
    port_text = attributes.get("AWS_INSTANCE_PORT")
    if port_text is not None:
        # ASCII digits only, 1-65535: int() would also take "٣", and "²".isdigit() is True.
        port = parse_port(port_text)
        if port is None:
            raise ValueError(f"AWS_INSTANCE_PORT '{printable(str(port_text), 40)}' is not a port number (1-65535)")
    # An instance ID may be 64 characters of [0-9a-zA-Z_/:.@-]; one DNS label holds 63 letters,
    # digits, '-' or '_'. dns_label keeps a valid ID and makes a distinct valid label of any other.
    return address, port, f"{dns_label(str(instance.get('Id', '')))}.{service_name}"


class RegistryDnsPublisher:
    """Keeps a loopback DNS server in step with a Cloud Map namespace, polling its API.

    Each service is published on its own: an instance the registry holds but DNS cannot
    carry (a non-numeric port, an address that is not IPv4, an ID too long for a label) is
    skipped and reported once through ``on_problem``; a service whose records cannot be
    read keeps its last published records, as Route 53 keeps answering. ``aliases`` maps a
    Service Connect client alias (a DNS name) to the Cloud Map service whose healthy
    instances it resolves to.
    """

    def __init__(
        self,
        cloud_map: LocalCloudMap,
        namespace: RegisteredService,
        dns_server: LoopbackDnsServer,
        *,
        interval: float = 1.0,
        aliases: Mapping[str, AliasTarget] | None = None,
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self.cloud_map = cloud_map
        self.namespace = namespace
        self.dns_server = dns_server
        self.interval = interval
        self.aliases = dict(aliases or {})
        self.on_problem = on_problem or (lambda message: logger.warning("%s", message))
        self.last_error: str | None = None
        self._published: set[str] = set()
        self._reported: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = cloud_map.new_client()

    def publish_once(self) -> dict[str, list[str]]:
        """Read the registry and publish it; returns each published name's A records."""
        with self._lock:
            records, kept = self._records()
            published: dict[str, list[str]] = {}
            for name, (addresses, srv, ttl) in records.items():
                try:
                    self.dns_server.set_records(name, a=addresses, srv=srv, ttl=ttl)
                except (ValueError, TypeError) as error:
                    self._problem(f"set_records {name}", f"DNS records of {name} not published: {error}")
                    kept.add(name)
                    continue
                published[name] = addresses
            for stale in self._published - set(published) - kept:
                self.dns_server.remove(stale)
            self._published = set(published) | (kept & self._published)
            return published

    def _problem(self, key: str, message: str) -> None:
        if key not in self._reported:  # once per problem, not once per second
            self._reported.add(key)
            self.on_problem(message)

    def _records(self) -> tuple[dict[str, tuple[list[str], list[SrvRecord], int]], set[str]]:
        client = self._client
        records: dict[str, tuple[list[str], list[SrvRecord], int]] = {}
        kept: set[str] = set()  # names whose last records stay: their service could not be read
        # The server filters by namespace (moto does not; the stand-in's layer does, as AWS does).
        services = _pages(
            client,
            "list_services",
            "Services",
            Filters=[{"Name": "NAMESPACE_ID", "Values": [self.namespace.id], "Condition": "EQ"}],
        )
        healthy_by_name: dict[str, list[tuple[str, int | None]]] = {}
        for service in services:
            service_name = f"{service['Name']}.{self.namespace.name}"
            try:
                answering = self._answering_instances(client, service)
            except Exception as error:  # one service's failure must not stop the others
                self._problem(f"read {service_name}", f"cannot read the instances of {service_name}: {error}")
                kept.update(
                    name for name in self._published if name == service_name or name.endswith("." + service_name)
                )
                continue
            endpoints: list[tuple[str, int | None]] = []
            srv: list[SrvRecord] = []
            dns_config = service.get("DnsConfig") or {}
            dns_records = dns_config.get("DnsRecords") or []
            types = {record.get("Type") for record in dns_records}
            ttl = min((_ttl(record.get("TTL")) for record in dns_records), default=60)
            for instance in answering:
                try:
                    address, port, task_name = _instance_records(instance, service_name)
                except ValueError as error:
                    shown = printable(str(instance.get("Id")), 70)
                    self._problem(
                        f"instance {service['Id']}/{instance.get('Id')}/{error}",
                        f"instance '{shown}' of {service_name} skipped in DNS: {error}",
                    )
                    continue
                endpoints.append((address, port))
                if "SRV" in types and port is not None:
                    srv.append(SrvRecord(task_name, port))
                    records[task_name] = ([address], [], ttl)
            healthy_by_name[str(service["Name"])] = endpoints
            if types:  # an API-only (HTTP) service has no DNS records
                addresses = [address for address, _ in endpoints] if "A" in types else []
                records[service_name] = (addresses, srv, ttl)
        for alias, target in self.aliases.items():
            if target.service_name in healthy_by_name:
                addresses = [address for address, _ in healthy_by_name[target.service_name]]
                records[alias] = (addresses, [], target.ttl)
        return records, kept

    def _answering_instances(self, client: Any, service: Mapping[str, Any]) -> list[dict[str, Any]]:
        # A namespace known by its ARN is another account's, shared with this one: its services by ARN too.
        service_id = service["Arn"] if self.namespace.id.startswith("arn:") else service["Id"]
        instances = _pages(client, "list_instances", "Instances", ServiceId=service_id)
        health = client.get_instances_health_status(ServiceId=service_id).get("Status", {}) if instances else {}
        healthy = [item for item in instances if health.get(item["Id"], "HEALTHY") == "HEALTHY"]
        # Route 53 answers with every record when none is healthy, rather than with nothing.
        return healthy or instances

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


def _ttl(value: Any) -> int:
    try:
        ttl = int(value)
    except (TypeError, ValueError):
        return 60
    return min(max(ttl, 0), _MAX_TTL_S)


@dataclass(frozen=True)
class AliasTarget:
    """Where a Service Connect client alias points: a Cloud Map service of the namespace, and the TTL to answer with."""

    service_name: str
    ttl: int = 10


def _namespace_of(service: Any) -> str | None:
    """A moto service's namespace as AWS reports it: CreateService's top-level NamespaceId, or, for a
    service created with only the deprecated ``DnsConfig.NamespaceId``, that one (AWS fills both)."""
    dns_config = getattr(service, "dns_config", None) or {}
    return service.namespace_id or (dns_config.get("NamespaceId") if isinstance(dns_config, dict) else None)
