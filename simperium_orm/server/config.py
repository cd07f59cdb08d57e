"""Settings of the local Simperium server."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from simperium_orm.protocol import APP_PATTERN


@dataclass(frozen=True)
class ServerConfig:
    """Everything the local server can be told; every field has a working default.

    ``db`` is a SQLite path (``":memory:"`` keeps nothing). Sizes are bytes of compact JSON;
    times are seconds. ``password_cost`` is log2 of scrypt's ``n``: 14 (16 MiB, about 50 ms a
    hash) by default, lower it for throwaway test servers.
    """

    app_id: str = "demo"
    api_key: str = "demo-api-key"
    admin_key: str = "demo-admin-key"
    db: str = "simperium.sqlite3"
    max_object_size: int = 4 * 1024 * 1024
    max_body_size: int = 16 * 1024 * 1024
    max_bulk_changes: int = 1000
    long_poll_timeout: float = 30.0
    changes_batch: int = 100
    index_limit: int = 100
    index_limit_max: int = 1000
    version_max: int = 60
    version10_max: int = 100
    password_cost: int = 14

    def __post_init__(self) -> None:
        if not isinstance(self.app_id, str) or not APP_PATTERN.fullmatch(self.app_id):
            raise ValueError(f"invalid app id {self.app_id!r}: use 1-64 of a-z A-Z 0-9 . _ -")
        for name in ("api_key", "admin_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value or not value.isascii():
                raise ValueError(f"{name} must be a non-empty ASCII string")
        if self.api_key == self.admin_key:
            raise ValueError("api_key and admin_key must differ")
        positive = ("max_object_size", "max_body_size", "max_bulk_changes", "changes_batch")
        for name in (*positive, "index_limit", "index_limit_max"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 1 <= self.index_limit <= self.index_limit_max:
            raise ValueError("index_limit must be between 1 and index_limit_max")
        if self.long_poll_timeout < 0:
            raise ValueError("long_poll_timeout must not be negative")
        if self.version_max < 1 or self.version10_max < 0:
            raise ValueError("version_max must be at least 1 and version10_max at least 0")
        if not 1 <= self.password_cost <= 20:
            raise ValueError("password_cost must be between 1 and 20")

    def __repr__(self) -> str:
        # The keys are secrets: never shown.
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name not in ("api_key", "admin_key")
        )
        return f"ServerConfig({shown})"

    @classmethod
    def from_options(cls, **options: Any) -> ServerConfig:
        """Build a config from keyword options; unknown names raise ``TypeError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown server option(s): {', '.join(unknown)}")
        return cls(**options)
