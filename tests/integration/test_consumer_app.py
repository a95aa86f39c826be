"""examples/consumer-app run as its README says, offline, once per session: its first shell
block, as written, in the example's folder of a copy of the repository (tests/docs/sandbox.py:
a user's shell with the base python3, the machine's own Node.js on PATH, dependencies borrowed
read-only and nothing else of the project venv visible). Then the same venv synthesizes once
more with the README's deploy context, so that the template shows the context reached the app.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.docs.markdown import commands, fenced_blocks
from tests.docs.sandbox import JSII_NODE_WARNING, ExampleRun, ShellRun, run_example

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "consumer-app"
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"


@dataclass(frozen=True)
class ConsumerSynth:
    run: ExampleRun
    probe: dict[str, Any]
    result: ShellRun
    template: dict[str, Any]
    shared_namespace_id: str


def readme_blocks() -> tuple[str, list[str]]:
    """The README's install-and-synth block (as text) and its deploy command's ``-c`` arguments."""
    blocks = [b for b in fenced_blocks(EXAMPLE_DIR / "README.md") if commands(b)]
    (install,) = [b for b in blocks if any(c.startswith("pip install") for c in commands(b))]
    (deploy,) = [c for b in blocks for c in commands(b) if c.startswith("npx cdk deploy")]
    words = shlex.split(deploy)
    context = [word for i, word in enumerate(words) if word == "-c" or (i and words[i - 1] == "-c")]
    return install.text, context


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> ConsumerSynth:
    assert CDK_BIN.exists(), "run `make install` first: node_modules/.bin/cdk is missing"
    script, context = readme_blocks()
    # GIVEN the README's commands run as written in a copy of the example's folder
    run = run_example(tmp_path_factory.mktemp("consumer-app"), EXAMPLE_DIR, script)
    # One line: the shell's trace that separates each command's output holds one line per command.
    probe_code = (
        "import importlib.util, json, ecs_service_discovery, importlib.metadata as m; "
        "d = m.distribution('ecs-service-discovery'); "
        "print(json.dumps({'module': ecs_service_discovery.__file__, "
        "'direct_url': json.loads(d.read_text('direct_url.json') or 'null'), "
        "'dist_path': str(d.locate_file('')), "
        "'unrelated': [n for n in ('pytest', 'flask', 'boto3') if importlib.util.find_spec(n)]}))"
    )
    probe = run.shell.run(f"source .venv/bin/activate; python -c {shlex.quote(probe_code)}", cwd=run.folder)
    # WHEN the same venv synthesizes with the deploy command's context
    synth = run.shell.run(f"source .venv/bin/activate; npx cdk synth --quiet {shlex.join(context)}", cwd=run.folder)
    template_file = run.folder / "cdk.out" / "ConsumerApp.template.json"
    template: dict[str, Any] = json.loads(template_file.read_text()) if template_file.exists() else {}
    shared_namespace_id = context[context.index("-c") + 1].partition("=")[2]
    return ConsumerSynth(run, json.loads(probe.outputs()[-1][1]), synth, template, shared_namespace_id)


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


def test_the_readmes_commands_run_as_written_without_jsii_warnings(consumer: ConsumerSynth) -> None:
    result = consumer.run.result
    assert result.returncode == 0, result.output
    assert JSII_NODE_WARNING not in result.output
    assert [command for command, _ in result.outputs()][-1] == "npx cdk synth"


def test_library_is_installed_from_the_repository_path_into_the_examples_venv(consumer: ConsumerSynth) -> None:
    venv = consumer.run.folder / ".venv"
    assert Path(consumer.probe["module"]).is_relative_to(venv), consumer.probe
    assert Path(consumer.probe["dist_path"]).is_relative_to(venv)
    assert consumer.probe["direct_url"]["url"] == consumer.run.checkout.as_uri()
    # Built and installed, not linked to the checkout.
    assert consumer.probe["direct_url"].get("dir_info", {}).get("editable", False) is False


def test_the_venv_sees_none_of_the_projects_test_and_app_packages(consumer: ConsumerSynth) -> None:
    assert consumer.probe["unrelated"] == []


def test_synth_with_the_deploy_context_succeeds_without_any_warning(consumer: ConsumerSynth) -> None:
    assert consumer.result.returncode == 0, consumer.result.output
    (synth_output,) = [output for command, output in consumer.result.outputs() if command.startswith("npx cdk")]
    assert synth_output.strip() == ""


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
    assert services["audit"]["NamespaceId"] == consumer.shared_namespace_id
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
