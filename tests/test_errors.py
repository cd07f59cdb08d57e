"""The exception tree and the one status-to-class mapping."""

from __future__ import annotations

import simperium_orm as so
from simperium_orm import errors


def test_every_mapped_error_is_exported() -> None:
    for cls in errors.MAPPED_ERRORS:
        assert getattr(so, cls.__name__) is cls
        assert cls.__name__ in so.__all__


def test_every_error_class_is_exported_and_drawn_in_the_tree() -> None:
    classes = [
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, so.SimperiumError)
    ]
    assert len(classes) > 10
    for cls in classes:
        assert getattr(so, cls.__name__) is cls
        assert cls.__name__ in (errors.__doc__ or "")


def test_hierarchy() -> None:
    assert issubclass(so.DoesNotExist, so.NotFound)
    assert issubclass(so.NotFound, so.HTTPError)
    assert issubclass(so.RequestTimeout, so.TransportError)
    assert issubclass(so.InvalidIdentifier, ValueError)
    for cls in errors.MAPPED_ERRORS:
        assert issubclass(cls, so.HTTPError)


def test_status_mapping() -> None:
    assert errors.error_class_for_status(404) is so.NotFound
    assert errors.error_class_for_status(599) is so.ServerError
    assert errors.error_class_for_status(402) is so.HTTPError
    err = errors.error_for_status(413, "too big")
    assert isinstance(err, so.TooLarge) and err.status_code == 413 and err.response is None


def test_bulk_error_keeps_results() -> None:
    err = so.BulkError("1 failed", results=[{"id": "a", "error": 400}], failed=[("a", 400)])
    assert err.failed == [("a", 400)] and err.results[0]["error"] == 400
