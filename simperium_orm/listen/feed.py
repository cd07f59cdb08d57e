"""One bucket's change feed: where it stands, what it delivered, and one round of work.

A round: long-poll ``/changes`` (or ``/all``) after the saved cv; decode one change per version
(:mod:`~simperium_orm.listen.decode`); find the object at each version by applying the diffs to
the objects' ghosts (:mod:`~simperium_orm.listen.replay`), reading only what they cannot give;
fold into net effects when the listener coalesces; deliver one event per step, recording each
delivered version as it goes; then save the new cv. A crash delivers again only the event whose
receivers were running.

Only objects whose ghost is unknown or behind are read (:mod:`~simperium_orm.listen.reads`).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from simperium_orm.errors import BadRequest, NotFound, ProtocolError
from simperium_orm.jsondiff.ops import copy
from simperium_orm.listen.checkpoint import Checkpoint, Position
from simperium_orm.listen.coalesce import coalesce, wanted_positions
from simperium_orm.listen.decode import Change, Kind, decode_round, split_id
from simperium_orm.listen.ghosts import Ghost, GhostStore
from simperium_orm.listen.reads import Reads, index_pages, per_user
from simperium_orm.listen.replay import RoundStates, Step
from simperium_orm.orm import state
from simperium_orm.orm.scan.gcpause import gc_paused
from simperium_orm.protocol import ZERO_CV

if TYPE_CHECKING:
    from simperium_orm.client import Client
    from simperium_orm.listen.stream import StreamChannel
    from simperium_orm.orm.model import Model
    from simperium_orm.wire.bucket import Bucket
    from simperium_orm.wire.transport import Transport

__all__ = ["Feed", "RemoteEvent"]

log = logging.getLogger("simperium_orm.listen.feed")

#: How many changes one long-poll asks for (the most the local server gives).
BATCH = 1000


@dataclass(slots=True)
class RemoteEvent:
    """A remote change as delivered: the signal's kind and its keyword arguments.

    One is made per signal sent (a thousand for a burst of a thousand versions): a plain
    slotted dataclass, the cheapest to build.
    """

    kind: Kind
    model: type[Model]
    id: str
    version: int | None
    instance: Model | None = None
    changed_fields: frozenset[str] = frozenset()
    change: dict[str, Any] = field(default_factory=dict)
    userid: str | None = None


class Feed:
    """One model's change feed over its own transport (so it can be interrupted alone)."""

    def __init__(
        self,
        model: type[Model],
        *,
        client: Client,
        transport: Transport,
        all_users: bool,
        checkpoint: Checkpoint,
        ghosts: GhostStore,
        coalesce: bool,
        cv: str | None,
        emit: Callable[[RemoteEvent], None],
        report: Callable[[BaseException, dict[str, Any] | None], None],
        stopping: Callable[[], bool] = lambda: False,
        stream: bool = False,
    ) -> None:
        self.model = model
        self.streaming = stream  # hear the feed over the websocket protocol, not long-polls
        self._stream: StreamChannel | None = None  # opened on first use
        self.client = client
        self.transport = transport
        self.all_users = all_users
        self.coalesce = coalesce
        reader = client.with_transport(transport)
        self.bucket: Bucket = reader.bucket(model.bucket_name())
        #: reads what ghosts cannot give, over the feed's transport (``/all``: as each owner)
        self.reads = Reads(reader, self.bucket, all_users=all_users)
        suffix = "/all" if all_users else ""
        self.key = f"{client.app_id}/{self.bucket.name.lower()}{suffix}"
        self.checkpoint = checkpoint
        self.ghosts = ghosts
        self.position = checkpoint.load(self.key) if cv is None else Position(cv)
        self._emit = emit
        self._report = report
        self._stopping = stopping
        self._user_clients: dict[str, Client] = {}  # instances are bound to these
        #: monotonic time the current long-poll began (None between polls): for the watchdog
        self.busy_since: float | None = None
        #: how many changes the last long-poll answered (0: the feed is idle)
        self.last_fetched = 0

    def __repr__(self) -> str:
        return f"<Feed {self.key} cv={self.position.cv!r}>"

    @property
    def cv(self) -> str | None:
        return self.position.cv

    # -- network --------------------------------------------------------------------------

    def begin(self) -> None:
        """Without a saved position, start at the feed's current head (only new changes)."""
        if self.position.cv is None:
            self.position = Position(self.head() or ZERO_CV, self.position.delivered)
            self.checkpoint.save(self.key, self.position)

    def head(self) -> str | None:
        """The feed's current head cv."""
        return self.bucket.head(all_users=self.all_users, timeout=self.client.timeout)

    def fetch(self, cv: str | None, timeout: float | None) -> list[dict[str, Any]]:
        """One long-poll; ``timeout=None``: the pending changes only, without waiting.

        The listener's own changes come too (they carry objects from version to version)
        and are not signalled.
        """
        wait = timeout is not None
        if timeout is None:
            timeout = self.client.timeout
        self.busy_since = time.monotonic()
        try:
            if self.streaming:
                return self._channel().changes(
                    cv=cv, timeout=timeout if wait else None, batch=BATCH
                )
            if self.all_users:
                return self.bucket.all(
                    cv=cv, username=True, timeout=timeout, batch=BATCH, wait=wait
                )
            return self.bucket.changes(cv=cv, timeout=timeout, wait=wait, batch=BATCH)
        finally:
            self.busy_since = None

    def _channel(self) -> StreamChannel:
        if self._stream is None:
            from simperium_orm.listen.stream import StreamChannel

            self._stream = StreamChannel(self.client, self.model.bucket_name(), cv=self.position.cv)
        return self._stream

    def interrupt(self) -> None:
        """End a fetch in progress at once (a long-poll is aborted, a websocket closed)."""
        self.transport.abort()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    # -- one round ------------------------------------------------------------------------

    def round(self, timeout: float | None) -> tuple[list[RemoteEvent], bool]:
        """Fetch, decode and deliver one round (one batch of changes): the events, and whether
        to go on at once (after a re-index, from the feed's new position)."""
        since = self.position.cv
        try:
            changes = self.fetch(since, timeout)
        except NotFound:
            if since is None:
                raise
            return self.reindex(since), True
        return self.take(since, changes), False

    def take(self, since: str | None, changes: list[dict[str, Any]]) -> list[RemoteEvent]:
        """Decode and deliver the changes a long-poll after ``since`` answered: the events
        (the async listener polls by itself, then hands the answer here)."""
        self.last_fetched = len(changes)
        if not changes:
            if self.position.delivered:  # caught up: no delivered version lies ahead any more
                self.position = Position(since)
                self.checkpoint.save(self.key, self.position)
            return []
        with gc_paused():  # thousands of acyclic objects: see orm/scan/gcpause.py
            decoded = decode_round(
                changes,
                own_clientid=self.client.clientid,
                namespaced=self.all_users,
                delivered=self.position.delivered,
            )
        for raw in decoded.malformed:
            self._report(ProtocolError(f"{self.key}: a change without an id or ev"), raw)
        steps, ghosts = self._steps(decoded.changes, since)
        # Where the round ends, taken before receivers see (and might change) the raw changes.
        cv = next((c["cv"] for c in reversed(changes) if isinstance(c.get("cv"), str)), since)
        passed = {c.name: c.ev for c in decoded.changes}
        events, complete = self._deliver(steps)
        if not complete:  # stopped between two signals: the round comes again, minus those
            return events
        for name, ghost in ghosts.items():
            if ghost is None:
                self.ghosts.drop(self.key, name)
            else:
                self.ghosts.put(self.key, name, *ghost)
        if decoded.whole_bucket:
            self.ghosts.clear(self.key)
        self._advance(cv, passed)
        return events

    def _steps(
        self, changes: list[Change], since: str | None
    ) -> tuple[list[Step], dict[str, Ghost | None]]:
        """The round's steps (states from ghosts and diffs, reads for the rest), and each
        object's ghost after the round (None: to forget)."""
        ghosts: dict[str, Ghost] = {}
        for name in {c.name for c in changes}:
            ghost = self.ghosts.get(self.key, name)
            if ghost is not None:
                ghosts[name] = ghost
        states = RoundStates(changes, ghosts, wanted_positions(changes, coalesce=self.coalesce))
        with gc_paused():
            replay = states.replay()
        if replay.needs:
            replay = self.reads.resolve(states, replay, changes, since)
        # Copies, taken now: receivers may change what their instances were built from.
        after: dict[str, Ghost | None] = {
            name: None if final is None else Ghost(final.version, copy(final.data))
            for name, final in replay.finals.items()
        }
        for lost in replay.lost:
            log.debug("%s: %s v%s is no longer on the server", self.key, lost.name, lost.ev)
        return (coalesce(replay.steps) if self.coalesce else replay.steps), after

    # -- delivery -------------------------------------------------------------------------

    def _advance(self, cv: str | None, passed: Mapping[str, int]) -> None:
        """Move to ``cv``; forget the delivered versions the feed has now passed (``passed``:
        each object's last version in the round)."""
        delivered = {
            name: version
            for name, version in self.position.delivered.items()
            if version > passed.get(name, 0)
        }
        self.position = Position(cv, delivered)
        self.checkpoint.save(self.key, self.position)

    def _deliver(self, steps: Sequence[Step]) -> tuple[list[RemoteEvent], bool]:
        """Send one event per step, in order, each delivered version recorded: the events, and
        whether all were sent (the listener may be stopped between two)."""
        wire = state.wire_keys(self.model)
        renamed = any(key != name for key, name in wire.items())
        with gc_paused():  # receivers run with the collector on, as always
            instances = self._instances(steps)
        delivered, model, emit = self.position.delivered, self.model, self._emit
        record, key, stopping = self.checkpoint.record, self.key, self._stopping
        events: list[RemoteEvent] = []
        for step, instance in zip(steps, instances, strict=True):
            if stopping():
                return events, False
            change, version = step.change, step.version
            if delivered.get(change.name, 0) >= version:
                continue
            raw = change.raw
            if instance is None:
                if step.kind != "deleted":
                    continue  # no state (the server lost it): nothing to send
            elif isinstance(instance, Exception):  # data that does not fit the model
                self._report(instance, raw)
                self._remember(change.name, version)
                continue
            fields = frozenset([wire.get(k, k) for k in step.fields]) if renamed else step.fields
            event = RemoteEvent(
                step.kind, model, change.id, version, instance, fields, raw, change.userid
            )
            emit(event)
            delivered[change.name] = version  # as self._remember, inline: once per event
            record(key, change.name, version)
            events.append(event)
        return events, True

    def _instances(self, steps: Sequence[Step]) -> list[Model | Exception | None]:
        """The model instance of each step (None for a delete; the error for bad data)."""
        with_data = [s for s in steps if s.data is not None]
        built: list[Model | Exception] = []
        if len(with_data) > 1 and not self.all_users:
            entries = [{"id": s.change.id, "v": s.version, "d": s.data} for s in with_data]
            try:  # one validator call for the lot; the step data is the round's own
                built = list(state.load(self.model, entries, self.client, owned=True))
            except ValidationError:
                built = []  # one by one below, to tell which failed
        if not built:
            built = [self._instance(s) for s in with_data]
        found = iter(built)
        return [None if s.data is None else next(found) for s in steps]

    def _instance(self, step: Step) -> Model | Exception:
        assert step.data is not None
        try:
            return self.model.from_document(
                step.change.id,
                step.version,
                step.data,
                client=self._client_for(step.change.userid),
            )
        except Exception as exc:  # data that does not fit the model
            return exc

    def _remember(self, name: str, version: int) -> None:
        self.position.delivered[name] = version
        self.checkpoint.record(self.key, name, version)

    def _client_for(self, userid: str | None) -> Client:
        """The client instances are bound to: the listener's, or (``/all``) the owner's, over
        the listener's client's pool (not the feed's, which stop() closes)."""
        if userid is None:
            return self.client
        return per_user(self._user_clients, userid, self.client)

    # -- the server forgot our cv ---------------------------------------------------------

    def reindex(self, since: str) -> list[RemoteEvent]:
        """Deliver every object changed after ``since`` from the index, then go on from there.

        The index cannot list deletions. ``/all`` has no index: an all-users feed replays the
        retained log from its start (versions recorded as delivered are still skipped). Either
        way the ghosts may have missed changes: they are forgotten.
        """
        self.ghosts.clear(self.key)
        if self.all_users:
            self.position = Position(ZERO_CV, self.position.delivered)
            self.checkpoint.save(self.key, self.position)
            return []
        pages = index_pages(self.bucket, since)
        try:
            first = next(pages)
        except BadRequest:  # not even a cv this server can compare: take every object
            pages = index_pages(self.bucket, None)
            first = next(pages)
        current = first.get("current")
        events: list[RemoteEvent] = []
        for page in itertools.chain([first], pages):
            steps = [_indexed_step(entry) for entry in page["index"]]
            for step in steps:
                assert step.data is not None
                self.ghosts.put(self.key, step.change.name, step.version, copy(step.data))
            sent, complete = self._deliver(steps)
            events.extend(sent)
            if not complete:  # stopped: the next round re-indexes again, minus these
                return events
        cv = current if isinstance(current, str) and current else ZERO_CV
        self.position = Position(cv, self.position.delivered)
        self.checkpoint.save(self.key, self.position)
        return events


def _indexed_step(entry: Mapping[str, Any]) -> Step:
    """An index entry as a step: the object's current state, every field counted as changed."""
    version, data = int(entry["v"]), dict(entry.get("d") or {})
    _, key = split_id(str(entry["id"]), namespaced=False)
    kind: Kind = "created" if version == 1 else "updated"
    raw = {"id": key, "o": "M", "ev": version}
    change = Change(key, key, None, kind, None, version, None, raw, True)
    return Step(change, kind, version, data, frozenset(data), 0)
