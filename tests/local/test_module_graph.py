"""The tools' modules import one another in one direction only (issue 21): no module imports
another that imports it back, directly or through a third. Every import counts, also those under
``if TYPE_CHECKING:`` and those inside a function: each is a dependency a reader must follow."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.local.conftest import REPO_ROOT

PACKAGE_ROOT = REPO_ROOT / "tools"
PACKAGE = "ecs_discovery_tools"


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((PACKAGE_ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that ``name`` imports, each as the most specific module that exists."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for candidate in candidates:
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
                break
    return targets


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, each as the path that closes it (depth-first search)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_the_import_graph_has_no_cycle():
    known = modules()
    graph = {name: imports(name, path, set(known)) for name, path in known.items()}

    # The graph is really read: the local run's command line reaches the scheduler through the deployment.
    assert "ecs_discovery_tools.local.deployment" in graph["ecs_discovery_tools.local.demo"]
    assert "ecs_discovery_tools.local.scheduler" in graph["ecs_discovery_tools.local.deployment"]
    assert sum(len(targets) for targets in graph.values()) >= 20
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_third_module():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
