"""Each error status the server gives reaches the user as its typed exception, over HTTP.

The real client (``so.Client``, ``Bucket``, ``Model``, ``Auth``) is driven into every 4xx the
local server produces; the exception's type and status are checked, and its message must be
clear (it says the status and why) and must not contain the token, API key or password.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer


class Note(so.Model, bucket="note"):
    text: str = ""


@pytest.fixture(scope="module")
def small_server() -> Iterator[SimperiumServer]:
    with SimperiumServer(max_object_size=1024, long_poll_timeout=1.0) as server:
        yield server


@pytest.fixture
def client(small_server: SimperiumServer) -> Iterator[so.Client]:
    with small_server.client(retries=0) as client:
        yield client


def assert_clean(exc: pytest.ExceptionInfo[so.HTTPError], status: int, *secrets: str) -> None:
    assert exc.value.status_code == status
    message = str(exc.value)
    assert message.startswith(f"{status}: ") and len(message) > len(f"{status}: ")
    for secret in secrets:
        assert secret not in message and secret not in repr(exc.value)


def test_400_bad_request(client: so.Client) -> None:
    bucket = client.bucket("note")
    with pytest.raises(so.BadRequest) as exc:
        bucket.index(mark="not-a-mark")
    assert_clean(exc, 400, client._token)
    with pytest.raises(so.BadRequest) as exc:
        bucket.index(since="yesterday")
    assert_clean(exc, 400, client._token)


def test_401_auth_error_for_a_wrong_token(small_server: SimperiumServer) -> None:
    token = uuid.uuid4().hex
    with small_server.client(token, retries=0) as client:
        for call in (
            lambda: client.bucket("note").index(),
            lambda: client.bucket("note").get("a"),
            lambda: Note(text="x").save(using=client),
            lambda: Note.objects.using(client).get("a"),
            lambda: client.bucket("note").changes(wait=False),
        ):
            with pytest.raises(so.AuthError) as exc:
                call()
            assert_clean(exc, 401, token)


def test_403_auth_error_for_a_user_token_on_all(client: so.Client) -> None:
    with pytest.raises(so.AuthError) as exc:
        client.bucket("note").all(wait=False)
    assert_clean(exc, 403, client._token)


def test_401_from_the_auth_host(small_server: SimperiumServer) -> None:
    name, password = f"c-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    small_server.create_user(name, password)
    auth = so.Auth(small_server.app_id, small_server.api_key, auth_url=small_server.url)
    with pytest.raises(so.AuthError) as exc:
        auth.authorize(name, "wrong-" + password)
    assert_clean(exc, 401, password, small_server.api_key)
    assert "invalid password" in str(exc.value)
    wrong_key = "key-" + uuid.uuid4().hex
    with pytest.raises(so.AuthError) as exc:
        so.Auth(small_server.app_id, wrong_key, auth_url=small_server.url).authorize(name, password)
    assert_clean(exc, 401, password, wrong_key)
    assert "invalid app credentials" in str(exc.value)


def test_404_not_found_and_does_not_exist(client: so.Client) -> None:
    bucket = client.bucket("note")
    with pytest.raises(so.NotFound) as exc:
        bucket.fetch("missing")
    assert_clean(exc, 404, client._token)
    assert bucket.get("missing") is None  # the documented default on 404
    with pytest.raises(Note.DoesNotExist) as missing:
        Note.objects.using(client).get("missing")
    assert isinstance(missing.value, so.DoesNotExist) and "'missing'" in str(missing.value)
    bucket.write("n1", {"text": "x"})
    with pytest.raises(so.NotFound) as exc:
        bucket.fetch("n1", version=99)
    assert_clean(exc, 404, client._token)
    with pytest.raises(so.NotFound) as exc:
        bucket.changes(cv="f" * 24, wait=False)
    assert_clean(exc, 404, client._token)


def test_409_conflict(client: so.Client, small_server: SimperiumServer) -> None:
    bucket = client.bucket("note")
    bucket.write("n1", {"text": "x"}, ccid="same-change")
    with pytest.raises(so.Conflict) as exc:
        bucket.write("n1", {"text": "y"}, ccid="same-change")
    assert_clean(exc, 409, client._token)
    assert bucket.get("n1") == {"text": "x"}
    name, password = f"c-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    auth = so.Auth(small_server.app_id, small_server.api_key, auth_url=small_server.url)
    auth.create(name, password)
    with pytest.raises(so.Conflict) as exc:
        auth.create(name, password)
    assert_clean(exc, 409, password, small_server.api_key)


def test_412_precondition_failed(client: so.Client) -> None:
    note = Note(text="a")
    note.save(using=client)
    client.bucket("note").write(note.id or "", {"text": "b"})  # someone else's edit
    with pytest.raises(so.PreconditionFailed) as exc:
        note.delete(check_version=True)
    assert_clean(exc, 412, client._token)
    assert note.version == 1 and client.bucket("note").get(note.id or "") == {"text": "b"}


def test_413_too_large_keeps_the_object(client: so.Client) -> None:
    note = Note(text="small")
    note.save(using=client)
    note.text = "x" * 2000
    with pytest.raises(so.TooLarge) as exc:
        note.save()
    assert_clean(exc, 413, client._token)
    assert note.version == 1 and note.text == "x" * 2000 and note.changed_fields() == {"text"}
    assert client.bucket("note").get(note.id or "") == {"text": "small"}
    with pytest.raises(so.TooLarge):
        Note(text="y" * 2000).save(using=client)


def test_a_bulk_write_reports_per_change_errors(client: so.Client) -> None:
    notes = [Note(text="ok"), Note(text="z" * 2000)]
    with pytest.raises(so.BulkError) as exc:
        Note.objects.using(client).bulk_save(notes)
    assert [code for _, code in exc.value.failed] == [413]
    assert notes[0].version == 1 and notes[1].version is None
