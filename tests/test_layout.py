"""The house rules of the code's layout (docs/architecture.md), read from the source with ``ast``.

- ``volunteers/`` is the ground floor: nothing in it imports ``communities``.
- No import circle between modules, counting module-level imports only: the one circle allowed
  is a Celery task importing its service inside the task body.
- No import inside a function body from the other app.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("communities", "volunteers", "config")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or "deploy" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module ``name`` refers to (``a.b.c`` may be a name inside module ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            module = _resolve(target)
            if module:
                found.append((module, id(node) in top))
    return found


def test_volunteers_imports_nothing_from_communities():
    offenders = [
        f"{name} imports {target}"
        for name, path in MODULES.items()
        if name.startswith("volunteers")
        for target, _ in _imports(path)
        if target.startswith("communities")
    ]
    assert offenders == []


def test_no_function_body_import_across_the_apps():
    offenders = [
        f"{name} imports {target} in a function"
        for name, path in MODULES.items()
        for target, at_top in _imports(path)
        if not at_top
        and target.split(".")[0] != name.split(".")[0]
        and target.split(".")[0] != "config"
        and name.split(".")[0] != "config"
    ]
    assert offenders == []


def test_no_import_circle_at_module_level():
    graph = {
        name: {target for target, at_top in _imports(path) if at_top and target != name}
        for name, path in MODULES.items()
    }
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert cycles == []


def test_the_guard_sees_an_import():
    # The scan itself: a module known to import another is seen doing so.
    assert ("communities.services.locks", True) in _imports(MODULES["communities.services.signup"])
