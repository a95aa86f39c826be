"""The discovery page: every service of the namespace, as Cloud Map lists it and as DNS finds it.

``GET /services`` (HTML) and ``GET /api/services`` (JSON) list each service of the
namespace except this one: its DNS name, how many of its instances are healthy (Cloud Map
ListInstances and GetInstancesHealthStatus), how many addresses DNS offered, the address
the call went to this time, and what the service answered. Reloading shows DNS choosing
other tasks. A service that cannot be found or reached shows its error in its row; the
page itself always answers 200.

Needs ``NAMESPACE_ID`` and ``AWS_REGION`` (set by ``grant_discovery_read()``, which also
grants the read actions) and ``NAMESPACE``. ``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` points it
at another Cloud Map endpoint (the local run). ``DISCOVERY_REGISTRY_TTL`` (seconds, default
5) bounds how often one process calls the Cloud Map API, whose request rate is limited.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config
from flask import Blueprint, Response, g, jsonify, render_template_string, request
from markupsafe import Markup

from ecs_discovery_client import DiscoveryClient, DiscoveryError, DiscoverySettings

__all__ = ["discovery_page"]

discovery_page = Blueprint("discovery_page", __name__)

# Answers are shown, but only this much of each.
_ANSWER_PREVIEW_CHARS = 2000
# One page never waits longer than this for all its services together.
_PAGE_DEADLINE_S = 10.0
_MAX_PARALLEL_CALLS = 8


def _environ_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


# -- the registry (Cloud Map API) ---------------------------------------------------


@dataclass(frozen=True)
class RegisteredService:
    id: str
    name: str
    has_srv: bool
    healthy: int | None = None
    total: int | None = None
    ports: tuple[int, ...] = ()
    error: str | None = None  # ListInstances / GetInstancesHealthStatus failed


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
    configured = os.environ.get(f"{service.name.upper().replace('-', '_')}_PORT", "")
    return int(configured) if configured.isdigit() and 0 < int(configured) < 65536 else 80


@dataclass(frozen=True)
class Registry:
    services: tuple[RegisteredService, ...] = ()
    error: str | None = None  # the namespace could not be listed at all
    read_at: float = 0.0


def _has_srv(summary: dict[str, Any]) -> bool:
    records = (summary.get("DnsConfig") or {}).get("DnsRecords", [])
    return any(record.get("Type") == "SRV" for record in records)


def _describe_aws_error(error: Exception) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials (is a task role attached?)"
    return f"{type(error).__name__}: {error}"


class RegistryReader:
    """Reads the namespace's services and instances, at most once per ``ttl`` seconds per process."""

    def __init__(self, namespace_id: str, region: str | None, ttl: float) -> None:
        self.namespace_id = namespace_id
        self.region = region
        self.ttl = ttl
        self._lock = threading.Lock()
        self._client: Any = None
        self._cached = Registry()

    def _cloud_map(self) -> Any:
        if self._client is None:
            config = Config(
                retries={"mode": "standard", "max_attempts": 2},
                connect_timeout=1,
                read_timeout=3,
                user_agent_extra="flask-backend-discovery-page",
            )
            # Endpoint and credentials: the usual chain (task role, AWS_ENDPOINT_URL_SERVICEDISCOVERY).
            self._client = boto3.Session().client("servicediscovery", region_name=self.region, config=config)
        return self._client

    def read(self, executor: ThreadPoolExecutor) -> Registry:
        with self._lock:  # one refresh at a time; the others wait for it and share it
            if self._cached.read_at and time.monotonic() - self._cached.read_at < self.ttl:
                return self._cached
            try:
                client = self._cloud_map()
                summaries = self._services(client)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
                # Not cached: the next request tries again.
                return Registry(error=f"cannot list the services of {self.namespace_id}: {_describe_aws_error(error)}")
            futures = [(summary, executor.submit(self._instances, client, summary)) for summary in summaries]
            deadline = time.monotonic() + _PAGE_DEADLINE_S
            services = []
            for summary, future in futures:
                try:
                    services.append(future.result(timeout=max(deadline - time.monotonic(), 0.01)))
                except FutureTimeout:
                    has_srv = _has_srv(summary)
                    detail = f"instances not listed within {_PAGE_DEADLINE_S:g} s"
                    services.append(RegisteredService(summary["Id"], summary["Name"], has_srv, error=detail))
            self._cached = Registry(services=tuple(services), read_at=time.monotonic())
            return self._cached

    def _services(self, client: Any) -> list[dict[str, Any]]:
        filters = [{"Name": "NAMESPACE_ID", "Values": [self.namespace_id], "Condition": "EQ"}]
        summaries = []
        for page in client.get_paginator("list_services").paginate(Filters=filters):
            for item in page.get("Services", []):
                # Checked again here: a stand-in API may ignore the filter.
                if (item.get("NamespaceId") or (item.get("DnsConfig") or {}).get("NamespaceId")) == self.namespace_id:
                    summaries.append(item)
        return sorted(summaries, key=lambda item: item["Name"])

    def _instances(self, client: Any, summary: dict[str, Any]) -> RegisteredService:
        has_srv = _has_srv(summary)
        try:
            instances = []
            for page in client.get_paginator("list_instances").paginate(ServiceId=summary["Id"]):
                instances.extend(page.get("Instances", []))
            health: dict[str, str] = {}
            token = None
            for _ in range(100):  # pages of GetInstancesHealthStatus (no botocore paginator)
                if not instances:
                    break
                kwargs = {"ServiceId": summary["Id"], **({"NextToken": token} if token else {})}
                answer = client.get_instances_health_status(**kwargs)
                health.update(answer.get("Status", {}))
                token = answer.get("NextToken")
                if not token:
                    break
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
            return RegisteredService(summary["Id"], summary["Name"], has_srv, error=_describe_aws_error(error))
        registered_ports = (item.get("Attributes", {}).get("AWS_INSTANCE_PORT", "") for item in instances)
        ports = sorted({int(port) for port in registered_ports if port.isdigit()})
        healthy = sum(1 for item in instances if health.get(item["Id"]) == "HEALTHY")
        return RegisteredService(summary["Id"], summary["Name"], has_srv, healthy, len(instances), tuple(ports))


# -- calling each service through DNS -------------------------------------------------


@dataclass
class ServiceRow:
    name: str
    dns_name: str
    healthy: int | None
    total: int | None
    registry_error: str | None
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
    failed_attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dns_name": self.dns_name,
            "instances": {"healthy": self.healthy, "total": self.total, "error": self.registry_error},
            "dns": {"hosts": self.hosts, "address": self.address, "port": self.port},
            "call": {"status": self.status, "attempts": self.attempts, "elapsed_ms": self.elapsed_ms},
            "failed_attempts": self.failed_attempts,
            "message": self.message,
            "answered_by": self.answered_by,
            "answer": self.answer,
            "error": self.error,
        }


class _Page:
    """Per-process state: the registry cache, one DNS client per service name, a bounded thread pool."""

    def __init__(self) -> None:
        self.namespace = os.environ.get("NAMESPACE", "").strip().strip(".")
        self.namespace_id = os.environ.get("NAMESPACE_ID", "").strip()
        self.own_name = os.environ.get("SERVICE_NAME", "").strip() or "backend"
        region = os.environ.get("AWS_REGION", "").strip() or os.environ.get("AWS_DEFAULT_REGION", "").strip() or None
        self.settings = DiscoverySettings.from_environ(os.environ)
        self.registry = RegistryReader(self.namespace_id, region, _environ_float("DISCOVERY_REGISTRY_TTL", 5.0))
        self.executor = ThreadPoolExecutor(max_workers=_MAX_PARALLEL_CALLS, thread_name_prefix="discovery-page")
        self._clients: dict[tuple[str, int | None], DiscoveryClient] = {}
        self._lock = threading.Lock()

    def configuration_error(self) -> str | None:
        if not self.namespace_id:
            return "NAMESPACE_ID is not set: the stack must call grant_discovery_read() for this service"
        if not self.namespace:
            return "NAMESPACE is not set"
        return None

    def client(self, dns_name: str, port: int | None) -> DiscoveryClient:
        # Kept per name, so each keeps its DNS answer for the record's TTL across requests.
        with self._lock:
            key = (dns_name, port)
            if key not in self._clients:
                self._clients[key] = DiscoveryClient(dns_name, port, settings=self.settings)
            return self._clients[key]

    def call(self, service: RegisteredService, request_id: str) -> ServiceRow:
        row = ServiceRow(
            service.name,
            f"{service.name}.{self.namespace}",
            service.healthy,
            service.total,
            service.error,
        )
        client = self.client(row.dns_name, call_port(service))
        started = time.perf_counter()
        try:
            row.hosts = len(client.endpoints())
            result = client.call("/", headers={"X-Request-Id": request_id})
        except DiscoveryError as error:
            row.error = {"failure": error.failure, "detail": error.detail}
            row.failed_attempts = [failure.as_dict() for failure in error.failures]
            return row
        finally:
            row.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        row.address, row.port, row.status, row.attempts = result.address, result.port, result.status, result.attempts
        row.failed_attempts = [failure.as_dict() for failure in result.failures]
        row.answer, row.message = _read_answer(result.body, result.content_type)
        identity = row.answer.get("identity") if isinstance(row.answer, dict) else None
        if isinstance(identity, dict):
            row.answered_by = " ".join(str(identity[key]) for key in ("hostname", "address") if identity.get(key))
        if not 200 <= result.status < 300:
            row.error = {"failure": "http_status", "detail": f"answered HTTP {result.status}"}
        return row

    def rows(self, request_id: str) -> tuple[list[ServiceRow], str | None]:
        problem = self.configuration_error()
        if problem:
            return [], problem
        registry = self.registry.read(self.executor)
        if registry.error:
            return [], registry.error
        others = [service for service in registry.services if service.name != self.own_name]
        futures = [(service, self.executor.submit(self.call, service, request_id)) for service in others]
        deadline = time.monotonic() + _PAGE_DEADLINE_S
        rows = []
        for service, future in futures:
            try:
                rows.append(future.result(timeout=max(deadline - time.monotonic(), 0.01)))
            except FutureTimeout:
                row = ServiceRow(
                    service.name, f"{service.name}.{self.namespace}", service.healthy, service.total, service.error
                )
                row.error = {"failure": "page_deadline", "detail": f"no result within {_PAGE_DEADLINE_S:g} s"}
                rows.append(row)
        return rows, None


def _read_answer(body: bytes, content_type: str) -> tuple[Any, str | None]:
    """The answer (parsed JSON or a text preview) and its ``message`` field, if it has one."""
    text = body.decode("utf-8", "replace")
    if content_type.split(";")[0].strip() == "application/json":
        try:
            answer = json.loads(text)
        except ValueError:
            return text[:_ANSWER_PREVIEW_CHARS], None
        message = answer.get("message") if isinstance(answer, dict) else None
        return answer, message if isinstance(message, str) else None
    return text[:_ANSWER_PREVIEW_CHARS], None


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
    request_id = g.get("request_id") or "discovery-page"
    rows, error = page.rows(request_id)
    return {
        "namespace": {"name": page.namespace or None, "id": page.namespace_id or None},
        "seen_from": {"service": page.own_name, "address": request.host},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "error": error,
        "services": [row.as_dict() for row in rows],
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
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
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
# only the constant stylesheet is marked safe.
_TEMPLATE = """<!doctype html>
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
<table id="services">
<thead><tr><th>Service</th><th>Instances</th><th>DNS answer</th><th>Answer</th></tr></thead>
<tbody>
{% for row in doc.services %}
<tr class="service{% if row.error %} failed{% endif %}" data-service="{{ row.name }}">
<td><code class="dns-name">{{ row.dns_name }}</code></td>
<td class="num instances">
{% if row.instances.error %}<span class="bad">{{ row.instances.error }}</span>
{% else %}<span class="{{ 'ok' if row.instances.healthy else 'bad' }}">{{ row.instances.healthy }}</span>
 healthy of {{ row.instances.total }}{% endif %}</td>
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
<pre>{{ row.answer_text }}</pre></details>{% endif %}
</td>
</tr>
{% else %}
<tr><td colspan="4">No other service in this namespace.</td></tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""

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
    return answer if isinstance(answer, str) else json.dumps(answer, indent=2, ensure_ascii=False)


@discovery_page.get("/services")
def services_page() -> Response:
    doc = _document()
    for row in doc["services"]:
        row["answer_text"] = _answer_text(row["answer"]) if row["answer"] is not None else ""
    html = render_template_string(_TEMPLATE, doc=doc, css=Markup(_CSS))
    return _with_headers(Response(html, mimetype="text/html"))


@discovery_page.get("/api/services")
def services_api() -> Response:
    return _with_headers(jsonify(_document()))
