"""Acknowledged writes survive a SIGKILL of the server, and the SQLite file stays sound.

Four writer threads, each with its own client and its own objects, create and update objects
against the server running as a subprocess on a SQLite file (WAL). Three times the server is
killed with SIGKILL in the middle of the stream; each writer stops at its first failed request.
After every restart on the same file:

- every write whose ``save()`` returned is there: the object is at the acknowledged version
  with the acknowledged data, or one version later (the write in flight at the kill may have
  been committed without its answer reaching the client), and no object is further ahead;
- ``PRAGMA integrity_check`` of the database says ``ok``, while the server runs after the
  crash and once more after a clean stop.

The writers go on after each restart with the objects they hold (read back from the server),
so later rounds update objects written before a crash. The soak run kills it 30 times::

    .venv/bin/pytest -m soak tests/reliability/test_durability_after_kill.py -s
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import pytest

import simperium_orm as so
from simperium_orm.wire.transport import Transport
from tests.support.server_process import ServerProcess

WRITERS = 4
ROUNDS = 3  # the soak run: 30 (pytest -m soak)
SAVES_PER_ROUND = 150


class Entry(so.Model, bucket="entry"):
    writer: int
    count: int = 0
    text: str = ""


class Writer(threading.Thread):
    """Creates and updates its own objects until a request fails; records what was acked."""

    def __init__(self, number: int, client: so.Client, entries: list[Entry], seed: int) -> None:
        super().__init__(name=f"entry-writer-{number}")
        self.number = number
        self.client = client
        self.entries = entries
        self.rng = random.Random(seed)
        #: id -> (version, data) of each acknowledged save, the last one per object
        self.acked: dict[str, tuple[int, dict[str, object]]] = {}
        self.saves = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                if len(self.entries) < 3 or self.rng.random() < 0.3:
                    entry = Entry(writer=self.number)
                    self.entries.append(entry)  # before saving: it may land unacknowledged
                    entry.save(using=self.client)
                else:
                    entry = self.rng.choice(self.entries)
                    if entry.version is None:
                        continue  # its create was in flight at a kill; read back later
                    entry.count += 1
                    entry.text = uuid.uuid4().hex
                    entry.save(using=self.client)
                assert entry.id is not None and entry.version is not None
                self.acked[entry.id] = (entry.version, entry.model_dump())
                self.saves += 1
        except so.SimperiumError as exc:  # the server was killed: this writer stops
            self.error = exc


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def read_back(client: so.Client, entries: list[Entry]) -> int:
    """Bring each object to the server's state; how many unacknowledged creates had landed.

    A create in flight at the kill left an object with an id but no version: it is kept if
    the server committed it, and forgotten if not.
    """
    landed = 0
    for index, entry in reversed(list(enumerate(entries))):
        if entry.version is not None:
            entry.refresh(using=client)
            continue
        try:
            entries[index] = Entry.objects.using(client).get(str(entry.id))
            landed += 1
        except Entry.DoesNotExist:
            del entries[index]
    return landed


def kill_mid_stream(tmp_path: Path, rounds: int) -> str:
    """``rounds`` kills of the server under the writers, checked after each; the figures."""
    started = time.perf_counter()
    db = tmp_path / "simperium.sqlite3"
    server = ServerProcess(db, long_poll_timeout=1).start()
    acked: dict[str, tuple[int, dict[str, object]]] = {}
    entries: list[list[Entry]] = [[] for _ in range(WRITERS)]
    total_saves = in_flight_landed = 0
    try:
        token = so.Auth("demo", "demo-api-key", auth_url=server.url).create(
            f"{uuid.uuid4().hex[:8]}@example.com", "a long password"
        )
        for round_number in range(rounds):
            clients = [
                so.Client("demo", token, api_url=server.url, transport=Transport(retries=0))
                for _ in range(WRITERS)
            ]
            writers = [
                Writer(n, clients[n], entries[n], seed=round_number * WRITERS + n)
                for n in range(WRITERS)
            ]
            for writer in writers:
                writer.start()
            deadline = time.monotonic() + 60
            while sum(w.saves for w in writers) < SAVES_PER_ROUND and time.monotonic() < deadline:
                time.sleep(0.005)
            server.kill()  # the writers are mid-stream
            for writer in writers:
                writer.join(30)
                assert not writer.is_alive()
                assert isinstance(writer.error, so.TransportError), writer.error
                acked.update(writer.acked)
                total_saves += writer.saves
            for client in clients:
                client.close()

            server.start()
            with so.Client("demo", token, api_url=server.url) as direct:
                stored = {e.id: e for e in Entry.objects.using(direct).iterate()}
                for item, (version, data) in acked.items():
                    assert item in stored, f"acknowledged {item} v{version} is gone"
                    entry = stored[item]
                    assert entry.version in (version, version + 1), (item, version, entry.version)
                    if entry.version == version:
                        assert entry.model_dump() == data
                    else:
                        in_flight_landed += 1
                        acked[item] = (entry.version, entry.model_dump())
                in_flight_landed += sum(read_back(direct, own) for own in entries)
            assert integrity(db) == "ok"
        assert total_saves >= rounds * SAVES_PER_ROUND
    finally:
        code = server.stop()
    assert code == 0
    assert integrity(db) == "ok"
    return (
        f"{WRITERS} writers, {rounds} SIGKILLs mid-stream, {total_saves} acknowledged saves of"
        f" {len(acked)} objects all present after restart, {in_flight_landed} unacknowledged"
        f" in-flight writes found committed, integrity_check ok,"
        f" {time.perf_counter() - started:.1f} s"
    )


def test_acknowledged_writes_survive_sigkill_and_the_database_passes_integrity_check(
    tmp_path: Path,
) -> None:
    print(kill_mid_stream(tmp_path, ROUNDS))


@pytest.mark.soak
def test_soak_acknowledged_writes_survive_30_sigkills(tmp_path: Path) -> None:
    print(kill_mid_stream(tmp_path, 30))
