"""Another client's writes between the index requests of a walk, against the local server.

:func:`interleave` wraps one client's bucket so that ``after(n)`` runs once the n-th index
request (counting from 1) has been answered, before the caller gets the page: the writes land
exactly between two pages. With ``live=True`` it also sends only the position half of each
mark: the local server then lists the index as it is now instead of keeping the walk's version
(marks are ``position + version``), which is how a server without snapshots would page.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from simperium_orm.protocol import CV_PATTERN
from simperium_orm.wire.bucket import Bucket


def interleave(
    monkeypatch: pytest.MonkeyPatch,
    bucket: Bucket,
    after: Callable[[int], None] = lambda n: None,
    *,
    live: bool = False,
) -> list[dict[str, Any]]:
    """Wrap ``bucket.index_raw``; returns the list of requests made (their arguments)."""
    real = bucket.index_raw
    count = itertools.count(1)
    lock = threading.Lock()
    calls: list[dict[str, Any]] = []

    def index_raw(
        data: bool = False,
        mark: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> bytes:
        if live and mark is not None:
            assert CV_PATTERN.fullmatch(mark[:24]), mark
            mark = mark[:24]
        body = real(data=data, mark=mark, limit=limit, since=since)
        with lock:
            n = next(count)
            calls.append({"data": data, "mark": mark, "limit": limit, "since": since})
        after(n)
        return body

    monkeypatch.setattr(bucket, "index_raw", index_raw)
    return calls
