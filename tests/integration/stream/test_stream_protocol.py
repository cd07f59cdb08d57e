"""The streaming protocol against the local server: auth, index, versions, catch-up, changes.

Each test speaks raw frames through :class:`tests.support.stream.StreamSocket` and checks the
answers, and the HTTP side where both must agree.
"""

from __future__ import annotations

import json
import threading

import pytest

from simperium_orm import jsondiff
from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account
from tests.support.stream import StreamSocket

ZERO = "0" * 24


@pytest.fixture
def sock(local_server: SimperiumServer) -> StreamSocket:
    with StreamSocket(local_server) as sock:
        yield sock


# -- init and auth --------------------------------------------------------------------------


def test_auth_answers_the_username_and_errors_as_json_with_numeric_codes(
    local_server: SimperiumServer, account: Account, sock: StreamSocket
) -> None:
    assert sock.open(0, account.token, "notes") == account.username
    assert json.loads(sock.open(1, "not-a-token", "notes")) == {"msg": "Token invalid", "code": 401}
    sock.send("2:init:{not json")
    assert json.loads(sock.expect("2:auth:"))["code"] == 400
    assert json.loads(sock.open(3, account.token, "bad/name"))["code"] == 500
    assert json.loads(sock.open(4, account.token, "notes", app_id="other"))["code"] == 401
    assert json.loads(sock.open(5, local_server.admin_key, "notes"))["code"] == 401
    message = sock.open(6, account.token, "notes", clientid=17)
    assert json.loads(message)["code"] == 400
    assert account.token not in message


def test_commands_on_a_channel_never_opened_get_an_auth_error(
    account: Account, sock: StreamSocket
) -> None:
    sock.send("7:i:1:::10")
    assert json.loads(sock.expect("7:auth:"))["code"] == 401
    sock.open(0, account.token, "notes")  # the socket goes on
    sock.send("0:i:1:::10")
    assert sock.expect_json("0:i:")["index"] == []


def test_an_unknown_app_in_the_url_refuses_every_init(
    local_server: SimperiumServer, account: Account
) -> None:
    with StreamSocket(local_server, local_server.stream_url.replace("/demo/", "/other/")) as sock:
        assert json.loads(sock.open(0, account.token, "notes"))["code"] == 401


def test_the_url_without_an_app_takes_it_from_init(
    local_server: SimperiumServer, account: Account
) -> None:
    url = local_server.stream_url.replace(f"/1/{local_server.app_id}", "")
    with StreamSocket(local_server, url) as sock:
        assert json.loads(sock.open(0, account.token, "notes"))["code"] == 400
        assert sock.open(1, account.token, "notes", app_id="DEMO") == account.username


def test_init_cmd_runs_after_auth(account: Account, sock: StreamSocket) -> None:
    account.put_object("notes", "a", {"x": 1})
    sock.open(0, account.token, "notes", cmd="i::::50")
    page = sock.expect_json("0:i:")
    assert page["index"] == [{"id": "a", "v": 1}]
    assert "mark" not in page


# -- index ----------------------------------------------------------------------------------


def test_index_pages_honour_the_limit_and_keep_current(
    account: Account, sock: StreamSocket
) -> None:
    for n in range(25):
        account.put_object("notes", f"o{n:02d}", {"n": n})
    sock.open(0, account.token, "notes")
    seen, mark, currents = {}, "", set()
    while True:
        sock.send(f"0:i:1:{mark}::10")
        page = sock.expect_json("0:i:")
        assert len(page["index"]) <= 10
        currents.add(page["current"])
        seen.update({entry["id"]: (entry["v"], entry["d"]) for entry in page["index"]})
        if "mark" not in page:
            break
        mark = page["mark"]
        account.put_object("notes", f"late{len(seen)}", {"late": True})  # not in this walk
    assert seen == {f"o{n:02d}": (1, {"n": n}) for n in range(25)}
    assert len(currents) == 1
    # the walk's last page synced the channel at its snapshot: the late objects follow
    pushed = sock.changes(0)
    assert sorted(change["id"] for change in pushed) == ["late10", "late20"]


def test_index_pages_stay_under_a_mebibyte(account: Account, sock: StreamSocket) -> None:
    big = "x" * 300_000
    for n in range(5):
        account.put_object("big", f"b{n}", {"text": big})
    sock.open(0, account.token, "big")
    sock.send("0:i:1:::10")
    total, message = 0, ""
    while True:
        message = sock.recv()
        assert len(message.encode()) < 1_000_000
        page = json.loads(message.removeprefix("0:i:"))
        total += len(page["index"])
        if "mark" not in page:
            break
        sock.send(f"0:i:1:{page['mark']}::10")
    assert total == 5


def test_a_mark_from_elsewhere_starts_the_walk_again(account: Account, sock: StreamSocket) -> None:
    account.put_object("notes", "a", {"x": 1})
    sock.open(0, account.token, "notes")
    sock.send("0:i:1:not-our-mark::10")
    assert sock.expect_json("0:i:")["index"] == [{"id": "a", "v": 1, "d": {"x": 1}}]


# -- entity ---------------------------------------------------------------------------------


def test_e_answers_any_kept_version_or_a_question_mark(
    account: Account, sock: StreamSocket
) -> None:
    account.put_object("notes", "n.with.dots", {"v": 1})
    account.put_object("notes", "n.with.dots", {"v": 2})
    sock.open(0, account.token, "notes")
    for version, data in ((1, {"v": 1}), (2, {"v": 2})):
        sock.send(f"0:e:n.with.dots.{version}")
        head, body = sock.expect("0:e:").split("\n")
        assert head == f"n.with.dots.{version}"
        assert json.loads(body) == {"data": data}
    for request in ("n.with.dots.3", "missing.1", "no-version", "x.0", "bad id.1"):
        sock.send(f"0:e:{request}")
        assert sock.expect("0:e:") == f"{request}\n?"


# -- catch-up -------------------------------------------------------------------------------


def test_cv_answers_the_changes_after_it_or_cv_unknown(
    account: Account, sock: StreamSocket
) -> None:
    account.put_object("notes", "a", {"x": 1})
    sock.open(0, account.token, "notes")
    sock.send(f"0:cv:{ZERO}")
    first = sock.changes(0)
    assert [(c["id"], c["ev"]) for c in first] == [("a", 1)]
    assert "sv" not in first[0]
    assert first[0]["clientid"] == "simperium-http"  # written over HTTP without a clientid
    sock.send(f"0:cv:{first[0]['cv']}")
    assert sock.changes(0) == []
    for unknown in ("f" * 24, "nonsense", ""):
        sock.send(f"0:cv:{unknown}")
        assert sock.expect("0:cv:") == "?"
    sock.open(1, account.token, "notes")
    sock.send(f"1:cv:{first[0]['cv']}")  # a cv of this bucket, on a fresh channel
    assert sock.changes(1) == []


# -- changes --------------------------------------------------------------------------------


def test_a_change_is_acknowledged_to_its_sender_and_pushed_to_every_channel(
    local_server: SimperiumServer, account: Account, other_account: Account, sock: StreamSocket
) -> None:
    sock.synced(0, account.token, "notes")
    sock.synced(1, account.token, "tags")  # another bucket: hears nothing of notes
    sock.synced(2, other_account.token, "notes")  # another user: hears nothing either
    with StreamSocket(local_server) as peer:
        peer.synced(0, account.token, "notes")
        sock.send('0:c:{"o":"M","id":"k","ccid":"c-1","v":{"t":{"o":"+","v":"hi"}}}')
        ack = sock.changes(0)
        assert ack == peer.changes(0)
        assert ack[0]["ccids"] == ["c-1"] and ack[0]["clientid"] == "test-0"
        assert ack[0]["ev"] == 1 and "sv" not in ack[0]
        assert ack[0]["v"] == {"t": {"o": "+", "v": "hi"}}
        # a stale change is rebased: sv and v say what the server applied
        account.post(account.url("notes", "i", "k"), json={"t": "hi there"})
        assert [c["ev"] for c in sock.changes(0)] == [2]
        assert [c["ev"] for c in peer.changes(0)] == [2]
        peer.send('0:c:{"o":"M","id":"k","ccid":"c-2","sv":"1","v":{"t":{"o":"d","v":"=2\\t+!"}}}')
        applied = peer.changes(0)[0]
        assert applied == sock.changes(0)[0]
        assert (applied["sv"], applied["ev"], applied["ccids"]) == (2, 3, ["c-2"])
        head = account.get(account.url("notes", "i", "k")).json()
        assert head == {"t": "hi there!"}
        assert jsondiff.apply({"t": "hi there"}, applied["v"]) == head  # v goes from sv to ev
    assert sock.quiet()  # nothing reached the other bucket or the other user


def test_errors_go_to_the_sender_alone_with_numeric_codes(
    local_server: SimperiumServer, account: Account, sock: StreamSocket
) -> None:
    account.put_object("notes", "k", {"t": "x"})
    sock.synced(0, account.token, "notes")
    with StreamSocket(local_server) as peer:
        peer.synced(0, account.token, "notes")
        sock.send('0:c:{"o":"M","id":"k","ccid":"dup","sv":1,"v":{"t":{"o":"r","v":"y"}}}')
        assert sock.changes(0)[0]["ccids"] == ["dup"]
        assert peer.changes(0)[0]["ccids"] == ["dup"]
        cases = {
            '{"o":"M","id":"k","ccid":"dup","sv":2,"v":{"t":{"o":"r","v":"z"}}}': 409,
            '{"o":"M","id":"k","ccid":"e1","sv":2,"v":{"t":{"o":"r","v":"y"}}}': 412,
            '{"o":"M","id":"k","ccid":"e2","sv":9,"v":{"t":{"o":"r","v":"y"}}}': 405,
            '{"o":"M","id":"bad id","ccid":"e3","v":{}}': 400,
            '{"o":"X","id":"k","ccid":"e4"}': 400,
            '{"o":"-","id":"never","ccid":"e5"}': 404,
            "[1]": 400,
            "not json": 400,
        }
        for body, code in cases.items():
            sock.send(f"0:c:{body}")
            [error] = sock.changes(0)
            assert error["error"] == code, body
            assert error["clientid"] == "test-0"
        assert peer.quiet()


def test_deleting_a_deleted_object_is_an_empty_change(account: Account, sock: StreamSocket) -> None:
    account.put_object("notes", "k", {"t": "x"})
    sock.synced(0, account.token, "notes")
    account.delete(account.url("notes", "i", "k"))
    removed = sock.changes(0)[0]
    assert (removed["o"], removed["ev"]) == ("-", 2)
    sock.send('0:c:{"o":"-","id":"k","ccid":"echo"}')  # node echoes a remote delete
    assert sock.changes(0) == [{"id": "k", "clientid": "test-0", "ccids": ["echo"], "error": 412}]


def test_node_full_object_resend_never_writes_its_ghost(
    account: Account, sock: StreamSocket
) -> None:
    account.put_object("notes", "k", {"t": "x"})
    sock.open(0, account.token, "notes", library="node-simperium")
    sock.send(f"0:cv:{ZERO}")
    sock.changes(0)
    ghost = {"version": 1, "data": {"t": "x"}}
    sock.send(
        json.dumps({"o": "M", "id": "k", "ccid": "f", "sv": 1, "v": {}, "d": ghost}).join(
            ["0:c:", ""]
        )
    )
    assert sock.changes(0)[0]["error"] == 412
    assert account.get(account.url("notes", "i", "k")).json() == {"t": "x"}


def test_an_index_walk_is_followed_by_each_later_change_exactly_once(
    account: Account, sock: StreamSocket
) -> None:
    for n in range(3):
        account.put_object("notes", f"o{n}", {"n": 0})
    sock.open(0, account.token, "notes")
    sock.send("0:i:1:::1")
    page = sock.expect_json("0:i:")
    account.put_object("notes", "o0", {"n": 1})  # listed later in this walk at v2
    account.put_object("notes", "o2", {"n": 1})  # already listed at v1: its v2 is pushed
    listed = {entry["id"]: entry["v"] for entry in page["index"]}
    while "mark" in page:
        sock.send(f"0:i:1:{page['mark']}::1")
        page = sock.expect_json("0:i:")
        listed.update({entry["id"]: entry["v"] for entry in page["index"]})
    assert listed == {"o0": 2, "o1": 1, "o2": 1}
    assert [(c["id"], c["ev"]) for c in sock.changes(0)] == [("o2", 2)]
    account.put_object("notes", "o0", {"n": 2})
    assert [(c["id"], c["ev"]) for c in sock.changes(0)] == [("o0", 3)]
    assert sock.quiet()


def test_a_websocket_write_wakes_an_http_long_poll(
    local_server: SimperiumServer, account: Account, sock: StreamSocket
) -> None:
    sock.synced(0, account.token, "notes")
    answer: list[object] = []
    poll = threading.Thread(
        target=lambda: answer.append(
            account.get(account.url("notes", "changes"), params={"cv": ZERO}).json()
        )
    )
    poll.start()
    sock.send('0:c:{"o":"M","id":"w","ccid":"w1","v":{"a":{"o":"+","v":1}}}')
    sock.changes(0)
    poll.join(10)
    assert answer and [c["ccids"] for c in answer[0]] == [["w1"]]


def test_heartbeats_count_up(sock: StreamSocket) -> None:
    sock.send("h:0")
    assert sock.recv() == "h:1"
    sock.send("h:41")
    assert sock.recv() == "h:42"
    sock.send("h:x")
    assert sock.recv() == "h:1"
