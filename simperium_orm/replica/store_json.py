"""How the replica's file writes JSON, and names a value inside it (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["dumps", "json_path"]

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(value: Any) -> str:
    """An object's data as the file keeps it: compact JSON text (NaN and infinity refused)."""
    return _ENCODER.encode(value)


# Keys that can stand in a JSON path unquoted-safe; others are filtered in Python.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]{1,128}")


def json_path(steps: Sequence[str]) -> str | None:
    """The SQLite JSON path of a key path (``$."a"."b"``), or None when a key cannot be one."""
    if not all(_PLAIN_KEY.fullmatch(step) for step in steps):
        return None
    return "$" + "".join(f'."{step}"' for step in steps)
