"""A replica's signals: each applied version's remote signal, refusals, and its errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from simperium_orm import signals
from simperium_orm.errors import TransportError
from simperium_orm.listen.feed import RemoteEvent
from simperium_orm.listen.listener import signal_of
from simperium_orm.orm import state

if TYPE_CHECKING:
    from blinker import Signal

    from simperium_orm.orm.model import Model
    from simperium_orm.replica.store import Event


class Replica(Protocol):
    """What the signals need of a replica: to build an object from stored JSON."""

    def load(self, model: type[Model], item: str, version: int, data: str | None) -> Any: ...


__all__ = ["emit", "report"]

log = logging.getLogger("simperium_orm.replica")


def emit(replica: Replica, model: type[Model], event: Event) -> None:
    """Send an applied version's signal (or a refusal's) to each receiver; a failing
    receiver is reported through ``listener_error``, never fatal. Remote versions are sent as
    the listener sends them (one rule: ``listen.listener.signal_of``)."""
    signal: Signal
    if event.kind == "rejected":
        signal = signals.sync_rejected
        instance = None if event.data is None else replica.load(model, event.id, 0, event.data)
        kwargs = {
            "id": event.id,
            "error": event.change.get("error", "refused"),
            "instance": instance,
        }
    else:
        instance = None
        if event.kind != "deleted":
            try:
                instance = replica.load(model, event.id, event.version or 0, event.data)
            except Exception as exc:  # data that does not fit the model
                report(replica, exc, event.change)
                return
        wire = state.wire_keys(model)
        changed = frozenset(wire.get(k, k) for k in event.fields or ())
        remote = RemoteEvent(
            event.kind,  # type: ignore[arg-type]  # created, updated or deleted here
            model,
            event.id,
            event.version,
            instance,
            changed,
            event.change,
        )
        signal, kwargs = signal_of(remote)
    for receiver in list(signal.receivers_for(model)):
        try:
            receiver(model, **kwargs)
        except Exception as exc:
            report(replica, exc, event.change)


def report(replica: Replica, error: BaseException, change: dict[str, Any] | None = None) -> None:
    """Send ``listener_error`` (sender: the replica); logged when nobody receives it."""
    receivers = list(signals.listener_error.receivers_for(replica))
    if not receivers:
        if isinstance(error, TransportError):
            log.warning("replica: %s", error)
        else:
            log.warning("replica error: %s", error, exc_info=error)
    for receiver in receivers:
        try:
            receiver(replica, error=error, change=change)
        except Exception:
            log.exception("a listener_error receiver failed")
