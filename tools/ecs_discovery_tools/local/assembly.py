"""What a synthesized CDK stack would run: its namespace, Cloud Map services and ECS services.

The local run reads the same CloudFormation template that ``cdk deploy`` deploys, so it
runs exactly the services, DNS records, TTLs, task counts and container environments the
stack defines, not a second description of them. Images must be built from a folder
(``ContainerImage.from_asset``): the local run starts the app in that folder with gunicorn.

    assembly_dir = synthesize(project_dir)          # runs cdk.json's "app", like `cdk synth`
    stack = read_stack(assembly_dir, "ServiceDiscovery")
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecs_discovery_client import TEST_TRAFFIC_HEADER, is_test_traffic_header, is_test_traffic_value
from ecs_discovery_tools.local.accounts import ACCOUNT, arn_parts

__all__ = [
    "SHIFTING_STRATEGIES",
    "AssemblyError",
    "ClientAlias",
    "DeploymentSpec",
    "HealthCheckSpec",
    "ServiceConnectEntry",
    "ServiceSpec",
    "StackSpec",
    "read_deployment",
    "read_stack",
    "resolve_value",
    "stack_names",
    "synthesize",
]

# CDK's context key that makes asset manifests point at the source folders instead of copies.
_DISABLE_ASSET_STAGING = "aws:cdk:disable-asset-staging"
_SYNTH_TIMEOUT_S = 300
# ECS's defaults where the template leaves a value out (ECS API reference: HealthCheck,
# ContainerDefinition.stopTimeout, DeploymentConfiguration).
_HEALTH_DEFAULTS = {"Interval": 30, "Timeout": 5, "Retries": 3, "StartPeriod": 0}
_FARGATE_STOP_TIMEOUT_S = 30
_DEFAULT_MINIMUM_HEALTHY_PERCENT = 100
_DEFAULT_MAXIMUM_PERCENT = 200
# ECS API reference, DeploymentConfiguration: the strategies; those that run two revisions and
# shift Service Connect traffic between them; bake times 0-1440 minutes; LinearConfiguration
# (StepPercent 3.0-100.0, default 10.0 every 6 minutes) and CanaryConfiguration (CanaryPercent
# 0.1-100.0, default 5.0, the rest after 10 minutes).
_STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
SHIFTING_STRATEGIES = frozenset({"BLUE_GREEN", "LINEAR", "CANARY"})
_MAX_BAKE_MINUTES = 1440
_STEPS = {
    # strategy: (configuration key, percent key, minutes key, percent range, default percent, default minutes)
    "LINEAR": ("LinearConfiguration", "StepPercent", "StepBakeTimeInMinutes", (3.0, 100.0), 10.0, 6.0),
    "CANARY": ("CanaryConfiguration", "CanaryPercent", "CanaryBakeTimeInMinutes", (0.1, 100.0), 5.0, 10.0),
}


class AssemblyError(Exception):
    """The app could not be synthesized, or its stack cannot run locally."""


@dataclass(frozen=True)
class HealthCheckSpec:
    """A container health check as the task definition gives it (ECS's defaults filled in)."""

    command: tuple[str, ...]  # ("CMD-SHELL", "line") or ("CMD", "exe", "arg", ...)
    interval: float
    timeout: float
    retries: int
    start_period: float


@dataclass(frozen=True)
class ClientAlias:
    """A Service Connect client alias: the name and port callers use, and its test traffic rule."""

    dns_name: str
    port: int
    # TestTrafficRules.Header: the (lower-case) name a request must carry to reach the green
    # revision during a traffic shift, and the exact value (None: any value).
    test_header: str = TEST_TRAFFIC_HEADER
    test_header_value: str | None = None


@dataclass(frozen=True)
class DeploymentSpec:
    """A service's DeploymentConfiguration as ECS reads it: the strategy, bake time and steps (minutes)."""

    strategy: str = "ROLLING"
    bake_time_minutes: float = 0.0
    # LINEAR: the share each step shifts; CANARY: the canary share. None for the other strategies.
    step_percent: float | None = None
    # The wait after each linear step, or after the canary share.
    step_bake_time_minutes: float | None = None

    @property
    def shifts_traffic(self) -> bool:
        """Whether a deployment runs two revisions and shifts traffic between them (all but ROLLING)."""
        return self.strategy in SHIFTING_STRATEGIES


@dataclass(frozen=True)
class ServiceConnectEntry:
    """One entry of an ECS service's ServiceConnectConfiguration.Services."""

    port_name: str
    discovery_name: str  # the Cloud Map service Service Connect registers (API-only, no DNS)
    container_port: int
    client_aliases: tuple[ClientAlias, ...]


@dataclass(frozen=True)
class ServiceSpec:
    """One ECS service that is discoverable (Cloud Map DNS, Service Connect or both), as the template defines it."""

    name: str  # the Cloud Map service name (<name>.<namespace>), else the first Service Connect discovery name
    ecs_logical_id: str
    cloud_map_logical_id: str | None  # None: Service Connect only
    task_definition_logical_id: str
    family: str  # the task definition's Family (what ECS writes to ECS_TASK_DEFINITION_FAMILY)
    dns_config: Mapping[str, Any] | None  # the template's DnsConfig, NamespaceId left out; None: no DNS discovery
    health_check_custom_config: Mapping[str, Any] | None
    container_name: str
    container_port: int
    environment: Mapping[str, Any]  # CloudFormation values: strings or intrinsic functions
    desired_count: int
    app_dir: Path
    health_check: HealthCheckSpec | None  # None: the container defines none (ECS: health UNKNOWN)
    stop_timeout: float
    minimum_healthy_percent: int
    maximum_percent: int
    health_check_grace_period: float
    service_connect: tuple[ServiceConnectEntry, ...] = ()
    deployment: DeploymentSpec = DeploymentSpec()
    # ServiceConnectConfiguration.Enabled: the tasks are Service Connect clients (ECS maps each
    # client alias of the namespace to the task's proxy in its /etc/hosts), endpoint or not.
    service_connect_client: bool = False

    @property
    def has_srv(self) -> bool:
        return any(record.get("Type") == "SRV" for record in (self.dns_config or {}).get("DnsRecords", []))

    @property
    def ttl(self) -> int:
        records = (self.dns_config or {}).get("DnsRecords", [])
        return min((int(record.get("TTL", 0)) for record in records), default=60)


@dataclass(frozen=True)
class StackSpec:
    """A stack's discoverable services and its namespace: one it creates (``namespace_name``,
    ``namespace_logical_id``) or one another stack creates, which it names by ARN (``namespace_arn``:
    a namespace shared through AWS RAM)."""

    stack_name: str
    namespace_name: str | None  # None: the stack creates no namespace (see namespace_arn)
    namespace_logical_id: str | None
    services: tuple[ServiceSpec, ...]
    # The literal ARN the stack's Cloud Map services and Service Connect name their namespace by,
    # when the stack creates none (SharedNamespace.from_namespace_arn); None when it creates one.
    namespace_arn: str | None = None
    # The stack's environment (the cloud assembly's manifest); None where it is environment-agnostic.
    account: str | None = None
    region: str | None = None

    def service(self, name: str) -> ServiceSpec:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)


# -- synthesis ---------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise AssemblyError(f"cannot read {path}: {error}") from None


def synthesize(project_dir: Path, outdir: Path, *, app: str | None = None) -> Path:
    """Run the CDK app as ``cdk synth`` would (CDK_OUTDIR, CDK_CONTEXT_JSON) into ``outdir``.

    ``app`` defaults to the ``"app"`` command of ``project_dir/cdk.json``; the context is
    cdk.json's ``"context"`` and cdk.context.json, plus asset staging turned off so that
    image assets name their source folders.
    """
    cdk_json = project_dir / "cdk.json"
    settings = _read_json(cdk_json) if cdk_json.is_file() else {}
    command = app or settings.get("app")
    if not command:
        raise AssemblyError(f'no CDK app: {cdk_json} has no "app" and none was given')
    context: dict[str, Any] = dict(settings.get("context", {}))
    if (project_dir / "cdk.context.json").is_file():
        context.update(_read_json(project_dir / "cdk.context.json"))
    context[_DISABLE_ASSET_STAGING] = True
    outdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context)}
    try:
        completed = subprocess.run(
            shlex.split(command),
            cwd=project_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_SYNTH_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise AssemblyError(f"could not run the CDK app {command!r}: {error}") from None
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise AssemblyError(f"the CDK app {command!r} failed ({completed.returncode}): " + " | ".join(detail))
    if not (outdir / "manifest.json").is_file():
        raise AssemblyError(f"the CDK app {command!r} wrote no cloud assembly to {outdir}")
    return outdir


def stack_names(assembly_dir: Path) -> list[str]:
    manifest = _read_json(assembly_dir / "manifest.json")
    return sorted(
        name
        for name, artifact in manifest.get("artifacts", {}).items()
        if artifact.get("type") == "aws:cloudformation:stack"
    )


# -- reading a stack -----------------------------------------------------------------


# The manifest's "environment" of a stack: aws://<account>/<region>, "unknown-account" and
# "unknown-region" where the stack is environment-agnostic.
_ENVIRONMENT = re.compile(r"aws://(?P<account>[^/]{1,64})/(?P<region>[^/]{1,64})")
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")


def _environment(artifact: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(account, region) of a stack artifact; None for each part the stack leaves unknown."""
    environment = artifact.get("environment")
    found = _ENVIRONMENT.fullmatch(environment) if isinstance(environment, str) else None
    if found is None:
        return None, None
    account = found["account"] if ACCOUNT.fullmatch(found["account"]) else None
    region = found["region"] if _REGION.fullmatch(found["region"]) else None
    return account, region


def _stack_files(assembly_dir: Path, stack_name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The stack's template, its image assets and its manifest artifact."""
    manifest = _read_json(assembly_dir / "manifest.json")
    artifacts = manifest.get("artifacts", {})
    artifact = artifacts.get(stack_name)
    if artifact is None or artifact.get("type") != "aws:cloudformation:stack":
        # A name from the command line: shortened, as a long one would fill the terminal.
        shown = repr(stack_name[:80]) + ("..." if len(stack_name) > 80 else "")
        raise AssemblyError(f"no stack {shown} in the app (stacks: {', '.join(stack_names(assembly_dir))})")
    template = _read_json(assembly_dir / artifact["properties"]["templateFile"])
    images: dict[str, Any] = {}
    for dependency in artifact.get("dependencies", []):
        dependency_artifact = artifacts.get(dependency, {})
        if dependency_artifact.get("type") == "cdk:asset-manifest":
            assets = _read_json(assembly_dir / dependency_artifact["properties"]["file"])
            images.update(assets.get("dockerImages", {}))
    return template, images, artifact


def _by_type(resources: Mapping[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: resource for logical_id, resource in resources.items() if resource.get("Type") == resource_type}


def _get_att_target(value: Any, attribute: str) -> str | None:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, name = value["Fn::GetAtt"]
        if name == attribute:
            return target
    return None


def _image_dir(image: Any, images: Mapping[str, Any], assembly_dir: Path, service: str) -> Path:
    text = image.get("Fn::Sub") if isinstance(image, dict) else image
    if isinstance(text, str):
        tag = text.rsplit(":", 1)[-1]
        asset = images.get(tag)
        if asset is not None and "directory" in asset.get("source", {}):
            directory = Path(asset["source"]["directory"])
            directory = directory if directory.is_absolute() else assembly_dir / directory
            # One build context for several images (file=...): the app is the Dockerfile's folder.
            docker_file = asset["source"].get("dockerFile")
            if isinstance(docker_file, str) and "/" in docker_file:
                return directory / Path(docker_file).parent
            return directory
    raise AssemblyError(
        f"service {service!r} runs image {json.dumps(image)}, which is not built from a folder "
        "(ContainerImage.from_asset); the local run can only start images it can build"
    )


def _number(value: Any, default: float, where: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise AssemblyError(f"{where} is {json.dumps(value)[:80]}, which the local run cannot read as a number")
    try:
        return float(value)
    except ValueError:
        raise AssemblyError(f"{where} is {str(value)[:80]!r}, not a number") from None


def _health_check(container: Mapping[str, Any], where: str) -> HealthCheckSpec | None:
    health = container.get("HealthCheck")
    if not health:
        return None
    command = health.get("Command")
    if (
        not isinstance(command, list)
        or len(command) < 2
        or command[0] not in ("CMD", "CMD-SHELL")
        or not all(isinstance(part, str) for part in command)
    ):
        raise AssemblyError(
            f'{where}: HealthCheck.Command {json.dumps(command)[:120]} is not ["CMD", ...] or ["CMD-SHELL", ...]'
        )
    values = {
        key: _number(health.get(key), default, f"{where}: HealthCheck.{key}")
        for key, default in _HEALTH_DEFAULTS.items()
    }
    return HealthCheckSpec(
        command=tuple(command),
        interval=values["Interval"],
        timeout=values["Timeout"],
        retries=int(values["Retries"]),
        start_period=values["StartPeriod"],
    )


def _service_connect(
    properties: Mapping[str, Any], containers: list[dict[str, Any]], ecs_id: str
) -> tuple[ServiceConnectEntry, ...]:
    config = properties.get("ServiceConnectConfiguration") or {}
    if not config.get("Enabled"):
        return ()
    named_ports = {
        mapping["Name"]: int(mapping["ContainerPort"])
        for container in containers
        for mapping in container.get("PortMappings") or []
        if isinstance(mapping.get("Name"), str) and "ContainerPort" in mapping
    }
    entries = []
    for service in config.get("Services") or []:
        port_name = service.get("PortName")
        if port_name not in named_ports:
            raise AssemblyError(f"ECS service {ecs_id}: Service Connect port name {port_name!r} names no port mapping")
        aliases = tuple(
            ClientAlias(str(alias["DnsName"]), int(alias["Port"]), *_test_traffic_rule(alias, ecs_id))
            for alias in service.get("ClientAliases") or []
            if isinstance(alias.get("DnsName"), str)
        )
        entries.append(
            ServiceConnectEntry(
                port_name=port_name,
                discovery_name=str(service.get("DiscoveryName") or port_name),
                container_port=named_ports[port_name],
                client_aliases=aliases,
            )
        )
    return tuple(entries)


def _absent(value: Any) -> bool:
    return value is None or value == {"Ref": "AWS::NoValue"}


def _literal(value: Any, where: str) -> Any:
    """``value`` when it is a literal; an intrinsic function (a condition, a parameter) is refused:
    the local run deploys what the template states, it does not evaluate CloudFormation."""
    if isinstance(value, dict) and len(value) == 1 and any(key == "Ref" or key.startswith("Fn::") for key in value):
        raise AssemblyError(
            f"{where} is {json.dumps(value)[:120]}, an intrinsic function; the local run reads literal values only"
        )
    return value


def _bounded(value: Any, where: str, low: float, high: float, default: float) -> float:
    """A literal number (or its string, as CloudFormation accepts "10") within ``low``-``high``."""
    if _absent(value):
        return default
    value = _literal(value, where)
    allowed = f"expected a number from {low:g} to {high:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise AssemblyError(f"{where} is {json.dumps(value)[:80]}; {allowed}")
    if isinstance(value, str) and not re.fullmatch(r"[0-9]{1,6}(?:\.[0-9]{1,6})?", value):
        raise AssemblyError(f"{where} is {value[:40]!r}; {allowed}")
    # Compared before float(): an int of 5,000 digits does not fit in one.
    if isinstance(value, int) and not low <= value <= high:
        # str() of an int over 4,300 digits raises: a huge value is named by its size.
        shown = str(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
        raise AssemblyError(f"{where} is {shown}; {allowed}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise AssemblyError(f"{where} is {str(value)[:40]}; {allowed}")
    return number


def _test_traffic_rule(alias: Mapping[str, Any], ecs_id: str) -> tuple[str, str | None]:
    """The header name (lower case) and exact value (None: any) of a client alias's TestTrafficRules;
    ECS's default header when the alias has none."""
    where = f"ECS service {ecs_id}: ClientAliases[].TestTrafficRules"
    rules = alias.get("TestTrafficRules")
    if _absent(rules):
        return TEST_TRAFFIC_HEADER, None
    header = _literal(_literal(rules, where).get("Header") if isinstance(rules, dict) else rules, f"{where}.Header")
    if not isinstance(header, dict):
        raise AssemblyError(f"{where}.Header is {json.dumps(header)[:80]}; expected {{Name, Value}}")
    name = _literal(header.get("Name"), f"{where}.Header.Name")
    if not isinstance(name, str) or not is_test_traffic_header(name.lower()):
        raise AssemblyError(f"{where}.Header.Name is {json.dumps(name)[:80]}; expected an HTTP header name")
    value = header.get("Value")
    exact = None
    if not _absent(value):
        exact = _literal(_literal(value, f"{where}.Header.Value").get("Exact") if isinstance(value, dict) else value,
                         f"{where}.Header.Value.Exact")  # fmt: skip
        if not isinstance(exact, str) or not is_test_traffic_value(exact):
            raise AssemblyError(
                f"{where}.Header.Value.Exact is {json.dumps(exact)[:80]}; expected 1-256 visible ASCII characters"
            )
    return name.lower(), exact


def read_deployment(properties: Mapping[str, Any], ecs_id: str) -> DeploymentSpec:
    """An ``AWS::ECS::Service``'s ``DeploymentConfiguration`` as ECS reads it: ``Strategy`` (absent:
    ROLLING), ``BakeTimeInMinutes`` and the strategy's step configuration, ECS's defaults filled in."""
    where = f"ECS service {ecs_id}: DeploymentConfiguration"
    config = properties.get("DeploymentConfiguration")
    if _absent(config):
        return DeploymentSpec()
    config = _literal(config, where)
    if not isinstance(config, dict):
        raise AssemblyError(f"{where} is {json.dumps(config)[:80]}; expected an object")
    strategy = config.get("Strategy")
    strategy = "ROLLING" if _absent(strategy) else _literal(strategy, f"{where}.Strategy")
    if strategy not in _STRATEGIES:
        raise AssemblyError(
            f"{where}.Strategy is {json.dumps(strategy)[:80]}; expected one of {', '.join(_STRATEGIES)}"
        )
    if strategy not in SHIFTING_STRATEGIES:
        return DeploymentSpec()
    bake = _bounded(config.get("BakeTimeInMinutes"), f"{where}.BakeTimeInMinutes", 0, _MAX_BAKE_MINUTES, 0.0)
    steps = _STEPS.get(strategy)
    if steps is None:
        return DeploymentSpec(strategy, bake)
    key, percent_key, minutes_key, (low, high), percent, minutes = steps
    block = config.get(key)
    block = {} if _absent(block) else _literal(block, f"{where}.{key}")
    if not isinstance(block, dict):
        raise AssemblyError(f"{where}.{key} is {json.dumps(block)[:80]}; expected an object")
    return DeploymentSpec(
        strategy,
        bake,
        _bounded(block.get(percent_key), f"{where}.{key}.{percent_key}", low, high, percent),
        _bounded(block.get(minutes_key), f"{where}.{key}.{minutes_key}", 0, _MAX_BAKE_MINUTES, minutes),
    )


_ARN_FORM = "arn:<partition>:servicediscovery:<region>:<12-digit account>:namespace/ns-<id>"


def _shared_namespace_arn(stack_name: str, resources: Mapping[str, Any]) -> str:
    """The namespace ARN a stack that creates no namespace names (SharedNamespace.from_namespace_arn):
    every Cloud Map service's ``NamespaceId`` and Service Connect's ``Namespace``, literal, one ARN."""
    named: dict[str, str] = {}  # ARN -> the first resource naming it
    for logical_id, resource in sorted(_by_type(resources, "AWS::ServiceDiscovery::Service").items()):
        properties = resource.get("Properties") or {}
        value = properties.get("NamespaceId")
        if _absent(value):  # deprecated, still accepted by CloudFormation
            value = (properties.get("DnsConfig") or {}).get("NamespaceId")
        if not _absent(value):
            named.setdefault(_namespace_arn(value, f"Cloud Map service {logical_id}: NamespaceId"), logical_id)
    for logical_id, resource in sorted(_by_type(resources, "AWS::ECS::Service").items()):
        config = (resource.get("Properties") or {}).get("ServiceConnectConfiguration") or {}
        value = config.get("Namespace") if isinstance(config, dict) else None
        if not _absent(value):
            where = f"ECS service {logical_id}: ServiceConnectConfiguration.Namespace"
            named.setdefault(_namespace_arn(value, where), logical_id)
    if not named:
        raise AssemblyError(
            f"stack {stack_name!r} creates no private DNS namespace and names no namespace by ARN; "
            "the local run needs exactly one"
        )
    if len(named) > 1:
        listed = ", ".join(f"{arn} ({logical_id})" for arn, logical_id in named.items())
        raise AssemblyError(
            f"stack {stack_name!r} names {len(named)} namespaces by ARN ({listed}); the local run needs exactly one"
        )
    return next(iter(named))


def _namespace_arn(value: Any, where: str) -> str:
    value = _literal(value, where)
    if not isinstance(value, str) or arn_parts(value, "namespace") is None:
        shown = repr(value[:80]) if isinstance(value, str) else json.dumps(value)[:80]
        raise AssemblyError(f"{where} is {shown}, not a namespace ARN: expected {_ARN_FORM}")
    return value


def read_stack(assembly_dir: Path, stack_name: str) -> StackSpec:
    """The namespace and the discoverable ECS services of ``stack_name``, with their task definitions.

    The stack creates one private DNS namespace, or creates none and names one another stack creates
    by its ARN, a literal (a namespace shared with its account through AWS RAM)."""
    template, images, artifact = _stack_files(assembly_dir, stack_name)
    resources = template.get("Resources", {})

    namespaces = _by_type(resources, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    if len(namespaces) > 1:
        raise AssemblyError(
            f"stack {stack_name!r} has {len(namespaces)} private DNS namespaces; the local run needs exactly one"
        )
    namespace_id: str | None = None
    namespace_name: str | None = None
    namespace_arn: str | None = None
    if namespaces:
        ((namespace_id, namespace),) = namespaces.items()
        namespace_name = namespace["Properties"]["Name"]
    else:
        namespace_arn = _shared_namespace_arn(stack_name, resources)
    cloud_map = _by_type(resources, "AWS::ServiceDiscovery::Service")
    task_definitions = _by_type(resources, "AWS::ECS::TaskDefinition")

    services = []
    for ecs_id, ecs_service in sorted(_by_type(resources, "AWS::ECS::Service").items()):
        properties = ecs_service.get("Properties", {})
        registries = properties.get("ServiceRegistries") or []
        task_definition_id = properties.get("TaskDefinition", {}).get("Ref")
        if task_definition_id not in task_definitions:
            if registries or properties.get("ServiceConnectConfiguration"):
                raise AssemblyError(f"ECS service {ecs_id} uses a task definition outside the stack")
            continue
        task_definition = task_definitions[task_definition_id]["Properties"]
        containers = task_definition["ContainerDefinitions"]
        service_connect = _service_connect(properties, containers, ecs_id)
        if not registries and not service_connect:
            continue  # not discoverable: nothing to run for service discovery

        cloud_map_id: str | None = None
        dns_config: dict[str, Any] | None = None
        custom_health: Mapping[str, Any] | None = None
        registry: Mapping[str, Any] = {}
        if registries:
            registry = registries[0]
            cloud_map_id = _get_att_target(registry.get("RegistryArn"), "Arn")
            if cloud_map_id not in cloud_map:
                raise AssemblyError(f"ECS service {ecs_id} is registered in a Cloud Map service outside the stack")
            cloud_map_properties = cloud_map[cloud_map_id]["Properties"]
            dns_config = dict(cloud_map_properties.get("DnsConfig", {}))
            # Deprecated in the API; the service's own NamespaceId says where it lives.
            dns_config.pop("NamespaceId", None)
            custom_health = cloud_map_properties.get("HealthCheckCustomConfig")
            name = cloud_map_properties["Name"]
            container_name = registry.get("ContainerName") or containers[0]["Name"]
        else:
            name = service_connect[0].discovery_name
            (container_name,) = {
                container["Name"]
                for container in containers
                for mapping in container.get("PortMappings") or []
                if mapping.get("Name") == service_connect[0].port_name
            }
        (container,) = [item for item in containers if item["Name"] == container_name]
        port = registry.get("ContainerPort") or (container.get("PortMappings") or [{}])[0].get("ContainerPort")
        if not port:
            raise AssemblyError(f"container {container_name} of {ecs_id} exposes no port")
        deployment = properties.get("DeploymentConfiguration") or {}
        strategy = read_deployment(properties, ecs_id)
        if strategy.shifts_traffic and not service_connect:
            raise AssemblyError(
                f"ECS service {ecs_id}: strategy {strategy.strategy} shifts traffic through Service Connect, and the "
                "service publishes no Service Connect endpoint; the local run shifts Service Connect traffic only"
            )
        where = f"container {container_name} of {ecs_id}"
        services.append(
            ServiceSpec(
                name=name,
                ecs_logical_id=ecs_id,
                cloud_map_logical_id=cloud_map_id,
                task_definition_logical_id=task_definition_id,
                family=str(task_definition.get("Family") or task_definition_id),
                dns_config=dns_config,
                health_check_custom_config=custom_health,
                container_name=container_name,
                container_port=int(port),
                environment={item["Name"]: item["Value"] for item in container.get("Environment", [])},
                desired_count=int(properties.get("DesiredCount", 1)),
                app_dir=_image_dir(container.get("Image"), images, assembly_dir, name),
                health_check=_health_check(container, where),
                stop_timeout=_number(container.get("StopTimeout"), _FARGATE_STOP_TIMEOUT_S, f"{where}: StopTimeout"),
                minimum_healthy_percent=int(
                    _number(deployment.get("MinimumHealthyPercent"), _DEFAULT_MINIMUM_HEALTHY_PERCENT, ecs_id)
                ),
                maximum_percent=int(_number(deployment.get("MaximumPercent"), _DEFAULT_MAXIMUM_PERCENT, ecs_id)),
                health_check_grace_period=_number(properties.get("HealthCheckGracePeriodSeconds"), 0, ecs_id),
                service_connect=service_connect,
                deployment=strategy,
                service_connect_client=bool((properties.get("ServiceConnectConfiguration") or {}).get("Enabled")),
            )
        )
    if not services:
        raise AssemblyError(f"stack {stack_name!r} has no ECS service registered in Cloud Map or Service Connect")
    account, region = _environment(artifact)
    return StackSpec(
        stack_name=stack_name,
        namespace_name=namespace_name,
        namespace_logical_id=namespace_id,
        services=tuple(services),
        namespace_arn=namespace_arn,
        account=account,
        region=region,
    )


# -- the template's values, resolved for the local run ---------------------------------


def resolve_value(value: Any, refs: Mapping[str, Mapping[str, str]], pseudo: Mapping[str, str], where: str) -> str:
    """A CloudFormation value (string or intrinsic function) as the local run's string."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            if argument in pseudo:
                return pseudo[argument]
            if argument in refs:
                return refs[argument]["Ref"]
        if function == "Fn::GetAtt" and isinstance(argument, list) and len(argument) == 2:
            target, attribute = argument
            if target in refs and attribute in refs[target]:
                return refs[target][attribute]
        if function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            separator, parts = argument
            return separator.join(resolve_value(part, refs, pseudo, where) for part in parts)
        if function == "Fn::Sub" and isinstance(argument, str):

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                target, _, attribute = name.partition(".")
                if attribute:
                    return resolve_value({"Fn::GetAtt": [target, attribute]}, refs, pseudo, where)
                return resolve_value({"Ref": name}, refs, pseudo, where)

            return re.sub(r"\$\{([^}!]+)\}", substitute, argument)
    raise AssemblyError(f"{where} is {json.dumps(value)}, which the local run cannot resolve")
