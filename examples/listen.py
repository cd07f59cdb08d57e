"""Another device edits a note; this process hears each edit as a signal and prints it.

Runs against an in-process local server, or against real Simperium when SIMPERIUM_APP_ID and
SIMPERIUM_API_KEY are set (a throw-away user is created there). Exits by itself.
"""

from __future__ import annotations

import contextlib
import os
import queue
import uuid
from typing import Any

import simperium_orm as so
from simperium_orm import signals


class Note(so.Model, bucket="note"):
    text: str
    pinned: bool = False


def two_devices(stack: contextlib.ExitStack) -> tuple[so.Client, so.Client]:
    """Sign up a fresh user; return two clients of it: this process, and 'the phone'."""
    app_id, api_key = os.environ.get("SIMPERIUM_APP_ID"), os.environ.get("SIMPERIUM_API_KEY")
    username, password = f"listen-{uuid.uuid4().hex[:8]}@example.com", uuid.uuid4().hex
    if app_id and api_key:
        print(f"using Simperium app {app_id!r}")
        token = so.Auth(app_id, api_key).create(username, password)
        return so.Client(app_id, token), so.Client(app_id, token)
    from simperium_orm.testing import SimperiumServer

    server = stack.enter_context(SimperiumServer())
    print(f"local Simperium server at {server.url}")
    token = server.create_user(username, password)
    return server.client(token), server.client(token)


def main() -> int:
    heard: queue.Queue[str] = queue.Queue()

    def created(sender: type[Note], instance: Note, userid: str | None, **kw: Any) -> None:
        heard.put(f"remote_created  {instance.text!r} (id {instance.id}, v{instance.version})")

    def updated(sender: type[Note], instance: Note, changed_fields: set[str], **kw: Any) -> None:
        heard.put(f"remote_updated  {sorted(changed_fields)} -> {instance!r}")

    def deleted(sender: type[Note], id: str, change: dict[str, Any], **kw: Any) -> None:
        heard.put(f"remote_deleted  id {id} (v{change.get('ev')})")

    def failed(sender: so.Listener, error: BaseException, **kw: Any) -> None:
        print(f"  listener_error  {error}")

    signals.remote_created.connect(created, sender=Note)
    signals.remote_updated.connect(updated, sender=Note)
    signals.remote_deleted.connect(deleted, sender=Note)
    signals.listener_error.connect(failed)
    with contextlib.ExitStack() as stack:
        me, phone = two_devices(stack)
        notes = phone.bucket("note")
        edits = [
            ("the phone creates a note", lambda: notes.set("groceries", {"text": "buy milk"})),
            ("the phone pins it", lambda: notes.set("groceries", {"pinned": True})),
            ("the phone edits the text", lambda: notes.set("groceries", {"text": "buy oat milk"})),
            ("the phone deletes it", lambda: notes.delete("groceries")),
        ]
        with Note.objects.using(me).listen(poll_timeout=10) as listener:
            Note.objects.using(me).create(text="written here: not a remote change")
            for what, edit in edits:
                print(f"> {what}")
                edit()
                try:
                    print(f"  {heard.get(timeout=10)}")
                except queue.Empty:
                    print("  nothing heard within 10 s")
                    return 1
        print(f"listener stopped at cv {listener.cv}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
