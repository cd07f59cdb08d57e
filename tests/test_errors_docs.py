"""The exception trees drawn in docs/errors.md and in ``errors``' docstring are the real one.

Every exception class that ``simperium_orm`` exports is drawn exactly once, under its nearest
exported base class, and nothing else is drawn: a new error cannot be left out of the docs.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import simperium_orm as so
from simperium_orm import errors

DOCS = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
TREE_LINE = re.compile(r"^(?P<indent>[ │├└─]*)(?P<name>[A-Z]\w+)(?:\s|$)")


def exported_errors() -> dict[str, type[BaseException]]:
    found = {}
    for name in so.__all__:
        value = getattr(so, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            found[name] = value
    return found


def drawn_parents(tree: str) -> dict[str, str | None]:
    """Each class name drawn in a box-drawing tree -> the name drawn above it (None: root)."""
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in tree.splitlines():
        match = TREE_LINE.match(line.rstrip())
        if not match:
            continue
        depth = len(match["indent"]) // 4
        name = match["name"]
        assert name not in parents, f"{name} is drawn twice"
        assert depth <= len(path), f"{name} is indented under nothing"
        del path[depth:]
        parents[name] = path[-1] if path else None
        path.append(name)
    return parents


def docs_tree() -> str:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"^```text\n(SimperiumError\n.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert match, "docs/errors.md draws no tree starting at SimperiumError"
    return match.group(1)


def docstring_tree() -> str:
    doc = errors.__doc__ or ""
    start = doc.rindex("\n", 0, doc.index("SimperiumError")) + 1
    return textwrap.dedent(doc[start : doc.index("\n\n", start)])


def nearest_exported_base(cls: type[BaseException], exported: set[str]) -> str | None:
    for base in cls.__mro__[1:]:
        if base.__name__ in exported and getattr(so, base.__name__) is base:
            return base.__name__
    return None


@pytest.mark.parametrize("tree", [docs_tree, docstring_tree], ids=["docs", "docstring"])
def test_the_tree_draws_every_exported_error_under_its_base(tree: Callable[[], str]) -> None:
    parents = drawn_parents(tree())
    exported = exported_errors()
    assert len(exported) > 10
    missing = sorted(set(exported) - set(parents))
    assert not missing, f"exported but not drawn: {missing}"
    stale = sorted(set(parents) - set(exported))
    assert not stale, f"drawn but not exported: {stale}"
    for name, cls in exported.items():
        assert parents[name] == nearest_exported_base(cls, set(exported)), name


def test_the_tree_parser_sees_what_is_wrong() -> None:
    right = "SimperiumError\n├── HTTPError   x\n│   └── NotFound  404\n└── BulkError\n"
    assert drawn_parents(right) == {
        "SimperiumError": None,
        "HTTPError": "SimperiumError",
        "NotFound": "HTTPError",
        "BulkError": "SimperiumError",
    }
    misplaced = "SimperiumError\n├── HTTPError\n└── NotFound\n"
    assert drawn_parents(misplaced)["NotFound"] == "SimperiumError"
    with pytest.raises(AssertionError, match="drawn twice"):
        drawn_parents("SimperiumError\n├── Alpha\n└── Alpha\n")
