"""HTTP transport: one pooled keep-alive session, timeouts and retries.

This is the only module that imports ``requests``; every ``requests`` exception is turned into a
:class:`~simperium_orm.errors.TransportError` here, and every error status into the typed
exception chosen by :func:`~simperium_orm.errors.error_for_status`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from simperium_orm.errors import ProtocolError, RequestTimeout, TransportError, error_for_status

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.2  # seconds: the first retry waits up to this, each next one up to twice more
DEFAULT_MAX_BACKOFF = 5.0
CONNECT_TIMEOUT = 10.0

# Statuses worth another attempt: rate limiting and gateway/overload failures. A plain 500 is
# retried only when repeating the request is harmless (reads, or writes carrying a ccid).
_RETRY_ALWAYS = frozenset({429, 502, 503, 504})
_RETRY_IF_SAFE = frozenset({500})
_MAX_RETRY_AFTER = 30.0
_USER_AGENT = "simperium-orm/0.1"

#: One DEBUG line per HTTP attempt: method, path, query, status, time. Never headers or bodies,
#: which carry the tokens and keys.
log = logging.getLogger("simperium_orm.http")


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


class Transport:
    """A thread-safe HTTP client with connection pooling, timeouts and jittered retries.

    ``retries`` is how many extra attempts a failed request gets (connection errors, 429, 5xx).
    ``timeout`` is the per-attempt read timeout in seconds for ordinary calls; long-polls pass
    their own. ``sleep`` is injectable so tests can run the backoff without waiting.
    """

    def __init__(
        self,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        pool_size: int = 32,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive or None")
        if backoff < 0 or max_backoff < 0:
            raise ValueError("backoff and max_backoff must be >= 0 seconds")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._in_flight = _InFlight()
        # Requests go straight to the adapter (the pool), not through a requests.Session: the
        # session's per-request work (merging settings, reading the environment, cookie jars,
        # hooks, redirects) is nothing this client uses and cost about a third of a small call.
        self._adapter = _TrackingAdapter(
            self._in_flight, pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        self._headers = {**requests.utils.default_headers(), "User-Agent": _USER_AGENT}
        # Proxies and the CA bundle are read from the environment once per origin.
        self._environment = _Environment()
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"<Transport timeout={self.timeout} retries={self.retries}>"

    def close(self) -> None:
        """Close pooled connections; the transport is unusable afterwards."""
        self._closed.set()
        self._adapter.close()

    def abort(self) -> None:
        """Interrupt every request in flight (they raise :class:`TransportError`).

        Used to stop a long-poll at once instead of waiting for its timeout.
        """
        self._in_flight.shutdown_all()

    def request(
        self,
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
    ) -> Response:
        """Send one logical request, retrying as the policy allows; return or raise.

        ``safe_to_retry`` says whether repeating the request cannot apply it twice (reads, and
        writes that carry a ccid). Unsafe requests are retried only when the connection could
        not be made at all. ``retry_timeouts=False`` gives up at the first timeout (a quiet
        long-poll is an answer, not a failure). ``timeout="default"`` uses the transport's
        timeout; ``None`` waits for as long as the server holds the request (long-polls).
        ``json_text`` is a JSON body already encoded (see :func:`encode_json`).
        """
        read_timeout = self.timeout if timeout == "default" else timeout
        assert read_timeout is None or isinstance(read_timeout, (int, float))
        body: bytes | None = None
        send_headers = dict(headers or {})
        if json_body is not None:
            json_text = encode_json(json_body)
        if json_text is not None:
            body = json_text
            send_headers["Content-Type"] = "application/json"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        timeouts: tuple[float, float] | tuple[float, None] = (
            (CONNECT_TIMEOUT, None) if read_timeout is None else (CONNECT_TIMEOUT, read_timeout)
        )
        attempt = 0
        while True:
            retried = attempt > 0
            started = time.perf_counter()
            try:
                raw = self._adapter.send(
                    self._prepare(method, url, query, send_headers, body, form),
                    stream=True,
                    timeout=timeouts,
                    verify=self._environment.verify,
                    proxies=self._environment.proxies(url),
                )
                try:
                    # One read of the whole body: requests' own reads go 10 KB at a time,
                    # which costs more than parsing on a 1,000-object index page.
                    content = raw.raw.read(decode_content=True)
                finally:
                    raw.close()
                if not content and _cut_in_head(method, raw):
                    raise urllib3.exceptions.ProtocolError(
                        "connection closed inside the response head"
                    )
            except (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError):
                if attempt < self.retries and safe_to_retry and retry_timeouts:
                    self._backoff(attempt, None)
                    attempt += 1
                    continue
                raise RequestTimeout(f"{method} {_strip_query(url)}: timed out") from None
            except (
                requests.exceptions.ConnectionError,
                urllib3.exceptions.HTTPError,
                OSError,
            ) as exc:
                never_sent = _never_sent(exc)
                if attempt < self.retries and (safe_to_retry or never_sent):
                    self._backoff(attempt, None)
                    attempt += 1
                    continue
                raise TransportError(f"{method} {_strip_query(url)}: cannot connect") from None
            except requests.exceptions.RequestException as exc:
                raise TransportError(
                    f"{method} {_strip_query(url)}: {type(exc).__name__}"
                ) from None
            response = Response(
                status_code=raw.status_code,
                headers=dict(raw.headers),
                content=content,
                url=_strip_query(url),
                retried=retried,
            )
            status = response.status_code
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "%s %s%s -> %d (%.1f ms)%s",
                    method,
                    urlsplit(url).path,
                    _loggable_query(query),
                    status,
                    (time.perf_counter() - started) * 1000,
                    " retry" if retried else "",
                    extra={"method": method, "path": urlsplit(url).path, "status": status},
                )
            retryable = status in _RETRY_ALWAYS or (status in _RETRY_IF_SAFE and safe_to_retry)
            if retryable and attempt < self.retries:
                self._backoff(attempt, response.header("Retry-After"))
                attempt += 1
                continue
            if raise_for_status and status >= 400:
                raise error_for_status(status, error_message(response), response)
            return response

    def _prepare(
        self,
        method: str,
        url: str,
        query: Mapping[str, Any],
        headers: Mapping[str, str],
        body: bytes | None,
        form: Mapping[str, str] | None,
    ) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, query)
        prepared.prepare_headers({**self._headers, **headers})
        prepared.prepare_body(body if form is None else dict(form), None)
        return prepared

    def _backoff(self, attempt: int, retry_after: str | None) -> None:
        delay = random.uniform(0, min(self.max_backoff, self.backoff * (2**attempt)))
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), _MAX_RETRY_AFTER))
        self._sleep(delay)


class _Environment:
    """Proxy and CA-bundle settings from the environment, as ``requests`` reads them.

    Read when the transport is made (CA bundle) or first talks to an origin (proxies,
    honouring ``NO_PROXY``); later changes to the environment do not apply.
    """

    def __init__(self) -> None:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self.verify: bool | str = bundle or True
        self._by_origin: dict[str, dict[str, str]] = {}

    def proxies(self, url: str) -> dict[str, str]:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        found = self._by_origin.get(origin)
        if found is None:
            found = self._by_origin[origin] = requests.utils.get_environ_proxies(origin)
        return found


class _InFlight:
    """The connections currently checked out of the pool, so they can be shut down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: set[Any] = set()

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.add(conn)

    def discard(self, conn: Any) -> None:
        with self._lock:
            self._conns.discard(conn)

    def shutdown_all(self) -> None:
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _tracking_pool(base: type[HTTPConnectionPool], in_flight: _InFlight) -> type[Any]:
    class TrackingPool(base):  # type: ignore[valid-type,misc]
        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            in_flight.add(conn)
            return conn

        def _put_conn(self, conn: Any) -> None:
            in_flight.discard(conn)
            super()._put_conn(conn)

    return TrackingPool


class _TrackingAdapter(HTTPAdapter):
    """An adapter whose pools report checked-out connections to an :class:`_InFlight`."""

    def __init__(self, in_flight: _InFlight, **kwargs: Any) -> None:
        self._tracked = in_flight
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _tracking_pool(HTTPConnectionPool, self._tracked),
            "https": _tracking_pool(HTTPSConnectionPool, self._tracked),
        }


def _cut_in_head(method: str, raw: requests.Response) -> bool:
    """True when an empty HTTP/1.1 answer has no body framing: the connection closed in its head.

    ``http.client`` takes the end of the stream for the end of a head, so a head cut short
    parses as a whole response with no body, and without the ``Content-Length`` (or with part
    of it) or the ``Transfer-Encoding: chunked`` that framed responses carry: a lost answer to
    a request that may have been applied. Statuses that never have a body, HEAD requests and
    other HTTP versions are left alone.
    """
    status = raw.status_code
    if getattr(raw.raw, "version", 0) != 11 or method == "HEAD" or status in (204, 304):
        return False
    if status < 200 or raw.headers.get("Transfer-Encoding", "").strip().lower() == "chunked":
        return False
    return not raw.headers.get("Content-Length", "").strip().isdigit()


def _never_sent(exc: Exception) -> bool:
    """True when the failure happened before any byte of the request reached a server."""
    text = repr(exc)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "ConnectionRefused",
            "NameResolution",
            "ConnectTimeout",
        )
    )


def _loggable_query(query: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in query.items() if k in ("cv", "mark", "limit", "since", "data", "v")}
    return ("?" + "&".join(f"{k}={v}" for k, v in shown.items())) if shown else ""


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]
