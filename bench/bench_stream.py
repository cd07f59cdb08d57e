"""Benchmark of the websocket streaming protocol against the local server in its own process.

Prints:

* HTTP write -> websocket subscriber: p50/p99 from the moment a POST is sent until the push
  arrives on a raw websocket channel of the same bucket (target: p99 <= 20 ms), with the
  write's own round trip for scale;
* the Python stream channel against the long-poll feed: p99 from a write acknowledged to the
  change in the reader's hands, ``StreamChannel.changes`` against ``Bucket.changes`` (the
  listener's two transports), as a ratio (target <= 1: the stream no slower);
* an HTTP writer's p99 latency beside 1,000 idle websocket channels, each on its own socket
  and bucket (target <= 100 ms), against the same writer with no socket open.

Results go to the run's report (``make bench``); nothing is asserted.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from _report import Report, Result, scaled
from _server import API_KEY, APP, start_server, stop_server
from websockets.asyncio.client import connect as aconnect
from websockets.sync.client import connect

import simperium_orm as so
from simperium_orm.listen.stream import StreamChannel

N_WRITES = scaled(500, 50)
N_CHANNELS = scaled(1000, 20)
ZERO = "0" * 24
BENCH = "stream"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class Writer:
    """POSTs over one keep-alive connection (http.client keeps client overhead small)."""

    def __init__(self, url: str, token: str) -> None:
        parts = urlsplit(url)
        self.http = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self.headers = {"X-Simperium-Token": token}

    def post(self, bucket: str, item: str, body: dict[str, Any]) -> None:
        self.http.request("POST", f"/1/{APP}/{bucket}/i/{item}", json.dumps(body), self.headers)
        response = self.http.getresponse()
        response.read()
        assert response.status == 200, response.status

    def timed(self, bucket: str, count: int, first: int = 0) -> list[float]:
        times = []
        for n in range(first, first + count):
            started = time.perf_counter()
            self.post(bucket, f"x{n % 50}", {"n": n, "text": "lorem ipsum " * 8})
            times.append(time.perf_counter() - started)
        return times


def new_token(url: str) -> str:
    return so.Auth(APP, API_KEY, auth_url=url).create(
        f"bench-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    )


def ws_url(url: str) -> str:
    return f"ws{url.removeprefix('http')}/sock/1/{APP}/websocket"


def init(token: str, bucket: str) -> str:
    return "0:init:" + json.dumps(
        {"name": bucket, "token": token, "clientid": "bench", "api": "1.1"}
    )


def bench_push(report: Report, url: str) -> None:
    token = new_token(url)
    writer = Writer(url, token)
    with connect(ws_url(url), compression=None, max_size=None) as ws:
        ws.send(init(token, "pushed"))
        ws.recv(10)
        ws.send(f"0:cv:{ZERO}")
        ws.recv(10)
        from_send, from_ack, writes = [], [], []
        for n in range(N_WRITES):
            started = time.perf_counter()
            writer.post("pushed", f"x{n % 50}", {"n": n})
            acknowledged = time.perf_counter()
            message = ws.recv(10)
            arrived = time.perf_counter()
            assert message.startswith("0:c:"), message
            # A push read after the POST's answer arrived at most then: both are upper bounds.
            from_send.append(arrived - started)
            from_ack.append(arrived - acknowledged)
            writes.append(acknowledged - started)
    p50, p99 = statistics.median(from_send) * 1e3, percentile(from_send, 0.99) * 1e3
    report.add(Result(
        BENCH, "stream: HTTP write sent -> websocket subscriber has the push, p99", p99, " ms",
        20.0, detail=f"p50 {p50:.2f} ms over {N_WRITES} writes; the write's own round trip "
        f"p50 {statistics.median(writes) * 1e3:.2f} ms; after its answer p99 "
        f"{percentile(from_ack, 0.99) * 1e3:.2f} ms",
    ))  # fmt: skip


def _reader_latency(
    url: str, token: str, bucket: str, read: Callable[[], list[dict[str, Any]]]
) -> list[float]:
    """Write acknowledged -> change returned by ``read``, over N_WRITES sequential writes."""
    writer = Writer(url, token)
    arrived: dict[int, float] = {}
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for change in read():
                arrived[int(str(change["id"])[1:])] = time.perf_counter()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.3)
    latencies = []
    for n in range(N_WRITES):
        writer.post(bucket, f"x{n}", {"n": n})
        acknowledged = time.perf_counter()
        deadline = acknowledged + 10
        while n not in arrived and time.perf_counter() < deadline:
            time.sleep(0.0002)
        latencies.append(max(0.0, arrived[n] - acknowledged))
    stop.set()
    return latencies


def bench_channel_vs_long_poll(report: Report, url: str) -> None:
    token = new_token(url)
    client = so.Client(APP, token, api_url=url)
    stream = StreamChannel(client, "viastream")
    stream.changes(timeout=0.5)
    streamed = _reader_latency(url, token, "viastream", lambda: stream.changes(timeout=1))
    stream.close()
    bucket = client.bucket("viapoll")
    position = [bucket.index(limit=1)["current"]]

    def poll() -> list[dict[str, Any]]:
        changes = bucket.changes(cv=position[0], timeout=1)
        if changes:
            position[0] = changes[-1]["cv"]
        return changes

    polled = _reader_latency(url, token, "viapoll", poll)
    client.close()
    s99, p99 = percentile(streamed, 0.99) * 1e3, percentile(polled, 0.99) * 1e3
    report.add(Result(
        BENCH, "stream: StreamChannel / long-poll, write acknowledged -> change in hand, p99",
        s99 / p99, "x", 1.0, detail=f"stream p99 {s99:.2f} ms (p50 "
        f"{statistics.median(streamed) * 1e3:.2f}), long-poll p99 {p99:.2f} ms (p50 "
        f"{statistics.median(polled) * 1e3:.2f}), {N_WRITES} writes each",
    ))  # fmt: skip


async def _idle_channel(url: str, token: str, bucket: str) -> Any:
    ws = await aconnect(ws_url(url), compression=None, ping_interval=None)
    await ws.send(init(token, bucket))
    await ws.recv()
    await ws.send(f"0:cv:{ZERO}")
    assert (await ws.recv()) == "0:c:[]"
    return ws


async def bench_idle_channels(report: Report, url: str) -> None:
    token, writer_token = new_token(url), new_token(url)
    writer = Writer(url, writer_token)
    quiet = await asyncio.to_thread(writer.timed, "mine", N_WRITES)
    sockets = []
    for start in range(0, N_CHANNELS, 100):  # opened 100 at a time
        sockets += await asyncio.gather(
            *(
                _idle_channel(url, token, f"idle{n}")
                for n in range(start, min(start + 100, N_CHANNELS))
            )
        )
    await asyncio.sleep(1.0)
    busy = await asyncio.to_thread(writer.timed, "mine", N_WRITES, N_WRITES)
    open_now = sum(1 for ws in sockets if ws.state.name == "OPEN")
    p99, quiet_p99 = percentile(busy, 0.99) * 1e3, percentile(quiet, 0.99) * 1e3
    report.add(Result(
        BENCH, f"stream: an HTTP writer's p99 beside {open_now:,} idle websocket channels", p99,
        " ms", 100.0, detail=f"p50 {statistics.median(busy) * 1e3:.2f} ms over {N_WRITES} "
        f"writes; with no socket open p99 {quiet_p99:.2f} ms ({p99 / quiet_p99:.2f}x)",
    ))  # fmt: skip
    await asyncio.gather(*(ws.close() for ws in sockets))


def run(report: Report) -> None:
    proc, url = start_server()
    try:
        bench_push(report, url)
        bench_channel_vs_long_poll(report, url)
        asyncio.run(bench_idle_channels(report, url))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    run(Report())
