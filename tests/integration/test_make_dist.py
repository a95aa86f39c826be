"""`make dist` builds the three wheels, and `pip install dist/*.whl` installs them together, offline:
the tools find the discovery client they need among them, not on a package index."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.integration.clean_venv import SUBPROCESS_TIMEOUT, declared_requirements, make_clean_venv

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN = {"ecs-service-discovery", "ecs-discovery-tools", "ecs-discovery-client"}


def third_party(requirements: list[str]) -> list[str]:
    return [r for r in requirements if r.split("[")[0].split(">")[0].split("=")[0].strip().lower() not in OWN]


def test_make_dist_wheels_install_together_offline(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST_DIR={dist}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = sorted(dist.glob("*.whl"))
    assert [wheel.name.split("-")[0] for wheel in wheels] == [
        "ecs_discovery_client", "ecs_discovery_tools", "ecs_service_discovery"
    ]  # fmt: skip
    # GIVEN a clean venv that sees only the third-party packages the three declare (no index at all)
    needed = [
        *declared_requirements(REPO_ROOT / "pyproject.toml", "nag"),
        *declared_requirements(REPO_ROOT / "tools" / "pyproject.toml", "local"),
        *declared_requirements(REPO_ROOT / "services" / "discovery-client" / "pyproject.toml", "cloudmap"),
    ]
    clean = make_clean_venv(tmp_path / "venv-root", third_party(needed))
    # WHEN the wheels are installed as the docs say, with dependencies resolved (not --no-deps)
    installed = clean.pip_install(*(str(wheel) for wheel in wheels))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # THEN the CLI runs, from the installed wheels, and the library imports from the venv
    cli = clean.run([str(clean.python.parent / "ecs-discovery"), "--help"])
    assert cli.returncode == 0 and "usage: ecs-discovery" in cli.stdout, cli.stdout + cli.stderr
    where = clean.run([str(clean.python), "-c", "import ecs_service_discovery, ecs_discovery_client; "
                       "print(ecs_service_discovery.__file__); print(ecs_discovery_client.__file__)"])  # fmt: skip
    assert where.returncode == 0, where.stderr
    assert all(Path(line).is_relative_to(clean.purelib) for line in where.stdout.split()), where.stdout


def test_the_tools_wheel_alone_cannot_install_without_the_client(tmp_path: Path) -> None:
    """The check above can fail: without the client's wheel, pip finds no ecs-discovery-client offline."""
    dist = tmp_path / "dist"
    built = subprocess.run(
        ["make", "--no-print-directory", "dist", f"DIST_DIR={dist}"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    clean = make_clean_venv(
        tmp_path / "venv-root", third_party(declared_requirements(REPO_ROOT / "tools" / "pyproject.toml"))
    )
    (tools,) = dist.glob("ecs_discovery_tools-*.whl")
    installed = clean.pip_install(str(tools))
    assert installed.returncode != 0
    assert "ecs-discovery-client" in installed.stdout + installed.stderr
    shutil.rmtree(dist)
