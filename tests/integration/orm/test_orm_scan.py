"""Objects read by a bucket scan (the raw-page fast path) track changes like any other."""

from __future__ import annotations

import copy
import pickle

import simperium_orm as so
from simperium_orm.orm import state
from simperium_orm.orm.scan.pages import PageEntry


class Item(so.Model, bucket="scan_items"):
    title: str
    tags: list[str] = []


class Loose(so.Model, bucket="scan_items"):
    title: str


def test_scanned_objects_save_only_what_changed(client: so.Client) -> None:
    Item.objects.bulk_save([Item(title=f"t{i}", tags=["a"]) for i in range(30)])
    scanned = list(Item.objects.iterate(page_size=10))
    assert len(scanned) == 30
    assert isinstance(state.of(scanned[0]).snapshot, PageEntry)
    assert all(obj.changed_fields() == set() for obj in scanned)
    target = scanned[12]
    target.tags.append("b")
    assert target.changed_fields() == {"tags"}
    version = target.version
    target.save()
    assert target.version == (version or 0) + 1
    assert Item.objects.get(target.id or "").tags == ["a", "b"]
    assert scanned[13].changed_fields() == set()
    clone = pickle.loads(pickle.dumps(scanned[14]))
    assert clone.changed_fields() == set() and copy.deepcopy(clone) == clone


def test_pages_with_unknown_keys_take_the_ordinary_path(client: so.Client) -> None:
    client.bucket("scan_items").write("x1", {"title": "a", "extra": 1})
    client.bucket("scan_items").write("x2", {"title": "b"})
    found = {obj.id: obj for obj in Loose.objects.all()}
    assert found["x1"].unknown_data == {"extra": 1}
    found["x1"].title = "c"
    found["x1"].save()
    assert client.bucket("scan_items").get("x1") == {"title": "c", "extra": 1}


def test_a_scan_reading_ahead_yields_every_object_once(client: so.Client) -> None:
    items = [Item(title=f"t{i}") for i in range(2500)]
    for i, item in enumerate(items):
        item.id = f"ra-{i:04d}"
    Item.objects.bulk_save(items)
    seen = [obj.id for obj in Item.objects.iterate(page_size=1000)]
    assert sorted(seen) == [f"ra-{i:04d}" for i in range(2500)]
    assert Item.objects.filter(title__startswith="t1").count() == 1111


def test_stopping_a_scan_early_leaves_the_client_working(client: so.Client) -> None:
    Item.objects.bulk_save([Item(title=f"t{i}") for i in range(50)])
    scan = Item.objects.iterate(page_size=10)
    first = next(scan)  # the second page is on its way
    del scan  # dropped mid-way
    first.title = "changed"
    first.save()
    assert Item.objects.get(first.id or "").title == "changed"
    assert Item.objects.count() == 50
