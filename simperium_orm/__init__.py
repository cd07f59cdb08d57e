"""simperium_orm: Pydantic models, querysets and change signals for Simperium."""

from simperium_orm.errors import (
    AuthError,
    BadRequest,
    BulkError,
    Conflict,
    DoesNotExist,
    HTTPError,
    NotFound,
    PreconditionFailed,
    RateLimited,
    ServerError,
    SimperiumError,
    TooLarge,
    TransportError,
)

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BadRequest",
    "BulkError",
    "Conflict",
    "DoesNotExist",
    "HTTPError",
    "NotFound",
    "PreconditionFailed",
    "RateLimited",
    "ServerError",
    "SimperiumError",
    "TooLarge",
    "TransportError",
]
