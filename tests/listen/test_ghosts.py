"""The in-memory ghost store: bounded, least recently used forgotten first, per feed."""

from __future__ import annotations

import threading

import pytest

from simperium_orm.listen.ghosts import DEFAULT_MAX_OBJECTS, Ghost, GhostStore, MemoryGhostStore


def test_put_get_drop_and_clear_per_feed() -> None:
    store: GhostStore = MemoryGhostStore()
    store.put("app/todo", "a", 3, {"title": "x"})
    store.put("app/note", "a", 1, {"text": "y"})
    assert store.get("app/todo", "a") == Ghost(3, {"title": "x"})
    assert store.get("app/todo", "b") is None
    store.put("app/todo", "a", 4, {"title": "z"})
    assert store.get("app/todo", "a") == (4, {"title": "z"})
    store.drop("app/todo", "a")
    store.drop("app/todo", "never there")
    assert store.get("app/todo", "a") is None
    store.put("app/todo", "b", 1, {})
    store.clear("app/todo")
    assert store.get("app/todo", "b") is None
    assert store.get("app/note", "a") == (1, {"text": "y"})


def test_the_least_recently_used_ghost_is_forgotten_first() -> None:
    store = MemoryGhostStore(max_objects=3)
    for n in range(3):
        store.put("k", f"o{n}", 1, {"n": n})
    assert store.get("k", "o0") is not None  # o0 used: o1 is now the oldest
    store.put("k", "o3", 1, {"n": 3})
    assert [store.get("k", f"o{n}") is not None for n in range(4)] == [True, False, True, True]
    assert len(store) == 3 and repr(store) == "<MemoryGhostStore 3/3 objects>"
    assert MemoryGhostStore().max_objects == DEFAULT_MAX_OBJECTS
    with pytest.raises(ValueError):
        MemoryGhostStore(max_objects=0)


def test_threads_share_a_store() -> None:
    store = MemoryGhostStore(max_objects=50)

    def churn(key: str) -> None:
        for n in range(2000):
            store.put(key, f"o{n % 70}", n, {})
            store.get(key, f"o{(n * 7) % 70}")
            if n % 97 == 0:
                store.drop(key, f"o{n % 70}")

    threads = [threading.Thread(target=churn, args=(f"k{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50
