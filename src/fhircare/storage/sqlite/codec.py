"""How values cross into SQLite and back: instants as sortable text, index entries as rows.

SQLite has no datetime type, so an instant is stored as fixed-width UTC text
(``0001-01-01T00:00:00.000000Z``) whose byte order is time order: range conditions and
``ORDER BY`` compare it as text. A version's index entries (``search/entries.py``) are kept
twice: as rows of the ``entries`` table, one per entry (a composite with several ``k``
combinations gives one row per combination), which the SQL search reads; and as JSON on the
current version for the exact matcher, where ``lo``/``hi`` strings are instants again
(entries hold instants only there). Sort values are JSON with each value tagged by kind
(``sort_values.tag``), since a string and an instant must not be confused when read back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from fhircare.search.entries import COMPOSITE_KEYS, COMPOSITE_PARTS
from fhircare.search.sort_values import tag, untag

ENTRY_COLUMNS = ("s", "c", "v", "x", "t", "ot", "r", "is", "iv", "lo", "hi", "u")
"""The fields of an index entry that are columns of ``entries`` (``is`` quoted in SQL);
``rt`` (the reference's last path segment) and ``k`` (one composite combination) are
derived, and the rest (``n``, ``ty``, ``q``) are read only from the JSON."""
RANGE_FIELDS = ("lo", "hi")


def instant(moment: datetime) -> str:
    """``moment`` as fixed-width UTC text that sorts as time."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond:06d}Z"
    )


def parse_instant(text: str) -> datetime:
    """The inverse of ``instant``."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def sql_value(value: Any) -> Any:
    """A Python value as an SQL parameter: instants as ``instant`` text, the rest as is."""
    if isinstance(value, datetime):
        return instant(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def reference_tail(reference: Any) -> str | None:
    """What follows the last ``/`` of a reference (its id for ``Type/id``), which serves
    the reference predicate's ``suffix /id`` from an index; None without a ``/``."""
    if not isinstance(reference, str) or "/" not in reference:
        return None
    return reference.rsplit("/", 1)[1]


def entry_rows(entries: Sequence[Mapping[str, Any]]) -> Iterator[tuple[Any, ...]]:
    """``(p, rt, k, *ENTRY_COLUMNS)`` for each row of ``entries`` the entries give. Only the
    range ends can be instants; every other column is text as extraction wrote it."""
    for entry in entries:
        code = entry.get("p")
        if not isinstance(code, str):
            continue
        get = entry.get
        lo, hi, reference = get("lo"), get("hi"), get("r")
        columns = (
            get("s"), get("c"), get("v"), get("x"), get("t"), get("ot"), reference, get("is"),
            get("iv"), instant(lo) if isinstance(lo, datetime) else lo,
            instant(hi) if isinstance(hi, datetime) else hi, get("u"),
        )  # fmt: skip
        tail = reference_tail(reference)
        keys = get(COMPOSITE_KEYS)
        if isinstance(keys, list) and keys:
            for key in keys:
                yield (code, tail, key, *columns)
        else:
            yield (code, tail, None, *columns)


def encode_entries(entries: Sequence[Mapping[str, Any]]) -> bytes:
    return orjson.dumps([_plain(e) for e in entries])


def _plain(entry: Mapping[str, Any]) -> dict[str, Any]:
    plain = {k: sql_value(v) if k in RANGE_FIELDS else v for k, v in entry.items()}
    parts = entry.get(COMPOSITE_PARTS)
    if isinstance(parts, list):
        plain[COMPOSITE_PARTS] = [_plain(p) for p in parts]
    return plain


def decode_entries(data: bytes | str | None) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = orjson.loads(data) if data else []
    for entry in entries:
        _instants(entry)
    return entries


def _instants(entry: dict[str, Any]) -> None:
    for name in RANGE_FIELDS:
        value = entry.get(name)
        if isinstance(value, str):
            entry[name] = parse_instant(value)
    for part in entry.get(COMPOSITE_PARTS) or ():
        if isinstance(part, dict):
            _instants(part)


def encode_sort_values(values: Mapping[str, Mapping[str, Any]] | None) -> bytes:
    tagged = {
        side: {k: tag(v) for k, v in fields.items()} for side, fields in (values or {}).items()
    }
    return orjson.dumps(tagged)


def decode_sort_values(data: bytes | str | None) -> dict[str, dict[str, Any]]:
    tagged: dict[str, dict[str, Any]] = orjson.loads(data) if data else {}
    return {side: {k: untag(v) for k, v in fields.items()} for side, fields in tagged.items()}
