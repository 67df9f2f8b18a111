"""fixed[x] and pattern[x]: https://hl7.org/fhir/R4/elementdefinition-definitions.html#ElementDefinition.fixed_x_

A fixed value is the exact value (nothing more, nothing less); a pattern is what the value
must at least contain: each of its properties recursively, and each item of a pattern array
matched by some item of the value's array.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fhircare.validation.profiles.nodes import Run

_NUMBERS = (int, float, Decimal)


def same_value(value: Any, fixed: Any) -> bool:
    """JSON equality where ``1.0`` equals ``1`` but ``true`` is no number."""
    if isinstance(fixed, dict):
        return (
            isinstance(value, dict)
            and value.keys() == fixed.keys()
            and all(same_value(value[k], v) for k, v in fixed.items())
        )
    if isinstance(fixed, list):
        return (
            isinstance(value, list)
            and len(value) == len(fixed)
            and all(same_value(a, b) for a, b in zip(value, fixed, strict=True))
        )
    if isinstance(fixed, bool) or isinstance(value, bool):
        return value is fixed
    if isinstance(fixed, _NUMBERS) and isinstance(value, _NUMBERS):
        return bool(value == fixed)
    return type(value) is type(fixed) and value == fixed


def contains(value: Any, pattern: Any) -> bool:
    """Whether ``value`` holds at least ``pattern``."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and contains(value[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(contains(item, p) for item in items) for p in pattern)
    return same_value(value, pattern)


def shown(value: Any, limit: int = 120) -> str:
    """A value as it reads in a message: JSON-like, cut short."""
    try:
        text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FixedCheck:
    """The value must be exactly ``fixed``."""

    __slots__ = ("fixed", "shown")

    def __init__(self, fixed: Any) -> None:
        self.fixed = fixed
        self.shown = shown(fixed)

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        if not same_value(value, self.fixed):
            message = f"{expression}: Value is {shown(value)} but must be {self.shown} (fixed)"
            run.issue("value", message, expression, key="fixed")


class PatternCheck:
    """The value must contain at least ``pattern``."""

    __slots__ = ("pattern", "shown")

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern
        self.shown = shown(pattern)

    def __call__(self, value: Any, ext: Any, expression: str, run: Run) -> None:
        if not contains(value, self.pattern):
            message = (
                f"{expression}: Value is {shown(value)} but must match the pattern {self.shown}"
            )
            run.issue("value", message, expression, key="pattern")
