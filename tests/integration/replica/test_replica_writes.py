"""Local writes through a replica: committed at once, pushed later, merged, never lost silently."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.server_process import ServerProcess


class Note(so.Model, bucket="notes"):
    title: str
    body: str = ""
    n: int = 0


def on_server(client: so.Client) -> dict[str, tuple[int, dict[str, Any]]]:
    page = client.bucket("notes").index(data=True, limit=1000)
    return {e["id"]: (e["v"], e["d"]) for e in page["index"]}


def local(replica: so.Replica) -> dict[str, tuple[int, dict[str, Any]]]:
    with replica.store.reading() as conn:
        rows = conn.execute("SELECT id, version, data FROM objects WHERE bucket = 'notes'")
        return {i: (v, json.loads(d)) for i, v, d in rows}


@pytest.fixture
def process_server(tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path / "server.sqlite3", long_poll_timeout=1) as server:
        yield server


def new_token(url: str) -> str:
    return so.Auth("demo", "demo-api-key", auth_url=url).create(
        f"{uuid.uuid4().hex[:8]}@example.com", "a long password"
    )


def test_saves_with_the_server_down_commit_at_once_and_are_pushed_once(
    process_server: ServerProcess, tmp_path: Path
) -> None:
    token = new_token(process_server.url)
    client = so.Client("demo", token, api_url=process_server.url, retries=0)
    writer = so.Client("demo", token, api_url=process_server.url)
    kept, doomed = Note.objects.using(writer).bulk_save([Note(title="kept"), Note(title="doomed")])
    replica = so.Replica(str(tmp_path / "r.db"), Note, client=client)
    replica.sync()
    process_server.kill()
    started = time.perf_counter()
    fresh = Note(title="on a train")
    fresh.save(using=replica)  # type: ignore[arg-type]
    fresh.body = "written offline"
    fresh.save()  # an object saved through a replica keeps writing through it
    mine = next(o for o in replica_objects(replica) if o.id == kept.id)
    mine.n = 7
    mine.save()
    gone = next(o for o in replica_objects(replica) if o.id == doomed.id)
    gone.delete()
    assert time.perf_counter() - started < 1.0  # no request waited for the dead server
    assert fresh.version == 0 and replica.has_pending(Note, fresh.id)
    assert {(p.id, p.deleted) for p in replica.pending()} == {
        (fresh.id, False),
        (kept.id, False),
        (doomed.id, True),
    }
    assert local(replica)[fresh.id][1] == {"title": "on a train", "body": "written offline", "n": 0}
    assert doomed.id not in local(replica)
    assert replica.flush(timeout=0.3) is False
    process_server.start()
    assert replica.flush(timeout=10) is True
    server = on_server(writer)
    assert server[fresh.id] == (1, {"title": "on a train", "body": "written offline", "n": 0})
    assert server[kept.id] == (2, {"title": "kept", "body": "", "n": 7})
    assert doomed.id not in server
    assert local(replica) == server and replica.pending() == []
    replica.close()


def replica_objects(replica: so.Replica) -> list[Note]:
    with replica.store.reading() as conn:
        rows = conn.execute("SELECT id, version, data FROM objects").fetchall()
    return [replica.load(Note, i, v, d) for i, v, d in rows]


def test_crossed_wires_two_replicas_of_one_user_converge(
    local_server: SimperiumServer, client: so.Client, tmp_path: Path
) -> None:
    other = local_server.client(token=client._token)
    note = Note.objects.using(client).create(title="t", body="AC")
    first = so.Replica(str(tmp_path / "a.db"), Note, client=client)
    second = so.Replica(str(tmp_path / "b.db"), Note, client=other)
    first.sync()
    second.sync()
    a = replica_objects(first)[0]
    b = replica_objects(second)[0]
    a.body, a.n = "ABC", 1
    a.save()
    b.body, b.title = "ACD", "T"
    b.save()
    for replica in (first, second, first, second):
        replica.sync()
    expected = {"title": "T", "body": "ABCD", "n": 1}
    assert on_server(client)[note.id][1] == expected
    assert local(first) == local(second) == on_server(client)
    first.close()
    second.close()


def test_a_refused_change_is_kept_aside_reported_and_never_sent_again(
    tmp_path: Path,
) -> None:
    with SimperiumServer(max_object_size=2000) as server:
        client = server.client()
        replica = so.Replica(str(tmp_path / "r.db"), Note, client=client)
        replica.sync()
        ok = Note(title="fine")
        ok.save(using=replica)  # type: ignore[arg-type]
        replica.sync()
        heard: list[tuple[str, str]] = []
        so.signals.sync_rejected.connect(
            lambda s, id, error, **kw: heard.append((id, error)), sender=Note, weak=False
        )
        big = replica_objects(replica)[0]
        big.body = "x" * 5000
        big.save()
        replica.sync()
        assert heard == [(ok.id, "refused with 413")]
        [rejected] = replica.rejected()
        assert (rejected.id, rejected.status, rejected.deleted) == (ok.id, 413, False)
        assert rejected.instance is not None and rejected.instance.body == "x" * 5000
        assert local(replica) == on_server(client) and replica.pending() == []
        replica.sync()
        assert len(heard) == 1
        replica.close()


def test_an_object_deleted_remotely_while_edited_here_is_reported(
    local_server: SimperiumServer, client: so.Client, tmp_path: Path
) -> None:
    other = local_server.client(token=client._token)
    note = Note.objects.using(other).create(title="shared")
    replica = so.Replica(str(tmp_path / "r.db"), Note, client=client)
    replica.sync()
    mine = replica_objects(replica)[0]
    mine.body = "my edit"
    mine.save()
    note.delete()
    heard: list[str] = []
    so.signals.sync_rejected.connect(
        lambda s, id, error, **kw: heard.append(error), sender=Note, weak=False
    )
    replica.sync()
    assert heard == ["deleted on the server while it had local changes"]
    [rejected] = replica.rejected()
    assert rejected.instance is not None and rejected.instance.body == "my edit"
    assert local(replica) == on_server(client) == {}
    replica.close()


def test_close_refuses_unsynced_changes_and_the_file_keeps_them(
    process_server: ServerProcess, tmp_path: Path
) -> None:
    token = new_token(process_server.url)
    client = so.Client("demo", token, api_url=process_server.url, retries=0)
    path = str(tmp_path / "r.db")
    replica = so.Replica(path, Note, client=client)
    replica.sync()
    process_server.kill()
    Note(title="later").save(using=replica)  # type: ignore[arg-type]
    with pytest.raises(so.UnsyncedChanges, match="1 local change") as caught:
        replica.close()
    assert [p.instance.title for p in caught.value.pending if p.instance] == ["later"]
    replica.close(discard=True)
    process_server.start()
    again = so.Replica(path, Note, client=client)
    assert len(again.pending()) == 1
    assert again.flush(10)
    assert [d["title"] for _, d in on_server(client).values()] == ["later"]
    again.close()


def test_writes_through_another_handle_are_pushed_by_the_syncing_one(
    local_server: SimperiumServer, client: so.Client, tmp_path: Path
) -> None:
    path = str(tmp_path / "r.db")
    with so.Replica(path, Note, client=client, poll_timeout=2) as syncing:
        assert syncing.ready(10)
        reader = so.Replica(path, Note, client=client)  # may not sync: only writes locally
        note = Note(title="from elsewhere")
        note.save(using=reader)  # type: ignore[arg-type]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and note.id not in on_server(client):
            time.sleep(0.05)
        assert on_server(client)[note.id][1]["title"] == "from elsewhere"
        reader.close(discard=True)


def test_an_unknown_cv_indexes_again_and_keeps_and_rebases_the_queue(
    local_server: SimperiumServer, client: so.Client, tmp_path: Path
) -> None:
    other = local_server.client(token=client._token)
    note = Note.objects.using(other).create(title="t", body="hello")
    replica = so.Replica(str(tmp_path / "r.db"), Note, client=client)
    replica.sync()
    mine = replica_objects(replica)[0]
    mine.body = "hello world"
    mine.save()
    note.title = "T"
    note.save()
    with replica.store.writing() as conn:
        conn.execute("UPDATE buckets SET cv = 'ffffffffffffffffffffffff'")
    replica.sync()
    replica.sync()
    assert on_server(client)[note.id] == (3, {"title": "T", "body": "hello world", "n": 0})
    assert local(replica) == on_server(client)
    replica.close()


def test_the_background_pushes_local_saves_and_hears_the_acknowledgement(
    client: so.Client, tmp_path: Path
) -> None:
    with so.Replica(str(tmp_path / "r.db"), Note, client=client, poll_timeout=2) as replica:
        assert replica.ready(10)
        notes = [Note(title=f"n{i}") for i in range(20)]
        for note in notes:
            note.save(using=replica)  # type: ignore[arg-type]
        assert replica.flush(timeout=10)
        assert {d["title"] for _, d in on_server(client).values()} == {n.title for n in notes}
        assert local(replica) == on_server(client)
    replica.close()


def test_local_saves_from_many_threads_all_arrive(client: so.Client, tmp_path: Path) -> None:
    replica = so.Replica(str(tmp_path / "r.db"), Note, client=client)
    replica.sync()

    def save(k: int) -> None:
        for i in range(25):
            Note(title=f"{k}-{i}").save(using=replica)  # type: ignore[arg-type]

    threads = [threading.Thread(target=save, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert replica.flush(10)
    assert len(on_server(client)) == 100 and local(replica) == on_server(client)
    replica.close()


def test_an_empty_object_made_here_is_created_there(client: so.Client, tmp_path: Path) -> None:
    class Bare(so.Model, bucket="bare"):
        pass

    replica = so.Replica(str(tmp_path / "r.db"), Bare, client=client)
    replica.sync()
    bare = Bare()
    bare.save(using=replica)  # type: ignore[arg-type]
    assert bare.has_pending_writes and replica.flush(10)
    assert client.bucket("bare").fetch(bare.id or "").data == {}
    replica.close()


def test_the_async_twins_of_a_replica(client: so.Client, tmp_path: Path) -> None:
    import asyncio

    async def main() -> None:
        replica = so.Replica(str(tmp_path / "r.db"), Note, client=client)
        await replica.async_()
        Note(title="from a coroutine").save(using=replica)  # type: ignore[arg-type]
        assert await replica.aflush(timeout=10)
        await replica.aclose()

    asyncio.run(main())
    assert [d["title"] for _, d in on_server(client).values()] == ["from a coroutine"]
