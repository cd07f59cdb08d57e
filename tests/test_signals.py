"""The signals module: every signal is declared once, documented, and named in ``__all__``."""

from __future__ import annotations

import blinker
import pytest

from simperium_orm import signals

EXPECTED_KWARGS = {
    "pre_save": ["instance", "created"],
    "post_save": ["instance", "created", "changed_fields"],
    "pre_delete": ["instance"],
    "post_delete": ["instance"],
    "remote_created": ["instance", "change", "userid"],
    "remote_updated": ["instance", "changed_fields", "change", "userid"],
    "remote_deleted": ["id", "change", "userid"],
    "listener_error": ["error", "change"],
    "sync_rejected": ["instance", "id", "error"],
}


def test_all_lists_exactly_the_signals() -> None:
    assert sorted(signals.__all__) == sorted(EXPECTED_KWARGS)
    assert signals.__all__ == sorted(signals.__all__)


@pytest.mark.parametrize("name", sorted(EXPECTED_KWARGS))
def test_each_signal_is_a_named_blinker_signal_documenting_its_kwargs(name: str) -> None:
    signal = getattr(signals, name)
    assert isinstance(signal, blinker.NamedSignal)
    assert signal.name == name
    assert signals.namespace[name] is signal
    doc = signal.__doc__ or ""
    assert doc.strip()
    for kwarg in EXPECTED_KWARGS[name]:
        assert f"``{kwarg}``" in doc, (name, kwarg)
