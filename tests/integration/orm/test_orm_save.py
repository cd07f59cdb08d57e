"""Models against the local server over HTTP: save, merge, replace, refresh, delete."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, ValidationError

import simperium_orm as so
from simperium_orm.orm.model import Model
from simperium_orm.testing import SimperiumServer


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []
    meta: dict[str, Any] = {}


class Contact(Model, bucket="contacts"):
    name: str
    id_: str | None = Field(default=None, alias="id")


def test_create_get_round_trip(client: so.Client) -> None:
    t = Todo(title="milk", tags=["shop"])
    t.save()
    assert t.version == 1 and t.id
    got = Todo.objects.get(t.id)
    assert got == t
    assert client.bucket("todo").get(t.id) == {
        "title": "milk",
        "done": False,
        "tags": ["shop"],
        "meta": {},
    }


def test_create_shortcut_and_chosen_id(client: so.Client) -> None:
    t = Todo.objects.create(title="bread")
    assert Todo.objects.get(t.id or "").title == "bread"
    u = Todo(title="eggs")
    u.id = "eggs@home"
    u.save()
    assert Todo.objects.get("eggs@home").title == "eggs"


def test_save_sends_only_changes_and_bumps_the_version(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    t.done = True
    t.save()
    assert t.version == 2
    t.save()  # nothing changed: no new version
    assert Todo.objects.get(t.id or "").version == 2


def test_concurrent_edits_to_different_fields_both_survive(client: so.Client) -> None:
    t = Todo.objects.create(title="milk", tags=["a"])
    a = Todo.objects.get(t.id or "")
    b = Todo.objects.get(t.id or "")
    a.done = True
    a.save()
    b.tags.append("b")
    b.save()
    assert (b.done, b.tags, b.version) == (True, ["a", "b"], 3)
    final = Todo.objects.get(t.id or "")
    assert (final.done, final.tags, final.title) == (True, ["a", "b"], "milk")


def test_concurrent_edits_to_one_text_field_merge(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    a = Todo.objects.get(t.id or "")
    b = Todo.objects.get(t.id or "")
    a.title = "buy milk"
    a.save()
    b.title = "milk today"
    b.save()
    assert b.title == "buy milk today"
    assert Todo.objects.get(t.id or "").title == "buy milk today"


def test_concurrent_edits_to_different_keys_of_a_dict_field_merge(client: so.Client) -> None:
    t = Todo.objects.create(title="x", meta={"a": 1})
    a, b = Todo.objects.get(t.id or ""), Todo.objects.get(t.id or "")
    a.meta["b"] = 2
    a.save()
    b.meta["c"] = 3
    b.save()
    assert Todo.objects.get(t.id or "").meta == {"a": 1, "b": 2, "c": 3}


def test_two_clients_of_one_user_edit_the_same_object(
    local_server: SimperiumServer, client: so.Client
) -> None:
    token = client.bucket("todo").auth_token
    phone = local_server.client(token)
    t = Todo.objects.create(title="milk")
    on_phone = Todo.objects.using(phone).get(t.id or "")
    on_phone.done = True
    on_phone.save()
    t.tags = ["x"]
    t.save()
    assert (t.done, t.tags) == (True, ["x"])
    phone.close()


def test_unknown_keys_survive_saves(client: so.Client) -> None:
    raw = client.bucket("todo")
    item = raw.new({"title": "milk", "color": "red", "nested": {"a": [1]}})
    assert isinstance(item, str)
    t = Todo.objects.get(item)
    assert t.unknown_data == {"color": "red", "nested": {"a": [1]}}
    t.done = True
    t.save()
    t.save(replace=True)
    assert raw.get(item) == {
        "title": "milk",
        "done": True,
        "tags": [],
        "meta": {},
        "color": "red",
        "nested": {"a": [1]},
    }


def test_replace_overwrites_what_others_added(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    client.bucket("todo").set(t.id or "", {"added": 1, "title": "other"})
    t.save(replace=True)
    assert client.bucket("todo").get(t.id or "") == {
        "title": "milk",
        "done": False,
        "tags": [],
        "meta": {},
    }
    assert t.unknown_data == {}


def test_update_fields(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    t.title = "bread"
    t.done = True
    t.save(update_fields=["title"])
    stored = Todo.objects.get(t.id or "")
    assert (stored.title, stored.done) == ("bread", False)
    assert t.changed_fields() == {"done"}
    t.save()
    assert Todo.objects.get(t.id or "").done is True


def test_setting_an_optional_field_to_none_stores_null(local_server: SimperiumServer) -> None:
    class Note(Model, bucket="notes"):
        text: str | None = "x"

    client = local_server.client()
    n = Note.objects.using(client).create(text="hello")
    n.text = None
    n.save()
    assert client.bucket("notes").get(n.id or "") == {"text": None}
    client.close()


def test_aliased_id_key_is_stored_as_id(client: so.Client) -> None:
    c = Contact(name="Ann", id="crm-42")
    c.save()
    assert client.bucket("contacts").get(c.id or "") == {"name": "Ann", "id": "crm-42"}
    assert Contact.objects.get(c.id or "").id_ == "crm-42"


def test_refresh(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    client.bucket("todo").set(t.id or "", {"title": "bread"})
    t.done = True
    t.refresh()
    assert (t.title, t.done, t.version) == ("bread", False, 2)


def test_delete_and_does_not_exist(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    item = t.id or ""
    t.delete()
    assert t.version is None and t.id == item
    with pytest.raises(Todo.DoesNotExist):
        Todo.objects.get(item)
    with pytest.raises(so.DoesNotExist):
        Todo.objects.get(item)
    t.save()  # saving again creates it again under the same id
    assert Todo.objects.get(item).title == "milk"


def test_delete_of_an_object_deleted_elsewhere(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    client.bucket("todo").delete(t.id or "")
    with pytest.raises(Todo.DoesNotExist):
        t.delete()


def test_version_checked_delete(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    stale = Todo.objects.get(t.id or "")
    t.done = True
    t.save()
    with pytest.raises(so.PreconditionFailed):
        stale.delete(check_version=True)
    t.delete(check_version=True)
    assert not Todo.objects.exists()


def test_saving_an_object_deleted_elsewhere(client: so.Client) -> None:
    t = Todo.objects.create(title="milk")
    client.bucket("todo").delete(t.id or "")
    t.done = True
    with pytest.raises(Todo.DoesNotExist):
        t.save()


def test_server_data_that_does_not_fit_names_the_id(client: so.Client) -> None:
    item = client.bucket("todo").new({"title": ["not", "text"]})
    with pytest.raises(ValidationError, match=f"Todo \\(id '{item}'\\)"):
        Todo.objects.get(str(item))


def test_using_keeps_users_apart(local_server: SimperiumServer, client: so.Client) -> None:
    other = local_server.client()
    Todo.objects.create(title="mine")
    Todo.objects.using(other).create(title="theirs")
    assert [t.title for t in Todo.objects.all()] == ["mine"]
    assert [t.title for t in Todo.objects.using(other).all()] == ["theirs"]
    first = Todo.objects.using(other).first()
    assert first is not None
    theirs = Todo.objects.using(other).get(first.id or "")
    theirs.done = True
    theirs.save()  # goes back through the client it came from
    assert Todo.objects.using(other).filter(done=True).count() == 1
    other.close()


def test_create_with_an_id_and_hashing_by_id(client: so.Client) -> None:
    made = Todo.objects.create(id="milk@home", title="milk")
    same = Todo.objects.get("milk@home")
    assert (made.id, made.version, same.title) == ("milk@home", 1, "milk")
    assert len({made, same}) == 1 and {made: "x"}[same] == "x"
    built = Todo(id="bread@home", title="bread")
    built.save()
    assert client.bucket("todo").get("bread@home") == {
        "title": "bread",
        "done": False,
        "tags": [],
        "meta": {},
    }
