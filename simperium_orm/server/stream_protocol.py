"""Simperium's streaming protocol: reading client frames and writing server messages (pure).

Every message is one websocket text frame. Client to server::

    h:<n>                                   heartbeat (no channel)
    log:<json>                              a remote log line (no channel; ignored)
    <ch>:init:<json>                        open channel <ch> on a bucket with a token
    <ch>:i:<data>:<mark>:<unused>:<limit>   an index page
    <ch>:cv:<cv>                            the changes after a cv
    <ch>:e:<id>.<version>                   one kept version of an object
    <ch>:c:<json object or array>           changes
    <ch>:index:<json>                       a client's own state (ignored)

Server to client: ``h:<n+1>``, ``<ch>:auth:<username>`` or ``<ch>:auth:{"msg","code"}``,
``<ch>:i:{...}``, ``<ch>:c:[...]``, ``<ch>:cv:?``, ``<ch>:e:<id>.<version>\\n{"data":...}`` or
``...\\n?``. Channels are decimal numbers chosen by the client, one per bucket it opens.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from simperium_orm.protocol import BUCKET_PATTERN, ID_PATTERN, TOKEN_PATTERN
from simperium_orm.server.changes import TooDeep, decode

#: Server messages stay under this many bytes: node-simperium under Node.js drops the socket
#: on a frame of 1 MiB or more, and ASGI sends each message as one frame.
MESSAGE_BYTES = 1_000_000
#: Channels one socket may have open at once (Simplenote opens four).
MAX_CHANNELS = 100
#: The ``clientid`` of a change written without one (over HTTP): clients need a string.
NO_CLIENTID = "simperium-http"
#: Close codes (RFC 6455): a frame outside the protocol; a binary frame; a server fault.
CLOSE_PROTOCOL, CLOSE_BINARY, CLOSE_INTERNAL = 1002, 1003, 1011

_CHANNEL = re.compile(r"[0-9]{1,9}")
_VERSION = re.compile(r"[0-9]{1,18}")
_COMMANDS = frozenset({"init", "i", "cv", "e", "c", "index"})
_ENCODER = json.JSONEncoder(separators=(",", ":"))


class ProtocolError(Exception):
    """A frame outside the protocol: the socket is closed with ``code`` and ``reason``."""

    def __init__(self, reason: str, code: int = CLOSE_PROTOCOL) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Refused(Exception):
    """A request the protocol answers with an error ``code`` (an auth or change error)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Heartbeat:
    count: int | None  # None: not a number


@dataclass(frozen=True)
class Ignored:
    """A frame that needs no answer (a remote log line)."""


@dataclass(frozen=True)
class Command:
    channel: int
    name: str
    data: str


def _shown(text: str) -> str:
    """A short ASCII excerpt of client input for a close reason (at most 123 bytes)."""
    shown = ascii(text[:20])
    return shown if len(shown) <= 40 and len(text) <= 20 else shown[:37] + "..."


def parse_frame(text: str) -> Heartbeat | Ignored | Command:
    """What a text frame asks; :class:`ProtocolError` for anything else."""
    prefix, colon, rest = text.partition(":")
    if not colon:
        raise ProtocolError(f"not a Simperium message: {_shown(text)}")
    if prefix == "h":
        return Heartbeat(int(rest) if _VERSION.fullmatch(rest) else None)
    if prefix == "log":
        return Ignored()
    if not _CHANNEL.fullmatch(prefix):
        raise ProtocolError(f"not a channel number: {_shown(prefix)}")
    name, _, data = rest.partition(":")
    if name not in _COMMANDS:
        raise ProtocolError(f"unknown command {_shown(name)} on channel {int(prefix)}")
    return Command(int(prefix), name, data)


# -- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Init:
    """A channel's ``init``: who (token), which bucket, which client, and what to run next."""

    token: str
    bucket: str
    clientid: str
    app_id: str | None
    library: str | None
    cmd: str | None

    def __repr__(self) -> str:  # the token is a secret
        return f"Init(bucket={self.bucket!r}, clientid={self.clientid!r})"


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Refused(400, f"{name} must be a string")
    return value


def parse_init(data: str) -> Init:
    """The ``init`` body; :class:`Refused` with the code Simperium documents for each fault."""
    try:
        body = decode(data)
    except (ValueError, TooDeep):
        body = None
    if not isinstance(body, dict):
        raise Refused(400, "init must be a JSON object")
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise Refused(400, "malformed token")
    name = body.get("name")
    if not isinstance(name, str) or not BUCKET_PATTERN.fullmatch(name):
        raise Refused(500, "invalid bucket name: use 1-64 of a-z A-Z 0-9 . _ - % (not . or ..)")
    clientid = body.get("clientid", body.get("client_id"))
    if clientid is None:
        clientid = f"ws-{os.urandom(8).hex()}"
    if not isinstance(clientid, str) or not TOKEN_PATTERN.fullmatch(clientid):
        raise Refused(400, "invalid clientid: use 1-256 printable ASCII characters")
    return Init(
        token=token,
        bucket=name.lower(),
        clientid=clientid,
        app_id=_optional_text(body, "app_id"),
        library=_optional_text(body, "library"),
        cmd=_optional_text(body, "cmd"),
    )


@dataclass(frozen=True)
class IndexRequest:
    data: bool
    mark: str | None
    limit: int


def parse_index(data: str, default_limit: int, max_limit: int) -> IndexRequest:
    """``<data>:<mark>:<unused>:<limit>``; every client puts the mark in the second slot."""
    slots = [*data.split(":", 3), "", "", ""][:4]
    limit = int(slots[3]) if _VERSION.fullmatch(slots[3]) else default_limit
    mark = slots[1] or slots[2] or None
    return IndexRequest(slots[0] == "1", mark, max(1, min(limit, max_limit)))


def parse_entity(data: str) -> tuple[str, int] | None:
    """``<id>.<version>`` (the id may hold dots: the version follows the last one)."""
    item, dot, version = data.rpartition(".")
    if not dot or not ID_PATTERN.fullmatch(item) or not _VERSION.fullmatch(version):
        return None
    return (item, int(version)) if int(version) >= 1 else None


def parse_changes(data: str) -> list[Any]:
    """A ``c:`` body: one change object (what clients send) or an array of them."""
    try:
        body = decode(data)
    except TooDeep as exc:
        raise Refused(400, f"changes are {exc}") from None
    except ValueError:
        raise Refused(400, "changes are not valid JSON") from None
    if isinstance(body, dict):
        return [body]
    if isinstance(body, list):
        return body
    raise Refused(400, "changes must be a JSON object or array")


def prepare_change(entry: Any, library: str | None) -> Any:
    """A change as the writer takes it: iOS sends ``sv`` as a digit string.

    node-simperium 1.1.4 answers a 405 or 440 by re-sending the change with its *ghost*
    (``{"version", "data"}``) as ``d``; written as is, that wrapper would become the object.
    Such a ``d`` is dropped, and the change is then refused as empty (see the docs).
    """
    if not isinstance(entry, dict):
        return entry
    sv = entry.get("sv")
    if isinstance(sv, str) and _VERSION.fullmatch(sv):
        entry = {**entry, "sv": int(sv)}
    full = entry.get("d")
    if library == "node-simperium" and isinstance(full, dict) and _is_ghost(full):
        entry = {**entry, "d": None, "v": {}}
    return entry


def _is_ghost(full: dict[str, Any]) -> bool:
    return isinstance(full.get("data"), dict) and set(full) <= {"data", "key", "version"}


# -- replies --------------------------------------------------------------------------------


def heartbeat(count: int | None) -> str:
    return f"h:{(count or 0) + 1}"


def auth_ok(channel: int, username: str) -> str:
    """Success is the username: clients tell it from an error by it not being JSON."""
    return f"{channel}:auth:{username}"


def auth_error(channel: int, code: int, message: str) -> str:
    return f"{channel}:auth:{_ENCODER.encode({'msg': message, 'code': code})}"


def index_page(channel: int, text: str) -> str:
    return f"{channel}:i:{text}"


def unknown_cv(channel: int) -> str:
    return f"{channel}:cv:?"


def entity(channel: int, request: str, data: str | None) -> str:
    """The reply to ``e:<request>``: the version's data, or ``?`` when it is not kept."""
    body = "?" if data is None else f'{{"data":{data}}}'
    return f"{channel}:e:{request}\n{body}"


def refusal(clientid: str, code: int) -> dict[str, Any]:
    """A message refused whole (no change of it could be read): ``error`` is a number, as
    in the writer's refusals of single changes (node compares codes with ===)."""
    return {"id": None, "clientid": clientid, "ccids": [], "error": code}


def change_errors(channel: int, errors: list[dict[str, Any]]) -> str:
    """Refused changes, for their sender only."""
    return f"{channel}:c:{_ENCODER.encode(errors)}"


def encode_change(change: dict[str, Any]) -> str:
    """A change object as JSON, with a string ``clientid`` whoever wrote it."""
    if change.get("clientid") is None:
        change = {**change, "clientid": NO_CLIENTID}
    return _ENCODER.encode(change)


def change_messages(channel: int, changes: list[str], limit: int = MESSAGE_BYTES) -> Iterator[str]:
    """``<ch>:c:[...]`` messages of the encoded ``changes``, in order, each under ``limit``
    bytes where it can be (a single larger change goes alone); ``c:[]`` for none."""
    head = f"{channel}:c:["
    batch: list[str] = []
    size = len(head) + 1
    for change in changes:
        grown = size + len(change.encode()) + 1
        if batch and grown > limit:
            yield head + ",".join(batch) + "]"
            batch, grown = [], len(head) + 1 + len(change.encode()) + 1
        batch.append(change)
        size = grown
    if batch or not changes:
        yield head + ",".join(batch) + "]"
