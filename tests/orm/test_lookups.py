"""Lookups and Q compiled against a model, tested on objects built in memory (no server)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

import simperium_orm as so
from simperium_orm.orm.lookups import LOOKUPS, InvalidLookup, Q, compile_q, split_lookup
from simperium_orm.orm.model import Model


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    city: str = ""
    zip_code: str | None = None


class Item(Model, bucket="items"):
    title: str = ""
    n: int = 0
    score: float | None = None
    done: bool = False
    tags: list[str] = []
    meta: dict[str, Any] = {}
    address: Address = Address()
    due: dt.date | None = None
    color: Color = Color.RED
    id_: str | None = Field(default=None, alias="id")


def matches(obj: Item, *args: Q, **lookups: Any) -> bool:
    return compile_q(Item, Q(*args, **lookups))(obj)


def item(id: str = "x1", version: int = 1, **data: Any) -> Item:
    return Item.from_document(id, version, data)


# -- each lookup ----------------------------------------------------------------------------


def test_exact_is_the_default() -> None:
    obj = item(title="milk", n=3)
    assert matches(obj, title="milk")
    assert matches(obj, title__exact="milk")
    assert not matches(obj, title="Milk")
    assert matches(obj, n=3, title="milk")
    assert not matches(obj, n=3, title="x")


def test_exact_none_and_isnull() -> None:
    assert matches(item(), score=None)
    assert matches(item(), score__isnull=True)
    assert not matches(item(score=1.5), score__isnull=True)
    assert matches(item(score=1.5), score__isnull=False)


def test_in() -> None:
    obj = item(n=3, tags=["a"])
    assert matches(obj, n__in=[1, 2, 3])
    assert matches(obj, n__in={3})
    assert matches(obj, n__in=(x for x in [3]))
    assert not matches(obj, n__in=[])
    assert matches(obj, tags__in=[["a"], ["b"]])  # unhashable values still work
    assert matches(item(), score__in=[None, 1.0])


@pytest.mark.parametrize(
    ("lookup", "value", "expected"),
    [("gt", 2, True), ("gt", 3, False), ("gte", 3, True), ("lt", 3, False), ("lte", 3, True)],
)
def test_comparisons(lookup: str, value: int, expected: bool) -> None:
    assert matches(item(n=3), **{f"n__{lookup}": value}) is expected


def test_comparison_with_none_never_matches() -> None:
    assert not matches(item(), score__gt=0)
    assert not matches(item(), score__lt=0)


def test_contains_on_text_list_and_dict() -> None:
    obj = item(title="Buy milk", tags=["shop", "today"], meta={"color": "red"})
    assert matches(obj, title__contains="milk")
    assert not matches(obj, title__contains="MILK")
    assert matches(obj, title__icontains="MILK")
    assert matches(obj, tags__contains="shop")
    assert not matches(obj, tags__contains="sho")
    assert matches(obj, meta__contains="color")


def test_startswith_endswith() -> None:
    obj = item(title="Buy milk")
    assert matches(obj, title__startswith="Buy")
    assert not matches(obj, title__startswith="buy")
    assert matches(obj, title__endswith="milk")


def test_nested_dict_paths() -> None:
    obj = item(meta={"color": "red", "size": {"w": 3}})
    assert matches(obj, meta__color="red")
    assert matches(obj, meta__size__w__gt=2)
    assert matches(obj, meta__missing__isnull=True)
    assert matches(obj, meta__missing=None)
    assert not matches(obj, meta__missing="x")
    assert not matches(obj, meta__color__w=1)  # a str has nothing inside


def test_nested_model_paths() -> None:
    obj = item(address={"city": "Oslo"})
    assert matches(obj, address__city="Oslo")
    assert matches(obj, address__city__startswith="Os")
    assert matches(obj, address__zip_code__isnull=True)


def test_id_and_version_are_filterable() -> None:
    obj = item("abc", 5)
    assert matches(obj, id="abc")
    assert matches(obj, id__in=["abc", "def"])
    assert matches(obj, version__gte=5)
    assert not matches(obj, version__gt=5)


def test_aliased_field_by_name_or_alias_is_data_not_the_object_id() -> None:
    obj = Item.from_document("object-id", 1, {"id": "data-id"})
    assert matches(obj, id_="data-id")
    assert matches(obj, id="object-id")


def test_values_are_coerced_to_the_field_type() -> None:
    obj = item(due="2024-01-31", color="blue", n=3)
    assert matches(obj, due="2024-01-31")
    assert matches(obj, due__gt=dt.date(2024, 1, 1))
    assert matches(obj, due__lt="2024-02-01")
    assert matches(obj, color="blue")
    assert matches(obj, color__in=["blue", Color.RED])
    assert matches(obj, n="3")


# -- Q --------------------------------------------------------------------------------------


def test_q_combinations() -> None:
    obj = item(title="milk", n=3)
    assert matches(obj, Q(title="milk") | Q(title="bread"))
    assert matches(obj, Q(title="milk") & Q(n=3))
    assert not matches(obj, Q(title="milk") & ~Q(n=3))
    assert matches(obj, ~Q(title="bread"))
    assert matches(obj, ~~Q(title="milk"))
    assert matches(obj, Q(Q(n=1) | Q(n=3), title="milk"))
    assert matches(obj, Q())


def test_q_repr_and_equality() -> None:
    assert repr(Q(a=1) | ~Q(b=2)) == "Q(Q(a=1) OR ~Q(b=2))"
    assert Q(a=1) == Q(a=1)
    assert Q(a=1) != ~Q(a=1)


def test_q_refuses_non_q_positional_arguments() -> None:
    with pytest.raises(TypeError, match="Q objects"):
        Q("title")  # type: ignore[arg-type]


def test_iexact() -> None:
    obj = item(title="Milk", meta={"k": "Ünïcode"})
    assert matches(obj, title__iexact="milk")
    assert matches(obj, title__iexact="MILK")
    assert not matches(obj, title__iexact="milk ")
    assert matches(obj, meta__k__iexact="üNÏCODE")
    assert matches(item(title="x", address={"zip_code": None}), address__zip_code__iexact=None)


def test_range_is_inclusive() -> None:
    obj = item(n=5, due="2024-03-01")
    assert matches(obj, n__range=(5, 9))
    assert matches(obj, n__range=[1, 5])
    assert not matches(obj, n__range=(6, 9))
    assert matches(obj, due__range=("2024-01-01", dt.date(2024, 3, 1)))
    assert not matches(item(score=None), score__range=(0, 1))
    assert not matches(item(meta={"k": "text"}), meta__k__range=(1, 2))


def test_regex_and_iregex_search_the_text() -> None:
    obj = item(title="Buy 2 bottles of milk")
    assert matches(obj, title__regex=r"\d+ bottles")
    assert matches(obj, title__regex=r"^Buy")
    assert not matches(obj, title__regex=r"^buy")
    assert matches(obj, title__iregex=r"^buy .* MILK$")
    assert not matches(item(meta={"k": 3}), meta__k__regex=r"3")


# -- naive and aware datetimes never compare ---------------------------------------------------


class Event(Model, bucket="events"):
    at: dt.datetime | None = None
    times: list[dt.datetime] = []
    meta: dict[str, Any] = {}


def event(**data: Any) -> Event:
    return Event.from_document("e1", 1, data)


NAIVE = dt.datetime(2024, 5, 1, 12, 0)
AWARE = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "lookups",
    [
        {"at": AWARE},
        {"at__gte": AWARE},
        {"at__lt": AWARE},
        {"at__in": [AWARE]},
        {"at__range": (AWARE, AWARE)},
        {"times__contains": AWARE},
        {"meta__when": AWARE},
    ],
)
def test_an_aware_lookup_refuses_a_naive_stored_datetime_naming_the_field(
    lookups: dict[str, Any],
) -> None:
    stored = event(at=NAIVE.isoformat(), times=[NAIVE.isoformat()], meta={"when": NAIVE})
    with pytest.raises(so.IncomparableValues, match=next(iter(lookups))) as err:
        compile_q(Event, Q(**lookups))(stored)
    assert "naive" in str(err.value) and "aware" in str(err.value)
    assert isinstance(err.value, TypeError)


def test_datetimes_of_one_kind_compare_as_usual() -> None:
    naive, aware = event(at=NAIVE.isoformat()), event(at=AWARE.isoformat())
    assert compile_q(Event, Q(at=NAIVE))(naive)
    assert compile_q(Event, Q(at__gte="2024-05-01T11:00:00+00:00"))(aware)
    assert not compile_q(Event, Q(at__gt=NAIVE))(naive)
    assert compile_q(Event, Q(at__isnull=True))(event())
    assert not compile_q(Event, Q(at=AWARE))(event())  # None never compares, nor fails


def test_a_lookup_mixing_naive_and_aware_values_fails_when_compiled() -> None:
    with pytest.raises(InvalidLookup, match="at__in: mixes naive and aware"):
        compile_q(Event, Q(at__in=[NAIVE, AWARE]))
    with pytest.raises(InvalidLookup, match="at__range"):
        compile_q(Event, Q(at__range=(NAIVE, AWARE)))


# -- errors at compile time -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("lookups", "message"),
    [
        ({"titel": "x"}, "Item has no field 'titel'"),
        ({"title__startwith": "x"}, "'startwith' is neither a field of it nor a lookup"),
        ({"title__": "x"}, "empty segment"),
        ({"n__in": 3}, "'in' takes a list"),
        ({"title__in": "abc"}, "'in' takes a list"),
        ({"done__isnull": "yes"}, "takes True or False"),
        ({"n__gt": None}, "cannot compare with None"),
        ({"title__startswith": 3}, "takes a str"),
        ({"n__startswith": "1"}, "text fields only"),
        ({"n__contains": 1}, "applies to text, list or dict"),
        ({"title__contains": 1}, "takes a str"),
        ({"n": "three"}, "does not fit the field type int"),
        ({"due__gt": "not a date"}, "does not fit the field type"),
        ({"address__town": "x"}, "cannot look up 'town' inside 'address'"),
        ({"id__x": "y"}, "nothing inside"),
        ({"n__iexact": "3"}, "text fields only"),
        ({"title__iexact": 3}, "takes a str"),
        ({"n__range": 3}, "'range' takes a list"),
        ({"n__range": (1, 2, 3)}, "'range' takes two values"),
        ({"n__range": (1, None)}, "cannot compare with None"),
        ({"title__regex": "(unclosed"}, "not a valid regular expression"),
        ({"title__iregex": 1}, "takes a str"),
        ({"n__regex": "1"}, "text fields only"),
    ],
)
def test_bad_lookups_fail_when_compiled_naming_the_field(
    lookups: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidLookup, match=message) as err:
        compile_q(Item, Q(**lookups))
    assert next(iter(lookups)) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_split_lookup() -> None:
    assert split_lookup("a") == (["a"], "exact")
    assert split_lookup("a__b__gt") == (["a", "b"], "gt")
    assert split_lookup("a__b") == (["a", "b"], "exact")
    assert split_lookup("gt") == (["gt"], "exact")
    expected = "exact iexact in gt gte lt lte range contains icontains startswith endswith"
    assert set(expected.split()) | {"regex", "iregex", "isnull"} == LOOKUPS


# -- properties -----------------------------------------------------------------------------

ints = st.integers(min_value=-50, max_value=50)
texts = st.text(alphabet="abcABC", max_size=4)
items = st.lists(st.tuples(ints, texts), max_size=12).map(
    lambda rows: [item(f"i{k}", 1, n=n, title=t) for k, (n, t) in enumerate(rows)]
)
leaf_q = st.one_of(
    ints.map(lambda v: Q(n__gt=v)),
    ints.map(lambda v: Q(n__lte=v)),
    st.lists(ints, max_size=3).map(lambda v: Q(n__in=v)),
    texts.map(lambda v: Q(title__startswith=v)),
    texts.map(lambda v: Q(title__icontains=v)),
    texts.map(lambda v: Q(title=v)),
)
any_q = st.recursive(
    leaf_q,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: p[0] & p[1]),
        st.tuples(inner, inner).map(lambda p: p[0] | p[1]),
        inner.map(lambda q: ~q),
    ),
    max_leaves=6,
)


@given(items, ints, texts)
def test_lookups_agree_with_python(objs: list[Item], v: int, t: str) -> None:
    def ids(**lookups: Any) -> list[str | None]:
        pred = compile_q(Item, Q(**lookups))
        return [o.id for o in objs if pred(o)]

    assert ids(n__gt=v) == [o.id for o in objs if o.n > v]
    assert ids(n__gte=v) == [o.id for o in objs if o.n >= v]
    assert ids(n__lt=v) == [o.id for o in objs if o.n < v]
    assert ids(n__lte=v) == [o.id for o in objs if o.n <= v]
    assert ids(n=v) == [o.id for o in objs if o.n == v]
    assert ids(title__startswith=t) == [o.id for o in objs if o.title.startswith(t)]
    assert ids(title__endswith=t) == [o.id for o in objs if o.title.endswith(t)]
    assert ids(title__contains=t) == [o.id for o in objs if t in o.title]
    assert ids(title__icontains=t) == [o.id for o in objs if t.lower() in o.title.lower()]


@given(items, any_q, any_q)
def test_q_algebra(objs: list[Item], a: Q, b: Q) -> None:
    pa, pb = compile_q(Item, a), compile_q(Item, b)
    for obj in objs:
        assert compile_q(Item, a & b)(obj) == (pa(obj) and pb(obj))
        assert compile_q(Item, a | b)(obj) == (pa(obj) or pb(obj))
        assert compile_q(Item, ~a)(obj) == (not pa(obj))
        assert compile_q(Item, ~(a & b))(obj) == compile_q(Item, ~a | ~b)(obj)
        assert compile_q(Item, ~~a)(obj) == pa(obj)


# -- field types ------------------------------------------------------------------------------


def test_kinds_of_annotations() -> None:
    from collections.abc import Sequence
    from typing import Annotated, Literal, NewType, Optional

    from typing_extensions import TypedDict

    from simperium_orm.orm.fieldtypes import inner_annotation, kinds_of

    class Shape(TypedDict):
        w: int

    UserId = NewType("UserId", str)
    assert kinds_of(str).kinds == {"str"}
    assert kinds_of(Optional[Color]).kinds == {"str"}  # noqa: UP045 - the spelling under test
    assert kinds_of(Literal["a", "b"]).kinds == {"str"}
    assert kinds_of(UserId).kinds == {"str"}
    assert kinds_of(Annotated[int, "meta"]).kinds == {"other"}
    assert kinds_of(list[int]).item is int
    assert kinds_of(Sequence[str]).kinds == {"seq"}
    assert kinds_of(tuple[int, ...]).item is int
    assert kinds_of(dict[str, int]).kinds == {"map"}
    assert kinds_of(Shape).kinds == {"map"}
    assert kinds_of(Address | None).models == [Address]
    assert kinds_of(Any).kinds == {"unknown"}
    assert kinds_of(None).kinds == {"unknown"}
    assert inner_annotation(dict[str, int] | None, "k") is int
    assert inner_annotation(Shape, "w") is int
    assert inner_annotation(list[int], "k") is None
