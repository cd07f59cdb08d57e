"""Request parsing and response helpers shared by the auth and data routes."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from simperium_orm.protocol import BUCKET_PATTERN

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off", ""})

log = logging.getLogger("simperium_orm.server")


class Problem(Exception):
    """An error answer: JSON ``{"error": status, "message": ...}`` unless told otherwise.

    ``plain`` answers the message as text (the auth host's style, which clients match on);
    ``body`` answers that JSON object as is. Messages never contain secrets.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        plain: bool = False,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.plain = plain
        self.body = body

    def response(self) -> Response:
        if self.plain:
            return Response(self.message, self.status, self.headers, "text/plain")
        body = (
            self.body if self.body is not None else {"error": self.status, "message": self.message}
        )
        return json_response(body, self.status, self.headers)


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def json_text(value: Any) -> str:
    return _ENCODER.encode(value)


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return raw_json(json_text(value), status, headers)


def raw_json(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A response whose body is already JSON text (stored objects are sent as stored)."""
    return Response(text.encode("utf-8"), status, dict(headers or {}), "application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole request body; 413 as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def flag(request: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter: 1/true/yes/on or 0/false/no/off (any case)."""
    value = request.query_params.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise Problem(400, f"{name} must be 1 or 0")


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter; 400 below ``low``, clamped to ``high``."""
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Problem(400, f"{name} must be an integer") from None
    if number < low:
        raise Problem(400, f"{name} must be at least {low}")
    return min(number, high)


def bucket_name(request: Request) -> str:
    """The bucket from the path, checked and lower-cased (bucket names ignore case)."""
    name = str(request.path_params["bucket"])
    if not BUCKET_PATTERN.fullmatch(name):
        raise Problem(400, "invalid bucket name: use 1-64 of a-z A-Z 0-9 . _ - % (not . or ..)")
    return name.lower()


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return exc.response()


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such endpoint", 405: "method not allowed"}
    message = messages.get(exc.status_code, str(exc.detail))
    return json_response(
        {"error": exc.status_code, "message": message}, exc.status_code, exc.headers
    )


async def on_disconnect(request: Request, exc: Exception) -> Response:
    return json_response({"error": 400, "message": "client went away"}, 400)


async def on_crash(request: Request, exc: Exception) -> Response:
    # Logged by type and place only: request data may carry credentials.
    log.error("internal error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return json_response({"error": 500, "message": "internal server error"}, 500)


EXCEPTION_HANDLERS = {
    Problem: on_problem,
    HTTPException: on_http_exception,
    ClientDisconnect: on_disconnect,
    Exception: on_crash,
}
