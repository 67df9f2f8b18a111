"""What every store shares for its state records (``protocol.StateRecord``).

A value is kept as JSON text, so each store returns a fresh copy that round-trips exactly
what JSON can hold, and MongoDB (FerretDB) never sees its keys (``$`` and ``.`` are
allowed there) or a NUL in its strings (JSON escapes it). Keys are listed in code point
order, which is UTF-8 byte order: SQLite's ``BINARY`` collation and MongoDB's string
order agree with Python's.
"""

from __future__ import annotations

from typing import Any

import orjson


def encode_value(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value)


def decode_value(data: bytes | str) -> dict[str, Any]:
    value = orjson.loads(data)
    assert isinstance(value, dict)
    return value


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix``, so a prefix is
    the range ``prefix <= key < prefix_end(prefix)`` an index can serve; None when no
    string is above them (an empty prefix, or one of U+10FFFF only)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            following = 0xE000 if 0xD7FF <= last < 0xDFFF else last + 1  # past the surrogates
            return "".join(chars) + chr(following)
    return None
