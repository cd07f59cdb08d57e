"""Applying changes: merge/replace posts, stale-version transforms, deletes and bulk entries.

Every write goes through :meth:`Writer.commit`, one transaction that appends the change to the
log and moves the object's head. Concurrent edits are merged with :mod:`simperium_orm.jsondiff`:
a change computed from an older version is transformed over each newer retained version.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from simperium_orm import jsondiff, protocol
from simperium_orm.protocol import ID_PATTERN, TOKEN_PATTERN
from simperium_orm.server.config import ServerConfig
from simperium_orm.server.store import ChangeRow, ObjectRow, Store

#: Deepest nesting of arrays and objects a request body may have. Merging, diffing and
#: transforming recurse once or more per level, so this keeps them far from Python's limit.
MAX_DEPTH = 100

JSONDict = dict[str, Any]


class ChangeError(Exception):
    """A change was refused with ``status``; ``version`` is the object's current version."""

    def __init__(self, status: int, message: str, version: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.version = version


@dataclass(frozen=True)
class Applied:
    """A committed change: its change object, the new version and the new data text."""

    change: JSONDict
    version: int
    data: str | None


class TooDeep(ValueError):
    """JSON nested deeper than :data:`MAX_DEPTH` levels."""


def decode(raw: bytes | str) -> Any:
    """Strict JSON: ``ValueError`` for syntax errors and NaN/Infinity, :class:`TooDeep` for
    nesting deeper than :data:`MAX_DEPTH`."""
    try:
        value = protocol.loads(raw)
    except RecursionError:
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels") from None
    text = raw.encode() if isinstance(raw, str) else raw
    # Each level needs its own bracket: with few brackets there is nothing to measure.
    if text.count(b"[") + text.count(b"{") > MAX_DEPTH and _nests_deeper(text, MAX_DEPTH):
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    return value


_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _nests_deeper(text: bytes, limit: int) -> bool:
    """Whether valid JSON ``text`` nests arrays/objects more than ``limit`` levels.

    With the strings taken out, only the brackets are kept; each pass then removes every
    innermost pair, one level, so the text empties after as many passes as it is deep.
    """
    brackets = _STRINGS.sub(b"", text).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def encode(value: Any) -> str:
    """Compact ASCII JSON (storable whatever the strings hold)."""
    return _ENCODER.encode(value)


def change_object(row: ChangeRow, *, item: str | None = None) -> JSONDict:
    """The wire form of a logged change; ``item`` overrides the id (``userid/key`` on /all)."""
    diff = None if row.diff is None else json.loads(row.diff)
    return _change(item or row.id, row.o, diff, row.sv, row.ev, row.cv, row.ccid, row.clientid)


def _change(
    item: str,
    o: str,
    diff: JSONDict | None,
    sv: int | None,
    ev: int,
    cv: str,
    ccid: str,
    clientid: str | None,
) -> JSONDict:
    """A change object: ``v`` is absent for removals and ``sv`` for creations."""
    change: JSONDict = {"id": item, "o": o}
    if diff is not None:
        change["v"] = diff
    if sv is not None:
        change["sv"] = sv
    change.update(ev=ev, cv=cv, ccids=[ccid], clientid=clientid)
    return change


class Writer:
    """Applies changes to one app's store."""

    def __init__(self, store: Store, config: ServerConfig) -> None:
        self.store = store
        self.config = config

    # -- HTTP object endpoints ---------------------------------------------------------------

    def post(
        self,
        userid: str,
        bucket: str,
        item: str,
        body: JSONDict,
        *,
        base: int | None,
        replace: bool,
        ccid: str | None,
        clientid: str | None,
    ) -> Applied:
        """POST ``i/{item}[/v/{base}]``: merge (or replace) ``body`` into the object."""
        row = self.store.get_object(userid, bucket, item)
        ccid = self._check_ccid(userid, bucket, ccid, row)
        if row is None or row.data is None:
            if base is not None:
                raise ChangeError(404, "specified object version does not exist")
            return self._create(userid, bucket, item, row, body, ccid, clientid)
        base = row.version if base is None else base
        base_data = self._version_data(userid, bucket, row, base, 404)
        target = body if replace else {**base_data, **body}
        # A stale post's lists are diffed element by element, so they merge like list diffs.
        d = jsondiff.diff(base_data, target, list_diff=base < row.version)
        return self._modify(userid, bucket, row, base, base_data, d, ccid, clientid)

    def delete(
        self,
        userid: str,
        bucket: str,
        item: str,
        *,
        version: int | None,
        ccid: str | None,
        clientid: str | None,
    ) -> Applied:
        """DELETE ``i/{item}[/v/{version}]``; with a version, only while it is the head."""
        row = self.store.get_object(userid, bucket, item)
        ccid = self._check_ccid(userid, bucket, ccid, row)
        if row is None or row.data is None:
            raise ChangeError(404, "object does not exist")
        if version is not None and version != row.version:
            raise ChangeError(412, "only the current version can be deleted", row.version)
        return self.commit(
            userid,
            bucket,
            item,
            o="-",
            sv=row.version,
            ev=row.version + 1,
            diff=None,
            data=None,
            ccid=ccid,
            clientid=clientid,
        )

    # -- POST /changes entries ---------------------------------------------------------------

    def submit(self, userid: str, bucket: str, entry: Any, clientid: str | None) -> JSONDict:
        """Apply one bulk change request; its change object, or ``{id, clientid, ccids, error}``."""
        item = entry.get("id") if isinstance(entry, dict) else None
        ccid = entry.get("ccid") if isinstance(entry, dict) else None
        if isinstance(entry, dict) and clientid is None and isinstance(entry.get("clientid"), str):
            clientid = entry["clientid"]
        try:
            if not isinstance(entry, dict):
                raise ChangeError(400, "a change must be a JSON object")
            if not isinstance(item, str) or not ID_PATTERN.fullmatch(item):
                raise ChangeError(400, "invalid id")
            if ccid is not None and (
                not isinstance(ccid, str) or not TOKEN_PATTERN.fullmatch(ccid)
            ):
                raise ChangeError(400, "invalid ccid")
            if clientid is not None and not TOKEN_PATTERN.fullmatch(clientid):
                raise ChangeError(400, "invalid clientid")
            # Every refusal is raised before the one write (Store.record), so inside a bulk
            # request's transaction a refused change needs no savepoint to undo it.
            with self.store.transaction(savepoint=False):
                return self._submit(userid, bucket, item, entry, ccid, clientid).change
        except ChangeError as exc:
            ccids = [ccid] if isinstance(ccid, str) else []
            return {"id": item, "clientid": clientid, "ccids": ccids, "error": exc.status}

    def _submit(
        self,
        userid: str,
        bucket: str,
        item: str,
        entry: JSONDict,
        ccid: str | None,
        clientid: str | None,
    ) -> Applied:
        op, sv = entry.get("o"), entry.get("sv")
        if op not in ("M", "-"):
            raise ChangeError(400, "o must be 'M' or '-'")
        if sv is not None and (isinstance(sv, bool) or not isinstance(sv, int) or sv < 1):
            raise ChangeError(405, "sv must be a positive integer")
        full, diff = entry.get("d"), entry.get("v")
        if op == "M":
            if full is not None and not isinstance(full, dict):
                raise ChangeError(400, "d must be a JSON object")
            if full is None:
                try:
                    jsondiff.validate(diff)
                except jsondiff.InvalidDiff as exc:
                    raise ChangeError(400, f"invalid diff: {exc}") from None
        row = self.store.get_object(userid, bucket, item)
        ccid = self._check_ccid(userid, bucket, ccid, row)
        if op == "-":
            if sv is not None and row is not None and row.data is not None and sv != row.version:
                raise ChangeError(405, "sv is not the current version")
            return self.delete(userid, bucket, item, version=None, ccid=ccid, clientid=clientid)
        if row is None or row.data is None:
            if full is not None:
                return self._create(userid, bucket, item, row, full, ccid, clientid)
            if sv is not None:
                raise ChangeError(404, "object does not exist")
            # Applied to nothing, a valid diff only adds keys: it is its own creation diff.
            data = _apply({}, diff)
            return self._create(userid, bucket, item, row, data, ccid, clientid, diff=diff)
        if full is not None:  # the whole object, sent after a 405/440: it becomes the head
            head_data = _load(row.data)
            d = jsondiff.diff(head_data, full)
            return self._modify(userid, bucket, row, row.version, head_data, d, ccid, clientid)
        if sv is None or sv > row.version:
            raise ChangeError(405, "sv is missing or newer than the object")
        base_data = self._version_data(userid, bucket, row, sv, 404)
        assert isinstance(diff, dict)  # validated above
        _apply(base_data, diff)  # the diff must fit the version it claims to start from
        return self._modify(userid, bucket, row, sv, base_data, diff, ccid, clientid)

    # -- shared steps -----------------------------------------------------------------------

    def _check_ccid(self, userid: str, bucket: str, ccid: str | None, row: ObjectRow | None) -> str:
        if ccid is None:
            return protocol.new_ccid()
        if self.store.ccid_seen(userid, bucket, ccid):
            version = row.version if row is not None and row.data is not None else None
            raise ChangeError(409, "duplicate change: this ccid was already applied", version)
        return ccid

    def _version_data(
        self, userid: str, bucket: str, row: ObjectRow, version: int, status: int
    ) -> JSONDict:
        if version == row.version and row.data is not None:
            return _load(row.data)
        text = None
        if 1 <= version < row.version:
            text = self.store.get_version(userid, bucket, row.id, version)
        if text is None:
            raise ChangeError(status, "specified object version does not exist", row.version)
        return _load(text)

    def _create(
        self,
        userid: str,
        bucket: str,
        item: str,
        row: ObjectRow | None,
        data: JSONDict,
        ccid: str,
        clientid: str | None,
        *,
        diff: JSONDict | None = None,
    ) -> Applied:
        """Commit ``data`` as a new object; ``diff`` is its creation diff when known."""
        ev = row.version + 1 if row is not None else 1  # versions go on after a delete
        return self.commit(
            userid,
            bucket,
            item,
            o="M",
            sv=None,
            ev=ev,
            diff=jsondiff.diff({}, data) if diff is None else diff,
            data=data,
            ccid=ccid,
            clientid=clientid,
        )

    def _modify(
        self,
        userid: str,
        bucket: str,
        row: ObjectRow,
        base: int,
        base_data: JSONDict,
        d: JSONDict,
        ccid: str,
        clientid: str | None,
    ) -> Applied:
        """Rebase ``d`` (a diff of version ``base``) onto the head and commit it."""
        rebased = base < row.version and bool(d)
        if rebased:
            d = self._rebase(userid, bucket, row, base, base_data, d)
        if jsondiff.is_empty(d):
            raise ChangeError(412, "empty change, object was not modified", row.version)
        assert row.data is not None
        new = _apply(_load(row.data), d)
        if rebased:
            d = _lists_whole(d, new)
        return self.commit(
            userid,
            bucket,
            row.id,
            o="M",
            sv=row.version,
            ev=row.version + 1,
            diff=d,
            data=new,
            ccid=ccid,
            clientid=clientid,
            head=row.data,
        )

    def _rebase(
        self,
        userid: str,
        bucket: str,
        row: ObjectRow,
        base: int,
        base_data: JSONDict,
        d: JSONDict,
    ) -> JSONDict:
        """Transform ``d`` over every retained version after ``base``, in order."""
        previous = base_data
        for _version, text in self.store.versions_from(userid, bucket, row.id, base + 1):
            following = _load(text)
            try:
                # With list diffs, as a client's list edits are: sent whole ("r"), a later
                # version's list would overwrite every concurrent edit of that list.
                between = jsondiff.diff(previous, following, list_diff=True)
                d = jsondiff.transform(d, between, previous)
            except (jsondiff.InvalidDiff, ValueError, TypeError, RecursionError) as exc:
                raise ChangeError(440, f"change does not merge: {exc}", row.version) from None
            previous = following
        return d

    def commit(
        self,
        userid: str,
        bucket: str,
        item: str,
        *,
        o: str,
        sv: int | None,
        ev: int,
        diff: JSONDict | None,
        data: JSONDict | None,
        ccid: str,
        clientid: str | None,
        head: str | None = None,
    ) -> Applied:
        """Log the change and move the head; the caller holds the transaction.

        ``head`` is the current data: a change that leaves it as it is counts as empty (412).
        """
        try:
            text = None if data is None else encode(data)
            diff_text = None if diff is None else encode(diff)
        except (ValueError, RecursionError):
            raise ChangeError(400, "object is not valid JSON data") from None
        if head is not None and text == head:
            raise ChangeError(412, "empty change, object was not modified", sv)
        if text is not None and len(text) > self.config.max_object_size:
            raise ChangeError(413, f"object is larger than {self.config.max_object_size} bytes", sv)
        cv = self.store.record(
            userid,
            bucket,
            item,
            o=o,
            sv=sv,
            ev=ev,
            diff=diff_text,
            data=text,
            ccid=ccid,
            clientid=clientid,
        )
        return Applied(_change(item, o, diff, sv, ev, cv, ccid, clientid), ev, text)


def _load(text: str) -> JSONDict:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def _lists_whole(d: JSONDict, new: JSONDict) -> JSONDict:
    """``d`` with every list diff sent as the list it made, as clients send lists: a rebase
    makes list diffs, and node-simperium applies a list diff's "+" as a replacement."""
    out: JSONDict = {}
    for key, op in d.items():
        if op["o"] == "L":
            out[key] = {"o": "r", "v": new[key]}
        elif op["o"] == "O":
            out[key] = {"o": "O", "v": _lists_whole(op["v"], new[key])}
        else:
            out[key] = op
    return out


def _apply(data: JSONDict, d: Any) -> JSONDict:
    # Every diff reaching here was validated on arrival or made by jsondiff.diff/transform, so
    # only whether it fits the data is left to check.
    try:
        return jsondiff.apply(data, d, checked=True)
    except (jsondiff.InvalidDiff, ValueError, TypeError, RecursionError) as exc:
        raise ChangeError(440, f"diff does not apply: {exc}") from None
