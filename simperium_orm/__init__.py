"""simperium_orm: Pydantic models, querysets and change signals for Simperium."""

from simperium_orm.client import Client, connect, default_client, disconnect
from simperium_orm.core import Auth
from simperium_orm.errors import (
    AuthError,
    BadRequest,
    BulkError,
    Conflict,
    DoesNotExist,
    HTTPError,
    InvalidDiff,
    InvalidIdentifier,
    NotConnected,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RateLimited,
    RequestTimeout,
    ServerError,
    SimperiumError,
    TooLarge,
    TransportError,
)

__version__ = "0.1.0"

__all__ = [
    "Auth",
    "AuthError",
    "BadRequest",
    "BulkError",
    "Client",
    "Conflict",
    "DoesNotExist",
    "HTTPError",
    "InvalidDiff",
    "InvalidIdentifier",
    "NotConnected",
    "NotFound",
    "PreconditionFailed",
    "ProtocolError",
    "RateLimited",
    "RequestTimeout",
    "ServerError",
    "SimperiumError",
    "TooLarge",
    "TransportError",
    "connect",
    "default_client",
    "disconnect",
]
