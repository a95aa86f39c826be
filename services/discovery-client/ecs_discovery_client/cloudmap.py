# pyright: strict, reportMissingTypeStubs=false
"""Reading AWS Cloud Map through its API: namespaces, their services, and each service's instances.

One reader for every part of the project that asks the Cloud Map API what is registered (the
``ecs-discovery`` CLI and the backend's discovery page). Needs boto3: ``pip install
'ecs-discovery-client[cloudmap]'``.

    from ecs_discovery_client.cloudmap import CloudMapReader, make_client

    reader = CloudMapReader(make_client(region="eu-west-1"))
    namespace = reader.find_namespace("corp")
    for service in reader.list_services(namespace):
        listing = reader.list_instances(namespace, service)

Read as the API reference (botocore's service model) defines it, not as any one stand-in answers:

* **Services of a namespace** come from ``ListServices`` with the filter ``NAMESPACE_ID EQ <id>``, and
  the answer is trusted. ``ServiceSummary`` has no ``NamespaceId``; ``DnsConfig.NamespaceId`` is
  deprecated and absent from services created with the top-level ``NamespaceId`` (CloudFormation,
  the console, the API, Service Connect); services of HTTP namespaces and Service Connect's have no
  ``DnsConfig`` at all. None of these fields is used to filter. AWS filters after it took
  ``MaxResults`` services, so a page may be empty and still carry a ``NextToken``: every page is
  read, up to ``max_pages``.
* **Instances** come from ``DiscoverInstances`` with ``HealthStatus=ALL`` (one call per service, the
  health status of each instance included, up to 1,000 instances: the API's ``MaxResults`` ceiling)
  when ``instances_api="discover"`` (the default). AWS documents a request quota of its own for it
  (a bucket of 2,000 requests refilled at 1,000 per second per account and Region:
  https://docs.aws.amazon.com/cloud-map/latest/dg/throttling.html), separate from the control-plane
  operations' such as ``ListInstances``; the listing ``ListInstances`` + ``GetInstancesHealthStatus``
  needs two calls or more per service. ``DiscoverInstances`` is served by the data-plane endpoint
  (``data-servicediscovery.<region>.amazonaws.com``: botocore adds the ``data-`` host prefix from the
  model), needs the namespace's ``HttpName`` (``Properties.HttpProperties.HttpName``, which differs
  from ``Name`` when a name was reused) and the service's name, and the IAM action
  ``servicediscovery:DiscoverInstances``. When that action is denied, the reader falls back to
  ``ListInstances`` + ``GetInstancesHealthStatus`` for good (``instances_api="list"`` chooses them
  outright); when DiscoverInstances answers ServiceNotFound for a service ListServices just listed
  (the data plane has not caught up with a new service), for that one listing.
  ``DiscoverInstancesRevision`` is not used to skip unchanged listings: its revision "updates" when an
  instance is registered or deregistered, but "health status updates don't update InstancesRevision"
  (DiscoverInstancesRevisionResponse in botocore's model), and the listings show health.
  Sources: botocore/data/servicediscovery/2017-03-14/service-2.json (operations DiscoverInstances,
  DiscoverInstancesRevision, ListServices, ListInstances; shapes ServiceSummary, DnsConfig,
  ServiceFilter, HttpProperties) and the throttling page above.
* **Attributes** are kept as registered; the ones ECS writes have properties on :class:`Instance`
  (address, port, zone, task definition family, cluster, ECS service, Region). Values are parsed
  strictly: a port is ASCII digits 1-65535 or nothing, an address a valid IP address or nothing.

Everything the registry returns (names, attribute values) and every AWS error message is untrusted
text: show it through :func:`printable` on a terminal, and let an HTML template escape it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
import botocore.session
from botocore.config import Config

__all__ = [
    "ATTR_AVAILABILITY_ZONE",
    "ATTR_CLUSTER_NAME",
    "ATTR_EC2_INSTANCE_ID",
    "ATTR_ECS_SERVICE_NAME",
    "ATTR_IPV4",
    "ATTR_IPV6",
    "ATTR_PORT",
    "ATTR_REGION",
    "ATTR_TASK_DEFINITION_FAMILY",
    "ECS_ATTRIBUTES",
    "CloudMapConfigError",
    "CloudMapError",
    "CloudMapReader",
    "DnsRecord",
    "Instance",
    "InstanceListing",
    "Namespace",
    "Service",
    "make_client",
    "printable",
]

# The attributes ECS writes when it registers a task in Cloud Map (RegisterInstance).
ATTR_IPV4 = "AWS_INSTANCE_IPV4"
ATTR_IPV6 = "AWS_INSTANCE_IPV6"
ATTR_PORT = "AWS_INSTANCE_PORT"
ATTR_AVAILABILITY_ZONE = "AVAILABILITY_ZONE"
ATTR_REGION = "REGION"
ATTR_CLUSTER_NAME = "ECS_CLUSTER_NAME"
ATTR_ECS_SERVICE_NAME = "ECS_SERVICE_NAME"
ATTR_TASK_DEFINITION_FAMILY = "ECS_TASK_DEFINITION_FAMILY"
ATTR_EC2_INSTANCE_ID = "EC2_INSTANCE_ID"
#: In the order a listing shows them.
ECS_ATTRIBUTES = (
    ATTR_IPV4,
    ATTR_IPV6,
    ATTR_PORT,
    ATTR_AVAILABILITY_ZONE,
    ATTR_REGION,
    ATTR_CLUSTER_NAME,
    ATTR_ECS_SERVICE_NAME,
    ATTR_TASK_DEFINITION_FAMILY,
    ATTR_EC2_INSTANCE_ID,
)

#: ``MaxResults`` of ListNamespaces / ListServices / ListInstances / GetInstancesHealthStatus (the API's maximum).
PAGE_SIZE = 100
#: ``MaxResults`` of DiscoverInstances: the API's maximum, and Cloud Map's default quota of instances per service.
DISCOVER_MAX_RESULTS = 1000
#: Pages read per listing before it is reported as cut short (100 pages of 100: 10,000 items).
DEFAULT_MAX_PAGES = 100
#: Attempts per call (first try included) allowed from AWS_MAX_ATTEMPTS / the profile's max_attempts.
MAX_ATTEMPTS_LIMIT = 10

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
_CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
    }
)
_ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException"})
_NOT_FOUND_CODES = frozenset({"NamespaceNotFound", "ServiceNotFound", "InstanceNotFound"})
# botocore's own check of a region name (botocore.utils.validate_region_name), as a full match.
_REGION = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-]{0,61}[a-zA-Z0-9])?")
_PORT = re.compile(r"[0-9]{1,5}")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_MAX_DNS_NAME = 253
_SHOWN_CHARS = 200
_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


# -- untrusted text ----------------------------------------------------------------------


def printable(value: object, limit: int = _SHOWN_CHARS) -> str:
    """``value`` as one line of text a terminal shows as it is: control, format (bidi) and other
    non-printable characters and the backslash become Python-style escapes; at most ``limit``
    characters of the original are shown."""
    text = value if isinstance(value, str) else str(value)
    shown = text[:limit]
    out: list[str] = []
    for char in shown:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    if len(text) > limit:
        out.append(f"...(+{len(text) - limit} chars)")
    return "".join(out)


def is_dns_name(name: str) -> bool:
    """Whether ``name`` (no trailing dot) is a DNS name of letters, digits, ``-`` and ``_`` labels."""
    return (
        0 < len(name) <= _MAX_DNS_NAME
        and name.isascii()
        and all(_DNS_LABEL.fullmatch(label) for label in name.split("."))
    )


# -- errors ------------------------------------------------------------------------------


class CloudMapError(Exception):
    """A Cloud Map API call failed. ``kind`` says how, for callers that branch on it:

    ``credentials`` (none, incomplete or rejected), ``access_denied``, ``throttled`` (after the
    retries), ``not_found``, ``endpoint`` (unreachable, timed out), ``ambiguous`` (a name that
    matches several namespaces), ``truncated`` (more pages than allowed), ``aws`` (any other).
    ``message`` is one line, with AWS's own text passed through :func:`printable`.
    """

    def __init__(self, kind: str, message: str, *, operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.operation = operation
        self.code = code


class CloudMapConfigError(CloudMapError):
    """The AWS configuration cannot make a client: endpoint URL, region, profile, AWS_* settings."""

    def __init__(self, message: str) -> None:
        super().__init__("config", message)


# -- what the registry holds -----------------------------------------------------------------


@dataclass(frozen=True)
class Namespace:
    id: str
    name: str
    type: str  # DNS_PRIVATE, DNS_PUBLIC or HTTP (as the API says; "" when absent)
    arn: str = ""
    #: Properties.HttpProperties.HttpName: the name DiscoverInstances wants (None when not returned).
    http_name: str | None = None
    service_count: int | None = None
    resource_owner: str | None = None

    @property
    def discovery_name(self) -> str:
        """The ``NamespaceName`` DiscoverInstances wants: ``HttpName``, else ``Name`` (equal unless reused)."""
        return self.http_name or self.name

    @property
    def has_dns(self) -> bool:
        return self.type in ("DNS_PRIVATE", "DNS_PUBLIC")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "arn": self.arn,
            "http_name": self.http_name,
            "service_count": self.service_count,
        }


@dataclass(frozen=True)
class DnsRecord:
    type: str  # A, AAAA, SRV, CNAME
    ttl: int | None


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    arn: str = ""
    #: ServiceSummary.Type: DNS_HTTP (DNS and the API), HTTP (the API only) or DNS; None when absent.
    type: str | None = None
    dns_records: tuple[DnsRecord, ...] = ()
    routing_policy: str | None = None
    health_check: str = "none"  # "custom" (ECS), "route53" or "none"
    instance_count: int | None = None
    description: str | None = None

    @property
    def has_srv(self) -> bool:
        return any(record.type == "SRV" for record in self.dns_records)

    def dns_name(self, namespace: Namespace) -> str | None:
        """``<service>.<namespace>`` when Cloud Map publishes the service in DNS and that is a valid DNS
        name; None for API-only services (HTTP namespaces, Service Connect) and names DNS cannot carry."""
        if not self.dns_records or not namespace.has_dns:
            return None
        name = f"{self.name}.{namespace.name}".rstrip(".")
        return name.lower() if is_dns_name(name) else None

    def as_dict(self, namespace: Namespace) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "dns_name": self.dns_name(namespace),
            "arn": self.arn,
            "type": self.type,
            "instance_count": self.instance_count,
            "dns_records": [{"type": record.type, "ttl": record.ttl} for record in self.dns_records],
            "routing_policy": self.routing_policy,
            "health_check": self.health_check,
        }


@dataclass(frozen=True)
class Instance:
    id: str
    #: HEALTHY, UNHEALTHY or UNKNOWN (no health check, or not reported yet).
    health: str
    attributes: Mapping[str, str] = field(default_factory=lambda: {})

    @property
    def ipv4(self) -> str | None:
        return _address(self.attributes.get(ATTR_IPV4), 4)

    @property
    def ipv6(self) -> str | None:
        return _address(self.attributes.get(ATTR_IPV6), 6)

    @property
    def port(self) -> int | None:
        """AWS_INSTANCE_PORT when it is a TCP port (ASCII digits, 1-65535); None otherwise."""
        return parse_port(self.attributes.get(ATTR_PORT))

    @property
    def availability_zone(self) -> str | None:
        return self.attributes.get(ATTR_AVAILABILITY_ZONE)

    @property
    def task_definition_family(self) -> str | None:
        return self.attributes.get(ATTR_TASK_DEFINITION_FAMILY)

    @property
    def cluster(self) -> str | None:
        return self.attributes.get(ATTR_CLUSTER_NAME)

    @property
    def ecs_service(self) -> str | None:
        return self.attributes.get(ATTR_ECS_SERVICE_NAME)

    @property
    def region(self) -> str | None:
        return self.attributes.get(ATTR_REGION)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ipv4": self.ipv4,
            "ipv6": self.ipv6,
            "port": self.port,
            "health": self.health,
            "availability_zone": self.availability_zone,
            "task_definition_family": self.task_definition_family,
            "cluster": self.cluster,
            "ecs_service": self.ecs_service,
            "region": self.region,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class InstanceListing:
    instances: tuple[Instance, ...]
    #: "DiscoverInstances" or "ListInstances": the API the listing came from.
    source: str
    #: True when the API may hold more than was returned (DiscoverInstances' ceiling was reached).
    truncated: bool = False

    @property
    def healthy(self) -> int:
        return sum(1 for instance in self.instances if instance.health == "HEALTHY")


def parse_port(text: object) -> int | None:
    """A TCP port from registry text: ASCII digits only (no ``²``, no ``٣``), 1-65535; None otherwise."""
    if not isinstance(text, str) or not _PORT.fullmatch(text):
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


def _address(text: object, version: int) -> str | None:
    if not isinstance(text, str) or not text.isascii():
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(address) if address.version == version else None


# -- the client ------------------------------------------------------------------------------


def make_client(
    *,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 15.0,
    max_attempts: int | None = None,
    user_agent_extra: str = "ecs-discovery",
) -> Any:
    """A boto3 Cloud Map client from the usual AWS configuration, checked before it is used.

    ``None`` arguments fall back to the environment and the profile: AWS_PROFILE, AWS_REGION /
    AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_SERVICEDISCOVERY / AWS_ENDPOINT_URL, AWS_MAX_ATTEMPTS
    (1-10; retries use botocore's standard mode). Anything malformed there, or a malformed
    ``endpoint_url``, raises :class:`CloudMapConfigError` with one line naming the setting,
    never ValueError or a botocore traceback.

    With a configured endpoint (a local stand-in, a proxy), every operation goes to that URL:
    the ``data-`` host prefix of DiscoverInstances is not added to it.
    """
    if endpoint_url is not None:
        endpoint_url = _checked_endpoint(endpoint_url, "--endpoint-url")
    if os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").strip().lower() != "true":
        for variable in ("AWS_ENDPOINT_URL_SERVICEDISCOVERY", "AWS_ENDPOINT_URL"):
            if os.environ.get(variable):
                _checked_endpoint(os.environ[variable], variable)
    if region is not None and not _REGION.fullmatch(region):
        raise CloudMapConfigError(f"region {printable(region, 64)!s} is not a region name such as eu-west-1")
    try:
        # boto3 and botocore ship no type information: their objects are Any here.
        core: Any = cast(Any, botocore.session).get_session()
        session: Any = cast(Any, boto3).Session(botocore_session=core, profile_name=profile, region_name=region)
        configured_region: str | None = session.region_name or _environ_region()
        if configured_region is None:
            raise CloudMapConfigError(
                "no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile"
            )
        if not _REGION.fullmatch(configured_region):
            raise CloudMapConfigError(
                f"AWS region {printable(configured_region, 64)} (AWS_REGION / AWS_DEFAULT_REGION / profile) "
                "is not a region name such as eu-west-1"
            )
        attempts = max_attempts if max_attempts is not None else _configured_max_attempts(core)
        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            user_agent_extra=user_agent_extra,
        )
        client: Any = session.client(
            "servicediscovery", region_name=configured_region, endpoint_url=endpoint_url, config=config
        )
        resolved = cast(str, client.meta.endpoint_url)
        _checked_endpoint(resolved, "AWS_ENDPOINT_URL_SERVICEDISCOVERY / AWS_ENDPOINT_URL / profile endpoint_url")
        if endpoint_url is not None or _is_configured_endpoint(session, configured_region, resolved):
            client.meta.config.inject_host_prefix = False
        return client
    except CloudMapConfigError:
        raise
    except botocore.exceptions.ProfileNotFound as error:
        details: object = cast(Any, error).kwargs
        shown = _mapping(details).get("profile", profile)
        raise CloudMapConfigError(f"AWS profile not found: {printable(shown)}") from None
    except botocore.exceptions.NoRegionError:
        raise CloudMapConfigError(
            "no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile"
        ) from None
    except (botocore.exceptions.BotoCoreError, ValueError, TypeError) as error:
        # ValueError: botocore's int() of a setting, an endpoint it cannot parse.
        raise CloudMapConfigError(f"AWS configuration error: {printable(error)}") from None


def _environ_region() -> str | None:
    # botocore reads AWS_DEFAULT_REGION; the other SDKs (and ECS, Lambda) set AWS_REGION.
    return os.environ.get("AWS_REGION") or None


def _configured_max_attempts(core: Any) -> int:
    try:
        configured: object = core.get_config_variable("max_attempts")
    except ValueError:
        raw = os.environ.get("AWS_MAX_ATTEMPTS", "(profile max_attempts)")
        raise CloudMapConfigError(
            f"AWS_MAX_ATTEMPTS / max_attempts {printable(raw, 40)} is not a whole number "
            f"(allowed: 1-{MAX_ATTEMPTS_LIMIT})"
        ) from None
    if configured is None:
        return 3  # botocore's standard mode default
    attempts = int(cast(int, configured))
    if not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
        raise CloudMapConfigError(
            f"AWS_MAX_ATTEMPTS / max_attempts {attempts} is out of range (allowed: 1-{MAX_ATTEMPTS_LIMIT})"
        )
    return attempts


def _checked_endpoint(url: str, setting: str) -> str:
    problem = None
    if not url.isascii() or not url.isprintable() or any(char.isspace() for char in url):
        problem = "has spaces, control or non-ASCII characters"
    else:
        try:
            parts = urlsplit(url)
            port = parts.port  # raises ValueError when out of range or not a number
        except ValueError as error:
            problem = str(error)
        else:
            if parts.scheme not in ("http", "https"):
                problem = "must start with http:// or https://"
            elif not parts.hostname:
                problem = "has no host"
            elif port == 0:
                problem = "port must be 1-65535"
    if problem:
        raise CloudMapConfigError(
            f"{setting} {printable(url, 80)} is not a valid endpoint URL ({problem}); "
            "expected e.g. https://servicediscovery.eu-west-1.amazonaws.com or http://127.0.0.1:5000"
        )
    return url


def _is_configured_endpoint(session: Any, region: str, resolved: str) -> bool:
    # The URL AWS's endpoint rules give when no endpoint is configured; any other one was configured.
    standard: Any = session.client(
        "servicediscovery", region_name=region, config=Config(ignore_configured_endpoint_urls=True)
    )
    return cast(str, standard.meta.endpoint_url) != resolved


# -- calls and errors -----------------------------------------------------------------------


def _call(operation: str, function: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except botocore.exceptions.NoCredentialsError:
        raise CloudMapError(
            "credentials",
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or sign in (aws sso login)",
            operation=operation,
        ) from None
    except botocore.exceptions.PartialCredentialsError as error:
        raise CloudMapError(
            "credentials", f"incomplete AWS credentials: {printable(error)}", operation=operation
        ) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
        raise CloudMapError(
            "endpoint", f"cannot reach the Cloud Map API ({operation}): {printable(error)}", operation=operation
        ) from None
    except botocore.exceptions.ReadTimeoutError as error:
        raise CloudMapError(
            "endpoint", f"the Cloud Map API did not answer {operation} in time: {printable(error)}", operation=operation
        ) from None
    except botocore.exceptions.ClientError as error:
        raise _client_error(operation, error) from None
    except botocore.exceptions.BotoCoreError as error:
        raise CloudMapError("aws", f"Cloud Map {operation} failed: {printable(error)}", operation=operation) from None
    except ValueError as error:
        # urllib3 refusing a URL botocore built; the endpoint is checked first, so this is a last resort.
        raise CloudMapError(
            "endpoint", f"Cloud Map {operation} failed: {printable(error)}", operation=operation
        ) from None


def _client_error(operation: str, error: botocore.exceptions.ClientError) -> CloudMapError:
    response: Mapping[str, Any] = cast(Mapping[str, Any], error.response)
    details: Mapping[str, Any] = response.get("Error") or {}
    code = printable(details.get("Code") or "Unknown", 64)
    message = printable(details.get("Message") or "", 300)
    if code in _THROTTLING_CODES:
        metadata: Mapping[str, Any] = response.get("ResponseMetadata") or {}
        attempts = int(metadata.get("RetryAttempts", 0)) + 1
        return CloudMapError(
            "throttled",
            f"throttled by the Cloud Map API ({operation}, {code}) after {attempts} attempts; "
            "try again later or raise AWS_MAX_ATTEMPTS",
            operation=operation,
            code=code,
        )
    if code in _CREDENTIAL_CODES:
        return CloudMapError(
            "credentials", f"AWS rejected the credentials ({code}): {message}", operation=operation, code=code
        )
    if code in _ACCESS_DENIED_CODES:
        return CloudMapError(
            "access_denied", f"access denied to servicediscovery:{operation}: {message}", operation=operation, code=code
        )
    if code in _NOT_FOUND_CODES:
        return CloudMapError("not_found", f"{code}: {message}", operation=operation, code=code)
    return CloudMapError("aws", f"Cloud Map {operation} failed ({code}): {message}", operation=operation, code=code)


# -- the reader ------------------------------------------------------------------------------


class CloudMapReader:
    """Reads namespaces, services and instances through one boto3 Cloud Map client.

    Not thread-safe, as boto3 clients are not shared safely: one reader per thread, or a lock.
    ``instances_api``: ``"discover"`` (DiscoverInstances, falling back to the listing when that
    action is denied) or ``"list"`` (ListInstances + GetInstancesHealthStatus).
    """

    def __init__(
        self,
        client: Any,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        instances_api: Literal["discover", "list"] = "discover",
    ) -> None:
        if not 1 <= max_pages <= 10_000:
            raise ValueError(f"max_pages must be 1-10000, got {max_pages!r}")
        if instances_api not in ("discover", "list"):
            raise ValueError(f"instances_api must be 'discover' or 'list', got {instances_api!r}")
        self.client = client
        self.max_pages = max_pages
        self.instances_api: Literal["discover", "list"] = instances_api

    # -- pages ---------------------------------------------------------------------

    def _pages(self, operation: str, method: Callable[..., Any], **kwargs: Any) -> Iterator[Mapping[str, object]]:
        """Every page of a NextToken listing, at most ``max_pages``; then CloudMapError("truncated")."""
        token: str | None = None
        for _ in range(self.max_pages):
            request = dict(kwargs)
            if token:
                request["NextToken"] = token
            page = _mapping(_call(operation, method, **request))
            yield page
            token = _optional_text(page.get("NextToken"))
            if not token:
                return
        raise CloudMapError(
            "truncated", f"{operation} returned more than {self.max_pages} pages; stopped there", operation=operation
        )

    # -- namespaces ----------------------------------------------------------------

    def list_namespaces(self) -> list[Namespace]:
        namespaces = [
            _namespace(item)
            for page in self._pages("ListNamespaces", self.client.list_namespaces, MaxResults=PAGE_SIZE)
            for item in _items(page.get("Namespaces"))
        ]
        return sorted(namespaces, key=lambda namespace: (namespace.name, namespace.id))

    def get_namespace(self, namespace_id: str) -> Namespace:
        answer = _mapping(_call("GetNamespace", self.client.get_namespace, Id=namespace_id))
        return _namespace(_mapping(answer.get("Namespace")))

    def find_namespace(self, name_or_id: str) -> Namespace:
        """The namespace called ``name_or_id`` (``corp``) or with that ID (``ns-...``)."""
        wanted = name_or_id.strip().rstrip(".")
        namespaces = self.list_namespaces()
        matches = [namespace for namespace in namespaces if namespace.id == wanted]
        if not matches:
            matches = [namespace for namespace in namespaces if namespace.name.lower() == wanted.lower()]
        if not matches:
            known = ", ".join(printable(namespace.name, 64) for namespace in namespaces) or "none"
            raise CloudMapError(
                "not_found",
                f"namespace {printable(wanted, 64)!r} not found (namespaces in this account and region: {known})",
            )
        if len(matches) > 1:
            ids = ", ".join(f"{namespace.id} ({namespace.type})" for namespace in matches)
            raise CloudMapError(
                "ambiguous",
                f"namespace name {printable(wanted, 64)!r} is ambiguous: {printable(ids)}; pass the ID instead",
            )
        return matches[0]

    # -- services ------------------------------------------------------------------

    def list_services(self, namespace: Namespace) -> list[Service]:
        """The services of ``namespace``, as ListServices filtered by NAMESPACE_ID answers them."""
        filters = [{"Name": "NAMESPACE_ID", "Values": [namespace.id], "Condition": "EQ"}]
        services = [
            _service(item)
            for page in self._pages("ListServices", self.client.list_services, Filters=filters, MaxResults=PAGE_SIZE)
            for item in _items(page.get("Services"))
        ]
        return sorted(services, key=lambda service: (service.name, service.id))

    def find_service(self, namespace: Namespace, name_or_id: str) -> Service:
        """The service ``worker``, ``worker.corp`` or ``srv-...`` of ``namespace``."""
        wanted = name_or_id.strip().rstrip(".")
        suffix = "." + namespace.name
        if wanted.lower().endswith(suffix.lower()) and len(wanted) > len(suffix):
            wanted = wanted[: -len(suffix)]
        services = self.list_services(namespace)
        for service in services:
            if service.id == wanted or service.name.lower() == wanted.lower():
                return service
        known = ", ".join(printable(service.name, 64) for service in services) or "none"
        raise CloudMapError(
            "not_found",
            f"service {printable(name_or_id, 64)!r} not found in namespace {printable(namespace.name, 64)!r} "
            f"(services: {known})",
        )

    # -- instances -----------------------------------------------------------------

    def list_instances(self, namespace: Namespace, service: Service) -> InstanceListing:
        """Every registered instance of ``service`` with its health status (HealthStatus=ALL)."""
        if self.instances_api == "discover":
            try:
                return self._discover(namespace, service)
            except CloudMapError as error:
                if error.code == "ServiceNotFound":
                    # ListServices (the control plane) just named it; the data plane may not know it yet
                    # (a service created a moment ago). Ask the control plane, this time only.
                    return self._list(service)
                if error.kind != "access_denied":
                    raise
                # A role granted the listing actions only: use them from now on.
                self.instances_api = "list"
        return self._list(service)

    def _discover(self, namespace: Namespace, service: Service) -> InstanceListing:
        answer = _mapping(
            _call(
                "DiscoverInstances",
                self.client.discover_instances,
                NamespaceName=namespace.discovery_name,
                ServiceName=service.name,
                HealthStatus="ALL",
                MaxResults=DISCOVER_MAX_RESULTS,
            )
        )
        items = _items(answer.get("Instances"))
        instances = [
            Instance(
                id=_text(item.get("InstanceId")),
                health=_health(item.get("HealthStatus")),
                attributes=_attributes(item.get("Attributes")),
            )
            for item in items
        ]
        return InstanceListing(_sorted(instances), "DiscoverInstances", truncated=len(items) >= DISCOVER_MAX_RESULTS)

    def _list(self, service: Service) -> InstanceListing:
        pages = self._pages("ListInstances", self.client.list_instances, ServiceId=service.id, MaxResults=PAGE_SIZE)
        items = [item for page in pages for item in _items(page.get("Instances"))]
        health: dict[str, object] = {}
        if items and service.health_check != "none":
            for page in self._pages(
                "GetInstancesHealthStatus",
                self.client.get_instances_health_status,
                ServiceId=service.id,
                MaxResults=PAGE_SIZE,
            ):
                health.update(_mapping(page.get("Status")))
        instances = [
            Instance(
                id=_text(item.get("Id")),
                health=_health(health.get(_text(item.get("Id")))),
                attributes=_attributes(item.get("Attributes")),
            )
            for item in items
        ]
        return InstanceListing(_sorted(instances), "ListInstances")


# -- shapes -> values ----------------------------------------------------------------------------


def _mapping(value: object) -> Mapping[str, object]:
    # Shapes are read defensively: a stand-in (or a future API) may answer with another type.
    return cast(Mapping[str, object], value) if isinstance(value, Mapping) else {}


def _items(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        return []
    items: list[object] = cast(list[object], value)
    return [_mapping(item) for item in items if _is_mapping(item)]


def _is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _namespace(item: Mapping[str, object]) -> Namespace:
    http = _mapping(_mapping(item.get("Properties")).get("HttpProperties"))
    return Namespace(
        id=_text(item.get("Id")),
        name=_text(item.get("Name")),
        type=_text(item.get("Type")),
        arn=_text(item.get("Arn")),
        http_name=_optional_text(http.get("HttpName")),
        service_count=_count(item.get("ServiceCount")),
        resource_owner=_optional_text(item.get("ResourceOwner")),
    )


def _service(item: Mapping[str, object]) -> Service:
    dns_config = _mapping(item.get("DnsConfig"))
    records = tuple(
        DnsRecord(_text(record.get("Type")), _count(record.get("TTL")))
        for record in _items(dns_config.get("DnsRecords"))
    )
    if item.get("HealthCheckCustomConfig") is not None:
        health_check = "custom"
    elif item.get("HealthCheckConfig") is not None:
        health_check = "route53"
    else:
        health_check = "none"
    return Service(
        id=_text(item.get("Id")),
        name=_text(item.get("Name")),
        arn=_text(item.get("Arn")),
        type=_optional_text(item.get("Type")),
        dns_records=records,
        routing_policy=_optional_text(dns_config.get("RoutingPolicy")),
        health_check=health_check,
        instance_count=_count(item.get("InstanceCount")),
        description=_optional_text(item.get("Description")),
    )


def _health(value: object) -> str:
    return value if isinstance(value, str) and value in ("HEALTHY", "UNHEALTHY") else "UNKNOWN"


def _attributes(value: object) -> dict[str, str]:
    pairs: Mapping[object, object] = cast(Mapping[object, object], value) if isinstance(value, Mapping) else {}
    return {str(key): str(item) for key, item in pairs.items()}


def _sorted(instances: list[Instance]) -> tuple[Instance, ...]:
    # DiscoverInstances answers in random order; a listing is easier to read in a stable one.
    return tuple(sorted(instances, key=_instance_order))


def _instance_order(instance: Instance) -> tuple[int, int, str]:
    # By address (numerically), those without one last; then by ID.
    address = instance.ipv4
    return (0, int(ipaddress.IPv4Address(address)), instance.id) if address else (1, 0, instance.id)
