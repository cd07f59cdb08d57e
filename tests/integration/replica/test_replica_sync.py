"""A replica mirrors its buckets from the real local server: first index, then the feed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.replica import Replica
from simperium_orm.testing import SimperiumServer
from simperium_orm.wire.http import Sender
from simperium_orm.wire.request import Request, Response
from simperium_orm.wire.transport import Transport
from tests.support.replica_support import Contents, in_replica, on_server


class Note(so.Model, bucket="notes"):
    title: str
    done: bool = False
    n: int = 0


class Heard:
    """The remote signals of Note, in order, as (kind, id, version, fields)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | None, frozenset[str]]] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)

    def created(self, sender: Any, instance: Note, **kw: Any) -> None:
        self._add(("created", str(instance.id), instance.version, frozenset()))

    def updated(self, sender: Any, instance: Note, changed_fields: set[str], **kw: Any) -> None:
        self._add(("updated", str(instance.id), instance.version, frozenset(changed_fields)))

    def deleted(self, sender: Any, id: str, **kw: Any) -> None:
        self._add(("deleted", id, None, frozenset()))

    def _add(self, event: tuple[str, str, int | None, frozenset[str]]) -> None:
        with self.arrived:
            self.events.append(event)
            self.arrived.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.events) >= n, timeout), self.events


@pytest.fixture
def heard() -> Iterator[Heard]:
    h = Heard()
    so.signals.remote_created.connect(h.created, sender=Note)
    so.signals.remote_updated.connect(h.updated, sender=Note)
    so.signals.remote_deleted.connect(h.deleted, sender=Note)
    yield h
    so.signals.remote_created.disconnect(h.created, sender=Note)
    so.signals.remote_updated.disconnect(h.updated, sender=Note)
    so.signals.remote_deleted.disconnect(h.deleted, sender=Note)


class Counting:
    """A sender that counts the requests by path."""

    def __init__(self) -> None:
        self.inner = Sender()
        self.paths: list[str] = []

    def send(self, request: Request) -> Response:
        self.paths.append(request.public_url.split("/notes/", 1)[-1])
        return self.inner.send(request)

    def abort(self) -> None:
        self.inner.abort()

    def close(self) -> None:
        self.inner.close()


def server_state(client: so.Client) -> Contents:
    return on_server(client, "notes")


def replica_state(replica: Replica) -> Contents:
    return in_replica(replica, "notes")


@pytest.fixture
def writer(local_server: SimperiumServer, client: so.Client) -> so.Client:
    """Another device of the same user (its own clientid)."""
    return local_server.client(token=client._token)


def test_first_sync_mirrors_the_bucket_and_then_follows_the_feed(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    notes = [Note(title=f"n{i}", n=i) for i in range(1203)]
    Note.objects.using(writer).bulk_save(notes)
    progress: list[tuple[str, int, bool]] = []
    replica = Replica(
        str(tmp_path / "r.db"), Note, client=client, progress=lambda *a: progress.append(a)
    )
    replica.sync()
    assert replica_state(replica) == server_state(client)
    assert progress[-1] == ("notes", 1203, True) and heard.events == []  # an index is silent
    first = notes[0]
    first.title = "changed"
    first.save()
    first.n = -1
    first.save()
    created = Note.objects.using(writer).create(title="fresh")
    notes[1].delete()
    replica.sync()
    assert heard.events == [
        ("updated", first.id, 2, frozenset({"title"})),
        ("updated", first.id, 3, frozenset({"n"})),
        ("created", created.id, 1, frozenset()),
        ("deleted", notes[1].id, None, frozenset()),
    ]
    assert replica_state(replica) == server_state(client)
    replica.close()


def test_catching_up_reads_no_object_per_change(
    local_server: SimperiumServer, client: so.Client, writer: so.Client, tmp_path: Path
) -> None:
    counting = Counting()
    reader = local_server.client(token=client._token, transport=Transport(sender=counting))
    objs = Note.objects.using(writer).bulk_save([Note(title=f"x{i}") for i in range(20)])
    replica = Replica(str(tmp_path / "r.db"), Note, client=reader)
    replica.sync()
    for obj in objs:
        for k in range(5):
            obj.n = k + 1
            obj.save()
    counting.paths.clear()
    replica.sync()
    assert replica_state(replica) == server_state(client)
    assert not [p for p in counting.paths if p.startswith("i/")], counting.paths
    assert [p for p in counting.paths if p == "changes"]
    replica.close()


def test_a_ghost_at_another_version_is_read_at_the_change_s_version(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    obj = Note.objects.using(writer).create(title="a")
    replica = Replica(str(tmp_path / "r.db"), Note, client=client)
    replica.sync()
    with replica.store.writing() as conn:  # a ghost that went wrong: another version, other data
        conn.execute('UPDATE objects SET version = 0, data = \'{"title":"wrong"}\'')
    obj.title = "b"
    obj.save()
    replica.sync()
    assert replica_state(replica) == server_state(client)
    assert heard.events == [("updated", obj.id, 2, frozenset({"title"}))]
    replica.close()


def test_an_unknown_cv_indexes_again_and_signals_what_changed(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    kept, changed, gone = Note.objects.using(writer).bulk_save([Note(title=t) for t in "abc"])
    replica = Replica(str(tmp_path / "r.db"), Note, client=client)
    replica.sync()
    changed.title = "B"
    changed.save()
    gone.delete()
    new = Note.objects.using(writer).create(title="d")
    with replica.store.writing() as conn:
        conn.execute("UPDATE buckets SET cv = 'ffffffffffffffffffffffff'")
    replica.sync()
    assert replica_state(replica) == server_state(client)
    assert sorted(heard.events) == sorted(
        [
            ("updated", changed.id, 2, frozenset({"title", "done", "n"})),
            ("created", new.id, 1, frozenset()),
            ("deleted", gone.id, None, frozenset()),
        ]
    )
    assert kept.id in replica_state(replica)
    replica.close()


def test_reopening_resumes_and_another_user_is_refused(
    local_server: SimperiumServer, client: so.Client, writer: so.Client, tmp_path: Path
) -> None:
    path = str(tmp_path / "r.db")
    Note.objects.using(writer).create(title="a")
    replica = Replica(path, Note, client=client)
    replica.sync()
    cv = replica.cv["notes"]
    replica.close()
    again = Replica(path, Note, client=client)
    assert again.cv["notes"] == cv
    again.close()
    stranger = local_server.client()
    with pytest.raises(so.ReplicaMismatch, match="another app's or user's"):
        Replica(path, Note, client=stranger)


def test_one_process_syncs_a_file_and_others_may_read(
    client: so.Client, writer: so.Client, tmp_path: Path
) -> None:
    path = str(tmp_path / "r.db")
    Note.objects.using(writer).create(title="a")
    first = Replica(path, Note, client=client)
    first.sync()
    second = Replica(path, Note, client=client)
    with pytest.raises(so.ReplicaLocked, match="another process syncs"):
        second.sync()
    assert len(replica_state(second)) == 1  # reading is fine
    second.close()
    first.close()
    third = Replica(path, Note, client=client)
    third.sync()  # the lock went with the first
    third.close()


def test_signals_left_unsent_by_a_crash_are_sent_once_after_it(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    path = str(tmp_path / "r.db")
    obj = Note.objects.using(writer).create(title="a")
    replica = Replica(path, Note, client=client)
    replica.sync()
    obj.title = "b"
    obj.save()
    sync = replica._syncs["notes"]
    sync.round(None)  # applied and committed; the process "dies" before signalling
    replica.close()
    assert heard.events == []
    again = Replica(path, Note, client=client)
    again.sync()
    again.sync()
    assert heard.events == [("updated", obj.id, 2, frozenset({"title"}))]
    again.close()


def test_in_the_background_a_remote_write_is_heard(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    with Replica(str(tmp_path / "r.db"), Note, client=client, poll_timeout=5) as replica:
        assert replica.running and replica.ready(10)
        obj = Note.objects.using(writer).create(title="live")
        heard.wait_for(1)
        assert heard.events == [("created", obj.id, 1, frozenset())]
    assert not replica.running
    replica.close()


def test_a_receiver_that_fails_is_reported_and_the_rest_go_on(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    errors: list[BaseException] = []

    def broken(sender: Any, **kw: Any) -> None:
        raise RuntimeError("receiver bug")

    replica = Replica(str(tmp_path / "r.db"), Note, client=client)
    so.signals.remote_created.connect(broken, sender=Note)
    so.signals.listener_error.connect(
        lambda s, error, **kw: errors.append(error), sender=replica, weak=False
    )
    try:
        replica.sync()
        Note.objects.using(writer).bulk_save([Note(title="a"), Note(title="b")])
        replica.sync()
    finally:
        so.signals.remote_created.disconnect(broken, sender=Note)
    assert [str(e) for e in errors] == ["receiver bug", "receiver bug"]
    assert [e[0] for e in heard.events] == ["created", "created"]
    replica.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="at least one model"):
        Replica(":memory:")
    with pytest.raises(TypeError, match="Model subclasses"):
        Replica(":memory:", dict)  # type: ignore[arg-type]
    with pytest.raises(so.ReplicaError, match="no folder"):
        Replica("/no/such/folder/r.db", Note, client=so.Client("demo", "t"))


def test_over_the_streaming_protocol_a_remote_write_is_heard(
    client: so.Client, writer: so.Client, tmp_path: Path, heard: Heard
) -> None:
    Note.objects.using(writer).create(title="before")
    path = str(tmp_path / "r.db")
    with Replica(path, Note, client=client, transport="stream", poll_timeout=5) as replica:
        assert replica.ready(10)
        obj = Note.objects.using(writer).create(title="pushed")
        obj.title = "pushed again"
        obj.save()
        heard.wait_for(2)
        assert heard.events == [
            ("created", obj.id, 1, frozenset()),
            ("updated", obj.id, 2, frozenset({"title"})),
        ]
        assert replica_state(replica) == server_state(client)
    replica.close()
    with pytest.raises(ValueError, match="poll' or 'stream"):
        Replica(path, Note, client=client, transport="carrier pigeon")
