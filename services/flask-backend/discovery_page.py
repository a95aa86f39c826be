"""The discovery page: every service of the namespace, as Cloud Map lists it and as DNS finds it.

``GET /services`` (HTML) and ``GET /api/services`` (JSON) list each service of the namespace
except this one: its DNS name, its instances as the Cloud Map API lists them (health, zones and
task definition families, from the attributes ECS registers), how many addresses DNS offered, the
address the call went to this time, and what the service answered. Reloading shows DNS choosing
other tasks.

The registry is read with the shared reader :mod:`ecs_discovery_client.cloudmap` (ListServices
filtered by NAMESPACE_ID, DiscoverInstances; see there), names are resolved and called with the
discovery client's :class:`~ecs_discovery_client.Resolver` and :class:`~ecs_discovery_client.DiscoveryClient`.

Each row is built, and rendered, on its own: a row that fails (a service name that is not a DNS
name, an instance whose port is ``"²"``, an answer nested 100,000 levels deep or holding ``NaN``,
huge values) shows its error in its row and the page still answers 200. The JSON is strict
(``allow_nan=False`` after non-finite numbers became ``null``); the HTML escapes every value.

Needs ``NAMESPACE_ID`` and ``AWS_REGION`` (set by ``namespace.grant_discover_read(service)``, which also grants
the read actions) and ``NAMESPACE``. A namespace shared from another account (AWS RAM) is given by its
ARN in ``NAMESPACE_ID`` (``SharedNamespace.grant_discover_read``): the reader then asks for it as the API
wants a shared one (ListServices by that ARN, DiscoverInstances with ``OwnerAccount``), and each row
shows the namespace's owner and the account that created the service (``ResourceOwner``,
``CreatedByAccount``). ``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` points it at another
Cloud Map endpoint (the local run). ``DISCOVERY_REGISTRY_TTL`` (seconds, default 5) bounds how
often one process calls the Cloud Map API, whose request rate is limited.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, render_template_string, request
from markupsafe import Markup

from ecs_discovery_client import DiscoveryClient, DiscoveryError, DiscoverySettings, Resolver, env_prefix
from ecs_discovery_client.cloudmap import (
    CloudMapError,
    CloudMapReader,
    InstanceListing,
    Namespace,
    Service,
    make_client,
    parse_port,
)

__all__ = ["RegisteredService", "call_port", "discovery_page", "read_answer"]

discovery_page = Blueprint("discovery_page", __name__)

# Answers are shown, but only this much of each: text previews, strings inside JSON, items per level.
_ANSWER_PREVIEW_CHARS = 2000
_MAX_ANSWER_BYTES = 64 * 1024
_MAX_ANSWER_DEPTH = 32
_MAX_ITEMS = 100
# Values from the registry or a service shown in a cell: at most this many characters.
_MAX_CELL_CHARS = 300
# One page never waits longer than this for all its services together.
_PAGE_DEADLINE_S = 10.0
_MAX_PARALLEL_CALLS = 8
# Rows on one page; a namespace may hold more services (the page says so).
_MAX_ROWS = 200
# DNS clients kept per process (one per name and port); the least recently used go first.
_MAX_CLIENTS = 256


def _environ_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if math.isfinite(value) and 0 <= value <= 3600 else default


def _short(value: object, limit: int = _MAX_CELL_CHARS) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + f"... (+{len(text) - limit} chars)"


def _describe(error: BaseException) -> str:
    if isinstance(error, CloudMapError):
        return _short(error.message)
    return _short(f"{type(error).__name__}: {error}")


# -- the registry (Cloud Map API) ---------------------------------------------------


@dataclass(frozen=True)
class RegisteredService:
    id: str
    name: str
    has_srv: bool
    healthy: int | None = None
    total: int | None = None
    ports: tuple[int, ...] = ()
    error: str | None = None  # listing the instances failed
    dns_name: str | None = None  # None: not in DNS (API-only service, or a name DNS cannot carry)
    not_in_dns: str | None = None  # why dns_name is None
    zones: tuple[str, ...] = ()
    task_definitions: tuple[str, ...] = ()
    source: str | None = None  # the API the instances came from
    # Shared namespaces (AWS RAM): the account owning the namespace, and the one that created the service.
    resource_owner: str | None = None
    created_by_account: str | None = None


def call_port(service: RegisteredService) -> int | None:
    """The port to call ``service`` on; ``None`` lets SRV give each task's port.

    A service with A records only has no port in DNS. ECS registers none either (Cloud Map
    then has no AWS_INSTANCE_PORT), so the port ``connect_to`` put in this task's
    environment (``<NAME>_PORT``) comes next, and 80 last.
    """
    if service.has_srv:
        return None
    if service.ports:
        return service.ports[0]
    configured = parse_port(os.environ.get(f"{env_prefix(service.name)}_PORT", "").strip())
    return configured or 80


@dataclass(frozen=True)
class Registry:
    services: tuple[RegisteredService, ...] = ()
    error: str | None = None  # the namespace could not be listed at all
    more: int = 0  # services beyond _MAX_ROWS, not shown
    read_at: float = 0.0


def _registered(namespace: Namespace, service: Service, listing: InstanceListing) -> RegisteredService:
    instances = listing.instances
    ports = sorted({port for port in (instance.port for instance in instances) if port is not None})
    zones = sorted({_short(zone, 64) for zone in (i.availability_zone for i in instances) if zone})
    families = sorted({_short(family, 255) for family in (i.task_definition_family for i in instances) if family})
    dns_name, not_in_dns = _dns_name(namespace, service)
    return RegisteredService(
        service.id,
        service.name,
        service.has_srv,
        listing.healthy,
        len(instances),
        tuple(ports),
        dns_name=dns_name,
        not_in_dns=not_in_dns,
        zones=tuple(zones[:_MAX_ITEMS]),
        task_definitions=tuple(families[:_MAX_ITEMS]),
        source=listing.source + (" (first 1000)" if listing.truncated else ""),
        resource_owner=service.resource_owner,
        created_by_account=service.created_by_account,
    )


def _dns_name(namespace: Namespace, service: Service) -> tuple[str | None, str | None]:
    dns_name = service.dns_name(namespace)
    if dns_name is not None:
        return dns_name, None
    if not service.dns_records or not namespace.has_dns:
        return None, "API only: Cloud Map publishes no DNS records for this service"
    return None, "not a DNS name: DNS cannot carry this service name"


def _failed(service: Service, namespace: Namespace, detail: str) -> RegisteredService:
    dns_name, not_in_dns = _dns_name(namespace, service)
    return RegisteredService(
        service.id,
        service.name,
        service.has_srv,
        error=detail,
        dns_name=dns_name,
        not_in_dns=not_in_dns,
        resource_owner=service.resource_owner,
        created_by_account=service.created_by_account,
    )


class RegistryReader:
    """Reads the namespace's services and instances, at most once per ``ttl`` seconds per process."""

    def __init__(self, namespace_id: str, namespace_name: str, region: str | None, ttl: float) -> None:
        self.namespace_id = namespace_id
        self.namespace_name = namespace_name
        self.region = region
        self.ttl = ttl
        self._lock = threading.Lock()
        self._reader: CloudMapReader | None = None
        self._namespace: Namespace | None = None
        self._http_name_lock = threading.Lock()
        self._cached = Registry()

    def _cloud_map(self) -> CloudMapReader:
        if self._reader is None:
            # Endpoint and credentials: the usual chain (task role, AWS_ENDPOINT_URL_SERVICEDISCOVERY).
            client = make_client(
                region=self.region,
                connect_timeout=1,
                read_timeout=3,
                max_attempts=2,
                user_agent_extra="flask-backend-discovery-page",
            )
            self._reader = CloudMapReader(client)
        return self._reader

    def _namespace_of(self, reader: CloudMapReader) -> Namespace:
        # NAMESPACE is the name DiscoverInstances wants (its HttpName) unless the name was reused, when
        # Cloud Map adds a hash to HttpName: then DiscoverInstances answers NamespaceNotFound and
        # GetNamespace (one call per process, needing servicediscovery:GetNamespace) gives the real one.
        if self._namespace is None:
            self._namespace = Namespace(id=self.namespace_id, name=self.namespace_name, type="DNS_PRIVATE")
        return self._namespace

    def _http_name_changed(self, reader: CloudMapReader, namespace: Namespace) -> Namespace | None:
        with self._http_name_lock:
            if self._namespace is not None and self._namespace.http_name is not None:
                return self._namespace  # another row looked it up already
            try:
                found = reader.get_namespace(namespace.id)
            except CloudMapError:
                return None
            if not found.http_name or found.http_name == namespace.discovery_name:
                return None
            self._namespace = Namespace(
                namespace.id, namespace.name, found.type or namespace.type, found.arn, found.http_name
            )
            return self._namespace

    def read(self, executor: ThreadPoolExecutor) -> tuple[Registry, Namespace | None]:
        with self._lock:  # one refresh at a time; the others wait for it and share it
            if self._cached.read_at and time.monotonic() - self._cached.read_at < self.ttl:
                return self._cached, self._namespace
            try:
                reader = self._cloud_map()
                namespace = self._namespace_of(reader)
                services = [service for service in reader.list_services(namespace)]
            except CloudMapError as error:
                # Not cached: the next request tries again.
                return Registry(error=f"cannot list the services of {self.namespace_id}: {_describe(error)}"), None
            shown, more = services[:_MAX_ROWS], max(0, len(services) - _MAX_ROWS)
            futures = [(service, executor.submit(self._instances, reader, namespace, service)) for service in shown]
            deadline = time.monotonic() + _PAGE_DEADLINE_S
            rows: list[RegisteredService] = []
            for service, future in futures:
                rows.append(self._collect(service, namespace, future, deadline))
            self._cached = Registry(services=tuple(rows), more=more, read_at=time.monotonic())
            return self._cached, namespace

    @staticmethod
    def _collect(
        service: Service, namespace: Namespace, future: Future[RegisteredService], deadline: float
    ) -> RegisteredService:
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.01))
        except FutureTimeout:
            return _failed(service, namespace, f"instances not listed within {_PAGE_DEADLINE_S:g} s")
        except Exception as error:  # one service's row, never the page
            return _failed(service, namespace, _describe(error))

    def _instances(self, reader: CloudMapReader, namespace: Namespace, service: Service) -> RegisteredService:
        try:
            try:
                listing = reader.list_instances(namespace, service)
            except CloudMapError as error:
                renamed = self._http_name_changed(reader, namespace) if error.code == "NamespaceNotFound" else None
                if renamed is None:
                    raise
                listing = reader.list_instances(renamed, service)
            return _registered(namespace, service, listing)
        except Exception as error:  # a CloudMapError, or anything a malformed answer may cause
            return _failed(service, namespace, _describe(error))


# -- calling each service through DNS -------------------------------------------------


@dataclass
class ServiceRow:
    name: str
    dns_name: str | None
    healthy: int | None
    total: int | None
    registry_error: str | None
    zones: tuple[str, ...] = ()
    task_definitions: tuple[str, ...] = ()
    source: str | None = None
    resource_owner: str | None = None
    created_by_account: str | None = None
    hosts: int | None = None  # addresses DNS offered
    address: str | None = None
    port: int | None = None
    status: int | None = None
    attempts: int | None = None
    elapsed_ms: float | None = None
    message: str | None = None
    answered_by: str | None = None  # the identity a worker-style service reports
    answer: Any = None
    error: dict[str, str] | None = None
    failed_attempts: list[dict[str, Any]] = field(default_factory=lambda: [])

    @classmethod
    def of(cls, service: RegisteredService) -> ServiceRow:
        row = cls(
            _short(service.name, 512),
            service.dns_name,
            service.healthy,
            service.total,
            service.error,
            service.zones,
            service.task_definitions,
            service.source,
            service.resource_owner,
            service.created_by_account,
        )
        if service.dns_name is None:
            row.error = {"failure": "not_in_dns", "detail": service.not_in_dns or "not in DNS"}
        return row

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dns_name": self.dns_name,
            "instances": {"healthy": self.healthy, "total": self.total, "error": self.registry_error},
            # What the attributes ECS registers say about the instances, the API they came from, and
            # (namespaces shared through AWS RAM) who owns the namespace and who created the service.
            "registry": {
                "zones": list(self.zones),
                "task_definitions": list(self.task_definitions),
                "source": self.source,
                "resource_owner": self.resource_owner,
                "created_by_account": self.created_by_account,
            },
            "dns": {"hosts": self.hosts, "address": self.address, "port": self.port},
            "call": {"status": self.status, "attempts": self.attempts, "elapsed_ms": self.elapsed_ms},
            "failed_attempts": self.failed_attempts,
            "message": self.message,
            "answered_by": self.answered_by,
            "answer": self.answer,
            "error": self.error,
        }


def _row_failure(service: RegisteredService, failure: str, detail: str) -> ServiceRow:
    row = ServiceRow.of(service)
    row.error = {"failure": failure, "detail": _short(detail)}
    return row


class _Page:
    """Per-process state: the registry cache, one DNS resolver and a client per name, a bounded thread pool."""

    def __init__(self) -> None:
        self.namespace = os.environ.get("NAMESPACE", "").strip().strip(".")
        self.namespace_id = os.environ.get("NAMESPACE_ID", "").strip()
        self.own_name = os.environ.get("SERVICE_NAME", "").strip() or "backend"
        region = os.environ.get("AWS_REGION", "").strip() or os.environ.get("AWS_DEFAULT_REGION", "").strip() or None
        self.settings_error: str | None = None
        try:
            settings = DiscoverySettings.from_environ(os.environ)
        except ValueError as error:  # ConfigurationError names the variable
            self.settings_error = _short(str(error))
            settings = DiscoverySettings()
        self.settings = settings
        try:
            self.resolver: Resolver | None = Resolver(settings)
        except Exception as error:  # no /etc/resolv.conf and no DNS_NAMESERVERS: say so on the page
            self.settings_error = self.settings_error or f"no DNS resolver: {_describe(error)}"
            self.resolver = None
        self.registry = RegistryReader(
            self.namespace_id, self.namespace, region, _environ_float("DISCOVERY_REGISTRY_TTL", 5.0)
        )
        self.executor = ThreadPoolExecutor(max_workers=_MAX_PARALLEL_CALLS, thread_name_prefix="discovery-page")
        self._clients: OrderedDict[tuple[str, int | None], DiscoveryClient] = OrderedDict()
        self._lock = threading.Lock()

    def configuration_error(self) -> str | None:
        if not self.namespace_id:
            return "NAMESPACE_ID is not set: the stack must call namespace.grant_discover_read() for it"
        if not self.namespace:
            return "NAMESPACE is not set"
        return self.settings_error

    def client(self, dns_name: str, port: int | None) -> DiscoveryClient:
        # Kept per name (sharing one resolver, so each answer is cached for its TTL across requests).
        with self._lock:
            key = (dns_name, port)
            client = self._clients.pop(key, None) or DiscoveryClient(dns_name, port, self.settings, self.resolver)

            self._clients[key] = client
            while len(self._clients) > _MAX_CLIENTS:
                _, evicted = self._clients.popitem(last=False)
                evicted.close()
            return client

    def call(self, service: RegisteredService, request_id: str) -> ServiceRow:
        try:
            return self._call(service, request_id)
        except Exception as error:  # this row, never the page
            return _row_failure(service, "row_error", _describe(error))

    def _call(self, service: RegisteredService, request_id: str) -> ServiceRow:
        row = ServiceRow.of(service)
        if row.dns_name is None:
            return row
        client = self.client(row.dns_name, call_port(service))
        started = time.perf_counter()
        try:
            row.hosts = len(client.endpoints())
            result = client.call("/", headers={"X-Request-Id": request_id})
        except DiscoveryError as error:
            row.error = {"failure": _short(error.failure, 64), "detail": _short(error.detail)}
            row.failed_attempts = [failure.as_dict() for failure in error.failures[:_MAX_ITEMS]]
            return row
        finally:
            row.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        row.address, row.port, row.status, row.attempts = result.address, result.port, result.status, result.attempts
        row.failed_attempts = [failure.as_dict() for failure in result.failures[:_MAX_ITEMS]]
        row.answer, row.message = read_answer(result.body, result.content_type)
        identity = row.answer.get("identity") if isinstance(row.answer, dict) else None
        if isinstance(identity, dict):
            parts = [_short(identity[key], 200) for key in ("hostname", "address") if identity.get(key)]
            row.answered_by = " ".join(parts) or None
        if not 200 <= result.status < 300:
            row.error = {"failure": "http_status", "detail": f"answered HTTP {result.status}"}
        return row

    def rows(self, request_id: str) -> tuple[list[ServiceRow], str | None, Namespace | None, int]:
        problem = self.configuration_error()
        if problem:
            return [], problem, None, 0
        registry, namespace = self.registry.read(self.executor)
        if registry.error:
            return [], registry.error, None, 0
        others = [service for service in registry.services if service.name != self.own_name]
        futures = [(service, self.executor.submit(self.call, service, request_id)) for service in others]
        deadline = time.monotonic() + _PAGE_DEADLINE_S
        rows: list[ServiceRow] = []
        for service, future in futures:
            try:
                rows.append(future.result(timeout=max(deadline - time.monotonic(), 0.01)))
            except FutureTimeout:
                rows.append(_row_failure(service, "page_deadline", f"no result within {_PAGE_DEADLINE_S:g} s"))
            except Exception as error:
                rows.append(_row_failure(service, "row_error", _describe(error)))
        return rows, None, namespace, registry.more


# -- answers: bounded and strict --------------------------------------------------------


def read_answer(body: bytes, content_type: str) -> tuple[Any, str | None]:
    """A service's answer for display: parsed JSON or a text preview, and its ``message`` field.

    JSON is parsed only when it is at most 64 KiB and nested at most 32 levels (deeper would exhaust
    the parser's recursion); ``NaN``/``Infinity`` and numbers too large for a float become ``None``,
    strings and containers are cut to their first 2000 characters / 100 items. Anything else is a
    text preview. Never raises.
    """
    text = body[:_MAX_ANSWER_BYTES].decode("utf-8", "replace")
    preview = text[:_ANSWER_PREVIEW_CHARS]
    media_type = content_type.split(";")[0].strip().lower()
    if not (media_type == "application/json" or media_type.endswith("+json")):
        return preview, None
    if len(body) > _MAX_ANSWER_BYTES or _nesting_depth(text) > _MAX_ANSWER_DEPTH:
        return preview, None
    try:
        parsed = json.loads(text, parse_constant=lambda _: None, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return preview, None
    answer = _bounded(parsed, 0)
    message = answer.get("message") if isinstance(answer, dict) else None
    return answer, message if isinstance(message, str) else None


def _finite_float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _nesting_depth(text: str) -> int:
    """How deeply ``[`` and ``{`` nest in JSON text, strings skipped (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _bounded(value: Any, depth: int) -> Any:
    """``value`` with every part JSON can carry strictly: finite numbers, bounded strings and containers."""
    if depth > _MAX_ANSWER_DEPTH:
        return "..."
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else _short(str(value), 40)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return _short(value, _ANSWER_PREVIEW_CHARS)
    if isinstance(value, dict):
        items = list(value.items())[:_MAX_ITEMS]
        return {_short(str(key), 200): _bounded(item, depth + 1) for key, item in items}
    if isinstance(value, list | tuple):
        return [_bounded(item, depth + 1) for item in value[:_MAX_ITEMS]]
    return _short(repr(value), 200)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float as ``None`` (its containers are already bounded)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def _strict_json(document: Any) -> str:
    """JSON as RFC 8259 defines it: no NaN or Infinity."""
    return json.dumps(_finite(document), allow_nan=False)


_state: _Page | None = None
_state_lock = threading.Lock()


def _page() -> _Page:
    # Built on first use inside each gunicorn worker process (threads and pools do not survive fork).
    global _state
    with _state_lock:
        if _state is None:
            _state = _Page()
        return _state


def _document() -> dict[str, Any]:
    page = _page()
    request_id = _short(g.get("request_id") or "discovery-page", 200)
    rows, error, _, more = page.rows(request_id)
    services: list[dict[str, Any]] = []
    for row in rows:
        try:
            entry = row.as_dict()
            _strict_json(entry)  # a row JSON cannot carry is replaced, not the page
        except Exception as failure:
            entry = ServiceRow(row.name, row.dns_name, None, None, None).as_dict()
            entry["error"] = {"failure": "row_error", "detail": _describe(failure)}
        services.append(entry)
    return {
        "namespace": {"name": page.namespace or None, "id": page.namespace_id or None},
        "seen_from": {"service": page.own_name, "address": _short(request.host, 300)},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "error": error,
        "more_services": more,
        "services": services,
    }


# -- HTTP -------------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; }
body { color: #1d232b; background: #f6f7f9; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
p.meta { color: #56606b; margin: 0 0 1.25rem; }
div.meta { color: #56606b; font-size: .85rem; }
table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
th, td { text-align: left; vertical-align: top; padding: .6rem .75rem; border-bottom: 1px solid #e3e6ea; }
th { background: #eef1f4; font-weight: 600; font-size: .85rem; text-transform: uppercase; letter-spacing: .03em; }
td { overflow-wrap: anywhere; }
td.num { font-variant-numeric: tabular-nums; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; }
.ok { color: #17663a; font-weight: 600; }
.warn { color: #8a5a00; font-weight: 600; }
.bad { color: #a11d2b; font-weight: 600; }
tr.failed td { background: #fff5f5; }
pre { margin: .4rem 0 0; white-space: pre-wrap; word-break: break-word; }
pre { font: 12px ui-monospace, monospace; color: #333; }
details summary { cursor: pointer; color: #56606b; font-size: .85rem; }
.banner { background: #fff5f5; border: 1px solid #e8b4b8; padding: .75rem 1rem; margin-bottom: 1rem; }
a.reload { display: inline-block; margin-bottom: 1rem; }
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
# No script, no external resource: the page only needs its own inline stylesheet.
_CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

# Every value below is escaped by Jinja's autoescaping (render_template_string enables it);
# only the constant stylesheet and the rows rendered from _ROW are marked safe.
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Service discovery: {{ doc.namespace.name or "?" }}</title>
<style>{{ css }}</style>
</head>
<body>
<h1>Services in namespace <code>{{ doc.namespace.name or "?" }}</code></h1>
<p class="meta">Seen from <code>{{ doc.seen_from.service }}</code> at <code>{{ doc.seen_from.address }}</code>,
{{ doc.generated_at }}. Instances from the Cloud Map API; addresses from DNS, one picked per call.</p>
<a class="reload" href="">Reload: DNS may pick another task</a>
{% if doc.error %}<div class="banner bad" id="page-error">{{ doc.error }}</div>{% endif %}
{% if doc.more_services %}<div class="banner" id="more-services">{{ doc.more_services }} more services
are not shown.</div>{% endif %}
<table id="services">
<thead><tr><th>Service</th><th>Instances</th><th>Owner</th><th>Created by</th><th>DNS answer</th><th>Answer</th></tr>
</thead>
<tbody>
{% for row in rows %}{{ row }}
{% else %}
<tr><td colspan="6">No other service in this namespace.</td></tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""

_ROW = """<tr class="service{% if row.error %} failed{% endif %}" data-service="{{ row.name }}">
<td><code class="dns-name">{{ row.dns_name or row.name }}</code>
{% if row.registry.zones %}<div class="meta zones">{{ row.registry.zones | join(", ") }}</div>{% endif %}
{% if row.registry.task_definitions %}<div class="meta families">{{
row.registry.task_definitions | join(", ") }}</div>{% endif %}</td>
<td class="num instances">
{% if row.instances.error %}<span class="bad">{{ row.instances.error }}</span>
{% elif row.instances.total is not none %}<span class="{{ 'ok' if row.instances.healthy else 'bad' }}">{{
row.instances.healthy }}</span> healthy of {{ row.instances.total }}
{% else %}-{% endif %}</td>
<td class="num owner">{{ row.registry.resource_owner or "-" }}</td>
<td class="num created-by">{{ row.registry.created_by_account or "-" }}</td>
<td class="num dns">
{% if row.dns.address %}<code class="address">{{ row.dns.address }}:{{ row.dns.port }}</code><br>
chosen from <span class="hosts">{{ row.dns.hosts }}</span> host{{ "" if row.dns.hosts == 1 else "s" }}
{% if row.call.attempts and row.call.attempts > 1 %}
<br><span class="warn">{{ row.call.attempts }} attempts</span>{% endif %}
{% elif row.dns.hosts is not none %}{{ row.dns.hosts }} host{{ "" if row.dns.hosts == 1 else "s" }}, none answered
{% else %}-{% endif %}
</td>
<td class="answer">
{% if row.error %}<span class="bad error">{{ row.error.failure }}: {{ row.error.detail }}</span>{% endif %}
{% if row.message is not none %}<div class="message">{{ row.message }}</div>{% endif %}
{% if row.answered_by %}
<div class="meta">answered by <code class="answered-by">{{ row.answered_by }}</code></div>{% endif %}
{% if row.answer is not none %}<details><summary>HTTP {{ row.call.status }} in {{ row.call.elapsed_ms }} ms</summary>
<pre>{{ answer_text }}</pre></details>{% endif %}
</td>
</tr>"""

_FAILED_ROW = """<tr class="service failed" data-service="{{ name }}">
<td><code class="dns-name">{{ name }}</code></td><td class="num instances">-</td><td class="num owner">-</td>
<td class="num created-by">-</td><td class="num dns">-</td>
<td class="answer"><span class="bad error">row_error: {{ detail }}</span></td></tr>"""

_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _with_headers(response: Response) -> Response:
    response.headers.update(_SECURITY_HEADERS)
    return response


def _answer_text(answer: Any) -> str:
    if answer is None:
        return ""
    return answer if isinstance(answer, str) else json.dumps(answer, indent=2, ensure_ascii=False, allow_nan=False)


def _visible(value: Any) -> Any:
    """For the HTML page: control and format (bidi) characters in strings shown as ``\\xNN`` / ``\\uNNNN``
    (HTML forbids the first, the second reorder text); newlines and tabs kept for ``<pre>``."""
    if isinstance(value, str):
        if value.isprintable():
            return value
        return "".join(char if char.isprintable() or char in "\n\t" else repr(char)[1:-1] for char in value)
    if isinstance(value, dict):
        return {key: _visible(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_visible(item) for item in value]
    return value


def _render_row(row: dict[str, Any]) -> Markup:
    try:
        shown = _visible(row)
        answer_text = _visible(_answer_text(row.get("answer")))
        return Markup(render_template_string(_ROW, row=shown, answer_text=answer_text))
    except Exception as error:  # this row is shown as failed; the others as they are
        name = _visible(_short(row.get("name"), 200))
        return Markup(render_template_string(_FAILED_ROW, name=name, detail=_describe(error)))


@discovery_page.get("/services")
def services_page() -> Response:
    doc = _document()
    rows = [_render_row(row) for row in doc["services"]]
    page = {key: _visible(value) for key, value in doc.items() if key != "services"}
    html = render_template_string(_PAGE, doc=page, rows=rows, css=Markup(_CSS))
    return _with_headers(Response(html, mimetype="text/html"))


@discovery_page.get("/api/services")
def services_api() -> Response:
    return _with_headers(Response(_strict_json(_document()), mimetype="application/json"))
