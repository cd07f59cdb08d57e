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
