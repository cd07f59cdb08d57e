"""The streaming protocol's pure rules: reading frames, requests, and writing messages."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simperium_orm.server import stream_protocol as sp


@given(st.text(max_size=80))
def test_any_text_is_a_message_or_a_protocol_error(text: str) -> None:
    try:
        frame = sp.parse_frame(text)
    except sp.ProtocolError as exc:
        assert exc.code == sp.CLOSE_PROTOCOL and exc.reason and len(exc.reason.encode()) < 120
        return
    assert isinstance(frame, (sp.Heartbeat, sp.Ignored, sp.Command))


def test_frames_are_split_at_the_first_colons() -> None:
    assert sp.parse_frame("h:7") == sp.Heartbeat(7)
    assert sp.parse_frame("h:x") == sp.Heartbeat(None)
    assert sp.parse_frame('log:{"log":"x"}') == sp.Ignored()
    assert sp.parse_frame('3:c:{"a":"b:c"}') == sp.Command(3, "c", '{"a":"b:c"}')
    assert sp.parse_frame("0:i:1:mark::10") == sp.Command(0, "i", "1:mark::10")
    for bad in ("h", "x:i:", "0:nope:", "-1:i:", "1234567890:i:"):
        with pytest.raises(sp.ProtocolError):
            sp.parse_frame(bad)


def test_index_requests_take_the_mark_from_either_slot_and_clamp_the_limit() -> None:
    assert sp.parse_index("1:m::10", 100, 1000) == sp.IndexRequest(True, "m", 10)
    assert sp.parse_index("::m:50", 100, 1000) == sp.IndexRequest(False, "m", 50)
    assert sp.parse_index("", 100, 1000) == sp.IndexRequest(False, None, 100)
    assert sp.parse_index("1:::x", 100, 1000).limit == 100
    assert sp.parse_index("1:::0", 100, 1000).limit == 1
    assert sp.parse_index("1:::99999", 100, 1000).limit == 1000


def test_entity_requests_split_at_the_last_dot() -> None:
    assert sp.parse_entity("a.b.c.12") == ("a.b.c", 12)
    for bad in ("abc", "a.", ".1", "a.0", "a.-1", "a b.1", "a.1x"):
        assert sp.parse_entity(bad) is None


def test_init_is_checked_and_never_shows_its_token() -> None:
    init = sp.parse_init(
        json.dumps({"token": "t0k3n", "name": "Notes", "clientid": "c", "cmd": "cv:x"})
    )
    assert (init.bucket, init.clientid, init.cmd) == ("notes", "c", "cv:x")
    assert "t0k3n" not in repr(init)
    assert sp.parse_init('{"token":"t","name":"n"}').clientid.startswith("ws-")
    assert sp.parse_init('{"token":"t","name":"n","client_id":"old"}').clientid == "old"
    for body, code in (("[]", 400), ('{"name":"n"}', 400), ('{"token":"t"}', 500),
                       ('{"token":"t","name":"n","clientid":" "}', 400),
                       ('{"token":"t","name":"n","cmd":1}', 400)):  # fmt: skip
        with pytest.raises(sp.Refused) as refused:
            sp.parse_init(body)
        assert refused.value.code == code


def test_changes_take_an_object_or_an_array_and_ios_string_versions() -> None:
    assert sp.parse_changes('{"id":"a"}') == [{"id": "a"}]
    assert sp.parse_changes('[{"id":"a"},{"id":"b"}]') == [{"id": "a"}, {"id": "b"}]
    for bad in ("x", "1", "[" * 200 + "]" * 200, "NaN"):
        with pytest.raises(sp.Refused):
            sp.parse_changes(bad)
    assert sp.prepare_change({"sv": "12"}, "ios")["sv"] == 12
    assert sp.prepare_change({"sv": "x"}, "ios")["sv"] == "x"


def test_only_node_ghosts_are_taken_out_of_full_resends() -> None:
    ghost = {"id": "a", "o": "M", "sv": 3, "v": {"x": 1}, "d": {"version": 3, "data": {"t": 1}}}
    assert sp.prepare_change(ghost, "node-simperium")["d"] is None
    assert sp.prepare_change(ghost, "android") == ghost
    real = {**ghost, "d": {"data": {"t": 1}, "title": "kept"}}
    assert sp.prepare_change(real, "node-simperium") == real


def test_replies() -> None:
    assert sp.heartbeat(4) == "h:5" and sp.heartbeat(None) == "h:1"
    assert sp.auth_ok(2, "a@b.c") == "2:auth:a@b.c"
    assert json.loads(sp.auth_error(0, 401, "no").split(":", 2)[2]) == {"msg": "no", "code": 401}
    assert sp.entity(1, "a.2", None) == "1:e:a.2\n?"
    assert sp.entity(1, "a.2", '{"x":1}') == '1:e:a.2\n{"data":{"x":1}}'
    assert json.loads(sp.encode_change({"id": "a", "clientid": None}))["clientid"] == sp.NO_CLIENTID


@given(st.lists(st.text(max_size=300).map(json.dumps), max_size=40), st.integers(200, 2000))
def test_change_messages_keep_order_and_size(changes: list[str], limit: int) -> None:
    messages = list(sp.change_messages(5, changes, limit))
    assert messages  # an answer even for no change
    joined = [item for message in messages for item in json.loads(message.removeprefix("5:c:"))]
    assert joined == [json.loads(change) for change in changes]
    for message in messages:
        assert len(message.encode()) <= limit or len(json.loads(message[4:])) == 1
