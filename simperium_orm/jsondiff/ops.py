"""Checking and applying jsondiff operations; the layer :mod:`simperium_orm.jsondiff` builds on."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, Final

from ..errors import InvalidDiff
from ..protocol import MISSING, loads
from . import text as _td

OP_CODES: Final = frozenset({"+", "-", "r", "I", "O", "L", "dL", "d"})
_INDEX = re.compile("[0-9]+")
_TARGET_KIND: Final = {"O": "dict", "L": "list", "dL": "list", "d": "str", "I": "number"}


# ----------------------------------------------------------------------------------- values


def kind(value: Any) -> str:
    """The JSON type of a value: null, bool, number, str, list or dict."""
    # bool before int: JSON true is not the number 1, even though Python says True == 1.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def json_equal(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal as JSON: ``1 == 1.0`` but ``True != 1``."""
    a_kind = kind(a)
    if a_kind != kind(b):
        return False
    if a_kind == "dict":
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if a_kind == "list":
        return len(a) == len(b) and all(map(json_equal, a, b))
    return bool(a == b)


def copy(value: Any) -> Any:
    """A deep copy of a JSON value that shares no container with it (tuples become lists)."""
    if isinstance(value, dict):
        return {k: copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [copy(v) for v in value]
    return value


def fail(path: str, message: str) -> InvalidDiff:
    """An InvalidDiff that says where in the value the problem is (a JSON-pointer-like path)."""
    return InvalidDiff(f"{f'at {path}' if path else 'at the top level'}: {message}")


def _is_number(value: Any) -> bool:
    return kind(value) == "number" and not (isinstance(value, float) and not math.isfinite(value))


def _check_json(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise fail(path, f"object key {k!r} is not a string")
            _check_json(v, f"{path}/{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_json(v, f"{path}/{i}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise fail(path, f"{value} is not a JSON number")
    elif value is not None and not isinstance(value, (bool, int, str)):
        raise fail(path, f"{type(value).__name__} is not a JSON value")


# ------------------------------------------------------------------------------- validation


def check_object_diff(d: Any, path: str) -> None:
    """Raise InvalidDiff unless ``d`` is a well-formed object diff."""
    if not isinstance(d, dict):
        raise fail(path, f"an object diff must be a JSON object, not {type(d).__name__}")
    for key, op in d.items():
        if not isinstance(key, str):
            raise fail(path, f"object diff key {key!r} is not a string")
        check_op(op, f"{path}/{key}")


def check_op(op: Any, path: str) -> None:
    """Raise InvalidDiff unless ``op`` is a well-formed operation (recursively)."""
    if not isinstance(op, dict):
        raise fail(path, f'an operation must be an object {{"o": ..., "v": ...}}, not {op!r}')
    code = op.get("o")
    if not isinstance(code, str) or code not in OP_CODES:
        raise fail(path, f"unknown operation {code!r}")
    if code == "-":
        return
    if "v" not in op:
        raise fail(path, f"operation {code!r} needs a 'v'")
    v = op["v"]
    if code in ("+", "r"):
        _check_json(v, path)
    elif code == "O":
        check_object_diff(v, path)
    elif code == "L":
        for index, item in list_ops(v, path):
            check_op(item, f"{path}/{index}")
    elif code == "I":
        if not _is_number(v):
            raise fail(path, f"'I' needs a number, not {v!r}")
    elif not isinstance(v, str):
        raise fail(path, f"{code!r} needs a delta string, not {type(v).__name__}")
    else:
        try:
            _td.check_syntax(v)
        except _td.DeltaError as exc:
            raise fail(path, str(exc)) from None


def list_ops(d: Any, path: str) -> Iterator[tuple[int, Any]]:
    """The (index, op) pairs of a list diff in numeric index order."""
    if not isinstance(d, dict):
        raise fail(path, f"a list diff must be a JSON object, not {type(d).__name__}")
    ops: dict[int, Any] = {}
    for key, op in d.items():
        if isinstance(key, str) and _INDEX.fullmatch(key):
            index = int(key)
        elif isinstance(key, int) and not isinstance(key, bool) and key >= 0:
            index = key
        else:
            raise fail(path, f"list diff key {key!r} is not a non-negative index")
        if index in ops:
            raise fail(path, f"list diff names index {index} twice")
        ops[index] = op
    # Numeric order: the reference implementations sort the keys as text ("10" < "2").
    return iter(sorted(ops.items()))


# ------------------------------------------------------------------------------------ apply


def apply_object(obj: dict[str, Any], d: dict[str, Any], path: str) -> dict[str, Any]:
    """Apply a checked object diff; keys keep their order, added keys come last."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        op = d.get(key)
        if op is None:
            out[key] = copy(value)
        else:
            new = apply_op(value, op, f"{path}/{key}")
            if new is not MISSING:
                out[key] = new
    for key, op in d.items():
        if key not in obj:
            out[key] = apply_op(MISSING, op, f"{path}/{key}")
    return out


def apply_list(items: list[Any], d: dict[str, Any], path: str) -> list[Any]:
    """Apply a checked list diff the way the Python reference does.

    Indexes run in ascending order; each lands at ``index - (deletes done so far)``, and ``+``
    inserts before that position (JavaScript's splice there replaces; Python's insert wins).
    """
    out = [copy(v) for v in items]
    deleted = 0
    for index, op in list_ops(d, path):
        at = index - deleted
        where = f"{path}/{index}"
        if op["o"] == "+":
            if at > len(out):
                raise fail(where, f"'+' inserts past the end of a list of {len(out)}")
            out.insert(at, copy(op["v"]))
        elif at >= len(out):
            raise fail(where, f"{op['o']!r} names an element past the end of a list of {len(out)}")
        elif op["o"] == "-":
            del out[at]
            deleted += 1
        else:
            out[at] = apply_op(out[at], op, where)
    return out


def list_to_lines(items: list[Any]) -> str:
    """The text a ``dL`` delta edits: each element as compact ASCII JSON plus a newline."""
    return "".join(json.dumps(v, separators=(",", ":")) + "\n" for v in items)


def lines_to_list(text: str, path: str) -> list[Any]:
    """Read back the elements of a ``dL`` text; InvalidDiff if a line is not JSON."""
    try:
        items = [loads(line) for line in text.split("\n") if line]
    except ValueError as exc:
        raise fail(path, f"'dL' leaves a line that is not JSON ({exc})") from None
    return items


def apply_op(value: Any, op: dict[str, Any], path: str) -> Any:
    """Apply a checked operation; ``value`` may be MISSING, and so may the result."""
    code = op["o"]
    if code == "+":
        if value is not MISSING:
            raise fail(path, "'+' adds a value that is already there")
        return copy(op["v"])
    if value is MISSING:
        raise fail(path, f"{code!r} changes a value that is not there")
    if code == "-":
        return MISSING
    if code == "r":
        return copy(op["v"])
    target = _TARGET_KIND[code]
    if kind(value) != target:
        raise fail(path, f"{code!r} applies to a {target}, not to {type(value).__name__}")
    if code == "O":
        return apply_object(value, op["v"], path)
    if code == "L":
        return apply_list(value, op["v"], path)
    if code == "I":
        return value + op["v"]
    try:
        if code == "dL":
            return lines_to_list(_td.apply_delta(list_to_lines(value), op["v"]), path)
        return _td.apply_delta(value, op["v"])
    except _td.DeltaError as exc:
        raise fail(path, str(exc)) from None
