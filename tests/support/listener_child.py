"""A listener process for the crash tests: appends ``[id, version]`` per created object heard.

Usage: ``listener_child.py URL TOKEN CHECKPOINT OUT [CRASH_TITLE]``. It prints ``ready`` once
listening, kills itself (SIGKILL, inside the receiver, before writing) on an object titled
CRASH_TITLE, and exits 0 after hearing one titled ``end``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

import simperium_orm as so
from simperium_orm import signals


class Todo(so.Model, bucket="todo"):
    title: str
    done: bool = False


def main(url: str, token: str, checkpoint: str, out: str, crash_on: str = "") -> int:
    client = so.Client("demo", token, api_url=url, auth_url=url)
    finished = threading.Event()

    def heard(sender: type[Todo], instance: Todo, **kwargs: Any) -> None:
        if instance.title == crash_on:
            os.kill(os.getpid(), signal.SIGKILL)
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([instance.id, instance.version]) + "\n")
        if instance.title == "end":
            finished.set()

    signals.remote_created.connect(heard, sender=Todo)
    listener = so.Listener(
        Todo, client=client, checkpoint=so.FileCheckpoint(checkpoint), poll_timeout=5
    )
    print("ready", flush=True)
    with listener:
        return 0 if finished.wait(60) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
