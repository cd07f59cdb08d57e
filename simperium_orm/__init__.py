"""simperium_orm: Pydantic models, querysets and change signals for Simperium."""

from simperium_orm import signals
from simperium_orm.client import Client, connect, default_client, disconnect
from simperium_orm.errors import (
    AuthError,
    BadRequest,
    BulkError,
    Conflict,
    DoesNotExist,
    HTTPError,
    IncomparableValues,
    InvalidDiff,
    InvalidIdentifier,
    InvalidLookup,
    InvalidValue,
    MultipleObjectsReturned,
    NotConnected,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    RateLimited,
    ReplicaError,
    ReplicaLocked,
    ReplicaMismatch,
    RequestTimeout,
    ServerError,
    SimperiumError,
    TooLarge,
    TransportError,
    UnsyncedChanges,
)
from simperium_orm.listen.alistener import AsyncListener
from simperium_orm.listen.checkpoint import Checkpoint, FileCheckpoint, MemoryCheckpoint, Position
from simperium_orm.listen.listener import Listener, RemoteEvent
from simperium_orm.orm.lookups import Q
from simperium_orm.orm.manager import Manager
from simperium_orm.orm.model import Model
from simperium_orm.orm.query import Page, QuerySet
from simperium_orm.replica import Replica
from simperium_orm.wire.auth import Auth

__version__ = "0.1.0"

__all__ = [
    "AsyncListener",
    "Auth",
    "AuthError",
    "BadRequest",
    "BulkError",
    "Checkpoint",
    "Client",
    "Conflict",
    "DoesNotExist",
    "FileCheckpoint",
    "HTTPError",
    "IncomparableValues",
    "InvalidDiff",
    "InvalidIdentifier",
    "InvalidLookup",
    "InvalidValue",
    "Listener",
    "Manager",
    "MemoryCheckpoint",
    "Model",
    "MultipleObjectsReturned",
    "NotConnected",
    "NotFound",
    "Page",
    "Position",
    "PreconditionFailed",
    "ProtocolError",
    "Q",
    "QuerySet",
    "RateLimited",
    "RemoteEvent",
    "Replica",
    "ReplicaError",
    "ReplicaLocked",
    "ReplicaMismatch",
    "RequestTimeout",
    "ServerError",
    "SimperiumError",
    "TooLarge",
    "TransportError",
    "UnsyncedChanges",
    "connect",
    "default_client",
    "disconnect",
    "signals",
]
