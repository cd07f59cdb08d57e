"""Filters pushed into SQL: the part of a ``Q`` that SQLite can answer over the stored JSON.

A lookup becomes a condition on ``json_extract(data, '$."key"')`` (or the ``id``/``version``
columns) where SQLite compares values as Python would: text, integers and floats, prefixes
through a range (so an expression index on the field serves ``exact``, ``in``, ``gt``..``lte``
and ``startswith``), substrings with ``instr``. Each condition SQL gives is *necessary*: SQL may
keep a row the lookup would drop (a boolean stored where a number is compared), never the
reverse, and every row SQL keeps is checked again by the lookup's own predicate after
validation. A lookup SQL cannot state exactly (``isnull``, case folding, dates, negations, an
``OR`` with such a branch) is simply left to that check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel

from simperium_orm.orm.fieldtypes import STR, kinds_of
from simperium_orm.orm.lookups import FieldPath, Q, coerce, resolve_path, split_lookup
from simperium_orm.replica.store import json_path

__all__ = ["Condition", "index_paths", "where_of"]

#: SQL text and its parameters.
Condition = tuple[str, list[Any]]

_PLAIN = (str, int, float)
_COMPARE = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_TOP = 0x10FFFF


def _successor(prefix: str) -> str | None:
    """The least text greater than every text that starts with ``prefix`` (None: there is
    none), in code point order, which is SQLite's order of UTF-8 text."""
    stripped = prefix.rstrip(chr(_TOP))
    if not stripped:
        return None
    nxt = ord(stripped[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:  # surrogates are no characters of UTF-8 text
        nxt = 0xE000
    return stripped[:-1] + chr(nxt)


def where_of(model: type[BaseModel], qs: Iterable[Q]) -> Condition:
    """The AND of what SQL can state of each ``Q`` (``"1"`` when nothing)."""
    parts: list[str] = []
    params: list[Any] = []
    for q in qs:
        found = _q(model, q)
        if found is not None:
            parts.append(found[0])
            params.extend(found[1])
    return (" AND ".join(f"({p})" for p in parts) or "1"), params


def _q(model: type[BaseModel], q: Q) -> Condition | None:
    if q.negated:
        return None  # NOT of a necessary condition is not necessary
    found = [
        _q(model, child) if isinstance(child, Q) else _lookup(model, *child) for child in q.children
    ]
    if q.connector == "AND":
        kept = [c for c in found if c is not None]
        if not kept:
            return None
        return " AND ".join(f"({c[0]})" for c in kept), [p for c in kept for p in c[1]]
    if not found or any(c is None for c in found):
        return None  # an OR with a branch SQL cannot state keeps everything
    conds = [c for c in found if c is not None]
    return " OR ".join(f"({c[0]})" for c in conds), [p for c in conds for p in c[1]]


def _column(model: type[BaseModel], path: FieldPath) -> str | None:
    if path.steps[0] in ("id", "version") and len(path.steps) == 1:
        return path.steps[0]
    keys = _stored_keys(model, path.steps)
    found = None if keys is None else json_path(keys)
    return None if found is None else f"json_extract(data, '{found}')"


def _stored_keys(model: type[BaseModel], steps: tuple[str, ...]) -> list[str] | None:
    """The keys of ``steps`` as stored (aliases), or None where they cannot be told."""
    keys: list[str] = []
    current: Any = model
    for step in steps:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(step)
            if info is None:
                return None
            keys.append(info.alias or step)
            models = kinds_of(info.annotation).models
            current = models[0] if len(models) == 1 else None
        else:
            keys.append(step)  # a key inside a dict
            current = None
    return keys


def _value(value: Any) -> Any:
    """A target as SQLite compares it, or None when it has no plain SQL form."""
    if isinstance(value, bool):
        return int(value)
    return value if type(value) in _PLAIN else None


def _lookup(model: type[BaseModel], key: str, value: Any) -> Condition | None:
    parts, op = split_lookup(key)
    path = resolve_path(model, parts, key)
    column = _column(model, path)
    if column is None or value is None:
        return None
    if op == "exact":
        target = _value(coerce(path.annotation, value, key))
        return None if target is None else (f"{column} = ?", [target])
    if op == "in":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            return None
        values = list(value)
        if any(v is None for v in values):
            return None  # None also matches a missing key: left to the check
        targets = [_value(coerce(path.annotation, v, key)) for v in values]
        if any(t is None for t in targets):
            return None
        if not targets:
            return "0", []
        return f"{column} IN ({', '.join('?' * len(targets))})", targets
    if op in _COMPARE:
        target = _value(coerce(path.annotation, value, key))
        return None if target is None else (f"{column} {_COMPARE[op]} ?", [target])
    if op == "startswith" and isinstance(value, str) and value:
        upper = _successor(value)
        if upper is None:
            return f"{column} >= ?", [value]
        return f"{column} >= ? AND {column} < ?", [value, upper]
    if op in ("contains", "endswith") and isinstance(value, str) and value:
        if kinds_of(path.annotation).kinds != {STR}:
            return None  # contains on a list or dict means membership
        if op == "contains":
            return f"instr({column}, ?) > 0", [value]
        return f"substr({column}, -?) = ?", [len(value), value]
    return None


def index_paths(model: type[BaseModel]) -> list[tuple[str, ...]]:
    """The stored key paths of the fields named in the model's ``indexes``."""
    paths = []
    for name in getattr(model, "__indexes__", ()):
        path = resolve_path(model, name.split("__"), f"indexes ({name!r})")
        keys = _stored_keys(model, path.steps)
        if keys is not None:
            paths.append(tuple(keys))
    return paths
