"""The import graph has no cycles: a reader can follow any thread through the code from
top to bottom, and every wing can be understood without the ones above it."""

from __future__ import annotations

import grimp
import pytest

PACKAGES = ("app", "domain", "eventstore")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(module: str) -> None:
        index[module] = low[module] = counter[0]
        counter[0] += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others(graph):
    modules = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    assert _cycles(graph, modules) == []


def test_no_wing_imports_itself_through_other_wings(graph):
    """Wings (app.project, app.history, app.training, app.ui, app.cli, and the packages of
    domain) form no circle either: arrows between them all run one way."""
    wings: dict[str, set[str]] = {}
    for module in graph.modules:
        parts = module.split(".")
        if parts[0] in PACKAGES:
            wings.setdefault(".".join(parts[:2]), set()).add(module)
    arrows = {
        (a, b)
        for a, members in wings.items()
        for b, others in wings.items()
        if a != b
        and a.split(".")[0] == b.split(".")[0]
        and any(graph.direct_import_exists(importer=m, imported=o) for m in members for o in others)
    }
    circles = [(a, b) for a, b in arrows if (b, a) in arrows]
    assert circles == []
