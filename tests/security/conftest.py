"""The security gates' shared input: app.py synthesized ONCE by the real CDK CLI, and the Dockerfiles."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"
VENV_BIN = Path(sys.prefix) / "bin"
# checkov lives in a virtual env of its own (its dependencies clash with ours): `make gates` makes it.
CHECKOV_PYTHON = REPO_ROOT / ".venv-checkov" / "bin" / "python"
DOCKERFILES = sorted((REPO_ROOT / "services").rglob("Dockerfile"))


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    return env


def cdk_synth(
    out_dir: Path, *, app: str | None = None, context: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The pinned CDK CLI's `synth` of app.py (or of ``app``), as `make synth` runs it, with ``-c`` ``context``."""
    # A gate that cannot run must fail, not skip: a skipped gate would pass the build.
    assert CDK_BIN.exists(), "node_modules/.bin/cdk is missing: run `make install`"
    command = [str(CDK_BIN), "synth", "--quiet", "--output", str(out_dir)]
    if app is not None:
        command += ["--app", app]
    for key, value in (context or {}).items():
        command += ["--context", f"{key}={value}"]
    return subprocess.run(command, cwd=REPO_ROOT, env=cli_env(), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud assembly of app.py; cdk-nag runs inside this synth as a policy validation plugin."""
    out_dir = tmp_path_factory.mktemp("gates") / "cdk.out"
    result = cdk_synth(out_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    return out_dir


def assembly_templates(out_dir: Path) -> list[Path]:
    """Every CloudFormation template of a cloud assembly: top-level, nested stacks, nested assemblies."""
    templates = sorted(
        path
        for path in out_dir.rglob("*.template.json")
        if not any(part.startswith("asset.") for part in path.relative_to(out_dir).parts)
    )
    assert templates, f"no *.template.json in {out_dir}"
    return templates


@pytest.fixture(scope="session")
def synthesized_templates(cdk_out: Path) -> list[Path]:
    return assembly_templates(cdk_out)
