"""Pure decoding of a change-feed round: one :class:`Change` per version, in feed order.

A round is the list of change objects one ``/changes`` or ``/all`` call returned (oldest
first). Each object change (``o`` ``M`` or ``-``) becomes a :class:`Change`; changes the listener
must not signal (its own, and versions already delivered) are kept, marked ``emit=False``,
because their diffs still carry the object from one version to the next.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Kind = Literal["created", "updated", "deleted"]

__all__ = ["Change", "Kind", "Round", "decode_round", "split_id"]


class Change(NamedTuple):
    """One version of one object, as the feed reported it (a tuple: one is made per change)."""

    #: the raw id: ``userid/key`` on ``/all``; the object's key in checkpoints and ghost stores
    name: str
    id: str
    userid: str | None
    kind: Kind
    #: the version the diff starts from (None for a creation)
    sv: int | None
    #: the version it ends at
    ev: int
    #: the object diff (None for a delete, or when the feed sent none that is an object)
    diff: dict[str, Any] | None
    #: the raw change object
    raw: dict[str, Any]
    #: False for the listener's own changes and versions already delivered: no signal
    emit: bool

    @property
    def fields(self) -> frozenset[str]:
        """The top-level keys the diff touches."""
        return frozenset(self.diff) if self.diff else frozenset()


@dataclass(frozen=True)
class Round:
    """A decoded round: its changes, and the raw entries it could not use."""

    changes: list[Change]
    #: object changes without a usable id or end version (a server that breaks the protocol)
    malformed: list[dict[str, Any]]
    #: whether a whole-bucket operation (``EMPTY``, ``DROP``) happened: every ghost is stale
    whole_bucket: bool


def split_id(raw_id: str, *, namespaced: bool) -> tuple[str | None, str]:
    """``userid/key`` -> ``(userid, key)`` on namespaced feeds (``/all``); else ``(None, id)``."""
    if namespaced and "/" in raw_id:
        userid, key = raw_id.split("/", 1)
        return userid, key
    return None, raw_id


def decode_round(
    changes: Iterable[dict[str, Any]],
    *,
    own_clientid: str | None = None,
    namespaced: bool = False,
    delivered: Mapping[str, int] | None = None,
) -> Round:
    """Decode a round: one :class:`Change` per object change, in feed order.

    Error entries are skipped. A modification without ``sv`` (or with ``sv`` 0) is a creation:
    a new object, or one created again after a delete. Changes by ``own_clientid``, and those
    at or below the version ``delivered`` records for their object, get ``emit=False``.
    """
    delivered = delivered or {}
    out: list[Change] = []
    malformed: list[dict[str, Any]] = []
    whole_bucket = False
    for raw in changes:
        if "error" in raw:
            continue
        op = raw.get("o")
        if op not in ("M", "-"):
            whole_bucket = whole_bucket or op in ("EMPTY", "DROP")
            continue
        raw_id, ev = raw.get("id"), raw.get("ev")
        if type(raw_id) is not str or not raw_id or type(ev) is not int:
            malformed.append(raw)
            continue
        userid, key = split_id(raw_id, namespaced=namespaced) if namespaced else (None, raw_id)
        sv = raw.get("sv")
        if type(sv) is not int or sv < 1:
            sv = None
        diff = raw.get("v")
        kind: Kind = "deleted" if op == "-" else "updated" if sv is not None else "created"
        own = own_clientid is not None and raw.get("clientid") == own_clientid
        out.append(
            Change(
                raw_id,
                key,
                userid,
                kind,
                sv,
                ev,
                diff if op == "M" and type(diff) is dict else None,
                raw,
                not own and delivered.get(raw_id, 0) < ev,
            )
        )
    return Round(out, malformed, whole_bucket)
