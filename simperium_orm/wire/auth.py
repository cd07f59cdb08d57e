"""The auth host over HTTP: create, sign in, update, reset and delete an app's users."""

from __future__ import annotations

from typing import Any

from simperium_orm import protocol
from simperium_orm.errors import ProtocolError
from simperium_orm.protocol import check_app_id
from simperium_orm.wire.transport import DEFAULT_RETRIES, DEFAULT_TIMEOUT, Transport

__all__ = ["Auth"]


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
