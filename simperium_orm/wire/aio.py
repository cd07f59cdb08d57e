"""One HTTP attempt from asyncio over aiohttp's connection pool: the only code importing aiohttp.

Chosen by measurement against httpx on this library's workload (bench/bench_async.py's
``http_stacks``): 1,000 small object GETs 16 at a time and 1,000-object index pages against the
local server. aiohttp is asyncio-only; the async API does not run under trio.

:class:`AsyncSender` is :class:`~simperium_orm.wire.http.Sender`'s twin: it sends a
:class:`Request` once and returns the :class:`Response`, or raises
:class:`~simperium_orm.errors.RequestTimeout` or :class:`~simperium_orm.errors.TransportError`
(``sent`` says whether a byte may have reached the server); no aiohttp exception leaves it.
Its pool belongs to the event loop that first used it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

from simperium_orm.errors import RequestTimeout, TransportError
from simperium_orm.wire.http import Environment
from simperium_orm.wire.request import CONNECT_TIMEOUT, Request, Response

__all__ = ["AsyncSender"]

_USER_AGENT = "simperium-orm/0.1"


class AsyncSender:
    """Sends single HTTP attempts over a pool of keep-alive connections (one event loop)."""

    def __init__(self, pool_size: int = 32) -> None:
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: set[asyncio.Task[Any]] = set()
        # The sync sender's reading of the environment: proxies per origin, NO_PROXY, CA bundle.
        self._environment = Environment()
        self._context: Any = None

    def _open(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size, enable_cleanup_closed=False)
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": _USER_AGENT},
                trust_env=False,  # proxies read once per origin (below), not per request
                auto_decompress=True,
            )
        return session

    async def send(self, request: Request) -> Response:
        """One attempt: the response whatever its status, or a typed error."""
        what = f"{request.method} {request.public_url}"
        proxy = self._environment.proxies(request.url).get(request.url.split(":", 1)[0])
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=CONNECT_TIMEOUT, sock_read=request.timeout
        )
        data: Any = request.body if request.form is None else dict(request.form)
        params = [
            (k, str(item))
            for k, v in request.query.items()
            for item in (v if isinstance(v, (list, tuple)) else [v])
        ]
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            async with self._open().request(
                request.method,
                request.url,
                params=params,
                headers=dict(request.headers),
                data=data,
                timeout=timeout,
                allow_redirects=False,
                proxy=proxy,
                ssl=self._ssl() if request.url.startswith("https:") else True,
            ) as raw:
                content = await raw.read()
                return Response(
                    status_code=raw.status,
                    headers=dict(raw.headers),
                    content=content,
                    url=request.public_url,
                )
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
            raise RequestTimeout(f"{what}: timed out") from None
        except aiohttp.ClientConnectorError:
            raise TransportError(f"{what}: cannot connect", sent=False) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{what}: {type(exc).__name__}") from None
        except asyncio.CancelledError:
            if task is not None and getattr(task, "_so_aborted", False):
                task._so_aborted = False  # type: ignore[attr-defined]
                if hasattr(task, "uncancel"):
                    task.uncancel()
                raise TransportError(f"{what}: aborted") from None
            raise
        finally:
            if task is not None:
                self._in_flight.discard(task)

    def _ssl(self) -> Any:
        """True (the default checks), or a context of the CA bundle the environment names,
        made once."""
        if self._context is None:
            verify = self._environment.verify
            if verify is True:
                self._context = True
            else:
                import ssl

                self._context = ssl.create_default_context(cafile=str(verify))
        return self._context

    def abort(self) -> None:
        """Interrupt every attempt in flight (each raises :class:`TransportError`)."""
        for task in list(self._in_flight):
            task._so_aborted = True  # type: ignore[attr-defined]
            task.cancel()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                await session.close()

    def close(self) -> None:
        """Drop the pool without awaiting (use :meth:`aclose` inside the loop)."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(Exception):
                connector = session.connector
                if connector is not None:
                    connector._close()  # sync close of the sockets
