"""The fault proxy itself: each fault does what it says, the plan is deterministic, and
closing leaves no thread behind."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests

from simperium_orm.testing import SimperiumServer
from tests.support.fault_proxy import PASS, Fault, FaultProxy, SeededFaults, schedule


@pytest.fixture
def token(simperium_server: SimperiumServer) -> str:
    return simperium_server.create_user()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def proxy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("fault-proxy")]


def post(http: requests.Session, url: str, token: str, item: str) -> requests.Response:
    return http.post(
        f"{url}/1/demo/note/i/{item}",
        params={"ccid": f"ccid-{item}", "response": "1"},
        json={"title": item},
        headers={"X-Simperium-Token": token},
        timeout=10,
    )


def version(server: SimperiumServer, token: str, item: str) -> int | None:
    response = requests.get(
        f"{server.url}/1/demo/note/i/{item}", headers={"X-Simperium-Token": token}, timeout=10
    )
    return int(response.headers["X-Simperium-Version"]) if response.ok else None


def test_a_passing_connection_relays_and_asks_for_one_request_per_connection(
    simperium_server: SimperiumServer, token: str, http: requests.Session
) -> None:
    with FaultProxy(simperium_server.url) as proxy:
        first = post(http, proxy.url, token, "a")
        second = post(http, proxy.url, token, "b")
    assert (first.status_code, first.json()) == (200, {"title": "a"})
    assert first.headers["Connection"] == "close"
    assert second.status_code == 200
    assert proxy.stats.connections == 2  # the session did not reuse the first connection
    assert proxy.stats.faults == {"pass": 2}
    assert proxy_threads() == []


@pytest.mark.parametrize("cut_after", [0, 10, 120, 10_000])
@pytest.mark.parametrize("reset", [False, True])
def test_a_cut_loses_the_answer_of_a_request_the_server_applied(
    simperium_server: SimperiumServer,
    token: str,
    http: requests.Session,
    cut_after: int,
    reset: bool,
) -> None:
    item = f"cut-{cut_after}-{reset}"
    with FaultProxy(
        simperium_server.url, schedule(Fault("cut", cut_after=cut_after, reset=reset))
    ) as proxy:
        with pytest.raises(requests.exceptions.RequestException):
            post(http, proxy.url, token, item).json()
        assert post(http, proxy.url, token, item).status_code == 409  # same ccid: applied once
    assert version(simperium_server, token, item) == 1
    assert proxy.stats.faults == {"cut": 1, "pass": 1}
    assert proxy.stats.answered_then_cut == {"POST": 1}
    assert proxy.stats.cut_rate == 0.5


def test_a_dropped_connection_never_reaches_the_server(
    simperium_server: SimperiumServer, token: str, http: requests.Session
) -> None:
    with FaultProxy(simperium_server.url, schedule(Fault("drop"))) as proxy:
        with pytest.raises(requests.exceptions.ConnectionError):
            post(http, proxy.url, token, "dropped")
        assert version(simperium_server, token, "dropped") is None
        assert post(http, proxy.url, token, "dropped").status_code == 200
    assert proxy.stats.faults == {"drop": 1, "pass": 1}
    assert not proxy.stats.answered_then_cut


def test_a_delayed_connection_is_relayed(
    simperium_server: SimperiumServer, token: str, http: requests.Session
) -> None:
    with FaultProxy(simperium_server.url, schedule(Fault("delay", delay=0.05))) as proxy:
        assert post(http, proxy.url, token, "late").status_code == 200
    assert proxy.stats.faults == {"delay": 1}


def test_closing_ends_open_connections_and_joins_every_thread(
    simperium_server: SimperiumServer, token: str
) -> None:
    proxy = FaultProxy(simperium_server.url, schedule(Fault("delay", delay=60)))
    failures: list[BaseException] = []

    def wait_for_the_answer() -> None:
        try:
            with requests.Session() as session:
                post(session, proxy.url, token, "stuck")
        except requests.exceptions.RequestException as exc:
            failures.append(exc)

    stuck = threading.Thread(target=wait_for_the_answer)
    stuck.start()
    while not proxy.stats.faults:
        threading.Event().wait(0.01)
    proxy.close()
    stuck.join(10)
    assert not stuck.is_alive() and len(failures) == 1  # its connection was closed
    assert proxy_threads() == []


def test_seeded_faults_depend_only_on_the_seed_and_the_connection_number() -> None:
    plan = SeededFaults(seed=7, cut=0.2, delay=0.1)
    faults = [plan(n) for n in range(1, 5001)]
    assert faults == [SeededFaults(seed=7, cut=0.2, delay=0.1)(n) for n in range(1, 5001)]
    assert faults != [SeededFaults(seed=8, cut=0.2, delay=0.1)(n) for n in range(1, 5001)]
    kinds = [f.kind for f in faults]
    lost = (kinds.count("drop") + kinds.count("cut")) / len(kinds)
    assert 0.18 < lost < 0.22
    assert 0.08 < kinds.count("delay") / len(kinds) < 0.12
    assert kinds.count("drop") < kinds.count("cut")
    assert schedule(Fault("drop"))(1).kind == "drop" and schedule(Fault("drop"))(2) == PASS


def test_an_answer_in_the_servers_place_never_reaches_the_server(
    simperium_server: SimperiumServer, token: str, http: requests.Session
) -> None:
    with FaultProxy(simperium_server.url, schedule(Fault("answer"))) as proxy:
        refused = post(http, proxy.url, token, "answered")
        passed = post(http, proxy.url, token, "passed")
    assert (refused.status_code, refused.json()["error"]) == (503, 503)
    assert passed.status_code == 200
    assert version(simperium_server, token, "answered") is None
    assert version(simperium_server, token, "passed") == 1
    assert proxy_threads() == []


def test_a_trickling_answer_sends_a_head_that_never_ends(simperium_server: SimperiumServer) -> None:
    with FaultProxy(simperium_server.url, schedule(Fault("trickle"))) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /1/demo/note/index HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while received.count(b"a") < 4:  # a read timeout never fires: bytes keep coming
                received += conn.recv(100)
    assert received.startswith(b"HTTP/1.1 200 OK\r\nX-Slow: a")
    assert b"\r\n\r\n" not in received
    assert proxy.stats.faults == {"trickle": 1}
    assert proxy_threads() == []
