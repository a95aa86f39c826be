"""Writes and checks every lock file of the repository (``make lock``, ``make install``).

One source of truth: the ``*.in`` files beside this script and the dependency tables of the three
``pyproject.toml`` files. From them ``uv pip compile`` writes, with every transitive dependency pinned
and hashed for every platform and Python the project supports:

- ``requirements/dev.txt``: the dev venv (``.venv``), the lock everything else follows;
- ``requirements/checkov.txt``: checkov's own venv (its pins clash with the dev venv's);
- ``requirements/uv.txt``: the lock tool itself, which ``make install`` bootstraps with pip;
- ``requirements.txt``: what the CDK app and the library need at synth time (the design card's file);
- ``services/flask-backend/requirements.txt`` and ``services/flask-worker/requirements.txt``: the images.

The last four are compiled with the dev lock as constraints, so an image runs exactly the versions the
tests ran. Each file's first lines carry a digest of the inputs: ``--check`` (run by ``make install``,
stdlib only, offline) fails when an input changed after the lock was written.

Usage: ``python requirements/lock.py`` (keep current pins, resolve what changed), ``--upgrade`` (newest
releases of everything), ``--check``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "requirements"
PYPROJECTS = ("pyproject.toml", "tools/pyproject.toml", "services/discovery-client/pyproject.toml")
# This repository's own distributions: installed from the working tree (editable, --no-deps), never pinned.
OWN_DISTRIBUTIONS = ("ecs-service-discovery", "ecs-discovery-tools", "ecs-discovery-client")
# The lowest Python the project supports; --universal adds markers for every later one.
PYTHON_FLOOR = "3.11"
DIGEST_LINE = re.compile(r"# inputs sha256: (?P<digest>[0-9a-f]{64})")
UV_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Lock:
    output: str
    source: str
    constrained: bool  # compiled against requirements/dev.txt
    purpose: str


LOCKS = (
    Lock("requirements/dev.txt", "requirements/dev.in", False, "the dev venv (.venv)"),
    Lock("requirements/checkov.txt", "requirements/checkov.in", False, "checkov's venv (.venv-checkov)"),
    Lock("requirements/uv.txt", "requirements/uv.in", True, "the lock tool, bootstrapped by make install"),
    Lock("requirements.txt", "requirements/app.in", True, "the CDK app and the library at synth time"),
    Lock("services/flask-backend/requirements.txt", "requirements/backend-image.in", True, "flask-backend's image"),
    Lock("services/flask-worker/requirements.txt", "requirements/worker-image.in", True, "flask-worker's image"),
)


def inputs_digest(root: Path = ROOT) -> str:
    """A digest of everything a lock is compiled from: the .in files and the pyprojects' dependencies.

    Only the dependency tables of a pyproject count, so editing its tool settings leaves the locks fresh.
    """
    parts: dict[str, object] = {"python": PYTHON_FLOOR}
    for lock in LOCKS:
        parts[lock.source] = (root / lock.source).read_text(encoding="utf-8")
    for name in PYPROJECTS:
        project = tomllib.loads((root / name).read_text(encoding="utf-8"))["project"]
        parts[name] = {
            "dependencies": project.get("dependencies", []),
            "optional-dependencies": project.get("optional-dependencies", {}),
            "requires-python": project.get("requires-python"),
        }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def recorded_digest(path: Path) -> str | None:
    if not path.is_file():
        return None
    with path.open(encoding="utf-8") as lines:
        for _, line in zip(range(10), lines, strict=False):
            match = DIGEST_LINE.fullmatch(line.rstrip("\n"))
            if match:
                return match["digest"]
    return None


def check(root: Path = ROOT) -> int:
    digest = inputs_digest(root)
    stale = [lock.output for lock in LOCKS if recorded_digest(root / lock.output) != digest]
    if stale:
        print(
            f"error: stale lock: {', '.join(stale)} no longer match requirements/*.in and the pyproject.toml "
            "dependencies. Run `make lock` and commit the result (CONTRIBUTING.md, Dependencies).",
            file=sys.stderr,
        )
        return 1
    return 0


@dataclass(frozen=True)
class Pin:
    name: str  # normalized (PEP 503)
    version: str
    marker: str  # "" when the pin holds everywhere
    hashes: tuple[str, ...]


_PIN = re.compile(r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)(?:\s*;\s*(?P<marker>[^\\]+?))?\s*")


def read_pins(path: Path) -> list[Pin]:
    """The pins of a lock file written by this script (``name==version [; marker]`` and its hashes)."""
    pins: list[Pin] = []
    logical = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    for line in logical.splitlines():
        if not line or line.lstrip().startswith("#"):
            continue
        requirement, *options = re.split(r"\s+--hash=", line.strip())
        match = _PIN.fullmatch(requirement)
        if not match:
            raise ValueError(f"{path}: not a pinned requirement: {line[:120]!r}")
        name = re.sub(r"[-_.]+", "-", match["name"]).lower()
        pins.append(Pin(name, match["version"], (match["marker"] or "").strip(), tuple(h.strip() for h in options)))
    return pins


def uv_binary() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise SystemExit("error: uv is not installed: run `make install` first (it bootstraps requirements/uv.txt)")
    return found


def compile_lock(lock: Lock, digest: str, upgrade: bool) -> None:
    output = ROOT / lock.output
    with tempfile.TemporaryDirectory() as scratch:
        compiled = Path(scratch) / "compiled.txt"
        if output.exists():  # uv keeps the pins of an existing output: copy it so they are preferred
            shutil.copyfile(output, compiled)
        command = [
            uv_binary(), "pip", "compile", lock.source, "--output-file", str(compiled),
            "--universal", "--python-version", PYTHON_FLOOR, "--generate-hashes", "--no-header", "--quiet",
            # --no-build-isolation: the editable sources are read with the locked setuptools, not the newest.
            "--no-build-isolation", "--python", sys.executable,
        ]  # fmt: skip
        for name in OWN_DISTRIBUTIONS:
            command += ["--no-emit-package", name]
        if lock.constrained:
            command += ["--constraint", "requirements/dev.txt"]
        if upgrade and not lock.constrained:
            command.append("--upgrade")
        environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        subprocess.run(command, cwd=ROOT, check=True, env=environment, timeout=UV_TIMEOUT_SECONDS)
        body = compiled.read_text(encoding="utf-8")
    body = "\n".join(line for line in body.splitlines() if not DIGEST_LINE.fullmatch(line) and not _is_banner(line))
    header = (
        f"# Lock for {lock.purpose}. Generated by `make lock` (requirements/lock.py) from {lock.source}:\n"
        "# do not edit; change the .in file or a pyproject.toml and run `make lock`.\n"
        f"# inputs sha256: {digest}\n"
    )
    output.write_text(header + body.lstrip("\n") + "\n", encoding="utf-8")


def _is_banner(line: str) -> bool:
    return line.startswith("# Lock for ") or line.startswith("# do not edit; change the .in file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a lock is older than its inputs (offline)")
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest release")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    digest = inputs_digest()
    for lock in LOCKS:  # dev first: the others are constrained by it
        compile_lock(lock, digest, args.upgrade)
        print(f"wrote {lock.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
