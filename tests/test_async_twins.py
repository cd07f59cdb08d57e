"""Every public sync I/O method has its async twin (``a`` + name, the same parameters), and
every async method its sync original. A public method that lands without being classified here
fails, so a new I/O call cannot arrive without its twin."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import BaseModel

import simperium_orm as so
from simperium_orm.orm.manager import Manager
from simperium_orm.orm.query import QuerySet

# The public methods that send requests, per class; their twins are "a" + name.
IO = {
    Manager: {
        *("get", "create", "get_or_create", "update_or_create", "in_bulk", "iterate"),
        *("count", "exists", "first", "values", "values_list", "page"),
        *("bulk_save", "bulk_delete"),
    },
    QuerySet: {
        *("get", "in_bulk", "iterate", "count", "exists", "first", "values", "values_list"),
        *("page", "update", "delete", "get_or_create", "update_or_create"),
    },
    so.Model: {"save", "delete", "refresh"},
    so.Client: {"close"},
    so.Replica: {"flush", "close"},  # sync() is twinned by async_() (async is a keyword)
}
# The public methods that send nothing (building queries, reading local state, ...).
LOCAL = {
    Manager: {"using", "all", "filter", "exclude", "order_by", "listen", "client"},
    QuerySet: {"all", "filter", "exclude", "order_by", "using"},
    so.Client: {"bucket", "abucket", "as_user", "with_transport", "auth", "atransport"},
}


def public(cls: type) -> dict[str, Any]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    if cls is so.Model:  # pydantic's own API is not ours
        names -= set(dir(BaseModel))
    return {n: getattr(cls, n) for n in names}


def params(fn: Any) -> list[tuple[str, Any, Any]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("cls", list(IO), ids=lambda c: c.__name__)
def test_every_sync_io_method_has_its_async_twin(cls: type) -> None:
    members = public(cls)
    for name in sorted(IO[cls]):
        twin = members.get("a" + name)
        assert twin is not None, f"{cls.__name__}.{name} has no a{name}"
        assert params(twin) == params(members[name]), f"{cls.__name__}.a{name}'s parameters"
        assert (
            inspect.iscoroutinefunction(twin)
            or inspect.isasyncgenfunction(twin)
            or ("AsyncIterator" in str(inspect.signature(twin).return_annotation))
        ), f"{cls.__name__}.a{name} is not async"


@pytest.mark.parametrize("cls", list(IO), ids=lambda c: c.__name__)
def test_every_async_method_twins_a_sync_one(cls: type) -> None:
    members = public(cls)
    for name, fn in members.items():
        if inspect.iscoroutinefunction(fn) and name.startswith("a") and name != "async_":
            assert name[1:] in IO[cls], f"{cls.__name__}.{name} twins no sync I/O method"


def test_the_replica_s_sync_has_its_twin() -> None:
    assert inspect.iscoroutinefunction(so.Replica.async_)
    assert params(so.Replica.async_) == params(so.Replica.sync)


@pytest.mark.parametrize("cls", [Manager, QuerySet, so.Client], ids=lambda c: c.__name__)
def test_every_public_method_is_classified(cls: type) -> None:
    known = IO[cls] | {"a" + n for n in IO[cls]} | LOCAL.get(cls, set())
    unknown = {
        n
        for n, fn in public(cls).items()
        if callable(fn) or isinstance(fn, property)
        if n not in known
    }
    unknown -= {"model", "timeout", "retries"}
    assert not unknown, f"classify {sorted(unknown)} as I/O (with a twin) or local"


def test_iteration_has_its_async_twin() -> None:
    assert hasattr(QuerySet, "__aiter__") and inspect.isasyncgenfunction(QuerySet.__aiter__)
