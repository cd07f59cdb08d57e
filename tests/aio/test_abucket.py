"""The async bucket and transport against the local server: the sync bucket's answers."""

from __future__ import annotations

import asyncio

import pytest

import simperium_orm as so
from simperium_orm.errors import RequestTimeout, TransportError
from simperium_orm.wire.atransport import AsyncTransport
from simperium_orm.wire.request import Request, Response
from simperium_orm.wire.retry import RetryPolicy
from simperium_orm.wire.transport import Transport


async def test_write_fetch_delete_bulk_and_index(simperium_client: so.Client) -> None:
    bucket = simperium_client.abucket("abucket")
    doc = await bucket.awrite("a", {"n": 1})
    assert (doc.id, doc.version, doc.data) == ("a", 1, {"n": 1})
    merged = await bucket.awrite("a", {"m": 2}, version=1)
    assert merged.data == {"n": 1, "m": 2}
    assert (await bucket.afetch("a")).data == {"n": 1, "m": 2}
    assert await bucket.aget("missing", default=7) == 7
    with pytest.raises(so.NotFound):
        await bucket.afetch("missing")
    results = await bucket.abulk_post({"b": {"x": 1}, "c": {"x": 2}})
    assert [r.get("error", 0) for r in results] == [0, 0]
    page = await bucket.aindex(data=True, limit=1000)
    assert {e["id"] for e in page["index"]} == {"a", "b", "c"}
    assert page == simperium_client.bucket("abucket").index(data=True, limit=1000)
    await bucket.adelete("a")
    assert await bucket.aget("a") is None
    assert await bucket.ahead() == simperium_client.bucket("abucket").head()
    assert await bucket.auser()
    await simperium_client.aclose()


async def test_long_poll_timeout_is_an_empty_answer(simperium_client: so.Client) -> None:
    bucket = simperium_client.abucket("apoll")
    cv = await bucket.ahead()
    assert await bucket.achanges(cv=cv, timeout=0.2) == []
    await simperium_client.aclose()


async def test_bad_token_is_a_typed_error(simperium_server) -> None:  # type: ignore[no-untyped-def]
    client = so.Client(simperium_server.app_id, "not-a-token", api_url=simperium_server.url)
    with pytest.raises(so.AuthError):
        await client.abucket("x").afetch("a")
    await client.aclose()


async def test_unreachable_server_is_a_transport_error() -> None:
    client = so.Client("app", "secret-tok", api_url="http://127.0.0.1:9", retries=1, backoff=0)
    with pytest.raises(TransportError) as caught:
        await client.abucket("x").afetch("a")
    assert not caught.value.sent and "secret-tok" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    await client.aclose()


class _Scripted:
    """A sender answering from a script: Responses or errors, in turn."""

    def __init__(self, *outcomes: Response | Exception) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[Request] = []

    async def send(self, request: Request) -> Response:
        self.sent.append(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def abort(self) -> None: ...

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


async def test_retries_obey_the_policy_and_mark_the_response() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    sender = _Scripted(
        TransportError("cut", sent=True),
        Response(503, {}, b""),
        Response(409, {}, b"{}"),
    )
    transport = AsyncTransport(RetryPolicy(3, 0.01, 0.01), 5.0, sleep=sleep, sender=sender)
    response = await transport.request(
        "POST", "http://x/y", json_body={"a": 1}, raise_for_status=False
    )
    assert response.status_code == 409 and response.retried and len(waits) == 2
    assert len({id(r) for r in sender.sent}) == 1  # every attempt sends the same request

    no_retry = _Scripted(RequestTimeout("slow"))
    transport = AsyncTransport(RetryPolicy(3, 0, 0), 5.0, sleep=sleep, sender=no_retry)
    with pytest.raises(RequestTimeout):
        await transport.request("GET", "http://x/poll", retry_timeouts=False)


async def test_abort_interrupts_a_long_poll(simperium_server) -> None:  # type: ignore[no-untyped-def]
    # As with the sync transport, an aborted attempt is a TransportError the policy may retry.
    simperium_client = simperium_server.client().with_transport(Transport(retries=0))
    bucket = simperium_client.abucket("aabort")
    cv = await bucket.ahead()
    poll = asyncio.ensure_future(bucket.achanges(cv=cv, timeout=30))
    await asyncio.sleep(0.2)
    simperium_client.atransport.abort()
    with pytest.raises(TransportError):
        await asyncio.wait_for(poll, 5)
    await simperium_client.aclose()
