"""The exact requests model saves, deletes, gets and bulk writes send, pinned with ``responses``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

import simperium_orm as so
from simperium_orm.orm.model import Model
from simperium_orm.wire.transport import Transport

BASE = "https://api.example.test"
TODO = f"{BASE}/1/myapp/todo"
TOKEN = "84f27d20f93b414f8b7bc3441f87c9e1"


class Todo(Model, bucket="todo"):
    title: str
    done: bool = False
    tags: list[str] = []


@pytest.fixture
def client() -> Iterator[so.Client]:
    client = so.Client(
        "myapp",
        TOKEN,
        api_url=BASE,
        clientid="py-test",
        transport=Transport(sleep=lambda s: None),
    )
    so.connect(client)
    yield client
    so.disconnect()


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def path(call: Any) -> str:
    return urlsplit(call.request.url).path


def body(call: Any) -> Any:
    return json.loads(call.request.body)


def answer(data: dict[str, Any], version: int, status: int = 200) -> dict[str, Any]:
    return {"json": data, "status": status, "headers": {"X-Simperium-Version": str(version)}}


def loaded(client: so.Client, **data: Any) -> Todo:
    return Todo.from_document("t1", 3, {"title": "milk", **data}, client=client)


# -- save -------------------------------------------------------------------------------------


def test_first_save_posts_the_whole_object_once(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(
        re.compile(rf"{TODO}/i/\w+"), **answer({"title": "milk", "done": False, "tags": []}, 1)
    )
    t = Todo(title="milk")
    t.save()
    (call,) = rsps.calls
    assert re.fullmatch(r"[0-9a-f]{32}", t.id or "")
    assert path(call) == f"/1/myapp/todo/i/{t.id}"
    assert query(call) == {
        "clientid": ["py-test"],
        "ccid": [query(call)["ccid"][0]],
        "response": ["1"],
    }
    assert re.fullmatch(r"[0-9a-f]{32}", query(call)["ccid"][0])
    assert body(call) == {"title": "milk", "done": False, "tags": []}
    assert call.request.headers["X-Simperium-Token"] == TOKEN
    assert t.version == 1
    assert t.changed_fields() == set()


def test_first_save_uses_a_chosen_id(client: so.Client, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{TODO}/i/my-id", **answer({"title": "milk"}, 1))
    t = Todo(title="milk")
    t.id = "my-id"
    t.save()
    assert t.id == "my-id" and len(rsps.calls) == 1


def test_saving_a_change_posts_only_that_field_to_the_version(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{TODO}/i/t1/v/3", **answer({"title": "milk", "done": True, "tags": ["x"]}, 5))
    t = loaded(client)
    t.done = True
    t.save()
    (call,) = rsps.calls
    assert body(call) == {"done": True}
    assert set(query(call)) == {"clientid", "ccid", "response"}
    # The server merged a concurrent change to tags: the object takes it back.
    assert (t.version, t.done, t.tags) == (5, True, ["x"])
    assert t.changed_fields() == set()


def test_in_place_mutation_is_saved(client: so.Client, rsps: responses.RequestsMock) -> None:
    rsps.post(f"{TODO}/i/t1/v/3", **answer({"title": "milk", "tags": ["a", "b"]}, 4))
    t = loaded(client, tags=["a"])
    t.tags.append("b")
    t.save()
    assert body(rsps.calls[0]) == {"tags": ["a", "b"]}


def test_nothing_changed_sends_nothing(client: so.Client, rsps: responses.RequestsMock) -> None:
    t = loaded(client)
    t.save()
    t.title = "milk"
    t.save()
    assert len(rsps.calls) == 0


def test_unknown_keys_stay_out_of_a_merge_and_survive_it(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{TODO}/i/t1/v/3", **answer({"title": "bread", "color": "red"}, 4))
    t = loaded(client, color="red")
    t.title = "bread"
    t.save()
    assert body(rsps.calls[0]) == {"title": "bread"}
    assert t.unknown_data == {"color": "red"}


def test_replace_posts_everything_without_a_version(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{TODO}/i/t1", **answer({"title": "milk", "done": True, "tags": [], "x": 1}, 9))
    t = loaded(client, x=1)
    t.done = True
    t.save(replace=True)
    (call,) = rsps.calls
    assert query(call)["replace"] == ["1"]
    assert body(call) == {"x": 1, "title": "milk", "done": True, "tags": []}
    assert t.version == 9


def test_replace_is_sent_even_without_changes(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{TODO}/i/t1", **answer({"title": "milk", "done": False, "tags": []}, 4))
    loaded(client).save(replace=True)
    assert len(rsps.calls) == 1


def test_update_fields_narrows_and_leaves_the_rest_unsaved(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{TODO}/i/t1/v/3", **answer({"title": "bread", "done": False, "tags": []}, 4))
    t = loaded(client)
    t.title = "bread"
    t.done = True
    t.save(update_fields=["title"])
    assert body(rsps.calls[0]) == {"title": "bread"}
    assert t.done is True and t.version == 4
    assert t.changed_fields() == {"done"}


def test_update_fields_with_nothing_changed_sends_nothing(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    t = loaded(client)
    t.done = True
    t.save(update_fields=["title"])
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("status", "says"), [(412, "empty change"), (404, "specified object version does not exist")]
)
def test_a_change_the_server_already_has_reads_the_object_back(
    client: so.Client, rsps: responses.RequestsMock, status: int, says: str
) -> None:
    """412: nothing to change. 404: version 3 is no longer kept, and the current object
    holds the edit already. Either way the object is read back and nothing more is sent."""
    rsps.post(f"{TODO}/i/t1/v/3", status=status, body=says)
    rsps.get(f"{TODO}/i/t1", **answer({"title": "milk", "done": True}, 6))
    t = loaded(client)
    t.done = True
    t.save()
    assert [c.request.method for c in rsps.calls] == ["POST", "GET"]
    assert t.version == 6 and t.changed_fields() == set()


def test_failed_save_leaves_the_object_as_it_was(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.post(f"{TODO}/i/t1/v/3", status=413, body="too large")
    t = loaded(client)
    t.title = "x" * 100
    with pytest.raises(so.TooLarge):
        t.save()
    assert t.version == 3 and t.changed_fields() == {"title"}


def test_save_of_a_deleted_object_reads_it_then_raises_does_not_exist(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    """A 404 names a missing version as well as a missing object: a read tells them apart."""
    rsps.post(f"{TODO}/i/t1/v/3", status=404, body="specified object version does not exist")
    rsps.get(f"{TODO}/i/t1", status=404, body="object does not exist")
    t = loaded(client)
    t.done = True
    with pytest.raises(Todo.DoesNotExist):
        t.save()
    assert [(c.request.method, path(c)) for c in rsps.calls] == [
        ("POST", "/1/myapp/todo/i/t1/v/3"),
        ("GET", "/1/myapp/todo/i/t1"),
    ]
    assert t.version == 3 and t.changed_fields() == {"done"}


def test_a_stale_save_rebases_onto_the_current_version(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    """Version 3 is no longer kept: the copy's edit is rebased onto version 170 (three-way
    from its snapshot) and posted there; the other client's edits are kept."""
    rsps.post(f"{TODO}/i/t1/v/3", status=404, body="specified object version does not exist")
    current = {"title": "buy milk", "done": False, "tags": ["a", "b"], "note": "kept"}
    rsps.get(f"{TODO}/i/t1", **answer(current, 170))
    # Both appended to ["a"]: the copy's element goes first, as the server merges lists.
    merged = {**current, "title": "buy milk today", "tags": ["a", "c", "b"]}
    rsps.post(f"{TODO}/i/t1/v/170", **answer(merged, 171))
    t = loaded(client, tags=["a"])
    t.title = "milk today"
    t.tags.append("c")
    t.save()
    posted = rsps.calls[-1]
    assert path(posted) == "/1/myapp/todo/i/t1/v/170" and "replace" not in query(posted)
    assert body(posted) == {"title": "buy milk today", "tags": ["a", "c", "b"]}
    assert (t.version, t.title, t.tags, t.unknown_data) == (
        171,
        "buy milk today",
        ["a", "c", "b"],
        {"note": "kept"},
    )


def test_a_stale_save_gives_up_with_not_found_while_the_object_keeps_moving(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    """Each read is outrun before the write lands: after a few rounds the 404 is raised as
    it is (not DoesNotExist: the object exists)."""
    rsps.post(f"{TODO}/i/t1/v/3", status=404, body="specified object version does not exist")
    for version in range(100, 105):
        rsps.get(f"{TODO}/i/t1", **answer({"title": f"v{version}"}, version))
        rsps.post(f"{TODO}/i/t1/v/{version}", status=404, body="version does not exist")
    t = loaded(client)
    t.done = True
    with pytest.raises(so.NotFound) as caught:
        t.save()
    assert not isinstance(caught.value, so.DoesNotExist)
    assert len(rsps.calls) == 11 and t.version == 3


def test_save_goes_through_the_client_the_object_came_from(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    other = so.Client("otherapp", "other-token", api_url=BASE)
    rsps.post(f"{BASE}/1/otherapp/todo/i/t1/v/3", **answer({"title": "milk", "done": True}, 4))
    t = Todo.from_document("t1", 3, {"title": "milk"}, client=other)
    t.done = True
    t.save()
    assert rsps.calls[0].request.headers["X-Simperium-Token"] == "other-token"


# -- get, refresh, delete ---------------------------------------------------------------------


def test_get(client: so.Client, rsps: responses.RequestsMock) -> None:
    rsps.get(f"{TODO}/i/t1", **answer({"title": "milk", "extra": 1}, 7))
    t = Todo.objects.get("t1")
    assert (t.id, t.version, t.title, t.unknown_data) == ("t1", 7, "milk", {"extra": 1})


def test_get_missing_raises_the_models_does_not_exist(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{TODO}/i/nope", status=404, body="not found")
    with pytest.raises(Todo.DoesNotExist, match="'nope' does not exist in bucket 'todo'"):
        Todo.objects.get("nope")


def test_get_checks_the_id_before_sending(client: so.Client, rsps: responses.RequestsMock) -> None:
    with pytest.raises(so.InvalidIdentifier):
        Todo.objects.get("not valid")
    assert len(rsps.calls) == 0


def test_refresh_reads_the_object_and_drops_local_changes(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    rsps.get(f"{TODO}/i/t1", **answer({"title": "bread"}, 8))
    t = loaded(client)
    t.done = True
    t.refresh()
    assert (t.title, t.done, t.version, t.changed_fields()) == ("bread", False, 8, set())


def test_delete(client: so.Client, rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{TODO}/i/t1", body="")
    t = loaded(client)
    t.delete()
    (call,) = rsps.calls
    assert set(query(call)) == {"clientid", "ccid"}
    assert (t.id, t.version) == ("t1", None)


def test_version_checked_delete(client: so.Client, rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{TODO}/i/t1/v/3", status=412, body="only the current version can be deleted")
    t = loaded(client)
    with pytest.raises(so.PreconditionFailed):
        t.delete(check_version=True)
    assert t.version == 3


def test_delete_of_a_missing_object(client: so.Client, rsps: responses.RequestsMock) -> None:
    rsps.delete(f"{TODO}/i/t1", status=404, body="object does not exist")
    with pytest.raises(Todo.DoesNotExist):
        loaded(client).delete()


# -- bulk -------------------------------------------------------------------------------------


def change_result(change: dict[str, Any], ev: int, **extra: Any) -> dict[str, Any]:
    out = {"id": change["id"], "o": "M", "ev": ev, "cv": "c" * 24, "ccids": [change["ccid"]]}
    if "sv" in change:
        out["sv"] = change["sv"]
    return {**out, **extra}


def test_bulk_save_posts_jsondiff_changes_in_batches(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        changes = json.loads(request.body)
        results = [change_result(c, c.get("sv", 0) + 1) for c in changes]
        return 200, {}, json.dumps(results)

    rsps.add_callback("POST", f"{TODO}/changes", callback=reply)
    new = [Todo(title=f"n{i}") for i in range(3)]
    old = loaded(client, tags=["a"])
    old.tags.append("b")
    same = Todo.from_document("t2", 2, {"title": "same"}, client=client)
    saved = Todo.objects.bulk_save([*new, old, same], batch_size=2)
    assert saved == [*new, old]
    assert len(rsps.calls) == 2
    first, second = (body(c) for c in rsps.calls)
    assert query(rsps.calls[0]) == {"clientid": ["py-test"], "wait": ["1"]}
    assert first[0] == {
        "id": new[0].id,
        "o": "M",
        "v": {
            "title": {"o": "+", "v": "n0"},
            "done": {"o": "+", "v": False},
            "tags": {"o": "+", "v": []},
        },
        "ccid": first[0]["ccid"],
    }
    assert second[1] == {
        "id": "t1",
        "o": "M",
        "v": {"tags": {"o": "r", "v": ["a", "b"]}},
        "ccid": second[1]["ccid"],
        "sv": 3,
    }
    assert [o.version for o in saved] == [1, 1, 1, 4]
    assert all(o.changed_fields() == set() for o in saved)


def test_bulk_save_with_nothing_changed_sends_nothing(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    assert Todo.objects.bulk_save([loaded(client)]) == []
    assert len(rsps.calls) == 0


def test_bulk_save_maps_failed_changes_to_bulk_error(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        a, b, c = json.loads(request.body)
        results = [
            change_result(a, 1),
            {"id": b["id"], "ccids": [b["ccid"]], "clientid": "py-test", "error": 405},
            {"id": c["id"], "ccids": [c["ccid"]], "clientid": "py-test", "error": 409},
        ]
        return 200, {}, json.dumps(results)

    rsps.add_callback("POST", f"{TODO}/changes", callback=reply)
    rsps.get(re.compile(rf"{TODO}/i/\w+"), **answer({"title": "c"}, 1))
    objs = [Todo(title="a"), Todo(title="b"), Todo(title="c")]
    with pytest.raises(so.BulkError, match="1 of 3 Todo changes failed") as err:
        Todo.objects.bulk_save(objs)
    assert err.value.failed == [(objs[1], 405)]
    assert len(err.value.results) == 3
    assert (objs[0].version, objs[1].version, objs[2].version) == (1, None, 1)
    assert objs[1].changed_fields() == {"title", "done", "tags"}


def test_bulk_save_rebases_a_change_whose_base_version_is_gone(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    """The 404 for ``sv: 3``: the object is read (there, at version 170) and its change is
    rebased onto it and sent again with ``sv: 170``; the result is taken without a read."""
    answers = iter([404, 0])

    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        (change,) = json.loads(request.body)
        if next(answers) == 404:
            error = {"id": change["id"], "ccids": [change["ccid"]], "error": 404}
            return 200, {}, json.dumps([error])
        return 200, {}, json.dumps([change_result(change, 171)])

    rsps.add_callback("POST", f"{TODO}/changes", callback=reply)
    rsps.get(f"{TODO}/i/t1", **answer({"title": "buy milk", "done": True, "tags": []}, 170))
    t = loaded(client)
    t.title = "milk today"
    assert Todo.objects.bulk_save([t]) == [t]
    first, again = (body(c) for c in (rsps.calls[0], rsps.calls[2]))
    assert first[0]["sv"] == 3 and path(rsps.calls[1]) == "/1/myapp/todo/i/t1"
    assert again == [
        {
            "id": "t1",
            "o": "M",
            "v": {"title": {"o": "d", "v": again[0]["v"]["title"]["v"]}},
            "ccid": again[0]["ccid"],
            "sv": 170,
        }
    ]
    assert len(rsps.calls) == 3 and again[0]["ccid"] != first[0]["ccid"]
    assert (t.version, t.title, t.done, t.changed_fields()) == (171, "buy milk today", True, set())


def test_bulk_save_fails_only_an_object_that_is_gone(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        (change,) = json.loads(request.body)
        return 200, {}, json.dumps([{"id": "t1", "ccids": [change["ccid"]], "error": 404}])

    rsps.add_callback("POST", f"{TODO}/changes", callback=reply)
    rsps.get(f"{TODO}/i/t1", status=404, body="object does not exist")
    t = loaded(client)
    t.done = True
    with pytest.raises(so.BulkError) as err:
        Todo.objects.bulk_save([t])
    assert err.value.failed == [(t, 404)] and len(rsps.calls) == 2
    assert t.version == 3 and t.changed_fields() == {"done"}


def test_bulk_save_reads_back_an_object_merged_over_other_changes(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        (change,) = json.loads(request.body)
        return 200, {}, json.dumps([change_result(change, 7, sv=6)])

    rsps.add_callback("POST", f"{TODO}/changes", callback=reply)
    rsps.get(f"{TODO}/i/t1", **answer({"title": "milk", "done": True, "tags": ["x"]}, 7))
    t = loaded(client)
    t.done = True
    Todo.objects.bulk_save([t])
    assert (t.version, t.tags) == (7, ["x"])


def test_bulk_delete(client: so.Client, rsps: responses.RequestsMock) -> None:
    def reply(request: Any) -> tuple[int, dict[str, str], str]:
        changes = json.loads(request.body)
        return 200, {}, json.dumps([{**c, "ev": 4, "cv": "c" * 24} for c in changes])

    rsps.add_callback("POST", f"{TODO}/changes", callback=reply)
    objs = [Todo.from_document(f"t{i}", 3, {"title": "x"}, client=client) for i in range(3)]
    assert Todo.objects.bulk_delete(objs) == objs
    changes = body(rsps.calls[0])
    assert [set(c) for c in changes] == [{"id", "o", "ccid"}] * 3
    assert [c["o"] for c in changes] == ["-"] * 3
    assert all(o.version is None for o in objs)


def test_bulk_delete_refuses_unsaved_objects_before_sending(
    client: so.Client, rsps: responses.RequestsMock
) -> None:
    with pytest.raises(ValueError, match="has not been saved"):
        Todo.objects.bulk_delete([loaded(client), Todo(title="new")])
    assert len(rsps.calls) == 0


def test_bulk_refuses_objects_of_another_model(client: so.Client) -> None:
    class Note(Model):
        text: str = ""

    with pytest.raises(TypeError, match="expected Todo objects"):
        Todo.objects.bulk_save([Note()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        Todo.objects.bulk_save([], batch_size=0)
