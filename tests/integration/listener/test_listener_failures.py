"""Feed failures: 5xx answers and a poll nobody answers are reported, retried, survived."""

from __future__ import annotations

import time

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.fault_proxy import PASS, Fault, FaultProxy
from tests.support.listener_support import Todo, listener_threads, recording


@pytest.fixture
def token(local_server: SimperiumServer) -> str:
    return local_server.create_user()


def head(client: so.Client) -> str:
    return str(client.bucket("todo").index(limit=1)["current"])


def test_server_errors_are_reported_and_retried(local_server: SimperiumServer, token: str) -> None:
    other = local_server.client(token)
    with FaultProxy(local_server.url, lambda n: Fault("answer") if n <= 2 else PASS) as proxy:
        mine = so.Client("demo", token, api_url=proxy.url)
        listener = so.Listener(Todo, client=mine, cv=head(other), poll_timeout=5)
        with recording() as rec, listener:
            other.bucket("todo").write("a", {"title": "after the outage"})
            assert rec.wait_count(1)
        mine.close()
    assert rec.titles() == ["after the outage"]
    assert [type(e.kwargs["error"]) for e in rec.errors] == [so.ServerError, so.ServerError]
    assert all(e.sender is listener and e.kwargs["change"] is None for e in rec.errors)
    assert listener_threads() == []
    other.close()


def test_the_watchdog_restarts_a_poll_that_never_ends(
    local_server: SimperiumServer, token: str
) -> None:
    other = local_server.client(token)
    # The first answer trickles in forever, so no read timeout fires: only the watchdog helps.
    with FaultProxy(local_server.url, lambda n: Fault("trickle") if n == 1 else PASS) as proxy:
        mine = so.Client("demo", token, api_url=proxy.url)
        listener = so.Listener(
            Todo, client=mine, cv=head(other), poll_timeout=0.5, stall_timeout=1.0
        )
        other.bucket("todo").write("a", {"title": "heard anyway"})
        with recording() as rec, listener:
            assert rec.wait_count(1)
        mine.close()
    assert rec.titles() == ["heard anyway"]
    assert "no answer to a long-poll" in str(rec.errors[0].kwargs["error"])
    # Then the interrupted answer itself fails (how depends on where it was cut).
    assert all(isinstance(e.kwargs["error"], so.SimperiumError) for e in rec.errors)
    with pytest.raises(ValueError):
        so.Listener(Todo, client=other, poll_timeout=5, stall_timeout=5)
    other.close()


def test_a_server_that_is_down_at_the_start_is_a_clear_error() -> None:
    with SimperiumServer() as server:
        client = server.client()
    with pytest.raises(so.TransportError):
        so.Listener(Todo, client=client)  # the head cannot be read: said at once
    client.close()


def test_an_error_receiver_that_fails_does_not_stop_the_listener(
    local_server: SimperiumServer, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = local_server.client(token), local_server.client(token)
    listener = so.Listener(Todo, client=mine)

    def broken(sender: object, **kwargs: object) -> None:
        raise RuntimeError("error receiver bug")

    def bad(sender: object, **kwargs: object) -> None:
        raise ValueError("receiver bug")

    so.signals.listener_error.connect(broken, sender=listener)
    so.signals.remote_created.connect(bad, sender=Todo)
    try:
        other.bucket("todo").write("a", {"title": "a"})
        assert [e.id for e in listener.poll()] == ["a"]
    finally:
        so.signals.listener_error.disconnect(broken, sender=listener)
        so.signals.remote_created.disconnect(bad, sender=Todo)
    assert "a listener_error receiver failed" in caplog.text
    mine.close()
    other.close()


def test_errors_nobody_receives_are_logged(
    local_server: SimperiumServer, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    mine, other = local_server.client(token), local_server.client(token)
    listener = so.Listener(Todo, client=mine)
    other.bucket("todo").write("a", {"title": 1})
    assert listener.poll() == []
    assert "listener error" in caplog.text and "'a'" in caplog.text

    def bad(sender: object, **kwargs: object) -> None:
        raise ValueError("receiver bug")

    so.signals.remote_created.connect(bad, sender=Todo)
    try:
        other.bucket("todo").write("b", {"title": "b"})
        listener.poll()
    finally:
        so.signals.remote_created.disconnect(bad, sender=Todo)
    # Unlike a failed poll, bad data and a receiver's bug keep their tracebacks.
    records = [r for r in caplog.records if r.name == "simperium_orm.listen.listener"]
    assert [r.levelname for r in records] == ["WARNING", "WARNING"]
    assert all(r.exc_info is not None for r in records)
    assert "receiver bug" in records[1].getMessage()
    mine.close()
    other.close()


def test_an_outage_logs_one_line_per_failed_poll_and_the_traceback_only_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with SimperiumServer() as server:
        client = server.client()
        listener = so.Listener(Todo, client=client, poll_timeout=5)
    # The server is gone: every poll fails until stop(), and nobody receives listener_error.
    logger = "simperium_orm.listen.listener"
    with caplog.at_level("DEBUG", logger=logger), listener:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if sum(r.levelname == "WARNING" for r in caplog.records) >= 2:
                break
            time.sleep(0.02)
    client.close()
    warnings = [r for r in caplog.records if r.name == logger and r.levelname == "WARNING"]
    debug = [r for r in caplog.records if r.name == logger and r.levelname == "DEBUG"]
    assert len(warnings) >= 2
    for record in warnings:
        assert record.exc_info is None and "\n" not in record.getMessage()
        assert record.getMessage().startswith("listener error on demo/todo: TransportError: ")
        assert "polling again in" in record.getMessage()
    assert len(debug) >= len(warnings) - 1 and all(r.exc_info for r in debug)  # at DEBUG only
    assert client.bucket("todo").auth_token not in caplog.text  # no secret in the lines
