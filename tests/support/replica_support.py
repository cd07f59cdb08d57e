"""What a bucket holds on the server and in a replica, in one shape: ``{id: (version, data)}``."""

from __future__ import annotations

import json
from typing import Any

import simperium_orm as so

Contents = dict[str, tuple[int, dict[str, Any]]]


def on_server(client: so.Client, bucket: str) -> Contents:
    """Every object of the bucket on the server, read page by page."""
    out: Contents = {}
    mark = None
    while True:
        page = client.bucket(bucket).index(data=True, mark=mark, limit=1000)
        out.update({e["id"]: (e["v"], e["d"]) for e in page["index"]})
        mark = page.get("mark")
        if not mark:
            return out


def in_replica(replica: so.Replica, bucket: str | None = None) -> Contents:
    """Every object the replica's file holds (of one bucket, or all)."""
    sql, args = "SELECT id, version, data FROM objects", ()
    if bucket is not None:
        sql, args = sql + " WHERE bucket = ?", (bucket,)
    return {i: (v, json.loads(d)) for i, v, d in replica.store.query(sql, args)}
