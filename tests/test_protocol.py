"""The shared protocol rules: identifiers, strict JSON, new ids and base URLs."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

import simperium_orm as so
from simperium_orm import protocol


@pytest.mark.parametrize("good", ["a", "x" * 256, "a.b_c-d%20@e", "..."])
def test_ids_that_simperium_takes(good: str) -> None:
    assert protocol.check_id(good) == good


@pytest.mark.parametrize("bad", ["", ".", "..", "x" * 257, "a/b", "a b", "é", None, 5])
def test_ids_that_simperium_refuses_name_the_rule(bad: object) -> None:
    with pytest.raises(so.InvalidIdentifier, match="1-256 characters"):
        protocol.check_id(bad)  # type: ignore[arg-type]


def test_bucket_names_refuse_at_signs_and_dot_segments() -> None:
    assert protocol.check_bucket_name("todo.v2") == "todo.v2"
    for bad in ("a@b", ".", "..", "x" * 65):
        with pytest.raises(so.InvalidIdentifier, match="bucket name"):
            protocol.check_bucket_name(bad)


def test_new_ids_are_distinct_hex_and_valid() -> None:
    made = {protocol.new_id() for _ in range(1000)} | {protocol.new_ccid() for _ in range(1000)}
    assert len(made) == 2000
    for value in made:
        assert len(value) == 32 and int(value, 16) >= 0
        assert protocol.TOKEN_PATTERN.fullmatch(value) and protocol.ID_PATTERN.fullmatch(value)
    assert protocol.new_clientid().startswith("py-")


def test_zero_cv_is_a_cv() -> None:
    assert protocol.CV_PATTERN.fullmatch(protocol.ZERO_CV)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e999", "[1e400]"])
def test_strict_json_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(ValueError):
        protocol.loads(text)


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )
)
def test_strict_json_reads_what_json_writes(value: object) -> None:
    assert protocol.loads(json.dumps(value)) == value


def test_missing_is_one_falsy_marker_that_survives_pickling() -> None:
    assert not protocol.MISSING and repr(protocol.MISSING) == "MISSING"
    assert pickle.loads(pickle.dumps(protocol.MISSING)) is protocol.MISSING


def test_base_urls_argument_then_host_then_environment_then_default() -> None:
    env = {"SIMPERIUM_API_URL": "http://env:1", "SIMPERIUM_APIHOST": "host-env:2"}
    assert protocol.api_url("http://arg:3", host="h:4", environ=env) == "http://arg:3"
    assert protocol.api_url(host="h:4", scheme="http", environ=env) == "http://h:4"
    assert protocol.api_url(environ=env) == "http://env:1"
    assert protocol.api_url(environ={"SIMPERIUM_APIHOST": "bare:5"}) == "https://bare:5"
    assert protocol.api_url(environ={}) == protocol.DEFAULT_API_URL
    with pytest.raises(ValueError, match="not an http"):
        protocol.api_url("ftp://x", environ={})


def test_the_auth_host_follows_a_data_host_other_than_simperiums() -> None:
    assert protocol.auth_url(environ={}) == protocol.DEFAULT_AUTH_URL
    local = {"SIMPERIUM_API_URL": "http://127.0.0.1:8000/"}
    assert protocol.auth_url(environ=local) == "http://127.0.0.1:8000"
    assert protocol.auth_url(api="http://127.0.0.1:9", environ={}) == "http://127.0.0.1:9"
    both = {**local, "SIMPERIUM_AUTHHOST": "auth.example"}
    assert protocol.auth_url(environ=both) == "https://auth.example"


def test_client_and_official_auth_resolve_hosts_by_the_same_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIMPERIUM_API_URL", "http://127.0.0.1:8123")
    for name in ("SIMPERIUM_APIHOST", "SIMPERIUM_AUTH_URL", "SIMPERIUM_AUTHHOST"):
        monkeypatch.delenv(name, raising=False)
    assert so.Client("app", "t").auth_url == "http://127.0.0.1:8123"
    assert so.Auth("app", "k").auth_url == "http://127.0.0.1:8123"


# -- who a client acts as -----------------------------------------------------------------------

SIGN_IN_ENV = {
    "SIMPERIUM_API_KEY": "env-key",
    "SIMPERIUM_USERNAME": "env@example.com",
    "SIMPERIUM_PASSWORD": "env-pw",
}


def test_credentials_arguments_win_over_the_environment() -> None:
    env = {"SIMPERIUM_APP_ID": "env-app", "SIMPERIUM_TOKEN": "env-token", **SIGN_IN_ENV}
    found = protocol.credentials(environ=env)
    assert (found.app_id, found.token, found.signs_in) == ("env-app", "env-token", False)
    found = protocol.credentials("arg-app", "arg-token", environ=env)
    assert (found.app_id, found.token) == ("arg-app", "arg-token")
    assert found.api_key is None and found.password is None  # a token given: no sign-in


def test_credentials_a_token_beats_signing_in_from_the_same_place() -> None:
    both = protocol.credentials(
        "a", "tok", api_key="k", username="u", password="p", environ=SIGN_IN_ENV
    )
    assert (both.token, both.signs_in) == ("tok", False)
    from_env = protocol.credentials(environ={"SIMPERIUM_TOKEN": "env-token", **SIGN_IN_ENV})
    assert from_env.token == "env-token" and not from_env.signs_in


def test_credentials_sign_in_arguments_beat_a_token_from_the_environment() -> None:
    env = {"SIMPERIUM_TOKEN": "env-token", **SIGN_IN_ENV}
    found = protocol.credentials("a", username="arg@example.com", environ=env)
    assert found.token is None and found.signs_in
    assert (found.api_key, found.username, found.password) == (
        "env-key",
        "arg@example.com",
        "env-pw",
    )


def test_credentials_empty_values_count_as_unset() -> None:
    env = {"SIMPERIUM_APP_ID": "env-app", "SIMPERIUM_TOKEN": "env-token"}
    found = protocol.credentials("", "", environ=env)
    assert (found.app_id, found.token) == ("env-app", "env-token")
    assert protocol.credentials(environ={"SIMPERIUM_APP_ID": ""}).app_id is None


def test_credentials_say_what_is_missing_in_the_callers_words() -> None:
    assert protocol.credentials(environ={}).missing() == (
        "no app id: pass app_id= or set SIMPERIUM_APP_ID"
    )
    nothing = protocol.credentials("a", environ={})
    assert nothing.missing(lambda name: "--" + name.replace("_", "-")) == (
        "no credentials: pass --token or set SIMPERIUM_TOKEN, or pass --api-key, --username "
        "and --password (or set SIMPERIUM_API_KEY, SIMPERIUM_USERNAME and SIMPERIUM_PASSWORD) "
        "to sign in"
    )
    half = protocol.credentials("a", api_key="k", username="u", environ={})
    assert half.missing() is not None and not half.signs_in
    signs_in = protocol.credentials("a", environ=SIGN_IN_ENV)
    assert signs_in.missing() is None
    assert signs_in.missing(sign_in=False) == "no token: pass token= or set SIMPERIUM_TOKEN"
    assert protocol.credentials("a", "t", environ={}).missing(sign_in=False) is None


def test_credentials_repr_shows_no_secret() -> None:
    found = protocol.credentials("app", "tok-0123456789", environ=SIGN_IN_ENV)
    shown = repr(found) + repr(protocol.credentials("app", environ=SIGN_IN_ENV))
    assert "app" in shown and "env@example.com" in shown
    for secret in ("tok-0123456789", "env-key", "env-pw"):
        assert secret not in shown


@pytest.fixture
def no_simperium_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in vars(protocol.ENV).values():
        if isinstance(name, str) and name.startswith("SIMPERIUM_"):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_client_and_connect_read_the_app_id_and_token_from_the_environment(
    no_simperium_env: pytest.MonkeyPatch,
) -> None:
    no_simperium_env.setenv("SIMPERIUM_APP_ID", "env-app")
    no_simperium_env.setenv("SIMPERIUM_TOKEN", "env-token")
    with so.Client() as client:
        assert (client.app_id, client.bucket("todo").auth_token) == ("env-app", "env-token")
    with so.Client("arg-app", "arg-token") as client:
        assert (client.app_id, client.bucket("todo").auth_token) == ("arg-app", "arg-token")
    try:
        client = so.connect()
        assert so.default_client() is client
        assert (client.app_id, client.bucket("todo").auth_token) == ("env-app", "env-token")
        assert so.connect(token="arg-token").bucket("todo").auth_token == "arg-token"
    finally:
        so.disconnect()


def test_client_and_connect_without_credentials_say_what_to_set(
    no_simperium_env: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(so.NotConnected, match="no app id: pass app_id= or set SIMPERIUM_APP_ID"):
        so.Client()
    with pytest.raises(so.NotConnected, match="no app id"):
        so.connect()
    no_simperium_env.setenv("SIMPERIUM_APP_ID", "app")
    with pytest.raises(so.NotConnected, match="no token: pass token= or set SIMPERIUM_TOKEN"):
        so.Client()
    with pytest.raises(so.NotConnected, match="no credentials: pass token= or set SIMPERIUM_TOKEN"):
        so.connect(api_key="k")
    with pytest.raises(TypeError, match="not both"):
        so.connect(so.Client("a", "t"), username="u")
    with pytest.raises(so.NotConnected):
        so.default_client()
