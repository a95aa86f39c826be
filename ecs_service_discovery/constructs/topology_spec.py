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
      - name: auth
        environment: {MESSAGE: "signs users in"}
      - name: feed
        image: public.ecr.aws/docker/library/nginx:1.27   # a registry image instead of a folder
        port: 80

Relative ``source`` folders are resolved against the file's folder.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast

import yaml

from ecs_service_discovery.constructs.fargate_service import env_prefix
from ecs_service_discovery.constructs.options import ServiceScaling
from ecs_service_discovery.errors import ValidationError
from ecs_service_discovery.validation import (
    MAX_TASKS_PER_SERVICE,
    check_dns_label,
    check_fargate_size,
    check_int_range,
    check_port,
    check_scaling,
    fail,
)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by DiscoverableFargateService itself (and by grant_discovery_read); a spec may not override them.
_ALWAYS_SET_VARIABLES = ("SERVICE_NAME", "NAMESPACE")
_DISCOVERY_READ_VARIABLES = ("NAMESPACE_ID", "AWS_REGION")


#: The file's ``scaling:`` mapping: the same fields and defaults as :class:`ServiceScaling`.
ScalingSpec = ServiceScaling


@dataclass(frozen=True)
class ServiceSpec:
    """One service of a topology (one entry of the file's ``services:`` list).

    Exactly one of ``image`` and ``source`` is required.

    :param name: the service's DNS label; it answers as ``<name>.<namespace>``.
    :param image: a registry image reference, e.g. ``"public.ecr.aws/nginx/nginx:1.27"``.
        Default: none (then ``source`` is required).
    :param source: a folder with a Dockerfile, built by ``cdk deploy``. In a file, relative to
        the file's folder; in Python, relative to the working directory. Default: none (then
        ``image`` is required).
    :param port: the port the app listens on. Default: ``8080``.
    :param cpu: Fargate CPU units. Default: ``256``.
    :param memory: Fargate memory in MiB, a valid pair with ``cpu``. Default: ``512``.
    :param desired_count: tasks to run (0-1000). Default: ``2``.
    :param scaling: target-tracking scaling; ``None`` (``scaling: null`` in a file) keeps
        ``desired_count`` fixed. Default: ``ServiceScaling()`` (``desired_count`` to 10 tasks at 70 % CPU).
    :param environment: extra environment variables. Default: none.
    :param calls: names of the services of the same topology this service calls.
        Default: none.
    :param discovery_read: let the service list the namespace's services and their
        instances through the Cloud Map API (``grant_discovery_read``). Default: ``False``.
    :param health_check_path: path of the container health check. Default: ``"/health"``.
    """

    name: str
    image: str | None = None
    source: Path | None = None
    port: int = 8080
    cpu: int = 256
    memory: int = 512
    desired_count: int = 2
    scaling: ServiceScaling | None = ServiceScaling()
    environment: Mapping[str, str] = field(default_factory=dict[str, str])
    calls: tuple[str, ...] = ()
    discovery_read: bool = False
    health_check_path: str = "/health"

    def __post_init__(self) -> None:
        check_dns_label("name", self.name)
        where = f"service {self.name!r}: "
        if (self.image is None) == (self.source is None):
            raise ValidationError(
                f"service {self.name!r}: image={self.image!r} and source={_text(self.source)!r} are not valid: "
                "expected exactly one of image (a registry reference) and source (a folder with a Dockerfile)"
            )
        if self.image is not None and (not isinstance(self.image, str) or not self.image.strip()):
            raise fail(f"{where}image", self.image, "expected a non-empty image reference such as 'nginx:1.27'")
        if self.source is not None:
            if not isinstance(self.source, (str, Path)) or not str(self.source):
                raise fail(f"{where}source", self.source, "expected a folder path")
            object.__setattr__(self, "source", Path(self.source))
        check_port(f"{where}port", self.port)
        check_fargate_size(self.cpu, self.memory, cpu_parameter=f"{where}cpu", memory_parameter=f"{where}memory")
        check_int_range(f"{where}desired_count", self.desired_count, 0, MAX_TASKS_PER_SERVICE, " (tasks)")
        if self.scaling is not None:
            if not isinstance(self.scaling, ServiceScaling):
                raise fail(f"{where}scaling", self.scaling, "expected a ServiceScaling, or None for a fixed count")
            check_scaling(f"{where}scaling", self.scaling, self.desired_count)
        object.__setattr__(self, "calls", self._checked_calls(where))
        object.__setattr__(self, "environment", self._checked_environment(where))
        if not isinstance(self.discovery_read, bool):
            raise fail(f"{where}discovery_read", self.discovery_read, "expected true or false")
        if not isinstance(self.health_check_path, str) or not self.health_check_path.startswith("/"):
            raise fail(f"{where}health_check_path", self.health_check_path, "expected a URL path starting with '/'")

    def _checked_calls(self, where: str) -> tuple[str, ...]:
        calls: object = self.calls
        if isinstance(calls, (str, bytes)) or not isinstance(calls, Sequence):
            raise fail(f"{where}calls", calls, "expected a list of service names")
        checked: list[str] = []
        for index, callee in enumerate(cast("Sequence[object]", calls)):
            check_dns_label(f"{where}calls[{index}]", callee)
            name = str(callee)
            if name == self.name:
                raise fail(f"{where}calls[{index}]", callee, "a service cannot call itself")
            if name in checked:
                raise fail(f"{where}calls[{index}]", callee, "expected each service once")
            checked.append(name)
        return tuple(checked)

    def _checked_environment(self, where: str) -> dict[str, str]:
        environment: object = self.environment
        if not isinstance(environment, Mapping):
            raise fail(f"{where}environment", environment, "expected a mapping of variable names to strings")
        variables = cast("Mapping[object, object]", environment)
        reserved = {
            **{name: "set by the library to this service's identity" for name in _ALWAYS_SET_VARIABLES},
            **{
                f"{env_prefix(callee)}_{suffix}": f"set because it calls {callee!r}"
                for callee in self.calls
                for suffix in ("HOST", "SERVICE", "PORT")
            },
        }
        if self.discovery_read:
            reserved.update({name: "set by discovery_read" for name in _DISCOVERY_READ_VARIABLES})
        checked: dict[str, str] = {}
        for key, value in variables.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                raise fail(f"{where}environment key", key, "expected a variable name ([A-Za-z_][A-Za-z0-9_]*)")
            if key in reserved:
                raise fail(f"{where}environment key", key, f"the variable is {reserved[key]}")
            if not isinstance(value, str):
                raise fail(f"{where}environment[{key!r}]", value, "expected a string (quote numbers and booleans)")
            checked[key] = value
        return checked


@dataclass(frozen=True)
class TopologySpec:
    """The services of one system, in order.

    The order matters: it is the order in which services are created and assigned to
    CloudFormation templates (see :class:`~ecs_service_discovery.constructs.topology.ServiceTopology`),
    so add new services at the end.

    :param services: the services; names unique, every ``calls`` entry naming one of them.
    :param origin: where the specification comes from, used in error messages.
        Default: ``"topology"``.
    """

    services: tuple[ServiceSpec, ...]
    origin: str = "topology"

    def __post_init__(self) -> None:
        given: object = self.services
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or not given:
            raise fail(f"{self.origin}: services", given, "expected a non-empty list of services")
        services: list[ServiceSpec] = []
        first_index: dict[str, int] = {}
        for index, service in enumerate(cast("Sequence[object]", given)):
            if not isinstance(service, ServiceSpec):
                raise fail(f"{self.origin}: services[{index}]", service, "expected a ServiceSpec")
            services.append(service)
            if service.name in first_index:
                raise ValidationError(
                    f"{self.origin}: services[{index}]: name={service.name!r} is not valid: "
                    f"services[{first_index[service.name]}] already has that name; expected each name once"
                )
            first_index[service.name] = index
        for index, service in enumerate(services):
            for position, callee in enumerate(service.calls):
                if callee not in first_index:
                    raise ValidationError(
                        f"{self.origin}: services[{index}]: service {service.name!r}: calls[{position}]={callee!r} "
                        f"is not valid: no service of this topology has that name{_did_you_mean(callee, first_index)}"
                    )
        readers = [service.name for service in services if service.discovery_read]
        if readers and len(services) == 1:
            raise ValidationError(
                f"{self.origin}: services[0]: service {readers[0]!r}: discovery_read=True is not valid: "
                "expected at least one other service in the topology to read"
            )
        object.__setattr__(self, "services", tuple(services))

    def __getitem__(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        """The service names, in order."""
        return [service.name for service in self.services]


_SERVICE_FIELDS = {f.name for f in fields(ServiceSpec)}
_SCALING_FIELDS = {f.name for f in fields(ServiceScaling)}
# A default for name or calls would make every service the same one or call the same ones.
_DEFAULT_FIELDS = _SERVICE_FIELDS - {"name", "calls"}
_TOP_LEVEL_FIELDS = {"defaults", "services"}


def load_topology(path: str | Path) -> TopologySpec:
    """Read a topology from a ``.yaml``/``.yml`` or ``.json`` file.

    Relative ``source`` folders are resolved against the file's folder and must contain a
    Dockerfile. Every mistake raises :class:`ValidationError` naming the file, the service
    and the field.
    """
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise fail("path", str(path), "expected a .yaml, .yml or .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise fail("path", str(path), f"expected a readable file ({error.strerror})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ValidationError(f"{path}: not valid {path.suffix.lstrip('.').upper()}: {error}") from None
    return parse_topology(data, origin=str(path), base_dir=path.parent)


def parse_topology(data: Any, *, origin: str = "topology", base_dir: str | Path | None = None) -> TopologySpec:
    """Build a :class:`TopologySpec` from the parsed content of a topology file.

    :param data: a mapping with ``services`` (a list of service mappings) and optionally ``defaults``.
    :param origin: named in error messages. Default: ``"topology"``.
    :param base_dir: folder that relative ``source`` paths are relative to.
        Default: the working directory.
    """
    if not isinstance(data, Mapping):
        raise fail(origin, _short(data), "expected a mapping with a 'services' list (and optionally 'defaults')")
    document = cast("Mapping[str, Any]", data)
    _reject_unknown(origin, "", document, _TOP_LEVEL_FIELDS)
    defaults: object = document.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise fail(f"{origin}: defaults", _short(defaults), "expected a mapping of service fields")
    defaults = cast("Mapping[str, Any]", defaults)
    _reject_unknown(origin, "defaults: ", defaults, _DEFAULT_FIELDS)
    entries: object = document.get("services")
    if not isinstance(entries, list) or not entries:
        raise fail(f"{origin}: services", _short(entries), "expected a non-empty list of services")
    base = Path(base_dir) if base_dir is not None else None
    services: list[ServiceSpec] = []
    for index, entry in enumerate(cast("list[object]", entries)):
        where = f"{origin}: services[{index}]"
        if not isinstance(entry, Mapping):
            raise fail(where, _short(entry), "expected a mapping with at least 'name' and 'image' or 'source'")
        entry = cast("Mapping[str, Any]", entry)
        _reject_unknown(origin, f"services[{index}]: ", entry, _SERVICE_FIELDS)
        if "name" not in entry:
            raise ValidationError(f"{where}: the field 'name' is missing; expected the service's DNS label")
        merged = _merge_defaults(defaults, entry)
        try:
            services.append(_service_from_mapping(merged, base, where))
        except ValidationError as error:
            # Name the file and the entry: the dataclass only knows the service.
            raise ValidationError(f"{where}: {error}") from None
    return TopologySpec(services=tuple(services), origin=origin)


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


def _service_from_mapping(values: dict[str, Any], base_dir: Path | None, where: str) -> ServiceSpec:
    name = values["name"]
    check_dns_label("name", name)
    prefix = f"service {name!r}: "
    kwargs = dict(values)
    if "scaling" in kwargs:
        kwargs["scaling"] = _scaling_from_value(kwargs["scaling"], prefix)
    if "calls" in kwargs:
        calls: object = kwargs["calls"]
        if calls is None:
            calls = []
        if not isinstance(calls, list):
            raise fail(f"{prefix}calls", calls, "expected a list of service names, e.g. [auth, user]")
        kwargs["calls"] = tuple(cast("list[object]", calls))
    if kwargs.get("environment") is None:
        kwargs.pop("environment", None)
    source = kwargs.get("source")
    if source is not None:
        if not isinstance(source, str) or not source:
            raise fail(f"{prefix}source", source, "expected a folder path relative to the topology file")
        folder = Path(source)
        if not folder.is_absolute() and base_dir is not None:
            folder = base_dir / folder
        folder = folder.resolve()
        if not (folder / "Dockerfile").is_file():
            raise fail(f"{prefix}source", source, f"expected a folder with a Dockerfile; {folder} has none")
        kwargs["source"] = folder
    for key in ("port", "cpu", "memory", "desired_count"):
        if key in kwargs and (isinstance(kwargs[key], bool) or not isinstance(kwargs[key], int)):
            raise fail(f"{prefix}{key}", kwargs[key], "expected a whole number")
    return ServiceSpec(**kwargs)


def _scaling_from_value(value: Any, prefix: str) -> ServiceScaling | None:
    where = f"{prefix}scaling"
    if value is None or value is False:
        return None
    if value is True:
        return ServiceScaling()
    if not isinstance(value, Mapping):
        raise fail(where, value, "expected a mapping of scaling fields, or null for a fixed task count")
    value = cast("Mapping[str, Any]", value)
    unknown = sorted(str(key) for key in value if key not in _SCALING_FIELDS)
    if unknown:
        raise ValidationError(
            f"{where}: unknown field {unknown[0]!r}{_did_you_mean(unknown[0], _SCALING_FIELDS)}; "
            f"expected some of {sorted(_SCALING_FIELDS)}"
        )
    kwargs: dict[str, Any] = dict(value)
    for key, item in kwargs.items():
        if item is not None and (isinstance(item, bool) or not isinstance(item, int)):
            raise fail(f"{where}.{key}", item, "expected a whole number")
    # Checked with the service (ServiceSpec), which knows the desired_count min_capacity defaults to.
    return ServiceScaling(**kwargs)


def _reject_unknown(origin: str, where: str, mapping: Mapping[Any, Any], allowed: set[str]) -> None:
    for key in mapping:
        if key not in allowed:
            name = f" (service {mapping['name']!r})" if "name" in mapping and isinstance(mapping["name"], str) else ""
            raise ValidationError(
                f"{origin}: {where}unknown field {key!r}{name}{_did_you_mean(str(key), allowed)}; "
                f"expected one of {sorted(allowed)}"
            )


def _did_you_mean(word: str, choices: Mapping[str, Any] | set[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, Path) else value


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."
