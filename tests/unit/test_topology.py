"""ServiceTopology and its specification: loading, every validation branch, wiring and template assignment."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk.assertions import Template

from ecs_service_discovery import (
    DiscoverableFargateService,
    DiscoveryNamespace,
    ScalingSpec,
    ServiceSpec,
    ServiceTopology,
    TopologySpec,
    ValidationError,
    load_topology,
)
from ecs_service_discovery.constructs import parse_topology
from tests.helpers import as_list

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "public.ecr.aws/docker/library/python:3.12-slim"

VALID_TOPOLOGY: dict[str, Any] = {
    "defaults": {"source": "apps/worker", "environment": {"LOG_LEVEL": "info"}},
    "services": [
        {"name": "backend", "source": "apps/backend", "calls": ["auth", "feed"], "discovery_read": True},
        {"name": "auth", "environment": {"MESSAGE": "signs users in"}, "scaling": None, "desired_count": 1},
        {
            "name": "feed",
            "image": IMAGE,
            "container_port": 9000,
            "cpu": 512,
            "memory_limit_mib": 2048,
            "scaling": {"max_capacity": 4, "memory_target_percent": 80},
        },
    ],
}


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    for folder in ("apps/worker", "apps/backend"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "Dockerfile").write_text("FROM scratch\n")
    return tmp_path


def _write(directory: Path, data: Any, name: str = "topology.yaml") -> Path:
    path = directory / name
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data, sort_keys=False))
    return path


def _with_service(**fields: Any) -> dict[str, Any]:
    """VALID_TOPOLOGY with the 'auth' entry changed (a None value removes the field)."""
    data = json.loads(json.dumps(VALID_TOPOLOGY))
    auth = data["services"][1]
    for key, value in fields.items():
        if value is None:
            auth.pop(key, None)
        else:
            auth[key] = value
    return data


# --- Loading -------------------------------------------------------------------------------


def test_yaml_file_loads_in_order_with_defaults_merged(spec_dir: Path) -> None:
    # GIVEN a YAML topology with defaults / WHEN loaded
    spec = load_topology(_write(spec_dir, VALID_TOPOLOGY))
    # THEN services keep their order, defaults fill the gaps and environments merge
    assert spec.names == ["backend", "auth", "feed"]
    backend, auth, feed = spec.services
    assert backend.source == (spec_dir / "apps/backend").resolve()
    assert backend.calls == ("auth", "feed")
    assert backend.discovery_read is True
    assert auth.source == (spec_dir / "apps/worker").resolve()
    assert auth.environment == {"LOG_LEVEL": "info", "MESSAGE": "signs users in"}
    assert auth.scaling is None
    assert auth.desired_count == 1
    assert feed.environment == {"LOG_LEVEL": "info"}
    assert feed.scaling is not None and feed.scaling.memory_target_percent == 80


def test_a_service_image_replaces_the_default_source(spec_dir: Path) -> None:
    feed = load_topology(_write(spec_dir, VALID_TOPOLOGY))["feed"]
    assert (feed.image, feed.source) == (IMAGE, None)
    assert (feed.container_port, feed.cpu, feed.memory_limit_mib) == (9000, 512, 2048)
    assert feed.scaling == ScalingSpec(max_capacity=4, memory_target_percent=80)


def test_unset_fields_take_the_documented_defaults(spec_dir: Path) -> None:
    data = {"services": [{"name": "solo", "image": IMAGE}]}
    solo = load_topology(_write(spec_dir, data)).services[0]
    assert solo == ServiceSpec(name="solo", image=IMAGE)
    assert (solo.container_port, solo.cpu, solo.memory_limit_mib, solo.desired_count) == (8080, 256, 512, 2)
    assert solo.scaling == ScalingSpec()
    assert (solo.calls, solo.environment, solo.discovery_read, solo.health_check_path) == ((), {}, False, "/health")


def test_json_file_gives_the_same_services_as_yaml(spec_dir: Path) -> None:
    from_yaml = load_topology(_write(spec_dir, VALID_TOPOLOGY, "t.yaml"))
    from_json = load_topology(_write(spec_dir, VALID_TOPOLOGY, "t.json"))
    assert from_json.services == from_yaml.services
    assert from_json.origin.endswith("t.json")


def test_parse_topology_resolves_sources_against_base_dir(spec_dir: Path) -> None:
    spec = parse_topology(VALID_TOPOLOGY, origin="inline", base_dir=spec_dir)
    assert spec["auth"].source == (spec_dir / "apps/worker").resolve()


# --- Validation: every branch names the file, the service and the field -----------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({**VALID_TOPOLOGY, "servics": []}, r"topology\.yaml: unknown field 'servics' \(did you mean 'services'\?\)"),
        ({"services": []}, r"topology\.yaml: services=\[\] is not valid: expected a non-empty list"),
        ({"defaults": {"name": "x"}, "services": [{"name": "a", "image": IMAGE}]}, r"defaults: unknown field 'name'"),
        ({"defaults": [1], "services": [{"name": "a", "image": IMAGE}]}, r"defaults=\[1\] is not valid"),
        ({"services": ["auth"]}, r"services\[0\]='auth' is not valid: expected a mapping"),
        ({"services": [{"image": IMAGE}]}, r"services\[0\]: the field 'name' is missing"),
        (["auth"], r"topology\.yaml=\['auth'\] is not valid: expected a mapping with a 'services' list"),
        (_with_service(cpus=256), r"services\[1\]: unknown field 'cpus' \(service 'auth'\) \(did you mean 'cpu'\?\)"),
        (_with_service(name="Auth"), r"services\[1\]: name='Auth' is not valid: expected a DNS label"),
        (_with_service(name="backend"), r"services\[1\]: name='backend' is not valid: services\[0\] already has"),
        (_with_service(calls=["fed"]), r"service 'auth': calls\[0\]='fed' is not valid: no service .*'feed'\?"),
        (_with_service(calls=["auth"]), r"service 'auth': calls\[0\]='auth' is not valid: a service cannot call"),
        (_with_service(calls=["feed", "feed"]), r"service 'auth': calls\[1\]='feed' is not valid: expected each"),
        (_with_service(calls="feed"), r"service 'auth': calls='feed' is not valid: expected a list"),
        (_with_service(image=IMAGE, source="apps/worker"), r"service 'auth': image=.* and source=.* not valid"),
        (_with_service(source="apps/none"), r"service 'auth': source='apps/none' is not valid: .*Dockerfile"),
        (_with_service(source=5), r"service 'auth': source=5 is not valid"),
        (_with_service(image=""), r"service 'auth': image='' is not valid"),
        (_with_service(container_port=70000), r"service 'auth': container_port=70000 is not valid: .*1 to 65535"),
        (
            _with_service(container_port="8080"),
            r"service 'auth': container_port='8080' is not valid: expected a whole number",
        ),
        (_with_service(cpu=300), r"service 'auth': cpu=300 is not valid: expected one of the Fargate CPU sizes"),
        (
            _with_service(cpu=256, memory_limit_mib=4096),
            r"service 'auth': memory_limit_mib=4096 is not valid: with cpu=256",
        ),
        (
            _with_service(port=80, container_port=80),
            r"services\[1\]: both 'port' and 'container_port' are given; expected only 'container_port'",
        ),
        (_with_service(desired_count=1001), r"service 'auth': desired_count=1001 is not valid"),
        (_with_service(scaling={"max_capacity": 0}), r"service 'auth': scaling\.max_capacity=0 is not valid"),
        (_with_service(scaling={"maxcap": 3}), r"service 'auth': scaling: unknown field 'maxcap'"),
        (_with_service(scaling={"max_capacity": "3"}), r"service 'auth': scaling\.max_capacity='3' is not valid"),
        (_with_service(scaling=[1]), r"service 'auth': scaling=\[1\] is not valid"),
        (
            _with_service(scaling={"min_capacity": 5, "max_capacity": 3}),
            r"service 'auth': scaling\.min_capacity=5 is not valid: expected at most scaling\.max_capacity=3$",
        ),
        (
            _with_service(desired_count=5, scaling={"max_capacity": 3}),
            r"service 'auth': scaling\.min_capacity=5 is not valid: expected at most scaling\.max_capacity=3 "
            r"\(min_capacity defaults to desired_count\)",
        ),
        (_with_service(environment={"MESSAGE": 5}), r"service 'auth': environment\['MESSAGE'\]=5 is not valid"),
        (_with_service(environment={"1X": "a"}), r"service 'auth': environment key='1X' is not valid"),
        (_with_service(environment=["A"]), r"service 'auth': environment=\['A'\] is not valid"),
        (
            _with_service(environment={"SERVICE_NAME": "x"}),
            r"service 'auth': environment key='SERVICE_NAME' is not valid: the variable is set by the library",
        ),
        (
            _with_service(calls=["feed"], environment={"FEED_PORT": "1"}),
            r"service 'auth': calls\[0\]='feed' is not valid: it would set the variable FEED_PORT, which is in the "
            r"service's environment",
        ),
        (
            _with_service(discovery_read=True, environment={"NAMESPACE_ID": "x"}),
            r"environment key='NAMESPACE_ID' is not valid: the variable is set by the library for a discovery read",
        ),
        (_with_service(discovery_read="yes"), r"service 'auth': discovery_read='yes' is not valid"),
        (_with_service(health_check_path="health"), r"service 'auth': health_check_path='health' is not valid"),
    ],
)
def test_a_mistake_in_the_file_names_file_service_and_field(spec_dir: Path, data: Any, match: str) -> None:
    path = _write(spec_dir, data)
    with pytest.raises(ValidationError, match=match):
        load_topology(path)


def test_a_file_that_is_not_yaml_is_named(spec_dir: Path) -> None:
    path = spec_dir / "broken.yaml"
    path.write_text("services: [\n")
    with pytest.raises(ValidationError, match=r"broken\.yaml: .*not valid YAML"):
        load_topology(path)


def test_a_file_that_is_not_json_is_named(spec_dir: Path) -> None:
    path = spec_dir / "broken.json"
    path.write_text("{services: }")
    with pytest.raises(ValidationError, match=r"broken\.json: .*not valid JSON"):
        load_topology(path)


@pytest.mark.parametrize(
    ("name", "match"), [("t.toml", r"expected a \.yaml, \.yml or \.json file"), ("gone.yaml", "cannot be read")]
)
def test_a_wrong_or_missing_file_is_named(spec_dir: Path, name: str, match: str) -> None:
    if name.endswith(".toml"):
        (spec_dir / name).write_text("")
    with pytest.raises(ValidationError, match=match):
        load_topology(spec_dir / name)


def test_service_specs_built_in_python_are_checked_too() -> None:
    with pytest.raises(ValidationError, match=r"service 'api': container_port=0 is not valid"):
        ServiceSpec(name="api", image=IMAGE, container_port=0)
    with pytest.raises(ValidationError, match=r"topology: services\[0\]: service 'api': calls\[0\]='db' is not valid"):
        TopologySpec(services=(ServiceSpec(name="api", image=IMAGE, calls=("db",)),))


# --- The construct's own parameters ----------------------------------------------------------


@pytest.fixture
def platform() -> tuple[cdk.Stack, ecs.Cluster, DiscoveryNamespace]:
    stack = cdk.Stack(cdk.App(), "Platform")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    return stack, ecs.Cluster(stack, "Cluster", vpc=vpc), DiscoveryNamespace(stack, "Namespace", vpc=vpc)


def _two_services(**first: Any) -> list[ServiceSpec]:
    return [ServiceSpec(name="api", image=IMAGE, calls=("db",), **first), ServiceSpec(name="db", image=IMAGE)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"services_per_stack": 0}, r"services_per_stack=0 is not valid: expected a whole number from 1 to 100"),
        ({"services_per_stack": 101}, r"services_per_stack=101 is not valid"),
        ({"spec": "topologies/social-network.yaml"}, r"spec='topologies/social-network\.yaml' is not valid"),
        ({"spec": [ServiceSpec(name="a", image=IMAGE), ServiceSpec(name="a", image=IMAGE)]}, r"already has that name"),
        ({"cluster": "cluster"}, r"cluster='cluster' is not valid"),
        ({"namespace": "corp"}, r"namespace='corp' is not valid"),
        ({"log_encryption_key": "key"}, r"log_encryption_key='key' is not valid"),
    ],
)
def test_construct_parameters_are_checked_before_anything_is_created(
    platform: tuple[cdk.Stack, ecs.Cluster, DiscoveryNamespace], kwargs: dict[str, Any], match: str
) -> None:
    stack, cluster, namespace = platform
    arguments: dict[str, Any] = {"cluster": cluster, "namespace": namespace, "spec": _two_services(), **kwargs}
    with pytest.raises(ValidationError, match=match):
        ServiceTopology(stack, "Topology", **arguments)
    assert stack.node.try_find_child("Topology") is None


def test_a_name_already_taken_in_the_namespace_leaves_nothing_behind(
    platform: tuple[cdk.Stack, ecs.Cluster, DiscoveryNamespace],
) -> None:
    stack, cluster, namespace = platform
    DiscoverableFargateService(
        stack,
        "Existing",
        cluster=cluster,
        namespace=namespace,
        name="db",
        image=ecs.ContainerImage.from_registry(IMAGE),
    )
    with pytest.raises(ValidationError, match=r"name='db' is not valid: namespace 'corp' already has a service"):
        ServiceTopology(stack, "Topology", cluster=cluster, namespace=namespace, spec=_two_services())
    assert stack.node.try_find_child("Topology") is None


# --- Wiring and template assignment (two small topologies, each synthesized once) -------------

# Three templates with services_per_stack=2: gateway, api | db, cache | search, admin.
GROUPED = [
    ServiceSpec(name="gateway", image=IMAGE, calls=("api", "search"), discovery_read=True),
    ServiceSpec(name="api", image=IMAGE, calls=("db", "cache")),
    ServiceSpec(name="db", image=IMAGE, container_port=5432),
    ServiceSpec(name="cache", image=IMAGE, container_port=6379, calls=("api",)),
    ServiceSpec(name="search", image=IMAGE, container_port=9200, calls=("db",)),
    ServiceSpec(name="admin", image=IMAGE, calls=("gateway",), discovery_read=True),
]
EXPECTED_TEMPLATE = {"gateway": 0, "api": 0, "db": 1, "cache": 1, "search": 2, "admin": 2}
EDGES = [(s.name, callee, s) for s in GROUPED for callee in s.calls]


class Synthesized:
    """The templates of one topology's stack (index 0) and its nested stacks (1, 2, ...)."""

    def __init__(self, services: list[ServiceSpec]) -> None:
        stack = cdk.Stack(cdk.App(), "Grouped")
        vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
        cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
        namespace = DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="shop")
        self.topology = ServiceTopology(
            stack, "Topology", cluster=cluster, namespace=namespace, spec=services, services_per_stack=2
        )
        directory = Path(stack.node.root.synth().directory)  # type: ignore[attr-defined]
        self.templates = [json.loads((directory / stack.template_file).read_text())]
        self.nested_ids: dict[str, int] = {}
        for number, nested in enumerate(self.topology.nested_stacks, start=1):
            self.templates.append(json.loads((directory / nested.template_file).read_text()))
            assert nested.nested_stack_resource is not None
            self.nested_ids[stack.get_logical_id(nested.nested_stack_resource)] = number

    def resources(self, index: int, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.templates[index]["Resources"].items():
            if resource["Type"] == resource_type:
                yield logical_id, resource

    def resolve(self, index: int, value: Any) -> tuple[int, str]:
        """(template, logical ID) of the resource a Ref/GetAtt points at, through parameters and outputs."""
        if "Ref" in value and value["Ref"] in self.templates[index].get("Parameters", {}):
            root_id = next(i for i, n in self.nested_ids.items() if n == index)
            passed = self.templates[0]["Resources"][root_id]["Properties"]["Parameters"][value["Ref"]]
            return self.resolve(0, passed)
        if "Fn::GetAtt" in value:
            target, attribute = value["Fn::GetAtt"]
            if target in self.nested_ids and index == 0:
                nested = self.nested_ids[target]
                output = self.templates[nested]["Outputs"][attribute.removeprefix("Outputs.")]
                return self.resolve(nested, output["Value"])
            return index, target
        return index, value["Ref"]

    def service_of_security_group(self) -> dict[tuple[int, str], str]:
        owners: dict[tuple[int, str], str] = {}
        for index in range(len(self.templates)):
            for _, service in self.resources(index, "AWS::ECS::Service"):
                props = service["Properties"]
                group = props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0]
                owners[self.resolve(index, group)] = props["ServiceRegistries"][0]["ContainerName"]
        return owners

    def template_of_service(self) -> dict[str, int]:
        return {
            service["Properties"]["ServiceRegistries"][0]["ContainerName"]: index
            for index in range(len(self.templates))
            for _, service in self.resources(index, "AWS::ECS::Service")
        }

    def rules(self) -> list[tuple[str, int, str, str, int]]:
        """(kind, template, from service, to service, port) of every rule between two services."""
        owners = self.service_of_security_group()
        found: list[tuple[str, int, str, str, int]] = []
        for index in range(len(self.templates)):
            for kind, resource_type, source_key, target_key in (
                ("ingress", "AWS::EC2::SecurityGroupIngress", "SourceSecurityGroupId", "GroupId"),
                ("egress", "AWS::EC2::SecurityGroupEgress", "GroupId", "DestinationSecurityGroupId"),
            ):
                for _, rule in self.resources(index, resource_type):
                    p = rule["Properties"]
                    source = owners[self.resolve(index, p[source_key])]
                    target = owners[self.resolve(index, p[target_key])]
                    found.append((kind, index, source, target, p["FromPort"]))
        return found


@pytest.fixture(scope="module")
def grouped() -> Synthesized:
    return Synthesized(GROUPED)


@pytest.fixture(scope="module")
def grouped_without_last() -> Synthesized:
    return Synthesized(GROUPED[:-1])


def test_services_are_exposed_by_name_in_specification_order(grouped: Synthesized) -> None:
    assert list(grouped.topology.services) == [s.name for s in GROUPED]
    assert all(isinstance(s, DiscoverableFargateService) for s in grouped.topology.services.values())
    assert grouped.topology.services["db"].container_port == 5432


def test_services_fill_the_stack_then_nested_stacks_by_position(grouped: Synthesized) -> None:
    assert [n.node.id for n in grouped.topology.nested_stacks] == ["Group1", "Group2"]
    assert grouped.template_of_service() == EXPECTED_TEMPLATE
    assert grouped.topology.stack_of("gateway") is cdk.Stack.of(grouped.topology)
    assert grouped.topology.stack_of("search") is grouped.topology.nested_stacks[1]


def test_every_call_opens_exactly_the_callee_port_to_the_caller(grouped: Synthesized) -> None:
    ports = {s.name: s.container_port for s in GROUPED}
    expected = sorted(
        (kind, max(EXPECTED_TEMPLATE[caller], EXPECTED_TEMPLATE[callee]), caller, callee, ports[callee])
        for caller, callee, _ in EDGES
        for kind in ("ingress", "egress")
    )
    # THEN one ingress and one egress rule per edge, both in the later of the two services' templates
    assert sorted(grouped.rules()) == expected


def test_every_call_gives_the_caller_the_callee_name_and_port(grouped: Synthesized) -> None:
    ports = {s.name: s.container_port for s in GROUPED}
    environments = {
        definition["Properties"]["ContainerDefinitions"][0]["Name"]: {
            v["Name"]: v["Value"] for v in definition["Properties"]["ContainerDefinitions"][0]["Environment"]
        }
        for index in range(len(grouped.templates))
        for _, definition in grouped.resources(index, "AWS::ECS::TaskDefinition")
    }
    for caller, callee, _ in EDGES:
        prefix = callee.upper()
        assert environments[caller][f"{prefix}_HOST"] == f"{callee}.shop"
        assert environments[caller][f"{prefix}_SERVICE"] == callee
        assert environments[caller][f"{prefix}_PORT"] == str(ports[callee])
    assert "DB_HOST" not in environments["gateway"]


def test_templates_only_refer_to_earlier_templates(grouped: Synthesized) -> None:
    # Calls go both ways between templates (api -> cache, cache -> api); no reference may point
    # forward, or the nested stacks would depend on each other in a cycle.
    assert sorted(grouped.nested_ids.values()) == [1, 2]
    passed = 0
    for root_id, number in grouped.nested_ids.items():
        parameters = grouped.templates[0]["Resources"][root_id]["Properties"].get("Parameters", {})
        for value in parameters.values():
            source, _ = grouped.resolve(0, value)
            assert source < number, (number, value)
            passed += 1
        assert grouped.templates[0]["Resources"][root_id].get("DependsOn", []) == []
    assert passed  # values do cross templates, so the check above saw some


def test_nested_stacks_pass_values_as_parameters_and_outputs_never_exports(grouped: Synthesized) -> None:
    assert "Fn::ImportValue" not in json.dumps(grouped.templates)
    outputs = [output for t in grouped.templates for output in t.get("Outputs", {}).values()]
    assert outputs and all("Export" not in output for output in outputs)


NAMESPACE_TAG = "ecs-service-discovery:namespace-id"


def _instance_read_statements(synthesized: Synthesized) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    """Reader service -> (template, statement) of every statement that allows ListInstances."""
    roles: dict[tuple[int, str], str] = {}
    for index in range(len(synthesized.templates)):
        for _, definition in synthesized.resources(index, "AWS::ECS::TaskDefinition"):
            name = definition["Properties"]["ContainerDefinitions"][0]["Name"]
            roles[synthesized.resolve(index, definition["Properties"]["TaskRoleArn"])] = name
    found: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for index in range(len(synthesized.templates)):
        for _, policy in synthesized.resources(index, "AWS::IAM::Policy"):
            for role in policy["Properties"]["Roles"]:
                reader = roles.get(synthesized.resolve(index, role))
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    if reader and "servicediscovery:ListInstances" in as_list(statement["Action"]):
                        found.setdefault(reader, []).append((index, statement))
    return found


def _namespace(synthesized: Synthesized) -> tuple[int, str]:
    [(logical_id, _)] = synthesized.resources(0, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    return 0, logical_id


def test_discovery_read_is_one_namespace_scoped_statement_per_reader(grouped: Synthesized) -> None:
    # GIVEN gateway (template 0) and admin (template 2) with discovery_read
    grants = _instance_read_statements(grouped)
    assert sorted(grants) == ["admin", "gateway"]
    for reader, found in grants.items():
        # THEN one statement, in the reader's own template, naming no service: every service of the
        # namespace is covered through the namespace ID tag, whatever template it is in
        [(index, statement)] = found
        assert index == EXPECTED_TEMPLATE[reader]
        assert statement["Resource"]["Fn::Join"][1][-1] == ":service/*", reader
        [(key, value)] = statement["Condition"]["StringEquals"].items()
        assert key == f"aws:ResourceTag/{NAMESPACE_TAG}"
        assert grouped.resolve(index, value) == (0, _namespace(grouped)[1])


def test_every_cloud_map_service_carries_its_namespace_tag(grouped: Synthesized) -> None:
    tagged = {}
    for index in range(len(grouped.templates)):
        for _, service in grouped.resources(index, "AWS::ServiceDiscovery::Service"):
            [tag] = service["Properties"]["Tags"]
            assert tag["Key"] == NAMESPACE_TAG
            tagged[service["Properties"]["Name"]] = grouped.resolve(index, tag["Value"])
    assert tagged == {s.name: _namespace(grouped) for s in GROUPED}


def test_adding_a_service_at_the_end_moves_no_existing_resource(
    grouped: Synthesized, grouped_without_last: Synthesized
) -> None:
    # GIVEN the topology before and after appending "admin"
    # THEN every resource of the shorter one keeps its template and its logical ID
    assert len(grouped_without_last.templates) == len(grouped.templates) == 3
    for index, template in enumerate(grouped_without_last.templates):
        before = set(template["Resources"])
        after = set(grouped.templates[index]["Resources"])
        assert before <= after, (index, sorted(before - after))
    assert grouped_without_last.template_of_service().items() <= grouped.template_of_service().items()


# --- Issue 10 in topology files: each class of bad input, several values each ------------------------


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"name": "auth\n"}, r"services\[1\]: name='auth\\n' is not valid"),
        ({"calls": ["feed\n"]}, r"calls\[0\]='feed\\n' is not valid"),
        ({"environment": {"MESSAGE\n": "x"}}, r"environment key='MESSAGE\\n' is not valid"),
        ({"container_name": "auth\n"}, r"container_name='auth\\n' is not valid"),
        ({"health_check_path": "/health\n"}, r"health_check_path='/health\\n' is not valid"),
        ({"user": "10001\n"}, r"user='10001\\n' is not valid"),
        ({"dns_records": "A\n"}, r"dns_records='A\\n' is not valid"),
    ],
)
def test_a_value_with_a_trailing_newline_in_a_file_is_refused(
    spec_dir: Path, fields: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        load_topology(_write(spec_dir, _with_service(**fields)))


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"environment": {"NAMESPACE": "x"}}, r"environment key='NAMESPACE' is not valid: the variable is set by"),
        ({"environment": {"AWS_REGION": "x"}}, r"environment key='AWS_REGION' is not valid"),
        ({"environment": {"ECS_CONTAINER_METADATA_URI": "x"}}, r"environment key='ECS_CONTAINER_METADATA_URI'"),
        ({"calls": ["feed"], "environment": {"FEED_HOST": "x"}}, r"calls\[0\]='feed' is not valid: .*FEED_HOST"),
        ({"calls": ["feed"], "environment": {"FEED_SERVICE": "x"}}, r"calls\[0\]='feed' is not valid: .*FEED_SERVICE"),
    ],
)
def test_reserved_variables_are_refused_in_files(spec_dir: Path, fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        load_topology(_write(spec_dir, _with_service(**fields)))


def test_a_service_named_bind_cannot_be_called(spec_dir: Path) -> None:
    data = {
        "services": [
            {"name": "api", "image": IMAGE, "calls": ["bind"]},
            {"name": "bind", "image": IMAGE},
        ]
    }
    with pytest.raises(
        ValidationError, match=r"calls\[0\]='bind' is not valid: it would set the variable BIND_HOST, which is read by"
    ):
        load_topology(_write(spec_dir, data))


@pytest.mark.parametrize("user", ["0", "root", "0:0", "root:root", "00", 0])
def test_root_users_are_refused_in_files(spec_dir: Path, user: Any) -> None:
    with pytest.raises(ValidationError, match=r"service 'auth': user=.* is not valid: expected a non-root user"):
        load_topology(_write(spec_dir, _with_service(user=user)))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"name": "a" * 500_000}, id="long-name"),
        pytest.param({"environment": {"MESSAGE": ["x" * 100] * 5_000}}, id="big-list-value"),
        pytest.param({"calls": ["x" * 200_000]}, id="long-callee"),
        pytest.param({"scaling": {"max_capacity": "9" * 200_000}}, id="long-number-text"),
    ],
)
def test_errors_about_huge_values_in_files_stay_short(spec_dir: Path, fields: dict[str, Any]) -> None:
    path = spec_dir / "huge.json"
    path.write_text(json.dumps(_with_service(**fields)))
    with pytest.raises(ValidationError) as caught:
        load_topology(path)
    assert len(str(caught.value)) < 1000


def test_a_billion_laughs_file_is_refused_in_one_short_line(spec_dir: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    lines += ["services:", "  - name: auth", f"    image: {IMAGE}", "    environment: {MESSAGE: *a8}"]
    path = spec_dir / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError) as caught:
        load_topology(path)
    assert len(str(caught.value)) < 1000 and "\n" not in str(caught.value)


def test_a_file_with_a_duplicate_services_key_is_refused(spec_dir: Path) -> None:
    path = spec_dir / "twice.yaml"
    path.write_text(f"services:\n  - name: a\n    image: {IMAGE}\nservices: []\n")
    with pytest.raises(ValidationError, match=r"'services' appears twice"):
        load_topology(path)


def test_the_old_field_names_are_read_with_a_warning(spec_dir: Path) -> None:
    data = {"services": [{"name": "solo", "image": IMAGE, "port": 9000, "memory": 1024}]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        solo = load_topology(_write(spec_dir, data))["solo"]
    assert [(w.category, str(w.message).split(": ", 2)[-1]) for w in caught] == [
        (DeprecationWarning, "the field 'port' is deprecated: write 'container_port' (the construct's name)"),
        (DeprecationWarning, "the field 'memory' is deprecated: write 'memory_limit_mib' (the construct's name)"),
    ]
    assert (solo.container_port, solo.memory_limit_mib) == (9000, 1024)


def test_a_topology_in_an_aws_cdk_lib_namespace_wires_calls_and_reads() -> None:
    # GIVEN a plain aws-cdk-lib namespace, as a user may already have one
    stack = cdk.Stack(cdk.App(), "PlainNamespace")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    namespace = servicediscovery.PrivateDnsNamespace(stack, "Namespace", name="plain", vpc=vpc)
    # WHEN a topology with a call and a reader is built in it
    topology = ServiceTopology(
        stack, "Topology", cluster=cluster, namespace=namespace, spec=_two_services(discovery_read=True)
    )
    # THEN the services answer in it and the reader's grant names it by its tag
    assert topology.services["db"].dns_name == "db.plain"
    template = Template.from_stack(stack)
    [namespace_id] = template.find_resources("AWS::ServiceDiscovery::PrivateDnsNamespace")
    conditions = [
        statement["Condition"]
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "servicediscovery:ListInstances" in as_list(statement["Action"])
    ]
    assert conditions == [{"StringEquals": {f"aws:ResourceTag/{NAMESPACE_TAG}": {"Fn::GetAtt": [namespace_id, "Id"]}}}]
