"""Model classes without a server: class creation, identity, unknown keys, dirty tracking."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import pytest
from pydantic import BaseModel, Field, ValidationError

import simperium_orm as so
from simperium_orm.orm.model import Model


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []
    meta: dict[str, Any] = {}


class Address(BaseModel):
    city: str = ""


class Contact(Model):
    name: str
    id_: str | None = Field(default=None, alias="id")
    version_: int = Field(default=0, alias="version")
    address: Address = Address()


def loaded(**data: Any) -> Todo:
    return Todo.from_document("t1", 3, {"title": "milk", **data})


# -- class creation -------------------------------------------------------------------------


def test_bucket_defaults_to_lower_cased_class_name() -> None:
    assert Todo.bucket_name() == "todo"
    assert Contact.bucket_name() == "contact"

    class TodoList(Model, bucket="lists.v2"):
        name: str = ""

    assert TodoList.bucket_name() == "lists.v2"


def test_subclass_gets_its_own_bucket_unless_told() -> None:
    class Urgent(Todo):
        pass

    class Archived(Todo, bucket="todo"):
        pass

    assert Urgent.bucket_name() == "urgent"
    assert Archived.bucket_name() == "todo"


@pytest.mark.parametrize("bucket", ["", "has space", "x" * 65, "slash/es"])
def test_invalid_bucket_name_is_refused_at_class_creation(bucket: str) -> None:
    with pytest.raises(so.InvalidIdentifier, match=r"bucket=") as err:

        class Bad(Model, bucket=bucket):
            x: int = 0

    assert "1-64 characters" in str(err.value)


def test_class_name_that_is_not_a_bucket_name_asks_for_one() -> None:
    with pytest.raises(so.InvalidIdentifier, match="Tâche"):

        class Tâche(Model):
            x: int = 0


def test_base_model_has_no_bucket() -> None:
    with pytest.raises(TypeError, match="subclass"):
        Model.bucket_name()


@pytest.mark.parametrize("name", ["id", "version"])
def test_field_named_id_or_version_is_refused_with_the_alias_fix(name: str) -> None:
    with pytest.raises(TypeError, match=rf'Field\(alias="{name}"\)') as err:
        type("Bad", (Model,), {"__annotations__": {name: str}})
    assert f"{name}_" in str(err.value)


@pytest.mark.parametrize("name", ["save", "delete", "objects", "refresh"])
def test_field_hiding_a_model_method_is_refused(name: str) -> None:
    with pytest.raises(TypeError, match=f"cannot be called {name!r}"):
        type("Bad", (Model,), {"__annotations__": {name: str}})


def test_aliased_id_and_version_keys_are_data() -> None:
    c = Contact.from_document("c1", 2, {"name": "Ann", "id": "inner", "version": 7})
    assert (c.id, c.version, c.id_, c.version_) == ("c1", 2, "inner", 7)
    assert c.model_dump(by_alias=True) == {
        "name": "Ann",
        "id": "inner",
        "version": 7,
        "address": {"city": ""},
    }
    assert Contact(name="x", id="by-alias").id_ == "by-alias"
    assert Contact(name="x", id_="by-name").id_ == "by-name"


def test_each_model_has_its_own_does_not_exist() -> None:
    assert issubclass(Todo.DoesNotExist, so.DoesNotExist)
    assert issubclass(Todo.DoesNotExist, so.NotFound)
    assert Todo.DoesNotExist is not Contact.DoesNotExist
    assert Todo.DoesNotExist.__qualname__ == "Todo.DoesNotExist"

    class Urgent(Todo):
        pass

    assert issubclass(Urgent.DoesNotExist, Todo.DoesNotExist)
    assert not issubclass(Todo.DoesNotExist, Urgent.DoesNotExist)


def test_generic_models_keep_the_bucket_of_their_origin() -> None:
    T = TypeVar("T")

    class Box(Model, Generic[T], bucket="boxes"):
        content: T | None = None

    assert Box[int].bucket_name() == "boxes"
    assert Box[int](content=3).content == 3


# -- identity -------------------------------------------------------------------------------


def test_new_object_has_no_id_or_version() -> None:
    t = Todo(title="milk")
    assert t.id is None and t.version is None


def test_id_can_be_chosen_before_the_first_save_and_is_validated() -> None:
    t = Todo(title="milk")
    t.id = "my-todo@home.1"
    assert t.id == "my-todo@home.1"
    with pytest.raises(so.InvalidIdentifier, match="1-256"):
        t.id = "no spaces"
    with pytest.raises(so.InvalidIdentifier):
        t.id = "x" * 257


def test_id_cannot_change_once_saved_and_version_is_read_only() -> None:
    t = loaded()
    with pytest.raises(AttributeError, match="once the object is saved"):
        t.id = "other"
    with pytest.raises(AttributeError, match="read-only"):
        t.version = 9  # type: ignore[misc]


def test_repr_shows_id_version_and_fields() -> None:
    assert repr(loaded()) == (
        "Todo(id='t1', version=3, title='milk', done=False, tags=[], meta={})"
    )
    assert repr(Todo(title="x")).startswith("Todo(id=None, version=None, title='x'")


def test_manager_is_not_reachable_from_an_instance() -> None:
    with pytest.raises(AttributeError, match=r"Todo\.objects"):
        loaded().objects  # noqa: B018


def test_equality_includes_identity_and_data() -> None:
    assert loaded() == loaded()
    assert loaded() != loaded(done=True)
    assert loaded() != Todo.from_document("t1", 4, {"title": "milk"})
    assert loaded() != Todo.from_document("t2", 3, {"title": "milk"})


def test_copies_do_not_share_identity_changes() -> None:
    original = Todo(title="milk")
    twin = original.model_copy()
    twin.id = "twin"
    assert original.id is None
    assert loaded().model_copy() == loaded()


# -- validation -----------------------------------------------------------------------------


def test_fields_are_validated_on_construction_and_assignment() -> None:
    with pytest.raises(ValidationError):
        Todo(title=3)
    with pytest.raises(ValidationError, match="titel"):
        Todo(title="x", titel="typo")
    t = Todo(title="x")
    with pytest.raises(ValidationError):
        t.done = "not a bool"  # type: ignore[assignment]


def test_server_data_that_does_not_fit_names_the_id() -> None:
    with pytest.raises(ValidationError, match=r"Todo \(id 'bad-1'\)") as err:
        Todo.from_document("bad-1", 1, {"title": 42})
    assert err.value.errors()[0]["loc"] == ("title",)


# -- unknown keys ---------------------------------------------------------------------------


def test_unknown_keys_are_kept_aside() -> None:
    t = loaded(color="red", nested={"a": 1})
    assert t.unknown_data == {"color": "red", "nested": {"a": 1}}
    assert "color" not in t.model_dump()
    t.unknown_data["color"] = "blue"  # a copy: the object is not changed
    assert t.unknown_data["color"] == "red"
    assert t.changed_fields() == set()


# -- dirty tracking -------------------------------------------------------------------------


def test_new_object_has_every_field_changed() -> None:
    assert Todo(title="x").changed_fields() == {"title", "done", "tags", "meta"}


def test_loaded_object_has_no_changes() -> None:
    assert loaded(tags=["a"], meta={"k": [1]}).changed_fields() == set()


def test_defaults_filled_on_load_are_not_changes() -> None:
    assert Todo.from_document("t", 1, {"title": "only the title"}).changed_fields() == set()


def test_assignment_is_a_change() -> None:
    t = loaded()
    t.done = True
    assert t.changed_fields() == {"done"}


def test_in_place_mutation_is_a_change() -> None:
    t = loaded(tags=["a"], meta={"k": {"n": 1}})
    t.tags.append("b")
    t.meta["k"]["n"] = 2
    assert t.changed_fields() == {"tags", "meta"}


def test_setting_back_the_saved_value_is_no_change() -> None:
    t = loaded()
    t.title = "other"
    t.title = "milk"
    assert t.changed_fields() == set()


def test_change_of_an_aliased_field_is_reported_by_field_name() -> None:
    c = Contact.from_document("c1", 1, {"name": "Ann"})
    c.id_ = "inner"
    c.address.city = "Oslo"
    assert c.changed_fields() == {"id_", "address"}


def test_in_place_mutation_with_a_wrong_type_is_a_validation_error() -> None:
    t = loaded()
    t.tags.append(3)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"Todo \(id 't1'\)"):
        t.changed_fields()


# -- errors raised before any request -------------------------------------------------------


def test_delete_or_refresh_of_an_unsaved_object_is_refused() -> None:
    with pytest.raises(ValueError, match="has not been saved"):
        Todo(title="x").delete()
    with pytest.raises(ValueError, match="has not been saved"):
        Todo(title="x").refresh()


def test_update_fields_must_name_fields() -> None:
    t = loaded()
    t.done = True
    with pytest.raises(ValueError, match="no field 'dnoe'"):
        t.save(update_fields=["dnoe"])
    with pytest.raises(ValueError, match="saved objects"):
        Todo(title="x").save(update_fields=["title"])


def test_saving_without_a_client_says_how_to_connect() -> None:
    so.disconnect()
    with pytest.raises(so.NotConnected, match="connect"):
        Todo(title="x").save()


def test_cached_properties_are_not_data() -> None:
    """pydantic keeps a cached_property's value in the instance __dict__ beside the fields:
    it is neither validated as a field nor saved."""
    from functools import cached_property

    class Shouting(Model, bucket="shouting"):
        title: str = ""

        @cached_property
        def loud(self) -> str:
            return self.title.upper()

    item = Shouting.from_document("s1", 1, {"title": "hi"})
    assert item.loud == "HI" and item.changed_fields() == set()
    item.title = "ho"
    assert item.changed_fields() == {"title"} and item.model_dump() == {"title": "ho"}


def test_equality_ignores_cached_properties() -> None:
    from functools import cached_property

    class Shouting(Model, bucket="shouting"):
        title: str = ""

        @cached_property
        def loud(self) -> str:
            return self.title.upper()

    a, b = (Shouting.from_document("s1", 1, {"title": "hi"}) for _ in range(2))
    assert a.loud == "HI" and a == b
    assert a != Shouting.from_document("s1", 1, {"title": "ho"})


def test_private_attributes_live_beside_the_objects_state() -> None:
    """The saved state shares pydantic's private dict with the model's own private
    attributes (any name, even ``_state``); neither disturbs the other."""
    from pydantic import PrivateAttr

    class Cached(Model, bucket="cached"):
        title: str = ""
        _state: str = PrivateAttr("mine")
        _hits: int = PrivateAttr(0)

    item = Cached.from_document("c1", 4, {"title": "x"})
    item._hits += 1
    assert (item.id, item.version, item._state, item._hits) == ("c1", 4, "mine", 1)
    new = Cached(id="c2", title="y")
    assert (new.id, new._state, new.model_dump()) == ("c2", "mine", {"title": "y"})
    assert item.model_copy().id == "c1" and item.changed_fields() == set()
