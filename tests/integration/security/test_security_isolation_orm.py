"""User isolation through the ORM, the seed-compatible core and the listener.

Two users' clients on one server, one model and the same object ids: whatever A does through
``Model.objects.using(a)`` (get, filter, count, iterate, page, values, save, bulk_save,
bulk_delete, delete) or ``core.Api``, it never sees or changes B's objects, and A's listener
(``Listener.poll`` and a started listener) never reports B's changes.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.core import Api, Bucket
from simperium_orm.testing import SimperiumServer


class Secret(so.Model, bucket="secret"):
    owner: str
    note: str = ""


IDS = ["shared-1", "shared-2", "shared-3"]


def secret(item: str | None, owner: str, note: str = "") -> Secret:
    obj = Secret(owner=owner, note=note)
    if item is not None:
        obj.id = item
    return obj


class Users:
    """A's and B's clients; B owns ``IDS`` with a marker only B's data holds."""

    def __init__(self, server: SimperiumServer) -> None:
        self.a = server.client()
        self.b = server.client()
        self.a_token = self.a.bucket("x").auth_token
        self.marker = f"b-secret-{uuid.uuid4().hex}"
        for item in IDS:
            secret(item, "B", self.marker).save(using=self.b)
        self.b_before = self.b_state()

    def b_state(self) -> list[tuple[str, int | None, str]]:
        return sorted((o.id or "", o.version, o.note) for o in Secret.objects.using(self.b).all())

    def close(self) -> None:
        self.a.close()
        self.b.close()


@pytest.fixture
def users(local_server: SimperiumServer) -> Iterator[Users]:
    pair = Users(local_server)
    yield pair
    assert pair.b_state() == pair.b_before
    pair.close()


def _assert_not_b(objs: Any, users: Users) -> None:
    assert users.marker not in repr(list(objs))


def test_reads_see_none_of_the_other_users_objects(users: Users) -> None:
    mine = Secret.objects.using(users.a)
    for item in IDS:
        with pytest.raises(Secret.DoesNotExist):
            mine.get(item)
    assert mine.count() == 0 and not mine.exists() and mine.first() is None
    assert list(mine.all()) == [] and list(mine.iterate(page_size=1)) == []
    assert list(mine.filter(owner="B")) == [] and list(mine.values("note")) == []
    assert mine.page(limit=1).items == []
    assert list(mine.order_by("-note")) == []


def test_saves_with_the_same_ids_create_own_objects(users: Users) -> None:
    mine = Secret.objects.using(users.a)
    obj = secret(IDS[0], "A")
    obj.save(using=users.a)
    assert obj.version == 1 and obj.note == ""
    created = mine.bulk_save([secret(item, "A") for item in IDS[1:]])
    assert [o.version for o in created] == [1, 1]
    assert sorted((o.id, o.owner, o.version) for o in mine.all()) == [
        (item, "A", 1) for item in IDS
    ]
    _assert_not_b(mine.all(), users)
    obj.note = "edited by A"
    obj.save(using=users.a)
    obj.refresh(using=users.a)
    assert (obj.owner, obj.note, obj.version) == ("A", "edited by A", 2)
    obj.delete(using=users.a)
    mine.bulk_delete(created)
    assert mine.count() == 0


def test_deletes_of_the_other_users_ids_are_not_found(users: Users) -> None:
    theirs = [Secret.objects.using(users.b).get(item) for item in IDS]
    mine = Secret.objects.using(users.a)
    for obj in theirs:
        with pytest.raises(so.NotFound):
            obj.delete(using=users.a)
    with pytest.raises(so.BulkError) as caught:
        mine.bulk_delete(theirs)
    assert {code for _, code in caught.value.failed} == {404}
    assert users.marker not in str(caught.value) + repr(caught.value.results)


def test_core_api_with_the_same_ids(users: Users, local_server: SimperiumServer) -> None:
    api = Api(local_server.app_id, users.a_token, api_url=local_server.url)
    bucket = api["secret"]
    assert isinstance(bucket, Bucket)
    assert bucket.index(data=True)["index"] == []
    for item in IDS:
        assert bucket.get(item) is None
        assert bucket.get(item, version=1) is None
    assert bucket.changes(wait=False) == []
    bucket.post(IDS[0], {"owner": "A"})
    assert bucket.get(IDS[0]) == {"owner": "A"}
    assert [(c["id"], c["ev"]) for c in bucket.changes(wait=False)] == [(IDS[0], 1)]


def test_listener_never_reports_the_other_users_changes(users: Users) -> None:
    """B writes while A's listener polls; A hears only A's other device."""
    heard: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs.get("instance") or kwargs.get("id"))

    a_device = so.Client(
        users.a.app_id, users.a_token, api_url=users.a.api_url, auth_url=users.a.auth_url
    )
    listener = so.Listener(Secret, client=users.a)
    for signal in (signals.remote_created, signals.remote_updated, signals.remote_deleted):
        signal.connect(record, sender=Secret, weak=False)
    try:
        theirs = Secret.objects.using(users.b).get(IDS[0])
        theirs.note = f"{users.marker} again"
        theirs.save(using=users.b)
        secret(None, "B", users.marker).save(using=users.b)
        assert listener.poll() == []
        secret(IDS[1], "A").save(using=a_device)
        events = listener.poll()
        assert [(e.kind, e.id) for e in events] == [("created", IDS[1])]
        users.b_before = users.b_state()
        _assert_not_b(heard, users)
        assert [getattr(h, "owner", None) for h in heard] == ["A"]
    finally:
        for signal in (signals.remote_created, signals.remote_updated, signals.remote_deleted):
            signal.disconnect(record, sender=Secret)
        a_device.close()


def test_started_listener_hears_own_device_but_not_the_other_user(users: Users) -> None:
    got_own = threading.Event()
    heard: list[Any] = []

    def record(sender: Any, **kwargs: Any) -> None:
        heard.append(kwargs["instance"])
        if kwargs["instance"].owner == "A":
            got_own.set()

    a_device = so.Client(
        users.a.app_id, users.a_token, api_url=users.a.api_url, auth_url=users.a.auth_url
    )
    signals.remote_created.connect(record, sender=Secret, weak=False)
    try:
        with so.Listener(Secret, client=users.a, poll_timeout=5):
            for _ in range(3):
                secret(None, "B", users.marker).save(using=users.b)
            secret(None, "A").save(using=a_device)
            assert got_own.wait(30)
        users.b_before = users.b_state()
        assert [h.owner for h in heard] == ["A"]
    finally:
        signals.remote_created.disconnect(record, sender=Secret)
        a_device.close()
