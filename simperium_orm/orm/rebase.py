"""What a save sends, and how a copy's edits are rebased onto a newer version (pure).

A save of a loaded object sends the stored keys it changed, to the version it was loaded at;
the server merges them over whatever came between. When that version is no longer kept (a
server keeps a bounded history of each object, so a copy left open while others edit goes
stale), the server answers 404 as if the object were gone. The save then reads the current
object and rebases its edits itself, three-way, as the server would have: the copy's snapshot
is the base, its edits are one diff of it, the current state another, and
:func:`simperium_orm.jsondiff.transform` keeps both. Single saves and ``bulk_save`` share
these rules; the model and the bulk path do the I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from simperium_orm import jsondiff

__all__ = ["ATTEMPTS", "Write", "rebase", "rebased_write", "write_of"]

#: How many times a stale change is rebased onto a freshly read version and sent again before
#: the 404 is given up on (each round, other writers outran it past the kept history).
ATTEMPTS = 5


class Write(NamedTuple):
    """One ``POST i/{id}[/v/{version}]``: its body, base version and ``replace`` flag."""

    body: dict[str, Any]
    version: int | None
    replace: bool


def write_of(
    current: Mapping[str, Any], unknown: Mapping[str, Any], sent: Collection[str], version: int
) -> Write:
    """The write of the ``sent`` keys of ``current`` (a dump) made from ``version``.

    A merge sets keys and cannot remove one: when an extra key was removed, the whole object
    (with the ``unknown`` keys it was loaded with) is sent with ``replace`` to the same
    version, and the server, diffing it against that version, merges the removal too.
    """
    if any(key not in current for key in sent):
        return Write({**unknown, **current}, version, True)
    return Write({key: current[key] for key in sent}, version, False)


def rebase(
    saved: Mapping[str, Any],
    current: Mapping[str, Any],
    keys: Collection[str],
    server: Mapping[str, Any],
) -> dict[str, Any]:
    """The object diff that brings the copy's edits of ``keys`` onto ``server``'s data.

    ``saved`` is the copy's snapshot (the base), ``current`` its dump now; the server's data
    is a concurrent edit of the same base. Edits of different keys, list elements and text
    ranges merge; where both changed one value the copy wins (an edit beats a removal).
    Lists are diffed element by element, as the server does for a post from an old version.
    """

    def part(data: Mapping[str, Any]) -> dict[str, Any]:
        return {key: data[key] for key in keys if key in data}

    base = part(saved)
    mine = jsondiff.diff(base, part(current), list_diff=True)
    theirs = jsondiff.diff(base, part(server), list_diff=True)
    return jsondiff.transform(mine, theirs, base)


def rebased_write(
    saved: Mapping[str, Any],
    current: Mapping[str, Any],
    sent: Collection[str],
    server: Mapping[str, Any],
    version: int,
) -> Write | None:
    """The write that rebases the copy's ``sent`` edits onto ``server`` (at ``version``).

    None when the server's data already holds them (nothing is left to send).
    """
    merged = rebase(saved, current, sent, server)
    if not merged:
        return None
    after = jsondiff.apply(dict(server), merged, checked=True)
    if any(op["o"] == "-" for op in merged.values()):
        return Write(after, version, True)
    return Write({key: after[key] for key in merged}, version, False)
