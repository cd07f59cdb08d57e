"""Blinker signals sent by models, managers, the change listener and replicas.

Every signal's sender is the model class (``listener_error``'s is the Listener or the
Replica), so receivers
usually subscribe per model::

    from simperium_orm import signals

    @signals.post_save.connect_via(Todo)
    def announce(sender, instance, created, changed_fields, **extra): ...

Blinker keeps weak references to receivers by default: a closure needs ``weak=False`` or
another strong reference. An exception raised by a receiver of ``pre_save``/``post_save``/
``pre_delete``/``post_delete`` propagates to the caller (blinker's behaviour); the listener
reports its receivers' exceptions through ``listener_error`` instead. docs/signals.md has the
table of which call sends which signal.
"""

from __future__ import annotations

from blinker import Namespace

__all__ = [
    "listener_error",
    "post_delete",
    "post_save",
    "pre_delete",
    "pre_save",
    "remote_created",
    "remote_deleted",
    "remote_updated",
    "sync_rejected",
]

namespace = Namespace()

pre_save = namespace.signal(
    "pre_save",
    doc="""Sent before a save request, once per object (also by ``bulk_save``).

    Keyword arguments: ``instance`` (the model object), ``created`` (True when it has never
    been saved). Not sent when the object has nothing to save.
    """,
)

post_save = namespace.signal(
    "post_save",
    doc="""Sent after the server acknowledged a save, once per saved object.

    Keyword arguments: ``instance`` (now holding the server's merged state and new version),
    ``created`` (True for the first save), ``changed_fields`` (set of the field names sent).
    Never sent for a failed save or when nothing had changed.
    """,
)

pre_delete = namespace.signal(
    "pre_delete",
    doc="""Sent before a delete request, once per object (also by ``bulk_delete``).

    Keyword argument: ``instance``.
    """,
)

post_delete = namespace.signal(
    "post_delete",
    doc="""Sent after the server acknowledged a delete, once per deleted object.

    Keyword argument: ``instance`` (its ``id`` is kept; its ``version`` is now None).
    """,
)

remote_created = namespace.signal(
    "remote_created",
    doc="""Sent by the listener when another client created an object (its first version).

    Keyword arguments: ``instance`` (the new object at that version), ``change`` (the raw
    change dict of that version),
    ``userid`` (the owner's user id when listening to every user with ``/all``, else None).
    """,
)

remote_updated = namespace.signal(
    "remote_updated",
    doc="""Sent by the listener when another client modified an object: once per version.

    Keyword arguments: ``instance`` (the object at that version), ``changed_fields`` (the
    top-level keys that version's change touched), ``change`` (raw change dict), ``userid`` (or
    None). A listener made with ``coalesce=True`` sends one per round's net effect instead,
    with the union of the changed fields.
    """,
)

remote_deleted = namespace.signal(
    "remote_deleted",
    doc="""Sent by the listener when another client deleted an object.

    Keyword arguments: ``id`` (the deleted object's id), ``change`` (raw change dict),
    ``userid`` (or None).
    """,
)

listener_error = namespace.signal(
    "listener_error",
    doc="""Sent by the listener (the sender) when a feed or a receiver fails; it goes on.

    Keyword arguments: ``error`` (the exception), ``change`` (the raw change dict being
    delivered, or None for a feed failure).
    """,
)

sync_rejected = namespace.signal(
    "sync_rejected",
    doc="""Sent by a replica (sender: the model) when the server refused a local change, or
    deleted an object that had local changes; the change is kept aside (``replica.rejected()``)
    and never sent again.

    Keyword arguments: ``instance`` (the object as it was saved locally; None for a delete),
    ``id``, ``error`` (a short reason, with the server's status when it answered one).
    """,
)
