"""A replica converges through cut connections during its first sync and a server restart.

Each failure a background replica meets is reported through ``listener_error`` and the round
is tried again; the replica ends equal to the server.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import simperium_orm as so
from simperium_orm.testing import SimperiumServer
from tests.support.fault_proxy import FaultProxy, SeededFaults
from tests.support.replica_support import Contents, in_replica, on_server
from tests.support.server_process import ServerProcess


class Item(so.Model, bucket="items"):
    title: str
    n: int = 0


def mirrored(replica: so.Replica) -> Contents:
    return in_replica(replica)


def on_server_items(client: so.Client) -> Contents:
    return on_server(client, "items")


def wait_equal(replica: so.Replica, client: so.Client, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if mirrored(replica) == on_server_items(client):
            return
        time.sleep(0.05)
    assert mirrored(replica) == on_server_items(client)


def test_cut_connections_during_the_first_sync_are_reported_and_ridden_out(
    tmp_path: Path,
) -> None:
    with SimperiumServer(long_poll_timeout=1) as server:
        token = server.create_user()
        direct = server.client(token=token)
        Item.objects.using(direct).bulk_save([Item(title=f"i{n}", n=n) for n in range(4500)])
        with FaultProxy(server.url, SeededFaults(seed=11, cut=0.2)) as proxy:
            # No transport retries: every cut reaches the replica, which must go on by itself.
            client = so.Client("demo", token, api_url=proxy.url, retries=0)
            errors: list[BaseException] = []
            replica = so.Replica(str(tmp_path / "r.db"), Item, client=client, poll_timeout=1)
            so.signals.listener_error.connect(
                lambda s, error, **kw: errors.append(error), sender=replica, weak=False
            )
            with replica:
                assert replica.ready(60)
                for n in range(30):
                    Item.objects.using(direct).create(title=f"late{n}")
                wait_equal(replica, direct)
            replica.close()
            assert proxy.stats.connections > 0
        assert errors and all(isinstance(e, so.TransportError) for e in errors)


def test_a_server_restart_is_reported_and_ridden_out(tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "server.sqlite3", long_poll_timeout=1) as server:
        token = so.Auth("demo", "demo-api-key", auth_url=server.url).create(
            f"{uuid.uuid4().hex[:8]}@example.com", "a long password"
        )
        client = so.Client("demo", token, api_url=server.url, retries=0)
        writer = so.Client("demo", token, api_url=server.url, retries=8, backoff=0.1)
        Item.objects.using(writer).bulk_save([Item(title=f"i{n}") for n in range(50)])
        errors: list[BaseException] = []
        replica = so.Replica(str(tmp_path / "r.db"), Item, client=client, poll_timeout=1)
        so.signals.listener_error.connect(
            lambda s, error, **kw: errors.append(error), sender=replica, weak=False
        )
        with replica:
            assert replica.ready(30)
            server.kill()
            time.sleep(0.3)
            server.start()
            for n in range(20):
                Item.objects.using(writer).create(title=f"after{n}")
            wait_equal(replica, writer)
        replica.close()
        assert errors, "the outage was never reported"
