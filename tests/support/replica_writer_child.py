"""A replica process for the write crash tests.

``replica_writer_child.py save URL TOKEN PATH N``: saves objects ``w0``..``w{N-1}`` that the file
does not hold yet, one by one, through the replica (the server may be down), printing each id
once its save returned. ``... push URL TOKEN PATH``: pushes the file's queue until nothing is
pending, then prints ``done``.
"""

from __future__ import annotations

import sys

import simperium_orm as so


class Item(so.Model, bucket="items"):
    k: int = 0
    text: str = ""


def main(mode: str, url: str, token: str, path: str, n: str = "0") -> int:
    client = so.Client("demo", token, api_url=url, auth_url=url, retries=0)
    replica = so.Replica(path, Item, client=client)
    if mode == "save":
        have = {row[0] for row in replica.store.query("SELECT id FROM objects")}
        for k in range(int(n)):
            item = f"w{k}"
            if item in have:
                continue
            obj = Item(k=k, text=f"saved {k}")
            obj.id = item
            obj.save(using=replica)  # type: ignore[arg-type]
            print(item, flush=True)
        return 0
    while not replica.flush(timeout=30):
        pass
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
