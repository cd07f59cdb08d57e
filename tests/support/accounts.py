"""A fresh user of a running local server, with a keep-alive session and URL helpers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from simperium_orm.testing import SimperiumServer

__all__ = ["Account", "make_account"]


@dataclass
class Account:
    """A fresh user of a running server, with a keep-alive session and URL helpers."""

    server: SimperiumServer
    username: str
    password: str
    token: str
    userid: str
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Simperium-Token": self.token}

    def url(self, bucket: str, *parts: str) -> str:
        return "/".join((self.server.url, "1", self.server.app_id, bucket, *parts))

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.request(method, url, headers=headers, timeout=30, **kwargs)

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)

    def put_object(self, bucket: str, item: str, data: dict[str, Any]) -> int:
        """POST ``data`` to ``item``; the new version."""
        response = self.post(self.url(bucket, "i", item), json=data)
        assert response.status_code == 200, response.text
        return int(response.headers["X-Simperium-Version"])


def make_account(server: SimperiumServer) -> Account:
    username = f"u-{uuid.uuid4().hex[:12]}@example.com"
    password = uuid.uuid4().hex
    info = server.create_account(username, password)
    return Account(server, username, password, info["access_token"], info["userid"])
