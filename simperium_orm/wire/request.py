"""What one HTTP request and its answer are, apart from any HTTP library (pure, no I/O).

A :class:`Request` is built once per logical call and sent by every attempt unchanged (a
write's ccid is in its body, so a retried write is recognised by the server); the
:class:`Response` is what the library keeps of an answer. Both the sync and an async sender
take and give these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simperium_orm.errors import ProtocolError

__all__ = ["CONNECT_TIMEOUT", "Request", "Response", "encode_json", "error_message"]

CONNECT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Request:
    """One request as every attempt sends it. ``timeout`` is the read timeout (None: wait
    as long as the server holds the request, as long-polls do)."""

    method: str
    url: str
    query: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    form: Mapping[str, str] | None = None
    timeout: float | None = None

    @property
    def public_url(self) -> str:
        """The URL without its query, as errors and logs show it."""
        return self.url.split("?", 1)[0]


def encode_json(value: Any) -> bytes:
    """A request body: compact JSON, UTF-8. ``ValueError`` for NaN and infinity (not JSON)."""
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        raise ValueError("NaN and infinity have no JSON form: nothing was sent") from None


@dataclass(frozen=True)
class Response:
    """What the library keeps of an HTTP response: status, headers and body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes
    url: str = ""
    #: True when an earlier attempt of the same write may have been applied already.
    retried: bool = False

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; :class:`ProtocolError` when it is not JSON."""
        try:
            return json.loads(self.content)
        except ValueError as exc:
            raise ProtocolError(f"expected JSON from {self.url}, got {self.text[:80]!r}") from exc

    def header(self, name: str) -> str | None:
        """A header's value, case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


def error_message(response: Response) -> str:
    """A short human message from an error response (JSON ``message`` or the text)."""
    text = response.text.strip()
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return text[:200] or "no details"
