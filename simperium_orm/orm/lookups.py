"""Field lookups and ``Q`` objects, compiled into predicates over model objects (pure, no I/O).

``title__startswith="m"`` names a field path (``title``, or ``meta__color`` into a dict or a
nested model) and a lookup (``exact`` when omitted). Everything that can be checked without
data is checked when the lookup is compiled, so a typo fails at ``filter()`` time with a
message naming the field. Simperium has no server-side query: these predicates run in the
client over the objects of each index page.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from simperium_orm.errors import IncomparableValues, InvalidLookup
from simperium_orm.orm.fieldtypes import (
    MAP,
    SEQ,
    STR,
    UNKNOWN,
    adapter,
    aware,
    inner_annotation,
    kinds_of,
)
from simperium_orm.protocol import MISSING

__all__ = ["LOOKUPS", "MISSING", "FieldPath", "InvalidLookup", "Predicate", "Q", "compile_q"]

_PSEUDO = {"id": str | None, "version": int | None}  # outside the schema, still filterable

Predicate = Callable[[Any], bool]


class Q:
    """A condition built from lookups, combined with ``&``, ``|`` and ``~``.

    ``Q(done=False, title__startswith="m")`` is the AND of its lookups; ``Q(a) | Q(b)`` the OR.
    """

    __slots__ = ("children", "connector", "negated")

    def __init__(self, *args: Q, **lookups: Any) -> None:
        for arg in args:
            if not isinstance(arg, Q):
                raise TypeError(f"positional filter arguments must be Q objects, not {arg!r}")
        self.children: tuple[Q | tuple[str, Any], ...] = (*args, *lookups.items())
        self.connector = "AND"
        self.negated = False

    @classmethod
    def _combine(
        cls, connector: str, children: Iterable[Q | tuple[str, Any]], negated: bool = False
    ) -> Q:
        q = cls()
        q.children, q.connector, q.negated = tuple(children), connector, negated
        return q

    def __and__(self, other: Q) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        return Q._combine("AND", (self, other))

    def __or__(self, other: Q) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        return Q._combine("OR", (self, other))

    def __invert__(self) -> Q:
        return Q._combine(self.connector, self.children, not self.negated)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Q):
            return NotImplemented
        return (self.children, self.connector, self.negated) == (
            other.children,
            other.connector,
            other.negated,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = [repr(c) if isinstance(c, Q) else f"{c[0]}={c[1]!r}" for c in self.children]
        inner = f" {self.connector} ".join(parts) if len(parts) > 1 else "".join(parts)
        return f"~Q({inner})" if self.negated else f"Q({inner})"


@dataclass(frozen=True)
class FieldPath:
    """A resolved ``a__b`` path: how to read it from an object and what type it holds."""

    label: str
    steps: tuple[str, ...]
    annotation: Any  # None when the type is not known (inside an untyped dict)

    def get(self, obj: Any) -> Any:
        """The value at this path in a model object; MISSING where the path leads nowhere."""
        value = getattr(obj, self.steps[0])
        for step in self.steps[1:]:
            if isinstance(value, BaseModel):
                value = (
                    getattr(value, step, MISSING) if step in type(value).model_fields else MISSING
                )
            elif isinstance(value, Mapping):
                value = value.get(step, MISSING)
            else:
                return MISSING
        return value


def resolve_path(model: type[BaseModel], parts: list[str], context: str) -> FieldPath:
    """Resolve field path segments against ``model``; :class:`InvalidLookup` when impossible."""
    first, label = parts[0], "__".join(parts)
    if first in _PSEUDO:
        if len(parts) > 1:
            raise InvalidLookup(f"{context}: {first!r} has nothing inside it to look up")
        return FieldPath(first, (first,), _PSEUDO[first])
    name = _field_name(model, first)
    if name is None:
        fields = ", ".join([*sorted(model.model_fields), "id", "version"])
        raise InvalidLookup(
            f"{context}: {model.__name__} has no field {first!r} (fields: {fields})"
        )
    annotation = model.model_fields[name].annotation
    steps = [name]
    for part in parts[1:]:
        kinds = kinds_of(annotation)
        if kinds.any_of(UNKNOWN, MAP):
            steps.append(part)
            annotation = inner_annotation(annotation, part)
            continue
        nested = [t for t in kinds.models if _field_name(t, part) is not None]
        if not nested:
            where = "__".join(parts[: len(steps)])
            shown = getattr(annotation, "__name__", None) or repr(annotation)
            raise InvalidLookup(
                f"{context}: cannot look up {part!r} inside {where!r} ({shown}); "
                f"{part!r} is neither a field of it nor a lookup ({', '.join(sorted(LOOKUPS))})"
            )
        name = _field_name(nested[0], part)
        assert name is not None
        steps.append(name)
        annotation = nested[0].model_fields[name].annotation
    return FieldPath(label, tuple(steps), annotation)


def _field_name(model: type[BaseModel], key: str) -> str | None:
    if key in model.model_fields:
        return key
    for name, info in model.model_fields.items():
        if info.alias == key:
            return name
    return None


def split_lookup(key: str) -> tuple[list[str], str]:
    """``"a__b__gt"`` -> (["a", "b"], "gt"); a path without a lookup means ``exact``."""
    parts = key.split("__")
    if any(not p for p in parts):
        raise InvalidLookup(f"{key!r}: empty segment in the lookup")
    if len(parts) > 1 and parts[-1] in LOOKUPS:
        return parts[:-1], parts[-1]
    return parts, "exact"


def compile_q(model: type[BaseModel], q: Q) -> Predicate:
    """The predicate that tests an object of ``model`` against ``q``."""
    preds = [
        compile_q(model, child) if isinstance(child, Q) else compile_lookup(model, *child)
        for child in q.children
    ]
    if not preds:
        pred: Predicate = _always
    elif len(preds) == 1:
        pred = preds[0]
    elif q.connector == "AND":
        pred = _all_of(preds)
    else:
        pred = _any_of(preds)
    return _negate(pred) if q.negated else pred


def _always(obj: Any) -> bool:
    return True


def _all_of(preds: list[Predicate]) -> Predicate:
    return lambda obj: all(p(obj) for p in preds)


def _any_of(preds: list[Predicate]) -> Predicate:
    return lambda obj: any(p(obj) for p in preds)


def _negate(pred: Predicate) -> Predicate:
    return lambda obj: not pred(obj)


def compile_lookup(model: type[BaseModel], key: str, value: Any) -> Predicate:
    """The predicate for one ``field__lookup=value`` argument."""
    parts, op = split_lookup(key)
    path = resolve_path(model, parts, key)
    test = _OPS[op](path, value, key)
    get = path.get
    return lambda obj: test(get(obj))


# -- the lookups: each checks its value once, then returns a test of the field's value ----------


Test = Callable[[Any], bool]


def _exact(path: FieldPath, value: Any, key: str) -> Test:
    if value is None:
        return _is_none
    target = coerce(path.annotation, value, key)
    return _same_clock(lambda v: v is not MISSING and v == target, [target], key)


def _is_none(v: Any) -> bool:
    return v is None or v is MISSING


def _in(path: FieldPath, value: Any, key: str) -> Test:
    targets = [None if v is None else coerce(path.annotation, v, key) for v in _many(value, key)]
    try:
        hashed = frozenset(targets)
    except TypeError:  # unhashable targets such as lists: compare one by one
        return lambda v: v is not MISSING and any(v == t for t in targets)

    def test(v: Any) -> bool:
        if v is MISSING:
            return None in hashed
        try:
            return v in hashed
        except TypeError:
            return any(v == t for t in targets)

    return _same_clock(test, targets, key)


def _many(value: Any, key: str) -> list[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        lookup = key.rpartition("__")[2]
        raise InvalidLookup(
            f"{key}: {lookup!r} takes a list, tuple or set of values, not {type(value).__name__}"
        )
    return list(value)


def _compare(*ops: Callable[[Any, Any], bool]) -> Callable[[FieldPath, Any, str], Test]:
    """A lookup true when ``op(value, target)`` holds for each op and target in turn: one
    target for ``gt``..., two for ``range`` (``low <= value <= high``)."""

    def build(path: FieldPath, value: Any, key: str) -> Test:
        given = _many(value, key) if len(ops) > 1 else [value]
        if len(given) != len(ops):
            raise InvalidLookup(f"{key}: 'range' takes two values (low, high), got {len(given)}")
        if any(v is None for v in given):
            raise InvalidLookup(f"{key}: cannot compare with None; use __isnull=True")
        targets = [coerce(path.annotation, v, key) for v in given]
        pairs = list(zip(ops, targets, strict=True))

        def test(v: Any) -> bool:
            if v is None or v is MISSING:
                return False
            try:
                return all(op(v, target) for op, target in pairs)
            except TypeError:  # a stored value of another type never matches
                return False

        return _same_clock(test, targets, key)

    return build


def _same_clock(test: Test, targets: Sequence[Any], key: str) -> Test:
    """``test``, refusing to compare a naive datetime (or time) with an aware one (see
    fieldtypes.py): such a value raises ``IncomparableValues`` instead of silently not matching."""
    kinds = {aware(t) for t in targets} - {None}
    if not kinds:
        return test
    if len(kinds) > 1:
        raise InvalidLookup(f"{key}: mixes naive and aware datetimes, which never compare")
    want = kinds.pop()
    assert want is not None

    def checked(v: Any) -> bool:
        have = aware(v)
        if have is not None and have is not want:
            raise IncomparableValues(_clock_message(key, have, want))
        return test(v)

    return checked


def _clock_message(key: str, stored: bool, given: bool) -> str:
    def kind(is_aware: bool) -> str:
        return "an aware" if is_aware else "a naive"

    return (
        f"{key}: cannot compare {kind(stored)} datetime stored in the field with {kind(given)} "
        "one in the lookup; naive and aware datetimes never compare (give both a timezone, "
        "or neither)"
    )


def _contains(path: FieldPath, value: Any, key: str) -> Test:
    kinds = kinds_of(path.annotation)
    if not kinds.any_of(STR, SEQ, MAP, UNKNOWN):
        raise InvalidLookup(f"{key}: 'contains' applies to text, list or dict fields")
    if kinds.kinds == {STR} and not isinstance(value, str):
        raise InvalidLookup(f"{key}: 'contains' on a text field takes a str, not {value!r}")
    if kinds.kinds == {SEQ} and kinds.item is not None:
        value = coerce(kinds.item, value, key)
    target = value
    same = _same_clock(lambda x: x == target, [target], key)
    guarded = aware(target) is not None  # datetimes in a list: each compared under the rule

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return isinstance(target, str) and target in v
        if guarded and isinstance(v, (list, tuple, set, frozenset)):
            return any(map(same, v))
        if isinstance(v, (list, tuple, set, frozenset, Mapping)):
            try:
                return target in v
            except TypeError:
                return any(x == target for x in v)
        return False

    return test


def _text_value(path: FieldPath, value: Any, key: str, name: str) -> str:
    if not kinds_of(path.annotation).any_of(STR, UNKNOWN):
        raise InvalidLookup(f"{key}: {name!r} applies to text fields only")
    if not isinstance(value, str):
        raise InvalidLookup(f"{key}: {name!r} takes a str, not {value!r}")
    return value


def _text(name: str, method: Callable[[str, str], bool], fold: bool = False) -> Any:
    def build(path: FieldPath, value: Any, key: str) -> Test:
        if value is None and name == "iexact":
            return _is_none
        target = _text_value(path, value, key, name)
        if fold:
            target = target.casefold()
            return lambda v: isinstance(v, str) and method(v.casefold(), target)
        return lambda v: isinstance(v, str) and method(v, target)

    return build


def _regex(name: str, flags: int) -> Callable[[FieldPath, Any, str], Test]:
    def build(path: FieldPath, value: Any, key: str) -> Test:
        try:
            pattern = re.compile(_text_value(path, value, key, name), flags)
        except re.error as exc:
            reason = f"{value!r} is not a valid regular expression: {exc}"
            raise InvalidLookup(f"{key}: {reason}") from None
        search = pattern.search
        return lambda v: isinstance(v, str) and search(v) is not None

    return build


def _isnull(path: FieldPath, value: Any, key: str) -> Test:
    if not isinstance(value, bool):
        raise InvalidLookup(f"{key}: 'isnull' takes True or False, not {value!r}")
    if value:
        return _is_none
    return lambda v: not _is_none(v)


_OPS: dict[str, Callable[[FieldPath, Any, str], Test]] = {
    "exact": _exact,
    "iexact": _text("iexact", operator.eq, fold=True),
    "in": _in,
    "gt": _compare(operator.gt),
    "gte": _compare(operator.ge),
    "lt": _compare(operator.lt),
    "lte": _compare(operator.le),
    "range": _compare(operator.ge, operator.le),
    "contains": _contains,
    "icontains": _text("icontains", lambda v, t: t in v, fold=True),
    "startswith": _text("startswith", str.startswith),
    "endswith": _text("endswith", str.endswith),
    "regex": _regex("regex", 0),
    "iregex": _regex("iregex", re.IGNORECASE),
    "isnull": _isnull,
}
LOOKUPS = frozenset(_OPS)


def coerce(tp: Any, value: Any, key: str) -> Any:
    """``value`` validated as the field's type: ``"2024-01-31"`` for a date field is a date."""
    try:
        checker = None if UNKNOWN in kinds_of(tp).kinds else adapter(tp)
    except TypeError:  # an unhashable annotation: compare values as given
        checker = None
    if checker is None:
        return value
    try:
        return checker.validate_python(value)
    except ValidationError as exc:
        shown = getattr(tp, "__name__", None) or repr(tp)
        reason = exc.errors(include_url=False)[0]["msg"]
        raise InvalidLookup(
            f"{key}: {value!r} does not fit the field type {shown}: {reason}"
        ) from None
