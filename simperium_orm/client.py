"""``Client``: one app's credentials and connection pool; ``connect()`` sets the default."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from simperium_orm import protocol
from simperium_orm.errors import NotConnected
from simperium_orm.protocol import Credentials, check_app_id, new_clientid
from simperium_orm.wire.auth import Auth
from simperium_orm.wire.bucket import Bucket
from simperium_orm.wire.transport import (
    DEFAULT_BACKOFF,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    Transport,
)

if TYPE_CHECKING:
    from simperium_orm.wire.abucket import AsyncBucket
    from simperium_orm.wire.atransport import AsyncTransport

__all__ = ["Client", "connect", "default_client", "disconnect", "open_client"]


class Client:
    """Talks to one Simperium app as one user (or as admin), over one pooled session.

    ``token`` is a user's access token, or the app's admin key (then ``userid`` acts as that
    user). Left out, ``app_id`` and ``token`` come from ``SIMPERIUM_APP_ID`` and
    ``SIMPERIUM_TOKEN`` (by :func:`simperium_orm.protocol.credentials`, the CLI's rule too).
    ``api_url``/``auth_url`` default to the environment (``SIMPERIUM_API_URL``,
    ``SIMPERIUM_APIHOST``, ...) and then to Simperium's hosts. Safe to share across threads.
    Each client has its own ``clientid`` unless one is passed; the change listener uses it to
    tell this client's own writes from remote ones.
    """

    def __init__(
        self,
        app_id: str | None = None,
        token: str | None = None,
        *,
        api_url: str | None = None,
        auth_url: str | None = None,
        userid: str | None = None,
        clientid: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        transport: Transport | None = None,
    ) -> None:
        if app_id is None or token is None:
            found = protocol.credentials(app_id, token)
            problem = found.missing(sign_in=False)
            if problem and found.app_id:
                problem += " (or sign in with simperium_orm.connect(api_key=..., username=...))"
            if problem:
                raise NotConnected(problem)
            app_id, token = found.app_id, found.token
            assert app_id is not None and token is not None
        self.app_id = check_app_id(app_id)
        self._token = token
        self.api_url = protocol.api_url(api_url)
        self.auth_url = protocol.auth_url(auth_url, api=self.api_url)
        self.userid = userid
        self.clientid = clientid or new_clientid()
        self.transport = transport or Transport(
            timeout=timeout, retries=retries, backoff=backoff, max_backoff=max_backoff
        )
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()
        # The async pools, one per event loop (a pool cannot be shared between loops).
        self._atransports: dict[Any, AsyncTransport] = {}

    def __repr__(self) -> str:
        user = f" userid={self.userid!r}" if self.userid else ""
        return f"<Client app={self.app_id!r} url={self.api_url!r}{user} clientid={self.clientid!r}>"

    @property
    def timeout(self) -> float | None:
        return self.transport.timeout

    @property
    def retries(self) -> int:
        return self.transport.retries

    def bucket(self, name: str) -> Bucket:
        """The :class:`~simperium_orm.core.Bucket` called ``name`` (cached per client)."""
        key = name.lower()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = Bucket(**self._bucket_args(name), transport=self.transport)
                self._buckets[key] = bucket
            return bucket

    @property
    def atransport(self) -> AsyncTransport:
        """The async transport of the running event loop (made on first use in that loop),
        with this client's timeout and retry policy."""
        import asyncio

        from simperium_orm.wire.atransport import AsyncTransport

        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._atransports.get(loop)
            if found is None:
                for old in [k for k in self._atransports if k.is_closed()]:
                    self._atransports.pop(old).close()
                found = AsyncTransport(self.transport.policy, self.transport.timeout)
                self._atransports[loop] = found
            return found

    def abucket(self, name: str) -> AsyncBucket:
        """The :class:`~simperium_orm.wire.abucket.AsyncBucket` called ``name``, over the
        running event loop's pool."""
        from simperium_orm.wire.abucket import AsyncBucket

        return AsyncBucket(**self._bucket_args(name), transport=self.atransport)

    def _bucket_args(self, name: str) -> dict[str, Any]:
        """What a bucket of either kind is made of: this client's credentials and address."""
        return {
            "appname": self.app_id,
            "auth_token": self._token,
            "bucket": name,
            "userid": self.userid,
            "clientid": self.clientid,
            "api_url": self.api_url,
        }

    async def aclose(self) -> None:
        """Close the running event loop's pooled connections (the sync pool stays open)."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._atransports.pop(loop, None)
        if found is not None:
            await found.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def as_user(self, userid: str, *, clientid: str | None = None) -> Client:
        """The same credentials (an admin key) acting as ``userid``; shares the pool.

        It gets a clientid of its own unless one is passed.
        """
        return Client(
            self.app_id,
            self._token,
            api_url=self.api_url,
            auth_url=self.auth_url,
            userid=userid,
            clientid=clientid,
            transport=self.transport,
        )

    def with_transport(self, transport: Transport) -> Client:
        """The same credentials and clientid over another transport (its own pool)."""
        return Client(
            self.app_id,
            self._token,
            api_url=self.api_url,
            auth_url=self.auth_url,
            userid=self.userid,
            clientid=self.clientid,
            transport=transport,
        )

    def auth(self, api_key: str) -> Auth:
        """An :class:`~simperium_orm.Auth` for this app's auth host."""
        return Auth(self.app_id, api_key, auth_url=self.auth_url, transport=self.transport)

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_default: Client | None = None
_default_lock = threading.Lock()


def open_client(credentials: Credentials, **client_kwargs: Any) -> Client:
    """A :class:`Client` acting as ``credentials``: with their token, or with one got by
    signing in (``/authorize/``) on the client's own auth host.

    :class:`NotConnected` when they are incomplete (nothing is sent), :class:`AuthError` when
    the sign-in is refused. ``client_kwargs`` are :class:`Client`'s keyword arguments.
    """
    problem = credentials.missing()
    if problem:
        raise NotConnected(problem)
    app_id, api_key = credentials.app_id, credentials.api_key
    username, password = credentials.username, credentials.password
    if credentials.token:
        return Client(app_id, credentials.token, **client_kwargs)
    assert app_id and api_key and username and password
    # The hosts, pool and timeouts of the client itself; no bucket exists yet to hold a token.
    client = Client(app_id, "", **client_kwargs)
    try:
        client._token = client.auth(api_key).authorize(username, password)
    except BaseException:
        client.close()
        raise
    return client


def connect(
    client: Client | None = None,
    *,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    **client_kwargs: Any,
) -> Client:
    """Set the process-wide default client, and return it.

    Given no ``client``, one is built from :class:`Client`'s arguments and the environment
    by :func:`simperium_orm.protocol.credentials` (the CLI's rule): ``connect()`` alone reads
    ``SIMPERIUM_APP_ID`` and ``SIMPERIUM_TOKEN``, or signs in with ``SIMPERIUM_API_KEY``,
    ``SIMPERIUM_USERNAME`` and ``SIMPERIUM_PASSWORD`` (or these arguments).
    """
    global _default
    if client is None:
        found = protocol.credentials(
            client_kwargs.pop("app_id", None),
            client_kwargs.pop("token", None),
            api_key=api_key,
            username=username,
            password=password,
        )
        client = open_client(found, **client_kwargs)
    elif client_kwargs or api_key or username or password:
        raise TypeError("pass either a Client or Client arguments, not both")
    with _default_lock:
        _default = client
    return client


def default_client() -> Client:
    """The client set by :func:`connect`; :class:`NotConnected` when there is none."""
    client = _default
    if client is None:
        raise NotConnected(
            "no Simperium client: call simperium_orm.connect(app_id=..., token=...) (or set "
            "SIMPERIUM_APP_ID and SIMPERIUM_TOKEN and call simperium_orm.connect()), "
            "or pass one with Model.objects.using(client)"
        )
    return client


def disconnect() -> None:
    """Forget the default client (it is not closed)."""
    global _default
    with _default_lock:
        _default = None
