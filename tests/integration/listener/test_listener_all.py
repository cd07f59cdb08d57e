"""``all_users=True``: every user's changes through ``/all`` with the admin key."""

from __future__ import annotations

import pytest

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.listener_support import recording


class Shared(so.Model, bucket="shared"):
    title: str
    done: bool = False


def user(server: SimperiumServer) -> tuple[str, so.Client]:
    account = server.create_account()
    return account["userid"], server.client(account["access_token"])


def test_every_users_changes_with_their_userid(local_server: SimperiumServer) -> None:
    admin = local_server.admin_client()
    (alice_id, alice), (bob_id, bob) = user(local_server), user(local_server)
    listener = so.Listener(Shared, client=admin, all_users=True)
    folding = so.Listener(Shared, client=admin, all_users=True, coalesce=True)
    alice.bucket("shared").write("x", {"title": "alice's"})
    bob.bucket("shared").write("x", {"title": "bob's"})
    bob.bucket("shared").write("x", {"done": True})
    alice.bucket("shared").delete("x")
    with recording(Shared) as rec:
        events = listener.poll()
    assert [(e.kind, e.userid, e.id, e.version, e.changed_fields) for e in events] == [
        ("created", alice_id, "x", 1, {"title"}),
        ("created", bob_id, "x", 1, {"title"}),
        ("updated", bob_id, "x", 2, {"done"}),
        ("deleted", alice_id, "x", 2, set()),
    ]
    instances = [(e.instance.title, e.instance.done) for e in events if e.instance is not None]
    assert instances == [("alice's", False), ("bob's", False), ("bob's", True)]
    assert rec.heard[1].kwargs["userid"] == bob_id
    assert rec.heard[3].kwargs == {"id": "x", "change": events[3].change, "userid": alice_id}
    assert events[3].change["id"] == f"{alice_id}/x"
    assert "username" in events[0].change
    assert listener.poll() == []
    # Folded: Bob's creation and update are one creation; Alice's object came and went.
    with recording(Shared):
        [event] = folding.poll()
    assert (event.kind, event.userid, event.version) == ("created", bob_id, 2)
    assert event.changed_fields == {"title", "done"}
    for client in (admin, alice, bob):
        client.close()


def test_an_object_from_before_the_listener_is_read_as_its_owner(
    local_server: SimperiumServer,
) -> None:
    admin = local_server.admin_client()
    alice_id, alice = user(local_server)
    alice.bucket("shared").write("old", {"title": "before"})
    listener = so.Listener(Shared, client=admin, all_users=True)
    alice.bucket("shared").write("old", {"title": "after"})
    alice.bucket("shared").write("old", {"done": True})
    with recording(Shared):
        events = listener.poll()
    assert [(e.version, e.instance.title, e.instance.done) for e in events if e.instance] == [
        (2, "after", False),
        (3, "after", True),
    ]
    assert all(e.userid == alice_id for e in events)
    admin.close()
    alice.close()


def test_own_writes_are_skipped_and_instances_save_as_their_owner(
    local_server: SimperiumServer,
) -> None:
    admin = local_server.admin_client()
    alice_id, alice = user(local_server)
    with (
        recording(Shared) as rec,
        so.Listener(Shared, client=admin, all_users=True, poll_timeout=5),
    ):
        alice.bucket("shared").write("a", {"title": "from alice"})
        assert rec.wait_count(1)
        instance = rec.heard[0].kwargs["instance"]
        instance.done = True
        instance.save()  # as Alice, with the listener's clientid: not heard back
        same_clientid = so.Client(
            "demo", local_server.admin_key, api_url=local_server.url, userid=alice_id,
            clientid=admin.clientid,
        )  # fmt: skip
        same_clientid.bucket("shared").write("b", {"title": "mine"})
        alice.bucket("shared").write("c", {"title": "theirs"})
        assert rec.wait_count(2)
    assert [h.kwargs["instance"].title for h in rec.heard] == ["from alice", "theirs"]
    assert alice.bucket("shared").get("a") == {"title": "from alice", "done": True}
    for client in (admin, alice, same_clientid):
        client.close()


def test_all_users_needs_the_admin_key(local_server: SimperiumServer) -> None:
    _, alice = user(local_server)
    with pytest.raises(so.AuthError):
        so.Listener(Shared, client=alice, all_users=True)
    alice.close()


def test_an_unknown_cv_replays_the_log_from_its_start(local_server: SimperiumServer) -> None:
    admin = local_server.admin_client()
    alice_id, alice = user(local_server)
    start = so.Listener(Shared, client=admin, all_users=True).cv
    alice.bucket("shared").write("r", {"title": "replayed"})
    listener = so.Listener(Shared, client=admin, all_users=True, cv="f" * 24)
    with recording(Shared):
        events = listener.poll()  # 404: from the start of the log again
        assert listener.poll() == []
    replayed = [(e.userid, e.id, e.instance.title) for e in events if e.instance is not None]
    assert (alice_id, "r", "replayed") in replayed
    assert start is not None and listener.cv is not None and listener.cv > start
    admin.close()
    alice.close()
