"""The auth host: ``create/``, ``authorize/``, ``update/``, ``reset_password/``, ``delete/``.

Accepts a JSON body with the ``X-Simperium-API-Key`` header (the documented form) and the
legacy form body carrying the key as ``client_id`` (the original Python and Ruby clients), or
form body plus header. Errors answer plain text where clients match on it (``invalid
password``, ``missing api key``, ``invalid app credentials``) and ``{"field", "message"}`` JSON
for a refused field.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simperium_orm.server import auth
from simperium_orm.server.http import Problem, json_response, read_body
from simperium_orm.server.state import State
from simperium_orm.server.store import User

_MAX_AUTH_BODY = 64 * 1024
_SUCCESS = {"status": "success"}


def _field_error(field: str, message: str) -> Problem:
    return Problem(400, message, body={"field": field, "message": message})


def _parse(raw: bytes) -> dict[str, Any]:
    """A JSON object or a urlencoded form (first value of each field), whatever the type says."""
    text = raw.decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise _field_error("body", "request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise _field_error("body", "request body must be a JSON object")
        return value
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _required(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise _field_error(name, f"{name} is required")
    return value


class AuthRoutes:
    def __init__(self, state: State) -> None:
        self.state = state
        self.store = state.store
        self.config = state.config
        # Checked against when the username is unknown, so both failures take as long.
        self._dummy_hash = auth.hash_password(auth.new_token(), self.config.password_cost)

    async def _request(self, request: Request, *, admin: bool) -> dict[str, Any]:
        """Check the app and key, and parse the body."""
        raw = await read_body(request, _MAX_AUTH_BODY)
        fields = _parse(raw)
        key = request.headers.get("x-simperium-api-key") or fields.get("client_id")
        if not isinstance(key, str) or not key:
            raise Problem(400, "missing api key", plain=True)
        kind = self.state.keys.app_key(key)
        if kind is None or not self.state.is_app(request):
            raise Problem(401, "invalid app credentials", plain=True)
        if admin and kind != "admin":
            raise Problem(403, "this call needs the admin key", plain=True)
        return fields

    def _hash(self, password: str) -> Awaitable[str]:
        return run_in_threadpool(auth.hash_password, password, self.config.password_cost)

    async def _verify(self, fields: dict[str, Any]) -> User:
        """The user named by ``username`` if ``password`` is right; 401 otherwise."""
        username = _required(fields, "username")
        password = _required(fields, "password")
        user = self.store.user_by_name(username)
        stored = user.password if user else self._dummy_hash
        ok = await run_in_threadpool(auth.check_password, password, stored)
        user = self.store.user_by_name(username)  # may have changed while hashing
        if user is None or not ok:
            raise Problem(401, "invalid password", plain=True)
        return user

    def _issue(self, user: User) -> Response:
        with self.store.transaction():
            token = self.state.keys.issue_token(user)
        body = {"username": user.username, "access_token": token, "userid": user.userid}
        return json_response(body)

    async def create(self, request: Request) -> Response:
        fields = await self._request(request, admin=False)
        username, password = fields.get("username"), fields.get("password")
        problem = auth.username_problem(username)
        if problem:
            raise _field_error("username", problem)
        problem = auth.password_problem(password)
        if problem:
            raise _field_error("password", problem)
        assert isinstance(username, str) and isinstance(password, str)
        if self.store.user_by_name(username) is not None:
            raise Problem(409, "user already exists", plain=True)
        hashed = await self._hash(password)
        user = User(auth.new_userid(), username, hashed)
        with self.store.transaction():
            if not self.store.add_user(user.userid, user.username, user.password):
                raise Problem(409, "user already exists", plain=True)
        return self._issue(user)

    async def authorize(self, request: Request) -> Response:
        fields = await self._request(request, admin=False)
        return self._issue(await self._verify(fields))

    async def update(self, request: Request) -> Response:
        fields = await self._request(request, admin=False)
        user = await self._verify(fields)
        new_username, new_password = fields.get("new_username"), fields.get("new_password")
        if new_username is not None:
            problem = auth.username_problem(new_username)
            if problem:
                raise _field_error("new_username", problem)
        if new_password is not None:
            problem = auth.password_problem(new_password, "new_password")
            if problem:
                raise _field_error("new_password", problem)
            assert isinstance(new_password, str)
        hashed = await self._hash(new_password) if new_password else user.password
        name = new_username if isinstance(new_username, str) else user.username
        with self.store.transaction():
            if not self.store.update_user(user.userid, username=name, password=hashed):
                raise Problem(409, "user already exists", plain=True)
        return json_response(_SUCCESS)

    async def reset_password(self, request: Request) -> Response:
        fields = await self._request(request, admin=True)
        user = self._user(fields)
        new_password = fields.get("new_password", fields.get("password"))
        problem = auth.password_problem(new_password, "new_password")
        if problem:
            raise _field_error("new_password", problem)
        assert isinstance(new_password, str)
        hashed = await self._hash(new_password)
        with self.store.transaction():
            self.store.update_user(user.userid, username=user.username, password=hashed)
        return json_response(_SUCCESS)

    async def delete(self, request: Request) -> Response:
        fields = await self._request(request, admin=True)
        user = self._user(fields)
        with self.store.transaction():
            self.store.delete_user(user.userid)
        return json_response(_SUCCESS)

    def _user(self, fields: dict[str, Any]) -> User:
        user = self.store.user_by_name(_required(fields, "username"))
        if user is None:
            raise Problem(404, "user not found", plain=True)
        return user

    def routes(self) -> list[Route]:
        endpoints: dict[str, Callable[[Request], Awaitable[Response]]] = {
            "create": self.create,
            "authorize": self.authorize,
            "update": self.update,
            "reset_password": self.reset_password,
            "delete": self.delete,
        }
        return [
            Route(f"/1/{{app}}/{name}{slash}", endpoint, methods=["POST"])
            for name, endpoint in endpoints.items()
            for slash in ("/", "")
        ]
