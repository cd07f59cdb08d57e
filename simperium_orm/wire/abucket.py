"""One Simperium bucket from asyncio: :class:`~simperium_orm.wire.bucket.Bucket`'s twin.

The async shell over :mod:`simperium_orm.wire.calls`: each method awaits the same call the sync
bucket sends, through an :class:`~simperium_orm.wire.atransport.AsyncTransport`, and parses the
answer with the same function. Get one from :meth:`Client.abucket <simperium_orm.Client.abucket>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from simperium_orm.errors import NotFound, RequestTimeout
from simperium_orm.wire.atransport import AsyncTransport
from simperium_orm.wire.calls import (
    NO_TIMEOUT_RESULT,
    BucketCalls,
    Call,
    Document,
    encode_changes,
    head_of,
    parse_index,
)

__all__ = ["AsyncBucket"]

JSONDict = dict[str, Any]
T = TypeVar("T")


class AsyncBucket(BucketCalls):
    """A bucket of one user's objects, awaited (the sync bucket's methods, ``a``-prefixed)."""

    def __init__(
        self, appname: str, auth_token: str, bucket: str, *, transport: AsyncTransport, **kw: Any
    ) -> None:
        super().__init__(appname, auth_token, bucket, **kw)
        self._transport = transport

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self._transport.request(
                call.method, call.url, headers=self._headers(), **call.options
            )
        except RequestTimeout:
            if call.on_timeout is NO_TIMEOUT_RESULT:
                raise
            return call.on_timeout  # type: ignore[no-any-return]
        return call.parse(response)

    async def aindex(
        self,
        data: bool = False,
        mark: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> JSONDict:
        return parse_index(await self.aindex_raw(data=data, mark=mark, limit=limit, since=since))

    async def aindex_raw(
        self,
        data: bool = False,
        mark: str | None = None,
        limit: int | None = None,
        since: str | None = None,
    ) -> bytes:
        return await self._run(self.index_call(data, mark, limit, since))

    async def aget(self, item: str, default: Any = None, version: int | None = None) -> Any:
        try:
            return (await self.afetch(item, version=version)).data
        except NotFound:
            return default

    async def afetch(self, item: str, version: int | None = None) -> Document:
        return await self._run(self.fetch_call(item, version))

    async def auser(self) -> str:
        return await self._run(self.user_call())

    async def awrite(
        self,
        item: str,
        data: Mapping[str, Any],
        *,
        version: int | None = None,
        replace: bool = False,
        ccid: str | None = None,
    ) -> Document:
        doc = await self._run(self.write_call(item, data, version, replace, ccid))
        return doc if doc is not None else await self.afetch(item)

    async def adelete(
        self, item: str, version: int | None = None, ccid: str | None = None
    ) -> str | None:
        return await self._run(self.delete_call(item, version, ccid))

    async def abulk_post(
        self,
        bulk_data: Mapping[str, Mapping[str, Any]] | Sequence[Mapping[str, Any]],
        wait: bool = True,
    ) -> list[JSONDict]:
        return await self.abulk_post_encoded(encode_changes(bulk_data), wait)

    async def abulk_post_encoded(self, body: bytes, wait: bool = True) -> list[JSONDict]:
        return await self._run(self.bulk_call(body, wait))

    async def achanges(
        self,
        cv: str | None = None,
        timeout: float | None = None,
        *,
        wait: bool = True,
        batch: int | None = None,
    ) -> list[JSONDict]:
        return await self._run(self.changes_call(cv, timeout, wait, batch))

    async def aall(
        self,
        cv: str | None = None,
        data: bool = False,
        username: bool = False,
        most_recent: bool = False,
        timeout: float | None = None,
        skip_clientids: Iterable[str] = (),
        batch: int | None = None,
        *,
        wait: bool = True,
    ) -> list[JSONDict]:
        call = self.all_call(cv, data, username, most_recent, timeout, skip_clientids, batch, wait)
        return await self._run(call)

    async def ahead(self) -> str | None:
        """The bucket's current cv (None for a bucket that never changed)."""
        return head_of(await self.aindex(limit=1))
