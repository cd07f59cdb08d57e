"""Reading a bucket's next index page while the caller works through the current one.

A scan is a chain: each page names the mark of the next. Read in turn, the client waits for the
server to build every page and the server waits for the client to validate every page. A
:class:`PageReader` breaks the chain where the page allows: the local server (and any server
that writes ``mark`` last) ends a page with ``,"mark":"..."}``, so the next mark is known from
the page's last bytes before the page is parsed, and the next request goes out at once, in a
background thread, while this page is validated. When a page does not end that way the next
one is read after it, as before.

The guess is checked: the caller passes the mark it parsed to :meth:`PageReader.take`, and a
page read ahead for any other mark is dropped.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from simperium_orm.orm.background import Background

__all__ = ["AsyncPageReader", "PageReader", "tail_mark"]

# The last member of the top-level object: a comma outside any string, then "mark" and a
# plain string value, then the closing brace. (A comma inside a string cannot be followed by
# an unescaped quote in valid JSON, so a match is always the page's own mark.)
_TAIL = re.compile(rb',\s*"mark"\s*:\s*"([^"\\]+)"\s*}\s*$')
_TAIL_BYTES = 512


def tail_mark(body: bytes) -> str | None:
    """The next page's mark when the page ends with it; None when it does not say there."""
    found = _TAIL.search(body, max(0, len(body) - _TAIL_BYTES))
    return found.group(1).decode("utf-8", "replace") if found else None


class PageReader:
    """Index pages from ``fetch(mark)``, reading one page ahead when the page allows.

    ``fetch(None)`` reads the first page. After handing out a page, the reader starts on the
    page its tail names; :meth:`take` returns that page when it is the one asked for. A page
    read ahead and never taken (the caller stopped early) is dropped.
    """

    def __init__(self, fetch: Callable[[str | None], bytes], *, ahead: bool = True) -> None:
        self._fetch = fetch
        self._ahead = ahead
        self._pending: tuple[str, Background[bytes]] | None = None

    def take(self, mark: str | None) -> bytes:
        """The page at ``mark`` (None: the first page); starts reading the one after it."""
        pending, self._pending = self._pending, None
        if pending is not None and mark is not None and pending[0] == mark:
            body = pending[1].result()
        else:
            body = self._fetch(mark)
        if self._ahead:
            following = tail_mark(body)
            if following is not None:
                fetch = self._fetch
                reading = Background(lambda: fetch(following), "simperium-orm-read-ahead")
                self._pending = (following, reading)
        return body

    def close(self) -> None:
        """Drop a page being read ahead (its thread ends on its own)."""
        self._pending = None


class AsyncPageReader:
    """:class:`PageReader` for asyncio: the page after this one is read by a task."""

    def __init__(
        self, fetch: Callable[[str | None], Awaitable[bytes]], *, ahead: bool = True
    ) -> None:
        self._fetch = fetch
        self._ahead = ahead
        self._pending: tuple[str, asyncio.Future[Any]] | None = None

    async def take(self, mark: str | None) -> bytes:
        """The page at ``mark`` (None: the first page); starts reading the one after it."""
        pending, self._pending = self._pending, None
        if pending is not None and mark is not None and pending[0] == mark:
            body: bytes = await pending[1]
        else:
            if pending is not None:
                pending[1].cancel()
            body = await self._fetch(mark)
        if self._ahead:
            following = tail_mark(body)
            if following is not None:
                self._pending = (following, asyncio.ensure_future(self._fetch(following)))
        return body

    def close(self) -> None:
        """Cancel a page being read ahead."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[1].cancel()
