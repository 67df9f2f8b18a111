"""Deep copies of plain JSON, so nothing an evaluator returns is shared with the caller."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def copy_json(value: Any) -> Any:
    """A deep copy of plain JSON (dicts, lists, scalars; tuples stay tuples), much faster
    than ``copy.deepcopy``; any Mapping becomes a dict. Scalars (``JsonNumber`` decimals
    too) are shared: they are immutable."""
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list:
        return [copy_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(copy_json(v) for v in value)
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value
