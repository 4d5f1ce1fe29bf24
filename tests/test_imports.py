"""The module graph: no import cycles (function-level imports count; ``if TYPE_CHECKING:``
blocks do not), the store is the only module that speaks SQL, and the features and stopping
packages sit below it."""

from __future__ import annotations

import ast
from pathlib import Path

import prioritiser

PACKAGE = Path(prioritiser.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """The prioritiser modules ``path`` imports by name (``from a.b import c`` names ``a.b.c``
    when that is a module, else ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {id(node) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for node in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in imported_modules(path, set(paths)) if m != name}
            for name, path in paths.items()}


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert "prioritiser.store.project" in graph and "prioritiser.cli" in graph
    cycles = sorted(name for name in graph if name in reachable(graph, name))
    assert cycles == [], f"modules on an import cycle: {cycles}"


def test_features_and_stopping_sit_below_the_store():
    graph = import_graph()
    for name in graph:
        if name.startswith(("prioritiser.features", "prioritiser.stopping", "prioritiser.learning")):
            above = {m for m in reachable(graph, name) if m.startswith("prioritiser.store")}
            assert not above, f"{name} reaches the store through {sorted(above)}"


def test_only_the_store_speaks_sql():
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        if name.startswith("prioritiser.store"):
            continue
        source = path.read_text(encoding="utf-8")
        for keyword in ("SELECT ", "INSERT ", "UPDATE ", ".execute(", "read_sql"):
            assert keyword not in source, f"{name} holds SQL ({keyword.strip()})"
