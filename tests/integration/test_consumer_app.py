"""examples/consumer-app installed into a clean virtual environment as a user would, then
synthesized by the real CDK CLI (pinned in package-lock.json), once per session.

The clean venv is made offline: its only third-party packages are the runtime closure of
the library's and the example's requirements (plus the build backend), borrowed read-only
from the project venv through a .pth file; the library itself is installed into it by
``pip install -r requirements.txt`` run in the example's folder, which builds it from the
repository path. Nothing else of the project venv (pytest, flask, the editable install)
is visible to the app.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.clean_venv import SUBPROCESS_TIMEOUT, declared_requirements, make_clean_venv

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "consumer-app"
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"
# Differs from the app's placeholder, so the template shows that the context reached it.
SHARED_NAMESPACE_ID = "ns-0a1b2c3d4e5f6a7b8"

pytestmark = pytest.mark.skipif(
    not CDK_BIN.exists(), reason="run `make install` first: node_modules/.bin/cdk is missing"
)


@dataclass(frozen=True)
class ConsumerSynth:
    venv: Path
    purelib: Path
    probe: dict[str, Any]
    result: subprocess.CompletedProcess[str]
    template: dict[str, Any]


def _requirement_names() -> list[str]:
    """The library's runtime requirements and build backend, and the example's named requirements."""
    specs = declared_requirements(REPO_ROOT / "pyproject.toml", build=True)
    for line in (EXAMPLE_DIR / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        # Paths (the library itself) and pip options are not names to borrow.
        if line and not line.startswith((".", "/", "-")):
            specs.append(line)
    return specs


def _run(command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> ConsumerSynth:
    root = tmp_path_factory.mktemp("consumer-app")
    # GIVEN a new venv of the project's Python, holding only the borrowed dependency closure
    clean = make_clean_venv(root, _requirement_names())
    venv, python, purelib, env = clean.root / "venv", clean.python, clean.purelib, clean.env

    # WHEN the README's install command runs in the example's folder for that venv, without any index
    install = clean.pip_install("-r", "requirements.txt", cwd=EXAMPLE_DIR)
    assert install.returncode == 0, install.stdout + install.stderr
    probe_code = (
        "import importlib.util, json, ecs_service_discovery, importlib.metadata as m\n"
        "d = m.distribution('ecs-service-discovery')\n"
        "print(json.dumps({'module': ecs_service_discovery.__file__,\n"
        "  'direct_url': json.loads(d.read_text('direct_url.json') or 'null'),\n"
        "  'dist_path': str(d.locate_file('')),\n"
        "  'unrelated': [n for n in ('pytest', 'flask', 'boto3') if importlib.util.find_spec(n)]}))"
    )
    probe = _run([str(python), "-c", probe_code], cwd=EXAMPLE_DIR, env=env)
    assert probe.returncode == 0, probe.stderr

    # AND the real CLI runs the example's own cdk.json app command with that venv's python
    app_command = json.loads((EXAMPLE_DIR / "cdk.json").read_text())["app"]
    assert app_command.startswith(".venv/bin/python "), app_command
    out_dir = root / "cdk.out"
    synth = [
        str(CDK_BIN),
        "synth",
        "--quiet",
        "--output",
        str(out_dir),
        "--app",
        str(venv / app_command[len(".venv/") :]),
    ]
    result = _run([*synth, "-c", f"shared_namespace_id={SHARED_NAMESPACE_ID}"], cwd=EXAMPLE_DIR, env=env)
    template_file = out_dir / "ConsumerApp.template.json"
    template: dict[str, Any] = json.loads(template_file.read_text()) if template_file.exists() else {}
    return ConsumerSynth(venv, purelib, json.loads(probe.stdout), result, template)


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {key: r for key, r in template.get("Resources", {}).items() if r["Type"] == resource_type}


def _cloud_map_services(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["Name"]: r["Properties"]
        for r in _resources(template, "AWS::ServiceDiscovery::Service").values()
    }


def _security_group_of(template: dict[str, Any], cloud_map_name: str) -> str:
    """Logical ID of the security group of the ECS service registered as ``cloud_map_name``."""
    cloud_map_ids = [
        k
        for k, r in _resources(template, "AWS::ServiceDiscovery::Service").items()
        if r["Properties"]["Name"] == cloud_map_name
    ]
    for service in _resources(template, "AWS::ECS::Service").values():
        registry = service["Properties"]["ServiceRegistries"][0]["RegistryArn"]["Fn::GetAtt"][0]
        if registry in cloud_map_ids:
            (group,) = service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
            return str(group["Fn::GetAtt"][0])
    raise AssertionError(f"no ECS service registered as {cloud_map_name!r}")


def test_example_uses_the_repositorys_feature_flags() -> None:
    example = json.loads((EXAMPLE_DIR / "cdk.json").read_text())
    repository = json.loads((REPO_ROOT / "cdk.json").read_text())
    assert example["context"] == repository["context"]


def test_library_is_installed_from_the_repository_path_into_the_clean_venv(consumer: ConsumerSynth) -> None:
    assert Path(consumer.probe["module"]).is_relative_to(consumer.purelib), consumer.probe
    assert Path(consumer.probe["dist_path"]) == consumer.purelib
    assert consumer.probe["direct_url"]["url"] == REPO_ROOT.as_uri()
    # Built and installed, not linked to the checkout.
    assert consumer.probe["direct_url"].get("dir_info", {}).get("editable", False) is False


def test_clean_venv_sees_none_of_the_projects_test_and_app_packages(consumer: ConsumerSynth) -> None:
    assert consumer.probe["unrelated"] == []


def test_synth_succeeds_without_any_warning(consumer: ConsumerSynth) -> None:
    assert consumer.result.returncode == 0, consumer.result.stderr
    assert consumer.result.stderr.strip() == "", consumer.result.stderr
    assert consumer.result.stdout.strip() == "", consumer.result.stdout


def test_three_cloud_map_services_with_a_and_srv_records(consumer: ConsumerSynth) -> None:
    services = _cloud_map_services(consumer.template)
    assert sorted(services) == ["audit", "cart", "web"]
    for properties in services.values():
        assert [record["Type"] for record in properties["DnsConfig"]["DnsRecords"]] == ["A", "SRV"]


def test_audit_registers_in_the_imported_namespace_and_nothing_else_does(consumer: ConsumerSynth) -> None:
    namespaces = _resources(consumer.template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    assert [r["Properties"]["Name"] for r in namespaces.values()] == ["shop"]
    (shop_id,) = namespaces
    services = _cloud_map_services(consumer.template)
    assert services["audit"]["NamespaceId"] == SHARED_NAMESPACE_ID
    assert services["cart"]["NamespaceId"] == {"Fn::GetAtt": [shop_id, "Id"]}
    assert services["web"]["NamespaceId"] == {"Fn::GetAtt": [shop_id, "Id"]}


def test_only_web_may_call_cart_and_only_on_8080(consumer: ConsumerSynth) -> None:
    web, cart = _security_group_of(consumer.template, "web"), _security_group_of(consumer.template, "cart")
    rules = [
        (
            r["Properties"]["SourceSecurityGroupId"]["Fn::GetAtt"][0],
            r["Properties"]["GroupId"]["Fn::GetAtt"][0],
            r["Properties"]["IpProtocol"],
            r["Properties"]["FromPort"],
            r["Properties"]["ToPort"],
        )
        for r in _resources(consumer.template, "AWS::EC2::SecurityGroupIngress").values()
    ]
    assert rules == [(web, cart, "tcp", 8080, 8080)]


def test_web_gets_carts_address_in_its_environment(consumer: ConsumerSynth) -> None:
    (web_task,) = [
        r
        for r in _resources(consumer.template, "AWS::ECS::TaskDefinition").values()
        if r["Properties"]["ContainerDefinitions"][0]["Name"] == "web"
    ]
    environment = {e["Name"]: e["Value"] for e in web_task["Properties"]["ContainerDefinitions"][0]["Environment"]}
    assert environment["CART_HOST"] == "cart.shop"
    assert environment["CART_PORT"] == "8080"
