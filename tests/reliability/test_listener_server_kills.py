"""A listener hears a writer's stream across 5 server kills: nothing lost, nothing twice.

The server runs as a subprocess on a SQLite file. A writer thread creates and updates objects
(each update adds 1 to ``count``, so version n holds ``count == n - 1``); a ``so.Listener`` with
a ``so.FileCheckpoint`` hears them. Five times, while both are busy, the server gets SIGKILL
and is started again on the same file and port. The writer rides each outage out with
retries (same ccid, so a write whose answer died with the server lands once); the listener
reports each failed poll and polls again from the same cv. At the end:

- no ``(id, version)`` was delivered twice, and each object's versions came in order;
- each delivered instance is the object at that version (``count == version - 1``);
- every change in the server's log was delivered: one signal per version, none folded;
- a new listener resuming from the checkpoint file finds nothing left to deliver.

Figures: ``.venv/bin/pytest tests/reliability/test_listener_server_kills.py -s`` prints them;
``-m soak`` runs the same with 50 kills.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.wire.transport import Transport
from tests.support.server_process import ServerProcess

KILLS = 5
SAVES_BETWEEN_KILLS = 40


class Tally(so.Model, bucket="tally"):
    title: str
    count: int = 0


class Heard:
    """Every remote create/update of ``Tally`` as ``(id, version, count)``, and the errors."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, int]] = []
        self.errors: list[BaseException] = []
        self.changed = threading.Condition()

    def on_change(self, sender: Any, *, instance: Tally, **kwargs: Any) -> None:
        assert instance.id is not None and instance.version is not None
        with self.changed:
            self.events.append((instance.id, instance.version, instance.count))
            self.changed.notify_all()

    def on_error(self, sender: Any, *, error: BaseException, **kwargs: Any) -> None:
        with self.changed:
            self.errors.append(error)

    def last_versions(self) -> dict[str, int]:
        with self.changed:
            return {item: version for item, version, _ in self.events}


class Writer(threading.Thread):
    """Saves creates and updates until stopped; counts the acknowledged saves."""

    def __init__(self, client: so.Client, seed: int) -> None:
        super().__init__(name="tally-writer")
        self.client = client
        self.rng = random.Random(seed)
        self.notes: list[Tally] = []
        self.saves = 0
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                if len(self.notes) < 3 or self.rng.random() < 0.3:
                    note = Tally(title=f"t{self.saves}")
                    note.save(using=self.client)
                    self.notes.append(note)
                else:
                    note = self.rng.choice(self.notes)
                    note.count += 1
                    note.save()
                    assert note.count == (note.version or 0) - 1
                self.saves += 1
                time.sleep(0.002)  # a steady stream, not a flood
        except BaseException as exc:  # reported by the test
            self.failure = exc

    def wait_for(self, saves: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.saves < saves and self.failure is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.failure is None, self.failure
        assert self.saves >= saves, "the writer stalled"


def change_log(client: so.Client) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    cv = None
    while batch := client.bucket("tally").changes(cv=cv, wait=False, batch=1000):
        changes.extend(batch)
        cv = batch[-1]["cv"]
    return changes


def listen_across_kills(tmp_path: Path, kills: int) -> str:
    """A writer, a listener and ``kills`` server kills, checked at the end; the figures."""
    started = time.perf_counter()
    heard = Heard()
    signals.remote_created.connect(heard.on_change, sender=Tally, weak=False)
    signals.remote_updated.connect(heard.on_change, sender=Tally, weak=False)
    signals.listener_error.connect(heard.on_error, weak=False)
    checkpoint_path = tmp_path / "listener.checkpoint"
    try:
        with ServerProcess(tmp_path / "simperium.sqlite3", long_poll_timeout=2) as server:
            token = so.Auth("demo", "demo-api-key", auth_url=server.url).create(
                f"{uuid.uuid4().hex[:8]}@example.com", "a long password"
            )
            mine = so.Client("demo", token, api_url=server.url)
            # Enough quick retries to ride out a restart (about a second) with the same ccid.
            backoffs: list[float] = []

            def sleep(seconds: float) -> None:
                backoffs.append(seconds)
                time.sleep(seconds)

            patient = Transport(retries=400, backoff=0.01, max_backoff=0.05, sleep=sleep)
            other = so.Client("demo", token, api_url=server.url, transport=patient)
            listener = so.Listener(
                Tally, client=mine, checkpoint=so.FileCheckpoint(checkpoint_path), poll_timeout=2
            )
            writer = Writer(other, seed=5)
            with listener:
                writer.start()
                try:
                    for kill in range(1, kills + 1):
                        writer.wait_for(kill * SAVES_BETWEEN_KILLS)
                        server.kill()
                        server.start()
                    writer.wait_for((kills + 1) * SAVES_BETWEEN_KILLS)
                finally:
                    writer.stopping.set()
                    writer.join(60)
                assert writer.failure is None, writer.failure
                final = {note.id: note for note in writer.notes}
                wanted = {item: note.version for item, note in final.items()}
                with heard.changed:
                    assert heard.changed.wait_for(
                        lambda: {i: v for i, v, _ in heard.events} == wanted, timeout=60
                    ), "the listener did not catch up"
            assert not listener.running
            log = change_log(mine)
            resumed = so.Listener(Tally, client=mine, checkpoint=so.FileCheckpoint(checkpoint_path))
            leftover = resumed.poll()
            mine.close()
            other.close()
        assert server.starts == kills + 1
    finally:
        signals.remote_created.disconnect(heard.on_change, sender=Tally)
        signals.remote_updated.disconnect(heard.on_change, sender=Tally)
        signals.listener_error.disconnect(heard.on_error)

    # Nothing twice, in order, each instance at its own version.
    keys = [(item, version) for item, version, _ in heard.events]
    assert Counter(keys).most_common(1)[0][1] == 1
    by_object: dict[str, list[int]] = {}
    for item, version, count in heard.events:
        assert count == version - 1, (item, version, count)
        by_object.setdefault(item, []).append(version)
    assert all(versions == sorted(versions) for versions in by_object.values())
    # Nothing lost: each version in the server's log was heard, each object's last one last.
    assert len(log) == writer.saves
    assert sorted(keys) == sorted((change["id"], change["ev"]) for change in log)
    for item, note in final.items():
        assert by_object[item][-1] == note.version
    assert leftover == []
    outage_errors = sum(isinstance(e, so.TransportError) for e in heard.errors)
    assert outage_errors == len(heard.errors)  # only failed polls, no receiver or data errors
    return (
        f"{writer.saves} saves of {len(final)} objects, {kills} server kills,"
        f" {len(heard.events)} deliveries (one per version),"
        f" {len(backoffs)} writer retries, {outage_errors} failed polls reported,"
        f" {time.perf_counter() - started:.1f} s"
    )


def test_a_listener_hears_every_change_once_across_5_server_kills(tmp_path: Path) -> None:
    print(listen_across_kills(tmp_path, KILLS))


@pytest.mark.soak
def test_soak_a_listener_across_50_server_kills(tmp_path: Path) -> None:
    print(listen_across_kills(tmp_path, 50))
