"""ecs-discovery-client installs alone: a clean venv outside the repository, its declared dependencies only."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.integration.clean_venv import build_wheel, declared_requirements, make_clean_venv

CLIENT_DIR = Path(__file__).resolve().parents[2] / "services" / "discovery-client"

PROBE = """
import importlib.util, json, pathlib, sys
import ecs_discovery_client
from ecs_discovery_client import DiscoveryClient, DiscoverySettings, Resolver
modules = ("aws_cdk", "constructs", "boto3", "requests", "httpx")
names = {name: importlib.util.find_spec(name) is not None for name in modules}
adapter = None
if names["requests"]:
    from ecs_discovery_client.requests_adapter import discovery_session
    adapter = type(discovery_session(DiscoverySettings()).get_adapter("http://worker.corp/")).__name__
if names["httpx"]:
    from ecs_discovery_client.httpx_transport import discovery_httpx_async_client, discovery_httpx_client
    discovery_httpx_async_client(DiscoverySettings())
    adapter = type(discovery_httpx_client(DiscoverySettings())._transport_for_url(__import__("httpx").URL("http://w/"))).__name__
client = DiscoveryClient("worker.corp", 8080, DiscoverySettings(nameservers=(("127.0.0.1", 9),)))
typed = pathlib.Path(ecs_discovery_client.__file__).with_name("py.typed").exists()
print(json.dumps({"file": ecs_discovery_client.__file__, "importable": names, "adapter": adapter, "typed": typed}))
"""


@pytest.fixture(scope="module")
def client_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel pip builds from services/discovery-client (what ``pip install ./discovery-client`` installs)."""
    return build_wheel(CLIENT_DIR, tmp_path_factory.mktemp("client-wheel"))


def test_the_wheel_holds_the_typed_package_only(client_wheel: Path) -> None:
    names = zipfile.ZipFile(client_wheel).namelist()
    assert {name.split("/", 1)[0] for name in names} == {
        "ecs_discovery_client",
        client_wheel.name.split("-py")[0] + ".dist-info",
    }
    assert "ecs_discovery_client/py.typed" in names
    assert "ecs_discovery_client/requests_adapter.py" in names


@pytest.mark.parametrize("extras", [(), ("requests",), ("httpx",)], ids=["client", "client[requests]", "client[httpx]"])
def test_the_client_installs_alone_and_imports_no_cdk(
    client_wheel: Path, tmp_path: Path, extras: tuple[str, ...]
) -> None:
    # GIVEN a venv that sees only what the client (and the extra) declares
    clean = make_clean_venv(tmp_path, declared_requirements(CLIENT_DIR / "pyproject.toml", *extras), node=False)
    # WHEN the client's wheel is installed there, with nothing else
    installed = clean.pip_install("--no-deps", str(client_wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    result = clean.run([str(clean.python), "-c", PROBE], cwd=outside)
    # THEN it imports from the venv, typed, without aws-cdk-lib (nor boto3, nor requests unless asked for)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(clean.purelib)
    assert report["typed"] is True
    assert report["importable"] == {
        "aws_cdk": False,
        "constructs": False,
        "boto3": False,
        "requests": extras == ("requests",),
        "httpx": extras == ("httpx",),
    }
    assert report["adapter"] == {(): None, ("requests",): "DiscoveryAdapter", ("httpx",): "DiscoveryTransport"}[extras]
