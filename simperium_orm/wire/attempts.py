"""The retry loop of one logical request, written once for the sync and async transports.

:func:`build_request` turns a transport call's arguments into the :class:`Request` every attempt
sends. :func:`attempts` is the loop itself as a generator that does no I/O: it yields
:data:`SEND` when an attempt is due (the shell sends the request and passes back the
:class:`Response` or the :class:`TransportError`), or a wait in seconds (the shell sleeps, with
``time.sleep`` or ``asyncio.sleep``, and resumes it with ``None``). It returns the response that
stands, or raises the error that ends the request. :func:`drive` and :func:`adrive` are the two
shells; they only move values between the loop and the I/O.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

from simperium_orm.errors import TransportError, error_for_status
from simperium_orm.wire.request import Request, Response, encode_json, error_message
from simperium_orm.wire.retry import RetryPolicy

__all__ = ["SEND", "Steps", "adrive", "attempts", "build_request", "drive", "prepare"]

#: One DEBUG line per HTTP attempt: method, path, query, status, time. Never headers or bodies,
#: which carry the tokens and keys.
log = logging.getLogger("simperium_orm.http")

SEND = None  # what the loop yields when an attempt is due
Outcome = Response | TransportError | None
Steps = Generator[float | None, Outcome, Response]


def build_request(
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    json_body: Any,
    json_text: bytes | None,
    form: Mapping[str, str] | None,
    timeout: float | None,
) -> Request:
    """The request every attempt sends (query parameters that are None are left out)."""
    send_headers = dict(headers or {})
    if json_body is not None:
        json_text = encode_json(json_body)
    if json_text is not None:
        send_headers["Content-Type"] = "application/json"
    query = {k: v for k, v in (params or {}).items() if v is not None}
    return Request(method, url, query, send_headers, json_text, form, timeout)


def prepare(
    policy: RetryPolicy,
    default_timeout: float | None,
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    json_text: bytes | None = None,
    form: Mapping[str, str] | None = None,
    timeout: float | str | None = "default",
    safe_to_retry: bool = True,
    raise_for_status: bool = True,
    retry_timeouts: bool = True,
) -> tuple[Request, Steps]:
    """A transport call's request and its retry loop (``timeout="default"``: the transport's)."""
    read_timeout = default_timeout if timeout == "default" else timeout
    assert read_timeout is None or isinstance(read_timeout, (int, float))
    request = build_request(
        method,
        url,
        params=params,
        headers=headers,
        json_body=json_body,
        json_text=json_text,
        form=form,
        timeout=read_timeout,
    )
    steps = attempts(
        policy,
        request,
        safe=safe_to_retry,
        retry_timeouts=retry_timeouts,
        raise_for_status=raise_for_status,
    )
    return request, steps


def attempts(
    policy: RetryPolicy,
    request: Request,
    *,
    safe: bool,
    retry_timeouts: bool,
    raise_for_status: bool,
) -> Steps:
    """The retry loop (see the module doc); raises the typed error for an error status."""
    attempt = 0
    while True:
        started = time.perf_counter()
        outcome = yield SEND
        if isinstance(outcome, TransportError):
            wait = policy.after_error(outcome, attempt, safe=safe, retry_timeouts=retry_timeouts)
            if wait is None:
                raise outcome
            yield wait
            attempt += 1
            continue
        assert isinstance(outcome, Response)
        response = dataclasses.replace(outcome, retried=True) if attempt else outcome
        status = response.status_code
        if log.isEnabledFor(logging.DEBUG):
            _log_attempt(request, status, started, retried=attempt > 0)
        wait = policy.after_status(
            status, attempt, safe=safe, retry_after=response.header("Retry-After")
        )
        if wait is not None:
            yield wait
            attempt += 1
            continue
        if raise_for_status and status >= 400:
            raise error_for_status(status, error_message(response), response)
        return response


def drive(
    steps: Steps,
    send: Callable[[Request], Response],
    sleep: Callable[[float], None],
    request: Request,
) -> Response:
    """Run the loop with blocking I/O."""
    try:
        step = next(steps)
        while True:
            if step is SEND:
                outcome: Outcome
                try:
                    outcome = send(request)
                except TransportError as exc:
                    outcome = exc
                step = steps.send(outcome)
            else:
                sleep(step)
                step = steps.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def adrive(
    steps: Steps,
    send: Callable[[Request], Awaitable[Response]],
    sleep: Callable[[float], Awaitable[None]],
    request: Request,
) -> Response:
    """Run the loop with awaited I/O."""
    try:
        step = next(steps)
        while True:
            if step is SEND:
                outcome: Outcome
                try:
                    outcome = await send(request)
                except TransportError as exc:
                    outcome = exc
                step = steps.send(outcome)
            else:
                await sleep(step)
                step = steps.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def _log_attempt(request: Request, status: int, started: float, *, retried: bool) -> None:
    from urllib.parse import urlsplit

    path = urlsplit(request.url).path
    log.debug(
        "%s %s%s -> %d (%.1f ms)%s",
        request.method,
        path,
        _loggable_query(request.query),
        status,
        (time.perf_counter() - started) * 1000,
        " retry" if retried else "",
        extra={"method": request.method, "path": path, "status": status},
    )


def _loggable_query(query: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in query.items() if k in ("cv", "mark", "limit", "since", "data", "v")}
    return ("?" + "&".join(f"{k}={v}" for k, v in shown.items())) if shown else ""
