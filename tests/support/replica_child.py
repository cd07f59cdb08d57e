"""A replica process for the crash tests: follows a bucket and appends each signal it sends.

Usage: ``replica_child.py URL TOKEN PATH OUT``. Each remote_created/updated of ``Tally`` is
appended to OUT as ``[kind, id, version, count]`` and fsynced before the receiver returns. It
prints ``ready`` once the replica follows the feed and runs until it is killed.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import simperium_orm as so
from simperium_orm import signals


class Tally(so.Model, bucket="tally"):
    title: str
    count: int = 0


def main(url: str, token: str, path: str, out: str) -> int:
    client = so.Client("demo", token, api_url=url, auth_url=url)
    fh = open(out, "a", encoding="utf-8")  # noqa: SIM115 - open for the life of the process

    def record(kind: str, instance: Tally) -> None:
        fh.write(json.dumps([kind, instance.id, instance.version, instance.count]) + "\n")
        fh.flush()
        os.fsync(fh.fileno())

    def created(sender: Any, instance: Tally, **kwargs: Any) -> None:
        record("created", instance)

    def updated(sender: Any, instance: Tally, **kwargs: Any) -> None:
        record("updated", instance)

    signals.remote_created.connect(created, sender=Tally)
    signals.remote_updated.connect(updated, sender=Tally)
    with so.Replica(path, Tally, client=client, poll_timeout=5) as replica:
        if not replica.ready(30):
            return 1
        print("ready", flush=True)
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
