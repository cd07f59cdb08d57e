"""Snapshots: objects listed by a query keep the raw server data only when that is safe."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from typing import Any

from pydantic import BaseModel, field_validator

from simperium_orm.orm import state
from simperium_orm.orm.model import Model
from simperium_orm.orm.state import ObjectState, keeps_raw_data, saved_fields


class Inner(BaseModel):
    names: list[str] = []


class Plain(Model, bucket="plain"):
    title: str
    tags: list[str] = []
    grid: list[list[int]] = []
    inner: Inner = Inner()
    scores: dict[str, float] = {}
    when: dt.datetime | None = None


class Loose(Model, bucket="loose"):
    title: str = ""
    meta: dict[str, Any] = {}


class Validated(Model, bucket="validated"):
    tags: list[str] = []

    @field_validator("tags")
    @classmethod
    def keep(cls, value: list[str]) -> list[str]:
        return value


def listed(model: type[Model], data: dict[str, Any]) -> Any:
    """An object as a query builds it: from server data nobody else holds."""
    return next(state.load(model, [{"id": "x1", "v": 2, "d": data}], None))


def test_which_models_keep_raw_data() -> None:
    assert keeps_raw_data(Plain)
    assert not keeps_raw_data(Loose)  # Any values are shared with the data validated
    assert not keeps_raw_data(Validated)  # a validator may return what it was given


def test_in_place_changes_of_listed_objects_are_found() -> None:
    plain = listed(Plain, {"title": "t", "tags": ["a"], "grid": [[1]], "inner": {"names": []}})
    assert plain.changed_fields() == set()
    plain.tags.append("b")
    plain.grid[0].append(2)
    plain.inner.names.append("n")
    assert plain.changed_fields() == {"tags", "grid", "inner"}

    loose = listed(Loose, {"meta": {"k": [1]}})
    loose.meta["k"].append(2)
    assert loose.changed_fields() == {"meta"}

    validated = listed(Validated, {"tags": ["a"]})
    validated.tags.append("b")
    assert validated.changed_fields() == {"tags"}


def test_raw_snapshot_is_normalised_like_a_dump() -> None:
    obj = listed(Plain, {"title": "t", "scores": {"a": 1}, "when": "2024-01-31T10:00:00Z"})
    assert not isinstance(state.of(obj).snapshot, bytes)
    assert saved_fields(Plain, state.of(obj)) == obj.model_dump(mode="json", by_alias=True)
    assert obj.changed_fields() == set()


def test_objects_built_from_documents_snapshot_at_once() -> None:
    data = {"title": "t", "tags": ["a"]}
    obj = Plain.from_document("x1", 1, data)
    data["tags"].append("changed by the caller")
    assert isinstance(state.of(obj).snapshot, bytes)
    assert obj.changed_fields() == set()


def test_state_copies_and_pickles_without_the_client() -> None:
    client: Any = object()
    saved = ObjectState("x", 3, {"title": "t"}, {"extra": [1]}, client)
    deep = copy.deepcopy(saved)
    assert deep.client is client and deep.unknown == {"extra": [1]}
    assert deep.unknown["extra"] is not saved.unknown["extra"]
    restored = pickle.loads(pickle.dumps(saved))
    assert restored == ("x", 3, {"title": "t"}, {"extra": [1]}, None)


def test_model_objects_pickle_and_deep_copy() -> None:
    obj = listed(Plain, {"title": "t", "tags": ["a"]})
    again = pickle.loads(pickle.dumps(obj))
    assert again == obj and again.changed_fields() == set()
    twin = obj.model_copy(deep=True)
    twin.tags.append("b")
    assert obj.tags == ["a"] and twin.changed_fields() == {"tags"}
