"""Clean virtual environments for installing this repository's distributions as a user would.

Made offline: a new venv of the test interpreter (no pip of its own) that sees only the
runtime closure of the requirements it is given, borrowed read-only from the project venv
through a ``.pth`` file. A distribution installed into it with ``--no-deps`` then works only
if what it declares is enough: an import of anything undeclared fails there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT_BIN = Path(sys.prefix) / "bin"
SUBPROCESS_TIMEOUT = 300


def declared_requirements(pyproject: Path, *extras: str, build: bool = False) -> list[str]:
    """The runtime requirements of the distribution at ``pyproject`` (and of ``extras``), as written."""
    project = tomllib.loads(pyproject.read_text())
    specs = list(project["project"].get("dependencies", []))
    for extra in extras:
        specs += project["project"]["optional-dependencies"][extra]
    if build:
        specs += project["build-system"]["requires"]
    return specs


def closure(names: Iterable[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions ``names`` need, following their requirements (and the
    extras named in them) for this interpreter."""
    found: dict[str, metadata.Distribution] = {}
    pending = [Requirement(name) for name in names]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        distribution = metadata.distribution(name)
        extras = set(requirement.extras)
        key = name + "[" + ",".join(sorted(extras)) + "]"
        if key in found:
            continue
        found[key] = distribution
        for spec in distribution.requires or []:
            needed = Requirement(spec)
            if needed.marker is None or any(needed.marker.evaluate({"extra": e}) for e in ("", *extras)):
                pending.append(needed)
    return {canonicalize_name(d.metadata["Name"]): d for d in found.values()}


def borrow(distributions: Iterable[metadata.Distribution], target: Path) -> None:
    """Symlink each distribution's top-level modules and metadata from the project venv into ``target``."""
    target.mkdir()
    for distribution in distributions:
        assert distribution.files is not None, f"{distribution.metadata['Name']} has no RECORD"
        site = Path(str(distribution.locate_file("")))
        tops = {file.parts[0] for file in distribution.files if file.parts[0] not in ("..", "__pycache__")}
        for top in sorted(tops):
            if top.endswith(".pth") or (target / top).exists():
                continue
            (target / top).symlink_to(site / top)


def build_wheel(source: Path, wheel_dir: Path) -> Path:
    """The wheel pip builds from ``source`` (what ``pip install <source>`` installs), offline."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "wheel", "--no-deps",
         "--no-build-isolation", "--wheel-dir", str(wheel_dir), str(source)],
        check=True, capture_output=True, timeout=SUBPROCESS_TIMEOUT,
    )  # fmt: skip
    (wheel,) = wheel_dir.glob("*.whl")
    return wheel


@dataclass(frozen=True)
class CleanVenv:
    root: Path
    python: Path
    purelib: Path
    env: dict[str, str]

    def run(self, command: list[str], *, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, cwd=cwd or self.root, env=self.env, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
        )

    def pip_install(self, *arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """The project's pip installing into this venv without any index (``--no-index``)."""
        pip = [sys.executable, "-m", "pip", "--python", str(self.python), "--isolated", "--disable-pip-version-check"]
        return self.run([*pip, "install", "--no-index", "--no-build-isolation", "--quiet", *arguments], cwd=cwd)


def make_clean_venv(root: Path, requirements: Iterable[str], *, node: bool = True) -> CleanVenv:
    """A venv at ``root/venv`` that sees only the closure of ``requirements``.

    ``node``: put the project venv's ``bin`` (Node.js for jsii) after the new venv's on PATH.
    """
    venv = root / "venv"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["VIRTUAL_ENV"] = str(venv)
    path = [str(venv / "bin"), *([str(PROJECT_BIN)] if node else []), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env["CDK_DISABLE_VERSION_CHECK"] = "1"
    # No pip of its own: Python 3.11's ensurepip would also put an old setuptools into it.
    created = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True, check=False
    )
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    purelib_code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(
        subprocess.run([str(python), "-c", purelib_code], env=env, capture_output=True, text=True).stdout.strip()
    )
    borrowed = root / "borrowed"
    borrow(closure(requirements).values(), borrowed)
    (purelib / "_borrowed_dependencies.pth").write_text(f"{borrowed}\n")
    return CleanVenv(root, python, purelib, env)
