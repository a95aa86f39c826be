# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""ECS Service Connect beside Cloud Map DNS discovery: the options, their checks and how they apply.

A service is found by DNS (A and SRV records in the private DNS namespace, as always), through
Service Connect (an Envoy proxy in each task, configured by ECS), or both at once while callers
migrate. In both modes the two never collide:

* the DNS records keep their name, ``<name>.<namespace>``;
* Service Connect registers its own, API-only Cloud Map service under ``<name>-sc`` (the
  *discovery name*, as AWS Copilot names it), so the DNS service keeps its name: aws-cdk-lib
  users who give both the same name meet a conflict (aws/aws-cdk#26524);
* callers keep their URL: the client alias defaults to the DNS name and the container port, so
  ``http://worker.corp:8080`` reaches the proxy in a Service Connect task (ECS maps the alias
  to the proxy inside the task) and the DNS records everywhere else.

The discovery name and the alias do not depend on the mode, so moving a service from both to
Service Connect only (or back) changes nothing in its Service Connect configuration.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any, cast

from aws_cdk import Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import IConstruct

from ecs_service_discovery.constructs.namespace import NamespaceNames, NamespaceRef, construct_path, namespace_ref
from ecs_service_discovery.validation import (
    MAX_INT32,
    check_bool,
    check_dns_label,
    check_int_range,
    check_port,
    invalid,
    is_token,
    require_type,
)

#: Suffix of the Cloud Map service Service Connect registers (the discovery name), as AWS Copilot does.
DISCOVERY_NAME_SUFFIX = "-sc"
#: ECS limits (ECS API reference: PortMapping.name, ServiceConnectService.discoveryName,
#: ServiceConnectClientAlias.dnsName, TimeoutConfiguration).
MAX_PORT_NAME_LENGTH = 64
MAX_DISCOVERY_NAME_LENGTH = 64
MAX_ALIAS_DNS_NAME_LENGTH = 127
MAX_TIMEOUT_SECONDS = MAX_INT32
#: Where the proxy's own log lines go in the service's log group.
PROXY_LOG_STREAM_PREFIX = "service-connect"

# Lower-case letters, digits, '_' and '-', not starting with '-' (port names and discovery names).
_ECS_NAME = re.compile(r"[a-z0-9_][a-z0-9_-]*")
# Dot-separated labels of lower-case letters, digits, '_' and '-', none starting or ending with '-'.
_ALIAS_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_ALIAS_DNS_NAME = re.compile(rf"{_ALIAS_LABEL}(?:\.{_ALIAS_LABEL})*")
_PCA_ARN = re.compile(r"arn:aws[a-z-]*:acm-pca:[a-z0-9-]+:[0-9]{12}:certificate-authority/[A-Za-z0-9-]{1,200}")
_APP_PROTOCOLS = ("http", "http2", "grpc", "tcp")
_ACCESS_LOG_FORMATS = ("JSON", "TEXT")


class Discovery(enum.Enum):
    """How a service is found by the services that call it."""

    #: Cloud Map DNS records (A and SRV) that anything in the VPC resolves. The default.
    DNS = "dns"
    #: ECS Service Connect only: callers must be ECS services with Service Connect.
    SERVICE_CONNECT = "service-connect"
    #: Both at once, for a migration: DNS records as before, and Service Connect beside them.
    BOTH = "both"

    @property
    def uses_dns(self) -> bool:
        return self is not Discovery.SERVICE_CONNECT

    @property
    def uses_service_connect(self) -> bool:
        return self is not Discovery.DNS

    @classmethod
    def parse(cls, parameter: str, value: Any) -> Discovery:
        """A :class:`Discovery`, or its value (``"dns"``, ``"service-connect"``, ``"both"``) as
        written in a topology file or given with ``cdk synth -c discovery=...``."""
        if isinstance(value, Discovery):
            return value
        allowed = f"expected one of {[mode.value for mode in cls]} or a Discovery member"
        if not isinstance(value, str):
            raise invalid(parameter, value, allowed)
        for mode in cls:
            if value == mode.value:
                return mode
        raise invalid(parameter, value, allowed)


@dataclass(frozen=True)
class ServiceConnectTls:
    """TLS between Service Connect proxies, with certificates from AWS Private CA.

    :param authority_arn: ARN of the AWS Private CA certificate authority that issues the
        certificates (``arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>``).
    :param role: the infrastructure role ECS uses to issue and rotate the certificates: trusted by
        ``ecs.amazonaws.com`` with the AWS managed policy
        ``AmazonECSInfrastructureRolePolicyForServiceConnectTransportLayerSecurity`` (or the same
        permissions). Required: ECS cannot request certificates without it, and the library does
        not create IAM roles with AWS managed policies on a user's behalf.
    :param kms_key: the KMS key ECS encrypts the certificates' private keys with (in Secrets
        Manager). Default: an AWS owned key.
    """

    authority_arn: str
    # The classes named too: jsii's stubs make type checkers reject a Role or Key as IRole or IKey.
    role: iam.IRole | iam.Role
    kms_key: kms.IKey | kms.Key | None = None


@dataclass(frozen=True)
class ServiceConnectOptions:
    """How a service takes part in ECS Service Connect.

    Every default keeps callers' code unchanged between DNS and Service Connect: the alias is the
    DNS name and the container port.

    :param client_only: ``True`` for a service that only calls others through Service Connect
        and is called by none through it: its tasks get the proxy, and it registers no endpoint
        (ECS's "client" configuration). The endpoint options below must then stay unset.
        Default: ``False`` (the service is published).
    :param port_mapping_name: name of the container's port mapping that Service Connect serves
        (1-64 of a-z, 0-9, '_' and '-', not starting with '-'). Default: the service's name.
    :param discovery_name: name of the Cloud Map service Service Connect registers (same rules).
        Default: ``<name>-sc``, which never collides with the DNS service ``<name>``.
    :param client_alias_dns_name: the name callers use (up to 127 characters of a-z, 0-9, '_',
        '-' and '.'). Default: the DNS name ``<name>.<namespace>``, so callers' URL does not change.
    :param client_alias_port: the port callers use (1-65535). Default: the container port.
    :param app_protocol: ``"http"``, ``"http2"``, ``"grpc"`` or ``"tcp"``. It decides the
        proxy's retries and metrics, and ECS cannot change it on a Service Connect service without
        deleting the service. Default: ``"http"`` (the apps in this repository speak HTTP/1.1).
    :param idle_timeout_seconds: how long an idle connection stays open; 0 disables it.
        Default: ECS's, 300 seconds for HTTP, HTTP/2 and gRPC and 3600 seconds for TCP.
    :param per_request_timeout_seconds: how long the proxy waits for a complete response; 0
        disables it; not for ``"tcp"``. Default: ECS's, 15 seconds.
    :param access_logs: the proxy writes a line per request into the service's log group.
        Default: ``False`` (ECS's default: access logs cost log volume).
    :param access_log_format: ``"JSON"`` or ``"TEXT"``. Default: ``"JSON"``.
    :param access_log_query_parameters: include query strings in access logs; they may hold
        tokens. Default: ``False``.
    :param tls: TLS between proxies (:class:`ServiceConnectTls`). Default: none (plain TCP in the VPC).
    """

    client_only: bool = False
    port_mapping_name: str | None = None
    discovery_name: str | None = None
    client_alias_dns_name: str | None = None
    client_alias_port: int | None = None
    app_protocol: str = "http"
    idle_timeout_seconds: int | None = None
    per_request_timeout_seconds: int | None = None
    access_logs: bool = False
    access_log_format: str = "JSON"
    access_log_query_parameters: bool = False
    tls: ServiceConnectTls | None = None


#: The endpoint options that a client-only configuration leaves unset.
_ENDPOINT_FIELDS = (
    "port_mapping_name",
    "discovery_name",
    "client_alias_dns_name",
    "client_alias_port",
    "idle_timeout_seconds",
    "per_request_timeout_seconds",
    "tls",
)


@dataclass(frozen=True)
class ServiceConnectEndpoint:
    """What a published service registers, with every default filled in.

    Attributes: ``port_mapping_name``, ``discovery_name`` (the Cloud Map service),
    ``dns_name`` and ``port`` (the client alias callers use) and ``app_protocol``.
    """

    port_mapping_name: str
    discovery_name: str
    dns_name: str
    port: int
    app_protocol: str


def _check_ecs_name(parameter: str, value: Any, limit: int) -> None:
    if is_token(value):
        return
    allowed = (
        f"expected 1-{limit} characters from a-z, 0-9, '_' and '-', not starting with '-' "
        "(ECS's rule for port mapping and discovery names)"
    )
    if not isinstance(value, str) or len(value) > limit or not _ECS_NAME.fullmatch(value):
        raise invalid(parameter, value, allowed)


def _check_alias_dns_name(parameter: str, value: Any) -> None:
    if is_token(value):
        return
    allowed = (
        f"expected a DNS name of at most {MAX_ALIAS_DNS_NAME_LENGTH} characters: dot-separated labels of "
        "a-z, 0-9, '_' and '-', none starting or ending with '-' (for example 'worker.corp' or 'worker')"
    )
    if not isinstance(value, str) or len(value) > MAX_ALIAS_DNS_NAME_LENGTH or not _ALIAS_DNS_NAME.fullmatch(value):
        raise invalid(parameter, value, allowed)


def _check_tls(parameter: str, tls: Any) -> None:
    require_type(parameter, tls, ServiceConnectTls, "expected a ServiceConnectTls, or None")
    arn = tls.authority_arn
    if not is_token(arn) and (not isinstance(arn, str) or not _PCA_ARN.fullmatch(arn)):
        raise invalid(
            f"{parameter}.authority_arn",
            arn,
            "expected the ARN of an AWS Private CA certificate authority, "
            "'arn:aws:acm-pca:<region>:<account>:certificate-authority/<id>'",
        )
    require_type(f"{parameter}.role", tls.role, iam.IRole, "expected an aws_iam.IRole trusted by ecs.amazonaws.com")
    if tls.kms_key is not None:
        require_type(f"{parameter}.kms_key", tls.kms_key, kms.IKey, "expected an aws_kms.IKey, or None")


def check_service_connect_options(parameter: str, options: Any) -> None:
    """Every field of ``options`` on its own (named ``<parameter>.<field>``); no jsii call for
    plain values. Checks that need the service (derived names, clashes) come later."""
    require_type(parameter, options, ServiceConnectOptions, "expected a ServiceConnectOptions, or None")
    check_bool(f"{parameter}.client_only", options.client_only)
    if options.client_only:
        for field in _ENDPOINT_FIELDS:
            value = getattr(options, field)
            if value is not None:
                raise invalid(
                    f"{parameter}.{field}",
                    value,
                    "expected None with client_only=True: a client-only service registers no endpoint",
                )
    if options.port_mapping_name is not None:
        _check_ecs_name(f"{parameter}.port_mapping_name", options.port_mapping_name, MAX_PORT_NAME_LENGTH)
    if options.discovery_name is not None:
        _check_ecs_name(f"{parameter}.discovery_name", options.discovery_name, MAX_DISCOVERY_NAME_LENGTH)
    if options.client_alias_dns_name is not None:
        _check_alias_dns_name(f"{parameter}.client_alias_dns_name", options.client_alias_dns_name)
    if options.client_alias_port is not None:
        check_port(f"{parameter}.client_alias_port", options.client_alias_port)
    if options.app_protocol not in _APP_PROTOCOLS or not isinstance(options.app_protocol, str):
        raise invalid(f"{parameter}.app_protocol", options.app_protocol, f"expected one of {list(_APP_PROTOCOLS)}")
    for field in ("idle_timeout_seconds", "per_request_timeout_seconds"):
        value = getattr(options, field)
        if value is not None:
            check_int_range(f"{parameter}.{field}", value, 0, MAX_TIMEOUT_SECONDS, " seconds (0 disables it)")
    if options.per_request_timeout_seconds is not None and options.app_protocol == "tcp":
        raise invalid(
            f"{parameter}.per_request_timeout_seconds",
            options.per_request_timeout_seconds,
            "expected None with app_protocol='tcp': ECS applies a per-request timeout to HTTP, HTTP/2 and gRPC only",
        )
    check_bool(f"{parameter}.access_logs", options.access_logs)
    if options.access_log_format not in _ACCESS_LOG_FORMATS or not isinstance(options.access_log_format, str):
        raise invalid(
            f"{parameter}.access_log_format", options.access_log_format, f"expected one of {list(_ACCESS_LOG_FORMATS)}"
        )
    check_bool(f"{parameter}.access_log_query_parameters", options.access_log_query_parameters)
    if options.tls is not None:
        _check_tls(f"{parameter}.tls", options.tls)


def resolve_endpoint(
    options: ServiceConnectOptions,
    *,
    name: str,
    namespace_name: str,
    container_port: int,
    parameter: str = "service_connect",
) -> ServiceConnectEndpoint | None:
    """The endpoint ``options`` publish for service ``name``, defaults filled in; ``None`` when
    client-only. A default that breaks an ECS limit is reported on the option that replaces it."""
    if options.client_only:
        return None
    discovery_name = options.discovery_name
    if discovery_name is None:
        discovery_name = f"{name}{DISCOVERY_NAME_SUFFIX}"
        if len(discovery_name) > MAX_DISCOVERY_NAME_LENGTH:
            raise invalid(
                f"{parameter}.discovery_name",
                None,
                f"the default {name!r} + {DISCOVERY_NAME_SUFFIX!r} has {len(discovery_name)} characters and Cloud "
                f"Map allows {MAX_DISCOVERY_NAME_LENGTH}; give a discovery_name (or a shorter name)",
            )
    dns_name = options.client_alias_dns_name
    if dns_name is None:
        dns_name = f"{name}.{namespace_name}"
        if not is_token(namespace_name) and len(dns_name) > MAX_ALIAS_DNS_NAME_LENGTH:
            raise invalid(
                f"{parameter}.client_alias_dns_name",
                None,
                f"the default {dns_name[:40]!r}... has {len(dns_name)} characters and ECS allows "
                f"{MAX_ALIAS_DNS_NAME_LENGTH}; give a client_alias_dns_name",
            )
    return ServiceConnectEndpoint(
        port_mapping_name=options.port_mapping_name or name,
        discovery_name=discovery_name,
        dns_name=dns_name,
        port=options.client_alias_port if options.client_alias_port is not None else container_port,
        app_protocol=options.app_protocol,
    )


def _app_protocol(value: str) -> ecs.AppProtocol | None:
    if value == "tcp":
        return None  # ECS's default: no protocol-specific handling
    return {"http": ecs.AppProtocol.http, "http2": ecs.AppProtocol.http2, "grpc": ecs.AppProtocol.grpc}[value]


def service_connect_port_mapping(endpoint: ServiceConnectEndpoint, container_port: int) -> ecs.PortMapping:
    """The named port mapping Service Connect needs, to create the container with."""
    return ecs.PortMapping(
        container_port=container_port,
        protocol=ecs.Protocol.TCP,
        name=endpoint.port_mapping_name,
        app_protocol=_app_protocol(endpoint.app_protocol),
    )


def reserve_dns_service(owner: IConstruct, namespace: servicediscovery.INamespace, name: str) -> None:
    """Take the Cloud Map DNS service ``name`` for ``owner``, an ECS service registered in Cloud Map
    by other means than this library (``enable_cloud_map``), so that Service Connect names of the
    same namespace cannot clash with it. Raises (on ``name``) when it is taken."""
    NamespaceNames.of(namespace_ref(namespace)).take_service(name, construct_path(owner), dns=True)


def check_endpoint_free(
    namespace: NamespaceRef, endpoint: ServiceConnectEndpoint, path: str, parameter: str = "service_connect"
) -> None:
    """Raise (on the option) if ``endpoint``'s discovery name or alias is taken in the namespace."""
    _check_endpoint_free(NamespaceNames.of(namespace), endpoint, path, parameter)


def _check_endpoint_free(names: NamespaceNames, endpoint: ServiceConnectEndpoint, path: str, parameter: str) -> None:
    taken = names.cloud_map.get(endpoint.discovery_name)
    if taken is not None:
        raise names.taken(f"{parameter}.discovery_name", endpoint.discovery_name, "a Cloud Map service", taken)
    alias = (endpoint.dns_name, endpoint.port)
    if alias in names.aliases:
        raise invalid(
            f"{parameter}.client_alias_dns_name",
            endpoint.dns_name,
            f"{names.aliases[alias]} already has the client alias {endpoint.dns_name}:{endpoint.port} in namespace "
            f"{names.namespace_name!r}; ECS requires each alias name and port to be unique in the namespace",
        )
    owner = names.dns_hosts.get(endpoint.dns_name)
    if owner is not None and owner != path:
        raise invalid(
            f"{parameter}.client_alias_dns_name",
            endpoint.dns_name,
            f"it is the DNS name of {owner}: Service Connect callers would reach this service and DNS callers "
            "that one; expected this service's own DNS name or a name no other service has",
        )


def resolve_namespace(
    cluster: ecs.ICluster, namespace: servicediscovery.INamespace | None, parameter: str = "namespace"
) -> servicediscovery.INamespace:
    """The namespace Service Connect uses: ``namespace``, else the cluster's default one."""
    if namespace is not None:
        require_type(parameter, namespace, servicediscovery.INamespace, "expected an aws_servicediscovery.INamespace")
        return namespace
    default = cluster.default_cloud_map_namespace
    if default is None:
        raise invalid(
            parameter,
            None,
            "the cluster has no default Cloud Map namespace; pass the namespace, or give the cluster one "
            "(Cluster(default_cloud_map_namespace=...) or cluster.add_default_cloud_map_namespace(...))",
        )
    return default


def _has_port_mapping(
    container: ecs.ContainerDefinition, endpoint: ServiceConnectEndpoint, port: int, parameter: str
) -> bool:
    """True when ``container`` already has the named mapping; False when it has no mapping of ``port``."""
    for mapping in container.port_mappings:
        if mapping.name == endpoint.port_mapping_name:
            if mapping.container_port != port:
                raise invalid(
                    f"{parameter}.port_mapping_name",
                    endpoint.port_mapping_name,
                    f"the container's mapping of that name is for port {mapping.container_port}, not the "
                    f"container port {port}",
                )
            return True
    for mapping in container.port_mappings:
        if mapping.container_port == port:
            raise invalid(
                "container",
                container.container_name,
                f"it maps port {port} without the name {endpoint.port_mapping_name!r}; create the container with "
                "port_mappings=[service_connect_port_mapping(endpoint, port)] so that ECS finds the port by name",
            )
    return False


def enable_service_connect(
    service: ecs.FargateService,
    *,
    container: ecs.ContainerDefinition,
    log_group: logs.ILogGroup,
    name: str,
    container_port: int,
    options: ServiceConnectOptions | None = None,
    namespace: servicediscovery.INamespace | None = None,
    owner_path: str | None = None,
    parameter: str = "service_connect",
) -> ServiceConnectEndpoint | None:
    """Put ``service`` in Service Connect: checks everything first, then configures the L2.

    The container gets the named port mapping (unless it has it already) and the service
    ``enable_service_connect`` with the namespace's ARN (a name could make ECS create another
    namespace, aws/aws-cdk#25616), the proxy's logs in ``log_group`` (so its key and retention)
    under the prefix ``service-connect``, the access log configuration and the endpoint.

    :param service: the ECS service (its task definition holds ``container``).
    :param container: the container whose ``container_port`` is served.
    :param log_group: where the proxy logs: the service's own log group.
    :param name: the service's DNS label, the base of every default name.
    :param container_port: the port the app listens on.
    :param options: Default: ``ServiceConnectOptions()`` (published under the default names).
    :param namespace: Default: the cluster's default Cloud Map namespace.
    :param owner_path: the construct path that owns these names (a construct around the
        service that also owns its DNS name). Default: ``service``'s path.
    :param parameter: how errors name ``options``. Default: ``"service_connect"``.
    :returns: the endpoint, or ``None`` for a client-only service.
    """
    require_type("service", service, ecs.FargateService, "expected an aws_ecs.FargateService")
    require_type("container", container, ecs.ContainerDefinition, "expected an aws_ecs.ContainerDefinition")
    require_type("log_group", log_group, logs.ILogGroup, "expected an aws_logs.ILogGroup")
    check_dns_label("name", name)
    check_port("container_port", container_port)
    options = options if options is not None else ServiceConnectOptions()
    check_service_connect_options(parameter, options)
    if container.task_definition.node.path != service.task_definition.node.path:
        raise invalid("container", container.node.path, "expected a container of the service's task definition")
    chosen = resolve_namespace(service.cluster, namespace)
    names = NamespaceNames.of(namespace_ref(chosen))
    path = owner_path or construct_path(service)
    endpoint = resolve_endpoint(
        options, name=name, namespace_name=names.namespace_name, container_port=container_port, parameter=parameter
    )
    services: list[ecs.ServiceConnectService] | None = None
    if endpoint is not None:
        _check_endpoint_free(names, endpoint, path, parameter)
        if not _has_port_mapping(container, endpoint, container_port, parameter):
            container.add_port_mappings(service_connect_port_mapping(endpoint, container_port))
        services = [_service_connect_service(options, endpoint)]
    access_logs = (
        ecs.ServiceConnectAccessLogConfiguration(
            format=ecs.ServiceConnectAccessLogFormat[options.access_log_format],
            include_query_parameters=options.access_log_query_parameters,
        )
        if options.access_logs
        else None
    )
    service.enable_service_connect(
        namespace=chosen.namespace_arn,
        log_driver=ecs.LogDriver.aws_logs(stream_prefix=PROXY_LOG_STREAM_PREFIX, log_group=log_group),
        access_log_configuration=access_logs,
        services=services,
    )
    if endpoint is not None:
        names.cloud_map[endpoint.discovery_name] = path
        names.aliases[(endpoint.dns_name, endpoint.port)] = path
        names.alias_hosts.setdefault(endpoint.dns_name, path)
    return endpoint


def _service_connect_service(
    options: ServiceConnectOptions, endpoint: ServiceConnectEndpoint
) -> ecs.ServiceConnectService:
    tls = options.tls
    return ecs.ServiceConnectService(
        port_mapping_name=endpoint.port_mapping_name,
        discovery_name=endpoint.discovery_name,
        dns_name=endpoint.dns_name,
        port=endpoint.port,
        idle_timeout=_duration(options.idle_timeout_seconds),
        per_request_timeout=_duration(options.per_request_timeout_seconds),
        tls=ecs.ServiceConnectTlsConfiguration(
            aws_pca_authority_arn=tls.authority_arn, kms_key=tls.kms_key, role=cast("iam.IRole", tls.role)
        )
        if tls is not None
        else None,
    )


def _duration(seconds: int | None) -> Duration | None:
    return Duration.seconds(seconds) if seconds is not None else None


def reachable_endpoint(
    *,
    caller_uses_service_connect: bool,
    callee_discovery: Discovery,
    callee_dns_name: str,
    callee_port: int,
    callee_endpoint: ServiceConnectEndpoint | None,
) -> tuple[str, int] | None:
    """:func:`caller_endpoint`'s host and port, or ``None`` where it raises (the caller cannot reach the callee)."""
    if caller_uses_service_connect and callee_endpoint is not None:
        return callee_endpoint.dns_name, callee_endpoint.port
    if callee_discovery.uses_dns:
        return callee_dns_name, callee_port
    return None


def caller_endpoint(
    *,
    caller: str,
    caller_uses_service_connect: bool,
    callee: str,
    callee_discovery: Discovery,
    callee_dns_name: str,
    callee_port: int,
    callee_endpoint: ServiceConnectEndpoint | None,
) -> tuple[str, int]:
    """The host and port ``caller`` uses to reach ``callee``, valid in both services' modes.

    A Service Connect caller uses the callee's client alias when the callee publishes one; any
    other caller uses the DNS name and container port, which exist unless the callee is Service
    Connect only. With the default alias both are the same ``<name>.<namespace>:<port>``.
    """
    found = reachable_endpoint(
        caller_uses_service_connect=caller_uses_service_connect,
        callee_discovery=callee_discovery,
        callee_dns_name=callee_dns_name,
        callee_port=callee_port,
        callee_endpoint=callee_endpoint,
    )
    if found is not None:
        return found
    if callee_endpoint is None:
        raise invalid(
            "other",
            callee,
            "it is Service Connect only and client-only, so nothing can call it; "
            "expected a service with DNS records or a published Service Connect endpoint",
        )
    raise invalid(
        "other",
        callee,
        f"it is found through Service Connect only, and {caller!r} has no Service "
        "Connect proxy to reach it; expected a caller with discovery SERVICE_CONNECT or BOTH "
        f"(ServiceConnectOptions(client_only=True) for a caller nothing calls), or {callee!r} with discovery BOTH",
    )


__all__ = [
    "DISCOVERY_NAME_SUFFIX",
    "Discovery",
    "ServiceConnectEndpoint",
    "ServiceConnectOptions",
    "ServiceConnectTls",
    "caller_endpoint",
    "check_endpoint_free",
    "check_service_connect_options",
    "enable_service_connect",
    "reachable_endpoint",
    "reserve_dns_service",
    "resolve_endpoint",
    "resolve_namespace",
    "service_connect_port_mapping",
]
