"""Pausing the cyclic garbage collector while a page is built: nested and threaded pauses
restore exactly the state found, and a scan leaves the collector as it was."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Iterator

import pytest

from simperium_orm.orm.model import Model
from simperium_orm.orm.scan.gcpause import gc_paused
from simperium_orm.orm.scan.pages import load_page


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:  # pragma: no cover - pytest runs with the collector on
        gc.disable()


def test_a_pause_switches_the_collector_off_and_back_on() -> None:
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause is still running
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_the_collector_comes_back_after_an_error() -> None:
    gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_collector_on() -> None:
    gc.enable()
    inside, release = threading.Barrier(3), threading.Event()

    def pause() -> None:
        with gc_paused():
            inside.wait(5)
            release.wait(5)

    threads = [threading.Thread(target=pause) for _ in range(2)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    assert not gc.isenabled()
    release.set()
    for thread in threads:
        thread.join(5)
    assert gc.isenabled()


class Note(Model, bucket="note"):
    title: str


def test_building_a_page_leaves_the_collector_as_it_was() -> None:
    body = json.dumps({"index": [{"id": "a", "v": 1, "d": {"title": "x"}}], "mark": "m"})
    for enabled in (True, False):
        gc.enable() if enabled else gc.disable()
        loaded = load_page(Note, body.encode(), None)
        assert loaded is not None and loaded[1] == "m"
        assert gc.isenabled() is enabled
        assert load_page(Note, b'{"index": [{"id": "a", "v": 1, "d": {}}]}', None) is None
        assert gc.isenabled() is enabled
