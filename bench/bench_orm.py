"""ORM benchmarks against baselines measured in the same run, on a local server (``make bench``).

The server runs in a subprocess (``python -m simperium_orm serve``), so its CPU time is not the
client's. Measured, each pair timed turn about (medians):

1. iterating a 20,000-object bucket with ``Todo.objects.iterate()`` vs a hand-written
   ``requests`` loop over the same index pages (``data=1``, ``limit=1000``): target <= 1.3x;
2. the same iteration vs the official client's README pattern (``index`` then ``get`` per id),
   timed on a subset and extrapolated per item: target >= 20x faster;
3. 1,000 single ``save()`` calls vs the official client's ``set`` of the same objects:
   target >= 1.5x its throughput;
4. ``bulk_save`` of 10,000 objects vs single ``save()`` calls, timed on a subset and
   extrapolated per item: target >= 10x faster;
5. peak traced memory (tracemalloc) while iterating 100,000 objects: target < 50 MB.

``BENCH_SCALE=0.1`` (or ``python -m bench --scale 0.1``) shrinks every size for a quick run.
"""

from __future__ import annotations

import itertools
import json
import tracemalloc
import uuid
from typing import Any
from urllib.parse import urlsplit

import requests
from _report import Report, Result, paired, scaled
from _server import API_KEY, APP, running_server
from pydantic import BaseModel

import simperium_orm as so
from simperium_orm.orm.model import Model

ITER_N = scaled(20_000, 100)
OFFICIAL_SUBSET = scaled(500, 50)
SAVES_N = scaled(1_000, 50)
BULK_N = scaled(10_000, 100)
BULK_BATCH = 500  # bulk_save's default batch size
MEMORY_N = scaled(100_000, 1000)
BENCH = "orm"


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []
    priority: int = 0


class Plain(BaseModel):
    """The same fields as a plain pydantic model, for the validating hand-written loop."""

    title: str
    done: bool = False
    tags: list[str] = []
    priority: int = 0


def populate(bucket: str, n: int, chunk: int = 5000) -> None:
    todos = Todo.objects.using(so.default_client())
    for start in range(0, n, chunk):
        objs = [
            Todo(title=f"task number {i}", done=i % 2 == 0, tags=["a", "b"], priority=i % 5)
            for i in range(start, min(n, start + chunk))
        ]
        for obj in objs:
            obj.id = f"{bucket}-{uuid.uuid4().hex}"
        todos.bulk_save(objs)


def raw_loop(url: str, token: str, bucket: str, validate: bool = False) -> int:
    """What a careful hand-written client does: one session, index pages with data.

    With ``validate``, each object's data also goes through ``Plain.model_validate``.
    """
    session = requests.Session()
    session.trust_env = False  # no environment lookup per request, as the library does
    headers = {"X-Simperium-Token": token}
    mark, count = None, 0
    while True:
        params = {"data": "1", "limit": "1000", **({"mark": mark} if mark else {})}
        body = session.get(f"{url}/1/{APP}/{bucket}/index", params=params, headers=headers).json()
        count += len(body["index"])
        if validate:
            for entry in body["index"]:
                Plain.model_validate(entry["d"])
        mark = body.get("mark")
        if not mark:
            session.close()
            return count


def official_api(url: str, token: str) -> Any:
    from simperium.core import Api  # the official client (PyPI Simperium3)

    parts = urlsplit(url)
    return Api(APP, token, host=parts.netloc, scheme=parts.scheme)


def official_index_then_get(api: Any, n: int) -> int:
    """The official client's README pattern on ``n`` objects: index, then get each."""
    index = api.todo.index(limit=n)
    for entry in index["index"]:
        api.todo.get(entry["id"])
    return len(index["index"])


def bench_iterate(report: Report, url: str, token: str) -> float:
    populate("todo", ITER_N)
    assert Todo.objects.count() == ITER_N

    def scan() -> int:
        return sum(1 for _ in Todo.objects.iterate(page_size=1000))

    orm, raw = paired(scan, lambda: raw_loop(url, token, "todo"), runs=9)
    report.add(Result(
        BENCH, f"iterate {ITER_N:,} objects: ORM / hand-written requests loop", orm / raw, "x",
        1.3, stretch=1.1, detail=f"ORM {orm * 1e3:.0f} ms, loop {raw * 1e3:.0f} ms",
    ))  # fmt: skip
    orm2, typed = paired(scan, lambda: raw_loop(url, token, "todo", validate=True), runs=7)
    report.add(Result(
        BENCH, "  the same, against a loop that also validates with pydantic", orm2 / typed, "x",
        None, detail=f"ORM {orm2 * 1e3:.0f} ms, validating loop {typed * 1e3:.0f} ms",
    ))  # fmt: skip
    api = official_api(url, token)
    per_orm, per_official = paired(
        lambda: scan() and None, lambda: official_index_then_get(api, OFFICIAL_SUBSET), runs=5
    )
    per_orm /= ITER_N
    per_official /= OFFICIAL_SUBSET
    report.add(Result(
        BENCH, "ORM iterate vs the official client's index-then-get, per object",
        per_official / per_orm, "x", 20, "higher",
        detail=f"{per_official * 1e6:.0f} µs vs {per_orm * 1e6:.1f} µs an object "
        f"(official timed on {OFFICIAL_SUBSET} objects)",
    ))  # fmt: skip
    return orm


def bench_single_saves(report: Report, url: str, token: str) -> float:
    """Single saves of new objects: ORM ``save()`` vs the official client's ``set``."""

    class Single(Todo, bucket="single"):
        pass

    api = official_api(url, token)
    counter = itertools.count()

    def orm_saves() -> None:
        for _ in range(SAVES_N):
            Single(title=f"single {next(counter)}", tags=["x"]).save()

    def official_sets() -> None:
        for _ in range(SAVES_N):
            n = next(counter)
            api.single.set(f"o{n}", {"title": f"single {n}", "done": False, "tags": ["x"]})

    orm, official = paired(orm_saves, official_sets, runs=5)
    report.add(Result(
        BENCH, f"{SAVES_N:,} single saves: ORM throughput / official client's set", official / orm,
        "x", 1.5, "higher",
        detail=f"ORM {SAVES_N / orm:,.0f}/s, official {SAVES_N / official:,.0f}/s",
    ))  # fmt: skip
    return orm / SAVES_N


def hand_written_bulk(url: str, token: str, bucket: str, rows: list[dict[str, Any]]) -> None:
    """The floor for any client: the same changes, batches and JSON, posted one by one.

    One keep-alive session posts ``rows`` as creation diffs (``{"o": "+"}`` per key, a fresh id
    and ccid each) to ``POST /changes?wait=1``, ``BULK_BATCH`` to a request, and reads each
    answer's results, as ``bulk_save`` does with new objects.
    """
    session = requests.Session()
    session.trust_env = False
    headers = {"X-Simperium-Token": token, "Content-Type": "application/json"}
    endpoint = f"{url}/1/{APP}/{bucket}/changes"
    params = {"clientid": f"py-{uuid.uuid4().hex}", "wait": "1"}
    for start in range(0, len(rows), BULK_BATCH):
        changes = [
            {
                "id": uuid.uuid4().hex,
                "o": "M",
                "v": {key: {"o": "+", "v": value} for key, value in row.items()},
                "ccid": uuid.uuid4().hex,
            }
            for row in rows[start : start + BULK_BATCH]
        ]
        body = json.dumps(changes, separators=(",", ":"))
        results = session.post(endpoint, params=params, data=body, headers=headers).json()
        assert len(results) == len(changes) and not any("error" in r for r in results)
    session.close()


def bench_bulk(report: Report, url: str, token: str, per_single: float) -> None:
    """``bulk_save`` of new objects vs the hand-written loop over the same batches."""

    class Bulk(Todo, bucket="bulk"):
        pass

    counter = itertools.count()

    def row() -> dict[str, Any]:
        return {"title": f"bulk {next(counter)}", "done": False, "tags": ["x"], "priority": 0}

    def bulk() -> None:
        Bulk.objects.bulk_save([Bulk(**row()) for _ in range(BULK_N)], batch_size=BULK_BATCH)

    def loop() -> None:
        hand_written_bulk(url, token, "bulk", [row() for _ in range(BULK_N)])

    bulk_s, loop_s = paired(bulk, loop, runs=5)
    report.add(Result(
        BENCH, f"bulk_save of {BULK_N:,} objects / hand-written POST /changes loop",
        bulk_s / loop_s, "x", 1.15,
        detail=f"bulk_save {bulk_s:.2f} s, loop {loop_s:.2f} s ({BULK_BATCH} changes a request, "
        f"wait=1)",
    ))  # fmt: skip
    report.add(Result(
        BENCH, "  single save() calls, per object, for comparison", per_single * BULK_N / bulk_s,
        "x", None, "higher",
        detail=f"single {per_single * 1e3:.2f} ms an object, {per_single * BULK_N:.1f} s for "
        f"{BULK_N:,}: bulk_save is this many times faster",
    ))  # fmt: skip


def bench_memory(report: Report) -> None:
    class Big(Todo, bucket="big"):
        pass

    for start in range(0, MEMORY_N, 5000):
        stop = min(MEMORY_N, start + 5000)
        Big.objects.bulk_save([Big(title=f"big {i}", tags=["a"]) for i in range(start, stop)])
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    count = sum(1 for _ in Big.objects.iterate())
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    assert count == MEMORY_N
    report.add(Result(
        BENCH, f"peak memory growth iterating {MEMORY_N:,} objects", peak / 2**20, " MB", 50,
        detail="tracemalloc peak over the scan",
    ))  # fmt: skip


def run(report: Report) -> None:
    with running_server() as url:
        token = so.Auth(APP, API_KEY, auth_url=url).create("bench@example.com", "secret")
        client = so.connect(app_id=APP, token=token, api_url=url, auth_url=url)
        try:
            bench_iterate(report, url, token)
            per_single = bench_single_saves(report, url, token)
            bench_bulk(report, url, token, per_single)
            bench_memory(report)
        finally:
            client.close()
            so.disconnect()


if __name__ == "__main__":
    run(Report())
