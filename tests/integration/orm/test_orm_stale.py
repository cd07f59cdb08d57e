"""Saves from a copy whose version the server no longer keeps, against the local server.

The server keeps the last 60 versions of an object (and every 10th of the 1,000 before), so a
copy loaded and left open while another client makes 170 edits has a base version that is
gone: a post to it is answered 404, as for an object that is gone. Such a save rebases the
copy's edits onto the current version and succeeds; ``DoesNotExist`` is only for an object
that really is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm import signals
from simperium_orm.orm.model import Model
from simperium_orm.testing import SimperiumServer

EDITS = 170


class Doc(Model, bucket="docs"):
    text: str
    count: int = 0
    tags: list[str] = []


@pytest.fixture
def phone(local_server: SimperiumServer, client: so.Client) -> Iterator[so.Client]:
    """A second client of the same user, editing the same objects."""
    other = local_server.client(client.bucket("docs").auth_token)
    yield other
    other.close()


def edit_elsewhere(phone: so.Client, item: str, edits: int = EDITS, **last: Any) -> None:
    """``edits`` versions written by the other client; the last one also sets ``last``."""
    bucket = phone.bucket("docs")
    for n in range(1, edits + 1):
        bucket.write(item, {"count": n, **(last if n == edits else {})})


def stale_copy(client: so.Client, phone: so.Client, **fields: Any) -> Doc:
    """A copy loaded at version 1, then left behind by the other client's edits."""
    doc = Doc.objects.create(**fields)
    assert doc.id is not None
    copy = Doc.objects.get(doc.id)
    edit_elsewhere(phone, doc.id)
    with pytest.raises(so.NotFound):  # the premise: version 1 is no longer kept
        client.bucket("docs").fetch(doc.id, version=1)
    return copy


def test_a_stale_save_merges_instead_of_claiming_the_object_is_gone(
    client: so.Client, phone: so.Client
) -> None:
    copy = stale_copy(client, phone, text="milk")
    heard: list[dict[str, Any]] = []

    def receiver(sender: type, **kwargs: Any) -> None:
        heard.append(kwargs)

    copy.text = "x"
    with signals.post_save.connected_to(receiver, sender=Doc):
        copy.save()
    assert (copy.version, copy.text, copy.count) == (EDITS + 2, "x", EDITS)
    assert client.bucket("docs").get(copy.id or "") == {"text": "x", "count": EDITS, "tags": []}
    assert [h["changed_fields"] for h in heard] == [{"text"}]
    assert copy.changed_fields() == set()


def test_stale_edits_of_one_text_and_one_list_keep_both_sides(
    client: so.Client, phone: so.Client
) -> None:
    copy = stale_copy(client, phone, text="buy milk", tags=["a", "b"])
    phone.bucket("docs").write(copy.id or "", {"text": "buy milk today", "tags": ["a", "b", "c"]})
    copy.text = "please buy milk"
    copy.tags.remove("a")
    copy.count = 5  # both changed it: the copy's value wins
    copy.save()
    stored = Doc.objects.get(copy.id or "")
    assert (stored.text, stored.tags, stored.count) == ("please buy milk today", ["b", "c"], 5)
    assert (copy.text, copy.tags, copy.version) == (stored.text, stored.tags, stored.version)


def test_update_fields_on_a_stale_copy_sends_only_those(
    client: so.Client, phone: so.Client
) -> None:
    copy = stale_copy(client, phone, text="milk")
    copy.text = "bread"
    copy.tags = ["unsaved"]
    copy.save(update_fields=["text"])
    assert client.bucket("docs").get(copy.id or "") == {"text": "bread", "count": EDITS, "tags": []}
    assert copy.tags == ["unsaved"] and copy.changed_fields() == {"tags"}


def test_a_stale_copy_of_an_object_deleted_elsewhere_raises_does_not_exist(
    client: so.Client, phone: so.Client
) -> None:
    copy = stale_copy(client, phone, text="milk")
    phone.bucket("docs").delete(copy.id or "")
    copy.text = "x"
    with pytest.raises(Doc.DoesNotExist):
        copy.save()
    assert copy.version == 1 and copy.changed_fields() == {"text"}


def test_replace_recreates_an_object_deleted_elsewhere(client: so.Client, phone: so.Client) -> None:
    """``save(replace=True)`` sends no base version: the server creates the object again
    under its id, as this copy has it, with the version numbers going on from the delete."""
    doc = Doc.objects.create(text="milk", tags=["a"])
    phone.bucket("docs").delete(doc.id or "")
    doc.count = 3
    doc.save(replace=True)
    assert doc.version == 3  # 1 created, 2 deleted, 3 created again
    stored = Doc.objects.get(doc.id or "")
    assert (stored.text, stored.count, stored.tags, stored.version) == ("milk", 3, ["a"], 3)


def test_bulk_save_rebases_stale_copies_and_fails_only_the_gone(
    client: so.Client, phone: so.Client
) -> None:
    docs = [Doc(text=f"doc {n}", tags=["t"]) for n in range(4)]
    Doc.objects.bulk_save(docs)
    copies = [Doc.objects.get(d.id or "") for d in docs]
    for d in docs[:3]:
        edit_elsewhere(phone, d.id or "", tags=["t", "theirs"])
    phone.bucket("docs").delete(docs[2].id or "")
    for c in copies:
        c.text += " edited"
    heard: list[str | None] = []

    def receiver(sender: type, instance: Doc, **kwargs: Any) -> None:
        heard.append(instance.id)

    with (
        signals.post_save.connected_to(receiver, sender=Doc),
        pytest.raises(so.BulkError) as caught,
    ):
        Doc.objects.bulk_save(copies, batch_size=2)
    assert caught.value.failed == [(copies[2], 404)]
    assert "1 of 4" in str(caught.value)
    for c in (copies[0], copies[1]):
        stored = Doc.objects.get(c.id or "")
        assert (stored.text, stored.count, stored.tags) == (c.text, EDITS, ["t", "theirs"])
        assert (c.version, c.count, c.tags) == (EDITS + 2, EDITS, ["t", "theirs"])
    assert copies[3].version == 2 and copies[2].version == 1
    assert sorted(heard, key=str) == sorted([copies[i].id for i in (0, 1, 3)], key=str)


@pytest.mark.parametrize("others", [3, EDITS])
def test_a_stale_save_ends_where_a_save_from_a_kept_version_does(
    client: so.Client, phone: so.Client, others: int
) -> None:
    """The same two concurrent edits, with the copy's base version kept (3 edits between: the
    server merges) or gone (170: the client rebases), leave the same object."""
    doc = Doc.objects.create(text="buy milk", tags=["a", "b"])
    copy = Doc.objects.get(doc.id or "")
    edit_elsewhere(phone, doc.id or "", others, text="buy milk today", tags=["a", "b", "c"])
    copy.text = "please buy milk"
    copy.tags = ["b", "x"]
    copy.save()
    stored = client.bucket("docs").get(doc.id or "")
    assert stored == {"text": "please buy milk today", "count": others, "tags": ["b", "x", "c"]}
    assert (copy.text, copy.tags, copy.version) == (stored["text"], stored["tags"], others + 2)
