"""A call run in a background thread: its value or its exception reaches the caller."""

from __future__ import annotations

import threading

import pytest

from simperium_orm.orm.background import Background


def test_the_value_comes_back_from_another_thread() -> None:
    names: list[str] = []

    def work() -> int:
        names.append(threading.current_thread().name)
        return 42

    running = Background(work, "worker")
    assert running.result() == 42
    assert running.result() == 42
    assert names == ["worker"]


def test_the_exception_is_raised_in_the_caller_every_time_it_asks() -> None:
    def fail() -> None:
        raise LookupError("nope")

    running = Background(fail)
    for _ in range(2):
        with pytest.raises(LookupError, match="nope"):
            running.result()
