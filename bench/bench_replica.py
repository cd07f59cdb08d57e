"""Replica benchmarks: local reads against HTTP and against a bare sqlite3 floor; syncing costs.

The floor for a local read is a bare ``sqlite3`` query plus pydantic validation of the rows it
returns, measured in the same run on the same objects in a plain table with an expression index.
Measured (each pair timed turn about, medians):

1. ``get(id)`` from the replica vs ``Model.objects.get(id)`` over HTTP (>= 20x faster) and vs
   the floor, a point select of the row and validating it (<= 3x);
2. a selective filter (100 matches) on an indexed field of a 100,000-object replica vs the floor
   (the same select through an expression index, validating each row): <= 3x;
3. a filter on an unindexed field over 20,000 objects, replica vs HTTP: >= 10x faster;
4. the first sync of 100,000 objects vs ``list(Model.objects.iterate())``: <= 1.5x;
5. catching up on the same 1,000 remote changes in a 10,000- and a 100,000-object replica:
   ratio <= 1.3 (the cost follows the changes, not the bucket);
6. remote write -> replica signal, p99: <= 50 ms; the file's size per object against the
   objects' JSON: <= 3x;
7. a local ``save()`` (durable commit, no request), p50: <= 0.5 ms;
8. 10,000 saves made offline and then pushed vs ``bulk_save`` of the same objects: <= 1.2x.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from _report import Report, Result, paired, scaled
from _server import API_KEY, APP, running_server

import simperium_orm as so

BENCH = "replica"
BIG_N = scaled(100_000, 1000)
SMALL_N = scaled(10_000, 200)
FILTER_N = scaled(20_000, 200)
CHANGES_N = scaled(1_000, 50)
LATENCY_N = scaled(300, 20)
SAVES_N = scaled(10_000, 100)


class Note(so.Model, bucket="notes", indexes=("tag",)):
    title: str
    body: str = ""
    tag: str = ""
    n: int = 0


def notes(n: int, prefix: str = "", model: type[Note] = Note, offset: int = 0) -> list[Note]:
    return [
        model(
            title=f"{prefix}note {i}",
            body="Some words of a note, long enough to look like one. " * 3,
            tag=f"t{i % (n // 100 or 1)}",  # about 100 objects per tag
            n=offset + i,
        )
        for i in range(n)
    ]


def populate(client: so.Client, model: type[Note], n: int) -> None:
    objs = model.objects.using(client)
    for start in range(0, n, 5000):
        objs.bulk_save(notes(min(5000, n - start), f"{start}-", model, start))


def floor_table(replica: so.Replica, bucket: str) -> sqlite3.Connection:
    """The same objects in a plain table with an expression index on tag."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, data TEXT)")
    with replica.store.reading() as source:
        rows = source.execute("SELECT id, data FROM objects WHERE bucket = ?", (bucket,))
        conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
    conn.execute("CREATE INDEX t_tag ON t (json_extract(data, '$.tag'))")
    conn.commit()
    return conn


def bench_reads(report: Report, client: so.Client, folder: Path) -> None:
    class Big(Note, bucket="big", indexes=("tag",)):
        pass

    populate(client, Big, BIG_N)
    replica = so.Replica(str(folder / "big.db"), Big, client=client)
    started = time.perf_counter()
    replica.sync()
    first_sync = time.perf_counter() - started
    floor = floor_table(replica, "big")
    some = [o.id for o in Big.objects.using(replica).all()[:200]]
    local = Big.objects.using(replica)
    over_http = Big.objects.using(client)
    validate = Big.__pydantic_validator__.validate_json

    def local_gets() -> None:
        for item in some:
            local.get(item)

    def floor_gets() -> None:
        for item in some:
            row = floor.execute("SELECT data FROM t WHERE id = ?", (item,)).fetchone()
            validate(row[0])

    def http_gets() -> None:
        for item in some[:50]:
            over_http.get(item)

    mine, bare = paired(local_gets, floor_gets, runs=7)
    mine_again, http = paired(local_gets, http_gets, runs=5)
    report.add(Result(
        BENCH, "get(id): replica vs over HTTP", (http / 50) / (mine_again / len(some)), "x",
        20, "higher",
        detail=f"replica {mine_again / len(some) * 1e6:.0f} µs, HTTP {http / 50 * 1e6:.0f} µs",
    ))  # fmt: skip
    report.add(Result(
        BENCH, "get(id): replica / bare sqlite3 point select + validation", mine / bare, "x", 3,
        detail=f"replica {mine / len(some) * 1e6:.1f} µs, floor {bare / len(some) * 1e6:.1f} µs",
    ))  # fmt: skip
    tag = "t7"

    def local_filter() -> int:
        return len(list(local.filter(tag=tag)))

    def floor_filter() -> int:
        rows = floor.execute("SELECT data FROM t WHERE json_extract(data, '$.tag') = ?", (tag,))
        return len([validate(r[0]) for r in rows])

    assert local_filter() == floor_filter() > 0
    mine, bare = paired(local_filter, floor_filter, runs=9)
    report.add(Result(
        BENCH, f"indexed filter ({floor_filter()} matches of {BIG_N:,}): replica / bare sqlite3",
        mine / bare, "x", 3, detail=f"replica {mine * 1e3:.2f} ms, floor {bare * 1e3:.2f} ms",
    ))  # fmt: skip

    def scan() -> int:
        return len(list(over_http.iterate()))

    iterate = statistics.median(_timed(scan) for _ in range(3))
    report.add(Result(
        BENCH, f"first sync of {BIG_N:,} objects / list(iterate()) over HTTP",
        first_sync / iterate, "x", 1.5,
        detail=f"sync {first_sync:.2f} s, iterate {iterate:.2f} s",
    ))  # fmt: skip
    json_bytes = sum(len(json.dumps(n.model_dump())) for n in notes(1000)) / 1000
    replica.store.checkpoint()
    size = os.path.getsize(replica.store.path) / BIG_N
    report.add(Result(
        BENCH, "replica file size per object / its JSON", size / json_bytes, "x", 3,
        detail=f"{size:.0f} bytes an object on disk, {json_bytes:.0f} bytes of JSON",
    ))  # fmt: skip
    catch_up_large = catch_up(client, replica, Big)
    replica.close()

    class Small(Note, bucket="small", indexes=("tag",)):
        pass

    populate(client, Small, SMALL_N)
    small = so.Replica(str(folder / "small.db"), Small, client=client)
    small.sync()
    catch_up_small = catch_up(client, small, Small)
    small.close()
    report.add(Result(
        BENCH, f"catching up {CHANGES_N:,} changes: {BIG_N:,}- / {SMALL_N:,}-object replica",
        catch_up_large / catch_up_small, "x", 1.3,
        detail=f"{catch_up_large * 1e3:.0f} ms vs {catch_up_small * 1e3:.0f} ms",
    ))  # fmt: skip


def catch_up(client: so.Client, replica: so.Replica, model: type[Note]) -> float:
    """Seconds a replica takes to apply ``CHANGES_N`` changes written while it slept."""
    objs = list(model.objects.using(client).all()[:CHANGES_N])
    times = []
    for round_ in range(3):
        for obj in objs:
            obj.n = -round_ - 1
        model.objects.using(client).bulk_save(objs)
        times.append(_timed(replica.sync))
    return statistics.median(times)


def bench_unindexed(report: Report, client: so.Client, folder: Path) -> None:
    class Mid(Note, bucket="mid"):
        pass

    populate(client, Mid, FILTER_N)
    replica = so.Replica(str(folder / "mid.db"), Mid, client=client)
    replica.sync()

    def local() -> int:
        return Mid.objects.using(replica).filter(n__gte=FILTER_N - 100).count()

    def http() -> int:
        return Mid.objects.using(client).filter(n__gte=FILTER_N - 100).count()

    assert local() == http() == 100
    mine, remote = paired(local, http, runs=5)
    report.add(Result(
        BENCH, f"unindexed filter over {FILTER_N:,} objects: HTTP / replica", remote / mine,
        "x", 10, "higher", detail=f"replica {mine * 1e3:.1f} ms, HTTP {remote * 1e3:.0f} ms",
    ))  # fmt: skip
    replica.close()


def bench_latency(report: Report, client: so.Client, url: str, token: str, folder: Path) -> None:
    class Live(Note, bucket="live"):
        pass

    writer = so.Client(APP, token, api_url=url, auth_url=url)
    arrived: dict[str, float] = {}
    done = threading.Condition()

    def heard(sender: Any, instance: Live, **kw: Any) -> None:
        with done:
            arrived[str(instance.id)] = time.perf_counter()
            done.notify_all()

    so.signals.remote_created.connect(heard, sender=Live)
    delays = []
    with so.Replica(str(folder / "live.db"), Live, client=client, poll_timeout=20) as replica:
        assert replica.ready(30)
        for _ in range(LATENCY_N):
            obj = Live(title="x")
            obj.save(using=writer)
            acked = time.perf_counter()
            with done:
                done.wait_for(lambda obj=obj: obj.id in arrived, 10)  # type: ignore[misc]
            delays.append(arrived[str(obj.id)] - acked)
    replica.close()
    so.signals.remote_created.disconnect(heard, sender=Live)
    delays.sort()
    p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99) - 1]
    report.add(Result(
        BENCH, "remote write acknowledged -> replica signal, p99", p99 * 1e3, " ms", 50,
        detail=f"p50 {p50 * 1e3:.2f} ms over {LATENCY_N} writes",
    ))  # fmt: skip


def bench_local_writes(report: Report, client: so.Client, folder: Path) -> None:
    class Offline(Note, bucket="offline"):
        pass

    class Bulk(Note, bucket="bulkbase"):
        pass

    replica = so.Replica(str(folder / "offline.db"), Offline, client=client)
    replica.sync()
    times = []
    for local in notes(SAVES_N, "", Offline):
        started = time.perf_counter()
        local.save(using=replica)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
    times.sort()
    report.add(Result(
        BENCH, "local save() with a durable commit, p50", times[len(times) // 2] * 1e3, " ms",
        0.5, detail=f"p99 {times[int(len(times) * 0.99) - 1] * 1e3:.2f} ms, no request",
    ))  # fmt: skip
    push = _timed(lambda: replica.flush(600))
    replica.close()
    bulk = _timed(lambda: Bulk.objects.using(client).bulk_save(notes(SAVES_N, "", Bulk)))
    report.add(Result(
        BENCH, f"{SAVES_N:,} offline saves pushed / bulk_save of the same", push / bulk, "x", 1.2,
        detail=f"push {push:.2f} s, bulk_save {bulk:.2f} s",
    ))  # fmt: skip


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(report: Report) -> None:
    with running_server(long_poll_timeout=20) as url, tempfile.TemporaryDirectory() as tmp:
        token = so.Auth(APP, API_KEY, auth_url=url).create(
            f"replica-{uuid.uuid4().hex[:8]}@example.com", "secret"
        )
        client = so.Client(APP, token, api_url=url, auth_url=url)
        folder = Path(tmp)
        try:
            bench_reads(report, client, folder)
            bench_unindexed(report, client, folder)
            bench_latency(report, client, url, token, folder)
            bench_local_writes(report, client, folder)
        finally:
            client.close()


if __name__ == "__main__":
    run(Report())
