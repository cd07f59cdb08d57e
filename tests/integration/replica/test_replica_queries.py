"""``Model.objects.using(replica)`` answers every query as the server does, from the file."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import simperium_orm as so
from simperium_orm import Q
from simperium_orm.replica.reads import select_sql


class Doc(so.Model, bucket="docs", indexes=("title", "n", "meta__k")):
    title: str
    n: int = 0
    x: float = 0.0
    done: bool = False
    tags: list[str] = []
    meta: dict[str, Any] = {}
    when: datetime.date | None = None


@pytest.fixture
def replica(client: so.Client, tmp_path: Path) -> Iterator[so.Replica]:
    docs = [
        Doc(
            title=f"{'ab'[i % 2]}{i:03d}",
            n=i % 7,
            x=i / 3,
            done=i % 3 == 0,
            tags=["odd" if i % 2 else "even", f"t{i % 4}"],
            meta={"k": f"v{i % 5}"} if i % 4 else {},
            when=datetime.date(2024, 1, 1 + i % 28) if i % 5 else None,
        )
        for i in range(150)
    ]
    Doc.objects.bulk_save(docs)
    with_replica = so.Replica(str(tmp_path / "r.db"), Doc, client=client)
    with_replica.sync()
    yield with_replica
    with_replica.close(discard=True)


QUERIES = [
    Q(),
    Q(title="a002"),
    Q(title__startswith="b0"),
    Q(title__in=["a000", "b001", "zzz"]),
    Q(n__gte=3, done=False),
    Q(n__lt=2) | Q(title__endswith="9"),
    ~Q(n=3),
    Q(x__gt=10.5),
    Q(tags__contains="odd"),
    Q(title__contains="01"),
    Q(title__icontains="A01"),
    Q(meta__k="v3"),
    Q(meta__k__isnull=True),
    Q(when__gte=datetime.date(2024, 1, 20)),
    Q(when__isnull=True, done=True),
    Q(id__in=[]),
]


def ids(objs: Any) -> list[str]:
    return sorted(o.id for o in objs)


@pytest.mark.parametrize("q", QUERIES, ids=repr)
def test_a_filter_gives_the_objects_the_server_gives(replica: so.Replica, q: Q) -> None:
    local = Doc.objects.using(replica).filter(q)
    remote = Doc.objects.filter(q)
    assert ids(local) == ids(remote)
    assert local.count() == remote.count() and local.exists() == remote.exists()
    assert ids(Doc.objects.using(replica).exclude(q)) == ids(Doc.objects.exclude(q))


def test_order_slices_values_and_first(replica: so.Replica) -> None:
    local, remote = Doc.objects.using(replica), Doc.objects
    for order in (("title",), ("-n", "title"), ("when", "-title")):
        assert [o.id for o in local.order_by(*order)[5:20]] == [
            o.id for o in remote.order_by(*order)[5:20]
        ]
    assert (
        list(local.order_by("title").values("title", "n"))[:3]
        == list(remote.order_by("title").values("title", "n"))[:3]
    )
    assert local.order_by("-title").first() == remote.order_by("-title").first()
    assert local.filter(n=1)[2:4].count() == 2
    assert local.count() == 150 and local.filter(title="none").first() is None


def test_get_and_objects_remember_the_replica(replica: so.Replica) -> None:
    some = Doc.objects.filter(title="a004").first()
    assert some is not None and some.id is not None
    got = Doc.objects.using(replica).get(some.id)
    assert got == some
    with pytest.raises(Doc.DoesNotExist):
        Doc.objects.using(replica).get("nothing-here")
    got.n = 99
    got.save()  # local: no request, pushed later
    assert replica.has_pending(Doc, got.id)
    assert Doc.objects.using(replica).filter(n=99).count() == 1
    assert Doc.objects.filter(n=99).count() == 0
    assert replica.flush(10)
    assert Doc.objects.filter(n=99).count() == 1


def test_pages_walk_every_object_once_while_it_changes(replica: so.Replica) -> None:
    qs = Doc.objects.using(replica).filter(done=False)
    seen: list[str] = []
    page = qs.page(limit=7)
    first_ids = {o.id for o in qs}
    while True:
        seen.extend(o.id for o in page.items if o.id)
        if page.cursor is None:
            break
        # Another write between pages: the walk neither repeats nor skips.
        changed = next(o for o in Doc.objects.using(replica).filter(done=False) if o.id not in seen)
        changed.title = changed.title + "!"
        changed.save()
        page = qs.page(limit=7, cursor=page.cursor)
    assert len(seen) == len(set(seen)) and set(seen) == first_ids
    with pytest.raises(ValueError, match="cursor"):
        qs.page(limit=7, cursor="garbage")


def test_a_queryset_moves_between_the_server_and_a_replica(replica: so.Replica) -> None:
    qs = Doc.objects.filter(n=2).order_by("title")
    local = qs.using(replica)
    assert [o.id for o in local] == [o.id for o in qs]
    assert "replica" in repr(local)


def test_indexed_lookups_use_the_index(replica: so.Replica, client: so.Client) -> None:
    # Enough objects that the planner, which knows the table's shape, prefers an index.
    Doc.objects.using(client).bulk_save(
        [Doc(title=f"c{i:05d}", n=100 + i, meta={"k": f"w{i}"}) for i in range(3000)]
    )
    with replica.store.writing() as conn:  # index the bucket again: then it is analysed
        conn.execute("UPDATE buckets SET cv = 'ffffffffffffffffffffffff'")
    replica.sync()
    plans = {}
    for name, q in {
        "exact": Q(title="a002"),
        "prefix": Q(title__startswith="c0001"),
        "range": Q(n__gte=3090),
        "nested": Q(meta__k="w17"),
    }.items():
        sql, params = select_sql(Doc, [q])
        with replica.store.reading() as conn:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        plans[name] = " ".join(str(r[-1]) for r in rows)
    for name, plan in plans.items():
        assert "USING INDEX ix_docs__" in plan, (name, plan)


def test_a_model_the_replica_does_not_mirror_is_refused(replica: so.Replica) -> None:
    class Other(so.Model, bucket="other"):
        title: str

    with pytest.raises(so.ReplicaError, match="does not mirror"):
        Other.objects.using(replica)


def test_bad_index_declarations_are_refused() -> None:
    with pytest.raises(TypeError, match="indexes names fields"):

        class Bad(so.Model, bucket="bad", indexes=(1,)):  # type: ignore[arg-type]
            title: str


def test_django_s_everyday_calls_answer_from_the_replica(replica: so.Replica) -> None:
    local = Doc.objects.using(replica)
    assert local.get(title="a004") == Doc.objects.get(title="a004")
    with pytest.raises(so.MultipleObjectsReturned):
        local.get(n=1)
    some = local.filter(n=3).first()
    assert some is not None and some.id is not None
    assert local.in_bulk([some.id, "missing"]) == {some.id: some}
    titles = local.filter(title__in=["a000", "b001"]).order_by("title")
    assert list(titles.values_list("title", flat=True)) == ["a000", "b001"]
    made, created = local.get_or_create(title="brand new", defaults={"n": 42})
    assert created and made.has_pending_writes
    again, created_again = local.get_or_create(title="brand new")
    assert not created_again and again.id == made.id
    assert local.filter(n=6).update(done=True) == Doc.objects.filter(n=6).count()
    assert local.filter(title__startswith="b1").delete() > 0
    assert local.filter(title__startswith="b1").count() == 0
    assert replica.flush(10)
    assert Doc.objects.filter(title__startswith="b1").count() == 0
    assert Doc.objects.get(title="brand new").n == 42
    assert all(d.done for d in Doc.objects.filter(n=6))
