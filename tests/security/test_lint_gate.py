"""Gate: `make lint` (ruff check, ruff format --check, pyright with the project's configuration) fails on
bad code. Each tool runs on files written to a temporary folder, never on the repository's own files."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.security.conftest import REPO_ROOT, VENV_BIN

PYPROJECT = REPO_ROOT / "pyproject.toml"
# Unused and unsorted imports on one line (pycodestyle, pyflakes, isort), a mutable default (bugbear).
BAD_LINT = "import sys, os\n\n\ndef remember(seen=[]):\n    return seen\n"
LOOSE = "def identity(value):\n    return value\n"
WRONG_TYPE = 'count: int = "three"\n'


def run(*command: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_make_lint_runs_the_three_tools_on_the_whole_repository() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no lint target in the Makefile"
    assert recipe[1].split("\n")[:3] == [
        "\t$(BIN)/ruff check .",
        "\t$(BIN)/ruff format --check .",
        "\t$(BIN)/pyright",
    ]


def test_ruff_check_reports_the_projects_rules(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD_LINT)
    result = run(VENV_BIN / "ruff", "check", "--config", PYPROJECT, "--output-format", "concise", bad)
    assert result.returncode == 1, result.stdout + result.stderr
    reported = set(re.findall(r": ([A-Z]+\d+) ", result.stdout))
    assert {"E401", "F401", "I001", "B006"} <= reported, result.stdout


def test_ruff_format_check_reports_an_unformatted_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("x = {'a':1}\n")
    result = run(VENV_BIN / "ruff", "format", "--check", "--config", PYPROJECT, bad)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "would be reformatted" in result.stdout
    assert bad.read_text() == "x = {'a':1}\n"  # --check changes nothing


@pytest.fixture
def pyright_project(tmp_path: Path) -> Path:
    """A folder with the project's [tool.pyright] settings (its own venv) and the same layout."""
    settings = tomllib.loads(PYPROJECT.read_text())["tool"]["pyright"]
    assert "ecs_service_discovery/constructs" in settings["strict"] and "tests" in settings["include"]
    settings["venvPath"] = str(REPO_ROOT)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(settings))
    for folder in ("ecs_service_discovery/constructs", "tests"):
        (tmp_path / folder).mkdir(parents=True)
    return tmp_path


def pyright_errors(project: Path) -> set[tuple[str, str]]:
    result = run(VENV_BIN / "pyright", "-p", project / "pyrightconfig.json", "--outputjson", cwd=project)
    report = json.loads(result.stdout)
    errors = {
        (Path(diagnostic["file"]).relative_to(project).as_posix(), diagnostic.get("rule", ""))
        for diagnostic in report["generalDiagnostics"]
        if diagnostic["severity"] == "error"
    }
    assert (result.returncode != 0) == bool(errors), result.stdout[-2000:]
    return errors


def test_pyright_is_strict_on_the_library_and_standard_on_tests(pyright_project: Path) -> None:
    (pyright_project / "ecs_service_discovery/constructs/loose.py").write_text(LOOSE)
    (pyright_project / "tests/loose.py").write_text(LOOSE)
    (pyright_project / "tests/wrong.py").write_text(WRONG_TYPE)

    errors = pyright_errors(pyright_project)

    # An unannotated parameter fails the library, which is typed for its users, not a test module.
    assert ("ecs_service_discovery/constructs/loose.py", "reportMissingParameterType") in errors
    assert not {error for error in errors if error[0] == "tests/loose.py"}
    # A wrong type fails everywhere.
    assert ("tests/wrong.py", "reportAssignmentType") in errors
