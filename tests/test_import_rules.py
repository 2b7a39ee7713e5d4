"""The package's layering, read from the source with ``ast``: who may import whom, and no cycles.

The rules (docs/internals.md, "Layers"):

- ``engine`` imports nothing of grpc, pytest, ``server``, ``sdk``, ``plugin`` or ``cli``;
- ``server`` imports nothing of ``sdk``, ``plugin``, ``cli`` nor the package root ``pytest_rime``;
- ``sdk`` imports nothing of ``server``, ``engine``, ``plugin`` or ``cli``;
- ``plugin`` imports nothing of ``engine``, ``server`` or ``cli``;
- ``report`` (pure rendering: the standard library, jinja2 and ``vocabulary``) imports nothing
  of grpc, pytest, ``engine``, ``server``, ``sdk``, ``plugin``, ``cli`` nor the package root;
- no module imports itself back through any chain of imports (function-level imports count;
  imports under ``if TYPE_CHECKING:`` do not run, so they do not).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "pytest_rime"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "engine": (
        "grpc",
        "pytest",
        "pytest_rime.server",
        "pytest_rime.sdk",
        "pytest_rime.plugin",
        "pytest_rime.cli",
    ),
    "server": ("pytest_rime.sdk", "pytest_rime.plugin", "pytest_rime.cli", "pytest_rime"),
    "sdk": ("pytest_rime.server", "pytest_rime.engine", "pytest_rime.plugin", "pytest_rime.cli"),
    "plugin": ("pytest_rime.engine", "pytest_rime.server", "pytest_rime.cli"),
    "report": (
        "grpc",
        "pytest",
        "pytest_rime.engine",
        "pytest_rime.server",
        "pytest_rime.sdk",
        "pytest_rime.plugin",
        "pytest_rime.cli",
        "pytest_rime",
    ),
}


@dataclass(frozen=True)
class Import:
    """One import statement's target as a dotted module name, where it stands."""

    source: str
    target: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if not path.name.endswith(("_pb2.py", "_pb2_grpc.py", "_pb2.pyi"))
    }


def is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, skipping ``if TYPE_CHECKING:`` bodies."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if is_type_checking_block(node):
            assert isinstance(node, ast.If)
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """The modules ``name`` imports; ``from pkg import sub`` names ``pkg.sub`` when it exists."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[Import] = []
    for node in runtime_import_nodes(tree):
        if isinstance(node, ast.Import):
            found.extend(Import(name, alias.name, node.lineno) for alias in node.names)
            continue
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            prefix = ".".join([*base, node.module] if node.module else base)
        else:
            prefix = node.module or ""
        for alias in node.names:
            candidate = f"{prefix}.{alias.name}"
            found.append(Import(name, candidate if candidate in known else prefix, node.lineno))
    return found


def all_imports() -> list[Import]:
    modules = package_modules()
    known = set(modules)
    return [found for name, path in modules.items() for found in imports_of(name, path, known)]


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == PACKAGE else None


def breaks_rule(found: Import) -> bool:
    layer = layer_of(found.source)
    if layer is None:
        return False
    for banned in FORBIDDEN.get(layer, ()):
        if banned == PACKAGE:
            if found.target == PACKAGE:
                return True
        elif found.target == banned or found.target.startswith(banned + "."):
            return True
    return False


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def test_layers_import_only_what_they_may() -> None:
    broken = [f"{i.source}:{i.line} imports {i.target}" for i in all_imports() if breaks_rule(i)]
    assert broken == []


def test_no_import_cycle_in_the_package() -> None:
    modules = package_modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for found in all_imports():
        if found.target in modules and found.target != found.source:
            edges[found.source].add(found.target)
    assert find_cycles(edges) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from pytest_rime.engine import context\n", "pytest_rime.engine.context"),
        ("from . import context\n", "pytest_rime.engine.context"),
        ("from ..server import app\n", "pytest_rime.server.app"),
        ("import grpc\n", "grpc"),
    ],
)
def test_imports_resolve_to_modules(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "metrics.py"
    path.write_text(source, encoding="utf-8")
    known = {"pytest_rime.engine.context", "pytest_rime.server.app"}
    assert [i.target for i in imports_of("pytest_rime.engine.metrics", path, known)] == [expected]


def test_type_checking_imports_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "metrics.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import grpc\n"
        "def f() -> None:\n    import pytest\n",
        encoding="utf-8",
    )
    targets = [i.target for i in imports_of("pytest_rime.engine.metrics", path, set())]
    assert sorted(targets) == ["pytest", "typing"]


def test_rules_and_cycles_are_detected() -> None:
    assert breaks_rule(Import("pytest_rime.engine.run", "grpc", 1))
    assert breaks_rule(Import("pytest_rime.server.jobs", "pytest_rime", 1))
    assert not breaks_rule(Import("pytest_rime.server.jobs", "pytest_rime.engine.run", 1))
    assert breaks_rule(Import("pytest_rime.plugin.session", "pytest_rime.server.embedded", 1))
    assert breaks_rule(Import("pytest_rime.report.views", "pytest_rime.engine.results", 1))
    assert breaks_rule(Import("pytest_rime.report.pages", "pytest_rime", 1))
    assert not breaks_rule(Import("pytest_rime.report.pages", "pytest_rime.vocabulary", 1))
    assert not breaks_rule(Import("pytest_rime.plugin.gate", "pytest_rime.report.gating", 1))
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
