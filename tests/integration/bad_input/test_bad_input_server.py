"""Every endpoint of the local server refuses bad input with the right 4xx, never a 5xx or a hang.

Random requests (hypothesis) go to every route: odd ids, bucket names, query values, bodies,
credentials and methods. Each must answer within ``HANG`` seconds with a status below 500;
every error is ``{"error": status, "message": ...}`` JSON, except where the real Simperium
answers otherwise and clients match on it: the auth host's plain-text errors (``missing api
key``, ``invalid app credentials``, ``invalid password``, ``user already exists``, ...) and
its ``{"field", "message"}`` JSON for a refused field, and uvicorn's plain-text 400 for a
request it cannot parse at all (it never reaches the app). Where the right status is known from
the request alone (a method the route lacks: 405; no or a garbage token: 401), it is checked.

Example counts stay small so the module runs in seconds; ``pytest -m slow`` runs more.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simperium_orm.testing import SimperiumServer

if TYPE_CHECKING:
    from conftest import Account

HANG = 10.0  # seconds: any answer slower than this is a hang (long-polls here last 1 s)
EXAMPLES = int(os.environ.get("BAD_INPUT_EXAMPLES", "250"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SLOW = settings(SETTINGS, max_examples=EXAMPLES * 10)

AUTH_ENDPOINTS = ["create", "authorize", "update", "reset_password", "delete"]
#: (path under /1/{app}/, methods the route serves); {b} bucket, {i} id, {u} user, {v} version.
ROUTES: list[tuple[str, frozenset[str]]] = [
    *((f"{name}{slash}", frozenset({"POST"})) for name in AUTH_ENDPOINTS for slash in ("/", "")),
    ("user", frozenset({"GET", "HEAD"})),
    ("{b}/index", frozenset({"GET", "HEAD"})),
    ("{b}/changes", frozenset({"GET", "HEAD", "POST"})),
    ("{b}/all", frozenset({"GET", "HEAD"})),
    ("{b}/i/{i}", frozenset({"GET", "HEAD", "POST", "DELETE"})),
    ("{b}/i/{i}/v/{v}", frozenset({"GET", "HEAD", "POST", "DELETE"})),
    ("{b}/i/{u}/{i}", frozenset({"GET", "HEAD", "POST", "DELETE"})),
    ("{b}/i/{u}/{i}/v/{v}", frozenset({"GET", "HEAD", "POST", "DELETE"})),
]
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]
QUERY_KEYS = [
    *("limit", "mark", "since", "cv", "data", "wait", "response", "replace", "ccid"),
    *("clientid", "batch", "most_recent", "username", "skip_clientid"),
]
#: Plain-text errors of the auth host (what clients match on).
AUTH_TEXTS = {
    "missing api key",
    "invalid app credentials",
    "invalid password",
    "user already exists",
    "this call needs the admin key",
    "user not found",
}
#: uvicorn's own answer to a request it cannot parse (control characters in a header, an
#: unreadable Content-Length): it never reaches the app, so it is not JSON.
HTTP_LAYER_400 = "Invalid HTTP request received."
ERROR_STATUSES = {400, 401, 403, 404, 405, 409, 412, 413}

ids = st.one_of(
    st.sampled_from(["a", "x", "..", ".", "%", "a%2Fb", "@", "a b", "é", "-" * 257, "x" * 256]),
    st.text(max_size=20),
)
buckets = st.one_of(
    st.sampled_from(["fuzz", "FUZZ", "..", ".", "b@d", "x" * 64, "x" * 65, "%41", "spuser"]),
    st.text(max_size=12),
)
versions = st.one_of(
    st.sampled_from(["1", "2", "0", "-1", "99", "1.5", "9" * 30, "x"]), st.text(max_size=5)
)
query_values = st.one_of(
    st.sampled_from(["0", "1", "true", "no", "", "-1", "1001", "9" * 5000, "0" * 24, "f" * 48]),
    st.text(max_size=30),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)
bodies = st.one_of(
    st.none(),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"NaN",
            b'{"a": NaN}',
            b'{"a": 1e999}',
            b"[" * 50_000,
            b'{"username": 5, "password": []}',
            b"username=a%40b.c&password=x",
            b'{"a": "\\udc00"}',
            b"\xff\xfe\x00",
        ]
    ),
)
tokens = st.sampled_from(["user", "other", "admin", "api_key", "missing", "empty", "garbage"])
content_types = st.sampled_from(
    [None, "application/json", "text/plain", "application/x-www-form-urlencoded", "x/\x7f"]
)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


def credential(kind: str, account: Account, other: Account) -> str | None:
    server = account.server
    return {
        "user": account.token,
        "other": other.token,
        "admin": server.admin_key,
        "api_key": server.api_key,
        "missing": None,
        "empty": "",
        "garbage": "0" * 32,
    }[kind]


def refused_by_http_layer(response: requests.Response) -> bool:
    """The HTTP parser's own plain-text 400, given before the app runs (a HEAD answer has no
    body to show it, only its plain-text content type)."""
    if response.status_code != 400:
        return False
    if response.request.method == "HEAD":
        return response.headers.get("content-type", "").startswith("text/plain")
    return response.text == HTTP_LAYER_400


def check_error(response: requests.Response, auth: bool) -> None:
    """An error answer: a known 4xx, as JSON ``{"error", "message"}`` or the auth host's forms."""
    status = response.status_code
    assert status in ERROR_STATUSES, (status, response.text[:200])
    if response.request.method == "HEAD":
        return
    if (status, response.text) == (400, HTTP_LAYER_400):
        return  # a header the HTTP layer cannot parse: refused before the app runs
    if auth and response.headers["content-type"].startswith("text/plain"):
        assert response.text in AUTH_TEXTS
        return
    assert response.headers["content-type"] == "application/json", response.text[:200]
    body = response.json()
    if auth and "field" in body:
        assert status == 400 and set(body) == {"field", "message"}
        return
    assert body == {"error": status, "message": body["message"]}
    assert isinstance(body["message"], str) and body["message"]


def fill(template: str, bucket: str, item: str, user: str, version: str) -> str:
    parts = {"b": bucket, "i": item, "u": user, "v": version}
    return template.format(**{k: quote(v, safe="") for k, v in parts.items()})


def send(
    http: requests.Session,
    method: str,
    url: str,
    *,
    params: dict[str, str],
    headers: dict[str, str],
    body: bytes | None,
) -> requests.Response:
    """One request; a hang (no answer within HANG seconds) fails the test."""
    try:
        return http.request(method, url, params=params, headers=headers, data=body, timeout=HANG)
    except requests.exceptions.Timeout:
        pytest.fail(f"{method} {url} {params} did not answer within {HANG} s")


def fuzz_any_route(
    account: Account,
    other: Account,
    http: requests.Session,
    route: int,
    method: str,
    bucket: str,
    item: str,
    version: str,
    query: dict[str, str],
    token: str,
    user: str,
    body: bytes | None,
    content_type: str | None,
) -> None:
    template, allowed = ROUTES[route]
    auth = not template.startswith(("{b}", "user"))
    path = fill(template, bucket, item, user or account.userid, version)
    url = f"{account.server.url}/1/{account.server.app_id}/{path}"
    headers: dict[str, str] = {}
    secret = credential(token, account, other)
    if secret is not None:
        headers["X-Simperium-API-Key" if auth else "X-Simperium-Token"] = secret
    if content_type is not None:
        headers["Content-Type"] = content_type
    if user and token == "admin" and user.strip() == user and "\r" not in user and "\n" not in user:
        # Any other value goes out as its raw UTF-8 bytes (requests refuses only these).
        headers["X-Simperium-User"] = user.encode().decode("latin-1")
    response = send(http, method, url, params=query, headers=headers, body=body)
    assert response.status_code < 500, (method, path, query, response.text[:200])
    if response.status_code >= 400:
        check_error(response, auth)
    if refused_by_http_layer(response):
        return
    simple = "/" not in bucket + item + user + version and "%" not in path
    # A dot segment ("." or "..") in any part of the path is folded away before routing.
    segments = path.split("/")
    routed = simple and all(part not in ("", ".", "..") for part in segments)
    if routed and method not in allowed:
        assert response.status_code == 405, (method, path, response.text[:200])
    elif routed and not auth and token in ("missing", "empty", "garbage", "api_key"):
        assert response.status_code == 401, (method, path, response.text[:200])


fuzz_arguments = {
    "route": st.integers(0, len(ROUTES) - 1),
    "method": st.sampled_from(METHODS),
    "bucket": buckets,
    "item": ids,
    "version": versions,
    "query": st.dictionaries(st.sampled_from(QUERY_KEYS), query_values, max_size=4).map(
        lambda q: {"wait": "0", **q}  # mostly no long-poll; a drawn "wait" may still ask
    ),
    "token": tokens,
    "user": st.one_of(st.just(""), ids),
    "body": bodies,
    "content_type": content_types,
}


@SETTINGS
@given(**fuzz_arguments)
def test_random_requests_to_every_route_answer_a_typed_4xx(
    account: Account, other_account: Account, http: requests.Session, **drawn: Any
) -> None:
    fuzz_any_route(account, other_account, http, **drawn)


@pytest.fixture
def asked_for_slow(request: pytest.FixtureRequest) -> None:
    """Skips unless the run selects slow tests (``pytest -m slow``)."""
    if "slow" not in str(request.config.getoption("markexpr", "")):
        pytest.skip("ten times the examples: run with -m slow")


@pytest.mark.slow
@pytest.mark.usefixtures("asked_for_slow")
@SLOW
@given(**fuzz_arguments)
def test_random_requests_to_every_route_answer_a_typed_4xx_at_length(
    account: Account, other_account: Account, http: requests.Session, **drawn: Any
) -> None:
    fuzz_any_route(account, other_account, http, **drawn)


# -- methods, route by route -------------------------------------------------------------------


def concrete(template: str, account: Account) -> str:
    return fill(template, "fuzz", "a", account.userid, "1")


@pytest.mark.parametrize("template, allowed", ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize("method", ["PUT", "PATCH", "OPTIONS", "HEAD", "GET", "DELETE"])
def test_each_route_answers_405_for_each_method_it_lacks(
    account: Account, template: str, allowed: frozenset[str], method: str
) -> None:
    """405 JSON for a method a route does not serve; HEAD is served wherever GET is."""
    url = f"{account.server.url}/1/{account.server.app_id}/{concrete(template, account)}"
    response = account.request(method, url, params={"wait": "0"})
    if method in allowed:
        assert response.status_code < 500
        return
    assert response.status_code == 405
    if method != "HEAD":
        assert response.json() == {"error": 405, "message": "method not allowed"}


@pytest.mark.parametrize(
    "path", ["", "fuzz", "fuzz/i", "fuzz/nothing", "fuzz/i/a/v/1/x", "buckets"]
)
def test_unknown_endpoints_answer_404_json(account: Account, path: str) -> None:
    url = f"{account.server.url}/1/{account.server.app_id}/{path}"
    response = account.get(url)
    assert response.status_code == 404
    assert response.json() == {"error": 404, "message": "no such endpoint"}


# -- bodies too large --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server() -> Iterator[SimperiumServer]:
    """Tight limits, so 'too large' takes kilobytes rather than megabytes."""
    with SimperiumServer(
        max_body_size=4096, max_object_size=1024, max_bulk_changes=5, long_poll_timeout=1.0
    ) as server:
        yield server


@pytest.fixture
def small(small_server: SimperiumServer, new_account: Any) -> Account:
    return new_account(small_server)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "path, body, message",
    [
        ("i/x", b'{"a":"' + b"x" * 5000 + b'"}', "request body is larger than 4096 bytes"),
        ("changes", b"[" + b"{}," * 2000 + b"{}]", "request body is larger than 4096 bytes"),
        ("i/x", b'{"a":"' + b"x" * 2000 + b'"}', "object is larger than 1024 bytes"),
        ("changes", json.dumps([{"id": str(n)} for n in range(6)]).encode(), "more than 5"),
    ],
)
def test_too_large_is_413_json_and_writes_nothing(
    small: Account, path: str, body: bytes, message: str
) -> None:
    url = small.url("big", *path.split("/"))
    response = small.post(url, data=body, params={"wait": "1"})
    assert response.status_code == 413
    assert response.json()["error"] == 413 and message in response.json()["message"]
    assert small.get(small.url("big", "index")).json()["index"] == []


def test_a_bulk_change_too_large_is_413_in_its_result(small: Account) -> None:
    changes = [
        {"id": "big", "o": "M", "d": {"a": "x" * 2000}},
        {"id": "ok", "o": "M", "d": {"a": 1}},
    ]
    body = json.dumps(changes).encode()
    assert len(body) < 4096
    response = small.post(small.url("big", "changes"), data=body, params={"wait": "1"})
    assert response.status_code == 200
    assert [r.get("error") for r in response.json()] == [413, None]


def test_an_auth_body_over_64_kib_is_413(local_server: SimperiumServer) -> None:
    url = f"{local_server.url}/1/{local_server.app_id}/authorize/"
    headers = {"X-Simperium-API-Key": local_server.api_key}
    response = requests.post(url, data=b"x" * 70_000, headers=headers, timeout=HANG)
    assert response.status_code == 413
    assert response.json() == {"error": 413, "message": "request body is larger than 65536 bytes"}


# -- bogus Content-Length, raw over a socket -----------------------------------------------------


def raw_exchange(server: SimperiumServer, head: str, body: bytes = b"") -> bytes:
    """Send bytes as they are, half-close, and read the whole answer (HANG bounds each read)."""
    host, port = server.url.rsplit("/", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=HANG) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pytest.fail(f"no answer within {HANG} s to {head.splitlines()[0]}")
    return b"".join(chunks)


def post_head(account: Account, length: str) -> str:
    path = f"/1/{account.server.app_id}/fuzz/i/x"
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nX-Simperium-Token: {account.token}\r\n"
        f"Content-Length: {length}"
    )


@pytest.mark.parametrize("length", ["abc", "-5", "1 2", "0x10"])
def test_an_unreadable_content_length_is_400_from_the_http_layer(
    account: Account, length: str
) -> None:
    """Refused by uvicorn before the app runs: 400 with its own plain-text body."""
    answer = raw_exchange(account.server, post_head(account, length), b"{}")
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert account.get(account.url("fuzz", "i", "x")).status_code == 404


def test_a_content_length_over_the_limit_is_413_before_the_body(account: Account) -> None:
    answer = raw_exchange(account.server, post_head(account, "99999999999"), b"{}")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"] == 413


def test_a_body_shorter_than_its_content_length_is_not_written(account: Account) -> None:
    """The client stops sending: the server gives up on the request instead of hanging."""
    answer = raw_exchange(account.server, post_head(account, "100"), b'{"a":1}')
    assert not answer or answer.startswith(b"HTTP/1.1 4")
    assert account.get(account.url("fuzz", "i", "x")).status_code == 404


# -- the auth host -----------------------------------------------------------------------------


@SETTINGS
@given(
    endpoint=st.sampled_from(AUTH_ENDPOINTS),
    fields=st.dictionaries(
        st.sampled_from(["username", "password", "new_username", "new_password", "client_id"]),
        st.one_of(json_values, st.sampled_from(["a@b.c", "not-an-email", "", "x" * 2000])),
        max_size=5,
    ),
    as_form=st.booleans(),
    key=st.sampled_from(["api_key", "admin", "missing", "garbage"]),
)
def test_random_auth_requests_answer_the_auth_hosts_errors(
    local_server: SimperiumServer,
    http: requests.Session,
    endpoint: str,
    fields: dict[str, Any],
    as_form: bool,
    key: str,
) -> None:
    """Never a 5xx; errors are the plain texts clients match on or ``{field, message}``."""
    url = f"{local_server.url}/1/{local_server.app_id}/{endpoint}/"
    headers = {}
    if key != "missing":
        headers["X-Simperium-API-Key"] = {
            "api_key": local_server.api_key,
            "admin": local_server.admin_key,
            "garbage": "nope",
        }[key]
    if as_form:
        body = "&".join(f"{quote(k)}={quote(str(v))}" for k, v in fields.items()).encode()
    else:
        body = json.dumps(fields).encode()
    response = send(http, "POST", url, params={}, headers=headers, body=body)
    assert response.status_code < 500, response.text[:200]
    if response.status_code >= 400:
        check_error(response, auth=True)
    if key == "garbage":
        assert (response.status_code, response.text) == (401, "invalid app credentials")
    if key == "missing" and "client_id" not in fields:
        assert (response.status_code, response.text) == (400, "missing api key")
