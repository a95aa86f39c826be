"""README.md's "Use it in your own app", pasted into a new folder beside a clone of this
repository and run exactly as written, offline (tests/docs/sandbox.py): its files saved under
the names their first line gives, then its commands block in bash. Once per session."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.docs.markdown import REPO_ROOT, Block, commands, fenced_blocks
from tests.docs.sandbox import JSII_NODE_WARNING, ShellRun, copy_library_source, user_shell
from tests.integration.clean_venv import declared_requirements

README = REPO_ROOT / "README.md"
SECTION = "## Use it in your own app"
FILE_NAME = re.compile(r"# (?P<name>[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*)")


@dataclass(frozen=True)
class Section:
    files: dict[str, str]
    script: Block


def readme_section() -> Section:
    """The section's files (blocks whose first line is ``# <path>``) and the first shell block after them."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    first_line = text[:start].count("\n") + 1
    last_line = text[: end if end != -1 else len(text)].count("\n") + 1
    blocks = [b for b in fenced_blocks(README) if first_line <= b.line <= last_line]
    files: dict[str, str] = {}
    for block in blocks:
        named = FILE_NAME.fullmatch(block.first_line)
        if named and block.language in ("python", "dockerfile"):
            files[named["name"]] = block.text
    last_file = max(b.line for b in blocks if FILE_NAME.fullmatch(b.first_line))
    script = next(b for b in blocks if b.line > last_file and commands(b))
    return Section(files, script)


@dataclass(frozen=True)
class UserApp:
    folder: Path
    result: ShellRun
    template: dict[str, Any]
    library_file: str
    node_version: str


@pytest.fixture(scope="module")
def user_app(tmp_path_factory: pytest.TempPathFactory) -> UserApp:
    root = tmp_path_factory.mktemp("readme-app")
    section = readme_section()
    # GIVEN a clone of this repository and, beside it, a new folder holding the README's files
    copy_library_source(root / "ecs-service-discovery")
    folder = root / "shop"
    for name, text in section.files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    shell = user_shell(root / "sandbox", declared_requirements(REPO_ROOT / "pyproject.toml", build=True))
    # WHEN the README's commands run in that folder, as written
    result = shell.run(section.script.text, cwd=folder)
    template_file = folder / "cdk.out" / "Shop.template.json"
    template = json.loads(template_file.read_text()) if template_file.exists() else {}
    probe = shell.run(
        "source .venv/bin/activate; python -c 'import ecs_service_discovery; print(ecs_service_discovery.__file__)'",
        cwd=folder,
    ).outputs()[-1][1]
    node_version = shell.run("source .venv/bin/activate; node --version", cwd=folder).outputs()[-1][1]
    library_file = probe
    return UserApp(folder, result, template, library_file, node_version)


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in template.get("Resources", {}).values() if r["Type"] == resource_type]


def test_the_section_names_its_files_and_its_commands() -> None:
    section = readme_section()
    assert sorted(section.files) == ["app.py", "cart/Dockerfile"]
    assert any("python app.py" in c for c in commands(section.script))


def test_the_commands_succeed_and_the_synth_prints_nothing(user_app: UserApp) -> None:
    assert user_app.result.returncode == 0, user_app.result.output
    assert JSII_NODE_WARNING not in user_app.result.output
    (synth_output,) = [output for command, output in user_app.result.outputs() if command == "python app.py"]
    assert synth_output == ""


def test_the_app_writes_its_template_into_cdk_out(user_app: UserApp) -> None:
    cloud_map = _resources(user_app.template, "AWS::ServiceDiscovery::Service")
    services = {r["Properties"]["Name"]: r["Properties"] for r in cloud_map}
    assert sorted(services) == ["cart", "web"]
    for properties in services.values():
        assert [record["Type"] for record in properties["DnsConfig"]["DnsRecords"]] == ["A", "SRV"]
    (namespace,) = _resources(user_app.template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    assert namespace["Properties"]["Name"] == "shop"


def test_web_may_call_cart_on_8080_and_knows_its_name(user_app: UserApp) -> None:
    (rule,) = _resources(user_app.template, "AWS::EC2::SecurityGroupIngress")
    assert (rule["Properties"]["FromPort"], rule["Properties"]["ToPort"]) == (8080, 8080)
    (web,) = [
        r
        for r in _resources(user_app.template, "AWS::ECS::TaskDefinition")
        if r["Properties"]["ContainerDefinitions"][0]["Name"] == "web"
    ]
    environment = {e["Name"]: e["Value"] for e in web["Properties"]["ContainerDefinitions"][0]["Environment"]}
    assert (environment["CART_HOST"], environment["CART_PORT"]) == ("cart.shop", "8080")


def test_the_library_comes_from_the_folders_own_venv(user_app: UserApp) -> None:
    assert Path(user_app.library_file).is_relative_to(user_app.folder / ".venv"), user_app.library_file


def test_jsii_ran_the_node_that_the_documented_pip_install_put_into_the_venv(user_app: UserApp) -> None:
    assert user_app.node_version.startswith("v24."), user_app.node_version
