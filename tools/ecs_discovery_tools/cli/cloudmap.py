"""Reading the Cloud Map registry (namespaces, services, instances) through the AWS API.

Every AWS failure becomes a :class:`CliError` with a one-line message and an exit code.
The client reads the usual AWS configuration: profile, region, credentials chain and
``AWS_ENDPOINT_URL_SERVICEDISCOVERY`` / ``AWS_ENDPOINT_URL``; throttled calls are retried by
botocore's standard retry mode (``AWS_MAX_ATTEMPTS`` or the profile's ``max_attempts``,
3 attempts in all by default, with capped exponential backoff).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ecs_discovery_tools.cli.errors import CliError, ExitCode

# Codes AWS uses for "slow down"; botocore retries them and they reach us only when the
# attempts are used up.
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
_NOT_FOUND_CODES = frozenset({"NamespaceNotFound", "ServiceNotFound", "InstanceNotFound"})

# ECS writes these attributes when it registers a task (Cloud Map RegisterInstance).
ATTR_IPV4 = "AWS_INSTANCE_IPV4"
ATTR_PORT = "AWS_INSTANCE_PORT"
ATTR_ZONE = "AVAILABILITY_ZONE"


@dataclass(frozen=True)
class Namespace:
    id: str
    name: str
    type: str
    arn: str
    service_count: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "arn": self.arn,
            "service_count": self.service_count,
        }


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    arn: str
    namespace_id: str
    dns_name: str
    instance_count: int | None
    dns_records: tuple[tuple[str, int], ...]  # (type, TTL)
    routing_policy: str | None
    health_check: str  # "custom", "route53" or "none"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "dns_name": self.dns_name,
            "arn": self.arn,
            "instance_count": self.instance_count,
            "dns_records": [{"type": kind, "ttl": ttl} for kind, ttl in self.dns_records],
            "routing_policy": self.routing_policy,
            "health_check": self.health_check,
        }


@dataclass(frozen=True)
class Instance:
    id: str
    ipv4: str | None
    port: int | None
    health: str  # HEALTHY, UNHEALTHY or UNKNOWN
    attributes: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ipv4": self.ipv4,
            "port": self.port,
            "health": self.health,
            "attributes": self.attributes,
        }


def make_client(*, region: str | None = None, profile: str | None = None, endpoint_url: str | None = None) -> Any:
    """A Cloud Map client; ``None`` arguments fall back to the usual AWS configuration."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        if session.region_name is None and os.environ.get("AWS_REGION", "").strip():
            # botocore reads AWS_DEFAULT_REGION; the SDKs for other languages (and ECS, Lambda) use AWS_REGION.
            session = boto3.Session(profile_name=profile, region_name=os.environ["AWS_REGION"].strip())
        config = Config(
            retries={"mode": "standard"},  # attempts from AWS_MAX_ATTEMPTS / the profile, 3 by default
            connect_timeout=5,
            read_timeout=15,
            user_agent_extra="ecs-discovery",
        )
        return session.client("servicediscovery", endpoint_url=endpoint_url, config=config)
    except botocore.exceptions.ProfileNotFound as error:
        raise CliError(f"AWS profile not found: {error.kwargs.get('profile', profile)}", ExitCode.AWS) from None
    except botocore.exceptions.NoRegionError:
        raise CliError(
            "no AWS region: pass --region, set AWS_REGION, or set a region in your AWS profile", ExitCode.AWS
        ) from None
    except botocore.exceptions.BotoCoreError as error:
        raise CliError(f"AWS configuration error: {error}", ExitCode.AWS) from None


def _call(operation: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except botocore.exceptions.NoCredentialsError:
        raise CliError(
            "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or sign in (aws sso login)",
            ExitCode.AWS,
        ) from None
    except botocore.exceptions.PartialCredentialsError as error:
        raise CliError(f"incomplete AWS credentials: {error}", ExitCode.AWS) from None
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError) as error:
        raise CliError(f"cannot reach the Cloud Map API: {error}", ExitCode.AWS) from None
    except botocore.exceptions.ReadTimeoutError as error:
        raise CliError(f"the Cloud Map API did not answer {operation} in time: {error}", ExitCode.AWS) from None
    except botocore.exceptions.ClientError as error:
        raise _client_error(operation, error) from None
    except botocore.exceptions.BotoCoreError as error:
        raise CliError(f"Cloud Map {operation} failed: {error}", ExitCode.AWS) from None


def _client_error(operation: str, error: botocore.exceptions.ClientError) -> CliError:
    details = error.response.get("Error", {})
    code = details.get("Code", "Unknown")
    message = details.get("Message", "")
    if code in _THROTTLING_CODES:
        attempts = error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
        return CliError(
            f"throttled by the Cloud Map API ({operation}, {code}) after {attempts} attempts; "
            "try again later or raise AWS_MAX_ATTEMPTS",
            ExitCode.AWS,
        )
    if code in _CREDENTIAL_CODES:
        return CliError(f"AWS rejected the credentials ({code}): {message}", ExitCode.AWS)
    if code in ("AccessDenied", "AccessDeniedException"):
        return CliError(f"access denied to servicediscovery:{operation}: {message}", ExitCode.AWS)
    if code in _NOT_FOUND_CODES:
        return CliError(f"{code}: {message}", ExitCode.NOT_FOUND)
    return CliError(f"Cloud Map {operation} failed ({code}): {message}", ExitCode.AWS)


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Items under ``key`` of every page; each page request goes through :func:`_call`."""
    api_name = "".join(part.capitalize() for part in operation.split("_"))
    pages = iter(client.get_paginator(operation).paginate(**kwargs))
    while True:
        page = _call(api_name, next, pages, None)
        if page is None:
            return
        yield from page.get(key, [])


# -- namespaces ------------------------------------------------------------------


def list_namespaces(client: Any) -> list[Namespace]:
    namespaces = [
        Namespace(
            id=item["Id"],
            name=item["Name"],
            type=item.get("Type", ""),
            arn=item.get("Arn", ""),
            service_count=item.get("ServiceCount"),
        )
        for item in _paginate(client, "list_namespaces", "Namespaces")
    ]
    return sorted(namespaces, key=lambda namespace: (namespace.name, namespace.id))


def find_namespace(client: Any, name_or_id: str) -> Namespace:
    """The namespace called ``name_or_id`` (a DNS name such as ``corp``) or with that ID (``ns-...``)."""
    wanted = name_or_id.strip().rstrip(".")
    namespaces = list_namespaces(client)
    matches = [namespace for namespace in namespaces if namespace.id == wanted]
    if not matches:
        matches = [namespace for namespace in namespaces if namespace.name.lower() == wanted.lower()]
    if not matches:
        known = ", ".join(namespace.name for namespace in namespaces) or "none"
        raise CliError(
            f"namespace {wanted!r} not found (namespaces in this account and region: {known})", ExitCode.NOT_FOUND
        )
    if len(matches) > 1:
        ids = ", ".join(f"{namespace.id} ({namespace.type})" for namespace in matches)
        raise CliError(f"namespace name {wanted!r} is ambiguous: {ids}; pass the ID instead", ExitCode.USAGE)
    return matches[0]


# -- services --------------------------------------------------------------------


def _service_from(item: dict[str, Any], namespace: Namespace) -> Service:
    dns_config = item.get("DnsConfig") or {}
    records = tuple((record["Type"], int(record.get("TTL", 0))) for record in dns_config.get("DnsRecords", []))
    if item.get("HealthCheckCustomConfig") is not None:
        health_check = "custom"
    elif item.get("HealthCheckConfig") is not None:
        health_check = "route53"
    else:
        health_check = "none"
    return Service(
        id=item["Id"],
        name=item["Name"],
        arn=item.get("Arn", ""),
        namespace_id=item.get("NamespaceId") or dns_config.get("NamespaceId") or namespace.id,
        dns_name=f"{item['Name']}.{namespace.name}",
        instance_count=item.get("InstanceCount"),
        dns_records=records,
        routing_policy=dns_config.get("RoutingPolicy"),
        health_check=health_check,
    )


def list_services(client: Any, namespace: Namespace) -> list[Service]:
    filters = [{"Name": "NAMESPACE_ID", "Values": [namespace.id], "Condition": "EQ"}]
    services = []
    for item in _paginate(client, "list_services", "Services", Filters=filters):
        # Filtered again here: the filter is a request, and some API stand-ins ignore it.
        namespace_id = item.get("NamespaceId") or (item.get("DnsConfig") or {}).get("NamespaceId")
        if namespace_id == namespace.id:
            services.append(_service_from(item, namespace))
    return sorted(services, key=lambda service: service.name)


def find_service(client: Any, namespace: Namespace, name_or_id: str) -> Service:
    """The service ``worker``, ``worker.corp`` or ``srv-...`` of ``namespace``."""
    wanted = name_or_id.strip().rstrip(".")
    suffix = "." + namespace.name
    if wanted.lower().endswith(suffix.lower()):
        wanted = wanted[: -len(suffix)]
    services = list_services(client, namespace)
    for service in services:
        if service.id == wanted or service.name.lower() == wanted.lower():
            return service
    known = ", ".join(service.name for service in services) or "none"
    raise CliError(
        f"service {name_or_id!r} not found in namespace {namespace.name!r} (services: {known})", ExitCode.NOT_FOUND
    )


# -- instances -------------------------------------------------------------------


def _port(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def list_instances(client: Any, service: Service) -> list[Instance]:
    """The service's registered instances, each with its health status."""
    items = list(_paginate(client, "list_instances", "Instances", ServiceId=service.id))
    health: dict[str, str] = {}
    if items and service.health_check != "none":
        for status in _health_pages(client, service.id):
            health.update(status)
    instances = [
        Instance(
            id=item["Id"],
            ipv4=item.get("Attributes", {}).get(ATTR_IPV4),
            port=_port(item.get("Attributes", {}).get(ATTR_PORT)),
            health=health.get(item["Id"], "UNKNOWN"),
            attributes=dict(item.get("Attributes", {})),
        )
        for item in items
    ]
    return sorted(instances, key=lambda instance: (instance.ipv4 or "", instance.id))


def _health_pages(client: Any, service_id: str) -> Iterator[dict[str, str]]:
    # GetInstancesHealthStatus has no botocore paginator; follow NextToken ourselves, bounded.
    token: str | None = None
    for _ in range(1000):
        kwargs: dict[str, Any] = {"ServiceId": service_id}
        if token:
            kwargs["NextToken"] = token
        page = _call("GetInstancesHealthStatus", client.get_instances_health_status, **kwargs)
        yield page.get("Status", {})
        token = page.get("NextToken")
        if not token:
            return
