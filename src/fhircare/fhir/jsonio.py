"""JSON in and out without losing what the client wrote.

A FHIR server returns what it was given: ``7.00`` stays ``7.00``, ``1e2`` stays ``1e2``,
and element order is kept. orjson and the standard library turn decimals into floats, so
writes parse with simplejson, whose decimals keep their text (``JsonNumber`` below), and
dump with it. Reads serve stored bytes untouched and never parse.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import simplejson

from fhircare.fhir import errors


class JsonNumber(Decimal):
    """A JSON decimal that prints exactly as it was written."""

    _text: str

    def __new__(cls, text: str) -> JsonNumber:
        number = super().__new__(cls, text)
        number._text = text
        return number

    def __str__(self) -> str:
        return self._text

    __repr__ = __str__


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes | str) -> Any:
    """Parse JSON, keeping decimal text; unparseable input is a 400 naming the position."""
    try:
        return simplejson.loads(body, parse_float=JsonNumber, parse_constant=_parse_constant)
    except (simplejson.JSONDecodeError, ValueError, RecursionError) as exc:
        raise errors.invalid(f"The body is not valid JSON: {exc}", code="structure") from None


def dumps(value: Any, pretty: bool = False) -> bytes:
    """Serialise to UTF-8 JSON, compact unless ``pretty``."""
    text = simplejson.dumps(
        value,
        use_decimal=True,
        ensure_ascii=False,
        indent=2 if pretty else None,
        separators=(",", ": ") if pretty else (",", ":"),
    )
    return text.encode("utf-8")


def deeper_than(value: Any, limit: int) -> bool:
    """True when arrays and objects nest more than ``limit`` levels (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False
