"""Benchmark of the change listener against the local server, run in its own process.

Prints:

* latency from a write acknowledged by the server (another client of the same user) to the
  listener's receiver: p50 and p99 over 1,000 sequential writes (targets: p50 < 10 ms,
  p99 < 50 ms), with the default in-memory checkpoint and with a FileCheckpoint (fsync);
* a burst of 1,000 changes spread over 10 objects, written while nobody polled: the time to
  deliver it one signal per version, over the time a folding listener (``coalesce=True``, which
  costs what the listener cost before it sent one signal per version) takes to deliver the
  same burst (target 1.3x), timed turn about in the same run; with the rounds and data reads;
* CPU used by 100 listeners on 100 buckets of one process while nothing changes for 10 s, as
  a percentage of one core (target < 5 %), with ``time.process_time()``; the server runs in
  another process so only the listeners are measured. Once with the default poll timeout and
  once with a long-poll answered every 2 s, to show the cost of the polls themselves.

Results go to the run's report (``make bench``); nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
import types
import uuid
from typing import Any

from _report import Report, Result, paired, scaled
from _server import API_KEY, APP, start_server, stop_server

import simperium_orm as so
from simperium_orm import signals

N_WRITES = scaled(1000, 50)
BURST_CHANGES = scaled(1000, 20)
BURST_OBJECTS = 10
BURST_RUNS = scaled(21, 5)  # each mode; paired() alternates them
N_LISTENERS = scaled(100, 5)
IDLE_SECONDS = max(1.0, 10.0 * min(1.0, N_LISTENERS / 100))
BENCH = "listener"


class Item(so.Model, bucket="items"):
    n: int


def new_token(url: str) -> str:
    auth = so.Auth(APP, API_KEY, auth_url=url)
    return auth.create(f"bench-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def bench_latency(
    report: Report,
    url: str,
    checkpoint: so.FileCheckpoint | None,
    count: int,
    transport: str = "poll",
) -> float:
    token = new_token(url)
    mine = so.Client(APP, token, api_url=url)
    other = so.Client(APP, token, api_url=url)
    heard = threading.Event()
    heard_at = [0.0]

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard_at[0] = time.perf_counter()
        heard.set()

    signals.remote_created.connect(receiver, sender=Item)
    signals.remote_updated.connect(receiver, sender=Item)
    bucket = other.bucket("items")
    latencies, round_trips = [], []
    early = 0  # heard before the writer had read its acknowledgement
    try:
        with so.Listener(Item, client=mine, checkpoint=checkpoint, transport=transport):
            for n in range(count):
                heard.clear()
                sent = time.perf_counter()
                bucket.write(f"x{n % 50}", {"n": n})
                acknowledged = time.perf_counter()
                round_trips.append(acknowledged - sent)
                if not heard.wait(10):
                    raise RuntimeError(f"write {n} was not heard")
                early += heard_at[0] < acknowledged
                latencies.append(max(0.0, heard_at[0] - acknowledged))
    finally:
        signals.remote_created.disconnect(receiver, sender=Item)
        signals.remote_updated.disconnect(receiver, sender=Item)
        mine.close()
        other.close()
    kind = "FileCheckpoint (fsync)" if checkpoint else "memory checkpoint"
    if transport == "stream":
        kind += ", over the websocket stream"
    p50, p99 = statistics.median(latencies) * 1e3, percentile(latencies, 0.99) * 1e3
    write = statistics.median(round_trips) * 1e3
    detail = (
        f"{count} writes; a write's own round trip {write:.2f} ms (p50 = {p50 / write:.2f}x it); "
        f"{early} heard before the writer read its acknowledgement, counted as 0"
    )
    targets = (10.0, 50.0) if checkpoint is None else (None, None)
    report.add(Result(BENCH, f"listener p50, write acknowledged -> receiver, {kind}", p50,
                      " ms", targets[0], detail=detail))  # fmt: skip
    report.add(Result(BENCH, f"listener p99, write acknowledged -> receiver, {kind}", p99,
                      " ms", targets[1]))  # fmt: skip
    return p99


def burst(client: so.Client, changes: int, objects: int) -> None:
    """``changes`` changes spread round-robin over ``objects`` new objects, in bulk requests."""
    entries: list[dict[str, Any]] = []
    for n in range(changes):
        item, version = f"b{n % objects}", n // objects
        if version == 0:
            entries.append({"id": item, "o": "M", "v": {"n": {"o": "+", "v": 0}}})
        else:
            entries.append({"id": item, "o": "M", "sv": version, "v": {"n": {"o": "r", "v": n}}})
    bucket = client.bucket("items")
    for start in range(0, len(entries), 1000):
        results = bucket.bulk_post(entries[start : start + 1000])
        assert not any("error" in r for r in results), results


def drain(listener: so.Listener) -> int:
    """Poll by hand until a round finds nothing pending; the number of events delivered."""
    delivered = 0
    while True:
        delivered += len(listener.poll())
        if listener.feeds[0].last_fetched == 0:
            return delivered


class Counted:
    """Counts a prepared listener's long-polls (rounds) and data reads (index pages, GETs)."""

    def __init__(self, listener: so.Listener) -> None:
        self.listener = listener
        self.rounds = self.reads = self.events = 0
        feed = listener.feeds[0]
        fetch, index, get = feed.fetch, feed.bucket.index, feed.bucket.fetch

        def counted_fetch(*args: Any, **kwargs: Any) -> Any:
            self.rounds += 1
            return fetch(*args, **kwargs)

        def counted_read(read: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                self.reads += 1
                return read(*args, **kwargs)

            return wrapper

        feed.fetch = counted_fetch  # type: ignore[method-assign]
        feed.bucket.index = counted_read(index)  # type: ignore[method-assign]
        feed.bucket.fetch = counted_read(get)  # type: ignore[method-assign]

    def drain(self) -> None:
        self.events = drain(self.listener)


def bench_burst(report: Report, url: str) -> None:
    """A burst written while nobody polled, delivered per version and folded (the baseline).

    Each mode drains its own copy of the burst (a user of its own, the same changes), timed
    from the first poll to the poll that finds nothing, turn about with the other mode. A
    receiver is connected, so each event is a delivered signal.
    """
    prepared: dict[bool, list[Counted]] = {False: [], True: []}
    clients: list[so.Client] = []
    for _ in range(BURST_RUNS):
        for coalesce in (False, True):
            token = new_token(url)
            mine, other = so.Client(APP, token, api_url=url), so.Client(APP, token, api_url=url)
            listener = so.Listener(Item, client=mine, coalesce=coalesce)
            prepared[coalesce].append(Counted(listener))
            burst(other, BURST_CHANGES, BURST_OBJECTS)
            clients += [mine, other]
    heard = [0]

    def receiver(sender: Any, **kwargs: Any) -> None:
        heard[0] += 1

    names = ("remote_created", "remote_updated", "remote_deleted")
    for name in names:
        getattr(signals, name).connect(receiver, sender=Item)
    queues = {mode: iter(runs) for mode, runs in prepared.items()}
    try:
        per_version, folded = paired(
            lambda: next(queues[False]).drain(), lambda: next(queues[True]).drain(), BURST_RUNS
        )
    finally:
        for name in names:
            getattr(signals, name).disconnect(receiver, sender=Item)
        for client in clients:
            client.close()
    one, other = prepared[False][0], prepared[True][0]
    assert heard[0] == BURST_RUNS * (one.events + other.events)  # each event a received signal
    detail = (
        f"per version {one.events} signals in {per_version * 1e3:.1f} ms, folded {other.events}"
        f" in {folded * 1e3:.1f} ms (medians of {BURST_RUNS}, turn about); per version"
        f" {one.rounds} rounds and {one.reads} data reads, folded {other.rounds} and {other.reads}"
    )
    report.add(Result(
        BENCH, f"burst of {BURST_CHANGES} changes to {BURST_OBJECTS} objects: per version / folded",
        per_version / folded, "x", 1.3, detail=detail,
    ))  # fmt: skip


def bench_idle(report: Report, url: str, poll_timeout: float, label: str, target: bool) -> None:
    client = so.Client(APP, new_token(url), api_url=url)
    models = [
        types.new_class(f"Idle{n}", (so.Model,), {"bucket": f"idle{n}"}) for n in range(N_LISTENERS)
    ]
    listeners = [so.Listener(m, client=client, poll_timeout=poll_timeout) for m in models]
    for listener in listeners:
        listener.start()
    time.sleep(1.0)  # every long-poll sent and waiting
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(IDLE_SECONDS)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    threads = threading.active_count()
    for listener in listeners:
        listener.stop()
    client.close()
    report.add(Result(
        BENCH, f"CPU of {N_LISTENERS} idle listeners, {label}", cpu / wall * 100, " % of a core",
        5.0 if target else None, detail=f"{threads} threads, over {wall:.0f} s",
    ))  # fmt: skip


def run(report: Report) -> None:
    proc, url = start_server()
    try:
        bench_burst(report, url)
        polled = bench_latency(report, url, None, N_WRITES)
        streamed = bench_latency(report, url, None, N_WRITES, transport="stream")
        report.add(Result(
            BENCH, "listener p99: over the websocket stream / over long-polls",
            streamed / polled, "x", 1.0, detail=f"{streamed:.2f} ms vs {polled:.2f} ms",
        ))  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            checkpoint = so.FileCheckpoint(os.path.join(tmp, "cp.json"))
            bench_latency(report, url, checkpoint, max(20, N_WRITES // 5))
        bench_idle(report, url, 20.0, "default poll timeout", target=True)
    finally:
        stop_server(proc)
    proc, url = start_server(long_poll_timeout=2)
    try:
        bench_idle(report, url, 20.0, "server answering each poll after 2 s", target=False)
    finally:
        stop_server(proc)


if __name__ == "__main__":
    run(Report())
