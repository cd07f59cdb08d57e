"""Another device edits a note; this process hears each edit as a signal and prints it.

Runs against an in-process local server, or against real Simperium when SIMPERIUM_APP_ID and
SIMPERIUM_API_KEY are set (a throw-away user is created there). Exits by itself.
"""

from __future__ import annotations

import contextlib
import queue
from typing import Any

from _devices import two_devices

import simperium_orm as so
from simperium_orm import signals


class Note(so.Model, bucket="note"):
    text: str
    pinned: bool = False


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
        me, phone = two_devices(stack, "listen")
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
