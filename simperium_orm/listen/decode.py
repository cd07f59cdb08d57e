"""Pure decoding of a change-feed round into one remote event per object.

A round is the list of change objects one ``/changes`` or ``/all`` call returned (oldest
first). Several changes to one object in a round fold into one event: its kind is decided by
the last operation, ``changed_fields`` is the union of the top-level keys the diffs touched,
and ``version`` is the last end version.

:func:`consistent_end` decides how much of a round can be delivered with object data read after
it: the data must be at the version the round ends each object with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["created", "updated", "deleted"]


@dataclass(frozen=True)
class RemoteChange:
    """One object's net change within a round."""

    kind: Kind
    id: str
    userid: str | None
    version: int | None
    changed_fields: frozenset[str]
    #: the last raw change object for this object in the round
    change: Mapping[str, Any]
    #: the object's data when the feed carried it (``/all`` with ``data=1``), else None
    data: Mapping[str, Any] | None
    has_data: bool


def split_id(raw_id: str, *, namespaced: bool) -> tuple[str | None, str]:
    """``userid/key`` -> ``(userid, key)`` on namespaced feeds (``/all``); else ``(None, id)``."""
    if namespaced and "/" in raw_id:
        userid, key = raw_id.split("/", 1)
        return userid, key
    return None, raw_id


def decode_round(
    changes: Iterable[Mapping[str, Any]],
    *,
    own_clientid: str | None = None,
    namespaced: bool = False,
) -> list[RemoteChange]:
    """Fold a round of raw changes into net per-object changes, in order of last change.

    Changes made by ``own_clientid``, error entries, entries without an id and operations other
    than ``M`` and ``-`` (``EMPTY``, ``DROP``: whole-bucket operations) are skipped.
    """
    groups: dict[tuple[str | None, str], list[Mapping[str, Any]]] = {}
    for change in changes:
        raw_id = change.get("id")
        if not isinstance(raw_id, str) or "error" in change or change.get("o") not in ("M", "-"):
            continue
        if own_clientid is not None and change.get("clientid") == own_clientid:
            continue
        key = split_id(raw_id, namespaced=namespaced)
        # Re-inserting moves the object to the end: events follow each object's last change.
        group = groups.pop(key, [])
        group.append(change)
        groups[key] = group
    return [_fold(userid, key, group) for (userid, key), group in groups.items()]


def _fold(userid: str | None, key: str, group: list[Mapping[str, Any]]) -> RemoteChange:
    last = group[-1]
    version = end_version(last)
    if last.get("o") == "-":
        return RemoteChange(
            "deleted", key, userid, version, frozenset(), last, None, has_data=False
        )
    since_delete: list[Mapping[str, Any]] = []
    for change in group:
        if change.get("o") == "-":
            since_delete = []
        else:
            since_delete.append(change)
    first = since_delete[0]
    created = "sv" not in first or first.get("sv") in (None, 0)
    fields: set[str] = set()
    for change in since_delete:
        diff = change.get("v")
        if isinstance(diff, Mapping):
            fields.update(str(k) for k in diff)
    data = last.get("d")
    return RemoteChange(
        "created" if created else "updated",
        key,
        userid,
        version,
        frozenset(fields),
        last,
        data if isinstance(data, Mapping) else None,
        has_data="d" in last,
    )


def end_version(change: Mapping[str, Any]) -> int | None:
    """The change's end version ``ev``, or None when it has none."""
    ev = change.get("ev")
    return ev if isinstance(ev, int) and not isinstance(ev, bool) else None


def consistent_end(changes: Sequence[Mapping[str, Any]], versions: Mapping[str, int]) -> int:
    """How many leading ``changes`` agree with ``versions`` (raw id -> version read later).

    An object whose version in ``versions`` is newer than the last end version the prefix has
    for it changed again after the round was read; its data does not belong to this round. The
    answer is the longest prefix with no such object (0 when even the first change's object
    moved on). Every change counts, the listener's own included.
    """
    end = len(changes)
    while end:
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        for number, change in enumerate(changes[:end]):
            raw_id, ev = change.get("id"), end_version(change)
            if isinstance(raw_id, str) and ev is not None:
                first.setdefault(raw_id, number)
                last[raw_id] = ev
        moved = [first[i] for i, ev in last.items() if i in versions and versions[i] > ev]
        if not moved:
            return end
        end = min(moved)
    return 0
