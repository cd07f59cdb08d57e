"""Resuming: checkpoints after a stop and after crashes, and a server killed mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.listener_support import Heard, Todo, listener_threads, recording
from tests.support.server_process import ServerProcess

SUPPORT = Path(__file__).resolve().parents[2] / "support"


@pytest.fixture
def me(local_server: SimperiumServer) -> Iterator[tuple[so.Client, so.Client, str]]:
    """The listener's client, another device's client, and their token."""
    token = local_server.create_user()
    mine, other = local_server.client(token), local_server.client(token)
    yield mine, other, token
    mine.close()
    other.close()


def bulk_create(client: so.Client, titles: list[str]) -> None:
    """Create one object per title (id = title) in one ``POST /changes``."""
    client.bucket("todo").bulk_post({title: {"title": title} for title in titles})


def test_file_checkpoint_resumes_after_a_stop(
    me: tuple[so.Client, so.Client, str], tmp_path: Path
) -> None:
    mine, other, _ = me
    path = tmp_path / "cv.json"
    with recording() as rec:
        with so.Listener(Todo, client=mine, checkpoint=so.FileCheckpoint(path), poll_timeout=5):
            other.bucket("todo").write("a", {"title": "a"})
            assert rec.wait_count(1)
        bulk_create(other, ["b", "c"])  # while nobody listens
        again = so.Listener(Todo, client=mine, checkpoint=so.FileCheckpoint(path))
        assert again.cv is not None
        assert [e.id for e in again.poll()] == ["b", "c"]
    assert rec.titles() == ["a", "b", "c"]
    saved = json.loads(path.read_text().splitlines()[0])
    assert saved == {"demo/todo": {"cv": again.cv, "delivered": {}}}


@pytest.mark.parametrize("store", ["memory", "file"])
def test_a_crash_mid_round_redelivers_only_what_was_cut_short(
    me: tuple[so.Client, so.Client, str], tmp_path: Path, store: str
) -> None:
    mine, other, _ = me
    checkpoint = so.MemoryCheckpoint() if store == "memory" else so.FileCheckpoint(tmp_path / "cp")
    listener = so.Listener(Todo, client=mine, checkpoint=checkpoint)
    titles = [f"t{n}" for n in range(6)]
    bulk_create(other, titles)
    crash = ["t3"]

    def crash_once(heard: Heard) -> None:
        if crash and heard.kwargs["instance"].title == crash[0]:
            crash.clear()
            raise SystemExit(3)  # the process dies while t3's receivers run

    with recording() as rec:
        rec.before = crash_once
        with pytest.raises(SystemExit):
            listener.poll()
        assert rec.titles() == ["t0", "t1", "t2"]
        resumed = so.Listener(Todo, client=mine, checkpoint=checkpoint)
        assert [e.id for e in resumed.poll()] == ["t3", "t4", "t5"]
        assert resumed.poll() == []
    assert rec.titles() == titles


def test_system_exit_in_a_background_receiver_stops_the_listener_and_says_so(
    me: tuple[so.Client, so.Client, str], tmp_path: Path
) -> None:
    mine, other, _ = me
    checkpoint = so.FileCheckpoint(tmp_path / "cp")

    def leave(heard: Heard) -> None:
        if heard.kwargs["instance"].title == "t1":
            raise SystemExit(0)

    with recording() as rec:
        rec.before = leave
        listener = so.Listener(Todo, client=mine, checkpoint=checkpoint, poll_timeout=5).start()
        bulk_create(other, ["t0", "t1", "t2"])
        assert rec.wait_for(lambda r: len(r.errors) == 1)
        listener.join(10)
        assert not listener.running and listener_threads() == []
        assert isinstance(rec.errors[0].kwargs["error"], SystemExit)
        rec.before = None
        assert [e.id for e in so.Listener(Todo, client=mine, checkpoint=checkpoint).poll()] == [
            "t1",
            "t2",
        ]
    assert rec.titles() == ["t0", "t1", "t2"]


def run_child(
    server: SimperiumServer, token: str, tmp: Path, crash_on: str = ""
) -> subprocess.Popen[str]:
    args = [server.url, token, str(tmp / "cp.json"), str(tmp / "heard.jsonl"), crash_on]
    child = subprocess.Popen(
        [sys.executable, str(SUPPORT / "listener_child.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    return child


def test_a_killed_process_resumes_from_its_file_checkpoint(
    local_server: SimperiumServer, me: tuple[so.Client, so.Client, str], tmp_path: Path
) -> None:
    _, other, token = me
    child = run_child(local_server, token, tmp_path, crash_on="t5")
    titles = [f"t{n}" for n in range(10)]
    bulk_create(other, [*titles, "end"])
    assert child.wait(30) == -signal.SIGKILL
    child.stdout.close()  # type: ignore[union-attr]
    heard_before = (tmp_path / "heard.jsonl").read_text().splitlines()
    assert [json.loads(line)[0] for line in heard_before] == titles[:5]

    child = run_child(local_server, token, tmp_path)
    assert child.wait(30) == 0
    child.stdout.close()  # type: ignore[union-attr]
    heard = [
        tuple(json.loads(line)) for line in (tmp_path / "heard.jsonl").read_text().splitlines()
    ]
    assert heard == [(title, 1) for title in [*titles, "end"]]  # each once, none lost


def test_server_killed_and_restarted_mid_stream(tmp_path: Path) -> None:
    db = tmp_path / "simperium.sqlite3"
    with ServerProcess(db) as server:
        url = server.url
        token = so.Auth("demo", "demo-api-key", auth_url=url).create(
            f"{uuid.uuid4().hex[:8]}@example.com", "a long password"
        )
        mine = so.Client("demo", token, api_url=url)
        other = so.Client("demo", token, api_url=url)
        titles = [f"t{n:02d}" for n in range(20)]
        with recording() as rec, so.Listener(Todo, client=mine, poll_timeout=2):
            for title in titles[:10]:
                other.bucket("todo").write(title, {"title": title})
            server.kill()  # whatever the listener was doing
            server.start()
            for title in titles[10:]:
                other.bucket("todo").write(title, {"title": title})
            assert rec.wait_for(lambda r: len(r.heard) >= 20, timeout=30)
        assert sorted(rec.titles()) == titles
        assert Counter(rec.keys()).most_common(1)[0][1] == 1
        # The outage was reported (each failed request), then waited out.
        assert rec.errors
        assert all(isinstance(e.kwargs["error"], so.TransportError) for e in rec.errors)
        assert all(e.kwargs["change"] is None for e in rec.errors)
        mine.close()
        other.close()
    assert os.path.exists(db)


def test_stop_between_two_signals_of_a_round_and_start_again(
    me: tuple[so.Client, so.Client, str],
) -> None:
    mine, other, _ = me
    listener = so.Listener(Todo, client=mine, poll_timeout=5)
    titles = [f"t{n}" for n in range(5)]
    bulk_create(other, titles)  # one round of five versions

    def stop_at_t1(heard: Heard) -> None:
        if heard.kwargs["instance"].title == "t1":
            listener.stop()  # from a receiver: the round ends after this signal

    with recording() as rec:
        rec.before = stop_at_t1
        listener.start()
        listener.join(10)
        assert not listener.running and listener_threads() == []
        assert rec.titles() == ["t0", "t1"]
        rec.before = None
        with listener:  # the rest of the round, and nothing twice
            assert rec.wait_count(5)
    assert rec.titles() == titles
