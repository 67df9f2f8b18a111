"""Sort values for ``_sort`` (https://hl7.org/fhir/R4/search.html#sort), and the cursor.

Computed at write time from a resource's index entries (``search/entries.py``) and stored
with its current version, so every store orders by the same values:

- string → the folded value ``v``; token → the code ``c``; date → ``lo`` ascending, ``hi``
  descending; number/quantity → ``n`` (a range without one: ``lo``/``hi``); reference →
  ``r``; uri → ``v``. Composite and special parameters have no sort value.
- A parameter with several values sorts by its smallest value ascending and by its
  largest descending (as the specification says).
- A resource without a value for a sort key sorts after every resource that has one, in
  both directions; ties fall through to the next key and finally to the resource key
  (``Type/id``) ascending, so the order is total.

Values of different kinds (which only a redefined parameter could produce) compare by
kind first, numbers < strings < dates, which is MongoDB's BSON order too.

The stored form is ``{"a": {field: smallest}, "d": {field: largest}, "h": {field: 1}}``
(``h``: see ``HAS``) where ``field``
is the parameter code made safe as a BSON key (``field_name``): no ``.``, no leading
``$``. ``cursor``/``parse_cursor`` turn a keyset position into the opaque ``_cursor``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fhircare.search.request import SortKey

SortValue = str | float | datetime | None
"""One sort value; None when the resource has none."""

ASC = "a"
DESC = "d"
HAS = "h"
"""``{field: 1}`` for each field with an ascending value: MongoDB sorts a missing field
first in ascending order, so a store sorts by this flag descending first to put it last."""
RESOURCE_FIELDS = {"_id": "rid", "_lastUpdated": "lastUpdated"}
"""Sort codes that read a stored field of the version instead of its index entries."""

_SAFE = re.compile(r"[A-Za-z0-9_-]")


def field_name(code: str) -> str:
    """``code`` as a BSON key: other characters than ``[A-Za-z0-9_-]`` become ``~hex~``."""
    return "".join(c if _SAFE.fullmatch(c) else f"~{ord(c):x}~" for c in code)


def entry_value(entry: Mapping[str, Any], descending: bool) -> SortValue:
    """The value one index entry sorts by, or None (composite, a token without a code)."""
    if "n" in entry:
        value = entry.get("n")
        if value is None:
            value = entry.get("hi" if descending else "lo")
        return None if value is None else float(value)
    if "lo" in entry or "hi" in entry:
        return entry.get("hi" if descending else "lo")
    if "k" in entry:
        return None
    for name in ("r", "c", "v"):
        if name in entry:
            value = entry[name]
            return value if isinstance(value, str) else None
    return None


def sort_values(entries: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{"a": {field: smallest value}, "d": {field: largest value}, "h": {field: 1}}``."""
    smallest: dict[str, Any] = {}
    largest: dict[str, Any] = {}
    for entry in entries:
        code = entry.get("p")
        if not isinstance(code, str):
            continue
        name = field_name(code)
        low, high = entry_value(entry, False), entry_value(entry, True)
        if low is not None and (name not in smallest or _rank(low) < _rank(smallest[name])):
            smallest[name] = low
        if high is not None and (name not in largest or _rank(high) > _rank(largest[name])):
            largest[name] = high
    return {ASC: smallest, DESC: largest, HAS: {name: 1 for name in smallest}}


def values_of(
    sort: Sequence[SortKey],
    stored: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
) -> tuple[SortValue, ...]:
    """One value per sort key, from stored sort values and the version's ``rid`` and
    ``lastUpdated`` ``fields``."""
    stored = stored or {}
    values: list[SortValue] = []
    for key in sort:
        if key.code in RESOURCE_FIELDS:
            values.append(fields.get(RESOURCE_FIELDS[key.code]))
        else:
            side = stored.get(DESC if key.descending else ASC) or {}
            values.append(side.get(field_name(key.code)))
    return tuple(values)


def _rank(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, int | float):
        return (0, float(value))
    if isinstance(value, str):
        return (1, value)
    return (2, value)


def compare(
    sort: Sequence[SortKey],
    a: tuple[Sequence[SortValue], str],
    b: tuple[Sequence[SortValue], str],
) -> int:
    """-1, 0 or 1: positions (values, key) in ``sort`` order, missing values last."""
    for key, x, y in zip(sort, a[0], b[0], strict=True):
        if x is None or y is None:
            if x is None and y is None:
                continue
            return 1 if x is None else -1
        rx, ry = _rank(x), _rank(y)
        if rx != ry:
            result = -1 if rx < ry else 1
            return -result if key.descending else result
    if a[1] != b[1]:
        return -1 if a[1] < b[1] else 1
    return 0


def sort_key(sort: Sequence[SortKey]) -> Any:
    """A ``key=`` function for ``sorted`` over (values, key) positions."""
    return functools.cmp_to_key(lambda a, b: compare(sort, a, b))


# The cursor: base64url of compact JSON [watermark, key, [tagged values]]; a value is
# null, ["s", text], ["f", number] or ["t", ISO datetime].


class BadCursor(ValueError):
    """A ``_cursor`` this server did not write."""


def cursor(as_of: int, values: Sequence[SortValue], key: str) -> str:
    tagged = [tag(v) for v in values]
    text = json.dumps([as_of, key, tagged], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def parse_cursor(text: str, sort_length: int) -> tuple[int, tuple[SortValue, ...], str]:
    """(watermark, values, key) of a ``_cursor``; ``BadCursor`` if it is not one of ours
    for a sort of ``sort_length`` keys."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise BadCursor("not a cursor") from error
    if not (isinstance(data, list) and len(data) == 3):
        raise BadCursor("not a cursor")
    as_of, key, tagged = data
    if (
        not isinstance(as_of, int)
        or isinstance(as_of, bool)
        or as_of < 0
        or not isinstance(key, str)
        or not isinstance(tagged, list)
        or len(tagged) != sort_length
    ):
        raise BadCursor("not a cursor for this search")
    return as_of, tuple(untag(v) for v in tagged), key


def tag(value: SortValue) -> Any:
    """``value`` as JSON that keeps its kind: null, ["s", text], ["f", number], ["t", ISO]."""
    if value is None:
        return None
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    return ["f", float(value)]


def untag(item: Any) -> SortValue:
    """The inverse of ``tag``; ``BadCursor`` for anything ``tag`` does not write."""
    if item is None:
        return None
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
        raise BadCursor("bad cursor value")
    kind, value = item
    if kind == "s" and isinstance(value, str):
        return value
    if kind == "f" and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise BadCursor("bad cursor number")
        return float(value)
    if kind == "t" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise BadCursor("bad cursor date") from error
        if moment.tzinfo is None:
            raise BadCursor("bad cursor date")
        return moment
    raise BadCursor("bad cursor value")
