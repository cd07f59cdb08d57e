"""ORM benchmarks against baselines measured in the same run, on a local server (``make bench``).

The server runs in a subprocess (``python -m simperium_orm serve``), so its CPU time is not the
client's. Measured:

1. iterating a 20,000-object bucket with ``Todo.objects.iterate()`` vs a hand-written
   ``requests`` loop over the same index pages (``data=1``, ``limit=1000``): target <= 1.3x;
2. the same iteration vs the official client's README pattern (``index`` then ``get`` per id),
   timed on a subset and extrapolated per item: target >= 20x faster;
3. ``bulk_save`` of 10,000 objects vs single ``save()`` calls, timed on a subset and
   extrapolated per item: target >= 10x faster;
4. peak traced memory (tracemalloc) while iterating 100,000 objects: target < 50 MB.

``BENCH_ORM_SCALE=0.1`` shrinks every size for a quick run.
"""

from __future__ import annotations

import os
import time
import tracemalloc
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from _server import API_KEY, APP, running_server
from pydantic import BaseModel

import simperium_orm as so
from simperium_orm.model import Model

SCALE = float(os.environ.get("BENCH_ORM_SCALE", "1"))
ITER_N = int(20_000 * SCALE)
OFFICIAL_SUBSET = max(50, int(500 * SCALE))
BULK_N = int(10_000 * SCALE)
SINGLE_SUBSET = max(50, int(500 * SCALE))
MEMORY_N = int(100_000 * SCALE)


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


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def best_of_alternating(
    runs: int, first: Callable[[], object], second: Callable[[], object]
) -> tuple[float, float]:
    """Best times of two functions run turn about, so load on the machine hits both alike."""
    a, b = [], []
    for _ in range(runs):
        a.append(best_of(1, first))
        b.append(best_of(1, second))
    return min(a), min(b)


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


def official_subset(url: str, token: str, n: int) -> float:
    """The official client's README pattern on ``n`` objects: seconds per object."""
    from simperium.core import Api  # the official client (PyPI Simperium3)

    parts = urlsplit(url)
    api = Api(APP, token, host=parts.netloc, scheme=parts.scheme)
    start = time.perf_counter()
    index = api.todo.index(limit=n)
    for entry in index["index"]:
        api.todo.get(entry["id"])
    return (time.perf_counter() - start) / max(1, len(index["index"]))


def main() -> None:
    with running_server() as url:
        token = so.Auth(APP, API_KEY, auth_url=url).create("bench@example.com", "secret")
        client = so.connect(app_id=APP, token=token, api_url=url, auth_url=url)

        populate("todo", ITER_N)
        assert Todo.objects.count() == ITER_N
        orm, raw = best_of_alternating(
            9,
            lambda: sum(1 for _ in Todo.objects.iterate(page_size=1000)),
            lambda: raw_loop(url, token, "todo"),
        )
        print(f"iterate {ITER_N:,} objects: ORM {orm:.3f}s, hand-written requests {raw:.3f}s")
        print(f"  ORM / requests loop = {orm / raw:.2f}x (target <= 1.3x)")
        orm, typed = best_of_alternating(
            9,
            lambda: sum(1 for _ in Todo.objects.iterate(page_size=1000)),
            lambda: raw_loop(url, token, "todo", validate=True),
        )
        print(f"  ORM / requests loop that also validates each object = {orm / typed:.2f}x")

        per_item = official_subset(url, token, OFFICIAL_SUBSET)
        official = per_item * ITER_N
        print(
            f"official client index+get: {per_item * 1000:.2f} ms/object on {OFFICIAL_SUBSET} "
            f"objects, extrapolated to {ITER_N:,}: {official:.1f}s"
        )
        print(f"  official / ORM = {official / orm:.1f}x faster (target >= 20x)")

        class Bulk(Todo, bucket="bulk"):
            pass

        objs = [Bulk(title=f"bulk {i}", tags=["x"]) for i in range(BULK_N)]
        bulk = best_of(1, lambda: Bulk.objects.bulk_save(objs))
        singles = [Bulk(title=f"single {i}", tags=["x"]) for i in range(SINGLE_SUBSET)]
        single = best_of(1, lambda: [obj.save() for obj in singles]) / SINGLE_SUBSET
        print(
            f"bulk_save {BULK_N:,} objects: {bulk:.2f}s; single save(): "
            f"{single * 1000:.2f} ms/object on {SINGLE_SUBSET}, extrapolated {single * BULK_N:.1f}s"
        )
        print(f"  single saves / bulk_save = {single * BULK_N / bulk:.1f}x (target >= 10x)")

        class Big(Todo, bucket="big"):
            pass

        populate_start = time.perf_counter()
        big = Big.objects
        for start in range(0, MEMORY_N, 5000):
            big.bulk_save([Big(title=f"big {i}", tags=["a"]) for i in range(start, start + 5000)])
        print(f"stored {MEMORY_N:,} objects in {time.perf_counter() - populate_start:.1f}s")
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        count = sum(1 for _ in Big.objects.iterate())
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        print(
            f"iterate {count:,} objects: peak traced memory {peak / 2**20:.1f} MB (target < 50 MB)"
        )
        client.close()
        so.disconnect()


if __name__ == "__main__":
    main()
