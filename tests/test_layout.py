"""The house rules of the code base, measured on the code itself (issue #14).

- no module of the packages or the study code over 400 lines;
- at most 3 functions over 60 lines;
- no import cycle between project modules, function-local imports included;
- argparse only in the command-line package (``harness/cli``) and in study scripts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nasi", "benchmarks", "harness", "studies")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_LONG_FUNCTIONS = 3


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project packages."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _long_functions() -> list[tuple[str, int]]:
    long = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append((f"{name}.{node.name}", length))
    return sorted(long, key=lambda item: -item[1])


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if not MODULES[module].name == "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _project_target(name: str) -> str | None:
    """The project module an imported name lives in (longest known prefix)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, set[str]]:
    """module -> project modules it imports, at any depth of the file.

    ``from pkg import sub`` counts as importing ``pkg.sub`` when that is a module. Importing a
    package's ``__init__`` is counted as such, so a package that re-exports its children is a
    cycle only when a child imports the package back."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, node)
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for target in targets:
                found = _project_target(target)
                if found and found != module:
                    graph[module].add(found)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_no_module_over_400_lines():
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    over = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_at_most_three_long_functions():
    long = _long_functions()
    assert len(long) <= MAX_LONG_FUNCTIONS, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_no_import_cycle():
    graph = import_graph()
    # A package __init__ that re-exports from its own children is not a cycle of concerns.
    for module, targets in graph.items():
        graph[module] = {t for t in targets
                         if not (MODULES[module].name == "__init__.py" and t.startswith(module))}
    assert find_cycles(graph) == []


def test_cycle_finder():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_import_graph_includes_function_local_imports():
    local = [(name, node) for name, tree in TREES.items() for fn in ast.walk(tree)
             if isinstance(fn, ast.FunctionDef) for node in ast.walk(fn)
             if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
             and node.module.split(".")[0] in PACKAGES]
    graph = import_graph()
    assert local, "expected some function-local project imports to check"
    for name, node in local:
        targets = {_project_target(f"{node.module}.{alias.name}") for alias in node.names}
        assert targets & (graph[name] | {name})


@pytest.mark.parametrize("package", ["nasi", "benchmarks", "harness"])
def test_argparse_only_in_the_command_line_package(package):
    users = []
    for name, tree in TREES.items():
        if not name.startswith(package + ".") and name != package:
            continue
        if name.startswith("harness.cli"):
            continue
        for node in ast.walk(tree):
            imported = []
            if isinstance(node, ast.Import):
                imported = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported = [node.module or ""]
            if "argparse" in imported:
                users.append(name)
    assert users == []
