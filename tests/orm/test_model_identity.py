"""An object's id outside its schema: ``Model(id=...)``, ``create(id=...)`` and hashing."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator

import pytest
import responses
from pydantic import ConfigDict, Field

import simperium_orm as so
from simperium_orm.orm.model import Model
from simperium_orm.wire.transport import Transport

BASE = "https://api.identity.test"


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False


class Contact(Model, bucket="contacts"):
    """Stores a data key named "id": ``Contact(id=...)`` is that field."""

    name: str
    id_: str | None = Field(default=None, alias="id")


class Frozen(Model, bucket="frozen"):
    model_config = ConfigDict(frozen=True)
    title: str


def test_id_is_accepted_by_the_constructor_and_checked() -> None:
    todo = Todo(id="milk@home", title="milk")
    assert (todo.id, todo.version, todo.title) == ("milk@home", None, "milk")
    assert todo.model_dump() == {"title": "milk", "done": False}
    assert Todo(id=None, title="x").id is None
    with pytest.raises(so.InvalidIdentifier):
        Todo(id="no spaces", title="x")
    assert Frozen(id="f1", title="x").id == "f1"


def test_a_field_stored_as_id_takes_the_constructor_argument() -> None:
    contact = Contact(name="Ann", id="crm-42")
    assert (contact.id_, contact.id) == ("crm-42", None)


@pytest.fixture
def sent() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def test_create_with_an_id_posts_to_that_id(sent: responses.RequestsMock) -> None:
    client = so.Client("app", "0" * 32, api_url=BASE, transport=Transport(retries=0))
    sent.post(
        f"{BASE}/1/app/todo/i/milk",
        json={"title": "milk", "done": False},
        headers={"X-Simperium-Version": "1"},
    )
    todo = Todo.objects.using(client).create(id="milk", title="milk")
    assert (todo.id, todo.version) == ("milk", 1)
    assert len(sent.calls) == 1
    client.close()


def test_objects_with_an_id_hash_by_model_and_id() -> None:
    a = Todo.from_document("t1", 3, {"title": "milk"})
    b = Todo.from_document("t1", 4, {"title": "bread"})
    assert hash(a) == hash(b) == hash((Todo, "t1"))
    assert len({a, Todo.from_document("t1", 3, {"title": "milk"})}) == 1  # equal: one entry
    assert {a: 1}[Todo.from_document("t1", 3, {"title": "milk"})] == 1
    assert len({a, b}) == 2  # one id, different states: not equal, so both are kept
    assert hash(Contact.from_document("t1", 1, {"name": "x"})) != hash(a)  # another model
    chosen = Todo(id="mine", title="x")
    assert hash(chosen) == hash((Todo, "mine"))
    for twin in (copy.copy(a), copy.deepcopy(a), pickle.loads(pickle.dumps(a))):
        assert hash(twin) == hash(a)
    frozen = Frozen.from_document("f1", 1, {"title": "x"})
    assert hash(frozen) == hash((Frozen, "f1"))  # ours, not pydantic's frozen hash of fields


def test_objects_without_an_id_are_unhashable() -> None:
    todo = Todo(title="milk")
    with pytest.raises(TypeError, match=r"unhashable Todo object: it has no id until it is saved"):
        hash(todo)
    with pytest.raises(TypeError):
        {todo}  # noqa: B018
    todo.id = "now"
    assert todo in {todo}


def test_a_deleted_object_keeps_its_id_and_its_hash(sent: responses.RequestsMock) -> None:
    client = so.Client("app", "0" * 32, api_url=BASE, transport=Transport(retries=0))
    sent.delete(f"{BASE}/1/app/todo/i/t1", body="")
    todo = Todo.from_document("t1", 3, {"title": "milk"}, client=client)
    before = hash(todo)
    todos = {todo}
    todo.delete()
    assert todo.version is None and hash(todo) == before and todo in todos
    client.close()
