"""Reading what a round's ghosts and diffs cannot give (the I/O around :mod:`replay`).

Only objects whose ghost is unknown or behind are read. When a needed change is its object's
last modification in the round, one paged ``index(since=cv, data=1)`` gives the current state
of all such objects at once (used only where it is at exactly that version); every other state
is read at the version its change starts from, ``i/{id}/v/{sv}``. A version the server no
longer keeps is given up on: the object's current state is read (``i/{id}``) and the versions
fold into a later one (see :mod:`~simperium_orm.listen.replay`). ``/all`` has no index: its
objects are read as their owners.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from simperium_orm.errors import NotFound
from simperium_orm.listen.decode import Change
from simperium_orm.listen.replay import Replay, RoundStates, base_version

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.wire.bucket import Bucket

__all__ = ["Reads", "index_pages", "per_user"]

_PAGE = 1000
_MAX_USER_CLIENTS = 10_000
#: Read passes in one round before the states still missing are given up on.
_READ_PASSES = 4


class Reads:
    """One feed's reads: ``bucket`` (the feed's), and ``reader`` acting as owners on ``/all``."""

    def __init__(self, reader: Client, bucket: Bucket, *, all_users: bool) -> None:
        self._reader = reader
        self.bucket = bucket
        self.all_users = all_users
        self._user_readers: dict[str, Client] = {}

    def resolve(
        self, states: RoundStates, replay: Replay, changes: list[Change], since: str | None
    ) -> Replay:
        """Read what the ghosts and diffs could not give, until the round is resolved."""
        last = {c.name: c for c in changes if c.kind != "deleted"}
        indexed: set[str] | None = None  # the objects the index listed, once read
        tried: set[tuple[str, int]] = set()
        for _ in range(_READ_PASSES):
            if not replay.needs:
                return replay
            # An object's last change: the index (its current state) likely has its version.
            last_ones = any(last[n] is c for n, c in replay.needs.items())
            if indexed is None and not self.all_users and last_ones:
                indexed = set()
                for name, current in self._index_states(set(replay.needs), since):
                    states.learn(name, *current)
                    indexed.add(name)
                replay = states.replay()
                continue
            for name, change in replay.needs.items():
                version = base_version(change)
                read = None if (name, version) in tried else self._read_version(change, version)
                tried.add((name, version))
                if read is not None:
                    states.learn(name, version, read)
                    continue
                states.give_up(name)  # fold into the newest state: the index's, or read now
                now = self._read_current(change) if indexed is None else None
                if now is not None:
                    states.learn(name, *now)
            replay = states.replay()
        for name in replay.needs:
            states.give_up(name)
        return states.replay()

    def _index_states(
        self, wanted: set[str], since: str | None
    ) -> Iterator[tuple[str, tuple[int, dict[str, Any]]]]:
        """Current version and data of the ``wanted`` objects, from one paged index walk."""
        found = 0
        for page in index_pages(self.bucket, since):
            for entry in page["index"]:
                if entry.get("id") in wanted:
                    found += 1
                    yield entry["id"], (int(entry["v"]), dict(entry.get("d") or {}))
            if found == len(wanted):
                return

    def _read_version(self, change: Change, version: int) -> dict[str, Any] | None:
        """The object at ``version``; None when the server no longer has it."""
        try:
            return self._bucket_of(change.userid).fetch(change.id, version=version).data
        except NotFound:
            return None

    def _read_current(self, change: Change) -> tuple[int, dict[str, Any]] | None:
        """The object's current version and data; None when it is gone."""
        try:
            document = self._bucket_of(change.userid).fetch(change.id)
        except NotFound:
            return None
        return document.version, document.data

    def _bucket_of(self, userid: str | None) -> Bucket:
        """The bucket to read an object from, over the feed's transport (``/all``: as its owner)."""
        if userid is None:
            return self.bucket
        return per_user(self._user_readers, userid, self._reader).bucket(self.bucket.name)


def index_pages(bucket: Bucket, since: str | None) -> Iterator[dict[str, Any]]:
    """Index pages with data of the objects changed after ``since``, newest first."""
    mark: str | None = None
    while True:
        page = bucket.index(data=True, since=since, mark=mark, limit=_PAGE)
        yield page
        mark = page.get("mark")
        if not mark:
            return


def per_user(cache: dict[str, Client], userid: str, client: Client) -> Client:
    """``client`` acting as ``userid`` (kept in ``cache``, a bounded number of users), with its
    clientid: a receiver's save is not heard back as a remote change."""
    user = cache.get(userid)
    if user is None:
        if len(cache) >= _MAX_USER_CLIENTS:
            cache.clear()
        user = cache[userid] = client.as_user(userid, clientid=client.clientid)
    return user
