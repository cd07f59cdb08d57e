"""``model_config`` options checked when a model class is defined, without a server.

Options that keep the stored keys and the read keys in step are accepted (their behaviour
through save, reload and the listener is tested in tests/integration/orm/test_orm_model_config.py);
the others are refused at once with a ``TypeError`` that says why and what to do instead.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import AliasGenerator, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_snake

from simperium_orm.orm import state
from simperium_orm.orm.model import Model


@pytest.mark.parametrize(
    "config",
    [
        ConfigDict(extra="allow"),
        ConfigDict(extra="ignore"),
        ConfigDict(extra="forbid"),
        ConfigDict(frozen=True),
        ConfigDict(validate_assignment=False),
        ConfigDict(str_strip_whitespace=True),
        ConfigDict(populate_by_name=False),
        ConfigDict(alias_generator=to_camel),
        ConfigDict(alias_generator=AliasGenerator(alias=to_camel)),
        ConfigDict(strict=True, use_enum_values=True, revalidate_instances="always"),
    ],
)
def test_common_options_are_accepted(config: ConfigDict) -> None:
    class Item(Model, bucket="items"):
        model_config = config
        first_name: str = "ann"

    item = Item.from_document("i1", 1, {state.dump(Item()).popitem()[0]: "bea"})
    assert item.first_name == "bea" and item.changed_fields() == set()


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (ConfigDict(validate_by_alias=False, validate_by_name=True), "validate_by_alias=False"),
        (ConfigDict(allow_inf_nan=True), "allow_inf_nan=True.*no NaN"),
        (
            ConfigDict(alias_generator=AliasGenerator(validation_alias=to_camel)),
            r"Item\.first_name is written under 'first_name' but read under 'firstName'",
        ),
        (
            ConfigDict(
                alias_generator=AliasGenerator(
                    validation_alias=to_camel, serialization_alias=to_snake
                )
            ),
            "written under 'first_name' but read under 'firstName'",
        ),
        (
            ConfigDict(alias_generator=lambda name: "key"),
            "fields 'first_name' and 'last_name' are both stored under 'key'",
        ),
    ],
)
def test_options_that_would_store_or_read_wrongly_are_refused(
    config: ConfigDict, says: str
) -> None:
    with pytest.raises(TypeError, match=says):

        class Item(Model, bucket="items"):
            model_config = config
            first_name: str = ""
            last_name: str = ""


@pytest.mark.parametrize(
    ("field", "says"),
    [
        (Field(default="", validation_alias="name"), "under 'title' but read under 'name'"),
        (Field(default="", serialization_alias="name"), "under 'name' but read under 'title'"),
    ],
)
def test_a_field_read_and_written_under_two_keys_is_refused(field: Any, says: str) -> None:
    with pytest.raises(TypeError, match=rf"Item\.title is written {says}.*Field\(alias="):

        class Item(Model, bucket="items"):
            title: str = field


def test_one_name_for_both_through_separate_aliases_is_accepted() -> None:
    class Item(Model, bucket="items"):
        title: str = Field(default="", validation_alias="name", serialization_alias="name")

    assert state.wire_keys(Item) == {"name": "title"}
    assert Item.from_document("i1", 1, {"name": "milk"}).title == "milk"
    assert state.dump(Item(name="x")) == {"name": "x"}


def test_checks_apply_to_subclasses_that_change_the_config() -> None:
    class Base(Model, bucket="items"):
        title: str = ""

    with pytest.raises(TypeError, match="allow_inf_nan"):

        class Child(Base):
            model_config = ConfigDict(allow_inf_nan=True)


def test_state_stays_out_of_every_dump_and_the_fast_paths_stay_on() -> None:
    """The object's state is kept beside the fields, so an extra="allow" model dumps only its
    data; a plain model keeps pydantic's construction without an __init__ call per object."""

    class Open(Model, bucket="open"):
        model_config = ConfigDict(extra="allow")
        title: str = ""

    class Closed(Model, bucket="closed"):
        title: str = ""

    item = Open.from_document("o1", 2, {"title": "x", "color": "red"})
    assert item.model_dump() == {"title": "x", "color": "red"}
    assert item.model_dump_json() == '{"title":"x","color":"red"}'
    assert (item.id, item.version, item.model_extra) == ("o1", 2, {"color": "red"})
    assert Closed.__pydantic_custom_init__ is False and state.keeps_raw_data(Closed)
    assert not state.keeps_raw_data(Open)
