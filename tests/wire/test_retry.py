"""The retry policy (pure) and the transport's loop around a sender that is not HTTP."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import simperium_orm as so
from simperium_orm.wire.request import Request, Response
from simperium_orm.wire.retry import RetryPolicy
from simperium_orm.wire.transport import Transport


@given(st.integers(0, 10), st.integers(0, 10), st.booleans())
def test_never_more_than_retries_extra_attempts(retries: int, attempt: int, safe: bool) -> None:
    policy = RetryPolicy(retries)
    outcomes = [
        policy.after_error(so.TransportError("x", sent=False), attempt, safe=safe),
        policy.after_status(503, attempt, safe=safe),
    ]
    if attempt >= retries:
        assert outcomes == [None, None]
    else:
        assert all(w is not None and 0 <= w <= policy.max_backoff for w in outcomes)


def test_what_is_retried() -> None:
    policy = RetryPolicy(3)
    sent, unsent = so.TransportError("x"), so.TransportError("x", sent=False)
    assert policy.after_error(sent, 0, safe=True) is not None
    assert policy.after_error(sent, 0, safe=False) is None  # may have been applied
    assert policy.after_error(unsent, 0, safe=False) is not None  # never reached a server
    timeout = so.RequestTimeout("t")
    assert policy.after_error(timeout, 0, safe=True) is not None
    assert policy.after_error(timeout, 0, safe=True, retry_timeouts=False) is None
    assert policy.after_status(500, 0, safe=True) is not None
    assert policy.after_status(500, 0, safe=False) is None
    for status in (429, 502, 503, 504):
        assert policy.after_status(status, 0, safe=False) is not None
    for status in (200, 400, 401, 404, 409, 412, 413):
        assert policy.after_status(status, 0, safe=True) is None


def test_retry_after_is_honoured_up_to_thirty_seconds() -> None:
    policy = RetryPolicy(3, backoff=0, max_backoff=0)
    assert policy.after_status(429, 0, safe=True, retry_after="7") == 7
    assert policy.after_status(429, 0, safe=True, retry_after="3600") == 30
    assert policy.after_status(429, 0, safe=True, retry_after="soon") == 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(-1)
    with pytest.raises(ValueError):
        RetryPolicy(1, backoff=-1)


class ScriptedSender:
    """Answers each attempt from a script: a status, or an error to raise."""

    def __init__(self, *script: int | Exception) -> None:
        self.script = list(script)
        self.sent: list[Request] = []

    def send(self, request: Request) -> Response:
        self.sent.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return Response(step, {}, b"{}", request.public_url)

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_the_transport_sends_the_same_request_on_every_attempt() -> None:
    sender = ScriptedSender(so.TransportError("cut"), 503, 200)
    waits: list[float] = []
    transport = Transport(sender=sender, sleep=waits.append, retries=3)
    response = transport.request("POST", "http://h/x?y=1", json_body={"a": 1}, params={"p": 1})
    assert response.status_code == 200 and response.retried
    assert (
        len(sender.sent) == 3 and all(r == sender.sent[0] for r in sender.sent) and len(waits) == 2
    )
    assert sender.sent[0].body == b'{"a":1}' and sender.sent[0].query == {"p": 1}


def test_the_transport_raises_the_typed_error_when_the_policy_gives_up() -> None:
    transport = Transport(sender=ScriptedSender(so.TransportError("cut")), sleep=lambda s: None)
    with pytest.raises(so.TransportError, match="cut"):
        transport.request("POST", "http://h/x", safe_to_retry=False)
    transport = Transport(sender=ScriptedSender(404), sleep=lambda s: None)
    with pytest.raises(so.NotFound):
        transport.request("GET", "http://h/x")
