# Public parameters are checked at run time too, since callers may be untyped Python: the
# isinstance checks that strict pyright calls unnecessary are the library's validation.
# pyright: reportUnnecessaryIsInstance=false
"""The topology specification: which services a system has and which services each one calls.

Plain frozen dataclasses and a loader for YAML or JSON files. Nothing here creates a construct,
synthesizes or holds an aws-cdk-lib object (images are a folder or a registry reference), so
tools other than ``cdk synth`` (a local run of the topology, a linter for the file) read the
same specification:

    spec = load_topology("topologies/social-network.yaml")
    for service in spec.services:
        print(service.name, service.source or service.image, service.calls)

File format (YAML; JSON with the same keys works too)::

    defaults:                      # optional: fields every service gets unless it sets them
      source: ../services/flask-worker
    services:
      - name: backend              # DNS label: answers as backend.<namespace>
        source: ../services/flask-backend
        calls: [auth, feed]        # security group rule + AUTH_HOST/_SERVICE/_PORT in its env
        discovery_read: true       # may list the namespace in Cloud Map
        discovery: both            # dns (default), service-connect or both (docs/service-connect.md)
        service_connect: {access_logs: true}   # ServiceConnectOptions' fields, but tls
        deployment: {strategy: blue-green, bake_time_minutes: 10}   # DeploymentOptions' plain fields
      - name: auth
        environment: {MESSAGE: "signs users in"}
      - name: feed
        image: public.ecr.aws/docker/library/nginx:1.27   # a registry image instead of a folder
        port: 80

Relative ``source`` folders are resolved against the file's folder.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, cast

from ecs_service_discovery.constructs.deployment import DeploymentOptions
from ecs_service_discovery.constructs.images import check_dockerfile
from ecs_service_discovery.constructs.options import DnsRecords, ServiceScaling
from ecs_service_discovery.constructs.props import SERVICE_OPTION_FIELDS, ServiceOptions
from ecs_service_discovery.constructs.service_connect import DISCOVERY_NAME_SUFFIX, ServiceConnectOptions
from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.validation import (
    APP_BIND_VARIABLES,
    RESERVED_VARIABLES,
    check_bool,
    check_dns_label,
    env_prefix,
    invalid,
    peer_variables,
    short,
)

#: The file's ``scaling:`` mapping: the same fields and defaults as :class:`ServiceScaling`.
ScalingSpec = ServiceScaling

_UNIQUE_CLOUD_MAP = "a name unique within the namespace (Cloud Map service names, DNS and Service Connect)"

#: Keys of a topology file renamed to the construct's names (one name per field), still read for
#: one release with a DeprecationWarning.
DEPRECATED_FIELDS = {"port": "container_port", "memory": "memory_limit_mib"}


@dataclass(frozen=True, kw_only=True)
class ServiceSpec(ServiceOptions):
    """One service of a topology (one entry of the file's ``services:`` list).

    The :class:`~ecs_service_discovery.constructs.props.ServiceOptions` fields (``name``,
    ``container_port``, ``cpu``, ``memory_limit_mib``, ``desired_count``, ``environment``,
    ``scaling``, ``health_check_path``, ...), under the same names and with the same checks and
    defaults as ``DiscoverableFargateService``, plus the following. Exactly one of ``image`` and
    ``source`` is required.

    :param image: a registry image reference, e.g. ``"public.ecr.aws/nginx/nginx:1.27"``.
        Default: none (then ``source`` is required).
    :param source: a folder with a Dockerfile, built by ``cdk deploy``. In a file, relative to
        the file's folder; in Python, relative to the working directory. Default: none (then
        ``image`` is required).
    :param dockerfile: the Dockerfile's path inside ``source``, when ``source`` is a build
        context that several images share; its ``<dockerfile>.dockerignore`` picks the image's
        files (see :func:`~ecs_service_discovery.constructs.images.image_from_context`). Only with
        ``source``. Default: ``"Dockerfile"``.
    :param calls: names of the services of the same topology this service calls; none may make
        a variable of ``environment``, one the library sets or one the apps bind to
        (``BIND_HOST``: a service named ``bind`` cannot be called). Default: none.
    :param discovery_read: let the service list the namespace's services and their instances
        through the Cloud Map API (``namespace.grant_discover_read``). Default: ``False``.
    :param port: deprecated name of ``container_port`` (one release).
    :param memory: deprecated name of ``memory_limit_mib`` (one release).
    """

    image: str | None = None
    source: Path | None = None
    dockerfile: str | None = None
    calls: tuple[str, ...] = ()
    discovery_read: bool = False
    port: InitVar[int | None] = None
    memory: InitVar[int | None] = None

    def __post_init__(self, port: int | None, memory: int | None) -> None:  # type: ignore[override]
        for old, value in (("port", port), ("memory", memory)):
            if value is not None:
                new = DEPRECATED_FIELDS[old]
                warnings.warn(
                    f"ServiceSpec({old}=...) is deprecated: use {new}=... (the construct's name)",
                    DeprecationWarning,
                    stacklevel=3,
                )
                object.__setattr__(self, new, value)
        super().__post_init__()
        where = self._where()
        if (self.image is None) == (self.source is None):
            raise ValidationError(
                f"{where}image={short(self.image)} and source={short(_text(self.source))} are not valid: "
                "expected exactly one of image (a registry reference) and source (a folder with a Dockerfile)"
            )
        if self.image is not None and (
            not isinstance(self.image, str) or not self.image.strip() or not self.image.isprintable()
        ):
            raise invalid(f"{where}image", self.image, "expected a non-empty image reference such as 'nginx:1.27'")
        if self.source is not None:
            if not isinstance(self.source, (str, Path)) or not str(self.source):
                raise invalid(f"{where}source", self.source, "expected a folder path")
            object.__setattr__(self, "source", Path(self.source))
        if self.dockerfile is not None:
            if self.source is None:
                raise invalid(f"{where}dockerfile", self.dockerfile, "expected only with source (a build context)")
            check_dockerfile(f"{where}dockerfile", self.source, self.dockerfile)
        object.__setattr__(self, "calls", self._checked_calls(where))
        check_bool(f"{where}discovery_read", self.discovery_read)

    def _where(self) -> str:
        return f"service {short(self.name)}: "

    def _checked_calls(self, where: str) -> tuple[str, ...]:
        calls: object = self.calls
        if isinstance(calls, (str, bytes)) or not isinstance(calls, Sequence):
            raise invalid(f"{where}calls", calls, "expected a list of service names")
        checked: list[str] = []
        for index, callee in enumerate(cast("Sequence[object]", calls)):
            check_dns_label(f"{where}calls[{index}]", callee)
            name = str(callee)
            if name == self.name:
                raise invalid(f"{where}calls[{index}]", callee, "a service cannot call itself")
            if name in checked:
                raise invalid(f"{where}calls[{index}]", callee, "expected each service once")
            for variable in peer_variables(env_prefix(name)):
                reason = (
                    RESERVED_VARIABLES.get(variable)
                    or ("read by the apps to bind their server" if variable in APP_BIND_VARIABLES else None)
                    or ("in the service's environment" if variable in self.environment else None)
                )
                if reason is not None:
                    raise invalid(
                        f"{where}calls[{index}]", callee, f"it would set the variable {variable}, which is {reason}"
                    )
            checked.append(name)
        return tuple(checked)


def _deprecated_alias(old: str) -> property:
    new = DEPRECATED_FIELDS[old]

    def read(self: ServiceSpec) -> Any:
        warnings.warn(
            f"ServiceSpec.{old} is deprecated: read {new} (the construct's name)", DeprecationWarning, stacklevel=2
        )
        return getattr(self, new)

    return property(read, doc=f"Deprecated name of ``{new}``.")


# The InitVars above make ``port=``/``memory=`` keyword arguments; reading them gives the new fields.
# (dataclass has already taken the InitVars' defaults, so replacing the class attributes is safe.)
for _old in DEPRECATED_FIELDS:
    setattr(ServiceSpec, _old, _deprecated_alias(_old))


@dataclass(frozen=True)
class TopologySpec:
    """The services of one system, in order.

    The order matters: it is the order in which services are created and assigned to
    CloudFormation templates (see :class:`~ecs_service_discovery.constructs.topology.ServiceTopology`),
    so add new services at the end.

    :param services: the services; names unique, every ``calls`` entry naming one of them, and no
        Cloud Map service name (DNS or Service Connect discovery name) or client alias (name and
        port) taken by two of them (see :meth:`check_namespace` for the names that contain the
        namespace).
    :param origin: where the specification comes from, used in error messages.
        Default: ``"topology"``.
    """

    services: tuple[ServiceSpec, ...]
    origin: str = "topology"

    def __post_init__(self) -> None:
        given: object = self.services
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or not given:
            raise invalid(f"{self.origin}: services", given, "expected a non-empty list of services")
        services: list[ServiceSpec] = []
        first_index: dict[str, int] = {}
        for index, service in enumerate(cast("Sequence[object]", given)):
            if not isinstance(service, ServiceSpec):
                raise invalid(f"{self.origin}: services[{index}]", service, "expected a ServiceSpec")
            services.append(service)
            if service.name in first_index:
                raise ValidationError(
                    f"{self.origin}: services[{index}]: name={short(service.name)} is not valid: "
                    f"services[{first_index[service.name]}] already has that name; expected each name once"
                )
            first_index[service.name] = index
        for index, service in enumerate(services):
            for position, callee in enumerate(service.calls):
                if callee not in first_index:
                    raise ValidationError(
                        f"{self.origin}: services[{index}]: service {short(service.name)}: "
                        f"calls[{position}]={short(callee)} is not valid: no service of this topology has that "
                        f"name{_did_you_mean(callee, first_index)}"
                    )
        object.__setattr__(self, "services", tuple(services))
        self._check_names(None)

    def check_namespace(self, namespace_name: str) -> None:
        """Raise :class:`ValidationError` if two services would take one name in the namespace
        ``namespace_name``: what :class:`TopologySpec` checks without a namespace, plus the names
        that contain it (``<name>.<namespace>``: a DNS name, a default client alias).

        Each error names the origin (the file), both services and the field, as every other
        mistake in a topology does. :class:`ServiceTopology` calls it with its namespace's name.

        :param namespace_name: the namespace's DNS name, e.g. ``"corp"``.
        """
        if not isinstance(namespace_name, str) or not namespace_name:
            raise invalid("namespace_name", namespace_name, "expected the namespace's DNS name, e.g. 'corp'")
        self._check_names(namespace_name)

    def _check_names(self, namespace_name: str | None) -> None:
        """Each Cloud Map service name, client alias (name and port) and DNS host name taken once in
        the namespace, as ECS and the constructs require; without a namespace name, the names that
        contain it are not known yet and only the others are compared."""
        cloud_map: dict[str, tuple[int, str]] = {}
        aliases: dict[tuple[str, int], int] = {}
        alias_hosts: dict[str, int] = {}
        dns_hosts: dict[str, int] = {}
        for index, service in enumerate(self.services):
            refuse = partial(self._name_taken, index)
            host = None if namespace_name is None else f"{service.name}.{namespace_name}"
            if service.discovery.uses_dns:
                taken = cloud_map.get(service.name)
                if taken is not None:
                    refuse("name", service.name, taken[0], f"has the {taken[1]} {service.name!r}", _UNIQUE_CLOUD_MAP)
                cloud_map[service.name] = (index, "Cloud Map DNS service")
                if host is not None:
                    if host in alias_hosts:
                        refuse(
                            "name",
                            service.name,
                            alias_hosts[host],
                            f"has the Service Connect client alias {host!r}: Service Connect callers would reach "
                            "that service and DNS callers this one",
                            "another name",
                        )
                    dns_hosts[host] = index
            options = service.service_connect or ServiceConnectOptions()
            if not service.discovery.uses_service_connect or options.client_only:
                continue
            discovery_name = options.discovery_name or f"{service.name}{DISCOVERY_NAME_SUFFIX}"
            taken = cloud_map.get(discovery_name)
            if taken is not None:
                refuse(
                    "service_connect.discovery_name",
                    discovery_name,
                    taken[0],
                    f"has the {taken[1]} {discovery_name!r}",
                    _UNIQUE_CLOUD_MAP,
                )
            cloud_map[discovery_name] = (index, "Service Connect discovery name")
            alias = options.client_alias_dns_name or host
            if alias is None:
                continue
            port = options.client_alias_port if options.client_alias_port is not None else service.container_port
            if (alias, port) in aliases:
                refuse(
                    "service_connect.client_alias_dns_name",
                    alias,
                    aliases[(alias, port)],
                    f"has the client alias {alias}:{port}",
                    "each client alias name and port once in the namespace (ECS requires it)",
                )
            owner = dns_hosts.get(alias)
            if owner is not None and owner != index:
                refuse(
                    "service_connect.client_alias_dns_name",
                    alias,
                    owner,
                    "has that DNS name: Service Connect callers would reach this service and DNS callers that one",
                    "this service's own DNS name or a name no other service has",
                )
            aliases[(alias, port)] = index
            alias_hosts[alias] = index

    def _name_taken(self, index: int, field: str, value: object, owner: int, problem: str, expected: str) -> NoReturn:
        raise ValidationError(
            f"{self.origin}: services[{index}]: service {short(self.services[index].name)}: {field}={short(value)} "
            f"is not valid: services[{owner}] (service {short(self.services[owner].name)}) {problem}; "
            f"expected {expected}"
        )

    def __getitem__(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """The service names, in order."""
        return [service.name for service in self.services]


_SERVICE_FIELDS = {f.name for f in fields(ServiceSpec)} | set(DEPRECATED_FIELDS)
_SCALING_FIELDS = {f.name for f in fields(ServiceScaling)}
# TLS needs aws-cdk-lib objects (an IAM role, a KMS key): set in Python, not in a file.
_SERVICE_CONNECT_FIELDS = {f.name for f in fields(ServiceConnectOptions)} - {"tls"}
# DeploymentOptions' fields that hold aws-cdk-lib objects (Lambda functions, alarms) cannot come from a file.
_DEPLOYMENT_CODE_ONLY = {"lifecycle_hooks", "alarms"}
_DEPLOYMENT_FIELDS = {f.name for f in fields(DeploymentOptions)} - _DEPLOYMENT_CODE_ONLY
# A default for name or calls would make every service the same one or call the same ones.
_DEFAULT_FIELDS = _SERVICE_FIELDS - {"name", "calls"}
_TOP_LEVEL_FIELDS = {"defaults", "services"}
# The field an error names: "service 'auth': scaling.max_capacity=0 is not valid: ..." -> scaling.
_ERROR_FIELD = re.compile(r"(?:service '[a-z0-9-]*': )?([a-z_]+)[.=\[ ]")


def load_topology(path: str | Path) -> TopologySpec:
    """Read a topology from a ``.yaml``/``.yml`` or ``.json`` file.

    The file is read by :func:`~ecs_service_discovery.topology_loader.load_document` (size and
    nesting limits, duplicate keys refused, UTF-8 only). Relative ``source`` folders are resolved
    against the file's folder and must contain a Dockerfile. Every mistake raises
    :class:`ValidationError` naming the file, the service and the field.
    """
    # Imported here: the loader is plain Python, and importing it never needs aws-cdk-lib.
    from ecs_service_discovery.topology_loader import load_document

    data = load_document(path)
    file = Path(path)
    return parse_topology(data, origin=str(file), base_dir=file.parent)


def parse_topology(data: Any, *, origin: str = "topology", base_dir: str | Path | None = None) -> TopologySpec:
    """Build a :class:`TopologySpec` from the parsed content of a topology file.

    :param data: a mapping with ``services`` (a list of service mappings) and optionally ``defaults``.
    :param origin: named in error messages. Default: ``"topology"``.
    :param base_dir: folder that relative ``source`` paths are relative to.
        Default: the working directory.
    """
    if not isinstance(data, Mapping):
        raise invalid(origin, data, "expected a mapping with a 'services' list (and optionally 'defaults')")
    document = cast("Mapping[str, Any]", data)
    _reject_unknown(origin, "", document, _TOP_LEVEL_FIELDS)
    defaults: object = document.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise invalid(f"{origin}: defaults", defaults, "expected a mapping of service fields")
    defaults = _renamed(cast("Mapping[str, Any]", defaults), f"{origin}: defaults")
    _reject_unknown(origin, "defaults: ", defaults, _DEFAULT_FIELDS)
    entries: object = document.get("services")
    if not isinstance(entries, list) or not entries:
        raise invalid(f"{origin}: services", entries, "expected a non-empty list of services")
    base = Path(base_dir) if base_dir is not None else None
    services: list[ServiceSpec] = []
    for index, entry in enumerate(cast("list[object]", entries)):
        where = f"{origin}: services[{index}]"
        if not isinstance(entry, Mapping):
            raise invalid(where, entry, "expected a mapping with at least 'name' and 'image' or 'source'")
        entry = cast("Mapping[str, Any]", entry)
        _reject_unknown(origin, f"services[{index}]: ", entry, _SERVICE_FIELDS)
        if "name" not in entry:
            raise ValidationError(f"{where}: the field 'name' is missing; expected the service's DNS label")
        own = _renamed(entry, where)
        merged = _merge_defaults(defaults, own)
        try:
            services.append(_service_from_mapping(merged, base))
        except ValidationError as error:
            # Name the file and the entry: the dataclass only knows the service.
            raise ValidationError(f"{where}: {error}{_from_defaults(str(error), defaults, own)}") from None
    return TopologySpec(services=tuple(services), origin=origin)


def _renamed(mapping: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``mapping`` with deprecated keys (``port``, ``memory``) under their new names."""
    renamed = dict(mapping)
    for old, new in DEPRECATED_FIELDS.items():
        if old not in renamed:
            continue
        if new in renamed:
            raise ValidationError(f"{where}: both {old!r} and {new!r} are given; expected only {new!r}")
        warnings.warn(
            f"{where}: the field {old!r} is deprecated: write {new!r} (the construct's name)",
            DeprecationWarning,
            stacklevel=4,
        )
        renamed[new] = renamed.pop(old)
    return renamed


def _merge_defaults(defaults: Mapping[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **entry}
    # A service's own image or source replaces the default's, whichever kind that was.
    if "image" in entry or "source" in entry:
        for key in ("image", "source"):
            if key not in entry:
                merged.pop(key, None)
    if isinstance(defaults.get("environment"), Mapping) and isinstance(entry.get("environment"), Mapping):
        merged["environment"] = {**defaults["environment"], **entry["environment"]}
    return merged


def _service_from_mapping(values: dict[str, Any], base_dir: Path | None) -> ServiceSpec:
    name = values["name"]
    check_dns_label("name", name)
    prefix = f"service {short(name)}: "
    kwargs = dict(values)
    if "scaling" in kwargs:
        kwargs["scaling"] = _scaling_from_value(kwargs["scaling"], prefix)
    if "calls" in kwargs:
        calls: object = kwargs["calls"]
        if calls is None:
            calls = []
        if not isinstance(calls, list):
            raise invalid(f"{prefix}calls", calls, "expected a list of service names, e.g. [auth, user]")
        kwargs["calls"] = tuple(cast("list[object]", calls))
    if kwargs.get("environment") is None:
        kwargs.pop("environment", None)
    if kwargs.get("service_connect") is not None:
        kwargs["service_connect"] = _service_connect_from_value(kwargs["service_connect"], prefix)
    if "deployment" in kwargs:
        kwargs["deployment"] = _deployment_from_value(kwargs["deployment"], prefix)
    if "dns_records" in kwargs:
        records: object = kwargs["dns_records"]
        if not isinstance(records, str) or records not in DnsRecords.__members__:
            raise invalid(f"{prefix}dns_records", records, f"expected one of {list(DnsRecords.__members__)}")
        kwargs["dns_records"] = DnsRecords[records]
    source = kwargs.get("source")
    if source is not None:
        if not isinstance(source, str) or not source or not source.isprintable():
            raise invalid(f"{prefix}source", source, "expected a folder path relative to the topology file")
        folder = Path(source)
        if not folder.is_absolute() and base_dir is not None:
            folder = base_dir / folder
        folder = folder.resolve()
        dockerfile = kwargs.get("dockerfile") or "Dockerfile"
        if isinstance(dockerfile, str) and not (folder / dockerfile).is_file():
            raise invalid(f"{prefix}source", source, f"expected a folder with {dockerfile}; {folder} has none")
        kwargs["source"] = folder
    return ServiceSpec(**kwargs)


def _scaling_from_value(value: Any, prefix: str) -> ServiceScaling | None:
    where = f"{prefix}scaling"
    if value is None or value is False:
        return None
    if value is True:
        return ServiceScaling()
    if not isinstance(value, Mapping):
        raise invalid(where, value, "expected a mapping of scaling fields, or null for a fixed task count")
    value = cast("Mapping[str, Any]", value)
    unknown = sorted(str(key) for key in value if key not in _SCALING_FIELDS)
    if unknown:
        raise ValidationError(
            f"{where}: unknown field {short(unknown[0])}{_did_you_mean(unknown[0], _SCALING_FIELDS)}; "
            f"expected some of {sorted(_SCALING_FIELDS)}"
        )
    kwargs: dict[str, Any] = dict(value)
    # Checked with the service (ServiceSpec), which knows the desired_count min_capacity defaults to.
    return ServiceScaling(**kwargs)


def _service_connect_from_value(value: Any, prefix: str) -> ServiceConnectOptions:
    """The file's ``service_connect:`` mapping (ServiceConnectOptions' fields but ``tls``); checked
    with the service (ServiceSpec), which knows its ``discovery``."""
    where = f"{prefix}service_connect"
    if not isinstance(value, Mapping):
        raise invalid(where, value, "expected a mapping of Service Connect fields, or null for the defaults")
    value = cast("Mapping[str, Any]", value)
    for key in value:
        if key == "tls":
            raise ValidationError(
                f"{where}: the field 'tls' cannot be set in a file: it needs an IAM role and a KMS key; "
                "expected ServiceConnectOptions(tls=ServiceConnectTls(...)) in Python"
            )
        if key not in _SERVICE_CONNECT_FIELDS:
            raise ValidationError(
                f"{where}: unknown field {short(key)}{_did_you_mean(str(key), _SERVICE_CONNECT_FIELDS)}; "
                f"expected some of {sorted(_SERVICE_CONNECT_FIELDS)}"
            )
    return ServiceConnectOptions(**dict(value))


def _deployment_from_value(value: Any, prefix: str) -> DeploymentOptions:
    """The file's ``deployment:`` mapping: DeploymentOptions' plain fields, checked by DeploymentOptions
    itself and, with the service's ``discovery``, by ServiceSpec. ``null`` is the default (rolling)."""
    where = f"{prefix}deployment"
    if value is None:
        return DeploymentOptions()
    if not isinstance(value, Mapping):
        raise invalid(where, value, "expected a mapping of deployment fields, e.g. {strategy: blue-green}, or null")
    value = cast("Mapping[str, Any]", value)
    for key in value:
        if key in _DEPLOYMENT_CODE_ONLY:
            raise ValidationError(
                f"{where}: the field {short(key)} cannot be set in a file: it holds aws-cdk-lib objects; "
                f"expected DeploymentOptions({key}=...) in Python"
            )
        if key not in _DEPLOYMENT_FIELDS:
            raise ValidationError(
                f"{where}: unknown field {short(key)}{_did_you_mean(str(key), _DEPLOYMENT_FIELDS)}; "
                f"expected some of {sorted(_DEPLOYMENT_FIELDS)}"
            )
    try:
        return DeploymentOptions(**dict(value))
    except ValidationError as error:  # its message names deployment.<field>; add the service
        raise ValidationError(f"{prefix}{error}") from None


def _reject_unknown(origin: str, where: str, mapping: Mapping[Any, Any], allowed: set[str]) -> None:
    for key in mapping:
        if key not in allowed:
            name = f" (service {short(mapping['name'])})" if isinstance(mapping.get("name"), str) else ""
            raise ValidationError(
                f"{origin}: {where}unknown field {short(key)}{name}{_did_you_mean(str(key), allowed)}; "
                f"expected one of {sorted(allowed - set(DEPRECATED_FIELDS))}"
            )


def _from_defaults(message: str, defaults: Mapping[str, Any], entry: Mapping[str, Any]) -> str:
    """A note for an error about a field whose value the entry took from the file's ``defaults``."""
    match = _ERROR_FIELD.match(message)
    if match is None or match.group(1) not in defaults or match.group(1) in entry:
        return ""
    return f" (the value comes from defaults: {match.group(1)})"


def _did_you_mean(word: str, choices: Mapping[str, Any] | set[str]) -> str:
    close = difflib.get_close_matches(word[:100], list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


__all__ = [
    "DEPRECATED_FIELDS",
    "SERVICE_OPTION_FIELDS",
    "ScalingSpec",
    "ServiceSpec",
    "TopologySpec",
    "load_topology",
    "parse_topology",
]
