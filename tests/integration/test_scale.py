"""200 services: split over nested stacks automatically, every template within CloudFormation's limits.

The topology is synthesized once per test run (about a minute), by whichever xdist worker asks
first; each test reads the written templates. Calls cross templates in both directions and 20
services (one in ten, in every template) read the whole namespace, so references between templates
(parameters and outputs) and the discovery read grant are exercised at scale too: the grant's size
must not grow with readers x services.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from ecs_service_discovery import ServiceSpec, ServiceTopology
from ecs_service_discovery.constructs import DEFAULT_SERVICES_PER_STACK
from stacks import DiscoveryPlatformStack
from tests.conftest import once_per_run

SERVICES = 200
READERS = 20
IMAGE = "public.ecr.aws/docker/library/nginx:1.27"
# CloudFormation quotas per template.
MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES = 1_000_000
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200


def scale_specs(count: int) -> list[ServiceSpec]:
    """``svc000`` calls the next two; every other service calls the next one and one far back, so
    calls go forwards and backwards across templates. Every tenth service reads the namespace."""
    specs = [
        ServiceSpec(name="svc000", image=IMAGE, calls=("svc001", "svc002"), discovery_read=True),
    ]
    for index in range(1, count):
        calls = {f"svc{(index + 1) % count:03d}", f"svc{(index * 37) % count:03d}"} - {f"svc{index:03d}"}
        specs.append(
            ServiceSpec(name=f"svc{index:03d}", image=IMAGE, calls=tuple(sorted(calls)), discovery_read=index % 10 == 0)
        )
    return specs


class Assembly:
    """One synthesized topology: the root template and its nested templates, as written to disk."""

    def __init__(self, out_dir: Path, summary: dict[str, Any]) -> None:
        self.paths = [out_dir / name for name in summary["template_files"]]
        #: The nested stacks' logical IDs in the root template, in group order.
        self.nested_logical_ids: list[str] = summary["nested_logical_ids"]
        self.templates: list[dict[str, Any]] = [json.loads(path.read_text()) for path in self.paths]

    @staticmethod
    def synthesize(specs: list[ServiceSpec], out_dir: Path) -> dict[str, Any]:
        """``specs`` as one topology, synthesized into ``out_dir``: what :class:`Assembly` reads back."""
        app = cdk.App(outdir=str(out_dir))
        stack = DiscoveryPlatformStack(app, "Scale", namespace_name="scale")
        topology = ServiceTopology(
            stack,
            "Topology",
            cluster=stack.cluster,
            namespace=stack.namespace,
            spec=specs,
            log_encryption_key=stack.log_encryption_key,
        )
        app.synth()
        return {
            "template_files": [stack.template_file] + [nested.template_file for nested in topology.nested_stacks],
            "nested_logical_ids": [
                stack.get_logical_id(nested.nested_stack_resource)  # type: ignore[arg-type]
                for nested in topology.nested_stacks
            ],
        }

    @classmethod
    def once_per_run(cls, specs: list[ServiceSpec], tmp_path_factory: pytest.TempPathFactory) -> Assembly:
        """Synthesized by whichever xdist worker asks first (a 200-service synth is worth sharing)."""
        folder, summary = once_per_run(
            tmp_path_factory, "scale", {"specs": list(map(repr, specs))}, lambda out_dir: cls.synthesize(specs, out_dir)
        )
        return cls(folder, summary)

    def services_by_template(self) -> list[list[str]]:
        return [
            sorted(
                resource["Properties"]["Name"]
                for resource in template["Resources"].values()
                if resource["Type"] == "AWS::ServiceDiscovery::Service"
            )
            for template in self.templates
        ]


@pytest.fixture(scope="module")
def specs() -> list[ServiceSpec]:
    return scale_specs(SERVICES)


@pytest.fixture(scope="module")
def assembly(specs: list[ServiceSpec], tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    return Assembly.once_per_run(specs, tmp_path_factory)


@pytest.fixture(scope="module")
def assembly_plus_one(specs: list[ServiceSpec], tmp_path_factory: pytest.TempPathFactory) -> Assembly:
    extra = ServiceSpec(name="svc200", image=IMAGE, calls=("svc000", "svc199"))
    return Assembly.once_per_run([*specs, extra], tmp_path_factory)


def test_the_topology_has_the_readers_it_is_meant_to_have(specs: list[ServiceSpec]) -> None:
    assert sum(spec.discovery_read for spec in specs) == READERS


def test_each_reader_has_one_namespace_wide_grant_of_constant_size(assembly: Assembly) -> None:
    # GIVEN every IAM statement that allows ListInstances, in every template
    found = [
        statement
        for template in assembly.templates
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if "servicediscovery:ListInstances" in statement["Action"]
    ]
    # THEN one per reader, naming the services by one pattern and the namespace by its tag
    assert len(found) == READERS
    for statement in found:
        assert not isinstance(statement["Resource"], list)
        assert statement["Resource"]["Fn::Join"][1][-1] == ":service/*"
        assert list(statement["Condition"]["StringEquals"]) == ["aws:ResourceTag/ecs-service-discovery:namespace-id"]


def test_every_service_is_synthesized_exactly_once(assembly: Assembly) -> None:
    names = [name for template in assembly.services_by_template() for name in template]
    assert sorted(names) == sorted(f"svc{i:03d}" for i in range(SERVICES))


def test_services_are_split_over_nested_stacks_without_user_action(assembly: Assembly) -> None:
    expected_templates = -(-SERVICES // DEFAULT_SERVICES_PER_STACK)
    assert len(assembly.templates) == expected_templates
    assert [len(names) for names in assembly.services_by_template()] == [
        DEFAULT_SERVICES_PER_STACK
    ] * expected_templates


def test_every_template_is_within_cloudformations_limits(assembly: Assembly) -> None:
    for path, template in zip(assembly.paths, assembly.templates, strict=True):
        assert len(template["Resources"]) < MAX_RESOURCES, path.name
        assert path.stat().st_size < MAX_TEMPLATE_BYTES, path.name
        assert len(template.get("Parameters", {})) <= MAX_PARAMETERS, path.name
        assert len(template.get("Outputs", {})) <= MAX_OUTPUTS, path.name


def test_vpc_cluster_and_namespace_exist_once_and_are_shared(assembly: Assembly) -> None:
    def count(resource_type: str) -> int:
        return sum(r["Type"] == resource_type for t in assembly.templates for r in t["Resources"].values())

    assert count("AWS::EC2::VPC") == 1
    assert count("AWS::ECS::Cluster") == 1
    assert count("AWS::ServiceDiscovery::PrivateDnsNamespace") == 1
    assert count("AWS::KMS::Key") == 1


def test_no_template_exports_or_imports_a_value(assembly: Assembly) -> None:
    # An export in use blocks every later change that would remove it; parameters never do.
    assert "Fn::ImportValue" not in json.dumps(assembly.templates)
    assert all("Export" not in output for t in assembly.templates for output in t.get("Outputs", {}).values())


def test_nested_stacks_refer_only_to_earlier_ones(assembly: Assembly) -> None:
    # GIVEN the nested stacks' logical IDs in the root template, in group order
    order = assembly.nested_logical_ids
    resources = assembly.templates[0]["Resources"]
    # (calls do cross templates: some group receives an earlier group's output)
    assert any(f'"{order[0]}"' in json.dumps(resources[later].get("Properties", {})) for later in order[1:])
    for position, logical_id in enumerate(order):
        # THEN every value passed in and every dependency comes from the root or an earlier group
        text = json.dumps(resources[logical_id]["Properties"].get("Parameters", {}))
        later = order[position:]
        assert not any(f'"{other}"' in text for other in later), logical_id
        assert not set(resources[logical_id].get("DependsOn", [])) & set(later), logical_id


def test_appending_a_service_leaves_every_existing_resource_where_it_was(
    assembly: Assembly, assembly_plus_one: Assembly
) -> None:
    assert len(assembly_plus_one.templates) == len(assembly.templates) + 1
    for before, after in zip(assembly.templates, assembly_plus_one.templates, strict=False):
        assert set(before["Resources"]) <= set(after["Resources"])
    assert assembly_plus_one.services_by_template()[:-1] == assembly.services_by_template()
