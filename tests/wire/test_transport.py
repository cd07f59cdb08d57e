"""Retries, timeouts, base URLs and error mapping of the transport, pinned with ``responses``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

import simperium_orm as so
from simperium_orm import protocol
from simperium_orm.wire.bucket import Bucket
from simperium_orm.wire.transport import Transport

API = "https://api.simperium.com/1/myapp"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def bucket(sleeps: Sleeps) -> Bucket:
    return Bucket("myapp", "tok", "todo", clientid="py-t", transport=Transport(sleep=sleeps))


def ccid_of(call: responses.Call) -> str:
    return parse_qs(urlsplit(call.request.url or "").query)["ccid"][0]


@responses.activate
def test_retried_write_reuses_the_same_ccid(bucket: Bucket, sleeps: Sleeps) -> None:
    url = f"{API}/todo/i/t1"
    responses.post(url, status=503)
    responses.post(url, status=502)
    responses.post(url, json={"a": 1}, headers={"X-Simperium-Version": "1"})
    assert bucket.write("t1", {"a": 1}).version == 1
    assert len(responses.calls) == 3
    assert len({ccid_of(c) for c in responses.calls}) == 1
    assert len(sleeps) == 2


@responses.activate
def test_duplicate_ccid_on_retry_counts_as_success(bucket: Bucket) -> None:
    url = f"{API}/todo/i/t1"
    responses.post(url, body=requests.exceptions.ReadTimeout("slow"))
    responses.post(url, status=409, json={"message": "duplicate change"})
    responses.get(url, json={"a": 1}, headers={"X-Simperium-Version": "1"})
    doc = bucket.write("t1", {"a": 1})
    assert (doc.version, doc.data) == (1, {"a": 1})
    assert ccid_of(responses.calls[0]) == ccid_of(responses.calls[1])


@responses.activate
def test_duplicate_ccid_on_first_attempt_is_an_error(bucket: Bucket) -> None:
    responses.post(f"{API}/todo/i/t1", status=409, json={"message": "duplicate change"})
    with pytest.raises(so.Conflict):
        bucket.write("t1", {"a": 1}, ccid="reused")


@responses.activate
def test_delete_retry_after_applied_delete_succeeds(bucket: Bucket) -> None:
    url = f"{API}/todo/i/t1"
    responses.delete(url, body=requests.exceptions.ConnectionError("reset"))
    responses.delete(url, status=404, json={"message": "not found"})
    assert bucket.delete("t1")


@responses.activate
def test_retries_run_out_then_typed_error(bucket: Bucket, sleeps: Sleeps) -> None:
    for _ in range(4):
        responses.get(f"{API}/todo/i/t1", status=500, json={"message": "boom"})
    with pytest.raises(so.ServerError) as err:
        bucket.fetch("t1")
    assert err.value.status_code == 500
    assert len(responses.calls) == 4 and len(sleeps) == 3


@responses.activate
def test_rate_limit_honours_retry_after(bucket: Bucket, sleeps: Sleeps) -> None:
    responses.get(f"{API}/todo/i/t1", status=429, headers={"Retry-After": "2"})
    responses.get(f"{API}/todo/i/t1", json={}, headers={"X-Simperium-Version": "1"})
    bucket.fetch("t1")
    assert sleeps[0] >= 2


@responses.activate
def test_backoff_grows_and_is_capped() -> None:
    sleeps = Sleeps()
    transport = Transport(retries=6, backoff=1.0, max_backoff=3.0, sleep=sleeps)
    for _ in range(7):
        responses.get("https://x.test/", status=503)
    with pytest.raises(so.ServerError):
        transport.request("GET", "https://x.test/")
    assert len(sleeps) == 6 and max(sleeps) <= 3.0


@responses.activate
def test_connection_errors_become_transport_errors(bucket: Bucket) -> None:
    for _ in range(4):
        responses.get(f"{API}/todo/i/t1", body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(so.TransportError) as err:
        bucket.fetch("t1")
    assert not isinstance(err.value, requests.exceptions.RequestException)
    assert "tok" not in str(err.value)


@responses.activate
def test_unsafe_request_is_not_resent_after_ambiguous_failure(sleeps: Sleeps) -> None:
    transport = Transport(sleep=sleeps)
    responses.post("https://x.test/create", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(so.RequestTimeout):
        transport.request("POST", "https://x.test/create", json_body={}, safe_to_retry=False)
    assert len(responses.calls) == 1


@responses.activate
def test_long_poll_timeout_returns_empty_but_outage_raises(bucket: Bucket) -> None:
    responses.get(f"{API}/todo/changes", body=requests.exceptions.ReadTimeout("quiet"))
    assert bucket.changes(cv="c", timeout=0.5) == []
    assert len(responses.calls) == 1  # a quiet feed is not retried
    for _ in range(4):
        responses.get(f"{API}/todo/all", body=requests.exceptions.ConnectionError("down"))
    with pytest.raises(so.TransportError):
        bucket.all(cv="c", timeout=0.5)


@responses.activate
def test_non_json_answer_is_a_protocol_error(bucket: Bucket) -> None:
    responses.get(f"{API}/todo/index", body="<html>oops</html>")
    with pytest.raises(so.ProtocolError):
        bucket.index()


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, so.BadRequest),
        (401, so.AuthError),
        (403, so.AuthError),
        (404, so.NotFound),
        (409, so.Conflict),
        (412, so.PreconditionFailed),
        (413, so.TooLarge),
        (429, so.RateLimited),
        (503, so.ServerError),
        (418, so.HTTPError),
    ],
)
@responses.activate
def test_status_maps_to_typed_error(status: int, cls: type[so.HTTPError]) -> None:
    transport = Transport(retries=0)
    responses.get("https://x.test/", status=status, json={"message": "why"})
    with pytest.raises(cls) as err:
        transport.request("GET", "https://x.test/")
    assert type(err.value) is cls
    assert err.value.status_code == status
    assert err.value.response is not None and err.value.response.status_code == status
    assert "why" in str(err.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "https://api.simperium.com"),
        ({"SIMPERIUM_APIHOST": "localhost:8000"}, "https://localhost:8000"),
        ({"SIMPERIUM_APIHOST": "http://127.0.0.1:8000/"}, "http://127.0.0.1:8000"),
        (
            {"SIMPERIUM_API_URL": "http://a:1", "SIMPERIUM_APIHOST": "b:2"},
            "http://a:1",
        ),
    ],
)
def test_api_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for name in ("SIMPERIUM_API_URL", "SIMPERIUM_APIHOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert so.Client("app", "t").api_url == expected


def test_explicit_arguments_beat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMPERIUM_AUTHHOST", "env-host")
    assert so.Client("app", "t", auth_url="http://x:1").auth_url == "http://x:1"
    assert so.Auth("app", "k", auth_url="http://y:2").auth_url == "http://y:2"
    assert so.Auth("app", "k", host="h:3", scheme="http").auth_url == "http://h:3"
    assert so.Auth("app", "k").auth_url == "https://env-host"


def test_bad_url_is_rejected() -> None:
    with pytest.raises(ValueError):
        protocol.api_url("ftp://x")


def test_connect_sets_the_default_client() -> None:
    so.disconnect()
    with pytest.raises(so.NotConnected):
        so.default_client()
    client = so.connect(app_id="app", token="t")
    assert so.default_client() is client
    so.disconnect()


def test_abort_interrupts_a_request_in_flight() -> None:
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    transport = Transport(retries=0)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            transport.request("GET", f"http://127.0.0.1:{port}/changes", timeout=None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=call)
    started = time.monotonic()
    worker.start()
    while not accepted and time.monotonic() - started < 5:
        time.sleep(0.01)
    time.sleep(0.05)
    transport.abort()
    worker.join(5)
    assert not worker.is_alive()
    assert isinstance(outcome[0], so.TransportError)
    assert time.monotonic() - started < 5
    listener.close()
    for conn in accepted:
        conn.close()


@responses.activate
def test_debug_log_has_method_path_status_but_no_secrets(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    responses.get(f"{API}/todo/i/t1", json={}, headers={"X-Simperium-Version": "1"})
    caplog.set_level(logging.DEBUG, logger="simperium_orm.http")
    Bucket("myapp", "secret-token", "todo").fetch("t1")
    assert "GET /1/myapp/todo/i/t1 -> 200" in caplog.text
    assert "secret-token" not in caplog.text


@responses.activate
def test_quiet_long_poll_at_the_default_timeout_is_not_retried() -> None:
    bucket = Bucket("myapp", "tok", "todo", transport=Transport(timeout=5, sleep=lambda s: None))
    responses.get(f"{API}/todo/changes", body=requests.exceptions.ReadTimeout("quiet"))
    assert bucket.changes(cv="c", timeout=5) == []
    assert len(responses.calls) == 1


@responses.activate
def test_client_takes_the_backoff_settings() -> None:
    responses.get(f"{API}/todo/i/t1", status=503)
    responses.get(f"{API}/todo/i/t1", json={"a": 1}, headers={"X-Simperium-Version": "1"})
    client = so.Client("myapp", "tok", retries=1, backoff=0.0, max_backoff=0.0)
    assert (client.transport.backoff, client.transport.max_backoff) == (0.0, 0.0)
    assert client.bucket("todo").get("t1") == {"a": 1}
    assert len(responses.calls) == 2
    with pytest.raises(ValueError, match="backoff"):
        so.Client("myapp", "tok", backoff=-1)
