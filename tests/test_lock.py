"""Every install comes only from the locks in requirements/, and a stale lock stops `make install`."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker

from requirements.lock import LOCKS, PYPROJECTS, check, read_pins

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_LOCK = REPO_ROOT / "requirements" / "dev.txt"
OWN = {"ecs-service-discovery", "ecs-discovery-tools", "ecs-discovery-client"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The lock inputs and outputs, copied, to change without touching the repository."""
    for lock in LOCKS:
        for name in (lock.source, lock.output):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO_ROOT / name, tmp_path / name)
    for name in PYPROJECTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def test_the_locks_are_in_step_with_their_inputs():
    assert check() == 0


@pytest.mark.parametrize(
    ("path", "edit"),
    [
        ("requirements/dev.in", lambda text: text + "idna\n"),
        ("requirements/checkov.in", lambda text: text.replace("checkov==3.3.30", "checkov==3.3.31")),
        ("tools/pyproject.toml", lambda text: text.replace('"boto3>=1.34,<2"', '"boto3>=1.35,<2"')),
        (
            "services/discovery-client/pyproject.toml",
            lambda text: text.replace('"urllib3>=2.3,<3"', '"urllib3>=2.4,<3"'),
        ),
    ],
    ids=["dev.in", "checkov.in", "tools-dependency", "client-dependency"],
)
def test_a_changed_input_makes_the_locks_stale(repo_copy: Path, path: str, edit, capsys):
    target = repo_copy / path
    before = target.read_text()
    after = edit(before)
    assert after != before, "the edit must change the file"
    target.write_text(after)
    assert check(repo_copy) == 1
    assert "stale lock" in capsys.readouterr().err


def test_tool_settings_in_a_pyproject_leave_the_locks_fresh(repo_copy: Path):
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("line-length = 120", "line-length = 100"))
    assert check(repo_copy) == 0


def test_a_hand_edited_lock_is_stale(repo_copy: Path):
    lock = repo_copy / "requirements" / "dev.txt"
    lock.write_text(re.sub(r"# inputs sha256: [0-9a-f]{64}", "# inputs sha256: " + "0" * 64, lock.read_text()))
    assert check(repo_copy) == 1


@pytest.mark.parametrize("lock", LOCKS, ids=[lock.output for lock in LOCKS])
def test_every_pin_is_exact_and_hashed(lock):
    pins = read_pins(REPO_ROOT / lock.output)
    assert pins
    for pin in pins:
        assert pin.hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes), pin.name
        assert pin.name not in OWN, f"{lock.output} pins {pin.name}, which is built from this repository"


@pytest.mark.parametrize("lock", [lock for lock in LOCKS if lock.constrained], ids=lambda lock: lock.output)
def test_derived_locks_hold_the_dev_locks_versions(lock):
    dev = {(pin.name, pin.marker): pin for pin in read_pins(DEV_LOCK)}
    for pin in read_pins(REPO_ROOT / lock.output):
        assert (pin.name, pin.marker) in dev, f"{lock.output}: {pin.name} is not in the dev lock"
        assert dev[pin.name, pin.marker].version == pin.version, pin.name
        assert set(pin.hashes) <= set(dev[pin.name, pin.marker].hashes), pin.name


def test_the_dev_venv_is_exactly_the_lock():
    """What `uv pip sync` made: the lock's versions for this platform, and nothing else but this repository."""
    wanted = {pin.name: pin.version for pin in read_pins(DEV_LOCK) if not pin.marker or Marker(pin.marker).evaluate()}
    installed = {normalized(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    assert {name: installed.get(name) for name in wanted} == wanted
    assert set(installed) - set(wanted) == OWN


def test_the_makefile_installs_only_from_the_locks():
    makefile = (REPO_ROOT / "Makefile").read_text()
    installs = re.findall(r"^\t@?(.*\b(?:pip install|pip sync|npm (?:ci|install))\b.*)$", makefile, re.MULTILINE)
    assert installs
    for command in installs:
        if "pip install" in command and "-r requirements/" not in command:
            # this repository's own distributions: editable, nothing resolved
            assert "--no-deps" in command and "--no-build-isolation" in command, command
        elif "pip" in command:
            assert "--require-hashes" in command, command
        else:
            assert command.split()[1:3] == ["ci", "--no-audit"] or " ci " in command, command


def test_check_runs_without_the_venv():
    """make install checks the lock before .venv exists: the script needs only the standard library."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", str(REPO_ROOT / "requirements" / "lock.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
