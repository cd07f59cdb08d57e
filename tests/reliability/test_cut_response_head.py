"""A connection closed inside the response head is a lost answer, retried, not a response.

``http.client`` takes the end of the stream for the end of a head, so a head cut after
``date: Sat, 28 N`` used to come back as a 200 with no body: ``save()`` then raised
``ProtocolError`` although the write had landed. Now such an answer (no body, no framing
header) counts as a broken connection and is retried with the same ccid.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import closing

import pytest
import requests

import simperium_orm as so
import simperium_orm.core
from simperium_orm.testing import SimperiumServer
from simperium_orm.wire.transport import Transport
from tests.support.fault_proxy import PASS, Fault, FaultProxy, schedule


class Note(so.Model, bucket="note"):
    title: str


def head_length(server: SimperiumServer, token: str) -> int:
    """The length of a write's response head as the server sends it (plus the proxy's line)."""
    response = requests.post(
        f"{server.url}/1/demo/note/i/probe",
        params={"response": "1"},
        json={"title": "probe"},
        headers={"X-Simperium-Token": token},
        timeout=10,
    )
    lines = [f"HTTP/1.1 {response.status_code} {response.reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    return len("\r\n".join([*lines, "Connection: close", "", ""]))


def test_a_save_whose_answer_is_cut_anywhere_in_the_head_lands_once(
    simperium_server: SimperiumServer,
) -> None:
    token = simperium_server.create_user()
    direct = simperium_server.client(token)
    for cut in range(head_length(simperium_server, token) + 1):
        # create: cut, retry (409), read back; update: cut, retry (409), read back
        cut_here = Fault("cut", cut_after=cut)
        faults = schedule(cut_here, PASS, PASS, cut_here)
        with FaultProxy(simperium_server.url, faults) as proxy:
            client = so.Client(
                "demo", token, api_url=proxy.url, transport=Transport(retries=3, backoff=0.001)
            )
            note = Note(title="new")
            note.save(using=client)  # cut, then 409 for the same ccid
            note.title = "changed"
            note.save()  # cut, then 409 again
            client.close()
        assert note.version == 2, cut
        assert direct.bucket("note").fetch(str(note.id)) == so.core.Document(
            str(note.id), 2, {"title": "changed"}
        )
        assert proxy.stats.answered_then_cut == {"POST": 2}
    direct.close()


@contextlib.contextmanager
def canned(*answers: bytes) -> Iterator[str]:
    """A server answering its n-th connection with ``answers[n]`` and closing it; its URL."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        for answer in answers:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(answer)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        thread.join(10)
        listener.close()


CUT = b"HTTP/1.1 200 OK\r\ndate: Sat, 28 N"
WHOLE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"


def test_an_unframed_empty_answer_is_retried_and_then_a_transport_error() -> None:
    with (
        canned(CUT, WHOLE) as url,
        closing(Transport(retries=1, sleep=lambda _: None)) as transport,
    ):
        response = transport.request("GET", f"{url}/x")
        assert (response.status_code, response.content, response.retried) == (200, b"{}", True)
    with (
        canned(CUT) as url,
        closing(Transport(retries=0)) as transport,
        pytest.raises(so.TransportError),
    ):
        transport.request("GET", f"{url}/x")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nunframed but not empty",
    ],
)
def test_complete_answers_are_kept(answer: bytes) -> None:
    with canned(answer) as url, closing(Transport(retries=0)) as transport:
        assert transport.request("GET", f"{url}/x").status_code in (200, 204)
