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
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AssemblyError", "ServiceSpec", "StackSpec", "read_stack", "stack_names", "synthesize"]

# CDK's context key that makes asset manifests point at the source folders instead of copies.
_DISABLE_ASSET_STAGING = "aws:cdk:disable-asset-staging"
_SYNTH_TIMEOUT_S = 300
# The URL the library's default container health check probes (default_health_check_command).
_HEALTH_URL = re.compile(r"http://127\.0\.0\.1:\d+(/[^\s'\"|]*)")


class AssemblyError(Exception):
    """The app could not be synthesized, or its stack cannot run locally."""


@dataclass(frozen=True)
class ServiceSpec:
    """One ECS service registered in Cloud Map, as the template defines it."""

    name: str  # the Cloud Map service name: <name>.<namespace>
    ecs_logical_id: str
    cloud_map_logical_id: str
    task_definition_logical_id: str
    dns_config: Mapping[str, Any]  # the template's DnsConfig, NamespaceId left out
    health_check_custom_config: Mapping[str, Any] | None
    container_name: str
    container_port: int
    environment: Mapping[str, Any]  # CloudFormation values: strings or intrinsic functions
    desired_count: int
    app_dir: Path
    health_check_path: str

    @property
    def has_srv(self) -> bool:
        return any(record.get("Type") == "SRV" for record in self.dns_config.get("DnsRecords", []))

    @property
    def ttl(self) -> int:
        return min((int(record.get("TTL", 0)) for record in self.dns_config.get("DnsRecords", [])), default=60)


@dataclass(frozen=True)
class StackSpec:
    stack_name: str
    namespace_name: str
    namespace_logical_id: str
    services: tuple[ServiceSpec, ...]

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


def _stack_files(assembly_dir: Path, stack_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    manifest = _read_json(assembly_dir / "manifest.json")
    artifacts = manifest.get("artifacts", {})
    artifact = artifacts.get(stack_name)
    if artifact is None or artifact.get("type") != "aws:cloudformation:stack":
        raise AssemblyError(f"no stack {stack_name!r} in the app (stacks: {', '.join(stack_names(assembly_dir))})")
    template = _read_json(assembly_dir / artifact["properties"]["templateFile"])
    images: dict[str, Any] = {}
    for dependency in artifact.get("dependencies", []):
        dependency_artifact = artifacts.get(dependency, {})
        if dependency_artifact.get("type") == "cdk:asset-manifest":
            assets = _read_json(assembly_dir / dependency_artifact["properties"]["file"])
            images.update(assets.get("dockerImages", {}))
    return template, images


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
            return directory if directory.is_absolute() else assembly_dir / directory
    raise AssemblyError(
        f"service {service!r} runs image {json.dumps(image)}, which is not built from a folder "
        "(ContainerImage.from_asset); the local run can only start images it can build"
    )


def read_stack(assembly_dir: Path, stack_name: str) -> StackSpec:
    """The namespace and the Cloud Map-registered ECS services of ``stack_name``."""
    template, images = _stack_files(assembly_dir, stack_name)
    resources = template.get("Resources", {})

    namespaces = _by_type(resources, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    if len(namespaces) != 1:
        raise AssemblyError(
            f"stack {stack_name!r} has {len(namespaces)} private DNS namespaces; the local run needs exactly one"
        )
    ((namespace_id, namespace),) = namespaces.items()
    cloud_map = _by_type(resources, "AWS::ServiceDiscovery::Service")
    task_definitions = _by_type(resources, "AWS::ECS::TaskDefinition")

    services = []
    for ecs_id, ecs_service in sorted(_by_type(resources, "AWS::ECS::Service").items()):
        properties = ecs_service.get("Properties", {})
        registries = properties.get("ServiceRegistries") or []
        if not registries:
            continue  # not discoverable: nothing to run for service discovery
        registry = registries[0]
        cloud_map_id = _get_att_target(registry.get("RegistryArn"), "Arn")
        if cloud_map_id not in cloud_map:
            raise AssemblyError(f"ECS service {ecs_id} is registered in a Cloud Map service outside the stack")
        cloud_map_properties = cloud_map[cloud_map_id]["Properties"]
        dns_config = dict(cloud_map_properties.get("DnsConfig", {}))
        dns_config.pop("NamespaceId", None)

        task_definition_id = properties.get("TaskDefinition", {}).get("Ref")
        if task_definition_id not in task_definitions:
            raise AssemblyError(f"ECS service {ecs_id} uses a task definition outside the stack")
        containers = task_definitions[task_definition_id]["Properties"]["ContainerDefinitions"]
        container_name = registry.get("ContainerName") or containers[0]["Name"]
        (container,) = [item for item in containers if item["Name"] == container_name]
        port = registry.get("ContainerPort") or (container.get("PortMappings") or [{}])[0].get("ContainerPort")
        if not port:
            raise AssemblyError(f"container {container_name} of {ecs_id} exposes no port")
        name = cloud_map_properties["Name"]
        command = " ".join((container.get("HealthCheck") or {}).get("Command", []))
        health_path = _HEALTH_URL.search(command)
        services.append(
            ServiceSpec(
                name=name,
                ecs_logical_id=ecs_id,
                cloud_map_logical_id=cloud_map_id,
                task_definition_logical_id=task_definition_id,
                dns_config=dns_config,
                health_check_custom_config=cloud_map_properties.get("HealthCheckCustomConfig"),
                container_name=container_name,
                container_port=int(port),
                environment={item["Name"]: item["Value"] for item in container.get("Environment", [])},
                desired_count=int(properties.get("DesiredCount", 1)),
                app_dir=_image_dir(container.get("Image"), images, assembly_dir, name),
                health_check_path=health_path.group(1) if health_path else "/health",
            )
        )
    if not services:
        raise AssemblyError(f"stack {stack_name!r} has no ECS service registered in Cloud Map")
    return StackSpec(
        stack_name=stack_name,
        namespace_name=namespace["Properties"]["Name"],
        namespace_logical_id=namespace_id,
        services=tuple(services),
    )
