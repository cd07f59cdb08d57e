"""Local writes through a replica survive kill -9, and a push killed midway applies each once.

1. 1,000 saves through a replica with the server stopped, the process killed -9 at random
   moments between and during them, then the server started and the file pushed: every save
   that returned is on the server exactly once (version 1), and nothing else.
2. The push of 2,000 queued changes killed -9 at 20 random moments: afterwards every change is
   on the server exactly once and the replica equals the server.
3. The fault proxy cutting 20% of the connections during a push of 1,000 changes: each applied
   once.

``-m soak`` runs 5,000 saves and 100 kills.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.replica import push
from tests.support.fault_proxy import FaultProxy, SeededFaults
from tests.support.replica_support import Contents, in_replica, on_server
from tests.support.replica_writer_child import Item
from tests.support.server_process import ServerProcess

CHILD = Path(__file__).resolve().parents[1] / "support" / "replica_writer_child.py"


def child(mode: str, url: str, token: str, path: str, n: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), mode, url, token, path, str(n)],
        stdout=subprocess.PIPE,
        text=True,
    )


def on_server_items(client: so.Client) -> Contents:
    return on_server(client, "items")


def mirrored(path: str, client: so.Client) -> dict[str, tuple[int, dict[str, Any]]]:
    replica = so.Replica(path, Item, client=client)
    found = in_replica(replica)
    replica.close(discard=True)
    return found


def new_user(url: str) -> tuple[str, so.Client]:
    token = so.Auth("demo", "demo-api-key", auth_url=url).create(
        f"{uuid.uuid4().hex[:8]}@example.com", "a long password"
    )
    return token, so.Client("demo", token, api_url=url, auth_url=url)


def run_saves(tmp_path: Path, saves: int) -> None:
    rng = random.Random(42)
    with ServerProcess(tmp_path / "server.sqlite3", long_poll_timeout=1) as server:
        token, client = new_user(server.url)
        path = str(tmp_path / "r.db")
        so.Replica(path, Item, client=client).close()  # the file knows its user
        server.kill()
        returned: set[str] = set()  # saves that returned (the rest may have committed too)
        kills = 0
        while True:
            proc = child("save", server.url, token, path, saves)
            assert proc.stdout is not None
            for _ in range(rng.randint(10, 120)):  # then killed while it goes on saving
                line = proc.stdout.readline()
                if not line:
                    break
                returned.add(line.strip())
            proc.kill()
            finished = proc.wait() == 0  # it ended on its own: every object is in the file
            returned.update(line.strip() for line in proc.stdout.read().splitlines())
            if finished:
                break
            kills += 1
        server.start()
        pusher = child("push", server.url, token, path)
        assert pusher.communicate(timeout=120)[0].strip() == "done"
        stored = on_server_items(client)
    assert returned <= set(stored) == {f"w{k}" for k in range(saves)}
    assert all(
        v == 1 and d == {"k": int(i[1:]), "text": f"saved {i[1:]}"} for i, (v, d) in stored.items()
    )
    print(f"\n{saves} saves over {kills} kills: each on the server once")


def run_push_kills(tmp_path: Path, changes: int, kills: int) -> None:
    rng = random.Random(7)
    with ServerProcess(tmp_path / "server.sqlite3", long_poll_timeout=1) as server:
        token, client = new_user(server.url)
        path = str(tmp_path / "r.db")
        replica = so.Replica(path, Item, client=client)
        replica.sync()
        for k in range(changes):
            obj = Item(k=k, text="queued")
            obj.id = f"p{k}"
            obj.save(using=replica)  # type: ignore[arg-type]
        replica.close(discard=True)
        for _ in range(kills):
            proc = child("push", server.url, token, path)
            time.sleep(rng.uniform(0.05, 0.4))
            proc.kill()
            proc.wait()
        final = child("push", server.url, token, path)
        assert final.communicate(timeout=120)[0].strip() == "done"
        stored = on_server_items(client)
        assert mirrored(path, client) == stored
    assert set(stored) == {f"p{k}" for k in range(changes)}
    assert all(v == 1 for v, _ in stored.values()), "a change was applied twice"
    print(f"\npush of {changes} changes over {kills} kills: each applied once")


def test_saves_through_a_replica_survive_kill_9_and_land_once(tmp_path: Path) -> None:
    run_saves(tmp_path, 1000)


def test_a_push_killed_20_times_applies_each_change_once(tmp_path: Path) -> None:
    run_push_kills(tmp_path, 2000, 20)


def test_a_push_through_cut_connections_applies_each_change_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(push, "_BATCH", 10)  # 100 requests, so that cuts hit many of them
    with ServerProcess(tmp_path / "server.sqlite3", long_poll_timeout=1) as server:
        token, direct = new_user(server.url)
        with FaultProxy(server.url, SeededFaults(seed=3, cut=0.2)) as proxy:
            client = so.Client("demo", token, api_url=proxy.url, retries=0)
            replica = so.Replica(str(tmp_path / "r.db"), Item, client=client)
            while True:
                try:
                    replica.sync()
                    break
                except so.TransportError:
                    continue
            for k in range(1000):
                obj = Item(k=k)
                obj.id = f"c{k}"
                obj.save(using=replica)  # type: ignore[arg-type]
            deadline = time.monotonic() + 120
            while not replica.flush(timeout=1) and time.monotonic() < deadline:
                pass
            assert replica.pending() == []
            replica.close()
            assert proxy.stats.cut_rate > 0.05
        stored = on_server_items(direct)
    assert set(stored) == {f"c{k}" for k in range(1000)}
    assert all(v == 1 for v, _ in stored.values())


@pytest.mark.soak
def test_soak_saves_and_pushes(tmp_path: Path) -> None:
    run_saves(tmp_path / "a", 5000)
    run_push_kills(tmp_path / "b", 5000, 100)


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_replicas_edit_the_same_100_objects_offline_and_converge(
    tmp_path: Path, first: str
) -> None:
    with ServerProcess(tmp_path / "server.sqlite3", long_poll_timeout=1) as server:
        token, client = new_user(server.url)
        seed = [Item(k=k, text=f"line one {k}\nline two {k}\n") for k in range(100)]
        for obj, k in zip(seed, range(100), strict=True):
            obj.id = f"s{k}"
        Item.objects.using(client).bulk_save(seed)
        replicas = {}
        for name in "ab":
            other = so.Client("demo", token, api_url=server.url, auth_url=server.url)
            replicas[name] = so.Replica(str(tmp_path / f"{name}.db"), Item, client=other)
            replicas[name].sync()
        server.kill()  # both edit offline
        for obj in Item.objects.using(replicas["a"]).all():
            obj.k += 1000  # a: one field, and the start of the text
            obj.text = "A " + obj.text
            obj.save()
        for obj in Item.objects.using(replicas["b"]).all():
            obj.text = obj.text + "B\n"  # b: the end of the text
            obj.save()
        server.start()
        order = ["a", "b", "a", "b"] if first == "a" else ["b", "a", "b", "a"]
        for name in order:
            assert replicas[name].flush(timeout=30)
        stored = on_server_items(client)
        for name in "ab":
            assert mirrored_of(replicas[name]) == stored
            replicas[name].close()
    for k in range(100):
        data = stored[f"s{k}"][1]
        assert data == {"k": k + 1000, "text": f"A line one {k}\nline two {k}\nB\n"}, data


def mirrored_of(replica: so.Replica) -> Contents:
    return in_replica(replica)
