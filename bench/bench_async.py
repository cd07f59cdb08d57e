"""The async twin against the sync API, in one run (ratios of paired medians).

- ``async for`` over a bucket of 20,000 objects against the sync ``iterate()`` of it;
- 1,000 ``asave()`` calls on distinct objects with 16 in flight against 1,000 sequential sync
  saves (throughput);
- the CPU of 100 idle ``AsyncListener``s in one event loop;
- write -> async event latency (p50, p99) through an ``AsyncListener``;
- for context, the two async HTTP stacks measured when the stack was chosen (httpx is measured
  only when it is installed; the library uses aiohttp).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import types
import uuid
from typing import Any

from _report import Report, Result, paired, scaled
from _server import API_KEY, APP, start_server, stop_server

import simperium_orm as so

N_SCAN = scaled(20_000, 200)
N_SAVES = scaled(1000, 32)
IN_FLIGHT = 16
N_LISTENERS = scaled(100, 5)
IDLE_SECONDS = max(1.0, 10.0 * min(1.0, N_LISTENERS / 100))
N_EVENTS = scaled(300, 20)
BENCH = "async"


class Item(so.Model, bucket="items"):
    title: str
    n: int = 0
    tags: list[str] = []


def new_client(url: str) -> so.Client:
    auth = so.Auth(APP, API_KEY, auth_url=url)
    token = auth.create(f"bench-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex)
    return so.Client(APP, token, api_url=url)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_scan(report: Report, url: str) -> None:
    client = new_client(url)
    items = [Item(title=f"item {i}", n=i, tags=["a", "b"]) for i in range(N_SCAN)]
    Item.objects.using(client).bulk_save(items)
    manager = Item.objects.using(client)

    def sync_scan() -> None:
        assert sum(1 for _ in manager.iterate()) == N_SCAN

    async def scan() -> int:
        return sum([1 async for _ in manager.all()])

    # One event loop for every run, as an application has: its pool stays warm between scans,
    # as the sync client's does (a new loop per run would time connecting too).
    loop = asyncio.new_event_loop()

    def async_scan() -> None:
        assert loop.run_until_complete(scan()) == N_SCAN

    try:
        async_scan()  # the pool's first connections
        subject, baseline = paired(async_scan, sync_scan)
    finally:
        loop.run_until_complete(client.aclose())
        loop.close()
    report.add(Result(
        BENCH, f"async for over {N_SCAN:,} objects / sync iterate()", subject / baseline, "x",
        1.3, detail=f"{subject * 1e3:.0f} ms against {baseline * 1e3:.0f} ms (medians of 7)",
    ))  # fmt: skip
    client.close()


def bench_saves(report: Report, url: str) -> None:
    client = new_client(url)
    objs = [Item(title=f"s{i}") for i in range(N_SAVES)]
    Item.objects.using(client).bulk_save(objs)
    turn = iter(range(1_000_000))

    def sync_saves() -> None:
        n = next(turn)
        for obj in objs:
            obj.n = n
            obj.save()

    async def saves(n: int) -> None:
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def one(obj: Item) -> None:
            async with limit:
                obj.n = n
                await obj.asave()

        await asyncio.gather(*(one(obj) for obj in objs))
        await client.aclose()

    def async_saves() -> None:
        asyncio.run(saves(next(turn)))

    subject, baseline = paired(async_saves, sync_saves)
    report.add(Result(
        BENCH, f"{N_SAVES:,} asave() with {IN_FLIGHT} in flight: throughput / sequential saves",
        baseline / subject, "x", 3.0, better="higher",
        detail=f"{N_SAVES / subject:,.0f} against {N_SAVES / baseline:,.0f} saves/s (medians of 7)",
    ))  # fmt: skip
    client.close()


def bench_idle(report: Report, url: str) -> None:
    client = new_client(url)
    models = [
        types.new_class(f"AIdle{n}", (so.Model,), {"bucket": f"aidle{n}"})
        for n in range(N_LISTENERS)
    ]

    async def idle() -> tuple[float, float]:
        listeners = [so.AsyncListener(m, client=client) for m in models]
        for listener in listeners:
            await listener.__aenter__()
        await asyncio.sleep(1.0)  # every long-poll sent and waiting
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.sleep(IDLE_SECONDS)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        for listener in listeners:
            await listener.aclose()
        await client.aclose()
        return cpu, wall

    cpu, wall = asyncio.run(idle())
    report.add(Result(
        BENCH, f"CPU of {N_LISTENERS} idle AsyncListeners in one event loop",
        cpu / wall * 100, " % of a core", 1.0, detail=f"over {wall:.0f} s",
    ))  # fmt: skip
    client.close()


def bench_latency(report: Report, url: str) -> None:
    listening = new_client(url)
    writer = so.Client(APP, listening._token, api_url=url)  # another clientid: remote writes

    async def measure() -> list[float]:
        delays: list[float] = []
        async with so.AsyncListener(Item, client=listening) as events:
            for i in range(N_EVENTS):
                sent = time.perf_counter()
                await asyncio.to_thread(Item(title=f"w{i}").save, using=writer)
                async for _event in events:
                    delays.append(time.perf_counter() - sent)
                    break
        await listening.aclose()
        return delays

    delays = asyncio.run(measure())
    p50, p99 = statistics.median(delays), percentile(delays, 0.99)
    report.add(Result(
        BENCH, "write -> async event latency, p99", p99 * 1e3, " ms", 50.0,
        detail=f"p50 {p50 * 1e3:.1f} ms over {N_EVENTS} writes (each write included)",
    ))  # fmt: skip
    listening.close()
    writer.close()


def bench_stacks(report: Report, url: str) -> None:
    try:
        import httpx
    except ImportError:
        report.note("httpx is not installed: the HTTP stack comparison is skipped")
        return
    import aiohttp

    client = new_client(url)
    Item.objects.using(client).bulk_save([Item(title=f"o{i}") for i in range(1000)])
    ids = [str(o.id) for o in Item.objects.using(client).iterate()][: scaled(1000, 50)]
    base = f"{url}/1/{APP}/items"
    headers = {"X-Simperium-Token": client._token}

    async def fetch_all(get: Any) -> None:
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def one(item: str) -> None:
            async with limit:
                await get(f"{base}/i/{item}")

        await asyncio.gather(*(one(i) for i in ids))
        for _ in range(5):
            await get(f"{base}/index?data=1&limit=1000")

    async def with_httpx() -> None:
        async with httpx.AsyncClient(headers=headers) as session:

            async def get(u: str) -> bytes:
                return (await session.get(u)).content

            await fetch_all(get)

    async def with_aiohttp() -> None:
        async with aiohttp.ClientSession(headers=headers) as session:

            async def get(u: str) -> bytes:
                async with session.get(u) as response:
                    return await response.read()

            await fetch_all(get)

    hx, ah = paired(lambda: asyncio.run(with_httpx()), lambda: asyncio.run(with_aiohttp()))
    report.add(Result(
        BENCH, f"httpx / aiohttp, {len(ids)} GETs ({IN_FLIGHT} in flight) + 5 index pages",
        hx / ah, "x", None, detail=f"{hx * 1e3:.0f} ms against {ah * 1e3:.0f} ms",
    ))  # fmt: skip
    client.close()


def run(report: Report) -> None:
    proc, url = start_server()
    try:
        bench_stacks(report, url)
        bench_scan(report, url)
        bench_saves(report, url)
        bench_latency(report, url)
        bench_idle(report, url)
    finally:
        stop_server(proc)


if __name__ == "__main__":
    run(Report())
