"""The listener's wait after a feed failure: jittered, growing, capped, and Retry-After."""

from __future__ import annotations

from simperium_orm.errors import RateLimited, TransportError
from simperium_orm.listen.listener import _backoff
from simperium_orm.wire.transport import Response


def test_backoff_grows_and_is_capped() -> None:
    assert all(0 <= _backoff(1, TransportError("x")) <= 0.5 for _ in range(100))
    assert all(0 <= _backoff(10_000, TransportError("x")) <= 30 for _ in range(100))


def test_retry_after_is_a_floor() -> None:
    limited = RateLimited("429", status_code=429, response=Response(429, {"Retry-After": "3"}, b""))
    assert all(3 <= _backoff(1, limited) <= 3.5 for _ in range(100))
    absurd = RateLimited(
        "429", status_code=429, response=Response(429, {"retry-after": "9999"}, b"")
    )
    assert _backoff(1, absurd) == 30
