"""Bad input to models, managers and buckets fails before any request is sent.

Every test runs under ``responses`` with a catch-all answer, so a request that slipped out
would be recorded (and would even "succeed"); each test asserts that none was. Wrong field
types are pydantic's ``ValidationError``, values JSON cannot store ``so.InvalidValue``, bad
ids and bucket names ``so.InvalidIdentifier``, bad filters ``so.InvalidLookup``; after a
refused save the object's fields, version and unsaved changes are as they were.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from pydantic import ValidationError

import simperium_orm as so
from simperium_orm.orm.model import Model
from simperium_orm.wire.transport import Transport

BASE = "https://api.bad-input.test"
BAD_IDS = ["", "x" * 257, "a b", "a/b", "..", ".", "é", "a?b", "a#b", "a\nb", "a\x00b"]
BAD_BUCKETS = ["", "x" * 65, "a/b", "..", ".", "a b", "todo@home", "tâche", "a?b"]


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []
    score: float = 0.0
    extra: dict[str, Any] = {}


@pytest.fixture
def sent() -> Iterator[responses.RequestsMock]:
    """Records every request; answers all of them so a stray one would pass unnoticed."""

    def answer(request: Any) -> tuple[int, dict[str, str], bytes]:
        body = request.body if request.method == "POST" and request.body else b"{}"
        return 200, {"X-Simperium-Version": "1"}, body  # a POST answers the object it sent

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "DELETE", "PUT"):
            mock.add_callback(method, re.compile(r".*"), callback=answer)
        yield mock


@pytest.fixture
def client(sent: responses.RequestsMock) -> Iterator[so.Client]:
    client = so.Client("app", "0" * 32, api_url=BASE, transport=Transport(retries=0))
    so.connect(client)
    yield client
    so.disconnect()
    client.close()


def saved_todo(**fields: Any) -> Todo:
    """A Todo as if loaded from the server at version 3."""
    data = {"title": "milk", **fields}
    return Todo.from_document("t1", 3, data)


def state_of(todo: Todo) -> tuple[Any, ...]:
    return (todo.id, todo.version, todo.model_dump(), todo.changed_fields())


# -- wrong field types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"title": 5},
        {"title": None},
        {"title": "x", "done": "maybe"},
        {"title": "x", "tags": "abc"},
        {"title": "x", "tags": [1]},
        {"title": "x", "score": "fast"},
        {"title": "x", "extra": []},
        {"title": "x", "unknown": 1},
        {},
    ],
)
def test_wrong_field_types_fail_at_construction(
    client: so.Client, sent: responses.RequestsMock, fields: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        Todo(**fields)
    with pytest.raises(ValidationError):
        Todo.objects.create(**fields)
    assert len(sent.calls) == 0


def test_a_wrong_assignment_leaves_a_saved_object_as_it_was(
    client: so.Client, sent: responses.RequestsMock
) -> None:
    todo = saved_todo(tags=["a"])
    todo.title = "bread"  # an unsaved change that must survive the refusals below
    before = state_of(todo)
    for name, value in [("done", "maybe"), ("tags", 7), ("title", None), ("score", "x")]:
        with pytest.raises(ValidationError):
            setattr(todo, name, value)
    assert state_of(todo) == before and todo.changed_fields() == {"title"}
    assert len(sent.calls) == 0


def test_a_wrong_in_place_edit_is_refused_at_save(
    client: so.Client, sent: responses.RequestsMock
) -> None:
    """``todo.tags.append(5)`` escapes validation; save() names the field and sends nothing."""
    for bad in (5, None, ["x"]):
        todo = saved_todo(tags=["a"])
        todo.tags.append(bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="tags"):
            todo.save()
        with pytest.raises(ValidationError, match="tags"):
            todo.changed_fields()
        assert todo.version == 3 and todo.tags == ["a", bad]
        new = Todo(title="x")
        new.tags.append(bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="tags"):
            new.save()
        with pytest.raises(ValidationError, match="tags"):
            Todo.objects.bulk_save([new])
        assert new.version is None
    assert len(sent.calls) == 0


# -- values JSON cannot carry -------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_float_fields_refuse_nan_and_infinity(
    client: so.Client, sent: responses.RequestsMock, value: float
) -> None:
    """JSON has no NaN or Infinity (the server refuses them): refused when set, not saved."""
    with pytest.raises(ValidationError, match="finite number"):
        Todo(title="x", score=value)
    todo = saved_todo()
    with pytest.raises(ValidationError, match="finite number"):
        todo.score = value
    assert todo.score == 0.0 and todo.changed_fields() == set()
    assert len(sent.calls) == 0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_in_an_untyped_value_is_refused_before_sending(
    client: so.Client, sent: responses.RequestsMock, value: float
) -> None:
    """Not quietly stored as null, nor sent: a typed error naming the field, no request."""
    todo = Todo(title="x", extra={"v": [value]})
    with pytest.raises(so.InvalidValue, match=r"Todo\.extra holds the float") as caught:
        todo.save()
    assert caught.value.field == "extra" and isinstance(caught.value, ValueError)
    with pytest.raises(so.InvalidValue, match=r"Todo\.extra"):
        Todo.objects.bulk_save([Todo(title="z"), Todo(title="y", extra={"v": value})], batch_size=1)
    with pytest.raises(ValueError, match="no JSON form"):
        client.bucket("todo").write("t1", {"v": value})
    assert todo.version is None
    assert len(sent.calls) == 0


class Loose(Model, bucket="loose"):
    title: str = ""
    anything: Any = None
    things: list[Any] = []
    raw: bytes = b""


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("anything", b"abc", "holds a bytes value"),
        ("anything", b"\xff\xfe", "holds a bytes value"),
        ("anything", bytearray(b"abc"), "holds a bytearray value"),
        ("things", [1, {"deep": [memoryview(b"x")]}], "holds a memoryview value"),
        ("anything", object(), "Unable to serialize unknown type"),
        ("things", [{"a": object()}], "Unable to serialize unknown type"),
    ],
)
def test_values_json_cannot_store_are_refused_naming_the_field(
    client: so.Client, sent: responses.RequestsMock, field: str, value: Any, says: str
) -> None:
    """Bytes or an arbitrary object in an untyped field: ``InvalidValue`` naming the field,
    before any request, by save, bulk_save and changed_fields alike; the object is unchanged."""
    new = Loose(**{field: value})
    with pytest.raises(so.InvalidValue, match=rf"Loose\.{field}\b.*{says}") as caught:
        new.save()
    assert caught.value.field == field
    assert new.version is None and getattr(new, field) == value
    with pytest.raises(so.InvalidValue, match=rf"Loose\.{field}"):  # found before batch 1
        Loose.objects.bulk_save([Loose(title="fine"), Loose(**{field: value})], batch_size=1)
    loaded = Loose.from_document("l1", 3, {"title": "x"}, client=client)
    setattr(loaded, field, value)
    with pytest.raises(so.InvalidValue, match=rf"Loose\.{field}"):
        loaded.save()
    with pytest.raises(so.InvalidValue, match=rf"Loose\.{field}"):
        loaded.changed_fields()
    assert loaded.version == 3 and getattr(loaded, field) == value
    assert len(sent.calls) == 0


def test_extra_keys_are_untyped_values_too(client: so.Client, sent: responses.RequestsMock) -> None:
    from pydantic import ConfigDict

    class Open(Model, bucket="open"):
        model_config = ConfigDict(extra="allow")
        title: str = ""

    with pytest.raises(so.InvalidValue, match=r"Open\.blob holds a bytes value") as caught:
        Open(blob=b"x").save()
    assert caught.value.field == "blob"
    with pytest.raises(so.InvalidValue, match=r"Open\.thing: Unable to serialize"):
        Open.objects.bulk_save([Open(), Open(thing=object())], batch_size=1)
    assert len(sent.calls) == 0


def test_a_declared_bytes_field_is_stored_as_text(
    client: so.Client, sent: responses.RequestsMock
) -> None:
    """Typed bytes are the user's choice: pydantic stores them as UTF-8 text and reads them
    back as bytes; bytes that are not UTF-8 are refused naming the field."""
    Loose(raw=b"hi").save()
    assert len(sent.calls) == 1
    with pytest.raises(so.InvalidValue, match=r"Loose\.raw") as caught:
        Loose(raw=b"\xff").save()
    assert caught.value.field == "raw" and len(sent.calls) == 1


def test_sets_and_datetimes_are_sent_in_their_json_form(
    client: so.Client, sent: responses.RequestsMock
) -> None:
    """What pydantic's JSON mode gives them: a list and ISO 8601 text."""
    import datetime
    import json

    when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    todo = Todo(title="x", tags={"a"}, extra={"s": {1}, "t": when})  # type: ignore[arg-type]
    todo.save()
    assert len(sent.calls) == 1
    body = json.loads(sent.calls[0].request.body or b"")
    assert body["tags"] == ["a"]
    assert body["extra"] == {"s": [1], "t": "2024-05-06T07:08:09Z"}


# -- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [*BAD_IDS, 5, None, b"abc"])
def test_bad_ids_are_refused_before_any_request(
    client: so.Client, sent: responses.RequestsMock, bad: Any
) -> None:
    todo = Todo(title="x")
    with pytest.raises(so.InvalidIdentifier):
        todo.id = bad
    assert todo.id is None and todo.version is None
    with pytest.raises(so.InvalidIdentifier):
        Todo.objects.get(bad)
    bucket = client.bucket("todo")
    for call in (
        lambda: bucket.get(bad),
        lambda: bucket.fetch(bad),
        lambda: bucket.post(bad, {"a": 1}),
        lambda: bucket.write(bad, {"a": 1}),
        lambda: bucket.delete(bad),
        lambda: bucket.bulk_post({bad: {"a": 1}}),
        lambda: bucket.bulk_post([{"id": bad, "o": "-"}]),
    ):
        with pytest.raises(so.InvalidIdentifier, match="invalid object id"):
            call()
    assert len(sent.calls) == 0


@pytest.mark.parametrize("version", [0, -1, True, 1.5, "2"])
def test_bad_versions_are_refused_before_any_request(
    client: so.Client, sent: responses.RequestsMock, version: Any
) -> None:
    bucket = client.bucket("todo")
    for call in (
        lambda: bucket.fetch("a", version=version),
        lambda: bucket.write("a", {"a": 1}, version=version),
        lambda: bucket.delete("a", version=version),
    ):
        with pytest.raises(ValueError, match="version must be a positive integer"):
            call()
    assert len(sent.calls) == 0


def test_bad_bodies_and_limits_are_refused_before_any_request(
    client: so.Client, sent: responses.RequestsMock
) -> None:
    bucket = client.bucket("todo")
    with pytest.raises(TypeError, match="mapping"):
        bucket.write("a", ["not", "a", "dict"])  # type: ignore[arg-type]
    for limit in (0, 1001, -5):
        with pytest.raises(ValueError, match="limit"):
            bucket.index(limit=limit)
    with pytest.raises(ValueError, match="limit"):
        Todo.objects.page(limit=0)
    with pytest.raises(ValueError, match="invalid page cursor"):
        Todo.objects.page(cursor="not-a-cursor")
    assert len(sent.calls) == 0


# -- buckets and app ids ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_BUCKETS)
def test_bad_bucket_names_are_refused(
    client: so.Client, sent: responses.RequestsMock, bad: str
) -> None:
    with pytest.raises(so.InvalidIdentifier, match="bucket"):
        client.bucket(bad)
    with pytest.raises(so.InvalidIdentifier, match="bucket"):
        type("Bad", (Model,), {"__annotations__": {"x": int}}, bucket=bad)
    assert len(sent.calls) == 0


def test_a_class_name_that_is_no_bucket_name_says_how_to_choose_one() -> None:
    with pytest.raises(so.InvalidIdentifier, match=re.escape('bucket="..."')):

        class Tâche(Model):  # the lower-cased class name is not a valid bucket name
            title: str


@pytest.mark.parametrize("bad", ["", "a/b", "my app", "x" * 65, "é"])
def test_bad_app_ids_are_refused(bad: str) -> None:
    with pytest.raises(so.InvalidIdentifier, match="app id"):
        so.Client(bad, "token", api_url=BASE)


# -- lookups ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Todo.objects.filter(nope=1),
        lambda: Todo.objects.filter(title__nope="x"),
        lambda: Todo.objects.filter(title__startswith=5),
        lambda: Todo.objects.filter(done__contains=True),
        lambda: Todo.objects.filter(done__icontains="x"),
        lambda: Todo.objects.filter(title__isnull="yes"),
        lambda: Todo.objects.filter(title__=1),
        lambda: Todo.objects.exclude(score__lt=None),
        lambda: Todo.objects.order_by("nope"),
        lambda: Todo.objects.order_by("-title__x"),
        lambda: Todo.objects.all().values("nope"),
    ],
)
def test_bad_lookups_are_refused_before_any_request(
    client: so.Client, sent: responses.RequestsMock, build: Any
) -> None:
    with pytest.raises(so.InvalidLookup):
        result = build()
        list(result)  # lazy querysets: evaluating them must not be what finds the error
    assert len(sent.calls) == 0
