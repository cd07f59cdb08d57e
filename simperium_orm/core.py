"""The seed-compatible Simperium client: ``Auth``, ``Api``, ``Bucket``, ``SPUser``, ``Admin``.

Used exactly as the official Python docs show::

    from simperium_orm.core import Auth, Api
    auth = Auth("appid", "apikey")
    token = auth.authorize("a@b.com", "pw")
    api = Api("appid", token)
    todo_id = api.todo.new({"title": "milk"})
    api.todo.get(todo_id)

Differences from the official client: failures raise typed errors from
:mod:`simperium_orm.errors` instead of returning ``None``; every ``Api`` shares one pooled
connection and one ``clientid`` across its buckets; retries reuse the change's ``ccid``.
"""

from __future__ import annotations

from typing import Any

from simperium_orm import protocol
from simperium_orm.errors import ProtocolError
from simperium_orm.protocol import check_app_id, new_clientid
from simperium_orm.wire.bucket import Bucket, Document
from simperium_orm.wire.transport import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Transport,
)

__all__ = ["Admin", "Api", "Auth", "Bucket", "Document", "SPUser"]


class Auth:
    """Creates and signs in users of one app (``auth.simperium.com``).

    ``api_key`` is sent as ``X-Simperium-API-Key``. :meth:`reset_password` and :meth:`delete`
    need a key with admin privileges.
    """

    def __init__(
        self,
        appname: str,
        api_key: str,
        host: str | None = None,
        scheme: str = "https",
        *,
        auth_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        transport: Transport | None = None,
    ) -> None:
        self.appname = check_app_id(appname)
        self._api_key = api_key
        self.auth_url = protocol.auth_url(auth_url, host=host, scheme=scheme)
        self._transport = transport or Transport(timeout=timeout, retries=retries)

    def __repr__(self) -> str:
        return f"<Auth app={self.appname!r} url={self.auth_url!r}>"

    def _post(self, endpoint: str, body: dict[str, str], *, safe: bool) -> dict[str, Any]:
        url = f"{self.auth_url}/1/{self.appname}/{endpoint}/"
        headers = {"X-Simperium-API-Key": self._api_key}
        response = self._transport.request(
            "POST", url, headers=headers, json_body=body, safe_to_retry=safe
        )
        result = response.json()
        if not isinstance(result, dict):
            raise ProtocolError(f"{endpoint} response is not a JSON object")
        return result

    def _token(self, endpoint: str, username: str, password: str, *, safe: bool) -> str:
        result = self._post(endpoint, {"username": username, "password": password}, safe=safe)
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProtocolError(f"{endpoint} response has no access_token")
        return token

    def create(self, username: str, password: str) -> str:
        """Create a user; returns its access token. :class:`Conflict` if it exists."""
        # Not retried once sent: a second create after an unseen success would answer 409.
        return self._token("create", username, password, safe=False)

    def authorize(self, username: str, password: str) -> str:
        """Sign a user in; returns a new access token. :class:`AuthError` on a bad password."""
        return self._token("authorize", username, password, safe=True)

    def update(
        self,
        username: str,
        password: str,
        new_username: str | None = None,
        new_password: str | None = None,
    ) -> None:
        """Change a user's username and/or password (needs the current password)."""
        body = {"username": username, "password": password}
        if new_username is not None:
            body["new_username"] = new_username
        if new_password is not None:
            body["new_password"] = new_password
        self._post("update", body, safe=True)

    def reset_password(self, username: str, new_password: str) -> None:
        """Set a user's password without the old one (admin key)."""
        self._post(
            "reset_password", {"username": username, "new_password": new_password}, safe=True
        )

    def delete(self, username: str) -> None:
        """Delete a user and all of its data (admin key)."""
        self._post("delete", {"username": username}, safe=True)


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
    ``userid`` acts as that user (``X-Simperium-User``).
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
        self.appname = check_app_id(appname)
        self.userid = userid
        self.clientid = clientid or new_clientid()
        self._token = auth_token
        self._host = host
        self._scheme = scheme
        self._api_url = api_url
        self._transport = transport or Transport(timeout=timeout, retries=retries)
        self._buckets: dict[str, Bucket] = {}

    def __repr__(self) -> str:
        user = f" userid={self.userid!r}" if self.userid else ""
        return f"<{type(self).__name__} app={self.appname!r}{user} clientid={self.clientid!r}>"

    def __getattr__(self, name: str) -> Bucket | SPUser:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Bucket | SPUser:
        if name.lower() == "spuser":
            return SPUser.of(self._bucket("spuser"))
        return self._bucket(name)

    def _bucket(self, name: str) -> Bucket:
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = Bucket(
                self.appname,
                self._token,
                name,
                userid=self.userid,
                host=self._host,
                scheme=self._scheme,
                clientid=self.clientid,
                api_url=self._api_url,
                transport=self._transport,
            )
            self._buckets[name] = bucket
        return bucket


class Admin(Api):
    """An app's admin key used as a token: every user's data, and ``as_user``."""

    def __init__(
        self,
        appname: str,
        admin_token: str,
        host: str | None = None,
        scheme: str = "https",
        clientid: str | None = None,
        *,
        api_url: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        transport: Transport | None = None,
    ) -> None:
        super().__init__(
            appname,
            admin_token,
            None,
            host,
            scheme,
            clientid,
            api_url=api_url,
            timeout=timeout,
            retries=retries,
            transport=transport,
        )

    def as_user(self, userid: str) -> Api:
        """The same admin key acting as ``userid`` (sharing this connection pool)."""
        return Api(
            self.appname,
            self._token,
            userid=userid,
            host=self._host,
            scheme=self._scheme,
            clientid=self.clientid,
            api_url=self._api_url,
            transport=self._transport,
        )
