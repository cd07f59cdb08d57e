"""Bad input on the socket: every frame gets an answer in the protocol or a close with a code.

Never a crash (a close 1011, or no close at all), a stuck socket, a message a client cannot
parse, or another user's data.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simperium_orm.testing import SimperiumServer
from tests.support.accounts import Account, make_account
from tests.support.stream import Closed, StreamSocket

ZERO = "0" * 24
#: Close codes a client's bad input may earn: not the protocol, binary, too big.
BAD_INPUT_CLOSES = {1002, 1003, 1009}


def well_formed(message: str) -> None:
    """A server message every client can read: its JSON parses (node crashes otherwise)."""
    prefix, _, rest = message.partition(":")
    if prefix == "h":
        assert rest.isdigit(), message
        return
    assert prefix.isdigit(), message
    command, _, data = rest.partition(":")
    assert command in ("auth", "i", "c", "cv", "e"), message
    if command in ("i", "c"):
        json.loads(data)
    elif command == "cv":
        assert data == "?"
    elif command == "e":
        _, newline, body = data.partition("\n")
        assert newline and "\n" not in body and (body == "?" or "data" in json.loads(body))


def test_frames_outside_the_protocol_close_with_a_code_and_a_reason(
    local_server: SimperiumServer, account: Account
) -> None:
    cases = {
        "no colon at all": 1002,
        "x:y": 1002,
        "0:bogus:1": 1002,
        "1234567890:i:": 1002,
        ":": 1002,
    }
    for frame, code in cases.items():
        with StreamSocket(local_server) as sock:
            sock.open(0, account.token, "notes")
            sock.send(frame)
            closed = sock.closed()
            assert (closed.code, bool(closed.reason)) == (code, True), frame
    with StreamSocket(local_server) as sock:
        sock.send(b"0:i:1:::10")
        assert sock.closed().code == 1003


def test_an_oversize_message_closes_with_1009_and_loses_nothing_else() -> None:
    with SimperiumServer(max_body_size=64 * 1024) as server:
        account = make_account(server)
        with StreamSocket(server) as sock:
            sock.synced(0, account.token, "notes")
            sock.send('0:c:{"o":"M","id":"ok","ccid":"c1","v":{"a":{"o":"+","v":1}}}')
            assert sock.changes(0)[0]["ccids"] == ["c1"]
            big = json.dumps(
                {"o": "M", "id": "big", "ccid": "c2", "v": {"a": {"o": "+", "v": "x" * 70_000}}}
            )
            sock.send(f"0:c:{big}")
            assert sock.closed().code == 1009
        response = account.get(account.url("notes", "index"), params={"data": 1})
        assert [entry["id"] for entry in response.json()["index"]] == ["ok"]
        account.http.close()


def test_a_flood_of_frames_is_answered_in_order_while_others_are_served(
    local_server: SimperiumServer, account: Account, other_account: Account
) -> None:
    with StreamSocket(local_server) as sock:
        sock.synced(0, account.token, "notes")
        for n in range(2000):
            sock.send(f"h:{n}")
        for n in range(200):
            sock.send(f'0:c:{{"o":"M","id":"o{n % 7}","ccid":"f{n}","d":{{"n":{n}}}}}')
        started = time.perf_counter()
        other_account.put_object("notes", "meanwhile", {"fine": True})
        other_write = time.perf_counter() - started
        beats = [sock.recv() for _ in range(2000)]
        assert beats == [f"h:{n + 1}" for n in range(2000)]
        ccids = []
        while len(ccids) < 200:
            ccids += [change["ccids"][0] for change in sock.changes(0)]
        assert ccids == [f"f{n}" for n in range(200)]
    assert other_write < 5  # served beside the flood, not after it (a generous bound)


def test_a_client_that_reads_late_gets_every_answer_while_others_are_served(
    local_server: SimperiumServer, account: Account, other_account: Account
) -> None:
    payload = "y" * 20_000
    for n in range(40):
        account.put_object("wide", f"w{n:02d}", {"text": payload})  # 800 kB a page
    with StreamSocket(local_server) as sock:
        sock.open(0, account.token, "wide")
        for _ in range(30):  # 30 MB of answers asked for, none read yet
            sock.send("0:i:1:::1000")
        time.sleep(0.5)
        started = time.perf_counter()
        other_account.put_object("notes", "x", {"served": True})
        assert time.perf_counter() - started < 5
        for _ in range(30):
            assert len(sock.expect_json("0:i:")["index"]) == 40


# -- random frames --------------------------------------------------------------------------

PREFIXES = st.sampled_from(["h", "log", "0", "1", "7", "00", "x", "", "-1", "99999999999"])
COMMANDS = st.sampled_from(["init", "i", "cv", "e", "c", "index", "auth", "", "zz"])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
).map(json.dumps)
CHANGE = st.fixed_dictionaries(
    {"o": st.sampled_from(["M", "-", "X"]), "id": st.sampled_from(["a", "b", "bad id", ""])},
    optional={
        "ccid": st.text(max_size=10),
        "sv": st.integers(-2, 5) | st.text(max_size=3),
        "v": st.dictionaries(
            st.sampled_from(["t", "n"]),
            st.fixed_dictionaries(
                {
                    "o": st.sampled_from(["+", "-", "r", "d", "I", "L"]),
                    "v": st.text(max_size=6) | st.integers(),
                }
            ),
            max_size=2,
        ),
        "d": st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    },
).map(json.dumps)
DATA = st.one_of(
    st.text(max_size=40), JSONISH, CHANGE, st.sampled_from(["1:::10", ":x::0", "a.1", ZERO])
)
FRAMES = st.one_of(
    st.builds(lambda p, c, d: f"{p}:{c}:{d}", PREFIXES, COMMANDS, DATA),
    st.text(max_size=60),
    st.binary(max_size=20),
)


@pytest.fixture(scope="module")
def victims(local_server: SimperiumServer) -> Iterator[tuple[Account, Account, str]]:
    """A user who sends random frames, and another whose data must never show."""
    attacker, victim = make_account(local_server), make_account(local_server)
    secret = f"SECRET-{uuid.uuid4().hex}"
    victim.put_object("notes", "a", {"t": secret})
    attacker.put_object("notes", "a", {"t": "mine"})
    yield attacker, victim, secret
    attacker.http.close()
    victim.http.close()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frames=st.lists(FRAMES, min_size=1, max_size=4))
def test_random_frames_get_answers_or_a_close_never_a_crash(
    local_server: SimperiumServer, victims: tuple[Account, Account, str], frames: list[str | bytes]
) -> None:
    attacker, _, secret = victims
    with StreamSocket(local_server) as sock:
        sock.synced(0, attacker.token, "notes")
        try:
            for frame in frames:
                sock.send(frame)
            sock.send("h:99")
            while (message := sock.recv()) != "h:100":
                well_formed(message)
                assert secret not in message
        except Closed as closed:
            assert closed.code in BAD_INPUT_CLOSES, closed
    # the server is still whole
    assert requests.get(
        f"{local_server.url}/1/demo/notes/index", headers=attacker.headers, timeout=10
    ).ok


def test_random_frames_leave_the_server_serving_websockets(
    local_server: SimperiumServer, account: Account
) -> None:
    with StreamSocket(local_server) as sock:
        sock.synced(0, account.token, "notes")
        account.put_object("notes", "after", {"ok": True})
        assert sock.changes(0)[0]["id"] == "after"
