"""Benchmark of the local server, run as its own process (``python -m simperium_orm serve``).

Prints:

* writes/s: sequential POSTs of one object over one keep-alive connection, and objects/s
  through bulk ``POST /changes`` (100 changes a request);
* index: pages/s of a 1,000-object page with ``data=1``, against the time the client's
  ``json.loads`` of the same body takes (the floor any client pays anyway);
* long-polls: 1,000 concurrent waiting ``GET /changes`` requests while one writer measures
  its latency (p50/p99; the target is p99 under 100 ms), then how long one write takes to
  wake 1,000 polls of the same bucket.

Results go to the run's report (``make bench``); nothing is asserted.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import statistics
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from _report import Report, Result, scaled
from _server import API_KEY, APP, start_server, stop_server

N_WRITES = scaled(2000, 100)
N_BULK = scaled(20, 2)  # requests of 100 changes
N_POLLS = scaled(1000, 20)
N_LATENCY = scaled(500, 50)
BENCH = "server"


class Conn:
    """One keep-alive HTTP/1.1 connection (http.client keeps client overhead small)."""

    def __init__(self, host: str, port: int, token: str | None = None) -> None:
        self.http = http.client.HTTPConnection(host, port, timeout=300)
        self.headers = {"X-Simperium-Token": token} if token else {}

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        self.http.request(method, path, body=data, headers={**self.headers, **headers})
        response = self.http.getresponse()
        return response.status, response.read()


def new_user(conn: Conn) -> str:
    body = {"username": f"{uuid.uuid4().hex[:12]}@example.com", "password": "pw"}
    status, raw = conn.call("POST", f"/1/{APP}/create/", body, **{"X-Simperium-API-Key": API_KEY})
    assert status == 200, raw
    token: str = json.loads(raw)["access_token"]
    return token


def todo(n: int) -> dict[str, Any]:
    return {
        "title": f"task number {n}",
        "done": n % 3 == 0,
        "tags": ["home", "urgent"][: n % 3],
        "notes": "lorem ipsum dolor sit amet " * 8,
        "priority": n % 5,
    }


def bench_writes(report: Report, host: str, port: int, token: str) -> None:
    conn = Conn(host, port, token)
    started = time.perf_counter()
    for n in range(N_WRITES):
        status, body = conn.call("POST", f"/1/{APP}/writes/i/o{n % 200}?ccid=w{n}", todo(n))
        assert status == 200, body
    elapsed = time.perf_counter() - started
    report.add(Result(
        BENCH, "server: single-object POSTs per second (one keep-alive connection)",
        N_WRITES / elapsed, "/s", None, detail=f"{N_WRITES:,} sequential POST i/{{id}}",
    ))  # fmt: skip
    started = time.perf_counter()
    for batch in range(N_BULK):
        changes = [
            {"id": f"b{batch}-{n}", "o": "M", "ccid": f"b{batch}-{n}",
             "v": {k: {"o": "+", "v": v} for k, v in todo(n).items()}}
            for n in range(100)
        ]  # fmt: skip
        status, body = conn.call("POST", f"/1/{APP}/bulk/changes?wait=1", changes)
        assert status == 200, body
    elapsed = time.perf_counter() - started
    report.add(Result(
        BENCH, "server: objects per second through bulk POST /changes", N_BULK * 100 / elapsed,
        "/s", None, detail="100 changes a request, wait=1",
    ))  # fmt: skip


def bench_index(report: Report, host: str, port: int, token: str) -> None:
    conn = Conn(host, port, token)
    for start in range(0, 1000, 100):
        changes = [
            {"id": f"x{n}", "o": "M", "v": {k: {"o": "+", "v": v} for k, v in todo(n).items()}}
            for n in range(start, start + 100)
        ]
        conn.call("POST", f"/1/{APP}/index/changes", changes)
    path = f"/1/{APP}/index/index?data=1&limit=1000"
    status, body = conn.call("GET", path)
    assert status == 200 and len(json.loads(body)["index"]) == 1000
    rounds = 50
    started = time.perf_counter()
    for _ in range(rounds):
        conn.call("GET", path)
    per_page = (time.perf_counter() - started) / rounds
    started = time.perf_counter()
    for _ in range(rounds):
        json.loads(body)
    per_loads = (time.perf_counter() - started) / rounds
    size = len(body) / 1e6
    report.add(Result(
        BENCH, "server: a 1,000-object index page (data=1) / the client's json.loads of it",
        per_page / per_loads, "x", None,
        detail=f"{per_page * 1e3:.2f} ms a page ({size:.2f} MB), "
        f"json.loads {per_loads * 1e3:.2f} ms",
    ))  # fmt: skip


async def _poll(host: str, port: int, path: str, token: str) -> tuple[asyncio.StreamReader, Any]:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nX-Simperium-Token: {token}\r\n\r\n"
    writer.write(request.encode())
    await writer.drain()
    return reader, writer


async def _read_response(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head.lower()).group(1))  # type: ignore[union-attr]
    return await reader.readexactly(length)


def _writer_latencies(host: str, port: int, token: str, count: int, first: int) -> list[float]:
    conn = Conn(host, port, token)
    latencies = []
    for n in range(first, first + count):
        started = time.perf_counter()
        status, body = conn.call("POST", f"/1/{APP}/mine/i/x{n % 50}", todo(n))
        latencies.append(time.perf_counter() - started)
        assert status == 200, body
    return latencies


async def bench_long_polls(
    report: Report, host: str, port: int, token: str, writer_token: str
) -> None:
    quiet = await asyncio.to_thread(_writer_latencies, host, port, writer_token, N_LATENCY, 0)
    quiet.sort()
    quiet_p99 = quiet[int(len(quiet) * 0.99) - 1]
    # N_POLLS idle listeners, each on its own bucket, while another user writes.
    polls = await asyncio.gather(
        *(_poll(host, port, f"/1/{APP}/idle{n}/changes", token) for n in range(N_POLLS))
    )
    await asyncio.sleep(1.0)  # let every poll reach the server and wait
    latencies = await asyncio.to_thread(
        _writer_latencies, host, port, writer_token, N_LATENCY, N_LATENCY
    )
    latencies.sort()
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    still = sum(1 for reader, _ in polls if not reader.at_eof())
    report.add(Result(
        BENCH, f"server: a writer's p99 latency beside {still:,} waiting long-polls", p99 * 1e3,
        " ms", 100,
        detail=f"p50 {p50 * 1e3:.2f} ms over {len(latencies)} writes; with no polls waiting "
        f"p99 {quiet_p99 * 1e3:.2f} ms ({p99 / quiet_p99:.2f}x)",
    ))  # fmt: skip
    for _, writer in polls:
        writer.close()

    # 1,000 polls of one bucket, one write: how long until every poll has its answer.
    polls = await asyncio.gather(
        *(_poll(host, port, f"/1/{APP}/shared/changes", token) for _ in range(N_POLLS))
    )
    await asyncio.sleep(1.0)
    conn = Conn(host, port, token)
    started = time.perf_counter()
    await asyncio.to_thread(conn.call, "POST", f"/1/{APP}/shared/i/x", {"a": 1})
    bodies = await asyncio.gather(*(_read_response(reader) for reader, _ in polls))
    elapsed = time.perf_counter() - started
    woke = sum(1 for body in bodies if json.loads(body))
    report.add(Result(
        BENCH, f"server: one write waking {woke:,} long-polls of one bucket", elapsed * 1e3,
        " ms", None, detail="until every poll has its answer",
    ))  # fmt: skip
    for _, writer in polls:
        writer.close()


def run(report: Report) -> None:
    proc, url = start_server(long_poll_timeout=120)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    try:
        setup = Conn(host, port)
        token, writer_token = new_user(setup), new_user(setup)
        bench_writes(report, host, port, token)
        bench_index(report, host, port, token)
        asyncio.run(bench_long_polls(report, host, port, token, writer_token))
    finally:
        stop_server(proc)


if __name__ == "__main__":
    run(Report())
