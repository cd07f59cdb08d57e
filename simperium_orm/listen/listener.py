"""Listen to buckets' change feeds and send remote changes as model-level blinker signals.

Each model's bucket gets a :class:`~simperium_orm.listen.feed.Feed` that long-polls
``/changes`` (a user token) or ``/all`` (an admin key, ``all_users=True``) over a transport of
its own, and a thread that runs its rounds. By default each remote version is one signal; with
``coalesce=True`` each round's changes to an object fold into their net effect. Failures of the
feed (connection errors, 5xx, a server restart) are reported through ``listener_error`` and
retried with backoff; a watchdog interrupts a poll that stays unanswered far longer than it
should; ``stop()`` interrupts waiting long-polls.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from typing import TYPE_CHECKING, Any

from blinker import Signal

from simperium_orm import signals
from simperium_orm.client import Client, default_client
from simperium_orm.errors import SimperiumError, TransportError
from simperium_orm.listen.checkpoint import Checkpoint, MemoryCheckpoint
from simperium_orm.listen.feed import Feed, RemoteEvent
from simperium_orm.listen.ghosts import GhostStore, MemoryGhostStore
from simperium_orm.wire.transport import Transport

if TYPE_CHECKING:
    from simperium_orm.orm.model import Model

__all__ = ["Listener", "RemoteEvent"]

log = logging.getLogger("simperium_orm.listen.listener")

_MAX_BACKOFF = 30.0
_QUICK_EMPTY = 0.05  # an empty answer sooner than this after asking is no real long-poll


def _backoff(failures: int, error: Exception) -> float:
    """Seconds to wait after the n-th failure in a row: jittered, growing, and ``Retry-After``."""
    delay = random.uniform(0, min(_MAX_BACKOFF, 0.25 * 2 ** min(failures, 10)))
    header = getattr(getattr(error, "response", None), "header", None)
    retry_after = header("Retry-After") if callable(header) else None
    if isinstance(retry_after, str):
        with contextlib.suppress(ValueError):
            delay = max(delay, min(_MAX_BACKOFF, float(retry_after)))
    return delay


class Listener:
    """Turns remote changes to models' buckets into blinker signals.

    The position is taken when the listener is made: the saved one (``checkpoint``), ``cv``,
    or else each bucket's current head, so every change made after the constructor returns is
    heard. ``start()`` runs a background thread per bucket; ``poll()`` runs rounds by hand
    (one attempt per request: a failure raises).
    Each remote version is one signal, with the object at that version; ``coalesce=True``
    sends each round's net effect per object instead. ``ghosts`` keeps each object's last known
    server state (default: a :class:`~simperium_orm.listen.ghosts.MemoryGhostStore` of the
    10,000 most recently changed objects), so versions come from diffs, not reads.
    ``poll_timeout`` is how long one long-poll may wait (the read timeout); ``stall_timeout``
    (default ``poll_timeout + 30``) how long one may go on before the watchdog interrupts it,
    for stalls a read timeout cannot see (a server trickling bytes, a hung connect).
    """

    def __init__(
        self,
        *models: type[Model],
        client: Client | None = None,
        all_users: bool = False,
        cv: str | None = None,
        checkpoint: Checkpoint | None = None,
        poll_timeout: float = 20.0,
        stall_timeout: float | None = None,
        coalesce: bool = False,
        ghosts: GhostStore | None = None,
        transport: str = "poll",
    ) -> None:
        if transport not in ("poll", "stream"):
            raise ValueError(f"transport is 'poll' or 'stream', not {transport!r}")
        if transport == "stream" and all_users:
            raise ValueError("transport='stream' hears one user's buckets; /all is HTTP only")
        self.streaming = transport == "stream"
        if not models:
            raise TypeError("Listener needs at least one model class")
        if cv is not None and len(models) > 1:
            raise TypeError("cv= names one feed's position; pass it with a single model")
        buckets = [m.bucket_name().lower() for m in models]
        if len(set(buckets)) < len(buckets):
            raise TypeError("two of the models share a bucket; listen to each bucket once")
        if poll_timeout <= 0:
            raise ValueError("poll_timeout must be positive")
        if stall_timeout is not None and stall_timeout <= poll_timeout:
            raise ValueError("stall_timeout must be longer than poll_timeout")
        self.client = client or default_client()
        self.all_users = all_users
        self.checkpoint: Checkpoint = checkpoint if checkpoint is not None else MemoryCheckpoint()
        self.coalesce = coalesce
        self.ghosts: GhostStore = ghosts if ghosts is not None else MemoryGhostStore()
        self.poll_timeout = poll_timeout
        self.stall_timeout = stall_timeout or poll_timeout + 30.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.feeds = [self._feed(model, cv) for model in models]
        for feed in self.feeds:
            feed.begin()

    def _feed(self, model: type[Model], cv: str | None) -> Feed:
        # Each feed polls over a pool of its own, so stop() and the watchdog can interrupt its
        # long-poll without touching the caller's connections; the clientid stays the same.
        # One attempt per request: the feed's thread retries, with backoff, and reports.
        return Feed(
            model,
            client=self.client,
            transport=Transport(timeout=self.client.timeout, retries=0),
            all_users=self.all_users,
            checkpoint=self.checkpoint,
            ghosts=self.ghosts,
            coalesce=self.coalesce,
            cv=cv,
            emit=self.emit,
            report=self.report,
            stopping=self._stop.is_set,
            stream=self.streaming,
        )

    def __repr__(self) -> str:
        names = ", ".join(f.model.__name__ for f in self.feeds)
        return f"<Listener {names} {'running' if self.running else 'stopped'}>"

    @property
    def cv(self) -> str | None:
        """The last cv whose signals were all delivered (of the first model's feed)."""
        return self.feeds[0].cv

    @property
    def cvs(self) -> dict[str, str | None]:
        """Each feed's last fully delivered cv, by bucket name."""
        return {f.bucket.name: f.cv for f in self.feeds}

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def poll(self, timeout: float | None = None) -> list[RemoteEvent]:
        """One round by hand over every feed: deliver the pending changes, return the events.

        A round takes one batch of each feed's pending changes (up to 1,000, or the server's
        batch size; call again while a backlog lasts). With ``timeout``, each feed waits up to
        that many seconds for a change when none is pending. Feed failures raise (one attempt
        per request); receiver failures go to ``listener_error``.
        """
        if self.running:
            raise RuntimeError("the listener is running: poll() is for a stopped listener")
        self._stop.clear()
        events: list[RemoteEvent] = []
        for feed in self.feeds:
            wait, more = timeout, True
            while more:  # after a re-index, the changes since its position too
                got, more = feed.round(wait)
                events.extend(got)
                wait = None
        return events

    # -- threads --------------------------------------------------------------------------

    def start(self) -> Listener:
        """Start a background thread per feed (and a watchdog); returns at once."""
        if self.running:
            return self
        self._stop.clear()
        self._threads = [
            threading.Thread(
                target=self._run, args=(feed,), name=f"simperium-listener-{feed.key}", daemon=True
            )
            for feed in self.feeds
        ]
        self._threads.append(
            threading.Thread(target=self._watch, name="simperium-listener-watchdog", daemon=True)
        )
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the threads and wait for them (up to ``timeout``, default ``poll_timeout``).

        Waiting long-polls are interrupted at once; a round delivering signals stops after the
        one whose receivers are running (the rest come when the listener starts again).
        Called from a receiver, it does not wait for its own thread.
        """
        self._stop.set()
        self._abort()
        self.join(self.poll_timeout if timeout is None else timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads to finish (call :meth:`stop` first)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        current = threading.current_thread()
        for thread in self._threads:
            while thread.is_alive() and thread is not current:
                if deadline is not None and time.monotonic() >= deadline:
                    return
                if self._stop.is_set():
                    self._abort()  # a poll that began after stop() was called
                thread.join(0.05)
        if self._stop.is_set() and not self.running:
            for feed in self.feeds:
                feed.transport.close()  # release the sockets; a new start() opens others

    def __enter__(self) -> Listener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()

    def _abort(self) -> None:
        for feed in self.feeds:
            feed.interrupt()

    def _run(self, feed: Feed) -> None:
        failures = quick = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                feed.round(self.poll_timeout)
            except Exception as exc:  # a feed failure, or a bug: report, wait, go on
                if self._stop.is_set():
                    break  # the interrupted long-poll of stop()
                failures += 1
                delay = _backoff(failures, exc)
                self._feed_failed(feed, exc, f"polling again in {delay:.1f} s")
                self._stop.wait(delay)
                continue
            except BaseException as exc:  # SystemExit from a receiver: stop listening
                self.report(exc, None)
                self._stop.set()
                self._abort()
                return
            failures = 0
            if feed.last_fetched == 0 and time.monotonic() - started < _QUICK_EMPTY:
                quick += 1  # a server answering "nothing" at once: do not spin on it
                self._stop.wait(min(1.0, 0.01 * 2 ** min(quick, 7)))
            else:
                quick = 0

    def _watch(self) -> None:
        while not self._stop.wait(min(5.0, self.stall_timeout / 4)):
            now = time.monotonic()
            for feed in self.feeds:
                since = feed.busy_since
                if since is not None and now - since > self.stall_timeout:
                    feed.busy_since = now
                    self._feed_failed(
                        feed,
                        TransportError(
                            f"{feed.key}: no answer to a long-poll for {now - since:.0f} s"
                        ),
                        "restarting it",
                    )
                    feed.interrupt()

    # -- delivery -------------------------------------------------------------------------

    def emit(self, event: RemoteEvent) -> None:
        """Send an event's signal to each receiver; a failing receiver is reported, not fatal."""
        signal, kwargs = signal_of(event)
        model = event.model
        for receiver in signal.receivers_for(model):  # blinker iterates a copy of its ids
            try:
                receiver(model, **kwargs)
            except Exception as exc:
                self.report(exc, event.change)

    def report(self, error: BaseException, change: dict[str, Any] | None) -> None:
        """Send ``listener_error`` (logged as a warning, with its traceback, when nobody
        receives it): a receiver's failure, data that does not fit, a bug."""
        if not self._send_error(error, change):
            log.warning("listener error: %s", error, exc_info=error)

    def _feed_failed(self, feed: Feed, error: BaseException, then: str) -> None:
        """Report a failed poll. Nobody receiving it, a typed error (the server down, a 5xx)
        is one warning line, its traceback only at DEBUG; anything else is a bug: traceback."""
        if self._send_error(error, None):
            return
        if not isinstance(error, SimperiumError):
            log.warning("listener error on %s: %s; %s", feed.key, error, then, exc_info=error)
            return
        log.warning("listener error on %s: %s: %s; %s", feed.key, type(error).__name__, error, then)
        log.debug("the failed poll's traceback", exc_info=error)

    def _send_error(self, error: BaseException, change: dict[str, Any] | None) -> bool:
        """Send ``listener_error`` to its receivers; whether there were any."""
        receivers = list(signals.listener_error.receivers_for(self))
        for receiver in receivers:
            try:
                receiver(self, error=error, change=change)
            except Exception:  # a failing error receiver cannot stop the listener
                log.exception("a listener_error receiver failed")
        return bool(receivers)


def signal_of(event: RemoteEvent) -> tuple[Signal, dict[str, Any]]:
    """The signal an event is sent as, and its keyword arguments (the sender is its model)."""
    if event.kind == "deleted":
        return signals.remote_deleted, {
            "id": event.id,
            "change": event.change,
            "userid": event.userid,
        }
    if event.kind == "created":
        return signals.remote_created, {
            "instance": event.instance,
            "change": event.change,
            "userid": event.userid,
        }
    return signals.remote_updated, {
        "instance": event.instance,
        "changed_fields": set(event.changed_fields),
        "change": event.change,
        "userid": event.userid,
    }
