"""JSON in and out without losing what the client wrote.

A FHIR server returns what it was given: ``7.00`` stays ``7.00``, ``1e2`` stays ``1e2``,
``-0`` stays ``-0``, and element order is kept. orjson and the standard library turn
decimals into floats, so writes parse with simplejson, whose decimals keep their text
(``JsonNumber`` below), and dump with it. Reads serve stored bytes untouched and never parse.
"""

from __future__ import annotations

import re
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


class JsonInteger(JsonNumber):
    """A JSON integer that ``int`` would not print as written: ``-0`` (the only one, as
    JSON has no leading zeros). Validation takes it for an integer."""


def _parse_int(text: str) -> int | JsonInteger:
    return JsonInteger(text) if text.startswith("-0") else int(text)


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# A \uD800-\uDFFF escape: half of a surrogate pair, or a lone one (which no UTF-8 holds).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(body: bytes | str) -> Any:
    """Parse JSON, keeping decimal text; unparseable input is a 400 naming the position.

    A string (or key) holding a lone surrogate (``"\\ud800"`` unpaired) is refused too:
    it is no Unicode text (RFC 8259 section 8.2), and it could never be written out as
    UTF-8 again, to the store or in an OperationOutcome quoting it.
    """
    try:
        value = simplejson.loads(
            body, parse_float=JsonNumber, parse_int=_parse_int, parse_constant=_parse_constant
        )
    except (simplejson.JSONDecodeError, ValueError, RecursionError) as exc:
        raise errors.invalid(f"The body is not valid JSON: {exc}", code="structure") from None
    text = body if isinstance(body, str) else body.decode("utf-8", "replace")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise errors.invalid(
            "The body is not valid JSON: a string holds an unpaired surrogate (\\ud800-\\udfff)",
            code="structure",
        )
    return value


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a string or key anywhere in ``value`` cannot be encoded as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


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
