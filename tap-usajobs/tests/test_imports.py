"""The tap's modules import one another without a cycle.

A cycle works only while every module happens to be imported in the right order (search.py
once imported streams.py, which imports it). Imports under ``if TYPE_CHECKING:`` and inside
functions do not run when a module loads, so only module-level imports count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tap_usajobs

PACKAGE = Path(tap_usajobs.__file__).parent


def _module_imports(path: Path) -> set[str]:
    """The tap_usajobs modules ``path`` imports when it loads."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module == "tap_usajobs":
            found |= {f"tap_usajobs.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tap_usajobs."):
            found.add(str(node.module))
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("tap_usajobs.")}
    return found


def _graph() -> dict[str, set[str]]:
    modules = {f"tap_usajobs.{path.stem}": path for path in PACKAGE.glob("*.py")}
    return {name: _module_imports(path) & modules.keys() for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph[module]):
            if found := visit(imported, [*path, module]):
                return found
        done.add(module)
        return None

    for module in sorted(graph):
        if found := visit(module, []):
            return found
    return None


def test_the_modules_import_one_another_without_a_cycle() -> None:
    graph = _graph()
    assert "tap_usajobs.search" in graph["tap_usajobs.streams"]  # the graph is read at all
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_a_cycle_is_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
