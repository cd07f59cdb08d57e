"""Saves through a proxy that cuts 20% of connections: every save lands exactly once.

A writer creates objects and updates existing ones with ``Model.save()`` through a
:class:`~fault_proxy.FaultProxy` that drops a connection before it reaches the server or cuts it
mid-response after the server has applied the write (the answer is lost). The client retries
with the same ``ccid``; the server applies a ccid once and answers a repeat with 409, which the
client takes as success. Afterwards, read directly from the server:

- each object holds exactly the writer's last state, at the version ``save()`` reported;
- the bucket's ``/changes`` feed holds one change per save, each ccid once, and each object's
  versions 1..n in order without a gap or a repeat;
- every retained version of the most edited objects is the state after that many saves
  (a write applied twice would show up as a skipped version or a doubled list entry).

The default run does 1,000 saves in one thread (deterministic: connection n always gets the
same fault). The soak run does 10,000 saves from 4 threads and is deselected by default::

    .venv/bin/pytest -m soak tests/reliability -s    # -s prints the figures of each run
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from simperium_orm.wire.transport import Transport
from tests.support.fault_proxy import FaultProxy, SeededFaults, Stats

CUT_RATE = 0.2


class Note(so.Model, bucket="note"):
    title: str
    count: int = 0
    log: list[int] = []


@dataclass
class Figures:
    """What one run did, for the record."""

    saves: int = 0
    creates: int = 0
    seconds: float = 0.0
    retries: int = 0
    duplicates_refused: int = 0  # 409 answers to a retried write: the first attempt had landed
    proxy: Stats = field(default_factory=Stats)

    def __str__(self) -> str:
        return (
            f"{self.saves} saves ({self.creates} creates) in {self.seconds:.1f} s;"
            f" {self.proxy.connections} connections, cut rate {self.proxy.cut_rate:.1%}"
            f" ({dict(self.proxy.faults)}),"
            f" answered then cut: {dict(self.proxy.answered_then_cut)};"
            f" {self.retries} retries,"
            f" {self.duplicates_refused} retried writes refused as duplicates"
        )


class StatusCounter(logging.Handler):
    """Counts the client's HTTP attempts by status (from the ``simperium_orm.http`` log)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retried: Counter[int] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and record.args[-1:] == (" retry",):
            self.retried[getattr(record, "status", 0)] += 1


@pytest.fixture
def statuses() -> Iterator[StatusCounter]:
    logger = logging.getLogger("simperium_orm.http")
    counter, level, propagate = StatusCounter(), logger.level, logger.propagate
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # thousands of lines: kept out of pytest's captured log
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(level)
    logger.propagate = propagate


def write(client: so.Client, rng: random.Random, saves: int, prefix: str) -> dict[str, Note]:
    """Create and update objects with ``save()``; check each save's version; the objects."""
    notes: list[Note] = []
    for step in range(saves):
        if len(notes) < 5 or rng.random() < 0.25:
            note = Note(title=f"{prefix}{step}")
            note.save(using=client)
            assert note.version == 1
            notes.append(note)
            continue
        note = rng.choice(notes)
        before = note.version
        assert before is not None
        note.count += 1
        note.log = [*note.log, step]
        note.title = f"{prefix}{step}"
        note.save()
        assert note.version == before + 1, (note.id, before, note.version)
    return {note.id: note for note in notes if note.id is not None}


def run(
    server: SimperiumServer, statuses: StatusCounter, *, saves: int, writers: int, seed: int
) -> tuple[Figures, dict[str, Note], so.Client]:
    """``saves`` saves split over ``writers`` threads through a cutting proxy."""
    token = server.create_user()
    figures = Figures(saves=saves)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    written: dict[str, Note] = {}
    failures: list[BaseException] = []
    plan = SeededFaults(seed, cut=CUT_RATE, delay=0.05, max_delay=0.005)
    with FaultProxy(server.url, plan) as proxy:
        transport = Transport(retries=12, backoff=0.002, max_backoff=0.02, sleep=sleep)
        client = so.Client(server.app_id, token, api_url=proxy.url, transport=transport)

        def writer(number: int) -> None:
            try:
                rng = random.Random(f"{seed}/writer/{number}")
                written.update(write(client, rng, saves // writers, f"w{number}-"))
            except BaseException as exc:  # reported by the test, not as a thread's crash
                failures.append(exc)

        started = time.perf_counter()
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        figures.seconds = time.perf_counter() - started
        client.close()
    assert not failures, failures
    figures.creates = len(written)
    figures.retries = len(slept)
    figures.duplicates_refused = statuses.retried[409]
    figures.proxy = proxy.stats
    return figures, written, server.client(token)


def feed(client: so.Client) -> list[dict[str, object]]:
    """The bucket's whole change log, oldest first."""
    changes: list[dict[str, object]] = []
    cv = None
    while batch := client.bucket("note").changes(cv=cv, wait=False, batch=1000):
        changes.extend(batch)
        cv = str(batch[-1]["cv"])
    return changes


def check_each_save_landed_once(written: dict[str, Note], direct: so.Client, saves: int) -> None:
    stored = {note.id: note for note in Note.objects.using(direct).iterate()}
    assert stored.keys() == written.keys()
    for item, note in written.items():
        assert stored[item].version == note.version
        assert stored[item].model_dump() == note.model_dump()
        assert note.count == len(note.log) == note.version - 1  # type: ignore[operator]

    changes = feed(direct)
    assert len(changes) == saves
    ccids = [ccid for change in changes for ccid in change["ccids"]]  # type: ignore[attr-defined]
    assert len(set(ccids)) == len(ccids) == saves
    versions: dict[str, list[int]] = {}
    for change in changes:
        item, ev = str(change["id"]), int(change["ev"])  # type: ignore[call-overload]
        assert change.get("sv") == (ev - 1 if ev > 1 else None)
        versions.setdefault(item, []).append(ev)
    for item, note in written.items():
        assert versions[item] == list(range(1, (note.version or 0) + 1))

    bucket = direct.bucket("note")
    most_edited = sorted(written.values(), key=lambda n: n.version or 0)[-10:]
    for note in most_edited:
        for version in range(1, (note.version or 0) + 1):
            data = bucket.get(str(note.id), version=version)
            assert data["count"] == version - 1
            assert data["log"] == note.log[: version - 1]


def test_1000_saves_through_a_proxy_cutting_20_percent_land_exactly_once(
    simperium_server: SimperiumServer, statuses: StatusCounter
) -> None:
    figures, written, direct = run(simperium_server, statuses, saves=1000, writers=1, seed=20)
    try:
        check_each_save_landed_once(written, direct, 1000)
    finally:
        direct.close()
    print(figures)
    assert 0.15 < figures.proxy.cut_rate < 0.25
    assert figures.proxy.answered_then_cut["POST"] > 50  # lost answers of applied writes
    assert figures.duplicates_refused > 50  # ... each retried and refused once, not applied twice


@pytest.mark.soak
def test_soak_10000_saves_from_4_threads_through_a_cutting_proxy(
    simperium_server: SimperiumServer, statuses: StatusCounter
) -> None:
    figures, written, direct = run(simperium_server, statuses, saves=10_000, writers=4, seed=21)
    try:
        check_each_save_landed_once(written, direct, 10_000)
    finally:
        direct.close()
    print(figures)
    assert 0.15 < figures.proxy.cut_rate < 0.25
