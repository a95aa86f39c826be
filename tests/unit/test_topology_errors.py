"""Every mistake in a topology file is one ValidationError that names the file, the service(s) and the field.

One test per kind of mistake the specification checks, several files each: duplicate names, calls,
Cloud Map and Service Connect names taken twice (with and without the namespace), discovery modes,
and the per-field checks of ServiceOptions (a value from the file's defaults says so).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
import yaml
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs

from ecs_service_discovery import (
    DiscoveryNamespace,
    ServiceSpec,
    ServiceTopology,
    TopologySpec,
    ValidationError,
    load_topology,
)

IMAGE = "public.ecr.aws/docker/library/nginx:1.27"


def _service(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, **fields}


def _connect(name: str, discovery: str = "service-connect", **options: Any) -> dict[str, Any]:
    return _service(name, discovery=discovery, service_connect=options or None)


def _refused(tmp_path: Path, document: dict[str, Any], suffix: str = ".yaml") -> str:
    path = tmp_path / f"topology{suffix}"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(ValidationError) as caught:
        load_topology(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message


def _names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


DUPLICATE_NAMES = [
    ([_service("a"), _service("a")], "services[1]: name='a'", "services[0] already has that name"),
    (
        [_service("a"), _service("b"), _service("c"), _service("b")],
        "services[3]: name='b'",
        "services[1] already has that name",
    ),
    (
        [_service("api", discovery="service-connect"), _service("api", discovery="both")],
        "services[1]: name='api'",
        "services[0] already has that name",
    ),
]


@pytest.mark.parametrize(("services", "field", "other"), DUPLICATE_NAMES)
def test_a_name_given_twice_names_both_entries(tmp_path: Path, services: list[Any], field: str, other: str) -> None:
    _names(_refused(tmp_path, {"services": services}), field, other)


CALLS = [
    ([_service("a", calls=["b"])], "services[0]: service 'a': calls[0]='b'", "no service of this topology"),
    (
        [_service("backend", calls=["auht"]), _service("auth")],
        "services[0]: service 'backend': calls[0]='auht'",
        "did you mean 'auth'",
    ),
    ([_service("a", calls=["a"])], "services[0]: service 'a': calls[0]='a'", "cannot call itself"),
    (
        [_service("a"), _service("b", calls=["a", "a"])],
        "services[1]: service 'b': calls[1]='a'",
        "expected each service once",
    ),
    ([_service("a", calls="b"), _service("b")], "services[0]: service 'a': calls='b'", "expected a list"),
]


@pytest.mark.parametrize(("services", "field", "problem"), CALLS)
def test_a_call_to_an_unknown_service_names_the_caller_and_the_entry(
    tmp_path: Path, services: list[Any], field: str, problem: str
) -> None:
    _names(_refused(tmp_path, {"services": services}), field, problem)


TAKEN_NAMES = [
    # Two explicit client aliases with the same name and port (the default port is the container port).
    (
        [_connect("a", client_alias_dns_name="x.corp"), _connect("b", client_alias_dns_name="x.corp")],
        "services[1]: service 'b': service_connect.client_alias_dns_name='x.corp'",
        "services[0] (service 'a') has the client alias x.corp:8080",
    ),
    (
        [
            _connect("a", client_alias_dns_name="x", client_alias_port=80),
            _service("c"),
            _connect("b", discovery="both", client_alias_dns_name="x", client_alias_port=80),
        ],
        "services[2]: service 'b': service_connect.client_alias_dns_name='x'",
        "services[0] (service 'a') has the client alias x:80",
    ),
    (
        [
            {**_connect("a", client_alias_dns_name="x"), "container_port": 9000},
            _connect("b", client_alias_dns_name="x", client_alias_port=9000),
        ],
        "services[1]: service 'b': service_connect.client_alias_dns_name='x'",
        "services[0] (service 'a') has the client alias x:9000",
    ),
    # Discovery names: another's explicit one, another's default ("<name>-sc"), a DNS service's name.
    (
        [_connect("a", discovery_name="shared"), _connect("b", discovery_name="shared")],
        "services[1]: service 'b': service_connect.discovery_name='shared'",
        "services[0] (service 'a') has the Service Connect discovery name 'shared'",
    ),
    (
        [_connect("a"), _connect("b", discovery_name="a-sc")],
        "services[1]: service 'b': service_connect.discovery_name='a-sc'",
        "services[0] (service 'a') has the Service Connect discovery name 'a-sc'",
    ),
    (
        [_service("a"), _connect("b", discovery_name="a")],
        "services[1]: service 'b': service_connect.discovery_name='a'",
        "services[0] (service 'a') has the Cloud Map DNS service 'a'",
    ),
    # A DNS service named as an earlier service's discovery name: the later entry's name is refused.
    (
        [_connect("a", discovery_name="b"), _service("b")],
        "services[1]: service 'b': name='b'",
        "services[0] (service 'a') has the Service Connect discovery name 'b'",
    ),
    (
        [_connect("a"), _service("a-sc")],
        "services[1]: service 'a-sc': name='a-sc'",
        "services[0] (service 'a') has the Service Connect discovery name 'a-sc'",
    ),
]


@pytest.mark.parametrize(("services", "field", "other"), TAKEN_NAMES)
def test_a_service_connect_name_taken_twice_names_both_services_and_the_field(
    tmp_path: Path, services: list[Any], field: str, other: str
) -> None:
    message = _refused(tmp_path, {"services": services})
    _names(message, field, other, "expected")


TAKEN_IN_THE_NAMESPACE = [
    # An explicit alias that is another service's DNS name, or its default alias ("<name>.<namespace>").
    (
        [_service("a"), _connect("b", client_alias_dns_name="a.corp")],
        "services[1]: service 'b': service_connect.client_alias_dns_name='a.corp'",
        "services[0] (service 'a') has that DNS name",
    ),
    (
        [_connect("a"), _connect("b", client_alias_dns_name="a.corp")],
        "services[1]: service 'b': service_connect.client_alias_dns_name='a.corp'",
        "services[0] (service 'a') has the client alias a.corp:8080",
    ),
    # A DNS service whose name is an earlier service's alias.
    (
        [_connect("a", client_alias_dns_name="b.corp"), _service("b")],
        "services[1]: service 'b': name='b'",
        "services[0] (service 'a') has the Service Connect client alias 'b.corp'",
    ),
]


@pytest.mark.parametrize(("services", "field", "other"), TAKEN_IN_THE_NAMESPACE)
def test_names_that_contain_the_namespace_are_checked_with_it(
    tmp_path: Path, services: list[Any], field: str, other: str
) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump({"services": services}))
    spec = load_topology(path)  # without the namespace, nothing clashes yet
    with pytest.raises(ValidationError) as caught:
        spec.check_namespace("corp")
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    _names(message, field, other)
    spec.check_namespace("other")  # in another namespace, the names differ


@pytest.mark.parametrize("namespace_name", ["", None, 3])
def test_check_namespace_takes_a_name(namespace_name: Any) -> None:
    spec = TopologySpec(services=(ServiceSpec(name="a", image=IMAGE),))
    with pytest.raises(ValidationError, match=re.escape(f"namespace_name={namespace_name!r} is not valid")):
        spec.check_namespace(namespace_name)


MODES = [
    ("dnss", "discovery='dnss'"),
    ("DNS", "discovery='DNS'"),
    ("", "discovery=''"),
    (1, "discovery=1"),
]


@pytest.mark.parametrize(("mode", "field"), MODES)
def test_a_discovery_mode_that_does_not_exist_is_named(tmp_path: Path, mode: Any, field: str) -> None:
    message = _refused(tmp_path, {"services": [_service("a"), _service("b", discovery=mode)]})
    _names(message, f"services[1]: service 'b': {field} is not valid", "'service-connect'")


def test_service_connect_options_without_service_connect_are_named(tmp_path: Path) -> None:
    message = _refused(tmp_path, {"services": [_service("a", service_connect={"access_logs": True})]})
    _names(message, "services[0]: service 'a': service_connect=", "expected None with discovery='dns'")


FIELDS = [
    ({"container_port": 0}, "container_port=0"),
    ({"cpu": 3}, "cpu=3"),
    ({"desired_count": -1}, "desired_count=-1"),
    ({"scaling": {"max_capacity": 0}}, "scaling.max_capacity=0"),
    ({"health_check_path": "health"}, "health_check_path='health'"),
    ({"user": "root"}, "user='root'"),
    ({"environment": {"SERVICE_NAME": "x"}}, "environment"),
    ({"discovery": "both", "service_connect": {"app_protocol": "ftp"}}, "service_connect.app_protocol='ftp'"),
    ({"discovery": "both", "service_connect": {"client_alias_port": 0}}, "service_connect.client_alias_port=0"),
]


@pytest.mark.parametrize(("fields", "field"), FIELDS)
def test_a_field_serviceoptions_refuses_is_named_with_its_service(
    tmp_path: Path, fields: dict[str, Any], field: str
) -> None:
    message = _refused(tmp_path, {"services": [_service("a"), _service("b", **fields)]})
    _names(message, f"services[1]: service 'b': {field}")
    assert "defaults" not in message


DEFAULTS = [
    ({"container_port": 70000}, "container_port=70000", "container_port"),
    ({"cpu": 3}, "cpu=3", "cpu"),
    ({"scaling": {"max_capacity": 0}}, "scaling.max_capacity=0", "scaling"),
    ({"user": "0:0"}, "user='0:0'", "user"),
]


@pytest.mark.parametrize(("defaults", "field", "key"), DEFAULTS)
def test_a_bad_value_from_defaults_says_it_comes_from_defaults(
    tmp_path: Path, defaults: dict[str, Any], field: str, key: str
) -> None:
    message = _refused(tmp_path, {"defaults": defaults, "services": [_service("a")]})
    _names(message, f"services[0]: service 'a': {field}", f"(the value comes from defaults: {key})")


def test_an_entry_that_sets_the_field_itself_is_not_blamed_on_defaults(tmp_path: Path) -> None:
    message = _refused(tmp_path, {"defaults": {"cpu": 256}, "services": [_service("a", cpu=3)]})
    _names(message, "services[0]: service 'a': cpu=3")
    assert "defaults" not in message


def test_service_topology_from_a_file_with_one_alias_twice_names_the_file_and_both_services(tmp_path: Path) -> None:
    # GIVEN the file: two services publish the same Service Connect client alias
    path = tmp_path / "shop.yaml"
    services = [_connect("a", client_alias_dns_name="api.corp"), _connect("b", client_alias_dns_name="api.corp")]
    path.write_text(yaml.safe_dump({"services": services}))
    stack = cdk.Stack(cdk.App(), "Shop")
    vpc = ec2.Vpc.from_vpc_attributes(
        stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a"], private_subnet_ids=["s-1"]
    )
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    namespace = DiscoveryNamespace(stack, "Namespace", name="corp", vpc=vpc)
    # WHEN the construct reads it THEN the error names the file, the second service, the field and the first
    with pytest.raises(ValidationError) as caught:
        ServiceTopology.from_file(stack, "Topology", path=path, cluster=cluster, namespace=namespace)
    _names(
        str(caught.value),
        f"{path}: services[1]: service 'b': service_connect.client_alias_dns_name='api.corp'",
        "services[0] (service 'a')",
    )
    assert stack.node.try_find_child("Topology") is None


def test_service_topology_names_the_file_for_a_clash_with_the_namespace_in_it(tmp_path: Path) -> None:
    """An alias written as another service's DNS name (<name>.<namespace>) is refused by ServiceTopology
    with the file, both services and the field: the spec is checked with its namespace's name."""
    document = {
        "services": [
            _service("worker"),
            _connect("api", client_alias_dns_name="worker.corp", client_alias_port=8080),
        ]
    }
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    spec = load_topology(path)  # without the namespace, nothing clashes yet
    stack = cdk.Stack(cdk.App(), "Clash")
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2)
    cluster = ecs.Cluster(stack, "Cluster", vpc=vpc)
    namespace = DiscoveryNamespace(stack, "Namespace", vpc=vpc, name="corp")
    with pytest.raises(ValidationError) as caught:
        ServiceTopology(stack, "Topology", cluster=cluster, namespace=namespace, spec=spec)
    _names(str(caught.value), str(path), "'api'", "'worker'", "client_alias_dns_name")
