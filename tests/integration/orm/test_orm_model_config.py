"""The common ``model_config`` options through save, reload, scans and the listener.

Each option a model may set works end to end against the local server; the ones that would
store or read data wrongly are refused when the class is defined (tests/orm/test_model_config.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

import simperium_orm as so
from simperium_orm.orm.model import Model
from simperium_orm.testing import SimperiumServer


@pytest.fixture
def phone(local_server: SimperiumServer, client: so.Client) -> Iterator[so.Client]:
    """A second client of the same user (another device)."""
    other = local_server.client(client.bucket("todo").auth_token)
    yield other
    other.close()


def heard(listener: so.Listener) -> list[Any]:
    return [(e.kind, e.instance, set(e.changed_fields)) for e in listener.poll()]


# -- extra="allow": extra keys are stored keys, read back as attributes -------------------------


class Note(Model, bucket="notes"):
    model_config = ConfigDict(extra="allow")
    text: str
    done: bool = False


def test_extra_keys_are_saved_and_read_back_as_attributes(client: so.Client) -> None:
    note = Note(text="milk", color="red")
    note.save()
    note.text = "bread"  # every later save works too
    note.save()
    assert client.bucket("notes").get(note.id or "") == {
        "text": "bread",
        "done": False,
        "color": "red",
    }
    loaded = Note.objects.get(note.id or "")
    assert loaded.color == "red" and loaded.model_extra == {"color": "red"}  # type: ignore[attr-defined]
    assert loaded.unknown_data == {} and loaded == note
    assert [n.color for n in Note.objects.iterate()] == ["red"]  # type: ignore[attr-defined]
    assert note.model_dump() == {"text": "bread", "done": False, "color": "red"}


def test_an_extra_key_set_later_is_sent_alone_and_merges(
    client: so.Client, phone: so.Client
) -> None:
    note = Note.objects.create(text="milk")
    phone.bucket("notes").write(note.id or "", {"text": "milk!"})
    note.size = 3
    assert note.changed_fields() == {"size"}
    note.save()
    assert client.bucket("notes").get(note.id or "") == {"text": "milk!", "done": False, "size": 3}
    assert (note.text, note.size, note.version) == ("milk!", 3, 3)  # type: ignore[attr-defined]


def test_removing_an_extra_key_is_saved_and_keeps_concurrent_edits(
    client: so.Client, phone: so.Client
) -> None:
    note = Note.objects.create(text="milk", color="red", size=1)
    phone.bucket("notes").write(note.id or "", {"done": True, "mood": "ok"})
    del note.color
    assert note.changed_fields() == {"color"}
    note.save()
    stored = client.bucket("notes").get(note.id or "")
    assert stored == {"text": "milk", "done": True, "size": 1, "mood": "ok"}
    assert note.model_extra == {"size": 1, "mood": "ok"} and note.done is True
    copy = Note.objects.get(note.id or "")
    del copy.size
    Note.objects.bulk_save([copy])
    assert client.bucket("notes").get(note.id or "") == {"text": "milk", "done": True, "mood": "ok"}


def test_keys_that_would_hide_an_attribute_stay_aside(client: so.Client) -> None:
    """A stored key named like a method or property of the model is not made an attribute:
    it is kept aside and written back untouched."""
    raw = client.bucket("notes")
    raw.write("n1", {"text": "milk", "save": 1, "version": "v9", "mood": "ok"})
    note = Note.objects.get("n1")
    assert note.unknown_data == {"save": 1, "version": "v9"} and note.model_extra == {"mood": "ok"}
    assert note.version == 1 and callable(note.save)
    note.done = True
    note.save()
    note.save(replace=True)
    assert raw.get("n1") == {"text": "milk", "done": True, "save": 1, "version": "v9", "mood": "ok"}


def test_the_listener_gives_extra_keys_as_attributes(client: so.Client, phone: so.Client) -> None:
    listener = Note.objects.listen()
    phone.bucket("notes").write("n1", {"text": "milk", "mood": "ok"})
    [(created, note, _)] = heard(listener)
    phone.bucket("notes").write("n1", {"mood": "great"})
    [(updated, later, changed)] = heard(listener)
    assert (created, note.mood, updated, later.mood, changed) == (
        "created",
        "ok",
        "updated",
        "great",
        {"mood"},
    )


# -- extra="ignore" -------------------------------------------------------------------------------


class Lenient(Model, bucket="lenient"):
    model_config = ConfigDict(extra="ignore")
    title: str


def test_extra_ignore_drops_unknown_arguments_but_keeps_unknown_stored_keys(
    client: so.Client,
) -> None:
    item = Lenient(title="milk", typo=1)
    assert item.model_dump() == {"title": "milk"}
    item.save()
    raw = client.bucket("lenient")
    raw.write(item.id or "", {"color": "red"})
    for loaded in (Lenient.objects.get(item.id or ""), *Lenient.objects.iterate()):
        assert loaded.unknown_data == {"color": "red"}
        loaded.save(replace=True)
    assert raw.get(item.id or "") == {"title": "milk", "color": "red"}


# -- frozen ----------------------------------------------------------------------------------------


class Fixed(Model, bucket="fixed"):
    model_config = ConfigDict(frozen=True)
    title: str
    tags: list[str] = []


def test_frozen_models_save_reload_and_listen(client: so.Client, phone: so.Client) -> None:
    listener = Fixed.objects.listen()
    item = Fixed(id="f1", title="milk")
    item.save()
    with pytest.raises(ValidationError, match="frozen"):
        item.title = "bread"  # type: ignore[misc]
    phone.bucket("fixed").write("f1", {"title": "bread"})
    item.refresh()
    assert (item.title, item.version) == ("bread", 2)
    assert {item, Fixed.objects.get("f1")} == {item}  # hashed by id, like any saved object
    Fixed.objects.bulk_save([Fixed(id="f2", title="eggs")])
    phone.bucket("fixed").write("f3", {"title": "jam"})
    assert [(kind, obj.title) for kind, obj, _ in heard(listener)] == [
        ("updated", "bread"),
        ("created", "jam"),
    ]


# -- validate_assignment=False ---------------------------------------------------------------------


class Unchecked(Model, bucket="unchecked"):
    model_config = ConfigDict(validate_assignment=False)
    title: str
    count: int = 0


def test_without_validate_assignment_a_bad_value_is_refused_at_save(client: so.Client) -> None:
    item = Unchecked.objects.create(title="milk")
    item.count = "many"  # type: ignore[assignment]
    with pytest.raises(ValidationError, match="count"):
        item.save()
    assert client.bucket("unchecked").get(item.id or "") == {"title": "milk", "count": 0}
    item.count = 2
    item.save()
    assert Unchecked.objects.get(item.id or "").count == 2


# -- str_strip_whitespace --------------------------------------------------------------------------


class Stripped(Model, bucket="stripped"):
    model_config = ConfigDict(str_strip_whitespace=True)
    title: str
    done: bool = False


def test_stripped_strings_save_stripped_and_leave_stored_text_alone(
    client: so.Client, phone: so.Client
) -> None:
    item = Stripped.objects.create(title="  milk ")
    assert client.bucket("stripped").get(item.id or "") == {"title": "milk", "done": False}
    phone.bucket("stripped").write(item.id or "", {"title": " bread "})
    loaded = Stripped.objects.get(item.id or "")
    assert loaded.title == "bread" and loaded.changed_fields() == set()
    loaded.done = True
    loaded.save()  # the stored title is not rewritten: it was not changed here
    assert client.bucket("stripped").get(item.id or "") == {"title": " bread ", "done": True}


# -- aliases: populate_by_name and alias_generator -------------------------------------------------


class ByAlias(Model, bucket="byalias"):
    model_config = ConfigDict(populate_by_name=False)
    first_name: str = Field(alias="firstName")
    age: int = 0


class Camel(Model, bucket="camel"):
    model_config = ConfigDict(alias_generator=to_camel)
    first_name: str
    due_at: int = 0


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (ByAlias, lambda: ByAlias(firstName="ann")),  # type: ignore[call-arg]
        (Camel, lambda: Camel(first_name="ann")),
    ],
)
def test_aliased_fields_are_stored_under_their_alias(
    client: so.Client, phone: so.Client, model: type[Any], make: Any
) -> None:
    listener = model.objects.listen()
    bucket = model.bucket_name()
    item = make()
    item.save()
    item.first_name = "bea"  # assigned by field name whatever populate_by_name says
    item.save()
    stored = client.bucket(bucket).get(item.id or "")
    assert stored["firstName"] == "bea" and "first_name" not in stored
    assert model.objects.get(item.id or "").first_name == "bea"
    assert [o.first_name for o in model.objects.iterate()] == ["bea"]
    phone.bucket(bucket).write(item.id or "", {"firstName": "cy"})
    [(kind, obj, changed)] = heard(listener)
    assert (kind, obj.first_name, changed) == ("updated", "cy", {"first_name"})
