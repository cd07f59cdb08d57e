"""One exception tree for everything simperium_orm raises.

::

    SimperiumError
    ├── TransportError            connection refused/reset, DNS, timeouts (no HTTP status)
    │   └── RequestTimeout        no answer within the timeout
    ├── InvalidIdentifier         an id, bucket or app name the service would refuse (ValueError)
    ├── InvalidDiff               a jsondiff that is malformed or does not apply (ValueError)
    ├── InvalidLookup             a filter/order_by argument that cannot apply (ValueError)
    ├── InvalidValue              a field value JSON cannot store, found before sending (ValueError)
    ├── IncomparableValues        a filter or order_by met values that never compare (TypeError)
    ├── MultipleObjectsReturned   get() found more than one object
    ├── ProtocolError             the service answered something unreadable (not JSON, bad shape)
    ├── HTTPError                 an error status answered (.status_code, .response)
    │   ├── BadRequest            400  invalid id, bucket, body or diff
    │   ├── AuthError             401  bad or missing token / API key (also 403)
    │   ├── NotFound              404  no such object, version or cv
    │   │   └── DoesNotExist      a model lookup found nothing (each Model has its own subclass)
    │   ├── Conflict              409  user exists / duplicate change id
    │   ├── PreconditionFailed    412  empty change or version mismatch
    │   ├── TooLarge              413  object over the size limit
    │   ├── RateLimited           429  slow down (retried automatically first)
    │   └── ServerError           5xx  (retried automatically first)
    ├── NotConnected              no client given and none set with connect()
    ├── ReplicaError              a replica file that cannot be opened or used as asked
    │   ├── ReplicaMismatch       the file holds another app's or user's data
    │   ├── ReplicaLocked         another process syncs this file
    │   └── UnsyncedChanges       closed with local changes the server has not acknowledged
    └── BulkError                 some changes of a bulk write failed (.results, .failed)

`error_for_status` is the only place that maps an HTTP status to a class. Messages never
contain tokens, API keys or passwords.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class ResponseLike(Protocol):
    """The part of a response an error keeps: status, headers and body text."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...


class SimperiumError(Exception):
    """Root of every error this library raises."""


class TransportError(SimperiumError):
    """The request never got an HTTP answer: connection failure or timeout.

    ``sent`` is False when the request certainly never reached a server (the connection could
    not be made), so repeating it cannot apply it twice.
    """

    def __init__(self, message: str = "", *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


class RequestTimeout(TransportError):
    """No answer arrived within the timeout."""


class InvalidIdentifier(SimperiumError, ValueError):
    """An object id, bucket name or app id that Simperium would refuse; nothing was sent."""


class InvalidDiff(SimperiumError, ValueError):
    """A jsondiff that is malformed or cannot apply to the value it is applied to."""


class InvalidLookup(SimperiumError, ValueError):
    """A filter, exclude, order_by or values argument that cannot apply to the model."""


class InvalidValue(SimperiumError, ValueError):
    """A field holds a value JSON cannot store (bytes, NaN, an object pydantic cannot dump).

    Raised before anything is sent; ``field`` names the field (or extra key), when known.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class IncomparableValues(SimperiumError, TypeError):
    """A filter or ``order_by`` met values of a field that never compare: a naive datetime (or
    time) with an aware one, or, when ordering, values of unlike types. Names the field."""


class MultipleObjectsReturned(SimperiumError):
    """``get()`` found more than one object matching its lookups."""


class NotConnected(SimperiumError):
    """No client was given and no default was set with ``simperium_orm.connect()``."""


class ReplicaError(SimperiumError):
    """A replica file that cannot be opened or used as asked (nothing in it was changed)."""


class ReplicaMismatch(ReplicaError):
    """The replica file holds another app's or another user's data."""


class ReplicaLocked(ReplicaError):
    """Another process syncs this replica file; this one may read it but not sync it."""


class UnsyncedChanges(ReplicaError):
    """A replica was closed while local changes were not yet acknowledged by the server.

    ``pending`` lists them; ``close(discard=True)`` closes all the same (a file keeps them
    for its next sync).
    """

    def __init__(self, message: str, pending: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.pending = list(pending)


class ProtocolError(SimperiumError):
    """The service answered, but not in a shape this library understands."""


class HTTPError(SimperiumError):
    """The service answered with an error status."""

    def __init__(
        self, message: str, *, status_code: int, response: ResponseLike | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.response = response


class BadRequest(HTTPError):
    """400: the request was malformed (invalid id, bucket name, body or diff)."""


class AuthError(HTTPError):
    """401/403: the token, API key or password was refused."""


class NotFound(HTTPError):
    """404: no such object, version, user or change version (cv)."""


class DoesNotExist(NotFound):
    """A model lookup found nothing. ``Model.DoesNotExist`` subclasses this per model."""

    def __init__(
        self, message: str, *, status_code: int = 404, response: ResponseLike | None = None
    ) -> None:
        super().__init__(message, status_code=status_code, response=response)


class Conflict(HTTPError):
    """409: the user already exists, or the change id (ccid) was already applied."""


class PreconditionFailed(HTTPError):
    """412: an empty change, or a version-checked delete that lost a race."""


class TooLarge(HTTPError):
    """413: the object is larger than the service accepts."""


class RateLimited(HTTPError):
    """429: too many requests; raised only after the retries ran out."""


class ServerError(HTTPError):
    """5xx: the service failed; raised only after the retries ran out."""


class BulkError(SimperiumError):
    """Some changes of a bulk write failed.

    ``results`` holds every per-change result the server returned (dicts, in request order);
    ``failed`` holds ``(item, error_code)`` pairs for the changes that were not applied, where
    ``item`` is what the caller passed (a model instance or a change dict).
    """

    def __init__(
        self, message: str, *, results: Sequence[Mapping[str, Any]], failed: Sequence[Any]
    ) -> None:
        super().__init__(message)
        self.results = list(results)
        self.failed = list(failed)


_BY_STATUS: dict[int, type[HTTPError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    413: TooLarge,
    429: RateLimited,
}


def error_class_for_status(status_code: int) -> type[HTTPError]:
    """The exception class for an HTTP error status (the one mapping in the library)."""
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, HTTPError)


def error_for_status(
    status_code: int, message: str, response: ResponseLike | None = None
) -> HTTPError:
    """Build the typed exception for an HTTP error status."""
    cls = error_class_for_status(status_code)
    return cls(f"{status_code}: {message}", status_code=status_code, response=response)


MAPPED_ERRORS: tuple[type[HTTPError], ...] = (*dict.fromkeys(_BY_STATUS.values()), ServerError)
