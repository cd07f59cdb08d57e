"""The local server merges concurrent changes the way ``jsondiff.transform`` does.

A change sent against an older version is rebased over every change made since, on both write
endpoints (``POST i/{id}/v/{n}`` and bulk ``POST /changes``). Under many concurrent writers no
acknowledged edit is lost, doubled or split.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from typing import Any

from simperium_orm.client import Client
from simperium_orm.errors import NotFound
from simperium_orm.jsondiff import apply, diff, transform

BASE = {"l": ["a", "b"], "t": "x"}
APPEND_C = {"l": {"o": "L", "v": {"2": {"o": "+", "v": "c"}}}}
APPEND_D = {"l": {"o": "L", "v": {"2": {"o": "+", "v": "d"}}}}


def expected_merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """What the server should hold after ``first``, then ``second`` sent against the same base."""
    return apply(apply(BASE, first), transform(second, first, BASE))


def test_bulk_list_appends_merge_like_transform(simperium_client: Client) -> None:
    bucket = simperium_client.bucket("lists")
    bucket.post("x", BASE)
    results = []
    for change in (APPEND_C, APPEND_D):
        (result,) = bucket.bulk_post([{"id": "x", "o": "M", "sv": 1, "v": change}])
        assert "error" not in result, result
        results.append(result)
    assert expected_merge(APPEND_C, APPEND_D) == {"l": ["a", "b", "d", "c"], "t": "x"}
    assert bucket.get("x") == expected_merge(APPEND_C, APPEND_D)
    # The merged change goes out with the list whole, as clients send lists: node-simperium
    # would apply the list diff {"2": +"d"} to ["a", "b", "c"] as a replacement of "c".
    assert results[0]["v"] == APPEND_C  # not rebased: as it was sent
    assert results[1]["v"] == {"l": {"o": "r", "v": ["a", "b", "d", "c"]}}


def test_bulk_list_appends_in_one_request_merge_like_transform(simperium_client: Client) -> None:
    bucket = simperium_client.bucket("lists")
    bucket.post("x", BASE)
    changes = [{"id": "x", "o": "M", "sv": 1, "v": change} for change in (APPEND_C, APPEND_D)]
    assert all("error" not in result for result in bucket.bulk_post(changes))
    assert bucket.get("x") == expected_merge(APPEND_C, APPEND_D)


def test_stale_posts_of_whole_lists_merge_like_transform(simperium_client: Client) -> None:
    bucket = simperium_client.bucket("lists")
    bucket.post("x", BASE)
    first, second = {**BASE, "l": ["a", "b", "c"]}, {**BASE, "l": ["a", "b", "d"]}
    bucket.post("x", first, version=1)
    bucket.post("x", second, version=1)
    as_diffs = diff(BASE, first, list_diff=True), diff(BASE, second, list_diff=True)
    assert bucket.get("x") == expected_merge(*as_diffs) == {"l": ["a", "b", "d", "c"], "t": "x"}
    feed = [change["v"] for change in bucket.changes(wait=False) if change["id"] == "x"]
    assert feed[-1] == {"l": {"o": "r", "v": ["a", "b", "d", "c"]}}
    assert all(op["o"] != "L" for change in feed for op in change.values())


def test_a_merged_list_inside_an_object_goes_out_whole(simperium_client: Client) -> None:
    bucket = simperium_client.bucket("lists")
    bucket.post("x", {"o": {"l": [1, 2], "n": 1}})
    bucket.post("x", {"o": {"l": [1, 2, 3], "n": 1}}, version=1)
    doc = bucket.write("x", {"o": {"l": [0, 1, 2], "n": 2}}, version=1)
    assert doc.data == {"o": {"l": [0, 1, 2, 3], "n": 2}}
    (last,) = [c for c in bucket.changes(wait=False) if c["id"] == "x"][-1:]
    assert last["v"] == {
        "o": {"o": "O", "v": {"l": {"o": "r", "v": [0, 1, 2, 3]}, "n": {"o": "r", "v": 2}}}
    }


def test_stale_text_edits_merge_exactly_on_both_endpoints(simperium_client: Client) -> None:
    bucket = simperium_client.bucket("notes")
    bucket.post("n", {"t": "aa😀a"})
    bucket.post("n", {"t": "😀"}, version=1)
    bucket.post("n", {"t": "a😀a"}, version=1)
    assert bucket.get("n") == {"t": "😀"}
    bucket.post("m", {"t": "b"})
    bucket.bulk_post([{"id": "m", "o": "M", "sv": 1, "v": {"t": {"o": "d", "v": "=1\t+d"}}}])
    bucket.bulk_post([{"id": "m", "o": "M", "sv": 1, "v": {"t": {"o": "d", "v": "=1\t+c"}}}])
    assert bucket.get("m") == {"t": "bcd"}  # the order the documented rule gives


# ------------------------------------------------------------------ concurrent writers

WRITERS = 8
EDITS = 100
SEED = 20240607


def writer(client: Client, item: str, n: int, acknowledged: list[str], failures: list[Any]) -> None:
    """Insert EDITS unique words, each into the text as of a version read earlier.

    A read is reused for up to a few edits, so most changes are sent against a stale version.
    Even writers send diffs through bulk POST /changes, odd ones whole texts to i/{id}/v/{n}.
    A version the server no longer keeps answers 404: the writer reads again and retries.
    """
    rng = random.Random(SEED + n)
    bucket = client.bucket("notes")
    seen = None
    k = 0
    while k < EDITS:
        if seen is None or rng.random() < 0.4:
            seen = bucket.fetch(item)
        text: str = seen.data["t"]
        word = f"w{n}😀{k}"
        gaps = [i for i, ch in enumerate(text) if ch == " "] + [len(text)]
        gap = rng.choice(gaps)
        new = text[:gap] + " " + word + text[gap:]
        try:
            if n % 2 == 0:
                change = {
                    "id": item,
                    "o": "M",
                    "sv": seen.version,
                    "v": diff(seen.data, {"t": new}),
                }
                (result,) = bucket.bulk_post([change])
                if result.get("error") == 404:
                    raise NotFound("version pruned", status_code=404)
                if "error" in result:
                    failures.append(result)
                    return
            else:
                bucket.write(item, {"t": new}, version=seen.version)
        except NotFound:
            seen = None  # too stale: the server keeps only the latest versions
            continue
        except Exception as exc:  # every failure is reported by the test
            failures.append(repr(exc))
            return
        acknowledged.append(word)
        k += 1


def test_concurrent_writers_lose_no_acknowledged_word(simperium_client: Client) -> None:
    item = uuid.uuid4().hex
    bucket = simperium_client.bucket("notes")
    bucket.post(item, {"t": "start"})
    acknowledged: list[str] = []
    failures: list[Any] = []
    threads = [
        threading.Thread(target=writer, args=(simperium_client, item, n, acknowledged, failures))
        for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(acknowledged) == WRITERS * EDITS
    words = bucket.get(item)["t"].split(" ")
    counts = Counter(words)
    lost = [w for w in acknowledged if counts[w] == 0]
    doubled = [w for w in acknowledged if counts[w] > 1]
    garbled = [w for w in counts if w != "start" and w not in set(acknowledged)]
    assert (lost, doubled, garbled) == ([], [], [])
    assert words[0] == "start" and len(words) == WRITERS * EDITS + 1
