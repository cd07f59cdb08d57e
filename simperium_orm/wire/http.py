"""One HTTP attempt over ``requests``' connection pool: the only code that imports ``requests``.

:class:`Sender` sends a :class:`~simperium_orm.wire.transport.Request` once and returns the
:class:`~simperium_orm.wire.transport.Response`, or raises a typed error for every way the
attempt can fail: :class:`~simperium_orm.errors.RequestTimeout`, or
:class:`~simperium_orm.errors.TransportError` whose ``sent`` says whether any byte may have
reached the server. Whether to try again is the transport's retry policy, not this module's.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from simperium_orm.errors import RequestTimeout, TransportError
from simperium_orm.wire.request import CONNECT_TIMEOUT, Request, Response

__all__ = ["Environment", "Sender"]

_USER_AGENT = "simperium-orm/0.1"


class Sender:
    """Sends single HTTP attempts over a pool of keep-alive connections (thread-safe)."""

    def __init__(self, pool_size: int = 32) -> None:
        self._in_flight = _InFlight()
        # Requests go straight to the adapter (the pool), not through a requests.Session: the
        # session's per-request work (merging settings, reading the environment, cookie jars,
        # hooks, redirects) is nothing this client uses and cost about a third of a small call.
        self._adapter = _TrackingAdapter(
            self._in_flight, pool_connections=4, pool_maxsize=pool_size, max_retries=0
        )
        self._headers = {**requests.utils.default_headers(), "User-Agent": _USER_AGENT}
        # Proxies and the CA bundle are read from the environment once per origin.
        self._environment = Environment()

    def send(self, request: Request) -> Response:
        """One attempt: the response whatever its status, or a typed error."""
        what = f"{request.method} {request.public_url}"
        timeouts: tuple[float, float] | tuple[float, None] = (
            (CONNECT_TIMEOUT, None)
            if request.timeout is None
            else (CONNECT_TIMEOUT, request.timeout)
        )
        try:
            raw = self._adapter.send(
                self._prepare(request),
                stream=True,
                timeout=timeouts,
                verify=self._environment.verify,
                proxies=self._environment.proxies(request.url),
            )
            try:
                # One read of the whole body: requests' own reads go 10 KB at a time,
                # which costs more than parsing on a 1,000-object index page.
                content = raw.raw.read(decode_content=True)
            finally:
                raw.close()
            if not content and _cut_in_head(request.method, raw):
                raise urllib3.exceptions.ProtocolError("connection closed inside the response head")
        except (requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError):
            raise RequestTimeout(f"{what}: timed out") from None
        except (requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TransportError(f"{what}: cannot connect", sent=not _never_sent(exc)) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(f"{what}: {type(exc).__name__}") from None
        return Response(
            status_code=raw.status_code,
            headers=dict(raw.headers),
            content=content,
            url=request.public_url,
        )

    def abort(self) -> None:
        """Interrupt every attempt in flight (each raises :class:`TransportError`)."""
        self._in_flight.shutdown_all()

    def close(self) -> None:
        self._adapter.close()

    def _prepare(self, request: Request) -> requests.PreparedRequest:
        prepared = requests.PreparedRequest()
        prepared.prepare_method(request.method)
        prepared.prepare_url(request.url, request.query)
        prepared.prepare_headers({**self._headers, **request.headers})
        body = request.body if request.form is None else dict(request.form)
        prepared.prepare_body(body, None)
        return prepared


class Environment:
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
