"""The whole product in one run, printing every HTTP request and signal as it happens.

Runs against an in-process local server, or against real Simperium when SIMPERIUM_APP_ID and
SIMPERIUM_API_KEY are set (a throw-away user is created there). ``make demo`` runs it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _devices import two_devices

import simperium_orm as so
from simperium_orm import signals


class Todo(so.Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []


def show_requests() -> None:
    """Print the library's one-line-per-request debug log (it never contains secrets)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("      http  %(message)s"))
    log = logging.getLogger("simperium_orm.http")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)


def step(text: str) -> None:
    print(f"\n>> {text}", flush=True)


class Tally:
    """Counts signals instead of printing them while a bulk call sends one per object."""

    counts: dict[str, int] | None = None

    @classmethod
    @contextlib.contextmanager
    def quietly(cls) -> Iterator[None]:
        cls.counts = {}
        try:
            yield
        finally:
            counts, cls.counts = cls.counts, None
            summary = ", ".join(f"{name} x{n}" for name, n in counts.items())
            print(f"    signal  {summary}", flush=True)


def on_signal(name: str) -> Any:
    def receiver(sender: type[so.Model], **kwargs: Any) -> None:
        if Tally.counts is not None:
            Tally.counts[name] = Tally.counts.get(name, 0) + 1
            return
        shown = {k: v for k, v in kwargs.items() if k in ("created", "changed_fields", "userid")}
        target = kwargs.get("instance") or kwargs.get("id")
        label = f"{target.title!r}" if isinstance(target, Todo) else repr(target)
        print(f"    signal  {name}({sender.__name__}) {label} {shown}", flush=True)

    return receiver


def main() -> int:
    receivers = {name: on_signal(name) for name in signals.__all__ if name != "listener_error"}
    for name, receiver in receivers.items():
        getattr(signals, name).connect(receiver, sender=Todo)
    with contextlib.ExitStack() as stack:
        me, other_device = two_devices(stack, "demo", step)
        so.connect(me)
        show_requests()

        step("create: a new object POSTs the whole object and gets an id and version 1")
        milk = Todo(title="buy milk", tags=["shop"])
        milk.save()
        print(f"    {milk!r}")

        step("update: only the changed field goes to i/{id}/v/{version}, so edits merge")
        milk.done = True
        milk.tags.append("today")
        milk.save()

        step("bulk_save: 30 objects in one POST /changes")
        with Tally.quietly():
            Todo.objects.bulk_save(
                [Todo(title=f"task {i:02d}", done=i % 3 == 0) for i in range(30)]
            )

        step("query: filters run client-side over the index pages (data=1)")
        open_tasks = Todo.objects.filter(done=False, title__startswith="task 1")
        print(f"    open tasks starting 'task 1': {open_tasks.count()}")
        first = Todo.objects.filter(tags__contains="shop").first()
        print(f"    first tagged 'shop': {first.title if first else None!r}")

        step("page: 10 at a time with a resumable cursor")
        page = Todo.objects.all().page(limit=10)
        second = Todo.objects.all().page(limit=10, cursor=page.cursor)
        print(f"    page 1: {len(page.items)} items, page 2: {len(second.items)} items")

        replica_queries(me)

        step("listener: another device edits; this process hears it as signals")
        created, deleted = threading.Event(), threading.Event()
        remote = other_device.bucket("todo")
        with so.Listener(Todo, client=me, poll_timeout=5) as listener:
            signals.remote_created.connect(lambda *a, **k: created.set(), sender=Todo, weak=False)
            signals.remote_deleted.connect(lambda *a, **k: deleted.set(), sender=Todo, weak=False)
            remote.set(milk.id or "", {"title": "buy oat milk"})
            new_id = remote.new({"title": "call mum"})
            assert isinstance(new_id, str)
            created.wait(10)
            remote.delete(new_id)
            deleted.wait(10)
        print(f"    listener stopped at cv {listener.cv}")

        step("delete: one object, then the rest in bulk")
        milk.refresh()
        print(f"    merged state after the remote edit: {milk.title!r} done={milk.done}")
        milk.delete()
        with Tally.quietly():
            Todo.objects.bulk_delete(list(Todo.objects.all()))
        print(f"    objects left: {Todo.objects.count()}")
    so.disconnect()
    offline_first()
    print("\ndemo finished")
    return 0


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def replica_queries(me: so.Client) -> None:
    step("replica: a local SQLite mirror of the bucket; the same query, over HTTP and from it")
    with tempfile.TemporaryDirectory() as folder:
        replica = so.Replica(str(Path(folder) / "todo.db"), Todo, client=me)
        replica.sync()  # the first time: the index with data; later only the changes
        query = Todo.objects.filter(done=False, title__startswith="task 1")
        remote, http_ms = timed(query.count)
        local, local_ms = timed(query.using(replica).count)
        print(f"    over HTTP: {remote} in {http_ms:.2f} ms")
        print(f"    from the replica: {local} in {local_ms:.2f} ms, no request")
        replica.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline_first() -> None:
    from simperium_orm.testing import SimperiumServer

    step("offline: a note saved through a replica while the server is stopped, synced later")
    with tempfile.TemporaryDirectory() as folder:
        server = SimperiumServer(db=str(Path(folder) / "server.db"), port=free_port()).start()
        client = server.client(retries=0)
        replica = so.Replica(str(Path(folder) / "notes.db"), Todo, client=client)
        replica.sync()
        server.stop()
        print("    server stopped")
        note = Todo(title="written on a train")
        _, ms = timed(lambda: note.save(using=replica))  # type: ignore[arg-type]
        print(f"    saved locally in {ms:.2f} ms; pending: {note.has_pending_writes}")
        print(f"    flush while the server is down: {replica.flush(timeout=0.5)}")
        server.start()
        print("    server started again")
        print(f"    flush: {replica.flush(timeout=10)}; pending: {note.has_pending_writes}")
        stored = Todo.objects.using(client).get(note.id or "")
        print(f"    on the server: {stored.title!r} version {stored.version}")
        replica.close()
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
