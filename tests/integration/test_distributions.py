"""Each distribution of this repository installed alone into a clean venv, outside the
repository, with only what it declares: the library (and its ``nag`` extra), the tools (and
their ``local`` extra) on top of the discovery client they need.

The library must work wherever it is installed: its wheel holds only ``ecs_service_discovery``
(no stacks, apps or topology files of this repository), and a probe app synthesizes every
construct it exports.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.integration.clean_venv import build_wheel, declared_requirements, make_clean_venv

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO_ROOT / "services" / "discovery-client"
TOOLS_DIR = REPO_ROOT / "tools"
PROBE = Path(__file__).with_name("wheel_probe.py")


@pytest.fixture(scope="module")
def library_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(REPO_ROOT, tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_the_library_and_nothing_of_the_repository(library_wheel: Path) -> None:
    names = zipfile.ZipFile(library_wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert "ecs_service_discovery" in tops
    assert tops - {"ecs_service_discovery"} == {
        library_wheel.name.split("-")[0] + "-" + library_wheel.name.split("-")[1] + ".dist-info"
    }
    assert "ecs_service_discovery/py.typed" in names
    assert not [n for n in names if n.startswith(("stacks/", "services/", "topologies/", "tools/"))]


@pytest.mark.parametrize("extras", [(), ("nag",)], ids=["library", "library[nag]"])
def test_the_installed_library_synthesizes_every_exported_construct(
    library_wheel: Path, tmp_path: Path, extras: tuple[str, ...]
) -> None:
    # GIVEN a clean venv that sees only what the library (and the extra) declares
    clean = make_clean_venv(tmp_path, declared_requirements(REPO_ROOT / "pyproject.toml", *extras))
    installed = clean.pip_install("--no-deps", str(library_wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # WHEN an app of its own, in a folder outside the repository, uses every exported construct
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    result = clean.run([str(clean.python), str(PROBE), *extras], cwd=app_dir)
    # THEN it synthesizes, from the installed copy
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["module"]).is_relative_to(clean.purelib)
    assert report["missing"] == [], "exported constructs the probe does not synthesize"
    assert report["resources"] > 0


def _install_tools(tmp_path: Path, *extras: str):
    # The build backend too: pip builds both from their folders (no index).
    client_requirements = declared_requirements(CLIENT_DIR / "pyproject.toml", "cloudmap", build=True)
    tools_requirements = [
        r for r in declared_requirements(TOOLS_DIR / "pyproject.toml", *extras) if "ecs-discovery-client" not in r
    ]
    clean = make_clean_venv(tmp_path, [*client_requirements, *tools_requirements], node=False)
    for path in (CLIENT_DIR, TOOLS_DIR):
        # Built from a copy: setuptools would leave build/ and *.egg-info in the checkout.
        source = tmp_path / "src" / path.name
        shutil.copytree(path, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        installed = clean.pip_install("--no-deps", str(source))
        assert installed.returncode == 0, installed.stdout + installed.stderr
    return clean


IMPORT_ALL = """
import importlib, json, pkgutil, sys
import ecs_discovery_tools
package = importlib.import_module(sys.argv[1])
modules = [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in modules:
    importlib.import_module(name)
cdk = importlib.util.find_spec("aws_cdk")
print(json.dumps({"modules": modules, "file": ecs_discovery_tools.__file__, "aws_cdk": cdk is not None}))
"""


def test_the_tools_install_alone_and_import_no_cdk(tmp_path: Path) -> None:
    clean = _install_tools(tmp_path)
    result = clean.run([str(clean.python), "-c", IMPORT_ALL, "ecs_discovery_tools.cli"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert Path(report["file"]).is_relative_to(clean.purelib)
    assert report["modules"], "no CLI module found"
    assert report["aws_cdk"] is False
    usage = clean.run([str(clean.root / "venv" / "bin" / "ecs-discovery"), "--help"])
    assert usage.returncode == 0, usage.stderr
    assert "namespaces" in usage.stdout


def test_the_local_run_installs_with_its_extra(tmp_path: Path) -> None:
    clean = _install_tools(tmp_path, "local")
    result = clean.run([str(clean.python), "-c", IMPORT_ALL, "ecs_discovery_tools.local"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["modules"], "no local-run module found"
    usage = clean.run([str(clean.python), "-m", "ecs_discovery_tools.local.demo", "--help"])
    assert usage.returncode == 0, usage.stderr
