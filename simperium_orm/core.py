"""The seed-compatible Simperium client: ``Auth``, ``Api``, ``Bucket``, ``SPUser``, ``Admin``.

Used exactly as the official Python docs show::

    from simperium_orm.core import Auth, Api
    auth = Auth("appid", "apikey")
    token = auth.authorize("a@b.com", "pw")
    api = Api("appid", token)
    todo_id = api.todo.new({"title": "milk"})
    api.todo.get(todo_id)

Differences from the official client (Simperium3 0.1.5): failures raise typed errors from
:mod:`simperium_orm.errors` instead of raw ``requests`` errors; every ``Api`` is a skin over one
:class:`~simperium_orm.Client`, so its buckets share one pooled connection and one ``clientid``;
requests have timeouts, and retries reuse the change's ``ccid``.
"""

from __future__ import annotations

from typing import Any

from simperium_orm import protocol
from simperium_orm.client import Client
from simperium_orm.wire.auth import Auth
from simperium_orm.wire.bucket import Bucket, Document
from simperium_orm.wire.transport import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Transport,
)

__all__ = ["Admin", "Api", "Auth", "Bucket", "Document", "SPUser"]


class SPUser:
    """The per-user profile object, stored at ``spuser/i/info``."""

    def __init__(
        self,
        appname: str,
        auth_token: str,
        host: str | None = None,
        scheme: str = "https",
        clientid: str | None = None,
        *,
        userid: str | None = None,
        api_url: str | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.bucket = Bucket(
            appname,
            auth_token,
            "spuser",
            userid=userid,
            host=host,
            scheme=scheme,
            clientid=clientid,
            api_url=api_url,
            transport=transport,
        )

    @classmethod
    def of(cls, bucket: Bucket) -> SPUser:
        """The profile object of an existing ``spuser`` bucket (sharing its connection)."""
        user = cls.__new__(cls)
        user.bucket = bucket
        return user

    def __repr__(self) -> str:
        return f"<SPUser app={self.bucket.appname!r}>"

    def get(self) -> Any:
        """The profile data (``None`` when never written)."""
        return self.bucket.get("info")

    def post(self, data: dict[str, Any]) -> str | tuple[str, dict[str, Any]]:
        """Merge ``data`` into the profile."""
        return self.bucket.post("info", data)


class Api:
    """One user's buckets: ``api.todo`` and ``api["todo"]`` are :class:`Bucket` objects.

    ``api.spuser`` is the user's profile (:class:`SPUser`). With an admin key as the token,
    ``userid`` acts as that user (``X-Simperium-User``). A skin over a
    :class:`~simperium_orm.Client`, which holds the credentials, the pool and the buckets.
    """

    def __init__(
        self,
        appname: str,
        auth_token: str,
        userid: str | None = None,
        host: str | None = None,
        scheme: str = "https",
        clientid: str | None = None,
        *,
        api_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        transport: Transport | None = None,
    ) -> None:
        self.client = Client(
            appname,
            auth_token,
            api_url=protocol.api_url(api_url, host=host, scheme=scheme),
            userid=userid,
            clientid=clientid,
            timeout=timeout,
            retries=retries,
            transport=transport,
        )

    @property
    def appname(self) -> str:
        return self.client.app_id

    @property
    def userid(self) -> str | None:
        return self.client.userid

    @property
    def clientid(self) -> str:
        return self.client.clientid

    def __repr__(self) -> str:
        user = f" userid={self.userid!r}" if self.userid else ""
        return f"<{type(self).__name__} app={self.appname!r}{user} clientid={self.clientid!r}>"

    def __getattr__(self, name: str) -> Bucket | SPUser:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Bucket | SPUser:
        if name.lower() == "spuser":
            return SPUser.of(self.client.bucket("spuser"))
        return self.client.bucket(name)


class Admin(Api):
    """An app's admin key used as a token: every user's data, and ``as_user``."""

    def __init__(
        self,
        appname: str,
        admin_token: str,
        host: str | None = None,
        scheme: str = "https",
        clientid: str | None = None,
        **options: Any,
    ) -> None:
        """``options``: ``api_url``, ``timeout``, ``retries`` and ``transport``, as for Api."""
        super().__init__(appname, admin_token, None, host, scheme, clientid, **options)

    def as_user(self, userid: str) -> Api:
        """The same admin key acting as ``userid`` (sharing this connection pool and clientid)."""
        api = Api.__new__(Api)
        api.client = self.client.as_user(userid, clientid=self.clientid)
        return api
