"""Page cursors: a walk's state as an opaque string, and back (pure, no I/O).

A cursor carries what the next ``page()`` needs to go on exactly (see ``walk.py``): for an
index walk, the phase, the index version it started at and the mark of the next server page;
for an ordered query, nothing but the objects already returned. Both carry the ids of the
objects returned so far, so no object is returned twice whatever moves meanwhile. Ids that are
32 hex digits (the uuid4 hex ids this library and the official clients create) take 17 bytes,
others their length plus two; the whole is base64url text (about 23 characters a uuid id).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from simperium_orm.orm.walk import Walk
from simperium_orm.protocol import ID_PATTERN

__all__ = ["Cursor", "decode", "encode"]

_HEX_ID = re.compile(r"[0-9a-f]{32}")
_TEXT = re.compile(r"[\x21-\x7e]{1,1024}")  # a cv or a mark, as the server gave it


@dataclass
class Cursor:
    """A decoded cursor: an index ``walk`` (with its server page ``size``) or an ordered one."""

    kind: Literal["index", "ordered"]
    walk: Walk
    size: int = 0


def encode(cursor: Cursor) -> str:
    walk = cursor.walk
    head: dict[str, Any] = {"k": "o"}
    if cursor.kind == "index":
        head = {"k": "i", "c": walk.start, "s": walk.since, "m": walk.mark, "n": cursor.size}
        if walk.moved:
            head["v"] = 1
    raw = json.dumps(head, separators=(",", ":")).encode() + b"\n" + _pack(walk.yielded())
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str) -> Cursor:
    """The cursor ``text`` encodes; ``ValueError`` for anything ``encode`` did not make."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        head_raw, _, packed = raw.partition(b"\n")
        head = json.loads(head_raw)
        seen = _unpack(packed)
        cursor = _from_head(head, seen)
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        cursor = None
    if cursor is None:
        raise ValueError(f"invalid page cursor {text[:80]!r}: pass a cursor returned by page()")
    return cursor


def _from_head(head: Any, seen: set[str]) -> Cursor | None:
    if not isinstance(head, dict):
        return None
    if head == {"k": "o"}:
        return Cursor("ordered", Walk(seen=seen))
    if set(head) - {"v"} != {"k", "c", "s", "m", "n"} or head["k"] != "i":
        return None
    start, since, mark, size = head["c"], head["s"], head["m"], head["n"]
    if not all(_plain(v) for v in (start, since, mark)):
        return None
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1000:
        return None
    if head.get("v", 1) != 1:
        return None
    walk = Walk(start=start, since=since, mark=mark, moved="v" in head, seen=seen)
    return Cursor("index", walk, size)


def _plain(value: Any) -> bool:
    return value is None or (isinstance(value, str) and _TEXT.fullmatch(value) is not None)


def _pack(ids: Iterable[str]) -> bytes:
    out = bytearray()
    for item in sorted(ids):
        if _HEX_ID.fullmatch(item):
            out += b"\x00" + bytes.fromhex(item)
        else:
            data = item.encode("ascii")
            out += bytes((1, len(data) - 1)) + data
    return bytes(out)


def _unpack(packed: bytes) -> set[str]:
    ids, pos = set(), 0
    while pos < len(packed):
        tag = packed[pos]
        if tag == 0 and pos + 17 <= len(packed):
            ids.add(packed[pos + 1 : pos + 17].hex())
            pos += 17
        elif tag == 1 and pos + 2 <= len(packed):
            end = pos + 2 + packed[pos + 1] + 1
            item = packed[pos + 2 : end].decode("ascii")
            if end > len(packed) or not ID_PATTERN.fullmatch(item):
                raise ValueError("bad id in cursor")
            ids.add(item)
            pos = end
        else:
            raise ValueError("bad cursor")
    return ids
