"""A replica process killed -9 at random points while it follows a writer loses nothing.

A writer thread keeps updating objects (each update adds 1 to ``count``, so version n holds
``count == n - 1``) and creating new ones. A replica process follows the bucket and appends each
signal to a file (fsynced inside the receiver). Twenty times it is killed with SIGKILL at a
random moment and started again on the same file. At the end:

- the replica holds exactly the server's objects, versions and data;
- every version written after the first index was signalled, with the object at that version;
- no version was signalled twice, except at most one per kill (the one whose receiver had run
  when the process died, before its signal was marked sent).

``-m soak`` runs 100 kills.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.replica_child import Tally

CHILD = Path(__file__).resolve().parents[1] / "support" / "replica_child.py"


def run_kills(tmp_path: Path, kills: int) -> None:
    rng = random.Random(20261206)
    with SimperiumServer(long_poll_timeout=2) as server:
        token = server.create_user()
        client = server.client(token=token)
        writer = server.client(token=token)
        objs = Tally.objects.using(writer).bulk_save([Tally(title=f"t{i}") for i in range(8)])
        path, out = str(tmp_path / "replica.db"), tmp_path / "heard.jsonl"
        first = so.Replica(path, Tally, client=client)
        first.sync()  # the first index is silent: what follows must all be signalled
        first.close()
        stop = threading.Event()

        def write() -> None:
            wrng = random.Random(7)
            while not stop.is_set():
                if wrng.random() < 0.1:
                    objs.append(Tally.objects.using(writer).create(title="new"))
                obj = wrng.choice(objs)
                obj.count += 1
                obj.save()
                time.sleep(0.002)

        thread = threading.Thread(target=write)
        thread.start()
        try:
            for _ in range(kills):
                child = start_child(server, token, path, out)
                time.sleep(rng.uniform(0.05, 0.4))
                child.kill()
                child.wait()
        finally:
            stop.set()
            thread.join()
        child = start_child(server, token, path, out)
        expected = expected_versions(objs)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not heard_all(out, expected):
            time.sleep(0.05)
        child.kill()
        child.wait()
        replica = so.Replica(path, Tally, client=client)
        replica.sync()
        with replica.store.reading() as conn:
            mirrored = {
                i: (v, json.loads(d))
                for i, v, d in conn.execute("SELECT id, version, data FROM objects")
            }
        replica.close()
    assert mirrored == {o.id: (o.version, {"title": o.title, "count": o.count}) for o in objs}
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    for kind, _, version, count in lines:
        assert count == version - 1 and kind == ("created" if version == 1 else "updated")
    seen = Counter((item, version) for _, item, version, _ in lines)
    assert set(seen) == expected, "a version was never signalled"
    twice = sum(n - 1 for n in seen.values())
    assert all(n <= 2 for n in seen.values()) and twice <= kills
    print(f"\n{kills} kills: {len(lines)} signals, {len(expected)} versions, {twice} repeated")


def start_child(server: SimperiumServer, token: str, path: str, out: Path) -> Any:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), server.url, token, path, str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def expected_versions(objs: list[Tally]) -> set[tuple[str, int]]:
    """Every version after the first index: the first 8 objects were indexed at version 1."""
    out: set[tuple[str, int]] = set()
    for n, obj in enumerate(objs):
        assert obj.id is not None and obj.version is not None
        out.update((obj.id, v) for v in range(2 if n < 8 else 1, obj.version + 1))
    return out


def heard_all(out: Path, expected: set[tuple[str, int]]) -> bool:
    if not out.exists():
        return False
    got = {(json.loads(line)[1], json.loads(line)[2]) for line in out.read_text().splitlines()}
    return got >= expected


def test_a_replica_killed_20_times_loses_nothing_and_repeats_at_most_one_per_kill(
    tmp_path: Path,
) -> None:
    run_kills(tmp_path, 20)


@pytest.mark.soak
def test_a_replica_killed_100_times(tmp_path: Path) -> None:
    run_kills(tmp_path, 100)
