"""The import rules of docs/architecture.md, read from the source.

Each module's imports are read with ``ast``: module-level imports (run at import time),
imports under ``if TYPE_CHECKING:`` (for annotations only) and imports inside functions
(deferred until called) are told apart.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import simperium_orm

PACKAGE = Path(simperium_orm.__file__).resolve().parent


@dataclass
class Imports:
    runtime: set[str] = field(default_factory=set)  # run when the module is imported
    typing: set[str] = field(default_factory=set)  # under TYPE_CHECKING
    deferred: set[str] = field(default_factory=set)  # inside a function body

    @property
    def all(self) -> set[str]:
        return self.runtime | self.typing | self.deferred


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _targets(node: ast.Import | ast.ImportFrom, here: str, is_package: bool) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    base = node.module or ""
    if node.level:
        anchor = here.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    found = {base}
    for alias in node.names:  # "from pkg import module" imports that module
        if f"{base}.{alias.name}" in MODULES:
            found.add(f"{base}.{alias.name}")
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str) -> Imports:
    path = MODULES[name]
    tree = ast.parse(path.read_text(), str(path))
    found = Imports()
    is_package = path.name == "__init__.py"

    def visit(nodes: list[ast.stmt], kind: str) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                getattr(found, kind).update(_targets(node, name, is_package))
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.body, "typing")
                visit(node.orelse, kind)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node.body, "deferred")
            elif isinstance(node, ast.ClassDef):
                visit(node.body, kind)
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        visit([child], kind)

    visit(tree.body, "runtime")
    return found


IMPORTS = {name: imports_of(name) for name in MODULES}


def internal(targets: set[str]) -> set[str]:
    return {t for t in targets if t in MODULES}


def wing(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_package_imports_no_server_or_cli_dependency() -> None:
    code = (
        "import sys, simperium_orm\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('starlette', 'uvicorn', 'httptools', 'tqdm', 'h11', 'websockets') "
        "or m.split('.')[:2] in (['simperium_orm', 'server'], ['simperium_orm', 'cli']))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("name", sorted(n for n in MODULES if wing(n) == "server"))
def test_the_server_imports_only_jsondiff_errors_and_protocol(name: str) -> None:
    allowed = ("simperium_orm.server", "simperium_orm.jsondiff")
    for target in internal(IMPORTS[name].all):
        assert target.startswith(allowed) or target in (
            "simperium_orm",
            "simperium_orm.errors",
            "simperium_orm.protocol",
        ), f"{name} imports {target}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_wire_imports_the_http_library(name: str) -> None:
    libraries = ("requests", "urllib3", "aiohttp", "httpx", "httpcore")
    http = {t for t in IMPORTS[name].all if t.split(".")[0] in libraries}
    if wing(name) != "wire":
        assert not http, f"{name} imports {sorted(http)}"
    if any(t.split(".")[0] in ("aiohttp", "httpx") for t in http):
        assert name == "simperium_orm.wire.aio", f"{name}: only wire/aio.py sends from asyncio"


def test_the_package_imports_no_async_http_library_until_used() -> None:
    code = (
        "import sys, simperium_orm\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aiohttp', 'httpx', 'asyncio'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "aiohttp" not in result.stdout and "httpx" not in result.stdout


@pytest.mark.parametrize("name", sorted(n for n in MODULES if wing(n) in ("jsondiff",)))
def test_jsondiff_is_pure(name: str) -> None:
    for target in internal(IMPORTS[name].all):
        assert target.startswith("simperium_orm.jsondiff") or target in (
            "simperium_orm",
            "simperium_orm.errors",
            "simperium_orm.protocol",
        ), f"{name} imports {target}"


@pytest.mark.parametrize("name", ["simperium_orm.protocol", "simperium_orm.errors"])
def test_the_shared_rules_import_nothing_of_the_house(name: str) -> None:
    assert internal(IMPORTS[name].all) <= {"simperium_orm", "simperium_orm.errors"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_client_side_never_imports_the_server(name: str) -> None:
    if wing(name) in ("server", "testing", "cli"):
        return  # testing runs the server in a thread; cli's serve command starts it
    servers = {t for t in internal(IMPORTS[name].all) if wing(t) == "server"}
    assert not servers, f"{name} imports {sorted(servers)}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's nodes, found by a depth-first search from each node."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in edges.get(node, ()):
            if nxt == start:
                i = path.index(min(path))
                found.add(tuple(path[i:] + path[:i]))
            elif nxt > start and nxt not in path:
                walk(start, nxt, [*path, nxt])

    for start in sorted(edges):
        walk(start, start, [start])
    return [list(c) for c in sorted(found)]


def _drop_parent_packages(name: str, targets: set[str]) -> set[str]:
    # A module's own package runs first when it is imported: not an edge of a circle.
    return {t for t in targets if not name.startswith(t + ".") and t not in ("simperium_orm", name)}


def test_no_import_circle_at_import_time() -> None:
    edges = {n: _drop_parent_packages(n, internal(i.runtime)) for n, i in IMPORTS.items()}
    assert _cycles(edges) == []


def test_the_only_circles_are_type_only_ones_through_model_and_manager() -> None:
    """Annotations only: ``Model.objects`` (the manager) is the model's door to its querysets
    and listener, which annotate with the model. Nothing else may close a circle."""
    edges = {
        n: _drop_parent_packages(n, internal(i.runtime | i.typing)) for n, i in IMPORTS.items()
    }
    for cycle in _cycles(edges):
        assert {"simperium_orm.orm.model", "simperium_orm.orm.manager"} <= set(cycle), cycle
        steps = zip(cycle, cycle[1:] + cycle[:1], strict=True)
        assert any(b not in IMPORTS[a].runtime for a, b in steps), f"runtime circle {cycle}"
