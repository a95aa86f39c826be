# pyright: strict, reportMissingTypeStubs=false
"""What Cloud Map holds, as values: namespaces, services, instances and their ECS attributes, parsed
strictly from the API's shapes; and :func:`printable` for the untrusted text in them."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

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
_PORT = re.compile(r"[0-9]{1,5}")
_ACCOUNT = re.compile(r"[0-9]{12}")
# arn:<partition>:servicediscovery:<region>:<account>:namespace/<id>: where the owner's account is.
_NAMESPACE_ARN = re.compile(
    r"arn:[a-z-]{3,20}:servicediscovery:[a-z0-9-]{1,40}:(?P<account>[0-9]{12}):namespace/ns-[A-Za-z0-9]+"
)
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
    #: NamespaceSummary.ResourceOwner: the account that created (owns) the namespace; another
    #: account's when the namespace is shared with the caller through AWS RAM. None when not returned.
    resource_owner: str | None = None

    @property
    def owner(self) -> str | None:
        """The owner's account: ``resource_owner``, else the account in the namespace's ARN (``id`` when
        the namespace is known by its ARN, as a shared one must be, or ``arn``); None when neither says."""
        if self.resource_owner is not None:
            return self.resource_owner
        for text in (self.id, self.arn):
            found = _NAMESPACE_ARN.fullmatch(text)
            if found is not None:
                return found["account"]
        return None

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
            "resource_owner": self.resource_owner,
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
    #: ServiceSummary.ResourceOwner: the account that owns the service's namespace (None when not returned).
    resource_owner: str | None = None
    #: ServiceSummary.CreatedByAccount: the account that created the service; in a shared namespace
    #: the owner's or that of any account it is shared with (None when not returned).
    created_by_account: str | None = None

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
            "resource_owner": self.resource_owner,
            "created_by_account": self.created_by_account,
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


# -- shapes -> values ----------------------------------------------------------------------------


def mapping_of(value: object) -> Mapping[str, object]:
    # Shapes are read defensively: a stand-in (or a future API) may answer with another type.
    return cast(Mapping[str, object], value) if isinstance(value, Mapping) else {}


def items_of(value: object) -> list[Mapping[str, object]]:
    if not isinstance(value, list):
        return []
    items: list[object] = cast(list[object], value)
    return [mapping_of(item) for item in items if _is_mapping(item)]


def _is_mapping(value: object) -> bool:
    return isinstance(value, Mapping)


def text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def optional_text_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def account_of(value: object) -> str | None:
    """An AWS account ID (12 ASCII digits) from registry text; None otherwise."""
    return value if isinstance(value, str) and _ACCOUNT.fullmatch(value) else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def namespace_of(item: Mapping[str, object]) -> Namespace:
    http = mapping_of(mapping_of(item.get("Properties")).get("HttpProperties"))
    return Namespace(
        id=text_of(item.get("Id")),
        name=text_of(item.get("Name")),
        type=text_of(item.get("Type")),
        arn=text_of(item.get("Arn")),
        http_name=optional_text_of(http.get("HttpName")),
        service_count=_count(item.get("ServiceCount")),
        resource_owner=account_of(item.get("ResourceOwner")),
    )


def service_of(item: Mapping[str, object]) -> Service:
    dns_config = mapping_of(item.get("DnsConfig"))
    records = tuple(
        DnsRecord(text_of(record.get("Type")), _count(record.get("TTL")))
        for record in items_of(dns_config.get("DnsRecords"))
    )
    if item.get("HealthCheckCustomConfig") is not None:
        health_check = "custom"
    elif item.get("HealthCheckConfig") is not None:
        health_check = "route53"
    else:
        health_check = "none"
    return Service(
        id=text_of(item.get("Id")),
        name=text_of(item.get("Name")),
        arn=text_of(item.get("Arn")),
        type=optional_text_of(item.get("Type")),
        dns_records=records,
        routing_policy=optional_text_of(dns_config.get("RoutingPolicy")),
        health_check=health_check,
        instance_count=_count(item.get("InstanceCount")),
        description=optional_text_of(item.get("Description")),
        resource_owner=account_of(item.get("ResourceOwner")),
        created_by_account=account_of(item.get("CreatedByAccount")),
    )


def health_of(value: object) -> str:
    return value if isinstance(value, str) and value in ("HEALTHY", "UNHEALTHY") else "UNKNOWN"


def attributes_of(value: object) -> dict[str, str]:
    pairs: Mapping[object, object] = cast(Mapping[object, object], value) if isinstance(value, Mapping) else {}
    return {str(key): str(item) for key, item in pairs.items()}


def sorted_instances(instances: list[Instance]) -> tuple[Instance, ...]:
    # DiscoverInstances answers in random order; a listing is easier to read in a stable one.
    return tuple(sorted(instances, key=_instance_order))


def _instance_order(instance: Instance) -> tuple[int, int, str]:
    # By address (numerically), those without one last; then by ID.
    address = instance.ipv4
    return (0, int(ipaddress.IPv4Address(address)), instance.id) if address else (1, 0, instance.id)
