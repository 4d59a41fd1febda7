"""The tap's modules import one another without a circle (TYPE_CHECKING imports count).

The tap knows its sources; a source does not know the tap. The graph is read with ``ast``
from the package's files, so an import inside ``if TYPE_CHECKING:`` or a function counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tap_msgreports

PACKAGE = Path(tap_msgreports.__file__).parent
#: Leaving the tap's wheel (issue 15, item 1): not part of the tap's graph.
NOT_THE_TAP = ("emulator", "demo")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def tap_modules() -> dict[str, Path]:
    found = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: path
        for name, path in found.items()
        if name.split(".")[1:2] not in ([part] for part in NOT_THE_TAP)
    }


def imported(tree: ast.AST, modules: dict[str, Path]) -> set[str]:
    """The package's modules a file imports.

    ``from pkg import module`` imports the module (its package's ``__init__`` runs first
    for any import of a module inside it, a parent edge left out as every checker does).
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            inside = {f"{node.module}.{alias.name}" for alias in node.names} & modules.keys()
            names.update(inside or {node.module})
    return {name for name in names if name in modules}


def import_graph() -> dict[str, set[str]]:
    modules = tap_modules()
    return {
        name: imported(ast.parse(path.read_text(encoding="utf-8")), modules) - {name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules along it, or None (depth-first search)."""
    done: set[str] = set()
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        if name in path:
            return [*path[path.index(name) :], name]
        if name in done:
            return None
        path.append(name)
        for target in sorted(graph[name]):
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(name)
        return None

    for name in sorted(graph):
        if cycle := visit(name):
            return cycle
    return None


def test_the_package_has_no_import_circle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_source_imports_the_tap() -> None:
    graph = import_graph()
    sources = [name for name in graph if name.count(".") >= 1 and name != "tap_msgreports.tap"]
    assert not [name for name in sources if "tap_msgreports.tap" in graph[name]]


def test_the_search_finds_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_type_checking_imports() -> None:
    source = "import typing as t\nif t.TYPE_CHECKING:\n    from tap_msgreports import tap\n"
    tree = ast.parse(source)
    assert imported(tree, tap_modules()) == {"tap_msgreports.tap"}
